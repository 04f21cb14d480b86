"""`step = tg.jit(train_step)`: capture a whole training step once, then replay its array work.

In the spirit of tinygrad's TinyJit and CUDA graphs. The first two calls run eagerly and are
recorded (jit_tape.py): every op's forward, the engine's backward (each node's backward, broadcast
reductions, gradient sums, handing gradients to the leaves) and the optimizer's `zero_grad`/`step`.
When the two recordings agree, later calls with the same arguments (shapes, dtypes, Python
values), model arrays, module modes, backend, thread count and grad mode replay the second one.

How a replay runs: on static buffers. The recording ran on copies of the inputs, and every array
it made is kept; a replay copies the new inputs into those copies, then runs the tape, whose
entries write the step's new values into the very arrays the recording made. So every array of
the recording, and every view of one (`x.T`, a reshape, an op's saved arrays), holds this step's
values once its entry has run, and an entry needs no lookup of where its arguments are:
  - kernel level (jit_calls.py): while recording, `backend.current()` hands the ops a recording
    proxy (the one hook; ops and optimizers stay as they are), so an op whose body only calls the
    backend replays as those calls, e.g. `linear_forward(x, w, b, "sigmoid")` and the two products
    of its backward: no Function, Tensor, graph link, argument check or engine heap. A call that
    takes `out=` writes the recorded array (checked bit for bit once, at record time); another
    call's fresh result is copied into it;
  - Function level: an op whose body does numpy work of its own (the losses' reductions, dropout's
    draw) or keeps what the recorder cannot see into (the convolutions' caches) runs its
    forward/backward on the static arrays and its result is copied into place. Dropout therefore
    draws fresh numbers from the global generator on every replay;
  - the engine's numpy work (broadcast sums, casts, gradient sums) into fixed arrays, and the
    optimizer's `step`/`zero_grad` as calls (a scheduler's new learning rate and Adam's step count
    are read each replay).
The results are eager's bit for bit: the same functions run on the same values in the same order.

What falls back to eager, with one warning per reason (JitWarning) saying why:
  - arguments of other shapes, dtypes or values (e.g. an epoch's last, smaller batch): that call
    (`jit(fn, captures=2)` gives a second shape its own capture instead);
  - another backend, thread count or grad mode, or a module switched between train() and eval():
    that call;
  - a parameter (or other tensor the step reads) given a new array, e.g. by load_state_dict: that
    call, and the step is recorded again (then replays again);
  - a step whose work a replay could not redo: it reads values (`.item()`, `.data`, `bool()`,
    printing), writes tensors in place or assigns `.grad` outside the optimizer, steps a
    scheduler, reads arrays made outside the ops, calls backward with an explicit gradient, or
    records differently twice (a Python branch on changing state): every call, from then on.

A replay returns what the step returned, each tensor a fresh copy of its buffer (no graph; a caller
holding last step's loss keeps its value). After a replay of a step that calls zero_grad, each
parameter's `.grad` holds the step's gradient in a fixed buffer, the same Tensor every step (so,
unlike eager with set_to_none=True, a `.grad` held across calls changes); a `.grad` the step adds
to (gradient accumulation) or an input's `.grad` is a fresh array, as eager's.
Python side effects of the step (appending to a list, counters) happen only in the eager calls.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

from .backend import get_backend
from .jit_tape import Recorder
from .jit_watch import recording
from .tensor import Tensor, is_grad_enabled
from .threads import get_num_threads



class JitWarning(UserWarning):
    """A captured step ran eagerly instead of replaying (the message says why)."""


def jit(fn: Callable[..., Any], captures: int = 1) -> Jit:
    """Wrap a training step so that calls after the first two replay its recorded array work.

    `captures`: how many argument shapes get a capture of their own (e.g. 2 for a loader whose
    last batch is smaller); calls with further shapes run eagerly and warn once."""
    if not isinstance(captures, int) or captures < 1:
        raise ValueError(f"jit: captures must be an int >= 1, got {captures!r}")
    return Jit(fn, captures)


def _flatten(obj: Any, flat: list, key: list) -> None:
    """Collect the tensors and arrays of a call's arguments and a key that changes with anything
    a replay depends on (shapes, dtypes, layouts, requires_grad, plain Python values)."""
    if isinstance(obj, Tensor):
        d = obj.data
        flat.append(obj)
        key.append(("T", d.shape, d.dtype.str, d.flags.c_contiguous, obj.requires_grad))
    elif isinstance(obj, np.ndarray):
        flat.append(obj)
        key.append(("A", obj.shape, obj.dtype.str, obj.flags.c_contiguous))
    elif isinstance(obj, (tuple, list)):
        key.append((type(obj).__name__, len(obj)))
        for x in obj:
            _flatten(x, flat, key)
    elif isinstance(obj, dict):
        key.append(("dict", tuple(obj)))
        for x in obj.values():
            _flatten(x, flat, key)
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        key.append((type(obj).__name__, obj))
    else:
        key.append(("obj", id(obj)))


def _out_spec(obj: Any, rec: Recorder) -> Any:
    """How to rebuild the step's return value from a replay's arrays."""
    if isinstance(obj, Tensor):
        s = rec.slot_of.get(id(obj.data))
        if s is None:
            rec.fail("outside", f"the step returns a tensor of shape {obj.shape} that no recorded op made")
        return ("T", s)
    if isinstance(obj, (tuple, list)):
        return (type(obj), [_out_spec(x, rec) for x in obj])
    if isinstance(obj, dict):
        return ("dict", {k: _out_spec(v, rec) for k, v in obj.items()})
    return ("value", obj)


def _spec_sig(spec: Any) -> Any:
    kind, body = spec
    if kind == "T":
        return spec
    if kind == "dict":
        return ("dict", tuple((k, _spec_sig(v)) for k, v in body.items()))
    if kind == "value":
        return ("value", type(body).__name__, repr(body) if isinstance(body, (bool, int, float, str)) else id(body))
    return (kind.__name__, tuple(_spec_sig(x) for x in body))


def _build(spec: Any, arrays: list, model: set[int]) -> Any:
    """The return value: each tensor a copy of its static buffer (a caller holding last step's loss
    keeps its value), a parameter's array itself."""
    kind, body = spec
    if kind == "T":
        return Tensor._make(arrays[body] if body in model else arrays[body].copy(order="K"))
    if kind == "value":
        return body
    if kind == "dict":
        return {k: _build(v, arrays, model) for k, v in body.items()}
    return kind(_build(x, arrays, model) for x in body)


