"""Elementwise ops: arithmetic, exp/log/sqrt/abs, maximum/minimum/clip, where, comparisons.

Binary ops broadcast like numpy; their backward returns gradients in the output shape and the
engine sums them back to each input's shape.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Function, Tensor, as_tensor


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        pa, pb = self.parents
        return (g * self.b if pa.requires_grad else None,
                g * self.a if pb.requires_grad else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga = g / self.b
        return ga, (-ga * self.a / self.b if self.parents[1].requires_grad else None)


class Pow(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, g):
        pa, pb = self.parents
        ga = g * self.b * self.a ** (self.b - 1) if pa.requires_grad else None
        gb = g * self.out * np.log(self.a) if pb.requires_grad else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):
        return g * 0.5 / self.out


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)


class Maximum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        # ties share the gradient equally, as torch does
        w = (self.a > self.b) + 0.5 * (self.a == self.b)
        return g * w, g * (1 - w)


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):
        w = (self.a < self.b) + 0.5 * (self.a == self.b)
        return g * w, g * (1 - w)


class Clip(Function):
    def forward(self, a, lo=None, hi=None):
        self.mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            self.mask &= a >= lo
        if hi is not None:
            self.mask &= a <= hi
        return np.clip(a, lo, hi)

    def backward(self, g):
        return g * self.mask


class Where(Function):
    def forward(self, a, b, cond=None):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        zero = np.zeros((), g.dtype)
        return np.where(self.cond, g, zero), np.where(self.cond, zero, g)


class Cast(Function):
    def forward(self, a, dtype=None):
        self.src = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.src)


# ---- functional forms ------------------------------------------------------------------------

def float_input(a: Any) -> Tensor:
    """a as a Tensor, integer and bool ones as float32: torch computes sigmoid, exp, ... of an
    integer tensor in its default float dtype."""
    a = as_tensor(a)
    return a if a.data.dtype.kind == "f" else Tensor._make(a.data.astype(np.float32))


def float_only(a: Any, name: str) -> Tensor:
    """a as a Tensor; an integer or bool one is refused by name, as torch refuses it."""
    a = as_tensor(a)
    if a.data.dtype.kind != "f":
        raise TypeError(f"{name} needs a float tensor, got dtype {a.data.dtype} (convert with .float() first)")
    return a


def _operand(x: Any, like: Tensor | None) -> Tensor:
    """x as a Tensor; a Python int beside an integer tensor keeps that tensor's dtype (torch: int64 + 2
    is int64), other Python numbers take like's float dtype (or float32)."""
    if (like is not None and type(x) is int and like.data.dtype.kind in "iu"
            and np.iinfo(like.data.dtype).min <= x <= np.iinfo(like.data.dtype).max):
        return Tensor._make(np.array(x, dtype=like.data.dtype))
    return as_tensor(x, like)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors, numbers taking the other side's dtype, an integer or bool tensor
    beside a float one taking the float's dtype (torch's promotion; numpy would widen int64 and
    float32 to float64); shapes checked."""
    a = _operand(a, b if isinstance(b, Tensor) else None)
    b = _operand(b, a)
    fa, fb = a.data.dtype.kind == "f", b.data.dtype.kind == "f"
    if fa != fb:
        if fa:
            b = Tensor._make(b.data.astype(a.data.dtype))
        else:
            a = Tensor._make(a.data.astype(b.data.dtype))
    sa, sb = a.data.shape, b.data.shape
    if sa != sb:
        try:
            np.broadcast_shapes(sa, sb)
        except ValueError:
            raise ValueError(f"shapes {sa} and {sb} do not broadcast together") from None
    return a, b


def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(*_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    """a - b with broadcasting."""
    return Sub.apply(*_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    """a * b with broadcasting."""
    return Mul.apply(*_pair(a, b))


def div(a: Any, b: Any) -> Tensor:
    """a / b with broadcasting; true division, so integer operands give float32 (as in torch)."""
    a, b = _pair(a, b)
    if a.data.dtype.kind != "f":  # then b is not float either
        a, b = float_input(a), float_input(b)
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:
    """a ** b with broadcasting."""
    return Pow.apply(*_pair(a, b))


def neg(a: Tensor) -> Tensor:
    """-a."""
    return Neg.apply(as_tensor(a))


def exp(a: Tensor) -> Tensor:
    """e ** a (integer inputs give float32, as in torch)."""
    return Exp.apply(float_input(a))


def log(a: Tensor) -> Tensor:
    """Natural logarithm (integer inputs give float32, as in torch)."""
    return Log.apply(float_input(a))


def sqrt(a: Tensor) -> Tensor:
    """Square root (integer inputs give float32, as in torch)."""
    return Sqrt.apply(float_input(a))


def abs(a: Tensor) -> Tensor:
    """|a| (gradient 0 at 0)."""
    return Abs.apply(as_tensor(a))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum with broadcasting."""
    return Maximum.apply(*_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum with broadcasting."""
    return Minimum.apply(*_pair(a, b))


def clip(a: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp to [min, max]; gradient passes where the value was inside."""
    if min is None and max is None:
        raise ValueError("clip needs min or max")
    a = as_tensor(a)
    if isinstance(min, float) or isinstance(max, float):  # an int tensor clipped to floats: float32, as torch
        a = float_input(a)
    return Clip.apply(a, lo=min, hi=max)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Pick a where cond is true, else b (cond carries no gradient)."""
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    a, b = _pair(a, b)
    try:
        np.broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: condition {c.shape} and values {a.shape}, {b.shape} "
                         "do not broadcast together") from None
    return Where.apply(a, b, cond=c.astype(bool, copy=False))


def cast(a: Tensor, dtype: Any) -> Tensor:
    """Convert to another dtype; float-to-float casts keep the gradient."""
    dtype = np.dtype(dtype)
    if dtype == a.data.dtype:
        return a
    if dtype.kind != "f":
        return Tensor._make(a.data.astype(dtype))
    return Cast.apply(a, dtype=dtype)


def _compare(ufunc: np.ufunc):
    def op(a: Any, b: Any) -> Tensor:
        a, b = _pair(a, b)
        return Tensor._make(ufunc(a.data, b.data))
    op.__doc__ = f"Elementwise {ufunc.__name__}; returns a bool tensor without gradient."
    return op


lt, le, gt, ge = _compare(np.less), _compare(np.less_equal), _compare(np.greater), _compare(np.greater_equal)
eq, ne = _compare(np.equal), _compare(np.not_equal)
