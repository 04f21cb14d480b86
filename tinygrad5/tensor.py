"""Tensor and the reverse-mode autodiff engine.

A Tensor wraps a numpy array. Every differentiable operation is a `Function`: its `forward` works on
plain arrays and saves what `backward` needs; `Function.apply` records the graph (parents on the
context, the context on the output) only when gradients are enabled and an input requires them.

`Tensor.backward` walks the graph in reverse creation order (a topological order; iteratively, so
chains of any length work), hands each node's output gradient to its `backward`, and reduces broadcast gradients back to
each parent's shape in one place: `_unbroadcast`. Gradients of leaves (tensors the user created with
`requires_grad=True`) accumulate across backward calls, as in PyTorch; zero them between steps.
Gradients of intermediate tensors are not kept, and the graph is freed after backward unless
`retain_graph=True`.
"""
from __future__ import annotations

import functools
import heapq
import itertools
from typing import Any, Callable

import numpy as np

from . import dtypes

_grad_enabled = True
_creation_order = itertools.count(1)  # Function.seq: later nodes get larger numbers
_recorder: Any = None  # tinygrad5.jit's recorder while a step is captured (jit_tape.py), else None


class no_grad:
    """Disable graph building inside a `with` block or a decorated function."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc: Any) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """Re-enable graph building inside a `no_grad` region."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = True


def is_grad_enabled() -> bool:
    """True when operations record a graph."""
    return _grad_enabled


class set_grad_enabled(no_grad):
    """Turn graph building on or off: at once when called, or for a `with` block (torch's name)."""

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        self._prev, self._mode = _grad_enabled, bool(mode)
        _grad_enabled = self._mode

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: Callable) -> Callable:
        global _grad_enabled
        _grad_enabled = self._prev  # as a decorator it only applies inside fn
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper

    def __exit__(self, *exc: Any) -> None:
        global _grad_enabled
        _grad_enabled = self._prev


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray under the dtype rules in Tensor's docstring."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = dtypes.to_numpy(dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
        if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
            arr = arr.astype(np.float32)  # float16 has no kernels here
    else:
        if isinstance(data, (str, bytes)):
            raise TypeError(f"Tensor needs numbers, got a {type(data).__name__}: {data!r}")
        try:
            arr = np.asarray(data)
        except ValueError as e:  # ragged lists
            raise TypeError(f"Tensor needs a rectangular array of numbers: {e}") from None
        if dtype is None and arr.dtype.kind in "iuf":
            arr = arr.astype(np.float32)  # Python scalars and lists become float32, like torch
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor needs a numeric array, got dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


class Tensor:
    """An n-dimensional array with reverse-mode autodiff.

    Float arrays keep float32/float64; Python scalars and lists become float32; integer and bool
    arrays keep their dtype and can never require gradients.
    """

    # _post_acc_hooks stays unset until a hook is registered, so making a tensor costs what it did
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_post_acc_hooks", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Tensor` calls Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only float tensors can require gradients, got dtype {self.data.dtype}")
        self.grad: Tensor | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx: Function | None = None

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool = False, ctx: Function | None = None) -> Tensor:
        """Wrap an array produced by an op, skipping validation (hot path)."""
        t = object.__new__(cls)
        t.data, t.grad, t.requires_grad, t._ctx = data, None, requires_grad, ctx
        return t

    # ---- array facts -------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="The array's shape.")
    dtype = property(lambda self: dtypes.get(self.data.dtype), doc="The element type (equal to numpy's).")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    is_leaf = property(lambda self: self._ctx is None, doc="True for tensors no op produced.")

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = "" if self.data.dtype == np.float32 else f", dtype={self.data.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    __hash__ = object.__hash__  # __eq__ is elementwise, identity hashing stays

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph."""
        return Tensor._make(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set requires_grad in place (leaves only) and return self."""
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only float tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = flag
        return self

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> HookHandle:
        """Call hook(self) each time backward() has accumulated this leaf's `.grad` (torch's API)."""
        if self._ctx is not None or not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook needs a leaf tensor that requires grad")
        hooks = getattr(self, "_post_acc_hooks", None)
        if hooks is None:
            hooks = self._post_acc_hooks = []
        hooks.append(hook)
        return HookHandle(hooks, hook)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad and _grad_enabled:
            raise RuntimeError("in-place assignment to a tensor that requires grad; use no_grad()")
        self.data[_index_arrays(index)] = value.data if isinstance(value, Tensor) else value

    # ---- the engine ------------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`, in reverse topological order."""
        if _recorder is not None and _recorder.backward(self, grad, retain_graph):
            return  # recorded for tinygrad5.jit (it ran the same steps as below)
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no graph was built)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape "
                                   f"{self.shape}; pass backward(grad) with that shape")
            shape, dt = self.data.shape, self.data.dtype
            g = np.array(1, dt) if shape == () else np.ones(shape, dt)  # np.array: 0.2 vs 0.8 us
        else:
            g = _to_array(grad, self.data.dtype)
            if g.shape != self.data.shape:
                raise ValueError(f"backward() gradient has shape {g.shape}, output has shape {self.shape}")
            g = g.copy()  # the caller's array must not become a leaf's gradient buffer
        if self._ctx is None:  # a leaf: its gradient is the given one
            _give_to_leaves([self], {id(self): g})
            return
        # Reverse creation order is a topological order (every input is made before its output),
        # so the nodes run newest-first from a heap keyed on their sequence numbers: one pass over
        # the graph, each node reached once, no separate sort.
        grads: dict[int, np.ndarray] = {id(self): g}
        heap: list[tuple[int, int, Tensor]] = [(-self._ctx.seq, id(self), self)]
        leaves: list[Tensor] = []
        push, pop = heapq.heappush, heapq.heappop
        while heap:
            node = pop(heap)[2]
            g = grads.pop(id(node))
            ctx = node._ctx
            parents = ctx.parents
            if parents is None:
                raise RuntimeError("backward through a graph a second time: the graph was freed by "
                                   "the first backward(); call it with retain_graph=True")
            pgrads = ctx.backward(g)
            if not isinstance(pgrads, tuple):
                pgrads = (pgrads,)
            for p, pg in zip(parents, pgrads):
                if pg is None or not p.requires_grad:
                    continue
                pd = p.data
                if pg.shape != pd.shape:
                    pg = _unbroadcast(pg, pd.shape)
                if pg.dtype != pd.dtype:
                    pg = pg.astype(pd.dtype)
                key = id(p)
                prev = grads.get(key)
                if prev is not None:
                    grads[key] = prev + pg
                    continue
                grads[key] = pg
                if p._ctx is None:
                    leaves.append(p)
                else:
                    push(heap, (-p._ctx.seq, key, p))  # id: seq ties (released nodes) never compare tensors
            if not retain_graph:
                ctx.release()
        _give_to_leaves(leaves, grads)

    # Operators and methods are attached by tinygrad5.ops (see ops/__init__.py), torch's conveniences
    # (size(), to(), dtype conversions, number protocols, in-place updates) by tinygrad5/torch_compat.py.


