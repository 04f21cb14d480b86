"""conv2d and max_pool2d: shape checks here, the arithmetic in the active backend."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import backend as _backend
from ..tensor import Function, Tensor, as_tensor


def _int(v: Any) -> int | None:
    """v as a Python int if it is an integer (numpy's included, bool not), else None."""
    if isinstance(v, (bool, np.bool_)):
        return None
    try:
        return operator.index(v)
    except TypeError:
        return None


def as_pair(v: Any, name: str) -> tuple[int, int]:
    """An int (numpy integers too) or a pair of them as a pair of Python ints, with an error naming
    the argument otherwise (1.5, "2", (1, 2, 3))."""
    one = _int(v)
    if one is not None:
        return (one, one)
    try:
        p = tuple(_int(i) for i in v) if not isinstance(v, (str, bytes)) else ()
    except TypeError:  # not iterable
        p = ()
    if len(p) != 2 or None in p:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return p


class Conv2d(Function):
    # the backend functions this op runs (ConvReluPool runs another pair)
    FORWARD, BACKWARD = "conv2d_forward", "conv2d_backward"

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        self.be = _backend.current()
        out, self.cache = getattr(self.be, self.FORWARD)(x, w, b, stride, padding)
        return out

    def backward(self, g):
        gx, gw, gb = getattr(self.be, self.BACKWARD)(g, self.cache, need_x=self.parents[0].requires_grad)
        return (gx, gw, gb) if len(self.parents) == 3 else (gx, gw)


class ConvReluPool(Conv2d):
    """conv2d, ReLU, 2x2 stride-2 max_pool2d: one pass per sample where the backend can, else the three."""

    FORWARD, BACKWARD = "conv2d_relu_pool_forward", "conv2d_relu_pool_backward"


class MaxPool2d(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), relu=False):
        self.be = _backend.current()
        out, self.cache = self.be.max_pool2d_forward(x, kernel, stride, relu)
        return out

    def backward(self, g):
        return self.be.max_pool2d_backward(g, self.cache)


def _conv_operands(x: Any, weight: Any, bias: Any, stride: Any, padding: Any
                   ) -> tuple[tuple[Tensor, ...], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """conv2d's checked operands ((x, w) or (x, w, b)), stride, padding and output (OH, OW)."""
    x, w = as_tensor(x), as_tensor(weight)
    stride, padding = as_pair(stride, "stride"), as_pair(padding, "padding")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d needs x (N, C, H, W) and weight (O, C, KH, KW), got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels {x.shape} but weight expects "
                         f"{w.shape[1]} {w.shape}")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d needs stride >= 1 and padding >= 0, got {stride} and {padding}")
    oh = (x.shape[2] + 2 * padding[0] - w.shape[2]) // stride[0] + 1
    ow = (x.shape[3] + 2 * padding[1] - w.shape[3]) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: kernel {w.shape[2:]} is larger than padded input {x.shape[2:]}")
    if x.dtype != w.dtype:
        raise TypeError(f"conv2d: input dtype {x.dtype} and weight dtype {w.dtype} differ")
    if bias is None:
        return (x, w), stride, padding, (oh, ow)
    b = as_tensor(bias)
    if b.shape != (w.shape[0],):
        raise ValueError(f"conv2d: bias shape {b.shape} should be ({w.shape[0]},)")
    return (x, w, b), stride, padding, (oh, ow)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D cross-correlation: x (N, C, H, W), weight (O, C, KH, KW), bias (O,) -> (N, O, OH, OW)."""
    operands, stride, padding, _ = _conv_operands(x, weight, bias, stride, padding)
    return Conv2d.apply(*operands, stride=stride, padding=padding)


def conv2d_relu_max_pool2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                           padding: Any = 0) -> Tensor:
    """max_pool2d(relu(conv2d(x, weight, bias, stride, padding)), 2) as one op (nn.Sequential runs
    Conv2d, ReLU, MaxPool2d(2) so): the same values and gradients, and on the numba backend each
    sample is pooled while its convolution output is still in cache."""
    operands, stride, padding, (oh, ow) = _conv_operands(x, weight, bias, stride, padding)
    if oh < 2 or ow < 2:
        raise ValueError(f"conv2d_relu_max_pool2d: a 2x2 pool does not fit the conv output {(oh, ow)}")
    return ConvReluPool.apply(*operands, stride=stride, padding=padding)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None) -> Tensor:
    """Max over kernel_size windows of x (N, C, H, W); stride defaults to kernel_size."""
    return _max_pool2d(x, kernel_size, stride, False)


def relu_max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None) -> Tensor:
    """max_pool2d(relu(x)) as one op (nn.Sequential runs ReLU then MaxPool2d so): the same values
    and gradients, computed as ReLU of the window maxima without a ReLU pass over x."""
    return _max_pool2d(x, kernel_size, stride, True)


def _max_pool2d(x: Tensor, kernel_size: Any, stride: Any, relu: bool) -> Tensor:
    x = as_tensor(x)
    k = as_pair(kernel_size, "kernel_size")
    s = k if stride is None else as_pair(stride, "stride")
    if x.ndim != 4:
        raise ValueError(f"max_pool2d needs x of shape (N, C, H, W), got {x.shape}")
    if x.shape[2] < k[0] or x.shape[3] < k[1] or min(k) < 1 or min(s) < 1:
        raise ValueError(f"max_pool2d: kernel {k} stride {s} do not fit input {x.shape}")
    return MaxPool2d.apply(x, kernel=k, stride=s, relu=relu)
