"""Reductions: sum, mean, max, min, var (with axis/keepdims) and argmax."""
from __future__ import annotations

from typing import Any

import builtins

import numpy as np

from ..tensor import Function, Tensor, as_tensor

def _norm_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Axis argument as a sorted tuple of non-negative dims, with a clear error when out of range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dims")
        out.append(int(a) % builtins.max(ndim, 1))
    return tuple(sorted(set(out))) if ndim else ()


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, a, axes=(), keepdims=False):
        self.shape, self.kshape = a.shape, _keepdims_shape(a.shape, axes)
        return np.sum(a, axis=axes, keepdims=keepdims)

    def backward(self, g):
        return np.broadcast_to(g.reshape(self.kshape), self.shape)


class Max(Function):
    """Max over axes; the gradient is split equally among tied maxima (like torch.amax)."""

    def forward(self, a, axes=(), keepdims=False, fn=np.max):
        if a.size == 0:
            raise ValueError(f"max/min of an empty tensor of shape {a.shape}")
        self.a, self.kshape = a, _keepdims_shape(a.shape, axes)
        self.axes = axes
        self.out = fn(a, axis=axes, keepdims=True)
        return self.out if keepdims else self.out.reshape(
            tuple(n for i, n in enumerate(a.shape) if i not in axes))

    def backward(self, g):
        mask = self.a == self.out
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask * (g.reshape(self.kshape) / count)


def sum(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over axis (all by default)."""
    a = as_tensor(a)
    return Sum.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims)


def mean(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over axis (all by default)."""
    a = as_tensor(a)
    axes = _norm_axis(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    if n == 0:
        raise ValueError(f"mean over an empty axis of a tensor of shape {a.shape}")
    return sum(a, axes, keepdims) * (1.0 / n)


def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over axis (all by default)."""
    a = as_tensor(a)
    return Max.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims, fn=np.max)


def min(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over axis (all by default)."""
    a = as_tensor(a)
    return Max.apply(a, axes=_norm_axis(axis, a.ndim), keepdims=keepdims, fn=np.min)


def var(a: Tensor, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over axis; `correction=1` is the unbiased estimate (torch's default), 0 numpy's."""
    a = as_tensor(a)
    axes = _norm_axis(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    if n - correction <= 0:
        raise ValueError(f"var over {n} elements with correction={correction} is undefined")
    d = a - mean(a, axes, keepdims=True)
    return sum(d * d, axes, keepdims) * (1.0 / (n - correction))


def argmax(a: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the maximum (flattened when axis is None); int64, no gradient."""
    a = as_tensor(a)
    if axis is not None:
        _norm_axis(axis, a.ndim)
    return Tensor._make(np.argmax(a.data, axis=axis, keepdims=keepdims).astype(np.int64))
