"""A linear layer's epilogue in one pass: out = act(out + bias), and its backward with the bias gradient.

numpy needs five calls for `out += b` and a sigmoid, and four for sigmoid' and the bias gradient
(`g.sum(axis=0)`), each a full pass with its own ~1 us of call overhead; at the MLP's 32 x 64
hidden layer that overhead is most of the time.  Here each direction is one kernel call.

Activations (ACT codes): 0 none, 1 sigmoid (elementary.sigmoid), 2 ReLU (max(v, 0), NaN kept).
Backward from the saved output o: sigmoid' = g * ((1 - o) * o); ReLU' = g * (o > 0), written as
g * 1.0 or g * 0.0 so that a NaN or inf gradient stays NaN, as numpy's g * mask does.  The bias
gradient adds the rows in order (numpy's order for a sum over axis 0 of a C-contiguous array).
Large arrays split their columns over the threads (each thread owns its columns' bias sums: no
reduction across threads).

`transpose_add_bias` serves a product computed transposed (an expanding layer's w @ x.T): it
writes src.T + bias as the layer's (rows, out) output, before the activation pass.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .. import threads
from ._jit import JIT, native_float, njit
from .elementary import one, sigmoid

ACT = {None: 0, "sigmoid": 1, "relu": 2}
# Below these sizes a launch costs more than the second core saves.  ReLU (and the bias alone) is a
# light pass, the sigmoid a heavy one; measured fwd / bwd µs, serial vs 2 threads: ReLU 128x512
# 11 / 17 vs 20 / 22, 256x512 21 / 30 vs 27 / 28, 128x2048 41 / 58 vs 29 / 36; sigmoid 128x512 33
# / 17 vs 21 / 16.
PARALLEL_MIN_ELEMS = 1 << 16
PARALLEL_MIN_ELEMS_LIGHT = 1 << 18
_FLAGS = {"contract"}
# numpy's error model: a float division by zero gives inf instead of raising, and without the
# Python model's zero check before every division LLVM can vectorise the sigmoid (36x1024: 145 -> 13 us).
_ERR = "numpy"


@njit(fastmath=_FLAGS, error_model=_ERR, **JIT)
def _fwd_cols(x, out, bias, has_bias, act, c0, c1):
    """Columns [c0, c1): out = act(x + bias) (out may be x itself)."""
    b = bias[c0:c1]
    for i in range(out.shape[0]):
        src, row = x[i, c0:c1], out[i, c0:c1]
        if has_bias:
            for j in range(row.shape[0]):
                row[j] = src[j] + b[j]
        elif row is not src:
            row[:] = src
        if act == 1:
            for j in range(row.shape[0]):
                row[j] = sigmoid(row[j])
        elif act == 2:
            for j in range(row.shape[0]):
                v = row[j]
                row[j] = 0 if v <= 0 else v


@njit(fastmath=_FLAGS, error_model=_ERR, **JIT)
def _bwd_cols(g, o, g2, gb, act, want_gb, c0, c1):
    """Columns [c0, c1): g2 = g * act'(o) and, if asked, gb = the column sums of g2."""
    if want_gb:
        gb[c0:c1] = 0
    acc = gb[c0:c1]
    for i in range(g.shape[0]):
        gi, oi, di = g[i, c0:c1], o[i, c0:c1], g2[i, c0:c1]  # without an activation g2 is g
        if act == 1:
            for j in range(gi.shape[0]):
                di[j] = gi[j] * ((one(oi[j]) - oi[j]) * oi[j])
        elif act == 2:
            for j in range(gi.shape[0]):
                unit = one(oi[j])
                di[j] = gi[j] * (unit if oi[j] > 0 else unit - unit)
        if want_gb:
            for j in range(gi.shape[0]):
                acc[j] += di[j]


# 16 output columns at a time: each of those rows gets one 16-wide store, gathered from 16 rows of
# src (a scalar loop over all of src's rows would write out 4 bytes per row).
TRANSPOSE_COLS = 16


@njit(error_model=_ERR, **JIT)
def _transpose_add(src, out, bias, has_bias):
    """out = src.T (+ bias along out's rows) for src (n, m), out (m, n)."""
    n, m = src.shape
    c = TRANSPOSE_COLS
    for j0 in range(0, n - n % c, c):
        b = bias[j0:j0 + c]
        for i in range(m):
            row = out[i, j0:j0 + c]
            for jj in range(c):
                row[jj] = src[j0 + jj, i] + b[jj] if has_bias else src[j0 + jj, i]
    for j in range(n - n % c, n):
        for i in range(m):
            out[i, j] = src[j, i] + bias[j] if has_bias else src[j, i]


