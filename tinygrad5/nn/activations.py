"""Activation layers: ReLU, Sigmoid, Tanh, Softmax, LeakyReLU (thin wrappers over the ops)."""
from __future__ import annotations

from typing import Sequence

from ..ops import leaky_relu, relu, relu_max_pool2d, sigmoid, softmax, tanh
from ..tensor import Tensor
from .module import Module


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise."""
        return relu(x)

    def forward_then(self, x: Tensor, following: Sequence[Module]) -> tuple[Tensor, int] | None:
        """This ReLU and a following nn.MaxPool2d as one op (Sequential calls this): the ConvNet's
        ReLU then runs on the pooled maxima, a quarter of the elements, inside the pooling pass."""
        from .layers import MaxPool2d  # layers.py imports this module
        if type(following[0]) is not MaxPool2d or type(self).forward is not ReLU.forward:
            return None
        return relu_max_pool2d(x, following[0].kernel_size, following[0].stride), 1


class Sigmoid(Module):
    """1 / (1 + e^-x), exactly 0 and 1 far out."""

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise."""
        return sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise."""
        return tanh(x)


class Softmax(Module):
    """Softmax along `dim` (max-subtracted, so large inputs are safe)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Rows along `dim` sum to 1."""
        return softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LeakyReLU(Module):
    """x where x > 0, else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise."""
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
