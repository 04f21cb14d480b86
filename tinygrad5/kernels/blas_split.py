"""Mid-sized matrix products as two OpenBLAS calls, one per core, launched from one numba kernel.

Why.  The products of a small MLP step (32x1024 @ 1024x64, 36x32 @ 32x1024, their gradients) are
too small for our packed GEMM to pay for its packing and too big for OpenBLAS's single-threaded
small-matrix path: OpenBLAS leaves that path above about 1e6 multiply-adds and then runs at half
its speed.  Splitting the product along its longer output side into one block per core keeps each
block near the fast path and uses both cores, e.g. 36x32 @ 32x1024 45 -> 16 us, 32x1024 @ 1024x64
51 -> 32 us (BENCHMARKS.md).

How.  Each numba worker calls a BLAS `sgemm`/`dgemm` on its block through pointers, so no operand
is copied.  The BLAS is numpy's own OpenBLAS when it exports ILP64 Fortran symbols (numpy's wheels
do; here it is up to 20% faster than scipy's at K = 1024), else scipy's (scipy.linalg.cython_blas,
the entry numba's own np.dot uses).  Its address is registered with LLVM under a fixed symbol name
on first use, which keeps the compiled kernel cacheable on disk: the address is resolved in each
process, never stored.  The BLAS integer width is a compile-time type (an int32/int64 marker
argument), so both providers' kernels can sit in the same cache.  tinygrad5.threads keeps OpenBLAS
single-threaded, so the two calls run at once on their own cores without OpenBLAS's own pool.
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import get_cython_function_address, intrinsic

from .. import threads
from ._jit import JIT, njit

# ILP64 Fortran names that numpy's bundled OpenBLAS (scipy-openblas64) exports, in order of preference.
_ILP64_NAMES = ("scipy_{}_64_", "{}_64_")
_CHAR = {True: ord("N"), False: ord("T")}  # row-major operand -> BLAS 'N', column-major -> 'T'
_provider: dict[str, object] = {}  # "marker": np.int32(0) | np.int64(0); "name": the library


def _symbol(dtype: types.Type, int_type: types.Integer) -> str:
    """The LLVM symbol our kernels call for this float type and BLAS integer width."""
    return f"tinygrad5_{'s' if dtype == types.float32 else 'd'}gemm_i{int_type.bitwidth}"


def _find_ilp64_openblas() -> tuple[int, int, str] | None:
    """(sgemm address, dgemm address, library path) of a loaded ILP64 OpenBLAS, or None."""
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        if info.get("internal_api") != "openblas":
            continue
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            continue
        for pattern in _ILP64_NAMES:
            try:
                fns = getattr(lib, pattern.format("sgemm")), getattr(lib, pattern.format("dgemm"))
            except AttributeError:
                continue
            s, d = (ctypes.cast(f, ctypes.c_void_p).value for f in fns)
            return s, d, info["filepath"]
    return None


def provider() -> str:
    """Register the BLAS with LLVM (once, before any kernel loads) and name the library used."""
    if not _provider:
        found = _find_ilp64_openblas()
        if found is not None:
            saddr, daddr, name = found
            marker = np.int64(0)
        else:
            saddr, daddr = (get_cython_function_address("scipy.linalg.cython_blas", f) for f in ("sgemm", "dgemm"))
            marker, name = np.int32(0), "scipy.linalg.cython_blas"
        itype = types.int64 if marker.dtype == np.int64 else types.int32
        llvm.add_symbol(_symbol(types.float32, itype), saddr)
        llvm.add_symbol(_symbol(types.float64, itype), daddr)
        _provider.update(marker=marker, name=name)
    return str(_provider["name"])


@intrinsic
def _fortran_gemm(typingctx, marker, transa, transb, m, n, k, a, aoff, lda, b, boff, ldb, beta, c, coff, ldc):
    """BLAS ?gemm on flat arrays, column-major: C[coff:] = op(A[aoff:]) @ op(B[boff:]) + beta*C."""
    if not (isinstance(c, types.Array) and c.dtype in (types.float32, types.float64)
            and isinstance(marker, types.Integer) and marker.bitwidth in (32, 64)):
        return None
    dtype, itype = c.dtype, marker
    sig = types.void(marker, transa, transb, m, n, k, a, aoff, lda, b, boff, ldb, beta, c, coff, ldc)

    def codegen(context, builder, signature, args):
        fty, ity, i8 = context.get_value_type(dtype), context.get_value_type(itype), ir.IntType(8)
        argtys = signature.args

        def by_ref(i, ty):  # argument i cast to ty, stored in an entry-block slot
            return cgutils.alloca_once_value(builder, context.cast(builder, args[i], argtys[i], ty))

        def data(i, off):  # pointer to element args[off] of array args[i]
            arr = context.make_array(argtys[i])(context, builder, args[i])
            return builder.gep(arr.data, [context.cast(builder, args[off], argtys[off], types.intp)])

        chars = [cgutils.alloca_once_value(builder, builder.trunc(args[i], i8)) for i in (1, 2)]
        one = cgutils.alloca_once_value(builder, ir.Constant(fty, 1.0))
        fp, ip = fty.as_pointer(), ity.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8.as_pointer()] * 2 + [ip] * 3 + [fp, fp, ip, fp, ip, fp, fp, ip])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _symbol(dtype, itype))
        builder.call(fn, chars + [by_ref(3, itype), by_ref(4, itype), by_ref(5, itype), one,
                                  data(6, 7), by_ref(8, itype), data(9, 10), by_ref(11, itype),
                                  by_ref(12, dtype), data(13, 14), by_ref(15, itype)])
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _block(marker, a, aoff, ach, lda, b, boff, bch, ldb, c, coff, ldc, m, n, k):
    """Row-major C (m x n) = op(A) @ op(B): BLAS sees C transposed, so it computes op(B)^T op(A)^T."""
    _fortran_gemm(marker, bch, ach, n, m, k, b, boff, ldb, a, aoff, lda, 0.0, c, coff, ldc)


@njit(parallel=True, **JIT)
def _split(marker, a, ach, lda, b, bch, ldb, c, ldc, m, n, k, split_cols, parts):
    """C = op(A) @ op(B) as `parts` BLAS calls on blocks of C's columns (or rows), one per thread."""
    for t in prange(parts):
        if split_cols:
            lo, hi = n * t // parts, n * (t + 1) // parts
            boff = lo if bch == 78 else lo * ldb  # 78 = 'N': B row-major
            _block(marker, a, 0, ach, lda, b, boff, bch, ldb, c, lo, ldc, m, hi - lo, k)
        else:
            lo, hi = m * t // parts, m * (t + 1) // parts
            aoff = lo * lda if ach == 78 else lo
            _block(marker, a, aoff, ach, lda, b, 0, bch, ldb, c, lo * ldc, ldc, hi - lo, n, k)


