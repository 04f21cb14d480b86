"""Our own GEMM in numba: packed panels, cache blocking, a 6x16 register-tile micro-kernel.

Layout (BLIS-style).  C[b] (M x N) = A[b] (M x K) @ B[b] (K x N), operands addressed through flat
buffers with element strides, so transposed or broadcast (0-stride batch) operands cost nothing extra.
Phase 1 packs A into MR-row panels and B into NR-column panels, once each (pack.py), spread over
threads.  Phase 2 runs tasks (batch b, a range of rows, a range of columns): for each KC block of
K and each MC block of rows (A block in L2), for each NR-wide B panel (in L1), the macro-kernel
sweeps the MR x NR register tiles down the rows.  The tile's accumulators live in a stack buffer
that LLVM promotes to registers; per k it broadcasts one A value per row and FMAs it with one
NR-wide row of the B panel (see _jit.FASTMATH).  Edge tiles run on zero-padded panels and only
their valid part is written back.

`reduce=True` sums over the batch into one C (sum_b A[b] @ B[b]); col_blocks (see _task) lets C's
columns land in blocks, which conv2d uses to write W @ cols straight in (N, O, OH*OW) order.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import FASTMATH, JIT, MR, NR, njit, stack_tile
from .pack import _NONNEG, pack_item


@njit(fastmath=FASTMATH, **JIT)
def _macro(kc, ap, a0, mc, bp, b0, nr, cbuf, c0, ldc, jmod, cpb, cbs, first, bias, bias_mode, brow, bcol):
    """C rows [0, mc) x cols [0, nr) at cbuf[c0] (+)= packed A panels at ap[a0] . one B panel at bp[b0].

    C(i, j) lives at i*ldc + (j // cpb)*cbs + j % cpb (column blocks: see _task); jmod is the
    tile's first column modulo cpb.
    """
    # Slices make every index below provably >= 0, so numba's negative-index wraparound folds away.
    bpan = bp[b0:b0 + kc * NR]
    acc = stack_tile(cbuf)
    for ir in range((mc + MR - 1) // MR):
        apan = ap[a0 + ir * kc * MR:a0 + (ir + 1) * kc * MR]
        for t in range(MR * NR):
            acc[t] = 0
        for p in range(kc):
            pa = p * MR
            x0 = apan[pa]
            x1 = apan[pa + 1]
            x2 = apan[pa + 2]
            x3 = apan[pa + 3]
            x4 = apan[pa + 4]
            x5 = apan[pa + 5]
            pb = p * NR
            # Constant trip count: LLVM unrolls it and SLP packs the 16 lanes into vector FMAs.
            for j in range(NR):
                y = bpan[pb + j]
                acc[j] += x0 * y
                acc[NR + j] += x1 * y
                acc[2 * NR + j] += x2 * y
                acc[3 * NR + j] += x3 * y
                acc[4 * NR + j] += x4 * y
                acc[5 * NR + j] += x5 * y
        mr = min(MR, mc - ir * MR)
        ct = c0 + ir * MR * ldc
        # acc must only be indexed by constants (after unrolling) or LLVM cannot keep it in
        # registers; edge tiles therefore go through a second stack tile with runtime bounds.
        if mr == MR and nr == NR and jmod + NR <= cpb:
            for r in range(MR):
                o = (ct + r * ldc) & _NONNEG  # a mask, not a slice: slicing six rows per tile cost ~10%
                if not first:
                    for j in range(NR):
                        cbuf[o + j] += acc[r * NR + j]
                elif bias_mode == 0:
                    for j in range(NR):
                        cbuf[o + j] = acc[r * NR + j]
                elif bias_mode == 1:  # bias per row of C (conv: one per output channel)
                    v = bias[brow + ir * MR + r]
                    for j in range(NR):
                        cbuf[o + j] = acc[r * NR + j] + v
                else:  # bias per column of C (linear layer: x @ W + b)
                    bo = bcol & _NONNEG
                    for j in range(NR):
                        cbuf[o + j] = acc[r * NR + j] + bias[bo + j]
        else:
            tmp = stack_tile(cbuf)
            for t in range(MR * NR):
                tmp[t] = acc[t]
            _edge(tmp, cbuf, ct, ldc, jmod, cpb, cbs, mr, nr, first, bias, bias_mode, brow + ir * MR, bcol)


@njit(**JIT)
def _edge(tmp, cbuf, c0, ldc, jmod, cpb, cbs, mr, nr, first, bias, bias_mode, brow, bcol):
    """Write the valid mr x nr corner of a register tile (edge of C, or a tile across column blocks)."""
    q = jmod  # column within its block, advanced without a division per element
    co = c0
    for j in range(nr):
        if q == cpb:
            q = 0
            co += cbs - cpb
        for r in range(mr):
            o = (co + j + r * ldc) & _NONNEG
            v = tmp[r * NR + j]
            if not first:
                cbuf[o] += v
            elif bias_mode == 0:
                cbuf[o] = v
            elif bias_mode == 1:
                cbuf[o] = v + bias[brow + r]
            else:
                cbuf[o] = v + bias[(bcol + j) & _NONNEG]
        q += 1


@njit(**JIT)
def _task(t, ap, bp, na, nb_b, cbuf, csb, ldc, cpb, cbs, nb, m, n, k, reduce, mt, nt, mcb, kcb, bias, bias_mode):
    """Task t: batch b (every batch if reduce), rows [i0, i0+mt), columns [j0, j0+nt) of C.

    C[b](i, j) is at cbuf[b*csb + i*ldc + (j // cpb)*cbs + j % cpb]: a plain row-major C has
    ldc = cpb = N; conv forward maps column j = n*P + p of W @ cols straight to out[n, o, p].
    """
    ntm = (m + mt - 1) // mt
    ntn = (n + nt - 1) // nt
    tb = t // (ntm * ntn)
    rest = t % (ntm * ntn)
    i0 = (rest % ntm) * mt
    j0 = (rest // ntm) * nt
    i1 = min(i0 + mt, m)
    j1 = min(j0 + nt, n)
    mpad = (m + MR - 1) // MR * MR
    npad = (n + NR - 1) // NR * NR
    b_lo = 0 if reduce else tb
    b_hi = nb if reduce else tb + 1
    for b in range(b_lo, b_hi):
        abase = (b if na > 1 else 0) * mpad * k
        bbase = (b if nb_b > 1 else 0) * npad * k
        cb = 0 if reduce else b * csb
        for pc in range(0, k, kcb):
            kc = min(kcb, k - pc)
            first = pc == 0 and b == b_lo
            for ic in range(i0, i1, mcb):
                mc = min(mcb, i1 - ic)
                a0 = abase + pc * mpad + (ic // MR) * kc * MR
                for jc in range(j0, j1, NR):
                    jm = jc % cpb
                    _macro(kc, ap, a0, mc, bp, bbase + pc * npad + (jc // NR) * kc * NR, min(NR, n - jc),
                           cbuf, cb + ic * ldc + (jc // cpb) * cbs + jm, ldc, jm, cpb, cbs,
                           first, bias, bias_mode, ic, jc)


@njit(**JIT)
def _alloc(abuf, na, nb_b, m, n, k):
    """Packed buffers for A (na batches) and B (nb_b batches)."""
    mpad = (m + MR - 1) // MR * MR
    npad = (n + NR - 1) // NR * NR
    return np.empty(na * mpad * k, abuf.dtype), np.empty(nb_b * npad * k, abuf.dtype)


@njit(**JIT)
def gemm_serial(abuf, sab, sam, sak, na, bbuf, sbb, sbk, sbn, nb_b, cbuf, csb, ldc, cpb, cbs,
                nb, m, n, k, reduce, mt, nt, mcb, kcb, bias, bias_mode):
    """Pack, then run every task, on the calling thread (small problems)."""
    ap, bp = _alloc(abuf, na, nb_b, m, n, k)
    nitems = na * ((m + MR - 1) // MR) + nb_b * ((n + NR - 1) // NR)
    for i in range(nitems):
        pack_item(i, abuf, sab, sam, sak, na, m, bbuf, sbb, sbk, sbn, nb_b, n, k, kcb, ap, bp)
    ntask = (1 if reduce else nb) * ((m + mt - 1) // mt) * ((n + nt - 1) // nt)
    for t in range(ntask):
        _task(t, ap, bp, na, nb_b, cbuf, csb, ldc, cpb, cbs, nb, m, n, k, reduce, mt, nt, mcb, kcb, bias, bias_mode)


@njit(parallel=True, **JIT)
def gemm_parallel(abuf, sab, sam, sak, na, bbuf, sbb, sbk, sbn, nb_b, cbuf, csb, ldc, cpb, cbs,
                  nb, m, n, k, reduce, mt, nt, mcb, kcb, bias, bias_mode):
    """Pack panels over threads, then run the tasks over threads (they write disjoint tiles of C)."""
    ap, bp = _alloc(abuf, na, nb_b, m, n, k)
    nitems = na * ((m + MR - 1) // MR) + nb_b * ((n + NR - 1) // NR)
    for i in prange(nitems):
        pack_item(i, abuf, sab, sam, sak, na, m, bbuf, sbb, sbk, sbn, nb_b, n, k, kcb, ap, bp)
    ntask = (1 if reduce else nb) * ((m + mt - 1) // mt) * ((n + nt - 1) // nt)
    for t in prange(ntask):
        _task(t, ap, bp, na, nb_b, cbuf, csb, ldc, cpb, cbs, nb, m, n, k, reduce, mt, nt, mcb, kcb, bias, bias_mode)
