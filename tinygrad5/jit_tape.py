"""The recorder behind tinygrad5.jit: runs one call of a step eagerly and writes down its array work.

Every array a step computes comes from one of three places, and the recorder sits at each, in one
spot: `Function.apply` (every op's forward), the engine's `Tensor.backward` (each node's backward,
the broadcast reductions, the sums of gradients, handing gradients to the leaves) and the
optimizer's `step`/`zero_grad` (jit_watch.py routes them here).

Static buffers: the arrays of the confirming recording are the replay's arrays. A replay first
copies the call's inputs into the recording's input buffers; from then on every array the recording
saw (and every view of one: `x.T`, reshapes, an op's saved arrays) holds this step's values as soon
as the entry that makes it has run. So the tape is a list of closures without arguments to resolve:
  - kernel-level entries (jit_calls.py): an op's backend calls, run again on the same arrays, each
    fresh result copied into the array the recording got (`out=` results are written in place);
  - Function-level entries, for ops whose body does array work of its own (numpy arithmetic, random
    draws): the op's forward (or backward) runs on the static arrays and its result is copied into
    place; its backward runs on the context that forward made, or on the recorded one when the
    forward was kernel-level (its saved arrays are static too);
  - the engine's own numpy work (broadcast sums, casts, gradient sums), into fixed arrays;
  - handing gradients to the leaves (the engine's function) and the optimizer's calls, as calls.
"""
from __future__ import annotations

import heapq
import sys
from typing import Any, Callable

import numpy as np

from .jit_calls import BackendProxy, copies_into, kernel_entry, plan, root
from .nn.module import Module
from .tensor import Tensor

_t = sys.modules[Tensor.__module__]  # the engine's module (the package's name `tensor` is a factory)
_DATA = Tensor.__dict__["data"]


class _Stub:
    """What a replayed node's `parents` holds: only whether each input wanted a gradient."""

    __slots__ = ("requires_grad",)

    def __init__(self, requires_grad: bool) -> None:
        self.requires_grad = requires_grad


_STUBS = (_Stub(False), _Stub(True))


