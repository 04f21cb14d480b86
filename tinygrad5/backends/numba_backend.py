"""The fast backend: our numba kernels (tinygrad5.kernels), with OpenBLAS where it measures faster.

Same array-level interface as numpy_backend (numpy arrays in and out, float32/float64, the dtype
of the inputs out).  The first call applies tinygrad5.threads' policy (OpenBLAS single-threaded,
numba owns the cores); importing this module compiles nothing, and compiled kernels are cached on
disk, so later processes start warm.

matmul dispatch (thresholds measured on the 2-core Zen 4 machines, see BENCHMARKS.md):
float32 2-D products from 1 M multiply-adds run kernels.tile_gemm (full register tiles, nothing
packed: the MLP's and autoencoder's products on the calling thread, the ConvNet's fully connected
layers on every core), when b's rows can be read as vectors; those with a result at most 64
columns wide (the MLP's and autoencoder's) run kernels.skinny_gemm's taller tiles instead.
Smaller products go to OpenBLAS, single-threaded under the policy; the rest as before: mid-sized
2-D products as one OpenBLAS call per core (kernels.blas_split), large and batched ones our packed
GEMM when it can use every core and its 6x16 register tiles are well filled, else OpenBLAS.
"""
from __future__ import annotations

import numpy as np

from .. import threads
from . import numpy_backend as _np_backend
from ..kernels import bias_act as _ba
from ..kernels import blas_split as _split
from ..kernels import conv2d as _conv
from ..kernels import conv_relu_pool as _crp
from ..kernels import linalg as _mm
from ..kernels import pool as _pool
from ..kernels import relu as _relu
from ..kernels import sgd as _sgd
from ..kernels import skinny_gemm as _skinny
from ..kernels import softmax_xent as _sx
from ..kernels import tile_gemm as _tile
from ..kernels._jit import MR, NR, native_float

NAME = "numba"

# Our parallel GEMM beats single-threaded OpenBLAS from about 2-4 M multiply-adds on (measured
# crossover: 32x1024@1024x64 = 2.1 M: BLAS 50 us vs ours 58 us; 64x1024@1024x64 = 4.2 M: ours 86
# vs 92 us; 32x1250@1250x512: ours 339 vs 514 us).
OURS_MIN_MACS = 1 << 22
# ...and only if the 6x16 tiles are this full: a thin N (e.g. 20 -> 32 columns) wastes lanes
# (25088x25@25x20, fill 0.62: BLAS 65 vs ours 50 GFLOP/s; 3200x500@500x50, fill 0.78: ours wins).
OURS_MIN_FILL = 0.75
# Between these sizes a 2-D product runs as one OpenBLAS call per core (measured, 2 threads, numpy
# / ours / split: 32x1250@1250x512 514 / 467 / 310 us; 128x1250@1250x512 1648 / 1308 / 1024; at
# 512^3 ours 1710 vs split 1780).  Smaller products win alone too (32x1024@1024x64 48 / 58 / 33)
# but lose inside a training step: the second core has fallen asleep since the last launch, and
# the main thread then reads a result half of which sits in the other core's cache (MLP epoch
# 0.077 -> 0.098 s with the split from 2^19 on).
SPLIT_MIN_MACS = 1 << 23
# A few rows times a column-major matrix (the ConvNet's input gradient at fc1, g (32x512) @ W with
# W stored (512, 1250) column-major) runs faster as (b.T @ a.T), transposed after: 358 -> 238 us
# for the split product, plus ~12 us for the transpose.  At 128 rows the two cost the same.
TRANSPOSED_MAX_ROWS = 64
SPLIT_MAX_MACS = 1 << 27
# float32 2-D products from this size run kernels.tile_gemm (no packing, full register tiles):
# 32x1024@1024x64 53 -> 38 us, 1024x32@32x64 (the weight gradient) 52 -> 39, 36x1024@1024x32 29
# -> 25; below it its ~1 us of call overhead loses (32x128@128x64: BLAS 5.7 us, tile 6.6).
TILE_MIN_MACS = 1 << 20
# ...on every core from here (the split's threshold: smaller launches lose inside a step).
TILE_PARALLEL_MIN_MACS = SPLIT_MIN_MACS
# ...but not for a large result over a short K, where storing C dominates and our packed GEMM's
# cache blocking wins (1024x256@256x1024: tile 5.3 ms, ours 2.8; 1024^3: tile 10.7, ours 12.5).
TILE_MAX_OUT_SHORT_K, TILE_SHORT_K = 1 << 20, 512
# ...and a result at most 64 columns wide (the dense layers' products) runs kernels.skinny_gemm:
# taller register tiles, and with few rows (at most SKINNY_FEW_ROWS) K in blocks of SKINNY_KC so
# a block of the weight is read from L2 once, not once per row tile (measured on the 2-core Xeon,
# see benchmarks/kernels.py "dense steps' products").
SKINNY_MAX_COLS, SKINNY_FEW_ROWS, SKINNY_KC = _skinny.BLOCK, 64, 128


