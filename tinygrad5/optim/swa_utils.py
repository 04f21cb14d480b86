"""Stochastic weight averaging shaped like torch.optim.swa_utils: AveragedModel and its averaging functions.

`AveragedModel(model)` keeps a deep copy of a model whose parameters (and, with `use_buffers=True`,
buffers) are a running average of the model's: the equal-weight SWA average by default, or any
`avg_fn` / `multi_avg_fn` such as `get_ema_avg_fn(decay)`. The arithmetic follows torch's CPU path,
so the default average is bit for bit torch's in float32.

Not here: `SWALR` and `update_bn` (asking for them raises AttributeError); refresh BatchNorm
statistics with `use_buffers=True`, or by running the averaged model over data in train mode.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["AveragedModel", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]

ParamList = Sequence[Tensor]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _weight(num: Any) -> float:
    """A Tensor or number as a Python float (torch turns a 0-d tensor weight into a Scalar)."""
    return float(num.data) if isinstance(num, Tensor) else float(num)


def _lerp_(starts: ParamList, ends: ParamList, weight: float) -> None:
    """starts[i] += weight * (ends[i] - starts[i]) in place, by torch's CPU lerp formula.

    torch picks the form by the weight's size (small: start + w*d, else end + (w-1)*d, d = end - start)
    and evaluates it as one fused multiply-add in the tensor's dtype; for float32 the product is exact
    in float64, so only the final rounding (which can very rarely round twice) departs from fma.
    """
    for s, e in zip(starts, ends):
        a, b = s.data, e.data
        dt = a.dtype
        w = dt.type(weight)
        small = abs(w) < 0.5
        diff = np.subtract(b, a, dtype=dt)
        coeff = w if small else w - dt.type(1)
        base = a if small else np.asarray(b, dtype=dt)
        if dt == np.float32:
            a[...] = (np.float64(coeff) * diff.astype(np.float64) + base.astype(np.float64)).astype(np.float32)
        else:
            a[...] = coeff * diff + base


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[ParamList, ParamList, Any], None]:
    """An in-place EMA over lists of tensors: ema <- lerp(ema, current, 1 - decay)."""
    _check_decay(decay)

    def ema_update(ema_param_list: ParamList, current_param_list: ParamList, _: Any) -> None:
        if ema_param_list[0].data.dtype.kind == "f":
            _lerp_(ema_param_list, current_param_list, 1 - decay)
        else:  # integer state (BatchNorm's batch count): a float32 blend truncated back, as torch's copy_
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                blend = p_ema.data * np.float32(decay) + p_model.data * np.float32(1 - decay)
                p_ema.data[...] = blend.astype(p_ema.data.dtype)

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[ParamList, ParamList, Any], None]:
    """An in-place equal-weight average over lists of tensors: avg <- lerp(avg, current, 1 / (n + 1))."""

    def swa_update(averaged_param_list: ParamList, current_param_list: ParamList, num_averaged: Any) -> None:
        dt = averaged_param_list[0].data.dtype
        if dt.kind != "f":
            raise RuntimeError(f"get_swa_multi_avg_fn cannot average {dt} tensors (integer division, refused as "
                               "torch refuses it): use the default average (multi_avg_fn=None) or use_buffers=False")
        # torch forms 1/(n+1) as a float32 tensor when n is a tensor, then reads it as the lerp weight
        n = _weight(num_averaged)
        _lerp_(averaged_param_list, current_param_list,
               float(np.float32(1) / np.float32(n + 1)) if isinstance(num_averaged, Tensor) else 1 / (n + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The EMA of one tensor: decay * ema + (1 - decay) * current."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The equal-weight running average of one tensor: avg + (current - avg) / (n + 1)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def _pairs(own: list[tuple[str, Tensor]], other: list[tuple[str, Tensor]], what: str) -> list[tuple[Tensor, Tensor]]:
    """Pair the averaged copy's tensors with the model's, or say which one does not match."""
    if len(own) != len(other):
        raise ValueError(f"AveragedModel.update_parameters: the model has {len(other)} {what}, the averaged copy "
                         f"{len(own)} ({[n for n, _ in other]} vs {[n for n, _ in own]})")
    for (name, a), (oname, b) in zip(own, other):
        if a.data.shape != b.data.shape:
            raise ValueError(f"AveragedModel.update_parameters: {what[:-1]} {name!r} has shape {a.data.shape} in the "
                             f"averaged copy but {oname!r} has shape {b.data.shape} in the model")
    return [(a.detach(), b.detach()) for (_, a), (_, b) in zip(own, other)]


class AveragedModel(Module):
    """A copy of `model` whose parameters hold a running average of the model's (SWA, or EMA via avg_fn)."""

    def __init__(self, model: Module, device: Any = None, avg_fn: Callable[[Tensor, Tensor, Any], Any] | None = None,
                 multi_avg_fn: Callable[[ParamList, ParamList, Any], None] | None = None,
                 use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)  # only the CPU exists: any other device raises here
        self.register_buffer("n_averaged", Tensor(np.array(0, np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The averaged copy's forward."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold model's current parameters (and buffers when use_buffers) into the average."""
        own = list(self.module.named_parameters())
        other = list(model.named_parameters())
        if self.use_buffers:
            own += list(self.module.named_buffers())
            other += list(model.named_buffers())
        pairs = _pairs(own, other, "parameters and buffers" if self.use_buffers else "parameters")
        synced = [] if self.use_buffers else _pairs(list(self.module.named_buffers()), list(model.named_buffers()),
                                                    "buffers")
        n = self.n_averaged
        if int(n.data) == 0:
            for a, b in pairs:
                a.data[...] = b.data  # in place: the copy's arrays keep their layout and identity
        elif self.avg_fn is not None:
            for a, b in pairs:
                out = self.avg_fn(a, b, n)
                a.data[...] = out.data if isinstance(out, Tensor) else out
        elif self.multi_avg_fn is not None:
            groups: dict[np.dtype, tuple[list[Tensor], list[Tensor]]] = {}
            for a, b in pairs:  # torch groups by dtype, in order of first appearance
                lists = groups.setdefault(a.data.dtype, ([], []))
                lists[0].append(a)
                lists[1].append(b)
            for avg_list, cur_list in groups.values():
                self.multi_avg_fn(avg_list, cur_list, n)
        else:  # torch's CPU default: the single-tensor SWA formula, tensor by tensor
            avg = get_swa_avg_fn()
            for a, b in pairs:
                a.data[...] = avg(a, b, n).data
        for a, b in synced:  # buffers that are not averaged follow the model, as in torch
            a.data[...] = b.data
        n.data[...] = n.data + 1