def _mode() -> tuple[str, int, bool]:
    return get_backend(), get_num_threads(), is_grad_enabled()


class _Capture:
    """A replayable step: the second recording's tape and what it was recorded under."""

    def __init__(self, rec: Recorder, mode: tuple, spec: Any) -> None:
        self.mode, self.spec = mode, spec
        self.arrays, self.model_slots = rec.arrays, rec.model_slots
        self.tape = rec.tape
        self.inputs = rec.inputs
        self.model = rec.model
        self.modules = [(m, m.training) for m in rec.modules.values()]

    def mismatch(self, mode: tuple) -> tuple[str, str] | None:
        """(reason, message) when a replay of a call with this capture's key could differ from
        eager, else None."""
        if mode != self.mode:
            (b0, n0, g0), (b1, n1, g1) = self.mode, mode
            if b0 != b1:
                return "backend", f"backend {b1!r} instead of the captured {b0!r}"
            if n0 != n1:
                return "threads", f"{n1} threads instead of the captured {n0}"
            return "grad", f"grad mode {'on' if g1 else 'off (no_grad)'} instead of the captured one"
        for t, arr in self.model:
            if t.data is not arr:
                return "params", (f"a parameter of shape {arr.shape} holds a new array (load_state_dict, "
                                  "Module.to or an assignment to .data); recording the step again")
        for m, training in self.modules:
            if m.training is not training:
                return "training", f"{type(m).__name__} is in {'train' if m.training else 'eval'} mode, " \
                                   f"captured in the other"
        return None

    def replay(self, flat: list) -> Any:
        """Run the tape on this call's arrays; returns the rebuilt return value."""
        for buf, x in zip(self.inputs, flat):
            np.copyto(buf, x.data if isinstance(x, Tensor) else x)
        for run in self.tape:
            run(flat)
        return _build(self.spec, self.arrays, self.model_slots)


def _new_shapes(key: tuple, captured: tuple) -> tuple[str, str]:
    diff = next((f"{a} instead of the captured {b}" for a, b in zip(key, captured) if a != b),
                f"{len(key)} argument parts instead of {len(captured)}")
    return "shapes", f"new argument shapes, dtypes or values ({diff})"


