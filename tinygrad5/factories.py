"""Tensor factories: zeros, ones, full, eye, arange, rand, randn (and *_like); torch's tensor,
from_numpy, as_tensor and the typed constructors (LongTensor, FloatTensor, ...).

Every factory takes torch's `device=` (only the CPU exists: other devices are an error) and `dtype=`
as a tinygrad5 dtype (`tg.float32`, `tg.long`, ...) or a numpy one."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .device import check as check_device
from .ops.movement import shape_arg
from .random import get_rng
from .tensor import Tensor


def _dt(dtype: Any, device: Any = None) -> np.dtype:
    if device is not None:
        check_device(device)
    return np.dtype(np.float32) if dtype is None else dtypes.to_numpy(dtype)


def zeros(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 by default)."""
    return Tensor(np.zeros(shape_arg(shape), _dt(dtype, device)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 by default)."""
    return Tensor(np.ones(shape_arg(shape), _dt(dtype, device)), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with one value (float32 by default)."""
    return Tensor(np.full(shape_arg((shape,)), fill_value, _dt(dtype, device)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """Identity matrix n x m."""
    return Tensor(np.eye(n, m, dtype=_dt(dtype, device)), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32 (like torch)."""
    if stop is None:
        start, stop = 0, start
    _dt(None, device)
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if ints else np.float32
    return Tensor(np.arange(start, stop, step, dtype=dtypes.to_numpy(dtype)), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator."""
    data = get_rng().standard_normal(shape_arg(shape)).astype(_dt(dtype, device))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    data = get_rng().random(shape_arg(shape)).astype(_dt(dtype, device))
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with t's shape and dtype (or dtype)."""
    dt = _dt(None, device) if dtype is None else _dt(dtype, device)
    return Tensor(np.zeros_like(t.data, dtype=None if dtype is None else dt), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with t's shape and dtype (or dtype)."""
    dt = _dt(None, device) if dtype is None else _dt(dtype, device)
    return Tensor(np.ones_like(t.data, dtype=None if dtype is None else dt), requires_grad=requires_grad)


def _torch_dtype(arr: np.ndarray, from_python: bool) -> np.dtype:
    """torch's inferred dtype: Python ints -> int64, floats -> float32, bools -> bool; arrays keep theirs."""
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"tensor() needs numbers, got an array of dtype {arr.dtype}")
    if from_python:
        return np.dtype({"b": np.bool_, "i": np.int64, "u": np.int64, "f": np.float32}[kind])
    if kind == "f" and arr.dtype.itemsize < 4:
        raise TypeError(f"tinygrad5 has no {arr.dtype} tensors; convert with .astype(np.float32)")
    return arr.dtype


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data, with torch's dtype rules: Python ints become int64, floats
    float32, bools bool; numpy arrays and tensors keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    from_python = not isinstance(data, (np.ndarray, np.generic))
    if isinstance(data, (str, bytes)):
        raise TypeError(f"tensor() needs numbers, got a {type(data).__name__}: {data!r}")
    try:
        arr = np.array(data)
    except ValueError as e:  # ragged lists
        raise TypeError(f"tensor() needs a rectangular array of numbers: {e}") from None
    dt = _dt(dtype, device) if dtype is not None else _torch_dtype(arr, from_python)
    if device is not None:
        check_device(device)
    return Tensor(arr.astype(dt, copy=False), requires_grad=requires_grad)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing arr's memory (writes show in both), with its dtype."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy() needs a numpy.ndarray, got {type(arr).__name__}")
    _torch_dtype(arr, False)
    return Tensor._make(arr)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a tensor without copying when it already is one (or a numpy array) of that dtype;
    otherwise as tensor()."""
    if device is not None:
        check_device(device)
    want = None if dtype is None else dtypes.to_numpy(dtype)
    if isinstance(data, Tensor):
        return data if want is None or data.data.dtype == want else data.to(want)
    if isinstance(data, np.ndarray) and (want is None or data.dtype == want):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


class _TypedTensorMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.data.dtype == cls.dtype


class _TypedTensor(metaclass=_TypedTensorMeta):
    """torch's legacy constructors: `LongTensor(data)` or `FloatTensor(*sizes)` (zeros here, not
    uninitialised memory); isinstance checks the dtype."""

    dtype: np.dtype

    def __new__(cls, *args: Any, device: Any = None) -> Tensor:  # type: ignore[misc]
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=cls.dtype, device=device)
        if len(args) > 1 or (len(args) == 1 and isinstance(args[0], (int, float))):
            raise TypeError(f"{cls.__name__}() takes sizes as ints or one sequence of data, got {args!r}")
        return tensor(args[0] if args else [], dtype=cls.dtype, device=device)


TYPED_TENSORS = {name: type(name, (_TypedTensor,), {"dtype": np.dtype(dt), "__module__": "tinygrad5"})
                 for name, dt in [("FloatTensor", np.float32), ("DoubleTensor", np.float64),
                                  ("LongTensor", np.int64), ("IntTensor", np.int32), ("ShortTensor", np.int16),
                                  ("CharTensor", np.int8), ("ByteTensor", np.uint8), ("BoolTensor", np.bool_)]}
FloatTensor, DoubleTensor, LongTensor, IntTensor = (TYPED_TENSORS[n] for n in
                                                    ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor"))
ShortTensor, CharTensor, ByteTensor, BoolTensor = (TYPED_TENSORS[n] for n in
                                                   ("ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"))
