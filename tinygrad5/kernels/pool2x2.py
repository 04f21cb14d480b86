"""2x2, stride-2 max pooling (LeNet's two pools) over the row pairs of every plane at once.

pool.py's generic kernels loop over (n, c) planes; a LeNet plane is small (conv2's is 10 x 10), so
taking its views and scheduling it cost more than pooling it.  Here the work is the list of all
N*C*OH row pairs, split into one contiguous range per thread, and each row pair is one call of
pool_rows' 16-lane vector code for float32 (float64 runs the scalar loop below, same rules).

Backward writes every tap of every window (the gradient where the index points, 0 elsewhere), so
the input gradient needs no zeroing pass when H and W are even; an odd last row or column, which
no window covers, is zeroed separately.
"""
from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from ._jit import JIT, njit
from .pool_rows import LANES, pool2x2_row16, unpool2x2_row16


@njit(**JIT)
def relu_cut(b, bi):
    """ReLU of a window's maximum b, and its index bi, -(bi + 1) where ReLU's mask (b > 0) is False."""
    keep = b > 0
    return (0 if b <= 0 else b), (bi if keep else -bi - 1)  # NaN fails b <= 0 and is kept, as in ReLU


@njit(**JIT)
def _fwd_row_scalar(xf, r0, i0, w, of, jf, o0, ow, relu):
    """pool2x2_row16's work for any row length, one window at a time."""
    for ox in range(ow):
        p, t = r0 + 2 * ox, i0 + 2 * ox
        b, bi = xf[p], t
        for off in (1, w, w + 1):
            v = xf[p + off]
            take = (v > b) | ((v != v) & (b == b))
            b = v if take else b
            bi = t + off if take else bi
        if relu:
            b, bi = relu_cut(b, bi)
        of[o0 + ox] = b
        jf[o0 + ox] = bi


@njit(**JIT)
def _bwd_row_scalar(gf, jf, o0, ow, gxf, r0, i0, w):
    """unpool2x2_row16's work for any row length, one window at a time."""
    for ox in range(ow):
        p = r0 + 2 * ox
        for off in (0, 1, w, w + 1):
            gxf[p + off] = 0
        j = jf[o0 + ox]
        if j >= 0:
            gxf[r0 + j - i0] += gf[o0 + ox]
        else:
            gxf[r0 - j - 1 - i0] += gf[o0 + ox] * 0


def _fwd_row(xf, r0, i0, w, of, jf, o0, ow, relu):
    """One row pair of windows: 16 per vector step for float32, the scalar loop otherwise."""
    _fwd_row_scalar(xf, r0, i0, w, of, jf, o0, ow, relu)


def _bwd_row(gf, jf, o0, ow, gxf, r0, i0, w):
    """The backward of _fwd_row."""
    _bwd_row_scalar(gf, jf, o0, ow, gxf, r0, i0, w)


@overload(_fwd_row, inline="always")
def _fwd_row_impl(xf, r0, i0, w, of, jf, o0, ow, relu):
    if xf.dtype == types.float32:
        def vector(xf, r0, i0, w, of, jf, o0, ow, relu):
            for j in range(0, ow, LANES):
                pool2x2_row16(xf, r0 + 2 * j, i0 + 2 * j, w, of, jf, o0 + j, min(LANES, ow - j), relu)
        return vector
    return lambda xf, r0, i0, w, of, jf, o0, ow, relu: _fwd_row_scalar(xf, r0, i0, w, of, jf, o0, ow, relu)


@overload(_bwd_row, inline="always")
def _bwd_row_impl(gf, jf, o0, ow, gxf, r0, i0, w):
    if gf.dtype == types.float32:
        def vector(gf, jf, o0, ow, gxf, r0, i0, w):
            for j in range(0, ow, LANES):
                unpool2x2_row16(gf, jf, o0 + j, min(LANES, ow - j), gxf, r0 + 2 * j, i0 + 2 * j, w)
        return vector
    return lambda gf, jf, o0, ow, gxf, r0, i0, w: _bwd_row_scalar(gf, jf, o0, ow, gxf, r0, i0, w)


@njit(**JIT)
def _fwd_rows(xf, of, jf, lo, hi, h, w, oh, ow, relu):
    """Row pairs [lo, hi) of all planes; row pair r is plane r // oh, output row r % oh."""
    for r in range(lo, hi):
        i0 = 2 * (r % oh) * w  # the index of its first tap within the plane
        _fwd_row(xf, (r // oh) * h * w + i0, i0, w, of, jf, r * ow, ow, relu)


@njit(**JIT)
def _bwd_rows(gf, jf, gxf, lo, hi, h, w, oh, ow):
    """The backward of _fwd_rows for row pairs [lo, hi)."""
    for r in range(lo, hi):
        i0 = 2 * (r % oh) * w
        _bwd_row(gf, jf, r * ow, ow, gxf, (r // oh) * h * w + i0, i0, w)


@njit(parallel=True, **JIT)
def _fwd_par(xf, of, jf, rows, h, w, oh, ow, relu, parts):
    for t in prange(parts):
        _fwd_rows(xf, of, jf, rows * t // parts, rows * (t + 1) // parts, h, w, oh, ow, relu)


@njit(parallel=True, **JIT)
def _bwd_par(gf, jf, gxf, rows, h, w, oh, ow, parts):
    for t in prange(parts):
        _bwd_rows(gf, jf, gxf, rows * t // parts, rows * (t + 1) // parts, h, w, oh, ow)


def forward(x: np.ndarray, out: np.ndarray, idx: np.ndarray, relu: bool, parts: int) -> None:
    """out, idx (N, C, OH, OW) of C-contiguous x (N, C, H, W): windows' maxima and plane indices."""
    n, c, h, w = x.shape
    oh, ow = out.shape[2:]
    args = (x.reshape(-1), out.reshape(-1), idx.reshape(-1))
    if parts > 1:
        _fwd_par(*args, n * c * oh, h, w, oh, ow, relu, parts)
    else:
        _fwd_rows(*args, 0, n * c * oh, h, w, oh, ow, relu)


def backward(g: np.ndarray, idx: np.ndarray, gx: np.ndarray, parts: int) -> None:
    """gx (N, C, H, W), written whole, from g and idx (N, C, OH, OW) of `forward`."""
    n, c, h, w = gx.shape
    oh, ow = g.shape[2:]
    if h % 2 or w % 2:
        gx[:, :, 2 * oh:, :] = 0
        gx[:, :, :, 2 * ow:] = 0
    args = (g.reshape(-1), idx.reshape(-1), gx.reshape(-1))
    if parts > 1:
        _bwd_par(*args, n * c * oh, h, w, oh, ow, parts)
    else:
        _bwd_rows(*args, 0, n * c * oh, h, w, oh, ow)
