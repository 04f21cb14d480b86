"""ReLU forward (output and the a > 0 mask in one pass) and backward (g * mask), in numba.

numpy needs two passes forward (np.maximum, then a > 0) on one core; here one pass writes both,
split over the cores for the ConvNet's 0.5 M-element activations.  Semantics are numpy's:
max(NaN, 0) is NaN, the mask is False at 0 and at NaN, and the backward is g * mask (so a NaN or
inf gradient still gives NaN where the mask is False, as g * False does in numpy).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .. import threads
from ._jit import JIT, native_float, njit

PARALLEL_MIN_ELEMS = 1 << 16  # below this a launch costs more than the second core saves
CHUNK = 1 << 14               # elements per parallel task


# The mask travels as uint8 (a view of the bool array): LLVM vectorises byte loads and stores,
# not numba's i1 booleans.
# Each span is sliced first so the loop index starts at 0: numba then knows it is never negative
# and drops its wraparound check, which otherwise blocks vectorisation.
@njit(**JIT)
def _fwd_span(a, out, mask, i0, i1):
    a, out, mask = a[i0:i1], out[i0:i1], mask[i0:i1]
    for i in range(a.shape[0]):
        v = a[i]
        mask[i] = v > 0
        out[i] = 0 if v <= 0 else v  # NaN fails v <= 0 and is kept, like np.maximum


@njit(**JIT)
def _bwd_span(g, mask, out, i0, i1):
    g, mask, out = g[i0:i1], mask[i0:i1], out[i0:i1]
    for i in range(g.shape[0]):
        out[i] = g[i] * mask[i]


# Small arrays run one span over [0, n) on the calling thread (a parallel launch costs more than
# their whole pass); these spread CHUNK-sized spans over the threads (numba's parallel flag
# belongs to a function, hence separate ones).
@njit(parallel=True, **JIT)
def _fwd_par(a, out, mask):
    n = a.shape[0]
    for t in prange((n + CHUNK - 1) // CHUNK):
        _fwd_span(a, out, mask, t * CHUNK, min(n, (t + 1) * CHUNK))


@njit(parallel=True, **JIT)
def _bwd_par(g, mask, out):
    n = g.shape[0]
    for t in prange((n + CHUNK - 1) // CHUNK):
        _bwd_span(g, mask, out, t * CHUNK, min(n, (t + 1) * CHUNK))


def _parallel(n: int) -> bool:
    return n >= PARALLEL_MIN_ELEMS and threads.get_num_threads() > 1


def relu_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(max(a, 0), a > 0) for a writeable C-contiguous native float32/float64 array; None for anything
    else (read-only arrays would compile a second signature)."""
    if not native_float(a.dtype) or not a.flags.c_contiguous or not a.flags.writeable:
        return None
    threads.ensure_policy()
    out = np.empty_like(a)
    mask = np.empty(a.shape, np.bool_)
    if a.size:
        af, of, mf = a.reshape(-1), out.reshape(-1), mask.reshape(-1).view(np.uint8)
        _fwd_par(af, of, mf) if _parallel(a.size) else _fwd_span(af, of, mf, 0, a.size)
    return out, mask


def relu_backward(g: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """g * mask for a C-contiguous float g and a bool mask of its shape; None for anything else."""
    if (not native_float(g.dtype) or not g.flags.c_contiguous or not g.flags.writeable or mask.shape != g.shape
            or mask.dtype != np.bool_ or not mask.flags.c_contiguous):
        return None
    threads.ensure_policy()
    out = np.empty_like(g)
    if g.size:
        gf, mf, of = g.reshape(-1), mask.reshape(-1).view(np.uint8), out.reshape(-1)
        _bwd_par(gf, mf, of) if _parallel(g.size) else _bwd_span(gf, mf, of, 0, g.size)
    return out
