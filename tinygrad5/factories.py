"""Tensor factories: zeros, ones, full, eye, arange, rand, randn (and *_like)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .ops.movement import shape_arg
from .random import get_rng
from .tensor import Tensor


def _dt(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 by default)."""
    return Tensor(np.zeros(shape_arg(shape), _dt(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 by default)."""
    return Tensor(np.ones(shape_arg(shape), _dt(dtype)), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with one value (float32 by default)."""
    return Tensor(np.full(shape_arg((shape,)), fill_value, _dt(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Identity matrix n x m."""
    return Tensor(np.eye(n, m, dtype=_dt(dtype)), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32 (like torch)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if ints else np.float32
    return Tensor(np.arange(start, stop, step, dtype=np.dtype(dtype)), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator."""
    data = get_rng().standard_normal(shape_arg(shape)).astype(_dt(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    data = get_rng().random(shape_arg(shape)).astype(_dt(dtype))
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Zeros with t's shape and dtype."""
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Ones with t's shape and dtype."""
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)
