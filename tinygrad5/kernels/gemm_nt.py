"""C = A @ B^T for two row-major matrices with a long shared K and a small C: blocked dot products.

conv2d's weight gradient is gW[o, t] = sum over the N*OH*OW pixels of g[o, q] * cols[t, q]: both
operands are row-major with the long pixel axis contiguous, and C is small (O x C*KH*KW).  The
packed GEMM would have to transpose one operand while packing; here each block of RA rows of A and
RB rows of B is swept together, 16 lanes at a time, into RA*RB lane-wise accumulators kept in
registers (12 zmm for float32), then each accumulator's 16 lanes are summed.  Per 16 pixels that is
RA + RB vector loads for RA*RB FMAs, so the FMA units, not the loads, set the pace.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import FASTMATH, JIT, c_array, njit, stack_buf

RA = 3   # rows of A per block
RB = 4   # rows of B per block
L = 16   # lanes per step: one zmm of float32
ACC = RA * RB * L
NSUM = RA * RB
_NONNEG = (1 << 47) - 1  # see pack.py: masked offsets let LLVM drop negative-index wraparound


@njit(fastmath=FASTMATH, **JIT)
def _lanes_sum(v):
    """Sum of the L lanes of one accumulator (constant trip count: stays in registers)."""
    tot = v[0]
    for j in range(1, L):
        tot += v[j]
    return tot


@njit(fastmath=FASTMATH, **JIT)
def _block(af, bf, c, i0, j0, m, n, k, q0, q1, first):
    """c[i0:i0+RA, j0:j0+RB] (+)= a[rows, q0:q1] . b[rows, q0:q1] (rows past the edge are skipped).

    af/bf are the flat row-major a and b (row length k); q1 - q0 is a multiple of L.
    """
    # Rows past the edge repeat the last row (computed, never stored).
    a0 = (min(i0, m - 1) * k + q0) & _NONNEG
    a1 = (min(i0 + 1, m - 1) * k + q0) & _NONNEG
    a2 = (min(i0 + 2, m - 1) * k + q0) & _NONNEG
    b0 = (min(j0, n - 1) * k + q0) & _NONNEG
    b1 = (min(j0 + 1, n - 1) * k + q0) & _NONNEG
    b2 = (min(j0 + 2, n - 1) * k + q0) & _NONNEG
    b3 = (min(j0 + 3, n - 1) * k + q0) & _NONNEG
    # Twelve separate L-lane accumulators, not one 12*L buffer: each small stack buffer is indexed
    # only by constants after unrolling, so LLVM keeps all twelve in registers across the loop.
    c00, c01, c02, c03 = stack_buf(c, L), stack_buf(c, L), stack_buf(c, L), stack_buf(c, L)
    c10, c11, c12, c13 = stack_buf(c, L), stack_buf(c, L), stack_buf(c, L), stack_buf(c, L)
    c20, c21, c22, c23 = stack_buf(c, L), stack_buf(c, L), stack_buf(c, L), stack_buf(c, L)
    for j in range(L):
        c00[j] = c01[j] = c02[j] = c03[j] = 0
        c10[j] = c11[j] = c12[j] = c13[j] = 0
        c20[j] = c21[j] = c22[j] = c23[j] = 0
    for qq in range((q1 - q0) // L):
        q = qq * L
        # Re-masked each step: LLVM then knows every index is >= 0 and drops numba's wraparound
        # (without it the loads became gathers, 6x slower).
        p0, p1, p2 = (a0 + q) & _NONNEG, (a1 + q) & _NONNEG, (a2 + q) & _NONNEG
        r0, r1, r2, r3 = (b0 + q) & _NONNEG, (b1 + q) & _NONNEG, (b2 + q) & _NONNEG, (b3 + q) & _NONNEG
        for j in range(L):
            x0 = af[p0 + j]
            x1 = af[p1 + j]
            x2 = af[p2 + j]
            y0 = bf[r0 + j]
            y1 = bf[r1 + j]
            y2 = bf[r2 + j]
            y3 = bf[r3 + j]
            c00[j] += x0 * y0
            c01[j] += x0 * y1
            c02[j] += x0 * y2
            c03[j] += x0 * y3
            c10[j] += x1 * y0
            c11[j] += x1 * y1
            c12[j] += x1 * y2
            c13[j] += x1 * y3
            c20[j] += x2 * y0
            c21[j] += x2 * y1
            c22[j] += x2 * y2
            c23[j] += x2 * y3
    sums = stack_buf(c, NSUM)
    sums[0], sums[1], sums[2], sums[3] = _lanes_sum(c00), _lanes_sum(c01), _lanes_sum(c02), _lanes_sum(c03)
    sums[4], sums[5], sums[6], sums[7] = _lanes_sum(c10), _lanes_sum(c11), _lanes_sum(c12), _lanes_sum(c13)
    sums[8], sums[9], sums[10], sums[11] = _lanes_sum(c20), _lanes_sum(c21), _lanes_sum(c22), _lanes_sum(c23)
    for r in range(RA):
        for s in range(RB):
            if i0 + r < m and j0 + s < n:
                if first:
                    c[i0 + r, j0 + s] = sums[r * RB + s]
                else:
                    c[i0 + r, j0 + s] += sums[r * RB + s]


@njit(fastmath=FASTMATH, **JIT)
def _tail(af, bf, c, i, j, k, q0):
    """c[i, j] += a[i, q0:] . b[j, q0:] (the K % L tail)."""
    tot = 0.0
    ai, bj = (i * k + q0) & _NONNEG, (j * k + q0) & _NONNEG
    for q in range(k - q0):
        tot += af[ai + q] * bf[bj + q]
    c[i, j] += tot


@njit(**JIT)
def _nt_slab(a, b, c, t, q0, q1, first):
    """Block t of the K slab [q0, q1)."""
    m, n, k = a.shape[0], b.shape[0], a.shape[1]
    nbj = (n + RB - 1) // RB
    _block(a.reshape(-1), b.reshape(-1), c, (t // nbj) * RA, (t % nbj) * RB, m, n, k, q0, q1, first)


# K is walked in slabs of KS so that the slab of every row of a and b (KS * 4 bytes each) stays in
# L2 while all blocks sweep it: streaming whole rows per block re-read them from L3 (2.7x slower).
KS = 4096


@njit(parallel=True, **JIT)
def _nt_par(a, b, c):
    """All blocks of each K slab, spread over threads (each block owns its part of c)."""
    m, n, k = a.shape[0], b.shape[0], a.shape[1]
    nblk = ((m + RA - 1) // RA) * ((n + RB - 1) // RB)
    kv = k - k % L
    for q0 in range(0, max(kv, 1), KS):
        q1 = min(q0 + KS, kv)
        for t in prange(nblk):
            _nt_slab(a, b, c, t, q0, q1, q0 == 0)
    for t in prange(m * n):
        if kv < k:
            _tail(a.reshape(-1), b.reshape(-1), c, t // n, t % n, k, kv)


@njit(**JIT)
def _nt_ser(a, b, c):
    """All blocks on the calling thread."""
    m, n, k = a.shape[0], b.shape[0], a.shape[1]
    nblk = ((m + RA - 1) // RA) * ((n + RB - 1) // RB)
    kv = k - k % L
    for q0 in range(0, max(kv, 1), KS):
        q1 = min(q0 + KS, kv)
        for t in range(nblk):
            _nt_slab(a, b, c, t, q0, q1, q0 == 0)
    if kv < k:
        for t in range(m * n):
            _tail(a.reshape(-1), b.reshape(-1), c, t // n, t % n, k, kv)


def matmul_nt(a: np.ndarray, b: np.ndarray, parallel: bool = True) -> np.ndarray:
    """a (M, K) @ b (N, K)^T -> (M, N) for C-contiguous float32/float64 a and b (best for long K)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"matmul_nt needs a (M,K) and b (N,K), got {a.shape} and {b.shape}")
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"matmul_nt needs two float32 or two float64 arrays, got {a.dtype} and {b.dtype}")
    a = c_array(a)
    b = c_array(b)
    c = np.empty((a.shape[0], b.shape[0]), a.dtype)
    if c.size:
        (_nt_par if parallel else _nt_ser)(a, b, c)
    return c
