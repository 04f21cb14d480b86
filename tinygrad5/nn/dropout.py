"""Dropout2d: zero whole channels while training (nn.Dropout, elementwise, lives in layers.py)."""
from __future__ import annotations

from ..tensor import Tensor
from .functional import dropout2d
from .layers import Dropout


class Dropout2d(Dropout):
    """Zero each channel of (N, C, H, W) or (C, H, W) with probability p and scale the rest by 1/(1-p)."""

    def forward(self, x: Tensor) -> Tensor:
        """One mask value per channel from the global generator when training; identity in eval mode."""
        return dropout2d(x, self.p, self.training)
