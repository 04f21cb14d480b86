"""Loss layers: CrossEntropyLoss (softmax fused in), NLLLoss and MSELoss."""
from __future__ import annotations

from typing import Any

from ..ops import cross_entropy, mse_loss, nll_loss
from ..ops.loss import REDUCTIONS, check_label_smoothing
from ..tensor import Tensor
from .module import Module


def _check(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


class CrossEntropyLoss(Module):
    """Cross-entropy of softmax(logits) (N, C) against class indices (N,) or one-hot (N, C).

    Takes raw logits, like torch; reduction 'sum' is the homework's summed batch loss;
    label_smoothing mixes the target with the uniform distribution, as torch's does.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.reduction = _check(reduction)
        self.label_smoothing = check_label_smoothing(label_smoothing)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        """A scalar (or (N,) with reduction='none')."""
        return cross_entropy(logits, target, self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        smoothing = f", label_smoothing={self.label_smoothing}" if self.label_smoothing else ""
        return f"reduction={self.reduction!r}{smoothing}"


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


class NLLLoss(Module):
    """Negative log-likelihood of class indices under log-probabilities (pair it with LogSoftmax)."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:  # torch's deprecated pair
            reduction = "none" if reduce is False else ("sum" if size_average is False else "mean")
        self.reduction = _check(reduction)
        self.register_buffer("weight", weight if weight is None or isinstance(weight, Tensor) else Tensor(weight))
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """A scalar (or per-sample losses with reduction='none')."""
        return nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"
