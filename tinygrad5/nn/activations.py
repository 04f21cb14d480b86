"""Activation layers: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax, LeakyReLU (thin wrappers over the ops)."""
from __future__ import annotations

from ..ops import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from ..tensor import Tensor
from .module import Module


class ReLU(Module):
    """max(x, 0). `inplace` is accepted for torch's signature; the result is always a new tensor."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise."""
        return relu(x)


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


def _legacy_dim(ndim: int) -> int:
    # torch's choice when dim is not given (it warns): 0 for 0-, 1- and 3-dim inputs, else 1
    return 0 if ndim in (0, 1, 3) else 1


class LogSoftmax(Module):
    """log(softmax(x)) along `dim`, computed without forming softmax."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Log-probabilities along `dim` (torch's implicit choice when dim is None)."""
        return log_softmax(x, _legacy_dim(x.ndim) if self.dim is None else self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LeakyReLU(Module):
    """x where x > 0, else negative_slope·x (`inplace` accepted as in ReLU; the result is a new tensor)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise."""
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
