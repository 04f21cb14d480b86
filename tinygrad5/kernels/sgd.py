"""SGD's parameter update in one pass over memory: w -= lr*d, or with momentum
buf = mu*buf + (1-damp)*d, w -= lr*buf.

numpy needs two to four passes (and a Python call each) for the same update; at the homework's
sizes the calls dominate (36 floats: 0.3 us here against 2.1 us), at fc1's 640k floats the passes
(100 against 226 us).  No 'contract' fastmath: without FMA the result is bit-identical to the numpy
reference backend's `mu*buf + d` and `w - lr*d`, rounded step by step in the parameter's dtype.
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from numba import prange

from .. import threads
from ._jit import JIT, njit

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


@njit(**JIT)
def _plain_many(ws, ds, lr):
    """w -= lr*d for each pair of a tuple of 1-D views (one call for many small parameters)."""
    for j in range(len(ws)):
        _plain_span(ws[j], ds[j], lr, 0, ws[j].shape[0])


@njit(**JIT)
def _momentum_many(ws, ds, bs, lr, mu, damp):
    """The momentum update for each triple of tuples of 1-D views, in order."""
    for j in range(len(ws)):
        _momentum_span(ws[j], ds[j], bs[j], lr, mu, damp, 0, ws[j].shape[0])


_NATIVE_FLOATS = frozenset(np.dtype(c) for c in "fd")  # native byte order: see native_float


def _pairable(w: np.ndarray, d: np.ndarray, buf: np.ndarray | None) -> bool:
    """Whether one pass can update w from d (and buf): see sgd_step.  Plain attribute reads in one
    expression each (this runs for every parameter every step: ~0.7 us)."""
    st, shape, dt, fw = w.strides, w.shape, w.dtype, w.flags
    if not (d.strides == st and d.shape == shape and d.dtype == dt and dt in _NATIVE_FLOATS and fw.writeable
            and d.flags.writeable and (fw.c_contiguous or fw.f_contiguous)):
        return False
    if (w.base is not None or d.base is not None) and d is not w and np.may_share_memory(w, d):
        return False
    if buf is None:
        return True
    if not (buf.strides == st and buf.shape == shape and buf.dtype == dt and buf.flags.writeable):
        return False
    return buf.base is None and w.base is None and d.base is None or not (
        np.may_share_memory(buf, w) or np.may_share_memory(buf, d))


def sgd_step(w: np.ndarray, d: np.ndarray, buf: np.ndarray | None, lr: float, mu: float, damp: float) -> bool:
    """In place: with buf, buf = mu*buf + (1-damp)*d and w -= lr*buf; without, w -= lr*d.

    Returns False, touching nothing, unless w, d (and buf) share one native float dtype, shape and
    contiguous layout (C or F: their memory is then paired element by element), are writeable (a
    read-only one would compile a second signature) and do not partly overlap (numpy's temporaries
    make that case well defined; a one-pass kernel would read what it already wrote).  The checks
    are plain attribute reads: this runs once per parameter per step.
    """
    if not _pairable(w, d, buf):
        return False
    par = w.size >= PARALLEL_MIN_ELEMS and threads.get_num_threads() > 1
    _update_flat(w.ravel(order="K"), d.ravel(order="K"), None if buf is None else buf.ravel(order="K"),
                 float(lr), float(mu), float(damp), par)  # floats: one compiled signature, whatever the caller passes
    return True


def _update_flat(wf: np.ndarray, df: np.ndarray, bf: np.ndarray | None, lr: float, mu: float, damp: float,
                 par: bool) -> None:
    """One parameter's update on its checked 1-D views, over the threads when par."""
    if bf is None:
        _plain_par(wf, df, lr) if par else _plain_span(wf, df, lr, 0, wf.shape[0])
    elif par:
        _momentum_par(wf, df, bf, lr, mu, damp)
    else:
        _momentum_span(wf, df, bf, lr, mu, damp, 0, wf.shape[0])


# Parameters per fused call.  A tuple's length is part of numba's signature, so shorter groups are
# padded with an empty array: one compiled signature per dtype, whatever the model.
GROUP = 8