def _give_to_leaves(leaves: list[Tensor], grads: dict[int, np.ndarray]) -> None:
    """Accumulate each leaf's summed gradient into `.grad`; views and arrays already given to
    another leaf are copied, so no two leaves (or a leaf and an op's saved array) share memory."""
    handed: set[int] = set()
    for leaf in leaves:
        g = grads[id(leaf)]
        if leaf.grad is not None:
            g = leaf.grad.data + g
        elif g.base is not None or id(g) in handed:
            g = g.copy()
        handed.add(id(g))
        leaf.grad = Tensor._make(g)
        hooks = getattr(leaf, "_post_acc_hooks", None)
        if hooks:
            for hook in tuple(hooks):  # a hook may remove itself
                hook(leaf)


class HookHandle:
    """What register_post_accumulate_grad_hook returns: `remove()` unregisters the hook."""

    def __init__(self, hooks: list[Callable[[Tensor], None]], hook: Callable[[Tensor], None]) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back to `shape`: over added leading dims and dims that were 1."""
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"gradient of shape {grad.shape} cannot reduce to {shape}")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    out = grad.reshape(shape) if extra else grad
    if out.shape != shape:
        raise RuntimeError(f"gradient of shape {grad.shape} does not broadcast to {shape}")
    return out


def copy_as(values: Any, like: np.ndarray) -> np.ndarray:
    """A copy of values with like's dtype and memory order (column-major stays column-major)."""
    order = "F" if like.flags.f_contiguous and not like.flags.c_contiguous else "C"
    return np.array(values, dtype=like.dtype, order=order)


def _index_arrays(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


class Function:
    """One differentiable operation: `forward` on arrays, `backward` from output gradient to inputs.

    `backward` returns one gradient per input (None where there is none); it may return gradients
    in the broadcast output shape, the engine reduces them. While backward runs, `self.parents`
    holds the input Tensors (e.g. to skip work for inputs that do not require grad).
    """

    parents: tuple[Tensor, ...] | None = None
    seq: int = 0  # creation order, set when the graph is recorded (0 once released)

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | tuple[np.ndarray | None, ...] | None:
        raise NotImplementedError

    def release(self) -> None:
        """Drop the saved arrays and the parents: the graph through here is freed."""
        self.__dict__.clear()

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run forward on the inputs' arrays and record the graph when a gradient is needed."""
        if _recorder is not None:
            return _recorder.apply(cls, inputs, kwargs)
        ctx = cls()
        out = ctx.forward(*[t.data for t in inputs], **kwargs)
        if _grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    ctx.parents, ctx.seq = inputs, next(_creation_order)
                    return Tensor._make(out, True, ctx)
        return Tensor._make(out)


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Return x as a Tensor; Python numbers take the dtype of `like` when it is a float tensor."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool)) and like.data.dtype.kind == "f":
        return Tensor._make(np.array(x, dtype=like.data.dtype))
    return Tensor(x)

