"""The recorder behind tinygrad5.jit: runs one call of a step eagerly and writes down its array work.

Every array a step computes comes from one of three places, and the recorder sits at each, in one
spot: `Function.apply` (every op's forward: the backend calls and the elementwise numpy alike run
inside a Function), the engine's `Tensor.backward` (each node's backward, the broadcast reductions,
the sums of gradients, handing gradients to the leaves) and the optimizer's `step`/`zero_grad`.
The tape is a list of small closures over a flat list of arrays (`env`): inputs, the model's arrays,
constants, and each op's output, by position. Replaying it runs the same Function bodies on new
arrays (so the bits are eager's) without Tensors, graph links, argument checks or the engine.

While a call records, a few Tensor methods are watched (patched, then restored) because their
effects would not replay: reading values (`.item()`, `.data` from user code, `bool()`, printing),
in-place writes and `.grad` assignments outside the optimizer, and a scheduler stepping inside.
Any of them marks the recording unusable, with a reason the caller turns into a warning.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from .nn.module import Module
from .optim.lr_scheduler import LRScheduler
from .optim.optimizer import Optimizer
from .tensor import Tensor

_t = sys.modules[Tensor.__module__]  # the engine's module (the package's name `tensor` is a factory)

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

_active: Recorder | None = None


class _Stub:
    """What a replayed node's `parents` holds: only whether each input wanted a gradient."""

    __slots__ = ("requires_grad",)

    def __init__(self, requires_grad: bool) -> None:
        self.requires_grad = requires_grad


_STUBS = (_Stub(False), _Stub(True))


def _where(depth: int) -> str:
    f = sys._getframe(depth + 1)
    return f"{f.f_code.co_filename}:{f.f_lineno}"


