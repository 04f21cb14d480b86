"""Adadelta (Zeiler) with torch.optim.Adadelta's lr scale and weight-decay rule."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .optimizer import Optimizer


class Adadelta(Optimizer):
    """v = ρv + (1−ρ)g², with g = grad + weight_decay·p; Δ = √(u + eps)/√(v + eps) · g;
    u = ρu + (1−ρ)Δ²; p ← p − lr·Δ."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=bool(maximize)))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: invalid rho {group['rho']} (must be in [0, 1])")
        self._check_nonnegative(group, "eps", "weight_decay")

    def _update(self, group: dict[str, Any]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p, w, st in self._stepping(group, lambda w: {"step": 0, "square_avg": np.zeros_like(w),
                                                         "acc_delta": np.zeros_like(w)}):
            s, d, gd = self._buffers(p, 3)
            g = self._grad(p, gd, group["weight_decay"], group["maximize"])
            st["step"] += 1
            v, u = st["square_avg"], st["acc_delta"]
            v *= rho
            np.multiply(g, g, out=s)
            s *= 1.0 - rho
            v += s
            np.add(v, eps, out=s)
            np.sqrt(s, out=s)
            np.add(u, eps, out=d)
            np.sqrt(d, out=d)
            d /= s
            d *= g
            u *= rho
            np.multiply(d, d, out=s)
            s *= 1.0 - rho
            u += s
            d *= lr
            w -= d
