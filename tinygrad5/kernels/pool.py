"""max_pool2d forward (keeping argmax indices) and backward (scatter through them), in numba.

No padding, floor mode: OH = (H - KH) // SH + 1.  The argmax of each window is stored as a flat
index iy*W + ix into its (H, W) plane (int32); ties go to the first maximum in row-major window
order and a NaN wins like in numpy.argmax.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .. import threads
from ._jit import JIT, njit

PARALLEL_MIN_ELEMS = 1 << 15


@njit(**JIT)
def _fwd_plane(x, n, c, out, idx, kh, kw, sh, sw):
    """Pool one (H, W) plane."""
    plane = x[n, c]
    w = x.shape[3]
    orow_all = out[n, c]
    irow_all = idx[n, c]
    oh, ow = out.shape[2], out.shape[3]
    for oy in range(oh):
        orow = orow_all[oy]
        irow = irow_all[oy]
        y0 = oy * sh
        for ox in range(ow):
            x0 = ox * sw
            best = plane[y0, x0]
            bi = y0 * w + x0
            if best == best:  # not NaN: look for a larger value or the first NaN
                for ky in range(kh):
                    row = plane[y0 + ky]
                    for kx in range(kw):
                        v = row[x0 + kx]
                        if v > best or v != v:
                            best = v
                            bi = (y0 + ky) * w + x0 + kx
                            if v != v:
                                break
                    if best != best:
                        break
            orow[ox] = best
            irow[ox] = bi


@njit(parallel=True, **JIT)
def _fwd_par(x, out, idx, kh, kw, sh, sw):
    """Pool every plane, (n, c) planes spread over threads."""
    nc = x.shape[0] * x.shape[1]
    for t in prange(nc):
        _fwd_plane(x, t // x.shape[1], t % x.shape[1], out, idx, kh, kw, sh, sw)


@njit(**JIT)
def _fwd_ser(x, out, idx, kh, kw, sh, sw):
    """Pool every plane on the calling thread."""
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _fwd_plane(x, n, c, out, idx, kh, kw, sh, sw)


@njit(**JIT)
def _bwd_plane(g, idx, n, c, gx):
    """gx[n, c] = scatter-add of g[n, c] through idx[n, c] (overlapping windows accumulate)."""
    dst = gx[n, c].reshape(-1)
    for i in range(dst.shape[0]):
        dst[i] = 0
    src = g[n, c].reshape(-1)
    ii = idx[n, c].reshape(-1)
    for i in range(src.shape[0]):
        dst[ii[i]] += src[i]


@njit(parallel=True, **JIT)
def _bwd_par(g, idx, gx):
    """Scatter every plane, (n, c) planes spread over threads (each owns its gx plane)."""
    nc = g.shape[0] * g.shape[1]
    for t in prange(nc):
        _bwd_plane(g, idx, t // g.shape[1], t % g.shape[1], gx)


@njit(**JIT)
def _bwd_ser(g, idx, gx):
    """Scatter every plane on the calling thread."""
    for n in range(g.shape[0]):
        for c in range(g.shape[1]):
            _bwd_plane(g, idx, n, c, gx)


class PoolCache:
    """argmax indices (N, C, OH, OW) int32 and the input shape."""

    __slots__ = ("idx", "x_shape")

    def __init__(self, idx: np.ndarray, x_shape: tuple[int, ...]):
        self.idx, self.x_shape = idx, x_shape


def _par(size: int, n_planes: int) -> bool:
    """Parallel only when there is enough work and more than one plane."""
    return size >= PARALLEL_MIN_ELEMS and n_planes > 1 and threads.get_num_threads() > 1


def max_pool2d_forward(x: np.ndarray, kernel, stride) -> tuple[np.ndarray, PoolCache]:
    """x (N,C,H,W) -> (out (N,C,OH,OW), cache with argmax indices); no padding, floor mode."""
    threads.ensure_policy()
    if x.ndim != 4 or x.dtype not in (np.float32, np.float64):
        raise ValueError(f"max_pool2d needs a float32/float64 (N,C,H,W) array, got {x.dtype} {x.shape}")
    (kh, kw), (sh, sw) = tuple(kernel), tuple(stride)
    if min(kh, kw, sh, sw) < 1:
        raise ValueError(f"max_pool2d kernel and stride must be >= 1, got {kernel} and {stride}")
    n, c, h, w = x.shape
    if kh > h or kw > w:
        raise ValueError(f"max_pool2d kernel {(kh, kw)} larger than input {x.shape[2:]}")
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    x = np.ascontiguousarray(x)
    out = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int32)
    if out.size:
        (_fwd_par if _par(x.size, n * c) else _fwd_ser)(x, out, idx, kh, kw, sh, sw)
    return out, PoolCache(idx, x.shape)


def max_pool2d_backward(gout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Scatter gout through the argmax indices into a zero (N,C,H,W) gradient."""
    threads.ensure_policy()
    if gout.shape != cache.idx.shape:
        raise ValueError(f"max_pool2d_backward needs gout of shape {cache.idx.shape}, got {gout.shape}")
    g = np.ascontiguousarray(gout)
    gx = np.empty(cache.x_shape, g.dtype)
    if gx.size:
        n, c = cache.x_shape[:2]
        (_bwd_par if _par(gx.size, n * c) else _bwd_ser)(g, cache.idx, gx)
    return gx