class Jit:
    """A captured step (see the module docstring); `replays` counts the calls that replayed."""

    def __init__(self, fn: Callable[..., Any], captures: int = 1) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.replays = 0
        self.captures = captures
        self._captures: dict[tuple, _Capture] = {}
        self._first: dict[tuple, tuple[tuple, Recorder, Any]] = {}  # per key: (mode, recording, spec)
        self._given_up = False
        self._warned: set[str] = set()

    def _warn(self, reason: str, message: str) -> None:
        if reason not in self._warned:
            self._warned.add(reason)
            name = getattr(self.fn, "__qualname__", repr(self.fn))
            warnings.warn(f"tinygrad5.jit({name}) runs eagerly: {message}", JitWarning, stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat: list = []
        parts: list = []
        _flatten(args, flat, parts)
        _flatten(kwargs, flat, parts)
        key, mode = tuple(parts), _mode()
        cap = self._captures.get(key)
        if cap is not None:
            why = cap.mismatch(mode)
            if why is None:
                self.replays += 1
                return cap.replay(flat)
            self._warn(*why)
            if why[0] != "params":
                return self.fn(*args, **kwargs)
            self._captures.clear()  # the model changed for good: record it again
        elif len(self._captures) >= self.captures:
            self._warn(*_new_shapes(key, next(iter(self._captures))))
            return self.fn(*args, **kwargs)
        if self._given_up:
            return self.fn(*args, **kwargs)
        return self._record(args, kwargs, flat, key, mode)

    def _record(self, args: tuple, kwargs: dict, flat: list, key: tuple, mode: tuple) -> Any:
        # the recording reads copies of the inputs: the replay's input buffers, refilled each call
        bufs = [np.array(x.data if isinstance(x, Tensor) else x, order="K") for x in flat]
        swap = {id(x): b for x, b in zip(flat, bufs) if isinstance(x, np.ndarray)}
        given = [(x, x.data) for x in flat if isinstance(x, Tensor)]
        for x, b in zip(flat, bufs):
            if isinstance(x, Tensor):
                x.data = b  # for this call only (restored below)
        rec = Recorder(bufs)
        try:
            with recording(rec):
                out = self.fn(*_swapped(args, swap), **_swapped(kwargs, swap))
        except BaseException:
            self._first.pop(key, None)
            raise
        finally:
            for x, d in given:
                x.data = d
            rec.finish()
        spec = _out_spec(out, rec)
        _own_outputs(out, rec)
        if rec.problem is not None:
            self._given_up = True
            self._first.clear()
            self._warn(*rec.problem)
            return out
        first = self._first.pop(key, None)
        if first is None or first[0] != mode:
            while len(self._first) >= self.captures - len(self._captures):
                self._first.pop(next(iter(self._first)))  # the oldest pending shape makes room
            self._first[key] = (mode, rec, spec)
            return out  # the first recording: the next call with these arguments confirms it
        why = _differ(first[1], first[2], rec, spec)
        if why is not None:
            self._given_up = True
            self._first.clear()
            self._warn("changed", why)
            return out
        self._captures[key] = _Capture(rec, mode, spec)
        return out


def _swapped(obj: Any, swap: dict[int, np.ndarray]) -> Any:
    """obj with the arrays in swap replaced (inside plain tuples, lists and dicts)."""
    if not swap:
        return obj
    if isinstance(obj, np.ndarray):
        return swap.get(id(obj), obj)
    if type(obj) in (tuple, list):
        return type(obj)(_swapped(x, swap) for x in obj)
    if type(obj) is dict:
        return {k: _swapped(v, swap) for k, v in obj.items()}
    return obj


def _own_outputs(obj: Any, rec: Recorder) -> None:
    """Give the returned tensors copies of the static buffers they hold, which replays overwrite."""
    if isinstance(obj, Tensor):
        s = rec.slot_of.get(id(obj.data))
        if s is not None and s not in rec.model_slots:
            obj.data = obj.data.copy(order="K")
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            _own_outputs(x, rec)
    elif isinstance(obj, dict):
        for x in obj.values():
            _own_outputs(x, rec)


def _differ(r1: Recorder, s1: Any, r2: Recorder, s2: Any) -> str | None:
    """Why two recordings of a step would not replay alike, or None when they agree."""
    for i, (a, b) in enumerate(zip(r1.sig, r2.sig)):
        if a != b:
            if _outside(a) or _outside(b):
                return (f"an op ({getattr(a[1], '__name__', a[0])}) reads an array that no recorded op made and "
                        "that differs between calls (made with numpy, a comparison or .astype outside the ops?)")
            return f"two calls recorded different work at entry {i} (a Python branch on changing state?)"
    if len(r1.sig) != len(r2.sig):
        return f"two calls recorded {len(r1.sig)} and {len(r2.sig)} entries (a Python branch on changing state?)"
    if _spec_sig(s1) != _spec_sig(s2):
        return "two calls returned different Python values"
    if list(r1.modules) != list(r2.modules):
        return "two calls ran different modules"
    return None


def _outside(sig: Any) -> bool:
    """True when a sig entry reads an array from outside the recorded ops."""
    if isinstance(sig, tuple):
        return bool(sig) and sig[0] in ("array", "model") or any(_outside(x) for x in sig)
    return False
