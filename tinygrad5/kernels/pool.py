"""max_pool2d forward (keeping argmax indices) and backward (scatter through them), in numba.

No padding, floor mode: OH = (H - KH) // SH + 1.  The argmax of each window is stored as a flat
index iy*W + ix into its (H, W) plane (int32); ties go to the first maximum in row-major window
order and a NaN wins like in numpy.argmax.

With relu=True the kernels compute max_pool2d(relu(x)) as relu(max_pool2d(x)) (equal, since ReLU
is monotone), in one pass over x instead of a ReLU pass over the 4x larger input.  A window whose
max fails `> 0` (ReLU's mask, False at 0 and NaN) stores its index as -(index + 1); backward then
sends it g * 0, which is what ReLU's g * mask gave (0, or NaN for an inf/NaN gradient).

The kernels here take one (n, c) plane per task and any window; LeNet's 2x2, stride-2 windows go
to pool2x2.py (all row pairs at once, 16-lane vector rows), with the same results bit for bit.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .. import threads
from . import pool2x2
from .pool2x2 import relu_cut
from ._jit import JIT, c_array, njit

PARALLEL_MIN_ELEMS = 1 << 15
_NONNEG = (1 << 47) - 1  # see pack.py: masked offsets let LLVM drop negative-index wraparound


@njit(**JIT)
def _fwd_plane(x, n, c, out, idx, kh, kw, sh, sw, relu):
    """Pool one (H, W) plane, then apply ReLU to the maxima when relu is set.

    Window taps are visited in row-major order and a tap replaces the running maximum only if it
    is strictly greater, or is the first NaN: numpy.argmax's rule.  The conditions use & and |
    (no short-circuit) so LLVM can turn them into vector selects.
    """
    w = x.shape[3]
    xf = x[n, c].reshape(-1)
    oh, ow = out.shape[2], out.shape[3]
    of = out[n, c].reshape(-1)
    jf = idx[n, c].reshape(-1)
    for oy in range(oh):
        for ox in range(ow):
            base = (oy * sh * w + ox * sw) & _NONNEG
            b = xf[base]
            bi = base
            for ky in range(kh):
                for kx in range(kw):
                    v = xf[base + ky * w + kx]
                    t = (v > b) | ((v != v) & (b == b))
                    b = v if t else b
                    bi = base + ky * w + kx if t else bi
            if relu:
                b, bi = relu_cut(b, bi)
            of[oy * ow + ox] = b
            jf[oy * ow + ox] = bi


@njit(parallel=True, **JIT)
def _fwd_par(x, out, idx, kh, kw, sh, sw, relu):
    """Pool every plane, (n, c) planes spread over threads."""
    nc = x.shape[0] * x.shape[1]
    for t in prange(nc):
        _fwd_plane(x, t // x.shape[1], t % x.shape[1], out, idx, kh, kw, sh, sw, relu)


@njit(**JIT)
def _fwd_ser(x, out, idx, kh, kw, sh, sw, relu):
    """Pool every plane on the calling thread."""
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _fwd_plane(x, n, c, out, idx, kh, kw, sh, sw, relu)


@njit(**JIT)
def _bwd_plane(g, idx, n, c, gx):
    """gx[n, c] = scatter-add of g[n, c] through idx[n, c] (overlapping windows accumulate);
    a negative index -(j + 1) (a window ReLU cut) adds g * 0 at j."""
    dst = gx[n, c].reshape(-1)
    for i in range(dst.shape[0]):
        dst[i] = 0
    src = g[n, c].reshape(-1)
    ii = idx[n, c].reshape(-1)
    for i in range(src.shape[0]):
        j = ii[i]
        if j >= 0:
            dst[j] += src[i]
        else:
            dst[-j - 1] += src[i] * 0


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
    """argmax indices (N, C, OH, OW) int32, the input shape and the window (kh, kw, sh, sw)."""

    __slots__ = ("idx", "x_shape", "window")

    def __init__(self, idx: np.ndarray, x_shape: tuple[int, ...], window: tuple[int, int, int, int]):
        self.idx, self.x_shape, self.window = idx, x_shape, window


def _par(size: int, n_planes: int) -> bool:
    """Parallel only when there is enough work and more than one plane."""
    return size >= PARALLEL_MIN_ELEMS and n_planes > 1 and threads.get_num_threads() > 1


def max_pool2d_forward(x: np.ndarray, kernel, stride, relu: bool = False) -> tuple[np.ndarray, PoolCache]:
    """x (N,C,H,W) -> (out (N,C,OH,OW), cache with argmax indices); no padding, floor mode.

    relu=True returns max_pool2d(relu(x)) (see the module docstring)."""
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
    x = c_array(x)
    out = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int32)
    if out.size:
        par = _par(x.size, n * c)
        if (kh, kw, sh, sw) == (2, 2, 2, 2):  # LeNet's pools: all row pairs at once, vectorised
            pool2x2.forward(x, out, idx, bool(relu), threads.get_num_threads() if par else 1)
        else:
            (_fwd_par if par else _fwd_ser)(x, out, idx, kh, kw, sh, sw, bool(relu))
    return out, PoolCache(idx, x.shape, (kh, kw, sh, sw))


def max_pool2d_backward(gout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Scatter gout through the argmax indices into a zero (N,C,H,W) gradient."""
    threads.ensure_policy()
    if gout.shape != cache.idx.shape:
        raise ValueError(f"max_pool2d_backward needs gout of shape {cache.idx.shape}, got {gout.shape}")
    g = c_array(gout)
    gx = np.empty(cache.x_shape, g.dtype)
    if gx.size:
        n, c = cache.x_shape[:2]
        par = _par(gx.size, n * c)
        if cache.window == (2, 2, 2, 2):
            pool2x2.backward(g, cache.idx, gx, threads.get_num_threads() if par else 1)
        else:
            (_bwd_par if par else _bwd_ser)(g, cache.idx, gx)
    return gx
