"""conv2d one sample at a time: each sample's im2col columns go into a buffer of the thread's own
and are multiplied at once, while they are still in that core's L2 cache.

The batch-wide path (conv.py, conv2d.py) builds the whole batch's column matrix, 25x the input for
a 5x5 kernel (6.4 MB at LeNet's conv2, batch 32), writes it to memory and reads it back in each
product.  Here a sample's columns (200 KB at conv2) never leave the core, and backward rebuilds
them instead of keeping the batch's: an im2col from cache costs less than reading 6.4 MB back.

Each thread takes a run of samples; per sample n, with P = OH*OW and W as (O, C*KH*KW):
Forward   out[n] (O, P) = W @ cols_n (+ b)
Backward  gW_t^T += cols_n @ g[n]^T (CKK, O): the thread's partial sum, added up after the loop
          (this orientation runs at 90 GFLOP/s in OpenBLAS, g[n] @ cols_n^T at 70: LeNet conv2)
          gcols = W^T @ g[n], then col2im into gx[n] (only when the input needs a gradient)
For float32 the two W products run tile_gemm's register tiles (~105 GFLOP/s at conv2) and col2im
gathers (col2im_gather.py); the weight gradient, float64 and fewer than 8 output channels call
OpenBLAS through blas_split's pointer interface (single-threaded, one call per core).
"""
from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from . import blas_split as _blas
from .conv import W16, _col2im_one, _im2col_one
from .pool2x2 import _bwd_rows as _unpool_rows, _fwd_rows as _pool_rows
from .reduce import row_sum64
from .tile_gemm import MIN_ROWS, gemm_block
from ._jit import JIT, njit, stack_tile

_N, _T = 78, 84  # BLAS op characters: the operand as stored ('N') or transposed ('T')
# Spare columns after each row of a thread's column buffer: a 16-wide copy may run into them.
SLACK = W16
_NONNEG = (1 << 47) - 1  # see pack.py: masked offsets let LLVM drop negative-index wraparound


@njit(**JIT)
def _im2col_s1(x, n, cf, pitch, kh, kw, oh, ow):
    """x[n]'s columns for stride 1 and no padding into cf, rows `pitch` >= OH*OW + SLACK apart.

    Every run of OW values is copied in 16-wide chunks through registers: a chunk running past
    its run lands in the next run of the same row (written later: oy is the outer loop) or in the
    row's slack.  The batch-wide im2col cannot do this (its runs end where another sample's
    begin) and pays a bounds test and a scalar tail per run.
    """
    c_in, h, w = x.shape[1], x.shape[2], x.shape[3]
    xf = x.reshape(-1)
    t = stack_tile(cf)
    nchunk = (ow + W16 - 1) // W16
    end = xf.shape[0]
    for c in range(c_in):
        for ky in range(kh):
            row0 = (c * kh + ky) * kw * pitch
            for oy in range(oh):
                src = ((n * c_in + c) * h + oy + ky) * w
                d0 = row0 + oy * ow
                if src + kw - 1 + nchunk * W16 <= end:  # every 16-wide load of this input row fits in x
                    for kx in range(kw):
                        for q in range(nchunk):
                            so = (src + kx + q * W16) & _NONNEG
                            do = (d0 + kx * pitch + q * W16) & _NONNEG
                            for i in range(W16):
                                t[i] = xf[so + i]
                            for i in range(W16):
                                cf[do + i] = t[i]
                else:  # the last rows of x: exact copies
                    for kx in range(kw):
                        so = (src + kx) & _NONNEG
                        do = (d0 + kx * pitch) & _NONNEG
                        for i in range(ow):
                            cf[do + i] = xf[so + i]


@njit(**JIT)
def _gemm(marker, ta, tb, m, n, k, a, aoff, lda, b, boff, ldb, beta, c, coff, ldc):
    """Row-major C (m x n) = op(A) @ op(B) + beta*C on flat arrays; lda/ldb are the row lengths of
    A and B as stored.  Column-major BLAS computes C^T = op(B)^T op(A)^T, hence the swap."""
    _blas._fortran_gemm(marker, tb, ta, n, m, k, b, boff, ldb, a, aoff, lda, beta, c, coff, ldc)


def _w_times(marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc):
    """C (m x n at c[c0], row pitch ldc) = op(W) @ B (k x n at b[b0], row pitch ldb), op(W) = W
    (m x k) for tw == _N, W^T (W: k x m) for _T: our tile GEMM for float32 (87-91 -> ~105
    GFLOP/s at conv2's products), OpenBLAS for float64 and for fewer than MIN_ROWS rows."""


