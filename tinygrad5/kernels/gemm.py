"""Our own GEMM in numba: cache blocking, packed panels, a 6x16 register-tile micro-kernel.

Layout (BLIS-style).  C[b] (M x N) = A[b] (M x K) @ B[b] (K x N), all addressed through flat
buffers with element strides, so transposed or broadcast (0-stride) operands cost nothing extra.
Work is cut into tasks (batch b, a range of rows, NC columns).  A task walks K in KC blocks: it
packs its B block into NR-wide column panels (KC x NR each, contiguous), then for each MC-row block
packs A into MR-tall row panels (KC x MR each) and runs the micro-kernel over every MR x NR tile.
The micro-kernel keeps the MR x NR accumulators in a stack tile that LLVM promotes to registers,
broadcasts one A value per row and FMAs it with one NR-wide row of the B panel (see _jit.FASTMATH).
Edge tiles are computed on zero-padded panels; only the valid part is written back.

`reduce=True` sums over the batch into one C (used for conv weight gradients: sum_n g[n] @ cols[n]^T).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import FASTMATH, JIT, MR, NR, njit, stack_tile


@njit(fastmath=FASTMATH, **JIT)
def _micro(kc, ap, a0, bp, b0, cbuf, c0, ldc, mr, nr, first, bias, bias_mode, brow, bcol):
    """C tile (mr x nr at cbuf[c0], row stride ldc) (+)= Ap panel (kc x MR) . Bp panel (kc x NR)."""
    # Slices make every index below provably >= 0, so numba's negative-index wraparound folds away
    # (with a raw runtime offset LLVM kept a per-lane wraparound select and emitted gathers).
    apan = ap[a0:a0 + kc * MR]
    bpan = bp[b0:b0 + kc * NR]
    acc = stack_tile(cbuf)
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
        # Constant trip count: LLVM unrolls it fully and SLP packs the 16 lanes into vector FMAs.
        for j in range(NR):
            y = bpan[pb + j]
            acc[j] += x0 * y
            acc[NR + j] += x1 * y
            acc[2 * NR + j] += x2 * y
            acc[3 * NR + j] += x3 * y
            acc[4 * NR + j] += x4 * y
            acc[5 * NR + j] += x5 * y
    # acc must only ever be indexed by constants (after unrolling) or LLVM cannot keep it in
    # registers; edge tiles therefore go through a second stack tile with runtime bounds.
    if mr == MR and nr == NR:
        for r in range(MR):
            crow = cbuf[c0 + r * ldc:c0 + r * ldc + NR]
            if not first:
                for j in range(NR):
                    crow[j] += acc[r * NR + j]
            elif bias_mode == 0:
                for j in range(NR):
                    crow[j] = acc[r * NR + j]
            elif bias_mode == 1:  # bias per row of C (conv: one per output channel)
                v = bias[brow + r]
                for j in range(NR):
                    crow[j] = acc[r * NR + j] + v
            else:  # bias per column of C (linear layer: x @ W + b)
                bv = bias[bcol:bcol + NR]
                for j in range(NR):
                    crow[j] = acc[r * NR + j] + bv[j]
    else:
        tmp = stack_tile(cbuf)
        for t in range(MR * NR):
            tmp[t] = acc[t]
        _edge(tmp, cbuf, c0, ldc, mr, nr, first, bias, bias_mode, brow, bcol)


@njit(**JIT)
def _edge(tmp, cbuf, c0, ldc, mr, nr, first, bias, bias_mode, brow, bcol):
    """Write the valid mr x nr corner of a register tile (edge of C)."""
    for r in range(mr):
        o = c0 + r * ldc
        for j in range(nr):
            v = tmp[r * NR + j]
            if not first:
                cbuf[o + j] += v
            elif bias_mode == 0:
                cbuf[o + j] = v
            elif bias_mode == 1:
                cbuf[o + j] = v + bias[brow + r]
            else:
                cbuf[o + j] = v + bias[bcol + j]


# Masking an offset with _NONNEG (offsets never reach 2**47) tells LLVM, through known bits, that
# offset + j cannot be negative, so numba's negative-index wraparound select folds away.
_NONNEG = (1 << 47) - 1

# Packing loops index through slices (apv, rows, dst) so every index is provably >= 0: numba's
# negative-index wraparound on a raw runtime offset would otherwise block vectorised copies.

@njit(**JIT)
def _pack_a(abuf, base, sm, sk, mc, kc, ap):
    """ap[(ir*kc + p)*MR + r] = A[ir*MR + r, p] for the mc x kc block at abuf[base]; rows >= mc are 0."""
    npan = (mc + MR - 1) // MR
    for ir in range(npan):
        apv = ap[ir * kc * MR:(ir + 1) * kc * MR]
        i0 = ir * MR
        if sk == 1 and i0 + MR <= mc:  # row-major A, full panel: six contiguous row streams
            s0 = base + i0 * sm
            r0 = abuf[s0:s0 + kc]
            r1 = abuf[s0 + sm:s0 + sm + kc]
            r2 = abuf[s0 + 2 * sm:s0 + 2 * sm + kc]
            r3 = abuf[s0 + 3 * sm:s0 + 3 * sm + kc]
            r4 = abuf[s0 + 4 * sm:s0 + 4 * sm + kc]
            r5 = abuf[s0 + 5 * sm:s0 + 5 * sm + kc]
            for p in range(kc):
                q = p * MR
                apv[q] = r0[p]
                apv[q + 1] = r1[p]
                apv[q + 2] = r2[p]
                apv[q + 3] = r3[p]
                apv[q + 4] = r4[p]
                apv[q + 5] = r5[p]
        elif sm == 1 and i0 + MR <= mc:  # column-major A (a transposed view): MR contiguous per p
            for p in range(kc):
                s = base + p * sk + i0
                apv[p * MR:(p + 1) * MR] = abuf[s:s + MR]
        else:
            for p in range(kc):
                for r in range(MR):
                    i = i0 + r
                    apv[p * MR + r] = abuf[base + i * sm + p * sk] if i < mc else 0


@njit(**JIT)
def _pack_b(bbuf, base, sk, sn, kc, nc, bp):
    """bp[(jr*kc + p)*NR + j] = B[p, jr*NR + j] for the kc x nc block at bbuf[base]; cols >= nc are 0."""
    npan = (nc + NR - 1) // NR
    for jr in range(npan):
        bpv = bp[jr * kc * NR:(jr + 1) * kc * NR]
        j0 = jr * NR
        if sn == 1 and j0 + NR <= nc:  # row-major B, full panel: one 16-wide vector copy per row
            t = stack_tile(bp)
            for p in range(kc):
                s = (base + p * sk + j0) & _NONNEG
                d = p * NR
                # Load all lanes before storing any: LLVM cannot rule out that bp aliases bbuf,
                # so an interleaved load/store copy stays scalar; via registers it is one vector.
                for j in range(NR):
                    t[j] = bbuf[s + j]
                for j in range(NR):
                    bpv[d + j] = t[j]
        elif sk == 1:  # column-major B (a transposed view): read down columns
            for j in range(NR):
                col = j0 + j
                if col < nc:
                    s = base + col * sn
                    src = bbuf[s:s + kc]
                    for p in range(kc):
                        bpv[p * NR + j] = src[p]
                else:
                    for p in range(kc):
                        bpv[p * NR + j] = 0
        else:
            for p in range(kc):
                for j in range(NR):
                    col = j0 + j
                    bpv[p * NR + j] = bbuf[base + p * sk + col * sn] if col < nc else 0


@njit(**JIT)
def _task(t, abuf, aoff, sab, sam, sak, bbuf, boff, sbb, sbk, sbn, cbuf, scb, ldc,
          nb, m, n, k, reduce, mt, nc_, mc_, kc_, bias, bias_mode):
    """Run task t: batch b (all batches if reduce), rows [i0, i0+mt), columns [j0, j0+nc_)."""
    ntm = (m + mt - 1) // mt
    ntn = (n + nc_ - 1) // nc_
    per_b = ntm * ntn
    tb = t // per_b
    rest = t % per_b
    j0 = (rest // ntm) * nc_
    i0 = (rest % ntm) * mt
    nc = min(nc_, n - j0)
    i1 = min(i0 + mt, m)
    kcap = min(kc_, k)
    # Per-task packing buffers: private to the thread running the task.
    ap = np.empty(((min(mc_, mt) + MR - 1) // MR) * MR * kcap, cbuf.dtype)
    bp = np.empty(((nc + NR - 1) // NR) * NR * kcap, cbuf.dtype)
    b_lo = 0 if reduce else tb
    b_hi = nb if reduce else tb + 1
    for b in range(b_lo, b_hi):
        for pc in range(0, k, kc_):
            kc = min(kc_, k - pc)
            first = pc == 0 and b == b_lo
            _pack_b(bbuf, boff + b * sbb + pc * sbk + j0 * sbn, sbk, sbn, kc, nc, bp)
            for ic in range(i0, i1, mc_):
                mc = min(mc_, i1 - ic)
                _pack_a(abuf, aoff + b * sab + ic * sam + pc * sak, sam, sak, mc, kc, ap)
                cb = (0 if reduce else b * scb)
                for jr in range(0, nc, NR):
                    for ir in range(0, mc, MR):
                        _micro(kc, ap, ir * kc, bp, jr * kc, cbuf, cb + (ic + ir) * ldc + j0 + jr, ldc,
                               min(MR, mc - ir), min(NR, nc - jr), first, bias, bias_mode,
                               ic + ir, j0 + jr)


@njit(**JIT)
def _gemm_serial(abuf, aoff, sab, sam, sak, bbuf, boff, sbb, sbk, sbn, cbuf, scb, ldc,
                 nb, m, n, k, reduce, mt, nc, mc, kc, bias, bias_mode):
    """All tasks on the calling thread (small problems: a parallel launch costs more than it saves)."""
    ntask = (1 if reduce else nb) * ((m + mt - 1) // mt) * ((n + nc - 1) // nc)
    for t in range(ntask):
        _task(t, abuf, aoff, sab, sam, sak, bbuf, boff, sbb, sbk, sbn, cbuf, scb, ldc,
              nb, m, n, k, reduce, mt, nc, mc, kc, bias, bias_mode)


@njit(parallel=True, **JIT)
def _gemm_parallel(abuf, aoff, sab, sam, sak, bbuf, boff, sbb, sbk, sbn, cbuf, scb, ldc,
                   nb, m, n, k, reduce, mt, nc, mc, kc, bias, bias_mode):
    """Tasks spread over numba's threads; tasks write disjoint tiles of C."""
    ntask = (1 if reduce else nb) * ((m + mt - 1) // mt) * ((n + nc - 1) // nc)
    for t in prange(ntask):
        _task(t, abuf, aoff, sab, sam, sak, bbuf, boff, sbb, sbk, sbn, cbuf, scb, ldc,
              nb, m, n, k, reduce, mt, nc, mc, kc, bias, bias_mode)