@njit(parallel=True, error_model=_ERR, **JIT)
def _fwd_par(x, out, bias, has_bias, act, parts):
    n = out.shape[1]
    for t in prange(parts):
        _fwd_cols(x, out, bias, has_bias, act, n * t // parts, n * (t + 1) // parts)


@njit(parallel=True, error_model=_ERR, **JIT)
def _bwd_par(g, o, g2, gb, act, want_gb, parts):
    n = g.shape[1]
    for t in prange(parts):
        _bwd_cols(g, o, g2, gb, act, want_gb, n * t // parts, n * (t + 1) // parts)


def _ok(x: np.ndarray, dt: np.dtype) -> bool:
    """A writeable C-contiguous 2-D array of dtype dt (numba compiles read-only ones separately)."""
    f = x.flags
    return x.ndim == 2 and x.dtype == dt and f.c_contiguous and f.writeable


def _parts(size: int, ncols: int, act: str | None) -> int:
    """Threads to split the columns over (1: run on the calling thread)."""
    if size < (PARALLEL_MIN_ELEMS if act == "sigmoid" else PARALLEL_MIN_ELEMS_LIGHT):
        return 1
    return min(threads.get_num_threads(), ncols)


def bias_act_forward(x: np.ndarray, bias: np.ndarray | None, act: str | None,
                     out: np.ndarray | None = None) -> np.ndarray | None:
    """act(x + bias) into out (default: x itself, in place) for 2-D (rows, cols) x; None, touching
    nothing, unless x, out (and bias, of shape (cols,)) are writeable, C-contiguous, of one native
    float dtype."""
    dt = x.dtype
    out = x if out is None else out
    if not (native_float(dt) and _ok(x, dt)) or (out is not x and (out.shape != x.shape or not _ok(out, dt))):
        return None
    if bias is None:
        b, has_bias = x[0, :0] if x.shape[0] else np.empty(0, dt), False
    else:
        f = bias.flags
        if bias.shape != x.shape[1:] or bias.dtype != dt or not f.c_contiguous or not f.writeable:
            return None
        b, has_bias = bias, True
    threads.ensure_policy()
    if x.size:
        parts = _parts(x.size, x.shape[1], act)
        if parts > 1:
            _fwd_par(x, out, b, has_bias, ACT[act], parts)
        else:
            _fwd_cols(x, out, b, has_bias, ACT[act], 0, x.shape[1])
    return out


def transpose_add_bias(src: np.ndarray, bias: np.ndarray | None) -> np.ndarray | None:
    """src.T + bias as a new C-contiguous array, for a 2-D product computed transposed (see the
    numba backend's linear_forward); None, touching nothing, for arrays the kernel does not take."""
    dt = src.dtype
    if not (native_float(dt) and _ok(src, dt)):
        return None
    if bias is not None and (bias.shape != src.shape[:1] or not _ok(bias[None], dt)):
        return None
    out = np.empty(src.shape[::-1], dt)
    if src.size:
        _transpose_add(src, out, np.empty(0, dt) if bias is None else bias, bias is not None)
    return out


def bias_act_backward(g: np.ndarray, out: np.ndarray | None, act: str | None,
                      want_bias: bool) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(g * act'(out), column sums of that if want_bias) for 2-D g and the forward's output;
    None, touching nothing, for arrays the kernels do not take (see bias_act_forward)."""
    dt = g.dtype
    if not (native_float(dt) and _ok(g, dt)):
        return None
    if act is None:
        o = g2 = g  # only the bias sums to do
    elif out is None or out.shape != g.shape or not _ok(out, dt):
        return None
    else:
        o, g2 = out, np.empty_like(g)
    threads.ensure_policy()
    rows, cols = g.shape
    gb = np.empty(cols, dt) if want_bias else (g[0, :0] if rows else np.empty(0, dt))
    if g.size == 0:
        gb[:] = 0  # no rows: the bias gradient is zero (the kernel, which zeroes it, does not run)
    else:
        parts = _parts(g.size, cols, act)
        if parts > 1:
            _bwd_par(g, o, g2, gb, ACT[act], want_bias, parts)
        else:
            _bwd_cols(g, o, g2, gb, ACT[act], want_bias, 0, cols)
    return g2, (gb if want_bias else None)