class Recorder:
    """Records one eager call of a step into `tape` (closures over its arrays) and `sig` (a
    comparable description: two recordings of a step that replays faithfully have equal sigs)."""

    def __init__(self, inputs: list[np.ndarray]) -> None:
        self.arrays: list[Any] = []        # position -> array (or context) the recording saw
        self.tape: list[Callable[[list], None]] = []  # run(the call's flat arguments)
        self.sig: list[Any] = []
        self.slot_of: dict[int, int] = {}  # id(array) -> position
        self.known: set[int] = set()       # ids of the arrays that own a static buffer's memory
        self.model: list[tuple[Tensor, np.ndarray]] = []  # tensors whose arrays the tape holds
        self.model_slots: set[int] = set()
        self.modules: dict[int, Module] = {}
        self.fwd: dict[int, tuple[int, list | None, tuple]] = {}  # id(ctx) -> (position, holder, stubs)
        self.problem: tuple[str, str] | None = None
        self.in_optimizer = 0
        self.calls: list | None = None     # the backend calls of the op running now (BackendProxy)
        self.kept: dict[int, tuple[Any, tuple]] = {}  # contexts a Function-level backward replays on
        self.inputs = inputs
        self.n_inputs = len(inputs)
        for a in inputs:
            self._slot(a)

    def _slot(self, arr: Any) -> int:
        """A new position for arr (an array from now on static, or an op's context)."""
        self.arrays.append(arr)
        if isinstance(arr, np.ndarray):
            self.slot_of[id(arr)] = len(self.arrays) - 1
            self.known.add(id(root(arr)))
        return len(self.arrays) - 1

    def _ref(self, arr: np.ndarray, owner: Tensor | None) -> tuple[int, Any]:
        """(position, sig) of an array an op reads."""
        s = self.slot_of.get(id(arr))
        if s is not None:
            return s, s
        if owner is not None and owner._ctx is None and (owner.requires_grad or arr.ndim):
            # a parameter or another long-lived tensor: replays read this very array (guarded)
            self.model.append((owner, arr))
            s = self._slot(arr)
            self.model_slots.add(s)
            return s, ("model", id(owner), id(arr))
        if arr.ndim == 0:  # a Python number made into an array: a constant, compared by value
            return self._slot(arr), ("const", arr.dtype.str, arr.tobytes())
        # an array no recorded op made: a constant only if the next recording sees the same object
        return self._slot(arr), ("array", id(arr))

    def _kwarg(self, v: Any) -> Any:
        """The sig of a keyword argument (arrays, also inside tuples, by position)."""
        if isinstance(v, np.ndarray):
            return self._ref(v, None)[1]
        if isinstance(v, tuple) and any(isinstance(x, np.ndarray) for x in v):
            return tuple(self._kwarg(x) for x in v)
        return (type(v).__name__, repr(v))

    def fail(self, key: str, why: str) -> None:
        """Mark this recording unusable (the first reason wins)."""
        if self.problem is None:
            self.problem = (key, why)

    def _run(self, body: Callable, *args: Any) -> tuple[Any, list]:
        """body(*args) with the backend calls it makes collected."""
        self.calls = []
        try:
            return body(*args), self.calls
        finally:
            self.calls = None

    # ---- the three recording points -------------------------------------------------------------
    def apply(self, cls: type, inputs: tuple[Tensor, ...], kwargs: dict[str, Any]) -> Tensor:
        """Function.apply while recording: run it as the engine does and append its forward."""
        arrays = [_DATA.__get__(t, Tensor) for t in inputs]
        sigs = tuple(self._ref(a, t)[1] for a, t in zip(arrays, inputs))
        kw = tuple(sorted((k, self._kwarg(v)) for k, v in kwargs.items()))
        ctx = cls()
        out, calls = self._run(lambda: ctx.forward(*arrays, **kwargs))
        if isinstance(out, np.generic):
            out = np.asarray(out)  # a reduction's numpy scalar: a 0-d array a replay can write into
        stubs = tuple(_STUBS[bool(t.requires_grad)] for t in inputs)
        state = {k: v for k, v in ctx.__dict__.items() if not isinstance(v, BackendProxy)}
        p = plan(calls, self.known, [out], state)
        if p is not None:
            holder, run = None, (kernel_entry(p[0]) if p[0] else None)
            self.known |= p[1]
        else:
            holder = [None]
            run = _tag(_forward(cls, stubs, arrays, kwargs, holder, copies_into([out], self.known)), "op",
                       cls.__name__ + ".forward")
        c, o = self._slot(ctx), self._slot(out)
        if run is not None:
            self.tape.append(run)
        self.fwd[id(ctx)] = (c, holder, stubs)
        self.sig.append(("fwd", cls, sigs, kw, tuple(s.requires_grad for s in stubs), c, o, holder is None))
        if _t._grad_enabled and any(s.requires_grad for s in stubs):
            ctx.parents, ctx.seq = inputs, next(_t._creation_order)
            return Tensor._make(out, True, ctx)
        return Tensor._make(out)

    def backward(self, root_t: Tensor, grad: Any, retain_graph: bool) -> bool:
        """Tensor.backward while recording, the engine's steps one by one (False: not handled)."""
        ctx = root_t._ctx
        if grad is not None or ctx is None or not root_t.requires_grad or _DATA.__get__(root_t, Tensor).size != 1:
            self.fail("unsupported", "backward() with an explicit gradient or from a leaf is not captured")
            return False
        data = _DATA.__get__(root_t, Tensor)
        g = np.array(1, data.dtype) if data.shape == () else np.ones(data.shape, data.dtype)
        at = len(self.tape)  # where _leaves puts its entry that runs before any gradient is remade
        gs, seed = self._slot(g), g  # `g` is rebound below: the entry must keep the seed itself
        self.tape.append(_tag(lambda flat: seed.fill(1), "engine"))  # ops should not write their gradient: be sure
        self.sig.append(("seed", gs, data.shape, data.dtype.str))
        grads: dict[int, np.ndarray] = {id(root_t): g}
        heap = [(-ctx.seq, id(root_t), root_t)]
        leaves: list[Tensor] = []
        while heap:
            node = heapq.heappop(heap)[2]
            g = grads.pop(id(node))
            ctx = node._ctx
            if ctx.parents is None:
                raise RuntimeError("backward through a graph a second time: the graph was freed by "
                                   "the first backward(); call it with retain_graph=True")
            for p, pg in zip(ctx.parents, self._node(ctx, g, retain_graph)):
                if pg is None or not p.requires_grad:
                    continue
                pd = _DATA.__get__(p, Tensor)
                if pg.shape != pd.shape:
                    pg = self._engine(_t._unbroadcast, pg, pd.shape)
                if pg.dtype != pd.dtype:
                    pg = self._engine(np.ndarray.astype, pg, pd.dtype)
                key = id(p)
                prev = grads.get(key)
                if prev is not None:
                    grads[key] = self._sum(prev, pg)
                    continue
                grads[key] = pg
                if p._ctx is None:
                    leaves.append(p)
                else:
                    heapq.heappush(heap, (-p._ctx.seq, key, p))
            if not retain_graph and id(ctx) not in self.kept:
                ctx.release()
        self._leaves(leaves, grads, at)
        return True

    def _node(self, ctx: Any, g: np.ndarray, retain: bool) -> tuple:
        """One node's backward: kernel-level when its forward was and its body only calls the backend."""
        c, holder, stubs = self.fwd[id(ctx)]
        pgrads, calls = self._run(ctx.backward, g)
        single = not isinstance(pgrads, tuple)
        if single:
            pgrads = (pgrads,)
        p = None if holder is not None else plan(calls, self.known, [x for x in pgrads if x is not None], None)
        if p is not None:
            self.known |= p[1]
            if p[0]:
                self.tape.append(kernel_entry(p[0]))
        else:
            if holder is None:  # a Function-level backward on the recorded context, whose arrays are static
                self.kept[id(ctx)] = (ctx, stubs)
            self.tape.append(_tag(_backward(holder, ctx, g, single, copies_into(list(pgrads), self.known), retain),
                                  "op", type(ctx).__name__ + ".backward"))
        outs = tuple(None if pg is None else self._slot(pg) for pg in pgrads)
        self.sig.append(("bwd", c, self.slot_of[id(g)], outs, single, retain, p is not None))
        return pgrads

    def _engine(self, fn: Callable, a: np.ndarray, arg: Any) -> np.ndarray:
        """The engine's broadcast sum or cast of a gradient, into a fixed array (none for a view)."""
        out = fn(a, arg)
        i = self.slot_of[id(a)]
        if id(root(out)) not in self.known:
            self.tape.append(_tag(lambda flat: np.copyto(out, fn(a, arg)), "engine"))
        o = self._slot(out)
        self.sig.append((fn.__name__, i, o, repr(arg)))
        return out

    def _sum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a + b
        i, j, o = self.slot_of[id(a)], self.slot_of[id(b)], self._slot(out)
        self.tape.append(_tag(lambda flat: np.add(a, b, out=out), "engine"))
        self.sig.append(("add", i, j, o))
        return out

    def _leaves(self, leaves: list[Tensor], grads: dict[int, np.ndarray], at: int) -> None:
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
        arrays = [grads[id(t)] for t in leaves]
        self.sig.append(("leaves", tuple(r[0] == "in" and r[1] or id(r[1]) for r in refs),
                         tuple(self.slot_of[id(a)] for a in arrays)))
        fresh = all(t.grad is None for t in leaves)
        _t._give_to_leaves(leaves, grads)
        # the usual step (zero_grad first, no input wants a gradient): each leaf gets the same
        # Tensor over its fixed gradient array every replay, as torch keeps .grad's buffer
        # (a gradient the engine handed over as a copy, e.g. of a view, is refilled into that copy)
        same = fresh and all(r[0] == "model" for r in refs)
        given = [t.grad for t in leaves] if same else None
        if not same:  # a .grad a caller may hold past the next call: not a static buffer
            for t, a in zip(leaves, arrays):
                if _DATA.__get__(t.grad, Tensor) is a:
                    t.grad = Tensor._make(a.copy(order="K"))
        self.tape.insert(at, _tag(_detach_grads(refs, arrays), "engine"))
        self.tape.append(_tag(_give(refs, arrays, given), "engine"))

    def method_call(self, obj: Any, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """Optimizer.step / zero_grad and Module.zero_grad: replayed as calls on the same object
        (so a scheduler's new learning rate and Adam's step count are read at each replay)."""
        self.tape.append(_tag(lambda flat: fn(obj, *args, **kwargs), "update" if fn.__name__ == "step" else "call"))
        self.sig.append(("call", fn.__qualname__, id(obj), repr(args), repr(sorted(kwargs.items()))))
        self.in_optimizer += 1
        try:
            return fn(obj, *args, **kwargs)
        finally:
            self.in_optimizer -= 1

    def finish(self) -> None:
        """After the call: the contexts kept for Function-level backwards drop their graph links."""
        for ctx, stubs in self.kept.values():
            ctx.parents = stubs  # a replayed backward reads only requires_grad


def _tag(run: Callable, kind: str, name: str = "") -> Callable:
    """Name a tape entry's kind (for benchmarks/jit_parts.py's breakdown)."""
    run.kind, run.name = kind, name
    return run


def _forward(cls: type, stubs: tuple, arrays: list, kwargs: dict, holder: list, copies: list) -> Callable:
    def run(flat: list) -> None:
        ctx = cls()
        ctx.parents = stubs
        holder[0] = ctx
        out = ctx.forward(*arrays, **kwargs)
        if copies:
            np.copyto(copies[0][1], out)
    return run


def _backward(holder: list | None, ctx: Any, g: np.ndarray, single: bool, copies: list, retain: bool) -> Callable:
    def run(flat: list) -> None:
        res = (ctx if holder is None else holder[0]).backward(g)
        if single:
            res = (res,)
        for (i,), dest in copies:
            np.copyto(dest, res[i])
        if holder is not None and not retain:
            holder[0] = None  # the node's saved arrays go now, as the engine's release() drops them
    return run


def _leaf(ref: tuple[str, Any], flat: list) -> Tensor:
    return flat[ref[1]] if ref[0] == "in" else ref[1]


def _detach_grads(refs: list[tuple[str, Any]], arrays: list[np.ndarray]) -> Callable:
    """Before the backward's entries remake the gradients: a leaf whose .grad still is a static
    gradient buffer (no zero_grad since the last call: gradient accumulation) gets a copy of it,
    since this call adds to those values and its entries overwrite the buffer first."""
    static = {id(a) for a in arrays}

    def run(flat: list) -> None:
        for r in refs:
            t = _leaf(r, flat)
            g = t.grad
            if g is not None and id(_DATA.__get__(g, Tensor)) in static:
                t.grad = Tensor._make(_DATA.__get__(g, Tensor).copy(order="K"))
    return run


def _give(refs: list[tuple[str, Any]], arrays: list[np.ndarray], given: list[Tensor] | None) -> Callable:
    fast = list(zip([r[1] for r in refs], given)) if given is not None else None
    # leaves whose fixed .grad is the engine's copy of a static array (a view): refilled each replay
    refill = [(_DATA.__get__(g, Tensor), a) for g, a in zip(given, arrays)
              if _DATA.__get__(g, Tensor) is not a] if given is not None else []

    def run(flat: list) -> None:
        if fast is not None and all(t.grad is None for t, _ in fast):
            for dest, a in refill:
                np.copyto(dest, a)
            for t, g in fast:
                t.grad = g
            return
        leaves = [_leaf(r, flat) for r in refs]
        # a new .grad gets a copy: the next replay overwrites the static buffer (eager's is fresh)
        _t._give_to_leaves(leaves, {id(t): a if t.grad is not None else a.copy(order="K")
                                    for t, a in zip(leaves, arrays)})
    return run
