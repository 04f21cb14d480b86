"""conv2d forward/backward on numpy arrays: per sample with BLAS (conv_per_sample.py) when the batch
fills the threads, else batch-wide im2col/col2im kernels, our GEMM and gemm_nt (see conv.py)."""
from __future__ import annotations

import numpy as np

from .. import threads
from . import blas_split as _split
from . import conv as _k
from . import conv_per_sample as _per_sample
from . import winograd as _winograd
from .gemm_nt import matmul_nt
from ._jit import MR, c_array
from .linalg import gemm3
from .reduce import sum_rows_grouped

# Parallel launch only when the im2col/col2im work is big enough to pay for waking the workers.
PARALLEL_MIN_ELEMS = 1 << 15
# The implicit-GEMM forward (1 input channel) fills its 16-wide tiles well from this width on.
IGEMM_MIN_OW = 12
# From this many multiply-adds (with 2+ threads) the im2col products run as one OpenBLAS call per
# core (kernels/blas_split.py) instead of our packed GEMM.  Measured at LeNet's conv2, b32 / b128:
# forward 1.02 -> 0.91 / 5.28 -> 4.55 ms, column gradient 1.09 -> 0.85 / 4.80 -> 4.52 ms; the
# weight gradient stays on gemm_nt (equal at conv2, 2.5x faster at conv1).  A batch smaller than
# the thread count keeps our GEMM (batch 1, 64x64x64x64 with 64 3x3 filters: 4.5 vs 2.9 ms).
SPLIT_MIN_MACS = 1 << 23


def _split_ok(macs: int, batch: int) -> bool:
    """Split path: big enough, and (the forward runs one call per sample) a sample per thread."""
    nthr = threads.get_num_threads()
    return macs >= SPLIT_MIN_MACS and nthr > 1 and batch >= nthr


class ConvCache:
    """What conv2d_backward needs: the input shape, weights, im2col buffer (or x itself), geometry."""

    __slots__ = ("x_shape", "w", "cols", "stride", "padding", "has_bias", "out_hw")

    def __init__(self, x_shape, w, cols, stride, padding, has_bias, out_hw):
        self.x_shape, self.w, self.cols = x_shape, w, cols
        self.stride, self.padding, self.has_bias, self.out_hw = stride, padding, has_bias, out_hw


def _per_sample_parts(x: np.ndarray, w: np.ndarray) -> int:
    """Threads for the per-sample path, or 0 for the batch-wide one.

    Per sample needs a sample for every thread (a batch of 1 runs batch-wide, where the products
    themselves are split).  Measured against batch-wide at LeNet's sizes, 2 threads, fwd / fwd+bwd
    ms: conv1 b32 0.36 / 0.88 -> 0.17 / 0.38; conv2 b32 1.43 / 3.97 -> 1.06 / 3.43, b128 6.50 / 19.3
    -> 4.25 / 14.2 (BENCHMARKS.md).  Small problems run on the calling thread.
    """
    nthr = threads.get_num_threads()
    if x.shape[0] < nthr or not _per_sample.usable(x, w):
        return 0
    return nthr if _par_ok(x.size * w.shape[2] * w.shape[3]) else 1


def use_winograd(x: np.ndarray, w: np.ndarray, stride, padding, parts: int) -> bool:
    """Whether the per-sample path runs winograd.py (its forward and its weight gradient): shapes it
    takes and a full vector of samples (16) for every thread; fewer leave lanes idle (a batch of 5:
    0.55 ms against 0.24 direct)."""
    return x.shape[0] >= _winograd.LANES * parts and _winograd.usable(x, w, stride, padding)


def _pair(v, name: str) -> tuple[int, int]:
    """Normalise an int or 2-tuple of non-negative ints."""
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 2 or any(int(i) != i or i < 0 for i in t):
        raise ValueError(f"conv2d {name} must be an int or a pair of ints, got {v!r}")
    return int(t[0]), int(t[1])


def _geometry(x: np.ndarray, w: np.ndarray, stride, padding) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """Validate conv2d inputs; return (stride, padding, OH, OW)."""
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d needs x (N,C,H,W) and w (O,C,KH,KW), got {x.shape} and {w.shape}")
    if x.dtype != w.dtype or x.dtype not in (np.float32, np.float64):
        raise TypeError(f"conv2d needs float32 or float64 x and w of one dtype, got {x.dtype} and {w.dtype}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d channel mismatch: x {x.shape} has {x.shape[1]}, w {w.shape} expects {w.shape[1]}")
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    if sh < 1 or sw < 1:
        raise ValueError(f"conv2d stride must be >= 1, got {stride!r}")
    oh = (x.shape[2] + 2 * ph - w.shape[2]) // sh + 1
    ow = (x.shape[3] + 2 * pw - w.shape[3]) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d kernel {w.shape[2:]} larger than padded input {x.shape[2:]} (padding {padding})")
    return (sh, sw), (ph, pw), oh, ow


