"""nll_loss: the negative log-likelihood of class indices under log-probabilities (torch's numbers).

Pair it with log_softmax (F.nll_loss(F.log_softmax(x, 1), y) equals cross_entropy(x, y)). Class
weights scale each sample's term; samples whose target is ignore_index count for nothing, and
'mean' divides by the summed weights of the counted samples, as torch does.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Function, Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


class NLLLoss(Function):
    def forward(self, logp, target=None, weight=None, ignore_index=-100, reduction="mean"):
        # rows: every (sample, position) with the class axis (1) last
        c = logp.shape[1]
        rows = np.moveaxis(logp, 1, -1).reshape(-1, c)
        t = target.reshape(-1)
        valid = t != ignore_index
        tt = np.where(valid, t, 0)
        w = (weight[tt] if weight is not None else np.ones(len(tt), logp.dtype)) * valid
        w = w.astype(logp.dtype, copy=False)
        losses = -w * rows[np.arange(len(tt)), tt]
        self.shape, self.tt, self.w, self.reduction = logp.shape, tt, w, reduction
        if reduction == "none":
            return losses.reshape(target.shape)
        total = np.add.reduce(losses)
        if reduction == "sum":
            return np.asarray(total, logp.dtype)
        self.denom = np.add.reduce(w)
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing counted: NaN, as in torch
            return np.asarray(total / self.denom, logp.dtype)

    def backward(self, g):
        tt, n = self.tt, len(self.tt)
        if self.reduction == "none":
            scale = g.reshape(-1)
        elif self.reduction == "sum":
            scale = np.full(n, g, g.dtype)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.full(n, g / self.denom, g.dtype)
        c = self.shape[1]
        rows = np.zeros((n, c), g.dtype)
        rows[np.arange(n), tt] = -self.w * scale
        moved = self.shape[:1] + self.shape[2:] + (c,)
        return np.moveaxis(rows.reshape(moved), -1, 1)


def nll_loss(input: Tensor, target: Any, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
             reduce: Any = None, reduction: str = "mean") -> Tensor:
    """-input[n, target[n]] per sample (input (N, C) or (N, C, d...), target (N,) or (N, d...)),
    weighted by weight[target], averaged over the counted weight ('mean'), summed, or per sample."""
    if size_average is not None or reduce is not None:  # torch's deprecated pair
        reduction = "none" if reduce is False else ("sum" if size_average is False else "mean")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    x = as_tensor(input)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if x.data.dtype.kind != "f":
        raise TypeError(f"nll_loss needs float log-probabilities, got dtype {x.dtype}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss needs integer class indices as target, got dtype {t.dtype}")
    squeeze = x.ndim == 1
    if squeeze:  # one sample (C,) with a 0-d target
        x, t = x.reshape((1,) + x.shape), t.reshape(1)
    if x.ndim < 2 or t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(f"nll_loss: input {tuple(input.shape)} needs a target of shape "
                         f"{x.shape[:1] + x.shape[2:]}, got {t.shape}")
    c = x.shape[1]
    bad = t[(t != ignore_index) & ((t < 0) | (t >= c))]
    if bad.size:
        raise ValueError(f"nll_loss: target {int(bad[0])} is out of range for {c} classes (input {x.shape})")
    w = None
    if weight is not None:
        w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
        if w.shape != (c,):
            raise ValueError(f"nll_loss: weight has shape {w.shape}, needs ({c},) for input {x.shape}")
    out = NLLLoss.apply(x, target=t.astype(np.int64, copy=False), weight=w, ignore_index=ignore_index,
                        reduction=reduction)
    return out.reshape(()) if squeeze and reduction == "none" else out
