"""Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight-decay rules."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .. import backend as _backend
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
        be = _backend.current()
        # The usual updates are gathered into one backend call (the numba backend runs many small
        # parameters per kernel call); first momentum steps and Nesterov's go one by one.
        ws: list[np.ndarray] = []
        ds: list[np.ndarray] = []
        bufs: list[np.ndarray] = []
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g, w = grad.data, p.data
            d = g
            if wd:
                s = self._buffers(p, 1)[0]
                np.multiply(w, wd, out=s)
                s += g
                d = s  # d lives in scratch, so the grad array is never written
            if not mu:
                ws.append(w)
                ds.append(d)
                continue
            st = self.state.setdefault(p, {})
            buf = st.get("momentum_buffer")
            if buf is None:  # torch: the first buffer is d itself, undamped
                buf = st["momentum_buffer"] = np.array(d, dtype=w.dtype)
                if not nesterov:
                    be.sgd_step(w, buf, None, lr, 0.0, 0.0)
                    continue
            elif not nesterov:
                ws.append(w)
                ds.append(d)
                bufs.append(buf)
                continue
            else:  # nesterov (its constructor check wants dampening 0; a loaded group may differ)
                buf *= mu
                buf += d if not damp else d * (1.0 - damp)
            t = self._buffers(p, 2)[1]
            np.multiply(buf, mu, out=t)
            t += d
            be.sgd_step(w, t, None, lr, 0.0, 0.0)
        if ws:
            be.sgd_steps(ws, ds, bufs if mu else None, lr, mu, damp, self._cache(group))
