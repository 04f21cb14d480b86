"""Layers with weights or state: Linear, Conv2d, MaxPool2d, Flatten, Dropout, Identity.

Forward passes call the functional ops directly and validate nothing themselves: they run every
batch, and the ops already name shapes in their errors.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import conv2d, flatten, max_pool2d
from ..ops.conv import as_pair
from ..tensor import Tensor
from . import init
from .functional import dropout, linear
from .module import Module, Parameter


class Linear(Module):
    """y = x @ W.T + b with W of shape (out_features, in_features), like torch.

    The homework stores W as (in, out) and computes X @ W + b; this layer's `weight` is that
    matrix transposed (load a homework W with `weight.data[...] = W.T`). Default init is torch's:
    kaiming_uniform_ with a=√5, i.e. weights U(±1/√in_features), and bias U(±1/√in_features); the
    homework's Xavier init is `nn.init.xavier_uniform_(layer.weight)` and `nn.init.zeros_(layer.bias)`.

    Layout: when in_features > out_features the (out, in) weight is stored column-major, i.e. its
    memory is the homework's row-major (in, out) matrix.  Values, shape, state_dict and checkpoints
    are the same; x @ W.T and the weight gradient x.T @ g are then plain row-major BLAS products,
    35-40% faster at 32x1024 -> 64 than with a row-major W (MLP epoch -13%, BENCHMARKS.md).
    Narrow-to-wide layers (the autoencoder's 32 -> 1024) measured faster row-major.  One visible
    difference: `weight.data.reshape(-1)` of a column-major weight is a copy, so write a flat vector
    back with `weight.data[...] = v.reshape(weight.shape)`, not through a reshaped view.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in={in_features} out={out_features}")
        self.in_features, self.out_features = in_features, out_features
        order = "F" if in_features > out_features else "C"
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype, order=order))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: kaiming_uniform_(a=√5) weight, U(±1/√in_features) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x (..., in) -> (..., out)."""
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution (cross-correlation) over (N, C, H, W) with weight (out, in, KH, KW).

    Default init is torch's: kaiming_uniform_ with a=√5, i.e. weights U(±1/√fan_in), and bias
    U(±1/√fan_in), where fan_in = in_channels·KH·KW.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride, self.padding = as_pair(stride, "stride"), as_pair(padding, "padding")
        if min(in_channels, out_channels, *self.kernel_size) < 1:
            raise ValueError(f"Conv2d needs positive channels and kernel size, got in={in_channels} "
                             f"out={out_channels} kernel_size={kernel_size}")
        self.weight = Parameter(np.empty((out_channels, in_channels) + self.kernel_size, dtype=dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: kaiming_uniform_(a=√5) weights, U(±1/√fan_in) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(init.calculate_fan_in_and_fan_out(self.weight)[0])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x (N, in, H, W) -> (N, out, OH, OW)."""
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """Max over kernel_size windows; stride defaults to kernel_size."""

    def __init__(self, kernel_size: Any, stride: Any = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) -> (N, C, OH, OW)."""
        return max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Merge dims start_dim..end_dim (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C·H·W) with the defaults."""
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout while training (kept values scaled by 1/(1-p)); identity in eval mode.

    `inplace` is accepted for torch's signature (as F.dropout's); the result is always a new tensor."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Mask with the global generator when training."""
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """Returns its input; takes and ignores any arguments, like torch's (a placeholder layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        """x itself."""
        return x
