"""Dropout2d: zero whole channels while training (nn.Dropout, elementwise, lives in layers.py)."""
from __future__ import annotations

from ..tensor import Tensor
from .functional import dropout2d
from .module import Module


class Dropout2d(Module):
    """Zero each channel of (N, C, H, W) or (C, H, W) with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """One mask value per channel from the global generator when training; identity in eval mode."""
        return dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
