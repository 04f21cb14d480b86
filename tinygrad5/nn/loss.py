"""Loss layers: CrossEntropyLoss (softmax fused in) and MSELoss."""
from __future__ import annotations

from typing import Any

from ..ops import cross_entropy, mse_loss
from ..ops.loss import REDUCTIONS
from ..tensor import Tensor
from .module import Module


def _check(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


class CrossEntropyLoss(Module):
    """Cross-entropy of softmax(logits) (N, C) against class indices (N,) or one-hot (N, C).

    Takes raw logits, like torch; reduction 'sum' is the homework's summed batch loss.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check(reduction)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        """A scalar (or (N,) with reduction='none')."""
        return cross_entropy(logits, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(Module):
    """Squared error, averaged ('mean') or summed ('sum') over all elements."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """input and target of the same shape."""
        return mse_loss(input, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