@njit(parallel=True, **JIT)
def _column_blocks(marker, a, lda, b, ldb, c, bias, has_bias, m, p, k, groups, parts):
    """c[g] (m x p) = a (m x k) @ b[:, g*p:(g+1)*p] (+ bias per row): the groups spread over threads,
    one BLAS call each, and each block's bias added while it is still in this core's cache."""
    for t in prange(parts):
        for g in range(groups * t // parts, groups * (t + 1) // parts):
            _block(marker, a, 0, 78, lda, b, g * p, 78, ldb, c, g * m * p, p, m, p, k)
            if has_bias:
                for i in range(m):
                    row = c[g * m * p + i * p:g * m * p + (i + 1) * p]
                    for j in range(p):
                        row[j] += bias[i]


def _operand(x: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """(flat view, BLAS trans char, leading dim) of a contiguous writeable 2-D array, else None."""
    if not x.flags.writeable:
        return None  # numba would compile a second signature for read-only buffers
    if x.flags.c_contiguous:
        return x.reshape(-1), _CHAR[True], max(x.shape[1], 1)
    if x.flags.f_contiguous:
        return x.T.reshape(-1), _CHAR[False], max(x.shape[0], 1)
    return None


def _fits_blas_ints(*dims: int) -> bool:
    """Whether every size and leading dimension fits the provider's BLAS integers."""
    return _provider["marker"].dtype == np.int64 or max(dims) < 2 ** 31


def matmul_split(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None,
                 parts: int | None = None) -> np.ndarray | None:
    """a (M, K) @ b (K, N) as `parts` concurrent BLAS calls (default: one per thread); None when
    the operands do not fit.

    a and b must share a native float32/float64 dtype and be C- or F-contiguous and writeable
    (views such as x.T are fine), and out must not overlap them; otherwise None is returned and
    nothing is written.  out, if given, is C-contiguous of the result's shape and dtype.  The
    longer of M and N is split, so every call keeps the whole inner dimension and no partial sums
    need adding.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul_split needs (M,K) @ (K,N), got {a.shape} @ {b.shape}")
    threads.ensure_policy()  # before asking for the thread count: that starts numba's pool
    if parts is None:
        parts = threads.get_num_threads()
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"matmul_split needs parts >= 1, got {parts!r}")
    m, k = a.shape
    n = b.shape[1]
    if out is not None and (out.shape != (m, n) or out.dtype != a.dtype or not out.flags.c_contiguous
                            or not out.flags.writeable):
        raise ValueError(f"out must be writeable C-contiguous {a.dtype} {(m, n)}, got {out.dtype} {out.shape}")
    if a.dtype != b.dtype or a.dtype.char not in "fd" or not a.dtype.isnative:
        return None
    pa, pb = _operand(a), _operand(b)
    if pa is None or pb is None:
        return None
    if out is None:
        out = np.empty((m, n), a.dtype)
    elif np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return None  # BLAS would read what it already wrote; numpy's matmul buffers this case
    if out.size == 0 or k == 0:
        out[...] = 0
        return out
    if not _provider:
        provider()
    if not _fits_blas_ints(m, n, k, pa[2], pb[2]):
        return None
    _split(_provider["marker"], pa[0], pa[1], pa[2], pb[0], pb[1], pb[2], out.reshape(-1), n, m, n, k,
           n >= m, min(parts, max(m, n)))
    return out


def gemm_column_blocks(a: np.ndarray, b: np.ndarray, out: np.ndarray, bias: np.ndarray | None = None,
                       parts: int | None = None) -> bool:
    """out[g] = a @ b[:, g*P:(g+1)*P] (+ bias[:, None]) for out (G, M, P), a (M, K), b (K, G*P): a
    convolution's W @ cols written straight in (N, O, OH*OW) order, one BLAS call per group.

    All arrays C-contiguous, writeable, one native float dtype, out overlapping none of the others;
    False (nothing written) otherwise.  parts defaults to one per thread.
    """
    groups, m, p = out.shape
    k = a.shape[1]
    if a.shape != (m, k) or b.shape != (k, groups * p) or (bias is not None and bias.shape != (m,)):
        raise ValueError(f"gemm_column_blocks: a {a.shape} @ b {b.shape} does not give out {out.shape}")
    dt = a.dtype
    arrays = (a, b, out) if bias is None else (a, b, out, bias)
    if (dt.char not in "fd" or not dt.isnative
            or any(x.dtype != dt or not x.flags.c_contiguous or not x.flags.writeable for x in arrays)):
        return False
    if out.size == 0:
        return True
    if k == 0:
        out[...] = 0 if bias is None else bias[:, None]
        return True
    if any(np.may_share_memory(out, x) for x in arrays[:2] + arrays[3:]):
        return False  # out must not overlap an input (see matmul_split)
    threads.ensure_policy()
    if not _provider:
        provider()
    if not _fits_blas_ints(m, p, k, groups * p):
        return False
    bv = bias if bias is not None else a.reshape(-1)[:0]
    _column_blocks(_provider["marker"], a.reshape(-1), k, b.reshape(-1), groups * p, out.reshape(-1), bv,
                   bias is not None, m, p, k, groups, max(1, min(parts or threads.get_num_threads(), groups)))
    return True