@functools.lru_cache(maxsize=None)
def _pad(dt: np.dtype) -> tuple[np.ndarray, ...]:
    """GROUP empty arrays of dtype dt, to fill a short group's tuples."""
    return (np.empty(0, dt),) * GROUP


class SGDPlan:
    """Flat views of a parameter list (and its momentum buffers), checked once, for fused updates.

    A kernel call costs ~1.5 us of checks and dispatch, about what a 32x32 update takes, so models
    with many small parameters spend most of their update there.  The plan checks the parameters
    and buffers when it is built (sgd_step's rules; `same` tells whether a list is still the one it
    was built for), groups them and builds the kernels' argument tuples; each step then checks only
    the gradients.  Parameters below PARALLEL_MIN_ELEMS are updated GROUP to a kernel call, larger
    ones by the multi-threaded kernel.
    """

    def __init__(self, ws: list[np.ndarray], bufs: list[np.ndarray] | None) -> None:
        self.ws, self.bufs = list(ws), None if bufs is None else list(bufs)
        bs = self.bufs or [None] * len(ws)
        self.fit = all(_pairable(w, w, b) for w, b in zip(ws, bs))
        # groups of small parameters of one dtype: (indices, w tuple, buf tuple or None, the pad)
        self.groups: list[tuple[list[int], tuple, tuple | None, tuple]] = []
        if not self.fit:  # step() refuses: nothing else to prepare
            return
        # what each gradient must match: (strides, shape, dtype) of its parameter
        self.expect = [(w.strides, w.shape, w.dtype) for w in ws]
        self.shared = [w.base is not None or (b is not None and b.base is not None) for w, b in zip(ws, bs)]
        self.large = [i for i, w in enumerate(ws) if w.size >= PARALLEL_MIN_ELEMS]
        self.flat = flat = [(w.ravel(order="K"), None if b is None else b.ravel(order="K")) for w, b in zip(ws, bs)]
        by_dtype: dict[np.dtype, list[int]] = {}
        for i, w in enumerate(ws):
            if w.size < PARALLEL_MIN_ELEMS:
                by_dtype.setdefault(w.dtype, []).append(i)
        for dt, idx in by_dtype.items():
            for s in range(0, len(idx), GROUP):
                part = idx[s:s + GROUP]
                pad = _pad(dt)[len(part):]
                tw = tuple(flat[i][0] for i in part) + pad
                tb = None if bufs is None else tuple(flat[i][1] for i in part) + pad
                self.groups.append((part, tw, tb, pad))

    def same(self, ws: list[np.ndarray], bufs: list[np.ndarray] | None) -> bool:
        """Whether ws and bufs are the very arrays (by identity) this plan was built for."""
        if len(ws) != len(self.ws) or (bufs is None) != (self.bufs is None):
            return False
        return all(map(operator.is_, ws, self.ws)) and (bufs is None or all(map(operator.is_, bufs, self.bufs)))

    def step(self, ds: list[np.ndarray], lr: float, mu: float, damp: float) -> bool:
        """Update every parameter (no buffers: plain SGD), or return False touching nothing when a
        parameter or gradient breaks sgd_step's rules (the caller then goes one by one)."""
        if not self.fit:
            return False
        dfs = []
        for d, (st, shape, dt), shared, (wf, bf) in zip(ds, self.expect, self.shared, self.flat):
            if not (d.strides == st and d.shape == shape and d.dtype == dt and d.flags.writeable) or (
                    (shared or d.base is not None)
                    and (np.may_share_memory(d, wf) or bf is not None and np.may_share_memory(d, bf))):
                return False
            dfs.append(d.ravel(order="K"))
        lr, mu, damp = float(lr), float(mu), float(damp)
        par = threads.get_num_threads() > 1
        for i in self.large:
            wf, bf = self.flat[i]
            _update_flat(wf, dfs[i], bf, lr, mu, damp, par)
        for part, tw, tb, pad in self.groups:
            td = tuple([dfs[i] for i in part]) + pad
            if tb is None:
                _plain_many(tw, td, lr)
            else:
                _momentum_many(tw, td, tb, lr, mu, damp)
        return True
