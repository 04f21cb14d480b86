"""Optimizer base: parameter groups, zero_grad, and a state_dict of numbers and arrays only.

Subclasses implement `_update(group, params)`; `step()` runs it under no_grad. Updates write into
`p.data` in place and never into `p.grad.data` (gradient arrays may be shared). Per-parameter
scratch arrays live in `_scratch`, outside the saved state, so a step allocates nothing new.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from ..tensor import Tensor, copy_as, no_grad


class Optimizer:
    """Holds `param_groups` (dicts with "params" and hyperparameters such as "lr") and per-parameter `state`."""

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}  # Tensor hashes by identity
        self._scratch: dict[int, list[np.ndarray]] = {}
        self._backend_caches: dict[int, dict] = {}  # per group: what the backend prepared for it
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add a dict {"params": [...], **hyperparameters}; missing hyperparameters take the defaults."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) must be a leaf "
                                 "tensor with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) appears in more "
                                 "than one place")
            seen.add(id(p))
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate hyperparameters (subclasses extend)."""
        if not group["lr"] >= 0:
            raise ValueError(f"invalid learning rate {group['lr']}")

    def _check_nonnegative(self, group: dict[str, Any], *names: str) -> None:
        """Raise naming the first hyperparameter among `names` that is negative (or NaN)."""
        for k in names:
            if not group[k] >= 0:
                raise ValueError(f"{type(self).__name__}: invalid {k} {group[k]} (must be >= 0)")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (torch's default), or fill it with zeros when set_to_none=False."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        with no_grad():
            for g in self.param_groups:
                self._update(g)

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _stepping(self, group: dict[str, Any], init: Callable[[np.ndarray], dict[str, Any]]
                  ) -> Iterator[tuple[Tensor, np.ndarray, dict[str, Any]]]:
        """(parameter, its array, its state) for each parameter of group that has a gradient; a
        parameter's state is made by init(array) at its first step."""
        for p in group["params"]:
            if p.grad is None:
                continue
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = init(p.data)
            yield p, p.data, st

    def _buffers(self, p: Tensor, n: int) -> list[np.ndarray]:
        """`n` scratch arrays shaped like p, reused every step."""
        bufs = self._scratch.get(id(p))
        if bufs is None or len(bufs) < n or bufs[0].shape != p.data.shape or bufs[0].dtype != p.data.dtype:
            # a parameter whose array was replaced (load_state_dict, Module.to) gets fresh buffers
            bufs = self._scratch[id(p)] = [np.empty_like(p.data) for _ in range(n)]
        return bufs

    @staticmethod
    def _grad(p: Tensor, out: np.ndarray, wd: float = 0.0, maximize: bool = False) -> np.ndarray:
        """p's gradient, negated if maximize and plus wd·p (L2, as torch adds it); written into `out`
        when it changes, so the gradient array itself is never written."""
        g = p.grad.data
        if wd:
            np.multiply(p.data, wd, out=out)
            if maximize:
                out -= g  # wd·p − g is torch's (−g) + wd·p bit for bit
            else:
                out += g
            return out
        return np.negative(g, out=out) if maximize else g

    def _cache(self, group: dict[str, Any]) -> dict:
        """A dict kept across steps for one group, where the backend may keep prepared views of it
        (the numba backend's SGD plan); outside the saved state, and checked by the backend on use."""
        return self._backend_caches.setdefault(id(group), {})

    # ---- checkpoints -----------------------------------------------------------------------------
    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: number or array copy}}, "param_groups": [{hyperparameters, "params": [index]}]}.

        Parameters are numbered across groups in order, as in torch; tuples become lists.
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for p, s in self.state.items()}
        groups = []
        for g in self.param_groups:
            d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items() if k != "params"}
            d["params"] = [index[id(p)] for p in g["params"]]
            groups.append(d)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by state_dict()."""
        if "state" not in state_dict or "param_groups" not in state_dict:
            raise KeyError(f"optimizer state_dict needs keys 'state' and 'param_groups', got {sorted(state_dict)}")
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"optimizer state_dict has {len(saved)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(f"optimizer state_dict group {i} has {len(s['params'])} parameters, this "
                                 f"optimizer's has {len(g['params'])}")
        params = self._all_params()
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, s in state_dict["state"].items():
            i = int(key)  # keys may come back from a checkpoint as strings
            if not 0 <= i < len(params):
                raise KeyError(f"optimizer state_dict has state for parameter {i}, this optimizer has {len(params)}")
            p, entry = params[i], {}
            for name, v in s.items():
                if isinstance(v, np.ndarray) and v.ndim:
                    if v.shape != p.data.shape:
                        raise ValueError(f"optimizer state_dict: state {name!r} of parameter {i} has shape "
                                         f"{v.shape} but the parameter has shape {p.data.shape}")
                    v = copy_as(v, p.data)
                entry[name] = v
            new_state[p] = entry
        for s, g in zip(saved, self.param_groups):
            for k, v in s.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(g.get(k), tuple) else copy.deepcopy(v)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])
