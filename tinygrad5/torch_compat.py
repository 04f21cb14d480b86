"""torch's Tensor conveniences, attached to Tensor on import: sizes, dtype and device conversion,
Python number protocols, formatting, numpy interop, and the in-place updates of training loops.

In-place operations (`+=`, `clamp_`, `zero_`, ...) write into the tensor's array. As in torch they
are refused on a tensor that requires grad while gradients are recorded (do them under no_grad());
unlike torch there is no version counter, so an in-place write to an array that a graph not yet
backpropagated has saved is not detected: update parameters after backward(), as optimizers do.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .device import CPU, check as check_device, device as _device_cls
from .factories import TYPED_TENSORS
from .ops.elementwise import add, cast, clip, div, mul, sub
from .ops.movement import expand, reshape, transpose
from .tensor import Tensor, is_grad_enabled

_TYPE_NAMES = {np.dtype(cls.dtype): name for name, cls in TYPED_TENSORS.items()}


# ---- sizes ---------------------------------------------------------------------------------------
def size(self: Tensor, dim: int | None = None) -> Any:
    """The shape, or the length of one dim."""
    if dim is None:
        return self.data.shape
    nd = self.data.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"size(): dim {dim} is out of range for shape {self.data.shape}")
    return self.data.shape[dim]


def numel(self: Tensor) -> int:
    """Number of elements."""
    return int(self.data.size)


def dim(self: Tensor) -> int:
    """Number of dims."""
    return self.data.ndim


# ---- dtype and device ----------------------------------------------------------------------------
def to(self: Tensor, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
       copy: bool = False, memory_format: Any = None) -> Tensor:
    """`to(device)`, `to(dtype)`, `to(device, dtype)`, `to(other)`: self when nothing changes, as torch."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, CPU
        elif isinstance(a, _device_cls):
            device = a
        elif isinstance(a, str):  # "cpu", "cuda:0" ... or a dtype's name ("float64")
            try:
                _device_cls(a)
                device = a
            except RuntimeError:
                dtype = a
        elif isinstance(a, bool) or a is None:  # torch's positional non_blocking/copy
            continue
        else:
            dtype = a
    if device is not None:
        check_device(device)
    out = self if dtype is None else cast(self, dtypes.to_numpy(dtype))
    return out.clone() if copy and out is self else out



def cpu(self: Tensor) -> Tensor:
    """self: tensors always live in CPU memory."""
    return self


def cuda(self: Tensor, device: Any = None, non_blocking: bool = False) -> Tensor:
    """Always an error: tinygrad5 has no CUDA device."""
    check_device("cuda" if device is None else device if isinstance(device, (str, _device_cls)) else "cuda")
    return self  # not reached


def type_(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """Without an argument the type name ('tinygrad5.FloatTensor'); with a dtype or a type name such as
    'torch.LongTensor', the tensor converted."""
    if dtype is None:
        return f"tinygrad5.{_TYPE_NAMES.get(self.data.dtype, str(self.data.dtype))}"
    if isinstance(dtype, str) and dtype.split(".")[-1] in TYPED_TENSORS:
        dtype = TYPED_TENSORS[dtype.split(".")[-1]].dtype
    elif isinstance(dtype, type) and dtype.__name__ in TYPED_TENSORS:
        dtype = dtype.dtype
    return self.to(dtypes.to_numpy(dtype))


def _as(np_dtype: Any) -> Any:
    def method(self: Tensor) -> Tensor:
        return cast(self, np_dtype)
    method.__doc__ = f"The tensor as {np.dtype(np_dtype).name} (self when it already is)."
    return method


# ---- Python protocols ----------------------------------------------------------------------------
def _scalar(self: Tensor, what: str) -> Any:
    if self.data.size != 1:
        raise ValueError(f"only one element tensors can be converted to Python scalars ({what} of a tensor "
                         f"of shape {self.data.shape})")
    return self.data.item()


def __int__(self: Tensor) -> int:  # noqa: N807
    return int(_scalar(self, "int()"))


def __float__(self: Tensor) -> float:  # noqa: N807
    return float(_scalar(self, "float()"))


def __index__(self: Tensor) -> int:  # noqa: N807
    if self.data.size != 1 or self.data.dtype.kind not in "iub":
        raise TypeError(f"only integer tensors of a single element can be converted to an index, got "
                        f"dtype {self.data.dtype} shape {self.data.shape}")
    return int(self.data.item())


def __bool__(self: Tensor) -> bool:  # noqa: N807
    if self.data.size != 1:
        raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous (shape "
                           f"{self.data.shape}); use .any() or .all()")
    return bool(self.data.item())


def __format__(self: Tensor, spec: str) -> str:  # noqa: N807
    if self.data.ndim == 0:
        return format(self.data.item(), spec)
    if spec:
        raise TypeError(f"unsupported format string {spec!r} passed to Tensor.__format__ for shape "
                        f"{self.data.shape}: only 0-d tensors take one (format t.item() or t.tolist())")
    return str(self)


def __array__(self: Tensor, dtype: Any = None, copy: bool | None = None) -> np.ndarray:  # noqa: N807
    out = np.asarray(self.data, dtype=dtype)  # asarray: an op may have produced a numpy scalar
    return out.copy() if copy and out is self.data else out


# ---- shapes like another tensor ------------------------------------------------------------------
def view_as(self: Tensor, other: Tensor) -> Tensor:
    """self reshaped to other's shape."""
    return reshape(self, other.data.shape)


def expand_as(self: Tensor, other: Tensor) -> Tensor:
    """self broadcast to other's shape."""
    return expand(self, other.data.shape)


def type_as(self: Tensor, other: Tensor) -> Tensor:
    """self converted to other's dtype."""
    return cast(self, other.data.dtype)


def t(self: Tensor) -> Tensor:
    """torch's t(): a 2-d tensor transposed; 0-d and 1-d tensors as they are."""
    if self.data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dims, got shape {self.data.shape}; use "
                           "transpose(dim0, dim1)")
    return transpose(self, 0, 1) if self.data.ndim == 2 else self


