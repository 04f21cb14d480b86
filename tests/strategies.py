"""Shared hypothesis strategies: shapes, broadcastable pairs, and arrays that may be non-contiguous."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes of 0-4 dims by default."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4) -> st.SearchStrategy:
    """`num` shapes that broadcast together (some dims 1, some missing)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side).map(lambda r: r.input_shapes)


@st.composite
def arrays(draw, shape, dtype=np.float64, low: float = -2.0, high: float = 2.0,
           away_from: float | None = None, margin: float = 0.1, contiguous: bool | None = None) -> np.ndarray:
    """Random array of `shape`; may be a transposed or sliced (non-contiguous) view.

    `away_from` keeps values at least `margin` from a kink (e.g. 0 for relu/abs).
    """
    shape = tuple(draw(shape)) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    make_view = draw(st.booleans()) if contiguous is None else not contiguous
    view_kind = draw(st.sampled_from(["transpose", "slice"])) if make_view and len(shape) else None
    base_shape = shape[::-1] if view_kind == "transpose" else (
        shape[:-1] + (2 * shape[-1],) if view_kind == "slice" else shape)
    base = rng.uniform(low, high, size=base_shape)
    if away_from is not None:
        near = np.abs(base - away_from) < margin
        base[near] = away_from + np.where(base[near] >= away_from, margin, -margin) * 2
    base = base.astype(dtype)
    if view_kind == "transpose":
        return base.transpose()
    if view_kind == "slice":
        return base[..., ::2]
    return base


def distinct(a: np.ndarray, gap: float = 1e-2) -> np.ndarray:
    """Nudge values apart so max/min/sorting have no ties closer than `gap`."""
    flat = a.reshape(-1)
    order = np.argsort(flat, kind="stable")
    out = flat.copy()
    out[order] = np.sort(flat) + gap * np.arange(flat.size)
    return out.reshape(a.shape)
