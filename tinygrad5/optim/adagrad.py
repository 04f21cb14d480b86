"""Adagrad (Duchi et al.) with torch.optim.Adagrad's lr decay, weight decay and accumulator start."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """S = S + g² (S starts at initial_accumulator_value), with g = grad + weight_decay·p;
    p ← p − lrₜ·g/(√S + eps), where lrₜ = lr / (1 + (t−1)·lr_decay) at step t."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=bool(maximize)))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        self._check_nonnegative(group, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        start = group["initial_accumulator_value"]
        for p, w, st in self._stepping(group, lambda w: {"step": 0, "sum": np.full_like(w, start)}):
            s, gd = self._buffers(p, 2)
            g = self._grad(p, gd, group["weight_decay"], group["maximize"])
            st["step"] = t = st["step"] + 1
            clr = lr / (1.0 + (t - 1) * lr_decay)
            acc = st["sum"]
            np.multiply(g, g, out=s)
            acc += s
            np.sqrt(acc, out=s)
            s += eps
            np.divide(g, s, out=s)
            s *= clr
            w -= s
