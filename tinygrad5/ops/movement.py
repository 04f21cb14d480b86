"""Movement ops: reshape, permute, expand, squeeze/unsqueeze, indexing, cat/stack, pad."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..tensor import Function, Tensor, _index_arrays, as_tensor


def shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)): the varargs of reshape, zeros, ... as one shape tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
    def forward(self, a, shape=()):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Permute(Function):
    def forward(self, a, order=()):
        self.order = order
        return a.transpose(order)

    def backward(self, g):
        return g.transpose(np.argsort(self.order))


class Expand(Function):
    def forward(self, a, shape=()):
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return g  # the engine sums the broadcast dims back


class GetItem(Function):
    def forward(self, a, index=None):
        self.shape, self.index = a.shape, index
        # integer-array indices may repeat an element: those need a scatter-add
        self.fancy = any(isinstance(i, np.ndarray) for i in (index if isinstance(index, tuple) else (index,)))
        return a[index]

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if self.fancy:
            np.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return out


class Cat(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.splits, axis=self.axis))


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


class Pad(Function):
    def forward(self, a, widths=(), value=0.0):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return np.pad(a, widths, constant_values=value)

    def backward(self, g):
        return g[self.slices]


def _dim(d: int, ndim: int, what: str) -> int:
    if not -ndim <= d < ndim:
        raise ValueError(f"{what}: dim {d} is out of range for {ndim} dims")
    return d % ndim


def reshape(a: Tensor, *shape: Any) -> Tensor:
    """Same data in a new shape (one dim may be -1)."""
    a = as_tensor(a)
    shape = shape_arg(shape)
    new = _resolve_shape(a.shape, shape)
    return a if new == a.shape else Reshape.apply(a, shape=new)


def _resolve_shape(old: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """Fill in a -1 and check the element count."""
    size, known = int(np.prod(old)), int(np.prod([s for s in shape if s != -1]))
    if shape.count(-1) == 1 and known and size % known == 0:
        shape = tuple(size // known if s == -1 else s for s in shape)
    if -1 in shape or any(s < 0 for s in shape) or int(np.prod(shape)) != size:
        raise ValueError(f"cannot reshape a tensor of shape {old} ({size} elements) into {shape}")
    return shape


view = reshape


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one."""
    a = as_tensor(a)
    if a.ndim == 0:
        return reshape(a, 1)
    s, e = _dim(start_dim, a.ndim, "flatten"), _dim(end_dim, a.ndim, "flatten")
    # the merged size spelled out: -1 cannot be inferred when another dim is 0 (an empty batch)
    return reshape(a, a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])


def permute(a: Tensor, *order: Any) -> Tensor:
    """Reorder dims: out.shape[i] = a.shape[order[i]]."""
    a = as_tensor(a)
    order = shape_arg(order)
    if sorted(o % max(a.ndim, 1) for o in order) != list(range(a.ndim)):
        raise ValueError(f"permute order {order} is not a permutation of {a.ndim} dims")
    return Permute.apply(a, order=tuple(o % a.ndim for o in order))