def _tile_fill(m: int, n: int) -> float:
    """Fraction of the MR x NR register tiles that hold real output elements."""
    return (m / (-(-m // MR) * MR)) * (n / (-(-n // NR) * NR))


def use_ours(m: int, n: int, k: int, batch: int = 1) -> bool:
    """True where our GEMM is measured faster than (single-threaded) OpenBLAS for this shape."""
    # the size test first: it alone decides the many small products of a training step
    return (batch * m * n * k >= OURS_MIN_MACS and k >= 16 and _tile_fill(m, n) >= OURS_MIN_FILL
            and threads.get_num_threads() > 1)


def use_tile(m: int, n: int, k: int) -> bool:
    """True where kernels.tile_gemm is measured fastest for a float32 (m, k) @ (k, n) product."""
    return m * n * k >= TILE_MIN_MACS and (k >= TILE_SHORT_K or m * n < TILE_MAX_OUT_SHORT_K)


def use_split(m: int, n: int, k: int) -> bool:
    """True where one OpenBLAS call per core is measured fastest for an (m, k) @ (k, n) product."""
    return SPLIT_MIN_MACS < m * n * k < SPLIT_MAX_MACS and threads.get_num_threads() > 1


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """numpy.matmul semantics for a.ndim >= 2 and b.ndim >= 2 (batched dims broadcast), into `out`
    (C-contiguous, of the result's shape and dtype) when given."""
    threads.ensure_policy()
    if a.ndim == 2 and b.ndim == 2:
        macs = a.shape[0] * a.shape[1] * b.shape[1]
        # the size first: it alone turns away the many small products of a training step
        if macs >= TILE_MIN_MACS and a.dtype == b.dtype == np.float32 and use_tile(a.shape[0], b.shape[1], a.shape[1]):
            res = _tile_product(a, b, out, macs)
            if res is not None:
                return res
        if macs < OURS_MIN_MACS:
            return np.matmul(a, b, out=out)  # small (below both thresholds): single-threaded OpenBLAS
    dt = a.dtype
    if (dt != b.dtype or not native_float(dt) or a.ndim < 2 or b.ndim < 2
            or (out is not None and (out.dtype != dt or not out.flags.c_contiguous))):
        return np.matmul(a, b, out=out)  # numpy's promotion rules and errors for anything unusual
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if a.ndim == 2 and b.ndim == 2:  # the common case, without the batch bookkeeping (~3 us a call)
        if use_split(m, n, k):
            if out is None and m <= TRANSPOSED_MAX_ROWS < n and b.flags.f_contiguous and not b.flags.c_contiguous:
                res = _split.matmul_split(b.T, a.T)  # see TRANSPOSED_MAX_ROWS
                res = None if res is None else _ba.transpose_add_bias(res, None)
            else:
                res = _split.matmul_split(a, b, out)
            if res is not None:
                return res
        return _mm.matmul(a, b, out) if use_ours(m, n, k) else np.matmul(a, b, out=out)
    batch = 1
    for d in np.broadcast_shapes(a.shape[:-2], b.shape[:-2]):
        batch *= d
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        m, batch = m * batch, 1  # our matmul folds the batch into M here
    if use_ours(m, n, k, batch):
        return _mm.matmul(a, b, out)
    return np.matmul(a, b, out=out)


def _tile_product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None, macs: int) -> np.ndarray | None:
    """a @ b by kernels.tile_gemm, which reads b's rows as vectors: a b that is not row-major is
    copied so when it is no larger than a, else None (a large column-major b, e.g. fc1's weight in
    its input gradient, streams faster through the transposed split: 260 vs 303 us at b32)."""
    if not b.flags.c_contiguous:
        if b.size > a.size:
            return None
        # numpy's transposing copy is slow (1024x32: 61 us); the 16-wide transpose pass is not (11)
        bt = _ba.transpose_add_bias(b.T, None) if b.flags.f_contiguous else None
        b = np.ascontiguousarray(b) if bt is None else bt
    parts = threads.get_num_threads() if macs >= TILE_PARALLEL_MIN_MACS else 1
    if b.shape[1] <= SKINNY_MAX_COLS and a.shape[0] >= _skinny.MIN_ROWS:
        few = a.shape[0] <= SKINNY_FEW_ROWS  # few rows: threads split K, not rows
        res = _skinny.matmul(a, b, out, parts, SKINNY_KC if few else 0, by_k=few)
        if res is not None:
            return res
    return _tile.matmul(a, b, out, parts)


_NUMPY_CACHE = object()  # marks a cache of the numpy backend's convolution


def _no_channels(x: np.ndarray, w: np.ndarray) -> bool:
    """No input or output channels: the kernels' blocking divides by these; numpy handles them."""
    return x.shape[1] == 0 or w.shape[0] == 0


def conv2d_forward(x, w, b, stride: tuple[int, int], padding: tuple[int, int]) -> tuple[np.ndarray, object]:
    """x (N,C,H,W), w (O,C,KH,KW), b (O,) or None -> (out (N,O,OH,OW), cache for backward)."""
    if _no_channels(x, w):
        out, cache = _np_backend.conv2d_forward(x, w, b, stride, padding)
        return out, (_NUMPY_CACHE, cache)
    return _conv.conv2d_forward(x, w, b, stride, padding)


def conv2d_backward(gout, cache, need_x: bool = True) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """-> (gx or None if not need_x, gw, gb or None if there was no bias)."""
    if isinstance(cache, tuple) and cache and cache[0] is _NUMPY_CACHE:
        return _np_backend.conv2d_backward(gout, cache[1], need_x)
    return _conv.conv2d_backward(gout, cache, need_x)


def conv2d_relu_pool_forward(x, w, b, stride: tuple[int, int], padding: tuple[int, int]
                             ) -> tuple[np.ndarray, object]:
    """max_pool2d(relu(conv2d(x, w, b)), 2x2, stride 2) -> (out, cache): one pass per sample where
    the per-sample convolution runs and the conv output's sides are even, else the two ops."""
    fused = None if _no_channels(x, w) else _crp.forward(x, w, b, stride, padding)
    if fused is not None:
        return fused[0], ("fused", fused[1])
    y, conv_cache = conv2d_forward(x, w, b, stride, padding)
    out, pool_cache = max_pool2d_forward(y, (2, 2), (2, 2), relu=True)
    return out, ("ops", (conv_cache, pool_cache))


def conv2d_relu_pool_backward(gout, cache, need_x: bool = True
                              ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """-> (gx or None if not need_x, gw, gb or None if there was no bias)."""
    kind, parts = cache
    if kind == "fused":
        return _crp.backward(gout, parts, need_x)
    conv_cache, pool_cache = parts
    return conv2d_backward(max_pool2d_backward(gout, pool_cache), conv_cache, need_x)


def max_pool2d_forward(x, kernel: tuple[int, int], stride: tuple[int, int], relu: bool = False
                       ) -> tuple[np.ndarray, object]:
    """x (N,C,H,W) -> (out (N,C,OH,OW), cache holding argmax indices); no padding; floor mode.
    relu=True: max_pool2d(relu(x)) in the same pass."""
    return _pool.max_pool2d_forward(x, kernel, stride, relu)


def max_pool2d_backward(gout, cache) -> np.ndarray:
    """Scatter gout through the argmax indices (overlapping windows accumulate)."""
    return _pool.max_pool2d_backward(gout, cache)


def softmax_cross_entropy_forward(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    """-> (per-sample loss (N,), probs (N,C)), max-subtracted."""
    if logits.dtype.kind == "f" and not logits.dtype.isnative:  # e.g. big-endian data from a file
        logits = logits.astype(logits.dtype.newbyteorder("="))
    return _sx.softmax_cross_entropy_forward(logits, np.asarray(labels, dtype=np.int64))


def softmax_cross_entropy_backward(probs, labels, gloss) -> np.ndarray:
    """d logits = (probs - onehot(labels)) * gloss[:, None]."""
    return _sx.softmax_cross_entropy_backward(probs, np.asarray(labels, dtype=np.int64), gloss)


def sgd_step(w: np.ndarray, d: np.ndarray, buf: np.ndarray | None, lr: float, mu: float, damp: float) -> None:
    """In place: with buf, buf = mu*buf + (1-damp)*d and w -= lr*buf; without, w -= lr*d.

    One fused pass when the arrays share a contiguous layout (the usual case), numpy otherwise.
    """
    threads.ensure_policy()  # big parameters run a parallel kernel: the policy must come first
    if not _sgd.sgd_step(w, d, buf, lr, mu, damp):
        _np_backend.sgd_step(w, d, buf, lr, mu, damp)


def sgd_steps(ws: list[np.ndarray], ds: list[np.ndarray], bufs: list[np.ndarray] | None,
              lr: float, mu: float, damp: float, cache: dict) -> None:
    """sgd_step for every parameter (bufs None: no momentum), small ones several to a kernel call.

    `cache` is a dict the caller keeps across steps for these parameters: it holds their checked
    flat views (a kernels.sgd.SGDPlan), rebuilt when the arrays are not the same ones.
    """
    threads.ensure_policy()  # big parameters run a parallel kernel: the policy must come first
    plan = cache.get("sgd_plan")
    if plan is None or not plan.same(ws, bufs):
        plan = cache["sgd_plan"] = _sgd.SGDPlan(ws, bufs)
    if not plan.step(ds, lr, mu, damp):
        for i, (w, d) in enumerate(zip(ws, ds)):
            sgd_step(w, d, None if bufs is None else bufs[i], lr, mu, damp)


# Below this many elements numpy's two calls are as fast as a kernel call (measured 32x64: 2.4 us).
RELU_MIN_ELEMS = 1 << 12


def relu_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max(a, 0), the mask a > 0) in one pass over a, on every core for large arrays."""
    res = _relu.relu_forward(a) if a.size >= RELU_MIN_ELEMS else None
    return res if res is not None else _np_backend.relu_forward(a)


def relu_backward(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """g where the input was positive, else 0."""
    res = _relu.relu_backward(g, mask) if g.size >= RELU_MIN_ELEMS else None
    return res if res is not None else _np_backend.relu_backward(g, mask)


def sigmoid_forward(a: np.ndarray) -> np.ndarray:
    """The logistic function of a, into a new array (the kernel's vectorised form for float arrays)."""
    if a.ndim and a.flags.c_contiguous:
        out = np.empty_like(a)
        if _ba.bias_act_forward(a.reshape(1, -1), None, "sigmoid", out.reshape(1, -1)) is not None:
            return out
    return _np_backend.sigmoid_forward(a)


def sigmoid_backward(out: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g * out * (1 - out)."""
    if g.shape == out.shape and g.ndim and g.flags.c_contiguous and out.flags.c_contiguous:
        res = _ba.bias_act_backward(g.reshape(1, -1), out.reshape(1, -1), "sigmoid", False)
        if res is not None:
            return res[0].reshape(g.shape)
    return _np_backend.sigmoid_backward(out, g)


def bias_act_forward(out: np.ndarray, bias: np.ndarray | None, act: str | None) -> tuple[np.ndarray, object]:
    """act(out + bias) in place on a fresh 2-D product, one kernel pass -> (out, cache)."""
    if act is not None and _ba.bias_act_forward(out, bias, act) is not None:
        return out, (act, out)  # ReLU's backward reads its mask off the output: out > 0 iff in > 0
    return _np_backend.bias_act_forward(out, bias, act)  # bias alone: numpy's += is as fast


# An expanding layer with few rows (the autoencoder's 32 -> 1024 at batch 36) runs its product as
# w @ x.T: OpenBLAS makes that (out, rows) result ~1.5x faster than x @ w.T's (rows, out) one
# (36x32 -> 1024: 31 vs 43-50 us; 32x64 -> 1024: 48 vs 74-76), and the bias pass then writes the
# transpose (~11 us there).  With more rows or a long input the two products cost the same.
EXPANDING_MAX_ROWS, EXPANDING_MAX_IN, EXPANDING_MIN_OUT = 64, 256, 512


def linear_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, act: str | None
                   ) -> tuple[np.ndarray, object]:
    """act(x @ w.T + bias) for 2-D x (rows, in) and w (out, in) -> (out, cache for bias_act_backward)."""
    (rows, k), n = x.shape, w.shape[0]
    if (rows <= EXPANDING_MAX_ROWS and k <= EXPANDING_MAX_IN and n >= max(EXPANDING_MIN_OUT, 4 * k)
            and x.dtype == w.dtype):
        out = _ba.transpose_add_bias(matmul(w, x.T), bias)
        if out is not None:
            return bias_act_forward(out, None, act)
    return bias_act_forward(matmul(x, w.T), bias, act)


def bias_act_backward(g: np.ndarray, cache: object, want_bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(g through the activation, its column sums if want_bias), one kernel pass."""
    act, saved = cache
    if act is None:  # only the bias gradient: numpy's column sum is as fast as a kernel call
        return g, (np.add.reduce(g, axis=0) if want_bias else None)
    if saved.dtype != np.bool_:  # the kernel's cache holds the output
        res = _ba.bias_act_backward(g, saved, act, want_bias)
        if res is not None:
            return res
        if act == "relu":
            saved = saved > 0
    return _np_backend.bias_act_backward(g, (act, saved), want_bias)
