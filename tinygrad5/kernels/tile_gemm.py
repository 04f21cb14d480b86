"""float32 GEMM straight from the operands: a few rows (a batch) times a weight, at the FMA peak.

Why.  OpenBLAS packs both operands into panels on every call.  At the homework's sizes
(32x1024 @ 1024x64, 36x1024 @ 1024x32, 1024x32 @ 32x64) the packing and the ragged edges keep it
at 70-80 GFLOP/s of a core's ~110; our packed GEMM (gemm.py) pays the same.  Here nothing is
packed and every tile is full.

How.  `tile` is one LLVM-IR register tile: MR rows x NV 16-lane vectors of C (NV <= 4, up to 64
columns), kept in zmm registers for the whole loop over K.  Per k it loads NV vectors of B's row
k, broadcasts MR values of A's column k and issues MR*NV fused multiply-adds; after the loop it
stores the tile once.  B's rows must be unit-stride (any pitch: a weight, a column buffer); A may
have any strides, its values are loaded one at a time.  A row's last vector is masked when N is
not a multiple of 16.  A row tile that would run past M moves back to end at row M instead,
recomputing a few rows (the same values), so every tile is full and exactly one shape per NV
runs.  Every element of C is its k-ordered chain of FMAs, whatever the tiling or thread count:
serial and parallel results are bit-identical.

Written as an intrinsic (llvm.fma.v16f32, masked loads and stores), because numba's loop code
left the 16 accumulators of such a tile in memory (see BENCHMARKS.md, "Tried and not kept").
The intrinsic lives beside its callers: numba's disk cache notices edits to a kernel's own file.
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
def tile(typingctx, mr_t, nv_t, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nlast, pf):
    """C[c0 + r*ldc + j] = sum_p A[a0 + r*sam + p*sak] * B[b0 + p*ldb + j] for r < MR, j < 16*(NV-1)
    + nlast (MR, NV: compile-time constants; a, b, c: flat float32 arrays; k >= 0).  Per k it also
    prefetches b[b0 + pf + k*ldb] into L2 (pf: where the next tiles will read; 0 if nowhere)."""
    if not (isinstance(mr_t, types.IntegerLiteral) and isinstance(nv_t, types.IntegerLiteral)):
        return None
    if not all(isinstance(t, types.Array) and t.dtype == types.float32 for t in (a, b, c)):
        return None
    mr, nv = mr_t.literal_value, nv_t.literal_value
    sig = types.void(mr_t, nv_t, a, a0, sam, sak, b, b0, ldb, k, c, c0, ldc, nlast, pf)

    def codegen(context, builder, signature, args):  # pragma: no cover  (runs while numba compiles)
        e = IRArgs(context, builder, signature, args)
        int64, data, declare = e.int64, e.data, e.declare

        def at(base, *terms):  # pointer to element sum(terms) of base
            off = terms[0]
            for t in terms[1:]:
                off = builder.add(off, t)
            return builder.gep(base, [off])

        ap, bp, cp = data(2), data(6), data(10)
        a0v, samv, sakv, b0v, ldbv, kv, c0v, ldcv = (int64(i) for i in (3, 4, 5, 7, 8, 9, 11, 12))
        lanes = ir.Constant(VI, list(range(LANES)))
        last = builder.icmp_signed("<", lanes, e.splat(builder.trunc(int64(13), I32)))
        mload = declare("llvm.masked.load.v16f32.p0", VF, [VF.as_pointer(), I32, VB, VF])
        mstore = declare("llvm.masked.store.v16f32.p0", ir.VoidType(), [VF, VF.as_pointer(), I32, VB])
        fma = declare("llvm.fma.v16f32", VF, [VF, VF, VF])
        i8p = ir.IntType(8).as_pointer()
        prefetch = declare("llvm.prefetch.p0", ir.VoidType(), [i8p, I32, I32, I32])
        pfv = int64(14)
        const = [ir.Constant(I64, LANES * v) for v in range(nv)]

        def vec(ptr):
            return builder.bitcast(ptr, VF.as_pointer())

        # Accumulators as stack slots: LLVM's mem2reg turns them into loop-carried registers.
        acc = [[cgutils.alloca_once_value(builder, ir.Constant(VF, None)) for _ in range(nv)] for _ in range(mr)]
        rows_a = [builder.mul(samv, ir.Constant(I64, r)) for r in range(mr)]
        with cgutils.for_range(builder, kv) as loop:
            ao = builder.add(a0v, builder.mul(loop.index, sakv))
            bo = builder.add(b0v, builder.mul(loop.index, ldbv))
            # read, L2 (locality 2), data: the next column block's rows while this one computes
            builder.call(prefetch, [builder.bitcast(at(bp, bo, pfv), i8p), ir.Constant(I32, 0),
                                    ir.Constant(I32, 2), ir.Constant(I32, 1)])
            ys = []
            for v in range(nv):
                ptr = vec(at(bp, bo, const[v]))
                ys.append(builder.call(mload, [ptr, ALIGN, last, ir.Constant(VF, None)]) if v == nv - 1
                          else builder.load(ptr, align=4))
            for r in range(mr):
                x = e.splat(builder.load(at(ap, ao, rows_a[r])), VF)
                for v in range(nv):
                    builder.store(builder.call(fma, [x, ys[v], builder.load(acc[r][v])]), acc[r][v])
        for r in range(mr):
            co = builder.add(c0v, builder.mul(ldcv, ir.Constant(I64, r)))
            for v in range(nv):
                ptr, val = vec(at(cp, co, const[v])), builder.load(acc[r][v])
                if v == nv - 1:
                    builder.call(mstore, [val, ptr, ALIGN, last])
                else:
                    builder.store(val, ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def rows_per_tile(nv, m):
    """MR for tiles of nv vectors: the measured best register tile, or the one wasting fewest rows
    (36 rows: 6 tiles of 6 rather than 5 of 8)."""
    if nv == 4:
        return 4
    if nv == 3:
        return 5
    if nv == 2:
        return 6 if (m + 5) // 6 * 6 < (m + 7) // 8 * 8 else 8
    return 8


@njit(**JIT)
def gemm_block(a, a0, sam, sak, b, b0, ldb, c, c0, ldc, m, n, k):
    """C (m x n at c[c0], row pitch ldc) = A (m x k at a[a0], strides sam, sak) @ B (k x n at b[b0],
    row pitch ldb, unit column stride); needs m >= 8 (the tallest tile)."""
    for j0 in range(0, n, BLOCK):
        nv = (min(BLOCK, n - j0) + LANES - 1) // LANES
        nl = min(BLOCK, n - j0) - LANES * (nv - 1)
        mr = rows_per_tile(nv, m)
        nxt = BLOCK if j0 + BLOCK < n else 0  # a cold B (fc1's weight) streams in one block ahead
        # a full last vector as a constant: LLVM drops its loads' and stores' masks, which cost the
        # FMAs' ports extra uops (skinny_gemm measured 27.6 -> 25.3 us at 32x1024 @ 1024x64)
        if nl == LANES:
            _block_rows(a, a0, sam, sak, b, b0, ldb, c, c0, ldc, m, k, j0, nv, LANES, mr, nxt)
        else:
            _block_rows(a, a0, sam, sak, b, b0, ldb, c, c0, ldc, m, k, j0, nv, nl, mr, nxt)


@njit(inline="always", **JIT)
def _block_rows(a, a0, sam, sak, b, b0, ldb, c, c0, ldc, m, k, j0, nv, nl, mr, nxt):
    """The row tiles of gemm_block's column block at j0 (inlined at both calls: one sees nl constant)."""
    for i in range(0, m, mr):
        # each row tile prefetches one 16-wide line of the next block's rows, in turn
        pf = nxt + LANES * ((i // mr) % 4) if nxt else 0
        i = min(i, m - mr)  # the last tile ends at row m (see the module docstring)
        ao, co, bo = a0 + i * sam, c0 + i * ldc + j0, b0 + j0
        if nv == 4:
            tile(4, 4, a, ao, sam, sak, b, bo, ldb, k, c, co, ldc, nl, pf)
        elif nv == 3:
            tile(5, 3, a, ao, sam, sak, b, bo, ldb, k, c, co, ldc, nl, pf)
        elif mr == 6:
            tile(6, 2, a, ao, sam, sak, b, bo, ldb, k, c, co, ldc, nl, pf)
        elif nv == 2:
            tile(8, 2, a, ao, sam, sak, b, bo, ldb, k, c, co, ldc, nl, pf)
        else:
            tile(8, 1, a, ao, sam, sak, b, bo, ldb, k, c, co, ldc, nl, pf)


MIN_ROWS = 8


@njit(parallel=True, **JIT)
def _gemm_parallel(a, sam, sak, b, ldb, c, m, n, k, parts):
    """gemm_block over threads: column ranges of whole 64-wide blocks when N allows, else row ranges."""
    nblk = (n + BLOCK - 1) // BLOCK
    by_cols = nblk >= parts
    for t in prange(parts):
        if by_cols:
            j0, j1 = nblk * t // parts * BLOCK, min(n, nblk * (t + 1) // parts * BLOCK)
            gemm_block(a, 0, sam, sak, b, j0, ldb, c, j0, n, m, j1 - j0, k)
        else:
            i0, i1 = m * t // parts, m * (t + 1) // parts
            gemm_block(a, i0 * sam, sam, sak, b, 0, ldb, c, i0 * n, n, i1 - i0, n, k)


@njit(**JIT)
def _gemm_serial(a, sam, sak, b, ldb, c, m, n, k):
    gemm_block(a, 0, sam, sak, b, 0, ldb, c, 0, n, m, n, k)


def _flat(x: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """(x's buffer as a flat view, row stride, column stride), in elements; None unless contiguous."""
    if x.flags.c_contiguous:
        return x.reshape(-1), x.shape[1], 1
    if x.flags.f_contiguous:
        return x.T.reshape(-1), 1, x.shape[0]
    return None


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, parts: int = 1) -> np.ndarray | None:
    """a @ b for 2-D float32 a (C- or F-contiguous, at least MIN_ROWS rows) and C-contiguous b, into
    out (C-contiguous, float32, overlapping neither) when given; parts > 1 spreads it over that many
    threads.  None (nothing done) for any other operands: the caller picks another product."""
    if a.dtype != np.float32 or b.dtype != np.float32 or a.ndim != 2 or b.ndim != 2 or not b.flags.c_contiguous:
        return None
    (m, k), n = a.shape, b.shape[1]
    fa = _flat(a)
    if fa is None or m < MIN_ROWS or b.shape[0] != k:
        return None
    if out is None:
        out = np.empty((m, n), np.float32)
    elif (out.shape != (m, n) or out.dtype != np.float32 or not out.flags.c_contiguous
          or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return None  # a tile stores rows of C while later tiles still read A and B
    af, sam, sak = fa
    if parts > 1 and (n + BLOCK - 1) // BLOCK < parts and m < parts * MIN_ROWS:
        parts = 1  # neither whole column blocks nor full row tiles for every thread
    if parts > 1:
        _gemm_parallel(af, sam, sak, b.reshape(-1), n, out.reshape(-1), m, n, k, parts)
    else:
        _gemm_serial(af, sam, sak, b.reshape(-1), n, out.reshape(-1), m, n, k)
    return out