def transpose(a: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dims (the last two by default)."""
    a = as_tensor(a)
    order = list(range(a.ndim))
    i, j = _dim(dim0, a.ndim, "transpose"), _dim(dim1, a.ndim, "transpose")
    order[i], order[j] = order[j], order[i]
    return Permute.apply(a, order=tuple(order))


def expand(a: Tensor, *shape: Any) -> Tensor:
    """Broadcast to a larger shape (-1 keeps a dim), without copying."""
    a = as_tensor(a)
    shape = shape_arg(shape)
    lead = len(shape) - a.ndim
    if lead < 0:
        raise ValueError(f"cannot expand shape {a.shape} to fewer dims {shape}")
    shape = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    try:
        np.broadcast_shapes(a.shape, shape)
        if np.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"cannot broadcast shape {a.shape} to {shape}") from None
    return a if shape == a.shape else Expand.apply(a, shape=shape)


def broadcast_to(a: Tensor, shape: Sequence[int]) -> Tensor:
    """numpy's broadcast_to with a gradient."""
    return expand(a, tuple(shape))


def squeeze(a: Tensor, dim: int | None = None) -> Tensor:
    """Drop size-1 dims (all, or just `dim` when it is 1)."""
    a = as_tensor(a)
    if dim is None:
        return reshape(a, tuple(n for n in a.shape if n != 1))
    d = _dim(dim, a.ndim, "squeeze")
    return a if a.shape[d] != 1 else reshape(a, a.shape[:d] + a.shape[d + 1:])


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at `dim`."""
    a = as_tensor(a)
    d = _dim(dim, a.ndim + 1, "unsqueeze")
    return reshape(a, a.shape[:d] + (1,) + a.shape[d:])


def getitem(a: Tensor, index: Any) -> Tensor:
    """numpy indexing (basic and integer-array); the gradient is scattered back."""
    a = as_tensor(a)
    index = _index_arrays(index)
    parts = index if isinstance(index, tuple) else (index,)
    fixed = []
    for i in parts:
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype == bool:
            fixed.extend(np.nonzero(i))  # boolean masks become integer arrays
            continue
        if isinstance(i, np.ndarray) and i.dtype.kind not in "iu":
            raise IndexError(f"index arrays must be integer or bool, got dtype {i.dtype}")
        fixed.append(i)
    index = tuple(fixed) if isinstance(index, tuple) or len(fixed) != 1 else fixed[0]
    try:
        return GetItem.apply(a, index=index)
    except IndexError as e:
        raise IndexError(f"{e} (tensor shape {a.shape})") from None


def _dim_or_axis(dim: int, axis: int | None, what: str) -> int:
    """torch's dim or numpy's axis (given by keyword)."""
    if axis is None:
        return dim
    if dim not in (0, axis):
        raise TypeError(f"{what}() got both dim={dim} and axis={axis}; pass one")
    return axis


def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dim."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat() takes a list or tuple of tensors, got one Tensor")
    axis = _dim_or_axis(dim, axis, "cat")
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("cat needs at least one tensor")
    ax = _dim(axis, ts[0].ndim, "cat")
    for t in ts[1:]:
        if t.ndim != ts[0].ndim or any(i != ax and m != n for i, (m, n) in enumerate(zip(t.shape, ts[0].shape))):
            raise ValueError(f"cat along axis {ax}: shapes {ts[0].shape} and {t.shape} differ off that axis")
    return Cat.apply(*ts, axis=ax)


def stack(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    if isinstance(tensors, Tensor):
        raise TypeError("stack() takes a list or tuple of tensors, got one Tensor")
    axis = _dim_or_axis(dim, axis, "stack")
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack needs at least one tensor")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack needs equal shapes, got {ts[0].shape} and {t.shape}")
    return cat([unsqueeze(t, axis) for t in ts], axis)


def pad(a: Tensor, pad: Sequence[Any], value: float = 0.0) -> Tensor:
    """Constant padding: torch style flat (left, right, top, bottom, ...) from the last dim, or
    numpy style ((before, after), ...) per dim."""
    a = as_tensor(a)
    if len(pad) and isinstance(pad[0], (tuple, list)):
        widths = [tuple(int(v) for v in p) for p in pad]
        if len(widths) != a.ndim:
            raise ValueError(f"pad widths {pad} need one pair per dim of shape {a.shape}")
    else:
        if len(pad) % 2 or len(pad) // 2 > a.ndim:
            raise ValueError(f"pad {tuple(pad)} must hold pairs for at most {a.ndim} dims")
        pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
        widths = [(0, 0)] * (a.ndim - len(pairs)) + pairs
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"pad widths must be non-negative, got {pad}")
    return Pad.apply(a, widths=tuple(widths), value=value)


def clone(a: Tensor) -> Tensor:
    """A copy of the data that stays in the graph (torch's clone; detach() shares instead)."""
    return Clone.apply(as_tensor(a))