def _pack_weights(w: np.ndarray) -> np.ndarray:
    """w (O, C, KH, KW) as (ceil(O/6) panels, C*KH*KW taps, 6) with zero rows past O."""
    o = w.shape[0]
    ntap = w[0].size
    opad = -(-o // MR) * MR
    wp = np.zeros((opad, ntap), w.dtype)
    wp[:o] = w.reshape(o, ntap)
    return np.ascontiguousarray(wp.reshape(opad // MR, MR, ntap).transpose(0, 2, 1)).reshape(-1)


def _par_ok(size: int) -> bool:
    """Parallel launch only with more than one thread and enough work."""
    return size >= PARALLEL_MIN_ELEMS and threads.get_num_threads() > 1


def _im2col(x: np.ndarray, kh: int, kw: int, stride, padding, oh: int, ow: int) -> np.ndarray:
    """cols (C*KH*KW, N*OH*OW) of C-contiguous x: one matrix for the whole batch."""
    n, c = x.shape[:2]
    cols = np.empty((c * kh * kw, n * oh * ow), x.dtype)
    par = n > 1 and cols.size >= PARALLEL_MIN_ELEMS and threads.get_num_threads() > 1
    fn = _k._im2col_par if par else _k._im2col_ser
    fn(x, cols, kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow)
    return cols


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding
                   ) -> tuple[np.ndarray, ConvCache]:
    """Cross-correlation like torch.nn.functional.conv2d with zero padding -> (out, cache)."""
    threads.ensure_policy()
    stride, padding, oh, ow = _geometry(x, w, stride, padding)
    if b is not None and (b.shape != (w.shape[0],) or b.dtype != x.dtype):
        raise ValueError(f"conv2d bias must be {x.dtype} ({w.shape[0]},), got {b.dtype} {b.shape}")
    x = c_array(x)
    w = c_array(w)
    b = None if b is None else c_array(b)
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    parts = _per_sample_parts(x, w) if n else 0
    if parts:
        out = np.empty((n, o, oh, ow), x.dtype) if use_winograd(x, w, stride, padding, parts) else None
        if out is None or not _winograd.forward(x, w, b, out, parts):
            out = _per_sample.conv2d_forward(x, w, b, stride, padding, oh, ow, parts)
        return out, ConvCache(x.shape, w, x, stride, padding, b is not None, (oh, ow))
    if c == 1 and stride[1] == 1 and ow >= IGEMM_MIN_OW:
        # One input channel: im2col + packing cost more than the tiny K=KH*KW product, so the
        # implicit GEMM reads x directly; backward builds cols only if and when it runs.
        out = np.empty((n, o, oh, ow), x.dtype)
        wp = _pack_weights(w)
        bias = b if b is not None else np.zeros(1, x.dtype)
        par = _par_ok(out.size) and n * oh > 1
        (_k._igemm_par if par else _k._igemm_ser)(x, wp, bias, b is not None, out, stride[0], padding[0],
                                                   padding[1], kh, kw)
        return out, ConvCache(x.shape, w, x, stride, padding, b is not None, (oh, ow))
    cols = _im2col(x, kh, kw, stride, padding, oh, ow)
    # W (O, CKK) @ cols (CKK, N*P), its column j = n*P + p written straight to out[n, :, p]: one
    # BLAS call per sample on each core, or one GEMM of ours for the whole batch (full 16-wide
    # tiles across sample boundaries); no transpose after either way.
    w2 = w.reshape(o, -1)
    out = np.empty((n, o, oh * ow), x.dtype)
    if not (_split_ok(o * cols.shape[0] * cols.shape[1], n) and _split.gemm_column_blocks(w2, cols, out, b)):
        gemm3(w2[None], cols[None], bias=b, bias_mode=0 if b is None else 1, col_blocks=oh * ow, out=out)
    return out.reshape(n, o, oh, ow), ConvCache(x.shape, w, cols, stride, padding, b is not None, (oh, ow))


def conv2d_backward(gout: np.ndarray, cache: ConvCache, need_x: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Gradients of conv2d_forward -> (gx or None, gw, gb or None)."""
    threads.ensure_policy()
    w = cache.w
    n, c, h, wd = cache.x_shape
    o, _, kh, kw = w.shape
    oh, ow = cache.out_hw
    if gout.shape != (n, o, oh, ow) or gout.dtype != w.dtype:
        raise ValueError(f"conv2d_backward needs gout {w.dtype} {(n, o, oh, ow)}, got {gout.dtype} {gout.shape}")
    g3 = c_array(gout).reshape(n, o, oh * ow)
    gb = sum_rows_grouped(g3) if cache.has_bias else None
    cols = cache.cols
    if cols.ndim == 4:  # the forward kept x, not cols
        parts = _per_sample_parts(cols, w)
        if parts:
            gw = None
            if use_winograd(cols, w, cache.stride, cache.padding, parts):
                gw = _winograd.weight_grad(cols, g3.reshape(n, o, oh, ow), None, w.shape, parts)
            gx, gw = _per_sample.conv2d_backward(cols, w, g3, need_x, cache.stride, cache.padding, oh, ow, parts, gw)
            return gx, gw, gb
    # gout as one (O, N*P) matrix, like cols: numpy's transpose copy is ~0.1 ms at LeNet sizes.
    gt = np.ascontiguousarray(g3.transpose(1, 0, 2)).reshape(o, n * oh * ow)
    if cols.ndim == 4:
        cols = _im2col(cols, kh, kw, cache.stride, cache.padding, oh, ow)
    # gW = gt @ cols^T: both row-major with the long pixel axis contiguous and gW small, which
    # is what gemm_nt's blocked dot products are for (no packing; 2x the packed GEMM at conv1).
    gw = matmul_nt(gt, cols, parallel=_par_ok(gt.size + cols.size)).reshape(w.shape)
    gx = None
    if need_x:
        wt = w.reshape(o, -1).T  # (CKK, O), a column-major view
        gcols = _split.matmul_split(wt, gt) if _split_ok(wt.shape[0] * o * gt.shape[1], n) else None
        if gcols is None:
            gcols = gemm3(wt[None], gt[None])[0]
        gx = np.empty(cache.x_shape, w.dtype)
        par = n > 1 and gcols.size >= PARALLEL_MIN_ELEMS and threads.get_num_threads() > 1
        (_k._col2im_par if par else _k._col2im_ser)(gcols, gx, kh, kw, *cache.stride, *cache.padding, oh, ow)
    return gx, gw, gb
