"""Packing for the GEMM: copy operands into the panel layouts the micro-kernel streams through.

A (M x K) becomes MR-row panels and B (K x N) NR-column panels, per KC-long block of K:
  packed A of batch b, block starting at k-offset pc, panel ir:  ap[b*mpad*K + pc*mpad + ir*kc*MR + p*MR + r]
  packed B of batch b, block starting at k-offset pc, panel jr:  bp[b*npad*K + pc*npad + jr*kc*NR + p*NR + j]
(mpad/npad: M/N rounded up to MR/NR; rows/columns past the edge are zero.)  Every operand is
packed exactly once per GEMM, whatever its strides: transposed operands cost one strided copy.
"""
from __future__ import annotations

from ._jit import JIT, MR, NR, njit, stack_tile

# Masking an offset with _NONNEG (offsets never reach 2**47) tells LLVM, through known bits, that
# offset + j cannot be negative, so numba's negative-index wraparound select folds away and the
# copies vectorise (with a raw runtime offset they became per-element selects or gathers).
_NONNEG = (1 << 47) - 1


@njit(**JIT)
def pack_a_panel(abuf, base, sm, sk, rows, k, kcb, mpad, ir, ap, dst):
    """Pack rows [ir*MR, ir*MR + rows) of the A at abuf[base] (strides sm, sk) for every K block."""
    t = stack_tile(ap)
    for pc in range(0, k, kcb):
        kc = min(kcb, k - pc)
        o = dst + pc * mpad + ir * kc * MR
        apv = ap[o:o + kc * MR]
        s0 = base + ir * MR * sm + pc * sk
        if rows == MR and sk == 1:  # row-major A: six contiguous row streams
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
        elif rows == MR and sm == 1:  # column-major A (a transposed view): MR contiguous values per p
            for p in range(kc):
                s = (s0 + p * sk) & _NONNEG
                # Loads first, then stores: LLVM cannot rule out that ap aliases abuf, so an
                # interleaved copy stays scalar; through registers it is one short vector.
                for r in range(MR):
                    t[r] = abuf[s + r]
                for r in range(MR):
                    apv[p * MR + r] = t[r]
        else:
            for p in range(kc):
                for r in range(MR):
                    apv[p * MR + r] = abuf[s0 + r * sm + p * sk] if r < rows else 0


@njit(**JIT)
def pack_b_panel(bbuf, base, sk, sn, cols, k, kcb, npad, jr, bp, dst):
    """Pack columns [jr*NR, jr*NR + cols) of the B at bbuf[base] (strides sk, sn) for every K block."""
    t = stack_tile(bp)
    for pc in range(0, k, kcb):
        kc = min(kcb, k - pc)
        o = dst + pc * npad + jr * kc * NR
        bpv = bp[o:o + kc * NR]
        s0 = base + jr * NR * sn + pc * sk
        if cols == NR and sn == 1:  # row-major B: one NR-wide vector copy per row
            for p in range(kc):
                s = (s0 + p * sk) & _NONNEG
                for j in range(NR):
                    t[j] = bbuf[s + j]
                for j in range(NR):
                    bpv[p * NR + j] = t[j]
        elif cols == NR and sk == 1:  # column-major B (a transposed view): NR column streams
            # For each p gather one value from each of the NR columns (each column's cache lines
            # serve the next p's too), then store them as one vector: ~4x faster than walking
            # down one column at a time with NR-strided stores.
            so = s0 & _NONNEG
            for p in range(kc):
                for j in range(NR):
                    t[j] = bbuf[so + j * sn + p]
                for j in range(NR):
                    bpv[p * NR + j] = t[j]
        else:
            for p in range(kc):
                for j in range(NR):
                    bpv[p * NR + j] = bbuf[s0 + p * sk + j * sn] if j < cols else 0


@njit(**JIT)
def pack_item(i, abuf, sab, sam, sak, na, m, bbuf, sbb, sbk, sbn, nb_b, n, k, kcb, ap, bp):
    """Pack work item i: first na*ceil(M/MR) A panels, then nb_b*ceil(N/NR) B panels."""
    mpan = (m + MR - 1) // MR
    npan = (n + NR - 1) // NR
    if i < na * mpan:
        b, ir = i // mpan, i % mpan
        mpad = mpan * MR
        pack_a_panel(abuf, b * sab, sam, sak, min(MR, m - ir * MR), k, kcb, mpad, ir, ap, b * mpad * k)
    else:
        i -= na * mpan
        b, jr = i // npan, i % npan
        npad = npan * NR
        pack_b_panel(bbuf, b * sbb, sbk, sbn, min(NR, n - jr * NR), k, kcb, npad, jr, bp, b * npad * k)
