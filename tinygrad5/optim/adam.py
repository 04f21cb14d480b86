"""Adam (Kingma & Ba) with bias correction and L2 weight decay added to the gradient, as torch.optim.Adam."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """m = β1·m + (1−β1)g, v = β2·v + (1−β2)g², p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps),
    with g = grad + weight_decay·p."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam betas must be in [0, 1), got {group['betas']}")
        if group["eps"] < 0 or group["weight_decay"] < 0:
            raise ValueError(f"Adam needs eps >= 0 and weight_decay >= 0, got {group['eps']} and "
                             f"{group['weight_decay']}")

    def _update(self, group: dict[str, Any]) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g, w = p.grad.data, p.data
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(w), "exp_avg_sq": np.zeros_like(w)}
            s, gd = self._buffers(p, 2)
            if wd:
                np.multiply(w, wd, out=gd)
                gd += g
                g = gd
            st["step"] = t = st["step"] + 1
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m *= b1
            np.multiply(g, 1.0 - b1, out=s)
            m += s
            v *= b2
            np.multiply(g, g, out=s)
            s *= 1.0 - b2
            v += s
            step_size = lr / (1.0 - b1 ** t)
            np.sqrt(v, out=s)
            s *= 1.0 / math.sqrt(1.0 - b2 ** t)
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            w -= s
