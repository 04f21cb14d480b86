"""Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight-decay rules."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """p ← p − lr·d, where d = g + wd·p, then with momentum μ: b = d on the first step, else
    b = μb + (1−dampening)d, and d = d + μb (nesterov) or d = b.

    The homework's momentum form (M ← 0.9M − lr∇, W ← W + M) is this with dampening 0 and a fixed lr.
    """

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["momentum"] < 0 or group["weight_decay"] < 0:
            raise ValueError(f"SGD needs momentum >= 0 and weight_decay >= 0, got {group['momentum']} "
                             f"and {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, group: dict[str, Any]) -> None:
        lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov = group["weight_decay"], group["nesterov"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g, w = p.grad.data, p.data
            s, t = self._buffers(p, 2)
            if wd:
                np.multiply(w, wd, out=s)
                s += g
                d = s  # d lives in scratch, so the grad array is never written
            else:
                d = g
            if mu:
                st = self.state.setdefault(p, {})
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = np.array(d, dtype=w.dtype)
                else:
                    buf *= mu
                    if damp:
                        np.multiply(d, 1.0 - damp, out=t)
                        buf += t
                    else:
                        buf += d
                if nesterov:
                    np.multiply(buf, mu, out=t)
                    t += d
                    d = t
                else:
                    d = buf
            np.multiply(d, lr, out=s)
            w -= s
