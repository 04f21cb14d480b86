"""float32 products with a narrow result (at most 64 columns): the dense models' layers.

Why.  The MLP (1024-64-36, batch 32) and the autoencoder (1024-32-32-32-1024, batch 36) spend most
of a step in two kinds of product: a few rows times a tall weight (x @ W.T: 32x1024 @ 1024x64) and
a tall result over a short K (the weight gradient x.T @ g: 1024x32 @ 32x64).  tile_gemm runs both
from its 4x4, 5x3 and 6x2/8x2 register tiles (rows x 16-lane vectors); here the tiles are taller
and a long K is blocked:
- tall tiles: 24 of the 32 zmm registers hold C (6 rows x 4 vectors, 8x3, 12x2, 12x1), so B's
  rows are loaded once per 6, 8 or 12 rows of A instead of once per 4 to 8;
- with few rows and a long K, K runs in blocks of kc rows of B, so a block (128 x 64 floats,
  32 KB) comes from L2 once and from L1 for every other row tile (tile_gemm streams all of B,
  256 KB, from L2 for each row tile);
- the k loop takes two k per trip: at K = 32 (the batch) a tile's loop is short, and its
  branches and exit are a visible part of it;
- a full last vector is passed as a constant, so its loads and stores lose their masks.
Measured on the 2-core Xeon (AVX-512, ~3.7 GHz, 2 FMA units: ~235 GFLOP/s a core), serial, 10th
percentile of 80 interleaved rounds, load ~3 (tile_gemm as it was -> here): 32x1024 @ 1024x64
26.6 -> 23.7 us, 36x1024 @ 1024x32 21.6 -> 15.1, 1024x32 @ 32x64 30.7 -> 27.2, 1024x36 @ 36x32
19.4 -> 16.9, 1024x32 @ 32x36 22.6 -> 20.3 (benchmarks/kernels.py, "dense steps' products", for
medians).  Threads split K (few rows: each reads half of B, the halves summed after) or rows;
the backend uses them only from tile_gemm's threshold (8 M multiply-adds): on these 2-vCPU VMs a
parallel launch waits for a worker that another process may hold (MLP step, eager, load ~3:
181 -> 253 us with both big products on 2 threads).

How.  `tile` is tile_gemm's register tile with one more compile-time switch: ACC=1 loads C and
adds to it instead of starting from zero (the K blocks after the first).  A row tile that would
run past M moves back to end at row M, recomputing a few rows; with K blocks that would add a
block twice, so K is blocked only when the tile height divides M.  Each element of C is the same
k-ordered chain of FMAs as in tile_gemm (a K block stores and reloads the exact float32 value),
whatever the tiles, K blocks or row split: results are bit-identical to tile_gemm's.  The K split
sums its halves once at the end (another order of the same sum).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._ir import ALIGN, I32, I64, IRArgs, LANES, VB, VF, VI
from ._jit import JIT, njit

BLOCK = 4 * LANES  # columns per tile at most


@intrinsic
def tile(typingctx, mr_t, nv_t, acc_t, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nlast):
    """C[c0 + r*ldc + j] (+)= sum_p A[a0 + r*sam + p*sak] * B[b0 + p*ldb + j] for r < MR,
    j < 16*(NV-1) + nlast (MR, NV, ACC: compile-time constants; ACC=1 adds to C; k >= 0)."""
    lits = (mr_t, nv_t, acc_t)
    if not all(isinstance(t, types.IntegerLiteral) for t in lits):
        return None
    if not all(isinstance(t, types.Array) and t.dtype == types.float32 for t in (a, b, c)):
        return None
    mr, nv, accumulate = (t.literal_value for t in lits)
    sig = types.void(mr_t, nv_t, acc_t, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nlast)

    def codegen(context, builder, signature, args):  # pragma: no cover  (runs while numba compiles)
        e = IRArgs(context, builder, signature, args)
        int64, data, declare = e.int64, e.data, e.declare

        def at(base, *terms):  # pointer to element sum(terms) of base
            off = terms[0]
            for t in terms[1:]:
                off = builder.add(off, t)
            return builder.gep(base, [off])

        ap, bp, cp = data(3), data(7), data(11)
        a0v, samv, sakv, b0v, ldbv, kv, c0v, ldcv = (int64(i) for i in (4, 5, 6, 8, 9, 10, 12, 13))
        lanes = ir.Constant(VI, list(range(LANES)))
        last = builder.icmp_signed("<", lanes, e.splat(builder.trunc(int64(14), I32)))
        mload = declare("llvm.masked.load.v16f32.p0", VF, [VF.as_pointer(), I32, VB, VF])
        mstore = declare("llvm.masked.store.v16f32.p0", ir.VoidType(), [VF, VF.as_pointer(), I32, VB])
        fma = declare("llvm.fma.v16f32", VF, [VF, VF, VF])
        const = [ir.Constant(I64, LANES * v) for v in range(nv)]
        zero = ir.Constant(VF, None)

        def vec(ptr):
            return builder.bitcast(ptr, VF.as_pointer())

        def c_ptr(r, v):
            return vec(at(cp, builder.add(c0v, builder.mul(ldcv, ir.Constant(I64, r))), const[v]))

        def c_load(r, v):
            if not accumulate:
                return zero
            if v == nv - 1:
                return builder.call(mload, [c_ptr(r, v), ALIGN, last, zero])
            return builder.load(c_ptr(r, v), align=4)

        # Accumulators as stack slots: LLVM's mem2reg turns them into loop-carried registers.
        acc = [[cgutils.alloca_once_value(builder, c_load(r, v)) for v in range(nv)] for r in range(mr)]
        rows_a = [builder.mul(samv, ir.Constant(I64, r)) for r in range(mr)]
        def step(kidx):  # one k: NV vectors of B's row, MR broadcasts of A's column, MR*NV FMAs
            ao = builder.add(a0v, builder.mul(kidx, sakv))
            bo = builder.add(b0v, builder.mul(kidx, ldbv))
            ys = []
            for v in range(nv):
                ptr = vec(at(bp, bo, const[v]))
                ys.append(builder.call(mload, [ptr, ALIGN, last, zero]) if v == nv - 1
                          else builder.load(ptr, align=4))
            for r in range(mr):
                x = e.splat(builder.load(at(ap, ao, rows_a[r])), VF)
                for v in range(nv):
                    builder.store(builder.call(fma, [x, ys[v], builder.load(acc[r][v])]), acc[r][v])

        # two k per trip: a short K (the weight gradient's batch of 32) then costs half the loop
        # branches, and the loop's exit is predicted from a shorter count
        one = ir.Constant(I64, 1)
        with cgutils.for_range(builder, builder.ashr(kv, one)) as loop:
            k2 = builder.shl(loop.index, one)
            step(k2)
            step(builder.add(k2, one))
        with builder.if_then(builder.trunc(kv, ir.IntType(1))):
            step(builder.sub(kv, one))
        for r in range(mr):
            for v in range(nv):
                val = builder.load(acc[r][v])
                if v == nv - 1:
                    builder.call(mstore, [val, c_ptr(r, v), ALIGN, last])
                else:
                    builder.store(val, c_ptr(r, v), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _row_tiles(mr, nv, acc, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nl, m):
    """Tiles of mr rows (rows_per_tile's heights for nv) down m rows; the last one moves back
    to end at row m.  acc: add to C (needs mr to divide m)."""
    # A full last vector as a constant: LLVM then drops the masks of its loads and stores, which
    # cost the FMAs' ports extra uops (32x1024 @ 1024x64: 27.6 -> 25.3 us; 8x3 + 8x1 tiles there
    # 29.3 -> 24.9)
    if nl == LANES:
        _tiles(mr, nv, acc, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, LANES, m)
    else:
        _tiles(mr, nv, acc, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nl, m)


@njit(inline="always", **JIT)
def _tiles(mr, nv, acc, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nl, m):
    """_row_tiles' loop, inlined at both of its calls (numba's IR inlining) so one sees nl constant."""
    for i in range(0, m, mr):
        i = min(i, m - mr)
        ao, co = a0 + i * sam, c0 + i * ldc
        if nv == 4:
            if mr == 6:
                if acc:
                    tile(6, 4, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
                else:
                    tile(6, 4, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            elif acc:
                tile(4, 4, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            else:
                tile(4, 4, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
        elif nv == 3:
            if mr == 8:
                if acc:
                    tile(8, 3, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
                else:
                    tile(8, 3, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            elif acc:
                tile(4, 3, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            else:
                tile(4, 3, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
        elif nv == 2:
            if mr == 12:
                if acc:
                    tile(12, 2, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
                else:
                    tile(12, 2, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            elif acc:
                tile(8, 2, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            else:
                tile(8, 2, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
        elif mr == 12:
            if acc:
                tile(12, 1, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
            else:
                tile(12, 1, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
        elif acc:
            tile(8, 1, 1, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)
        else:
            tile(8, 1, 0, a, ao, sam, sak, b, b0, ldb, k, c, co, ldc, nl)


@njit(**JIT)
def rows_per_tile(nv, m):
    """Tile height for nv vectors: the tall tile (24 of the 32 zmm registers hold C) unless m is short
    and the short one tiles it exactly while the tall one would recompute rows."""
    tall = 6 if nv == 4 else (8 if nv == 3 else 12)
    short = 4 if nv >= 3 else 8
    if m % tall and m < 8 * tall and m % short == 0:
        return short
    return tall


@njit(**JIT)
def _geometry(j0, n, bw, m):
    """(vectors, lanes of the last vector, tile height) of the column block at j0."""
    w = min(bw, n - j0)
    nv = (w + LANES - 1) // LANES
    return nv, w - LANES * (nv - 1), rows_per_tile(nv, m)


@njit(**JIT)
def skinny_block(a, a0, sam, sak, b, b0, ldb, c, c0, ldc, m, n, k, kc, bw):
    """C (m x n at c[c0], row pitch ldc) = A (m x k at a[a0], strides sam, sak) @ B (k x n at b[b0],
    row pitch ldb, unit column stride): column blocks of bw (16..64), K in blocks of kc rows (where
    every block's tile height divides m; 0: one block).  Needs m >= 12 (the tallest tile).

    K blocks are the outer loop: a block of A (m x kc) then serves every column block from L1."""
    step = max(k, 1)
    if 0 < kc < k:
        step = kc
        for j0 in range(0, n, bw):
            if m % _geometry(j0, n, bw, m)[2]:
                step = max(k, 1)
    for p0 in range(0, max(k, 1), step):
        kk = min(step, k - p0)
        for j0 in range(0, n, bw):
            nv, nl, mr = _geometry(j0, n, bw, m)
            _row_tiles(mr, nv, p0 > 0, a, a0 + p0 * sak, sam, sak, b, b0 + p0 * ldb + j0, ldb, kk,
                       c, c0 + j0, ldc, nl, m)


@njit(**JIT)
def _serial(a, sam, sak, b, ldb, c, m, n, k, kc, bw):
    skinny_block(a, 0, sam, sak, b, 0, ldb, c, 0, n, m, n, k, kc, bw)


@njit(parallel=True, **JIT)
def _by_rows(a, sam, sak, b, ldb, c, m, n, k, kc, bw, parts):
    """skinny_block over threads, each a range of rows (whole 4-row groups where m allows)."""
    groups = m // 4
    for t in prange(parts):
        i0 = groups * t // parts * 4
        i1 = m if t == parts - 1 else groups * (t + 1) // parts * 4
        skinny_block(a, i0 * sam, sam, sak, b, 0, ldb, c, i0 * n, n, i1 - i0, n, k, kc, bw)


@njit(parallel=True, **JIT)
def _by_k(a, sam, sak, b, ldb, c, part, m, n, k, kc, bw, parts):
    """skinny_block over threads, each a range of K into its own m x n slice of `part` (thread 0
    into c); then c += the other slices, in thread order."""
    for t in prange(parts):
        p0, p1 = k * t // parts, k * (t + 1) // parts
        if t == 0:
            skinny_block(a, 0, sam, sak, b, 0, ldb, c, 0, n, m, n, p1 - p0, kc, bw)
        else:
            skinny_block(a, p0 * sak, sam, sak, b, p0 * ldb, ldb, part, (t - 1) * m * n, n, m, n,
                         p1 - p0, kc, bw)
    for t in range(1, parts):
        o = (t - 1) * m * n
        for i in range(m * n):
            c[i] += part[o + i]


MIN_ROWS = 12  # the tallest tile


_F32 = np.dtype(np.float32)  # compared as a dtype: against the type np.float32 costs twice as much


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, parts: int = 1,
           kc: int = 0, bw: int = BLOCK, by_k: bool = False) -> np.ndarray | None:
    """a @ b for 2-D float32 a (C- or F-contiguous, at least MIN_ROWS rows) and C-contiguous b, into
    out (C-contiguous, float32, overlapping neither) when given.  K in blocks of kc (0: one), C in
    column blocks of bw; parts > 1 threads split the rows, or K when by_k.  None (nothing done)
    for any other operands: the caller picks another product."""
    # every check here runs per call, in front of a ~20 us kernel: ravel() (a view for contiguous
    # arrays) rather than reshape, one flags object
    if a.dtype != _F32 or b.dtype != _F32 or a.ndim != 2 or b.ndim != 2:
        return None
    (m, k), (kb, n) = a.shape, b.shape
    if m < MIN_ROWS or kb != k or not b.flags.c_contiguous:
        return None
    fl = a.flags
    if fl.c_contiguous:
        af, sam, sak = a.ravel(), k, 1
    elif fl.f_contiguous:
        af, sam, sak = a.T.ravel(), 1, m
    else:
        return None
    if out is None:
        out = np.empty((m, n), _F32)
    elif (out.shape != (m, n) or out.dtype != _F32 or not out.flags.c_contiguous
          or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return None  # a tile stores rows of C while later tiles still read A and B
    bf, cf = b.ravel(), out.ravel()
    if parts > 1 and by_k and k >= 2 * parts:
        part = np.empty((parts - 1) * m * n, np.float32)
        _by_k(af, sam, sak, bf, n, cf, part, m, n, k, kc, bw, parts)
    elif parts > 1 and m >= 2 * MIN_ROWS * parts:
        _by_rows(af, sam, sak, bf, n, cf, m, n, k, kc, bw, parts)
    else:
        _serial(af, sam, sak, bf, n, cf, m, n, k, kc, bw)
    return out
