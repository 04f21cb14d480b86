"""RMSprop (Hinton) with torch.optim.RMSprop's centering, momentum and weight-decay rules."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """v = α·v + (1−α)g², with g = grad + weight_decay·p; denominator a = √v + eps, or
    √(v − ḡ²) + eps when centered (ḡ the running mean of g); p ← p − lr·g/a, or with momentum μ
    b = μb + g/a and p ← p − lr·b."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=bool(centered), maximize=bool(maximize)))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        self._check_nonnegative(group, "alpha", "eps", "weight_decay", "momentum")

    def _update(self, group: dict[str, Any]) -> None:
        lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        centered = group["centered"]
        for p, w, st in self._stepping(group, lambda w: {"step": 0, "square_avg": np.zeros_like(w)}):
            if mu > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = np.zeros_like(w)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = np.zeros_like(w)
            s, gd = self._buffers(p, 2)
            g = self._grad(p, gd, group["weight_decay"], group["maximize"])
            st["step"] += 1
            v = st["square_avg"]
            v *= alpha
            np.multiply(g, g, out=s)
            s *= 1.0 - alpha
            v += s
            if centered:
                ga = st["grad_avg"]
                np.subtract(g, ga, out=s)  # torch's lerp: ḡ + (1−α)(g − ḡ)
                s *= 1.0 - alpha
                ga += s
                np.multiply(ga, ga, out=s)
                np.subtract(v, s, out=s)
                np.sqrt(s, out=s)
            else:
                np.sqrt(v, out=s)
            s += eps
            np.divide(g, s, out=s)
            if mu > 0:
                buf = st["momentum_buffer"]
                buf *= mu
                buf += s
                np.multiply(buf, lr, out=s)
            else:
                s *= lr
            w -= s