class Recorder:
    """Records one eager call of a step into `tape` (closures over env positions) and `sig` (a
    comparable description: two recordings of a step that replays faithfully have equal sigs)."""

    def __init__(self, inputs: list[np.ndarray]) -> None:
        self.template: list[Any] = []      # env's starting values: None where filled per replay
        self.tape: list[Callable[[list, list], None]] = []  # run(env, the call's flat arguments)
        self.sig: list[Any] = []
        self.uses: list[tuple[tuple[int, ...], tuple[int, ...]]] = []  # per entry: env positions read, written
        self.slot_of: dict[int, int] = {}  # id(array) -> env position
        self.keep: list[Any] = []          # everything recorded stays alive, so ids stay unique
        self.model: list[tuple[Tensor, np.ndarray]] = []  # tensors whose arrays the tape holds
        self.modules: dict[int, Module] = {}
        self.ctx_slot: dict[int, int] = {}
        self.problem: tuple[str, str] | None = None
        self.in_optimizer = 0
        self.n_inputs = len(inputs)
        for i, a in enumerate(inputs):
            self._slot(a, None)
            self.sig.append(("in", i))

    # ---- env positions -----------------------------------------------------------------------
    def _slot(self, arr: Any, fixed: Any) -> int:
        """A new env position for arr (fixed: its value in every replay, else filled per replay)."""
        self.template.append(fixed)
        self.keep.append(arr)
        if isinstance(arr, (np.ndarray, np.generic)):  # a reduction may give a numpy scalar
            self.slot_of[id(arr)] = len(self.template) - 1
        return len(self.template) - 1

    def _ref(self, arr: np.ndarray, owner: Tensor | None) -> tuple[int, Any]:
        """(env position, sig) of an array an op reads."""
        s = self.slot_of.get(id(arr))
        if s is not None:
            return s, s
        if owner is not None and owner._ctx is None and (owner.requires_grad or arr.ndim):
            # a parameter or another long-lived tensor: replays read this very array (guarded)
            self.model.append((owner, arr))
            return self._slot(arr, arr), ("model", id(owner), id(arr))
        if arr.ndim == 0:  # a Python number made into an array: a constant, compared by value
            return self._slot(arr, arr), ("const", arr.dtype.str, arr.tobytes())
        # an array no recorded op made: a constant only if the next recording sees the same object
        return self._slot(arr, arr), ("array", id(arr))

    def _kwarg(self, v: Any) -> tuple[Any, Any]:
        """(spec, sig) of a keyword argument: arrays (also inside tuples) become env positions."""
        if isinstance(v, np.ndarray):
            s, sg = self._ref(v, None)
            return ("env", s), sg
        if isinstance(v, tuple) and any(isinstance(x, np.ndarray) for x in v):
            parts = [self._kwarg(x) for x in v]
            return ("tuple", [p[0] for p in parts]), tuple(p[1] for p in parts)
        return ("value", v), (type(v).__name__, repr(v))

    def fail(self, key: str, why: str) -> None:
        """Mark this recording unusable (the first reason wins)."""
        if self.problem is None:
            self.problem = (key, why)

    # ---- the three recording points -------------------------------------------------------------
    def apply(self, cls: type, inputs: tuple[Tensor, ...], kwargs: dict[str, Any]) -> Tensor:
        """Function.apply while recording: run it as the engine does and append its forward."""
        arrays = [_DATA.__get__(t, Tensor) for t in inputs]
        ins, sigs = zip(*[self._ref(a, t) for a, t in zip(arrays, inputs)]) if inputs else ((), ())
        kw = {k: self._kwarg(v) for k, v in kwargs.items()}
        ctx = cls()
        out = ctx.forward(*arrays, **kwargs)
        stubs = tuple(_STUBS[bool(t.requires_grad)] for t in inputs)
        c, o = self._slot(ctx, None), self._slot(out, None)
        self.ctx_slot[id(ctx)] = c
        self.tape.append(_forward(cls, stubs, list(ins), {k: v[0] for k, v in kw.items()}, c, o))
        self.uses.append((tuple(ins) + tuple(_positions(v[0] for v in kw.values())), (c, o)))
        self.sig.append(("fwd", cls, sigs, tuple(sorted((k, v[1]) for k, v in kw.items())),
                         tuple(s.requires_grad for s in stubs), c, o))
        if _t._grad_enabled and any(s.requires_grad for s in stubs):
            ctx.parents, ctx.seq = inputs, next(_t._creation_order)
            return Tensor._make(out, True, ctx)
        return Tensor._make(out)

    def backward(self, root: Tensor, grad: Any, retain_graph: bool) -> bool:
        """Tensor.backward while recording, the engine's steps one by one (False: not handled)."""
        ctx = root._ctx
        if grad is not None or ctx is None or not root.requires_grad or _DATA.__get__(root, Tensor).size != 1:
            self.fail("unsupported", "backward() with an explicit gradient or from a leaf is not captured")
            return False
        data = _DATA.__get__(root, Tensor)
        shape, dt = data.shape, data.dtype
        g = np.array(1, dt) if shape == () else np.ones(shape, dt)
        gs = self._slot(g, None)
        self.tape.append(_seed(gs, shape, dt))
        self.uses.append(((), (gs,)))
        self.sig.append(("seed", gs, shape, dt.str))
        grads: dict[int, np.ndarray] = {id(root): g}
        heap = [(-ctx.seq, id(root), root)]
        leaves: list[Tensor] = []
        import heapq
        while heap:
            node = heapq.heappop(heap)[2]
            g = grads.pop(id(node))
            ctx = node._ctx
            if ctx.parents is None:
                raise RuntimeError("backward through a graph a second time: the graph was freed by "
                                   "the first backward(); call it with retain_graph=True")
            pgrads = ctx.backward(g)
            single = not isinstance(pgrads, tuple)
            if single:
                pgrads = (pgrads,)
            outs = [None if pg is None else self._slot(pg, None) for pg in pgrads]
            c = self.ctx_slot[id(ctx)]
            self.tape.append(_backward(c, self.slot_of[id(g)], outs, single, retain_graph))
            self.uses.append(((c, self.slot_of[id(g)]), tuple(s for s in outs if s is not None)))
            self.sig.append(("bwd", c, self.slot_of[id(g)], tuple(outs), single, retain_graph))
            for p, pg in zip(ctx.parents, pgrads):
                if pg is None or not p.requires_grad:
                    continue
                pd = _DATA.__get__(p, Tensor)
                if pg.shape != pd.shape:
                    pg = self._unary(_t._unbroadcast, pg, pd.shape)
                if pg.dtype != pd.dtype:
                    pg = self._unary(np.ndarray.astype, pg, pd.dtype)
                key = id(p)
                prev = grads.get(key)
                if prev is not None:
                    grads[key] = self._binary(np.add, prev, pg)
                    continue
                grads[key] = pg
                if p._ctx is None:
                    leaves.append(p)
                else:
                    heapq.heappush(heap, (-p._ctx.seq, key, p))
            if not retain_graph:
                ctx.release()
        self._leaves(leaves, grads)
        return True

    def _unary(self, fn: Callable, a: np.ndarray, arg: Any) -> np.ndarray:
        out = fn(a, arg)
        i, o = self.slot_of[id(a)], self._slot(out, None)
        self.tape.append(lambda env, args: env.__setitem__(o, fn(env[i], arg)))
        self.uses.append(((i,), (o,)))
        self.sig.append((fn.__name__, i, o, repr(arg)))
        return out

    def _binary(self, fn: Callable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = fn(a, b)
        i, j, o = self.slot_of[id(a)], self.slot_of[id(b)], self._slot(out, None)
        self.tape.append(lambda env, args: env.__setitem__(o, fn(env[i], env[j])))
        self.uses.append(((i, j), (o,)))
        self.sig.append((fn.__name__, i, j, o))
        return out

    def _leaves(self, leaves: list[Tensor], grads: dict[int, np.ndarray]) -> None:
        """Hand the gradients to the leaves (the engine's own function, at replay too)."""
        if any(getattr(t, "_post_acc_hooks", None) for t in leaves):
            self.fail("unsupported", "a leaf has a post-accumulate-grad hook (e.g. DistributedDataParallel)")
        refs = []
        for t in leaves:
            s = self.slot_of.get(id(_DATA.__get__(t, Tensor)))
            if s is not None and s < self.n_inputs:
                refs.append(("in", s))  # an input tensor that requires grad: the replay's own tensor
            else:
                self.model.append((t, _DATA.__get__(t, Tensor)))
                refs.append(("model", t))
        slots = [self.slot_of[id(grads[id(t)])] for t in leaves]
        self.tape.append(_give(refs, slots))
        self.uses.append((tuple(slots), ()))
        self.sig.append(("leaves", tuple(r[0] == "in" and r[1] or id(r[1]) for r in refs), tuple(slots)))
        _t._give_to_leaves(leaves, grads)

    def method_call(self, obj: Any, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """Optimizer.step / zero_grad and Module.zero_grad: replayed as calls on the same object."""
        self.tape.append(lambda env, _: fn(obj, *args, **kwargs))
        self.uses.append(((), ()))
        self.sig.append(("call", fn.__qualname__, id(obj), repr(args), repr(sorted(kwargs.items()))))
        self.in_optimizer += 1
        try:
            return fn(obj, *args, **kwargs)
        finally:
            self.in_optimizer -= 1


def _positions(specs: Any) -> list[int]:
    """The env positions inside keyword-argument specs."""
    out: list[int] = []
    for spec in specs:
        if spec[0] == "env":
            out.append(spec[1])
        elif spec[0] == "tuple":
            out += _positions(spec[1])
    return out


def last_uses(uses: list, keep: set[int]) -> list[tuple[int, ...]]:
    """Per entry, the env positions no later entry reads: a replay drops them there, so arrays
    die as early as in eager execution (live arrays would push numpy's allocator to fresh pages)."""
    last: dict[int, int] = {}
    for k, (reads, writes) in enumerate(uses):
        for s in writes + reads:
            last[s] = k
    drops: list[list[int]] = [[] for _ in uses]
    for s, k in last.items():
        if s not in keep:
            drops[k].append(s)
    return [tuple(d) for d in drops]


def _forward(cls: type, stubs: tuple, ins: list[int], kw: dict[str, Any], c: int, o: int) -> Callable:
    static = {k: v[1] for k, v in kw.items() if v[0] == "value"}
    dynamic = {k: v for k, v in kw.items() if v[0] != "value"}

    def resolve(spec: Any, env: list) -> Any:
        return env[spec[1]] if spec[0] == "env" else tuple(resolve(s, env) for s in spec[1])

    def run(env: list, args: list) -> None:
        ctx = cls()
        ctx.parents = stubs
        env[c] = ctx
        extra = {k: resolve(v, env) for k, v in dynamic.items()} if dynamic else static
        if dynamic:
            extra.update(static)
        env[o] = ctx.forward(*[env[i] for i in ins], **extra)
    return run


def _seed(s: int, shape: tuple, dt: np.dtype) -> Callable:
    def run(env: list, args: list) -> None:
        env[s] = np.array(1, dt) if shape == () else np.ones(shape, dt)
    return run


def _backward(c: int, g: int, outs: list[int | None], single: bool, retain: bool) -> Callable:
    pairs = [(i, s) for i, s in enumerate(outs) if s is not None]

    def run(env: list, args: list) -> None:
        res = env[c].backward(env[g])
        if single:
            res = (res,)
        for i, s in pairs:
            env[s] = res[i]
        if not retain:
            env[c] = None  # the node's saved arrays go now, as the engine's release() drops them
    return run


def _give(refs: list[tuple[str, Any]], slots: list[int]) -> Callable:
    def run(env: list, args: list) -> None:
        leaves = [args[r[1]] if r[0] == "in" else r[1] for r in refs]
        _t._give_to_leaves(leaves, {id(t): env[s] for t, s in zip(leaves, slots)})
    return run


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

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def __enter__(self) -> Recorder:
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
        self.saved = saved
        _active = _t._recorder = self.rec
        return self.rec

    def __exit__(self, *exc: Any) -> None:
        global _active
        _active = _t._recorder = None
        for cls, n, orig in reversed(self.saved):
            if orig is None:
                delattr(cls, n)
            else:
                setattr(cls, n, orig)
