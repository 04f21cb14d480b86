"""Fused softmax + cross-entropy: one kernel per direction, one row of logits at a time.

Forward per row: m = max(z); e = exp(z - m) written straight into probs while summing s (a
vectorisable exp for float32, see elementary.py); probs *= 1/s; loss = log(s) - (z[label] - m),
the difference first, so a large m does not swallow it (log(s) + m - z[label] lost the loss at
logits ~1e7, and gave 0 for [3e38, 3e38, -3e38]).  Backward: g = (probs - onehot) * gloss[:, None].
Rows are independent, so large batches spread rows over threads.  The forward checks that every
label is in range in the same pass (an out-of-range one raises ValueError).
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from .. import threads
from ._jit import JIT, c_array, native_float, njit
from .elementary import exp_nonpos, reciprocal

# Serial below this many logits: at the MLP's 32 x 36 the whole kernel takes about 2 microseconds.
PARALLEL_MIN_ELEMS = 1 << 16
# 'reassoc' lets LLVM vectorise the row's max and sum (a different, still fixed, summation order);
# no 'nnan'/'ninf': NaN and inf logits must still give NaN, as numpy and torch do.
_FLAGS = {"contract", "reassoc", "nsz", "arcp"}


@njit(fastmath=False, **JIT)
def _row_loss(s, m, zl):
    """log(s) - (zl - m) without fastmath (said explicitly: a callee inherits its caller's flags
    otherwise): 'reassoc' turns it back into log(s) + m - zl, which loses the loss for large m."""
    return math.log(s) - (zl - m)


@njit(fastmath=_FLAGS, **JIT)
def _fwd_row(z, labels, loss, probs, i):
    """Softmax and cross-entropy of row i (a NaN anywhere in the row makes it all NaN); returns 1,
    leaving the row unwritten, if its label is out of range, else 0."""
    row = z[i]
    pr = probs[i]
    lab = labels[i]
    if lab < 0 or lab >= row.shape[0]:
        return 1
    m = row[0]
    for j in range(1, row.shape[0]):
        m = max(m, row[j])
    s = m - m  # 0 of the row's dtype (NaN for an infinite max: that row is NaN anyway)
    for j in range(row.shape[0]):
        e = exp_nonpos(row[j] - m)
        pr[j] = e
        s += e
    inv = reciprocal(s)
    for j in range(row.shape[0]):
        pr[j] *= inv
    loss[i] = _row_loss(s, m, row[lab])
    return 0


@njit(parallel=True, **JIT)
def _fwd_par(z, labels, loss, probs):
    """Rows spread over threads; returns how many labels were out of range."""
    bad = 0
    for i in prange(z.shape[0]):
        bad += _fwd_row(z, labels, loss, probs, i)
    return bad


@njit(**JIT)
def _fwd_ser(z, labels, loss, probs):
    """Rows on the calling thread; returns how many labels were out of range."""
    bad = 0
    for i in range(z.shape[0]):
        bad += _fwd_row(z, labels, loss, probs, i)
    return bad


@njit(fastmath={"contract"}, **JIT)
def _bwd(probs, labels, gloss, gstep, g):
    """g = (probs - onehot(labels)) * gloss[i * gstep] (gstep 0: one scale for every row)."""
    for i in range(probs.shape[0]):
        gi = gloss[i * gstep]
        src = probs[i]
        dst = g[i]
        for j in range(src.shape[0]):
            dst[j] = src[j] * gi
        dst[labels[i]] -= gi


def _check(z: np.ndarray, labels: np.ndarray) -> None:
    """Shapes and dtypes shared by both directions."""
    if z.ndim != 2 or not native_float(z.dtype):
        raise ValueError(f"softmax_cross_entropy needs float32/float64 (N,C) logits, got {z.dtype} {z.shape}")
    if labels.shape != (z.shape[0],) or labels.dtype != np.int64:
        raise ValueError(f"labels must be int64 of shape ({z.shape[0]},), got {labels.dtype} {labels.shape}")


def bad_label_error(labels: np.ndarray, classes: int) -> ValueError:
    """The error for labels outside [0, classes), naming the first such label."""
    bad = labels[(labels < 0) | (labels >= classes)]
    return ValueError(f"cross_entropy: label {bad[0]} is out of range for {classes} classes")


def softmax_cross_entropy_forward(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (per-sample loss (N,) = logsumexp(row) - row[label], probs (N, C) = softmax(row)).

    Labels outside [0, C) raise ValueError (checked inside the kernel, in the same pass)."""
    threads.ensure_policy()
    _check(logits, labels)
    if logits.shape[1] == 0:
        raise ValueError(f"softmax_cross_entropy needs at least one class, got logits {logits.shape}")
    z = c_array(logits)
    lab = c_array(labels)
    loss = np.empty(z.shape[0], z.dtype)
    probs = np.empty_like(z)
    if z.shape[0]:
        par = z.size >= PARALLEL_MIN_ELEMS and z.shape[0] > 1 and threads.get_num_threads() > 1
        if (_fwd_par if par else _fwd_ser)(z, lab, loss, probs):
            raise bad_label_error(lab, z.shape[1])
    return loss, probs


def softmax_cross_entropy_backward(probs: np.ndarray, labels: np.ndarray, gloss: np.ndarray) -> np.ndarray:
    """d logits = (probs - onehot(labels)) * gloss[:, None]; gloss (N,) per row, or () / (1,) for all
    rows (the mean and sum reductions), which saves building an N-array of one value.  Labels
    must be in range (the forward checked them)."""
    threads.ensure_policy()
    _check(probs, labels)
    n = probs.shape[0]
    if gloss.shape not in ((n,), (), (1,)):
        raise ValueError(f"gloss must have shape ({n},), () or (1,), got {gloss.shape}")
    p = c_array(probs)
    gl = c_array(gloss.reshape(-1), dtype=p.dtype)
    g = np.empty_like(p)
    if p.size:
        _bwd(p, c_array(labels), gl, 1 if gloss.shape == (n,) and n != 1 else 0, g)
    return g
