"""Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter), with torch.optim's bias correction, AMSGrad and
weight-decay rules."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """m = β1·m + (1−β1)g, v = β2·v + (1−β2)g², p ← p − lr/(1−β1ᵗ) · m / (√v̂/√(1−β2ᵗ) + eps), where
    v̂ = v, or the running maximum of v with amsgrad; g = grad + weight_decay·p (L2), or with
    decoupled_weight_decay p ← p·(1 − lr·weight_decay) first and g = grad (AdamW)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=bool(amsgrad), maximize=bool(maximize),
                                      decoupled_weight_decay=bool(decoupled_weight_decay)))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__} betas must be in [0, 1), got {group['betas']}")
        if group["eps"] < 0 or group["weight_decay"] < 0:
            raise ValueError(f"{type(self).__name__} needs eps >= 0 and weight_decay >= 0, got {group['eps']} and "
                             f"{group['weight_decay']}")

    def _update(self, group: dict[str, Any]) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        amsgrad, maximize = group.get("amsgrad", False), group.get("maximize", False)
        decoupled = group.get("decoupled_weight_decay", False)
        for p, w, st in self._stepping(group, lambda w: {"step": 0, "exp_avg": np.zeros_like(w),
                                                         "exp_avg_sq": np.zeros_like(w)}):
            if amsgrad and "max_exp_avg_sq" not in st:
                st["max_exp_avg_sq"] = np.zeros_like(w)
            s, gd = self._buffers(p, 2)
            if decoupled:
                if wd:
                    w *= 1.0 - lr * wd
                g = self._grad(p, gd, 0.0, maximize)
            else:
                g = self._grad(p, gd, wd, maximize)
            st["step"] = t = st["step"] + 1
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m *= b1
            np.multiply(g, 1.0 - b1, out=s)
            m += s
            v *= b2
            np.multiply(g, g, out=s)
            s *= 1.0 - b2
            v += s
            if amsgrad:
                vmax = st["max_exp_avg_sq"]
                np.maximum(vmax, v, out=vmax)
                v = vmax
            step_size = lr / (1.0 - b1 ** t)
            np.sqrt(v, out=s)
            s *= 1.0 / math.sqrt(1.0 - b2 ** t)
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            w -= s


class AdamW(Adam):
    """Adam with decoupled weight decay: p ← p·(1 − lr·weight_decay) before the Adam step; torch's
    default weight_decay=1e-2."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
