"""AvgPool2d (MaxPool2d lives in layers.py beside the layers it fuses with)."""
from __future__ import annotations

from typing import Any

from ..ops import avg_pool2d
from ..tensor import Tensor
from .module import Module


class AvgPool2d(Module):
    """Mean over kernel_size windows; torch's stride, padding, ceil_mode, count_include_pad, divisor_override."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) -> (N, C, OH, OW)."""
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
