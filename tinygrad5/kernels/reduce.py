"""Small reductions the conv backward needs (numpy's multi-axis sum is several times slower here)."""
from __future__ import annotations

import numpy as np

from ._jit import JIT, c_array, njit

# 'reassoc' lets LLVM split the sum into vector partial sums (the order of additions changes, as
# in numpy's pairwise sum); no 'nnan'/'ninf', so NaN and inf still propagate.
_SUM_FLAGS = {"reassoc", "contract"}


@njit(fastmath=_SUM_FLAGS, **JIT)
def row_sum64(row):
    """The sum of a 1-D array in float64 (more accurate for float32 input, still vectorised)."""
    s = 0.0
    for p in range(row.shape[0]):
        s += row[p]
    return s


@njit(**JIT)
def _add_sums(sums, out):
    """out[o] = the sum over n of sums[n, o], added in n order and rounded to out's dtype each time."""
    for o in range(out.shape[0]):
        out[o] = 0
    for n in range(sums.shape[0]):
        for o in range(out.shape[0]):
            out[o] += sums[n, o]


@njit(fastmath=_SUM_FLAGS, **JIT)
def _sum_02(g, out):
    """out[o] = sum over n, p of g[n, o, p] (g C-contiguous (N, O, P))."""
    nb, no = g.shape[:2]
    sums = np.empty((nb, no))
    for n in range(nb):
        for o in range(no):
            sums[n, o] = row_sum64(g[n, o])
    _add_sums(sums, out)


def sum_rows_grouped(g: np.ndarray) -> np.ndarray:
    """Sum a C-contiguous (N, O, P) array over axes 0 and 2 -> (O,) (the conv bias gradient)."""
    if g.ndim != 3 or g.dtype not in (np.float32, np.float64):
        raise ValueError(f"sum_rows_grouped needs a float32/float64 (N,O,P) array, got {g.dtype} {g.shape}")
    g = c_array(g)
    out = np.empty(g.shape[1], g.dtype)
    if g.shape[2] == 0 or g.shape[0] == 0:
        out[:] = 0
        return out
    _sum_02(g, out)
    return out


def add_row_sums(sums: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(O,) of dtype from per-sample channel sums (N, O) float64: sum_rows_grouped's result when
    sums[n, o] = row_sum64(g[n, o]) (the fused conv-pool backward computes them sample by sample)."""
    out = np.empty(sums.shape[1], dtype)
    _add_sums(sums, out)
    return out
