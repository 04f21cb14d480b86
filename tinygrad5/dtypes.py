"""torch-style dtype objects (`tg.float32`, `tg.long`, ...) that are interchangeable with numpy dtypes.

A `DType` wraps one numpy dtype: `np.dtype(tg.float32)` is `float32` (numpy reads the `.dtype`
attribute), it compares equal to that numpy dtype, its scalar type and its name, and hashes like it,
so it works as `dtype=` in tinygrad5 and in numpy alike. `Tensor.dtype` returns one.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class DType:
    """A tensor element type; prints like torch's (`tinygrad5.float32`), behaves like a numpy dtype."""

    __slots__ = ("dtype",)

    def __init__(self, np_dtype: Any) -> None:
        self.dtype = np.dtype(np_dtype)

    @property
    def is_floating_point(self) -> bool:
        """True for float32/float64."""
        return self.dtype.kind == "f"

    @property
    def is_signed(self) -> bool:
        """True for signed integers and floats."""
        return self.dtype.kind in "if"

    is_complex = False

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    def __getattr__(self, name: str) -> Any:
        # kind, char, name, type, str, ...: code written for numpy dtypes keeps working
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dtype, name)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DType):
            return self.dtype == other.dtype
        if isinstance(other, str) and other.startswith(("tinygrad5.", "torch.")):
            other = other.split(".", 1)[1]
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __ne__(self, other: Any) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"tinygrad5.{self.dtype.name}"

    def __reduce__(self) -> tuple:
        return (get, (self.dtype.name,))


_BY_NUMPY: dict[np.dtype, DType] = {}


def get(np_dtype: Any) -> DType:
    """The DType for a numpy dtype (or anything np.dtype accepts, or a DType)."""
    if isinstance(np_dtype, DType):
        return np_dtype
    key = np.dtype(np_dtype)
    d = _BY_NUMPY.get(key)
    if d is None:
        d = _BY_NUMPY[key] = DType(key)
    return d


def to_numpy(dtype: Any) -> np.dtype:
    """A numpy dtype from a DType, numpy dtype, scalar type or name, with an error naming the value."""
    if isinstance(dtype, DType):
        return dtype.dtype
    if isinstance(dtype, str) and dtype.startswith(("tinygrad5.", "torch.")):
        dtype = dtype.split(".", 1)[1]
        dtype = ALIASES.get(dtype, dtype)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{dtype!r} is not a dtype; use tinygrad5.float32, tinygrad5.int64, ... "
                        "or a numpy dtype") from None


float32, float64 = get(np.float32), get(np.float64)
int64, int32, int16, int8, uint8 = (get(t) for t in (np.int64, np.int32, np.int16, np.int8, np.uint8))
bool_ = get(np.bool_)
# torch's other names for the same types
ALIASES = {"float": "float32", "double": "float64", "long": "int64", "int": "int32",
           "short": "int16", "bool": "bool"}
float, double, long, int, short = float32, float64, int64, int32, int16  # noqa: A001

__all__ = ["DType", "get", "to_numpy", "float32", "float64", "int64", "int32", "int16", "int8",
           "uint8", "bool_", "float", "double", "long", "int", "short"]
