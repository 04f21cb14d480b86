"""Losses: cross-entropy fused with softmax (class indices or one-hot/probability targets), MSE."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as _backend
from ..tensor import Function, Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """Softmax + cross-entropy in one op; the gradient is (probs - target) per sample.

    With label smoothing e (torch's definition) the target is (1 - e) * target + e / C: for class
    indices that is (1 - e) times the fused kernel's loss plus e times the mean over classes of
    -log p, i.e. logsumexp(z) - mean(z), computed from the logits so that no log of a tiny p is taken.
    """

    def forward(self, logits, labels=None, soft=None, reduction="mean", smoothing=0.0):
        n, c = logits.shape
        if labels is not None:
            self.be = _backend.current()
            loss, self.probs = self.be.softmax_cross_entropy_forward(logits, labels)
            if smoothing:
                m = logits.max(axis=1, keepdims=True)
                lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
                loss = (loss * (1 - smoothing) + (lse - logits.mean(axis=1)) * smoothing).astype(logits.dtype)
        else:
            if smoothing:
                soft = soft * (1 - smoothing) + smoothing / c
            z = logits - logits.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            loss, self.probs = -(soft * logp).sum(axis=1), np.exp(logp)
        self.labels, self.soft, self.reduction, self.n, self.smoothing = labels, soft, reduction, n, smoothing
        if reduction == "none":
            return loss
        total = np.add.reduce(loss)
        return total / n if reduction == "mean" else total

    def backward(self, g):
        if self.reduction != "none":  # one scale for every row: a (1,) array, not an (N,) one
            g = (g / self.n if self.reduction == "mean" else g).reshape(1)
            if g.dtype != self.probs.dtype:
                g = g.astype(self.probs.dtype)
        if self.labels is not None:
            grad = self.be.softmax_cross_entropy_backward(self.probs, self.labels, g)
            e = self.smoothing
            if e:  # (1 - e)(p - onehot) + e (p - 1/C), the fused kernel giving the first part
                p = self.probs
                grad = grad * (1 - e) + (p - 1.0 / p.shape[1]) * (g[:, None] * e)
                grad = grad.astype(p.dtype, copy=False)
            return grad
        t = self.soft
        return (self.probs * t.sum(axis=1, keepdims=True) - t) * g[:, None]


def check_label_smoothing(e: Any) -> float:
    """e as a float, or a ValueError when it is not a number in [0, 1] (torch's rule)."""
    if isinstance(e, bool) or not isinstance(e, (int, float, np.floating, np.integer)) or not 0.0 <= e <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be a float in [0, 1], got {e!r}")
    return float(e)


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) (N, C) against class indices (N,) or one-hot/probabilities (N, C).

    label_smoothing e mixes the target with the uniform distribution, (1 - e) * target + e / C, as
    torch does. The target carries no gradient.
    """
    _check_reduction(reduction)
    e = check_label_smoothing(label_smoothing)
    logits = as_tensor(logits)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy needs logits of shape (N, C), got {logits.shape}")
    if logits.data.dtype.kind != "f":  # as torch; checked here so that both backends refuse alike
        raise TypeError(f"cross_entropy needs float logits, got dtype {logits.data.dtype} (convert with .float())")
    n, c = logits.shape
    if c == 0:
        raise ValueError(f"cross_entropy needs at least one class, got logits {logits.shape}")
    if t.dtype.kind == "b":
        raise TypeError(f"cross_entropy: bool targets {t.shape} are neither class indices nor probabilities; "
                        "pass integer labels or float one-hot rows")
    if t.ndim == 1 and t.dtype.kind in "iu":
        if t.shape[0] != n:
            raise ValueError(f"cross_entropy: {n} rows of logits {logits.shape} but {t.shape[0]} labels")
        if t.dtype.kind == "u" and t.size and t.max() >= c:  # before int64 turns 2**63 negative
            raise ValueError(f"cross_entropy: label {t[t >= c][0]} is out of range for {c} classes")
        # the backend checks the range inside its forward pass (ValueError naming the label)
        return CrossEntropy.apply(logits, labels=t.astype(np.int64, copy=False), reduction=reduction, smoothing=e)
    if t.shape != logits.shape:
        raise ValueError(f"cross_entropy target must be class indices of shape ({n},) or one-hot of "
                         f"shape {logits.shape}, got shape {t.shape} dtype {t.dtype}")
    return CrossEntropy.apply(logits, soft=t.astype(logits.dtype, copy=False), reduction=reduction, smoothing=e)


# Up to this many elements a summed squared error is one BLAS dot (no squares array; 36x1024: 15 ->
# 7 us); beyond it numpy's pairwise sum keeps float32 rounding error from growing with the length.
DOT_MAX_ELEMS = 1 << 20


class MSE(Function):
    def forward(self, a, b, reduction="mean"):
        d = self.d = a - b
        self.reduction = reduction
        if reduction == "none":
            return d * d
        if d.size <= DOT_MAX_ELEMS and d.dtype.kind == "f" and d.flags.c_contiguous:
            total = np.vdot(d, d)  # a scalar of d's dtype, like the sum below
        else:
            total = (d * d).sum()  # integers: numpy's widening sum
        return total / d.size if reduction == "mean" else total

    def backward(self, g):
        # an empty mean is NaN (as in torch); its gradient is the empty array, not a division by 0
        scale = 2.0 / max(self.d.size, 1) if self.reduction == "mean" else 2.0
        gd = self.d * (g * scale)
        return gd, (-gd if self.parents[1].requires_grad else None)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) squared error; input and target must have the same shape."""
    _check_reduction(reduction)
    a, b = as_tensor(input), as_tensor(target, like=input if isinstance(input, Tensor) else None)
    if a.shape != b.shape:
        raise ValueError(f"mse_loss: input shape {a.shape} and target shape {b.shape} differ")
    da, db = a.data.dtype, b.data.dtype  # two integer sides: numpy's widening sum (see MSE)
    if (da.kind == "f") != (db.kind == "f"):  # an integer side takes the float side's dtype, as torch promotes
        a, b = (a, Tensor._make(b.data.astype(da))) if da.kind == "f" else (Tensor._make(a.data.astype(db)), b)
    return MSE.apply(a, b, reduction=reduction)