# ---- in-place updates ----------------------------------------------------------------------------
def _array(self: Tensor) -> np.ndarray:
    """self.data as an array that can be written in place (a reduction leaves a numpy scalar)."""
    if not isinstance(self.data, np.ndarray):
        self.data = np.asarray(self.data)
    return self.data


def _writable(self: Tensor, what: str) -> None:
    if self.requires_grad and is_grad_enabled():
        kind = "a leaf tensor" if self._ctx is None else "a tensor"
        raise RuntimeError(f"{what} on {kind} that requires grad while gradients are recorded; wrap it in "
                           "tinygrad5.no_grad() (as an optimizer step does) or use the out-of-place form")


def _inplace(ufunc: np.ufunc, name: str, op: Any = None) -> Any:
    """An in-place update; the augmented operators (op given) compute out of place instead where the
    result must join a graph (a non-leaf self, or an other that requires grad), as Python rebinds."""
    def method(self: Tensor, other: Any) -> Tensor:
        graph = is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad))
        if graph:
            if op is not None and not (self.requires_grad and self._ctx is None):
                return op(self, other)
            _writable(self, name)
            raise RuntimeError(f"{name} with an operand that requires grad would drop it from the graph; "
                               "use the out-of-place form")
        val = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(_array(self), val, out=self.data, casting="same_kind")
        except (TypeError, ValueError) as e:  # dtype cast or broadcast onto a smaller shape
            raise RuntimeError(f"{name}: cannot write the result into a {self.data.dtype} tensor of shape "
                               f"{self.data.shape}: {e}") from None
        return self
    method.__doc__ = f"In place: self {name} other (the result must keep self's shape and dtype)."
    return method


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp in place to [min, max]."""
    _writable(self, "clamp_")
    if min is None and max is None:
        raise ValueError("clamp_ needs min or max")
    np.clip(_array(self), min, max, out=self.data)
    return self


def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """torch's name for clip: values limited to [min, max], gradient where inside."""
    lo = float(min) if isinstance(min, Tensor) else min
    hi = float(max) if isinstance(max, Tensor) else max
    return clip(self, lo, hi)


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0 in place."""
    _writable(self, "zero_")
    _array(self)[...] = 0
    return self


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to value in place."""
    _writable(self, "fill_")
    _array(self)[...] = value.data if isinstance(value, Tensor) else value
    return self


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy src's values into self in place (broadcast to self's shape)."""
    _writable(self, "copy_")
    _array(self)[...] = src.data if isinstance(src, Tensor) else np.asarray(src)
    return self


_METHODS = {
    "size": size, "numel": numel, "nelement": numel, "dim": dim, "ndimension": dim,
    "element_size": lambda self: self.data.itemsize, "is_floating_point": lambda self: self.data.dtype.kind == "f",
    "to": to, "cpu": cpu, "cuda": cuda, "type": type_,
    "float": _as(np.float32), "double": _as(np.float64), "long": _as(np.int64), "int": _as(np.int32),
    "short": _as(np.int16), "byte": _as(np.uint8), "char": _as(np.int8), "bool": _as(np.bool_),
    "__int__": __int__, "__float__": __float__, "__index__": __index__, "__bool__": __bool__,
    "__format__": __format__, "__array__": __array__,
    "view_as": view_as, "reshape_as": view_as, "t": t, "expand_as": expand_as, "type_as": type_as,
    "contiguous": lambda self, memory_format=None: self,
    "__iadd__": _inplace(np.add, "+=", add), "__isub__": _inplace(np.subtract, "-=", sub),
    "__imul__": _inplace(np.multiply, "*=", mul), "__itruediv__": _inplace(np.true_divide, "/=", div),
    "add_": _inplace(np.add, "add_"), "sub_": _inplace(np.subtract, "sub_"), "mul_": _inplace(np.multiply, "mul_"),
    "div_": _inplace(np.true_divide, "div_"),
    "clamp": clamp, "clip": clamp, "clamp_": clamp_, "clip_": clamp_, "zero_": zero_, "fill_": fill_, "copy_": copy_,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.device = property(lambda self: CPU, doc="Always device('cpu').")
Tensor.is_cuda = property(lambda self: False, doc="False: no CUDA here.")
Tensor.is_cpu = property(lambda self: True, doc="True: tensors live in CPU memory.")


# ---- top-level functions -------------------------------------------------------------------------
def is_tensor(obj: Any) -> bool:
    """True for a Tensor."""
    return isinstance(obj, Tensor)


def numel_of(t: Tensor) -> int:
    """torch.numel: number of elements."""
    return int(t.data.size)


def equal(a: Tensor, b: Tensor) -> bool:
    """True when both have the same shape and elements."""
    return a.data.shape == b.data.shape and bool(np.array_equal(a.data, b.data))


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """True when |a - b| <= atol + rtol * |b| everywhere (numpy's and torch's rule)."""
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))
