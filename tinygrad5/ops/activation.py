"""Activations: sigmoid, tanh, relu, leaky_relu, softmax, log_softmax (all numerically stable)."""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..tensor import Function, Tensor, as_tensor
from .elementwise import float_input, float_only
from .reduce import _norm_axis


class Sigmoid(Function):
    def forward(self, a):
        self.be = _backend.current()
        self.out = self.be.sigmoid_forward(a)
        return self.out

    def backward(self, g):
        return self.be.sigmoid_backward(self.out, g)


class Tanh(Function):
    def forward(self, a):
        self.out = np.tanh(a)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class ReLU(Function):
    def forward(self, a):
        self.be = _backend.current()
        out, self.mask = self.be.relu_forward(a)
        return out

    def backward(self, g):
        return self.be.relu_backward(g, self.mask)


class LeakyReLU(Function):
    def forward(self, a, slope=0.01):
        self.scale = np.where(a > 0, np.ones((), a.dtype), np.asarray(slope, a.dtype))
        return a * self.scale

    def backward(self, g):
        return g * self.scale


class Softmax(Function):
    def forward(self, a, axis=-1):
        self.axis = axis
        if a.size == 0:  # e.g. (5, 0): numpy's max has no identity for an empty axis; torch returns it empty
            self.out = a.copy()
            return self.out
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        s = self.out
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, axis=-1):
        self.axis = axis
        if a.size == 0:
            self.out = a.copy()
            return self.out
        z = a - a.max(axis=axis, keepdims=True)
        self.out = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


def sigmoid(a: Tensor) -> Tensor:
    """Logistic function, stable for any input (integer inputs give float32, as in torch)."""
    return Sigmoid.apply(float_input(a))


def tanh(a: Tensor) -> Tensor:
    """Hyperbolic tangent (integer inputs give float32, as in torch)."""
    return Tanh.apply(float_input(a))


def relu(a: Tensor) -> Tensor:
    """max(a, 0) (gradient 0 at 0)."""
    return ReLU.apply(as_tensor(a))


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    """a where a > 0, else negative_slope * a."""
    return LeakyReLU.apply(float_only(a, "leaky_relu"), slope=negative_slope)


def _one_axis(a: Tensor, axis: int) -> int:
    if a.ndim == 0:
        raise ValueError("softmax needs at least 1 dim")
    return _norm_axis(axis, a.ndim)[0]


def softmax(a: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(a) / sum(exp(a)) along axis (or torch's dim), max-subtracted so large inputs do not overflow."""
    a = float_only(a, "softmax")
    return Softmax.apply(a, axis=_one_axis(a, axis if dim is None else dim))


def log_softmax(a: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """log(softmax(a)) along axis (or torch's dim), computed without forming softmax."""
    a = float_only(a, "log_softmax")
    return LogSoftmax.apply(a, axis=_one_axis(a, axis if dim is None else dim))
