"""conv2d, ReLU and a 2x2, stride-2 max pool in one pass per sample (LeNet's two blocks).

The per-sample convolution (conv_per_sample.py) leaves each sample's output in the core's cache;
pooling it there, before it is written out, saves writing the full-size activation and reading it
back (2 MB at LeNet's conv1, batch 32), and the pooling's own launch.  Backward unpools each
sample's gradient into the thread's buffer right before the products that read it.

Values and gradients equal conv2d, then max_pool2d(relu=True), then their backwards, bit for bit:
the same products, pooling rules and bias-gradient sums (reduce.row_sum64, added in sample order).
A float32 5x5 convolution with 16 or more samples a thread runs its forward and its weight
gradient by Winograd's algorithm here as in conv2d (winograd.py: LeNet's conv2 at batch 128,
forward 4.1 -> 1.9 ms), so the two still agree bit for bit; both then differ from the direct
products by float32 rounding (~1e-6 relative).
`forward` returns None where the per-sample path does not run (a batch smaller than the thread
count, a BLAS that does not fit) or the output has an odd side; the caller then runs the two ops.
"""
from __future__ import annotations

import numpy as np

from . import blas_split as _blas
from . import conv_per_sample as _per_sample
from . import conv2d as _conv2d
from . import winograd as _winograd
from .conv2d import ConvCache, _geometry
from .pool import PoolCache
from ._jit import c_array
from .reduce import add_row_sums


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding
            ) -> tuple[np.ndarray, tuple[ConvCache, PoolCache, int]] | None:
    """max_pool2d(relu(conv2d(x, w, b)), 2, 2) -> (out (N, O, OH/2, OW/2), cache), or None."""
    stride, padding, oh, ow = _geometry(x, w, stride, padding)
    if oh % 2 or ow % 2 or (b is not None and (b.shape != (w.shape[0],) or b.dtype != x.dtype)):
        return None
    x, w = c_array(x), c_array(w)
    parts = _conv2d._per_sample_parts(x, w) if x.shape[0] else 0
    if not parts:
        return None
    b = None if b is None else c_array(b)
    _blas.provider()
    n, o = x.shape[0], w.shape[0]
    pooled = np.empty((n, o, oh // 2, ow // 2), x.dtype)
    pidx = np.empty(pooled.shape, np.int32)
    bias = b if b is not None else np.zeros(1, x.dtype)
    wino = _conv2d.use_winograd(x, w, stride, padding, parts)
    if not (wino and _winograd.forward_relu_pool(x, w, b, pooled, pidx, parts)):
        _per_sample._forward(_blas._provider["marker"], x, w.reshape(-1), bias, b is not None, np.empty(0, x.dtype),
                             pooled.reshape(-1), pidx.reshape(-1), True, w.shape[2], w.shape[3], *stride,
                             *padding, oh, ow, parts)
    conv = ConvCache(x.shape, w, x, stride, padding, b is not None, (oh, ow))
    return pooled, (conv, PoolCache(pidx, (n, o, oh, ow), (2, 2, 2, 2)), parts)


def backward(gout: np.ndarray, cache: tuple[ConvCache, PoolCache, int], need_x: bool
             ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """(gx or None, gw, gb or None) for forward's output gradient gout (N, O, OH/2, OW/2)."""
    conv, pool, parts = cache
    if gout.shape != pool.idx.shape or gout.dtype != conv.w.dtype:
        raise ValueError(f"conv2d_relu_max_pool2d backward needs gout {conv.w.dtype} {pool.idx.shape}, "
                         f"got {gout.dtype} {gout.shape}")
    x, w = conv.cols, conv.w
    n, o = x.shape[0], w.shape[0]
    oh, ow = conv.out_hw
    gpool = c_array(gout)
    gw = None
    if _conv2d.use_winograd(x, w, conv.stride, conv.padding, parts):
        gw = _winograd.weight_grad(x, gpool, pool.idx, w.shape, parts)
    need_w = gw is None
    gwt_parts = np.empty((parts, w[0].size, o) if need_w else (0, 0, 0), w.dtype)
    gx = np.empty(x.shape if need_x else (0, 0, 0, 0), x.dtype)
    bsum = np.empty((n, o))
    _per_sample._backward(_blas._provider["marker"], x, w.reshape(-1), np.empty(0, x.dtype),
                          gpool.reshape(-1), pool.idx.reshape(-1), bsum.reshape(-1), gwt_parts.reshape(-1),
                          gx, need_w, need_x, w.shape[2], w.shape[3], *conv.stride, *conv.padding, oh, ow, parts)
    gb = add_row_sums(bsum, w.dtype) if conv.has_bias else None
    return (gx if need_x else None), (_per_sample.weight_grad(gwt_parts, w.shape) if need_w else gw), gb
