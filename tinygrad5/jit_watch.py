"""What tinygrad5.jit watches while a step records: reads of values and writes that a replay would
not redo, the optimizer and module calls, and the backend (handed out as a recording proxy).

While a call records, a few Tensor methods are watched (patched, then restored) because their
effects would not replay: reading values (`.item()`, `.data` from user code, `bool()`, printing),
in-place writes and `.grad` assignments outside the optimizer, and a scheduler stepping inside.
Any of them marks the recording unusable, with a reason the caller turns into a warning.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

import numpy as np

from . import jit_tape
from .jit_calls import BackendProxy
from .nn.module import Module
from .optim.lr_scheduler import LRScheduler
from .optim.optimizer import Optimizer
from .tensor import Tensor

_t = sys.modules[Tensor.__module__]  # the engine's module (the package's name `tensor` is a factory)
_backend = importlib.import_module("tinygrad5.backend")  # likewise: `backend` is a context manager

_DATA, _GRAD = Tensor.__dict__["data"], Tensor.__dict__["grad"]
# modules whose reads of `.data` feed recorded ops (or only look at shapes): not value reads
_INTERNAL = ("tinygrad5.tensor", "tinygrad5.ops", "tinygrad5.factories", "tinygrad5.backend", "tinygrad5.jit",
             "tinygrad5.dtypes",
             "tinygrad5.nn.functional", "tinygrad5.nn.fusion", "tinygrad5.nn.layers", "tinygrad5.nn.containers",
             "tinygrad5.nn.activations", "tinygrad5.nn.loss", "tinygrad5.nn.dropout", "tinygrad5.nn.pooling",
             "tinygrad5.nn.module", "tinygrad5.torch_compat")
_VALUE_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__format__",
                "__array__", "__repr__")
_IN_PLACE = ("__setitem__", "add_", "sub_", "mul_", "div_", "clamp_", "clip_", "zero_", "fill_", "copy_")
_AUGMENTED = ("__iadd__", "__isub__", "__imul__", "__itruediv__")

_active: Any = None


def _where(depth: int) -> str:
    f = sys._getframe(depth + 1)
    return f"{f.f_code.co_filename}:{f.f_lineno}"


# ---- watching what would not replay ----------------------------------------------------------------
def _read_data(t: Tensor) -> np.ndarray:
    rec = _active
    if rec is not None and not rec.in_optimizer:
        name = sys._getframe(1).f_globals.get("__name__", "")
        if not name.startswith(_INTERNAL):
            rec.fail("value", f"the step reads tensor values (.data at {_where(1)}), which a replay "
                              "would not redo")
    return _DATA.__get__(t, Tensor)


def _write_grad(t: Tensor, value: Any) -> None:
    rec = _active
    if rec is not None and not rec.in_optimizer:
        name = sys._getframe(1).f_globals.get("__name__", "")
        if not name.startswith(("tinygrad5.tensor", "tinygrad5.jit")):
            rec.fail("inplace", f"the step assigns .grad outside the engine and optimizer ({_where(1)})")
    _GRAD.__set__(t, value)


def _flagging(name: str, fn: Callable, key: str, what: str) -> Callable:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        rec = _active
        out = fn(self, *args, **kwargs)
        if rec is not None and not rec.in_optimizer and (name not in _AUGMENTED or out is self):
            rec.fail(key, f"the step {what} ({name} at {_where(1)}), which a replay would not redo")
        return out
    return method


def _recorded_call(fn: Callable) -> Callable:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _active
        if rec is None or rec.in_optimizer:
            return fn(self, *args, **kwargs)
        return rec.method_call(self, fn, args, kwargs)
    return method


def _module_call(fn: Callable) -> Callable:
    def method(self: Module, *args: Any, **kwargs: Any) -> Any:
        rec = _active
        if rec is not None:
            for m in self.modules():  # fused neighbours run without their own __call__
                rec.modules[id(m)] = m
        return fn(self, *args, **kwargs)
    return method


def _scheduler_step(fn: Callable) -> Callable:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _active is not None:
            _active.fail("value", f"a learning-rate scheduler steps inside the step ({_where(1)}); call it "
                                  "outside the captured function")
        return fn(self, *args, **kwargs)
    return method


class recording:
    """`with recording(rec):` routes Function.apply and backward through rec and watches the rest."""

    def __init__(self, rec: jit_tape.Recorder) -> None:
        self.rec = rec

    def __enter__(self) -> jit_tape.Recorder:
        global _active
        if _active is not None or _t._recorder is not None:
            raise RuntimeError("tinygrad5.jit: a captured step called another one while recording")
        saved = [(Tensor, "data", _DATA), (Tensor, "grad", _GRAD)]
        Tensor.data = property(_read_data, _DATA.__set__)
        Tensor.grad = property(_GRAD.__get__, _write_grad)
        for names, key, what in ((_VALUE_READS, "value", "reads tensor values"),
                                 (_IN_PLACE + _AUGMENTED, "inplace", "writes a tensor in place outside the optimizer")):
            for n in names:
                fn = getattr(Tensor, n)
                saved.append((Tensor, n, Tensor.__dict__.get(n)))
                setattr(Tensor, n, _flagging(n, fn, key, what))
        for cls, n, wrap in ((Optimizer, "step", _recorded_call), (Optimizer, "zero_grad", _recorded_call),
                             (Module, "zero_grad", _recorded_call), (Module, "__call__", _module_call),
                             (LRScheduler, "step", _scheduler_step)):
            saved.append((cls, n, cls.__dict__[n]))
            setattr(cls, n, wrap(cls.__dict__[n]))
        current = _backend.current  # the one hook for the kernel-level tape (jit_calls.py)
        real = current()
        proxy = BackendProxy(real, self.rec)
        saved.append((_backend, "current", current))
        _backend.current = lambda: proxy if current() is real else current()
        self.saved = saved
        _active = _t._recorder = self.rec
        return self.rec

    def __exit__(self, *exc: Any) -> None:
        global _active
        _active = _t._recorder = None
        self.rec.calls = None  # the proxy kept by recorded ops passes calls through from now on
        for cls, n, orig in reversed(self.saved):
            if orig is None:
                delattr(cls, n)
            else:
                setattr(cls, n, orig)