@njit(**JIT)
def _w_times_blas(marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc):
    _gemm(marker, tw, _N, m, n, k, w2, 0, k if tw == _N else m, b, b0, ldb, 0.0, c, c0, ldc)


@overload(_w_times, inline="always")
def _w_times_impl(marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc):
    if w2.dtype != types.float32:
        return lambda marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc: _w_times_blas(
            marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc)

    def tiled(marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc):
        if m < MIN_ROWS:
            _w_times_blas(marker, tw, m, n, k, w2, b, b0, ldb, c, c0, ldc)
        elif tw == _N:
            gemm_block(w2, 0, k, 1, b, b0, ldb, c, c0, ldc, m, n, k)
        else:
            gemm_block(w2, 0, 1, m, b, b0, ldb, c, c0, ldc, m, n, k)
    return tiled


@njit(**JIT)
def _columns(x, n, cols, kh, kw, sh, sw, ph, pw, oh, ow):
    """Sample n's im2col into a thread's buffer: 16-wide copies into rows with slack for stride 1
    and no padding (the buffer is then OH*OW + SLACK wide), else the generic copy."""
    if sh == 1 and sw == 1 and ph == 0 and pw == 0:
        _im2col_s1(x, n, cols.reshape(-1), cols.shape[1], kh, kw, oh, ow)
    else:
        _im2col_one(x, n, cols, 0, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(**JIT)
def _column_buffer(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """A thread's buffer for one sample's columns, with the slack _columns needs."""
    wide = sh == 1 and sw == 1 and ph == 0 and pw == 0
    return np.empty((x.shape[1] * kh * kw, oh * ow + (SLACK if wide else 0)), x.dtype)


@njit(parallel=True, **JIT)
def _forward(marker, x, w2, bias, has_bias, out, pooled, pidx, relu, kh, kw, sh, sw, ph, pw, oh, ow, parts):
    """out (N*O*P, flat) = per sample W (w2: O*CKK, flat) @ im2col(x[n]) (+ bias per channel).

    With `pooled` non-empty out is not written: each sample's product goes to a buffer of the
    thread's and, still in cache, is max-pooled 2x2 (ReLU first when relu) into pooled and pidx
    (N*O*P/4 values and plane indices, flat; OH and OW even)."""
    nb, ckk, p = x.shape[0], x.shape[1] * kh * kw, oh * ow
    o = w2.shape[0] // ckk
    pool = pooled.shape[0] > 0
    q = o * (oh // 2) * (ow // 2)  # pooled values per sample
    for t in prange(parts):
        cols = _column_buffer(x, kh, kw, sh, sw, ph, pw, oh, ow)
        y = np.empty(o * p if pool else 0, x.dtype)
        for n in range(nb * t // parts, nb * (t + 1) // parts):
            _columns(x, n, cols, kh, kw, sh, sw, ph, pw, oh, ow)
            dst, d0 = (y, 0) if pool else (out, n * o * p)
            _w_times(marker, _N, o, p, ckk, w2, cols.reshape(-1), 0, cols.shape[1], dst, d0, p)
            if has_bias:  # while the block is in this core's cache
                for i in range(o):
                    row = dst[d0 + i * p:d0 + (i + 1) * p]
                    for j in range(p):
                        row[j] += bias[i]
            if pool:
                _pool_rows(y, pooled[n * q:(n + 1) * q], pidx[n * q:(n + 1) * q], 0, o * (oh // 2), oh, ow,
                           oh // 2, ow // 2, relu)


@njit(parallel=True, **JIT)
def _backward(marker, x, w2, g, gpool, pidx, bsum, gwt_parts, gx, need_w, need_x, kh, kw, sh, sw, ph, pw, oh, ow,
              parts):
    """gwt_parts[t] = thread t's sum of cols_n @ g[n]^T (CKK x O) if need_w; gx[n] = col2im(W^T @ g[n])
    if need_x.

    With `gpool` non-empty (the gradient of _forward's pooled output) g is not read: each
    sample's g[n] is unpooled through pidx into a buffer of the thread's, and its per-channel
    sums go to bsum (N*O, float64) for the bias gradient."""
    nb, ckk, p = x.shape[0], x.shape[1] * kh * kw, oh * ow
    o = w2.shape[0] // ckk
    pool = gpool.shape[0] > 0
    q = o * (oh // 2) * (ow // 2)
    for t in prange(parts):
        cols = _column_buffer(x, kh, kw, sh, sw, ph, pw, oh, ow) if need_w else np.empty((0, 0), x.dtype)
        gcols = np.empty((ckk, p) if need_x else (0, 0), x.dtype)
        gbuf = np.empty(o * p if pool else 0, x.dtype)
        lo, hi = nb * t // parts, nb * (t + 1) // parts
        if lo == hi and need_w:
            gwt_parts[t * o * ckk:(t + 1) * o * ckk] = 0
        for n in range(lo, hi):
            if pool:
                _unpool_rows(gpool[n * q:(n + 1) * q], pidx[n * q:(n + 1) * q], gbuf, 0, o * (oh // 2), oh, ow,
                             oh // 2, ow // 2)
                for i in range(o):
                    bsum[n * o + i] = row_sum64(gbuf[i * p:(i + 1) * p])
            src, s0 = (gbuf, 0) if pool else (g, n * o * p)
            if need_w:
                _columns(x, n, cols, kh, kw, sh, sw, ph, pw, oh, ow)
                _gemm(marker, _N, _T, ckk, o, p, cols.reshape(-1), 0, cols.shape[1], src, s0, p,
                      0.0 if n == lo else 1.0, gwt_parts, t * o * ckk, o)
            if need_x:
                _w_times(marker, _T, ckk, p, o, w2, src, s0, p, gcols.reshape(-1), 0, p)
                _col2im_one(gcols, n, gx, 0, kh, kw, sh, sw, ph, pw, oh, ow)


def usable(x: np.ndarray, w: np.ndarray) -> bool:
    """Whether the per-sample path takes these arrays: a BLAS is found and every size fits its ints."""
    _blas.provider()
    return _blas._fits_blas_ints(x.size, w.size, w[0].size * x.shape[2] * x.shape[3])


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int],
                   padding: tuple[int, int], oh: int, ow: int, parts: int) -> np.ndarray:
    """out (N, O, OH, OW) for C-contiguous writeable x, w (and b) of one native float dtype,
    checked by the caller (conv2d.py); parts: threads to spread the samples over."""
    _blas.provider()
    n, o = x.shape[0], w.shape[0]
    out = np.empty((n, o, oh, ow), x.dtype)
    bias = b if b is not None else np.zeros(1, x.dtype)
    none = np.empty(0, x.dtype)
    _forward(_blas._provider["marker"], x, w.reshape(-1), bias, b is not None, out.reshape(-1), none,
             np.empty(0, np.int32), False, w.shape[2], w.shape[3], stride[0], stride[1], padding[0], padding[1],
             oh, ow, parts)
    return out


def conv2d_backward(x: np.ndarray, w: np.ndarray, g: np.ndarray, need_x: bool, stride: tuple[int, int],
                    padding: tuple[int, int], oh: int, ow: int, parts: int, gw: np.ndarray | None = None
                    ) -> tuple[np.ndarray | None, np.ndarray]:
    """(gx or None, gw) for the forward above; g: the output gradient, C-contiguous, N*O*OH*OW values.
    A gw given (computed elsewhere, e.g. winograd.weight_grad) is returned as is, not recomputed."""
    _blas.provider()
    need_w = gw is None
    gwt_parts = np.empty((parts, w[0].size, w.shape[0]) if need_w else (0, 0, 0), w.dtype)
    gx = np.empty(x.shape if need_x else (0, 0, 0, 0), x.dtype)
    _backward(_blas._provider["marker"], x, w.reshape(-1), g.reshape(-1), np.empty(0, x.dtype), np.empty(0, np.int32),
              np.empty(0), gwt_parts.reshape(-1), gx, need_w, need_x, w.shape[2], w.shape[3], stride[0], stride[1],
              padding[0], padding[1], oh, ow, parts)
    return (gx if need_x else None), (weight_grad(gwt_parts, w.shape) if need_w else gw)


def weight_grad(gwt_parts: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The weight gradient (O, C, KH, KW) from _backward's per-thread partial sums of its transpose."""
    gwt = gwt_parts[0]
    for t in range(1, gwt_parts.shape[0]):
        gwt += gwt_parts[t]
    return np.ascontiguousarray(gwt.T).reshape(shape)
