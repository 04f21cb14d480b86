"""Reductions over dims: sum, mean, amax/amin, var/std, argmax/argmin (torch's dim/keepdim or numpy's
axis/keepdims)."""
from __future__ import annotations

from typing import Any

import builtins
import warnings

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
        if any(a.shape[i] == 0 for i in axes):  # no identity to return; torch raises too
            raise ValueError(f"a{fn.__name__}() over an empty dim of a tensor of shape {a.shape} "
                             f"(dims {list(axes)}); reduce along a non-empty dim")
        self.a, self.kshape = a, _keepdims_shape(a.shape, axes)
        self.axes = axes
        self.out = fn(a, axis=axes, keepdims=True)
        return self.out if keepdims else self.out.reshape(
            tuple(n for i, n in enumerate(a.shape) if i not in axes))

    def backward(self, g):
        mask = self.a == self.out
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask * (g.reshape(self.kshape) / count)


def _pick(dim: Any, keepdim: Any, axis: Any, keepdims: Any, what: str) -> tuple[Any, bool]:
    """torch's dim/keepdim or numpy's axis/keepdims (not both): the dims and keepdims flag."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{what}() got both dim={dim!r} and axis={axis!r}; pass one")
        dim = axis
    return dim, bool(keepdim if keepdims is None else keepdims)


def sum(a: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None) -> Tensor:
    """Sum over dim (all by default); bool and integer tensors sum to int64, as in torch."""
    a = as_tensor(a)
    dim, keep = _pick(dim, keepdim, axis, keepdims, "sum")
    if a.data.dtype.kind == "u":  # numpy would sum to uint64
        a = Tensor._make(a.data.astype(np.int64))
    return Sum.apply(a, axes=_norm_axis(dim, a.ndim), keepdims=keep)


def _float_only(a: Tensor, what: str) -> None:
    if a.data.dtype.kind != "f":
        raise TypeError(f"{what}() needs a float tensor, got dtype {a.data.dtype} (torch refuses it too); "
                        f"call .float() first")


def mean(a: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Mean over dim (all by default); float tensors only, as in torch."""
    a = as_tensor(a)
    dim, keep = _pick(dim, keepdim, axis, keepdims, "mean")
    _float_only(a, "mean")
    axes = _norm_axis(dim, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    # torch: the mean of no elements is NaN (0/0); results with no elements stay empty
    return sum(a, axes, keep) * (1.0 / n if n else float("nan"))


def amax(a: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Maximum over dims (all by default; a tuple allowed); tied maxima share the gradient equally."""
    a = as_tensor(a)
    dim, keep = _pick(dim, keepdim, axis, keepdims, "amax")
    return Max.apply(a, axes=_norm_axis(dim, a.ndim), keepdims=keep, fn=np.max)


def amin(a: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Minimum over dims (all by default; a tuple allowed); tied minima share the gradient equally."""
    a = as_tensor(a)
    dim, keep = _pick(dim, keepdim, axis, keepdims, "amin")
    return Max.apply(a, axes=_norm_axis(dim, a.ndim), keepdims=keep, fn=np.min)


def var(a: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None, axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Variance over dim; unbiased (correction=1) by default as in torch, correction=0 is numpy's."""
    a = as_tensor(a)
    dim, keep = _pick(dim, keepdim, axis, keepdims, "var")
    _float_only(a, "var")
    if unbiased is not None and correction is not None:
        raise TypeError("var() got both unbiased and correction; pass one")
    corr = (1 if unbiased or unbiased is None else 0) if correction is None else correction
    axes = _norm_axis(dim, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    d = a - mean(a, axes, keepdim=True)
    dof = builtins.max(n - corr, 0)
    if dof:
        return sum(d * d, axes, keep) * (1.0 / dof)
    # torch divides by max(n - correction, 0) and warns: NaN (0/0) or inf, not an error
    warnings.warn(f"var(): degrees of freedom is <= 0 ({n} elements a reduction, correction={corr}, shape {a.shape}); "
                  f"the result is NaN or inf", UserWarning, stacklevel=2)
    with np.errstate(invalid="ignore"):
        return sum(d * d, axes, keep) * float("inf")


def std(a: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None, axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Standard deviation: the square root of var (same arguments)."""
    return var(a, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims) ** 0.5


def _arg(fn: Any, name: str) -> Any:
    def arg(a: Tensor, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
            keepdims: bool | None = None) -> Tensor:
        a = as_tensor(a)
        dim, keep = _pick(dim, keepdim, axis, keepdims, name)
        if dim is not None:
            dim = _norm_axis(dim, a.ndim)
            dim = dim[0] if dim else None
        if (a.data.size == 0 and (dim is None or a.shape[dim] == 0)):
            raise ValueError(f"{name}() over an empty dim of a tensor of shape {a.shape} (dim={dim}); "
                             f"pass a non-empty dim")
        out = fn(a.data, axis=dim, keepdims=keep and dim is not None)
        if keep and dim is None:  # torch keeps every dim as 1
            out = np.reshape(out, (1,) * a.ndim)
        return Tensor._make(np.asarray(out, dtype=np.int64))
    arg.__name__ = name
    arg.__doc__ = f"Index of the {name[3:]}imum along dim (of the flattened tensor when dim is None); int64, " \
        "no gradient."
    return arg


argmax, argmin = _arg(np.argmax, "argmax"), _arg(np.argmin, "argmin")
