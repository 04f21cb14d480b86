"""Selections that return (values, indices): torch's max/min along a dim, and topk.

The gradient of the values goes to the selected elements only (one per output, as in torch), through
`TakeAlong`. `max(x)` without a dim is the full reduction (`amax`, ties share the gradient, as
torch's), and `max(a, b)` of two tensors is the elementwise `maximum`.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ..tensor import Function, Tensor, as_tensor
from .elementwise import maximum, minimum
from .reduce import _norm_axis, amax, amin

# torch.return_types style: `.values`, `.indices`, and unpackable as a pair
MaxResult = namedtuple("max", ["values", "indices"], module="tinygrad5.return_types")
MinResult = namedtuple("min", ["values", "indices"], module="tinygrad5.return_types")
TopkResult = namedtuple("topk", ["values", "indices"], module="tinygrad5.return_types")


class TakeAlong(Function):
    """Pick a[index] along one axis (index as np.take_along_axis); the gradient lands on the picks."""

    def forward(self, a, index=None, axis=0, keepdims=True):
        self.shape, self.index, self.axis = a.shape, index, axis
        out = np.take_along_axis(a, index, axis)
        return out if keepdims else np.squeeze(out, axis)

    def backward(self, g):
        out = np.zeros(self.shape, g.dtype)
        # picks along an axis are distinct (argmax, top-k), so assignment is the scatter-add
        np.put_along_axis(out, self.index, g.reshape(self.index.shape), self.axis)
        return out


def _one_dim(a: Tensor, dim: Any, what: str) -> int:
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{what}(): dim must be an int, got {dim!r}; use amax/amin for several dims")
    return _norm_axis(int(dim), a.ndim)[0] if a.ndim else 0


def _extreme(a: Tensor, dim: int, keepdim: bool, argfn: Any, result: Any, what: str) -> Any:
    d = _one_dim(a, dim, what)
    if a.ndim == 0:
        return result(a, Tensor._make(np.array(0, np.int64)))
    if a.shape[d] == 0:
        raise ValueError(f"{what}(): dim {dim} of shape {a.shape} is empty")
    index = argfn(a.data, axis=d, keepdims=True).astype(np.int64)
    values = TakeAlong.apply(a, index=index, axis=d, keepdims=keepdim)
    return result(values, Tensor._make(index if keepdim else np.squeeze(index, d)))


def _reduce_or_pair(name: str, argfn: Any, full: Any, pair: Any, result: Any) -> Any:
    def fn(a: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: bool | None = None) -> Any:
        a = as_tensor(a)
        if isinstance(dim, Tensor):  # max(a, b): elementwise, as torch
            return pair(a, dim)
        if axis is not None:  # numpy's spelling: the reduction only, no indices
            return full(a, axis=axis, keepdims=keepdims if keepdims is not None else keepdim)
        if dim is None:
            if keepdim or keepdims:
                raise TypeError(f"{name}(): keepdim needs a dim; use amax/amin(x, keepdim=True) for all dims")
            return full(a)
        return _extreme(a, dim, keepdim if keepdims is None else keepdims, argfn, result, name)
    fn.__name__ = name
    fn.__doc__ = (f"torch's {name}: the whole tensor's {name}imum (no dim), a named tuple (values, indices) "
                  f"along dim, or the elementwise {name}imum of two tensors; numpy's axis= gives values only.")
    return fn


max = _reduce_or_pair("max", np.argmax, amax, maximum, MaxResult)
min = _reduce_or_pair("min", np.argmin, amin, minimum, MinResult)


def topk(a: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The k largest (or smallest) elements along dim as (values, indices), best first; the gradient
    reaches the selected elements. Ties keep the lower index first."""
    a = as_tensor(a)
    d = _one_dim(a, dim, "topk")
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk(): k={k!r} is out of range for dim {dim} of size {n} (shape {a.shape})")
    if a.ndim == 0:
        if k != 1:
            raise ValueError(f"topk(): k={k} on a 0-d tensor; only k=1 selects its element")
        return TopkResult(a, Tensor._make(np.array(0, np.int64)))
    key = a.data.astype(np.float64) if a.data.dtype.kind in "bu" else a.data
    order = np.argsort(-key if largest else key, axis=d, kind="stable")
    index = np.take(order, np.arange(k), axis=d).astype(np.int64)
    return TopkResult(TakeAlong.apply(a, index=index, axis=d, keepdims=True), Tensor._make(index))


__all__ = ["MaxResult", "MinResult", "TopkResult", "TakeAlong", "max", "min", "topk"]
