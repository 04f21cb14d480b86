"""Small reductions the conv backward needs (numpy's multi-axis sum is several times slower here)."""
from __future__ import annotations

import numpy as np

from ._jit import JIT, c_array, njit

# 'reassoc' lets LLVM split the sum into vector partial sums (the order of additions changes, as
# in numpy's pairwise sum); no 'nnan'/'ninf', so NaN and inf still propagate.
_SUM_FLAGS = {"reassoc", "contract"}


@njit(fastmath=_SUM_FLAGS, **JIT)
def _sum_02(g, out):
    """out[o] = sum over n, p of g[n, o, p] (g C-contiguous (N, O, P))."""
    nb, no, npix = g.shape
    for o in range(no):
        out[o] = 0
    for n in range(nb):
        for o in range(no):
            row = g[n, o]
            s = 0.0  # float64 partial sums: more accurate for float32 input, still vectorised
            for p in range(npix):
                s += row[p]
            out[o] += s


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
