"""SGD's parameter update in one pass over memory: w -= lr*d, or with momentum
buf = mu*buf + (1-damp)*d, w -= lr*buf.

numpy needs two to four passes (and a Python call each) for the same update; at the homework's
sizes the calls dominate (36 floats: 0.3 us here against 2.1 us), at fc1's 640k floats the passes
(100 against 226 us).  No 'contract' fastmath: without FMA the result is bit-identical to the numpy
reference backend's `mu*buf + d` and `w - lr*d`, rounded step by step in the parameter's dtype.
"""
from __future__ import annotations

import numpy as np

from numba import prange

from .. import threads
from ._jit import JIT, native_float, njit

PARALLEL_MIN_ELEMS = 1 << 17  # fc1's 640k weights split over the cores; the rest stay serial
CHUNK = 1 << 15


# Spans are sliced first so loop indices start at 0 (numba then drops its negative-index check,
# which blocks vectorisation).
@njit(**JIT)
def _plain_span(w, d, lr, i0, i1):
    w, d = w[i0:i1], d[i0:i1]
    s = np.empty(1, w.dtype)  # the scalar in w's dtype: float32 math stays float32 and vectorises
    s[0] = lr
    lr_ = s[0]
    for i in range(w.shape[0]):
        w[i] -= lr_ * d[i]


@njit(**JIT)
def _momentum_span(w, d, buf, lr, mu, damp, i0, i1):
    w, d, buf = w[i0:i1], d[i0:i1], buf[i0:i1]
    s = np.empty(3, w.dtype)
    s[0], s[1], s[2] = lr, mu, 1.0 - damp
    lr_, mu_, c = s[0], s[1], s[2]
    if damp == 0.0:
        for i in range(w.shape[0]):
            b = mu_ * buf[i] + d[i]
            buf[i] = b
            w[i] -= lr_ * b
    else:
        for i in range(w.shape[0]):
            b = mu_ * buf[i] + c * d[i]
            buf[i] = b
            w[i] -= lr_ * b


# The serial case calls a span kernel over [0, n) directly; these spread CHUNK-sized spans over the
# threads (numba's parallel flag belongs to a function, hence separate ones).
@njit(parallel=True, **JIT)
def _plain_par(w, d, lr):
    """w -= lr*d on 1-D views of the same length, in CHUNK-sized spans over the threads."""
    n = w.shape[0]
    for t in prange((n + CHUNK - 1) // CHUNK):
        _plain_span(w, d, lr, t * CHUNK, min(n, (t + 1) * CHUNK))


@njit(parallel=True, **JIT)
def _momentum_par(w, d, buf, lr, mu, damp):
    """buf = mu*buf + (1-damp)*d; w -= lr*buf, in CHUNK-sized spans over the threads."""
    n = w.shape[0]
    for t in prange((n + CHUNK - 1) // CHUNK):
        _momentum_span(w, d, buf, lr, mu, damp, t * CHUNK, min(n, (t + 1) * CHUNK))


def _may_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays might share memory; arrays that own their data (the usual case) cannot."""
    return (a.base is not None or b.base is not None) and np.may_share_memory(a, b)


def sgd_step(w: np.ndarray, d: np.ndarray, buf: np.ndarray | None, lr: float, mu: float, damp: float) -> bool:
    """In place: with buf, buf = mu*buf + (1-damp)*d and w -= lr*buf; without, w -= lr*d.

    Returns False, touching nothing, unless w, d (and buf) share one native float dtype, shape and
    contiguous layout (C or F: their memory is then paired element by element), are writeable (a
    read-only one would compile a second signature) and do not partly overlap (numpy's temporaries
    make that case well defined; a one-pass kernel would read what it already wrote).  The checks
    are plain attribute reads: this runs once per parameter per step.
    """
    st, shape, dt = w.strides, w.shape, w.dtype
    flags = w.flags
    if (d.strides != st or d.shape != shape or d.dtype != dt or not native_float(dt) or not flags.writeable
            or not d.flags.writeable or not (flags.c_contiguous or flags.f_contiguous)
            or (d is not w and _may_overlap(w, d))):
        return False
    lr, mu, damp = float(lr), float(mu), float(damp)  # one compiled signature, whatever the caller passes
    par = w.size >= PARALLEL_MIN_ELEMS and threads.get_num_threads() > 1
    if buf is None:
        wf, df = w.ravel(order="K"), d.ravel(order="K")
        _plain_par(wf, df, lr) if par else _plain_span(wf, df, lr, 0, wf.shape[0])
        return True
    if (buf.strides != st or buf.shape != shape or buf.dtype != dt or not buf.flags.writeable
            or _may_overlap(buf, w) or _may_overlap(buf, d)):
        return False
    wf, df, bf = w.ravel(order="K"), d.ravel(order="K"), buf.ravel(order="K")
    if par:
        _momentum_par(wf, df, bf, lr, mu, damp)
    else:
        _momentum_span(wf, df, bf, lr, mu, damp, 0, wf.shape[0])
    return True
