"""Shared numba plumbing for the kernels: jit options and stack-allocated register tiles.

The GEMM takes 1-D C-contiguous buffers plus integer offsets/strides (in elements) instead of N-d
arrays: numba specialises a function on each argument's layout ('C', 'F', 'A'), so passing views of
arbitrary layout would compile a new signature per layout; flat buffers keep it to one signature
per dtype (float32, float64), compiled lazily on first use and cached on disk.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# 'contract' lets LLVM fuse a*b+c into FMA.  'reassoc' is deliberately absent: with it LLVM's loop
# vectoriser treats the GEMM k-loop as a reduction and vectorises *across k* with gathers (measured
# 2 GFLOP/s); without it the k-loop stays scalar and the SLP vectoriser packs the unrolled j-lanes
# into zmm/ymm FMAs (measured 107 GFLOP/s f32 on one core).  No 'nnan'/'ninf': NaN/inf must propagate.
FASTMATH = {"contract"}

# Register tile of the GEMM micro-kernel: MR rows of A times NR columns of B.  6x16 float32 is
# 6 zmm accumulators on AVX-512 (12 ymm on AVX2: the classic 6x16 Haswell shape, 15 of 16 registers).
MR = 6
NR = 16

JIT = dict(cache=True, nogil=True)


@intrinsic
def stack_tile(typingctx, like):
    """Return a CPointer to an uninitialised MR*NR buffer on the stack, of like's dtype.

    A stack buffer (LLVM alloca) that is only indexed with constants after unrolling is promoted
    to registers by SROA; a heap buffer (np.empty) would not be, because LLVM cannot prove it does
    not alias the packed panels, so every FMA would round-trip through memory.
    """
    dtype = like.dtype
    sig = types.CPointer(dtype)(like)

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype), size=MR * NR)

    return sig, codegen


@intrinsic
def stack_buf(typingctx, like, n):
    """Return a CPointer to an uninitialised stack buffer of n (a compile-time constant) values."""
    if not isinstance(n, types.IntegerLiteral):
        return None
    size = n.literal_value
    dtype = like.dtype
    sig = types.CPointer(dtype)(like, n)

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype), size=size)

    return sig, codegen


@intrinsic
def int_bits_as_float32(typingctx, x):
    """The float32 whose bit pattern is the low 32 bits of integer x (a free register move)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0] if x.bitwidth == 32 else builder.trunc(args[0], ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(x), codegen


@intrinsic
def add_into16(typingctx, dst, doff, src, soff, n):
    """dst[doff:doff+n] += src[soff:soff+n] for 0 <= n <= 16 as one masked 16-lane load/add/store.

    LLVM's loop vectoriser leaves a loop shorter than its vector width scalar (col2im's 10-long
    LeNet runs); a masked access touches only the first n lanes (the others never fault).
    """
    if not (isinstance(dst, types.Array) and dst.ndim == 1 and dst.dtype in (types.float32, types.float64)
            and isinstance(src, types.Array) and src.ndim == 1 and src.dtype == dst.dtype):
        return None
    sig = types.void(dst, doff, src, soff, n)

    def codegen(context, builder, signature, args):
        fty = context.get_value_type(dst.dtype)
        vty, mty = ir.VectorType(fty, 16), ir.VectorType(ir.IntType(1), 16)
        i32, i64 = ir.IntType(32), ir.IntType(64)

        def lanes(i_arr, i_off):  # pointer to element args[i_off] of array args[i_arr], as a vector
            arr = context.make_array(signature.args[i_arr])(context, builder, args[i_arr])
            off = context.cast(builder, args[i_off], signature.args[i_off], types.intp)
            return builder.bitcast(builder.gep(arr.data, [off]), vty.as_pointer())

        count = context.cast(builder, args[4], signature.args[4], types.int64)
        i64x16 = ir.VectorType(i64, 16)
        splat = builder.insert_element(ir.Constant(i64x16, ir.Undefined), count, ir.Constant(i32, 0))
        splat = builder.shuffle_vector(splat, ir.Constant(i64x16, ir.Undefined),
                                       ir.Constant(ir.VectorType(i32, 16), [0] * 16))
        mask = builder.icmp_unsigned("<", ir.Constant(i64x16, list(range(16))), splat)  # lanes 0..n-1
        suffix = ("v16f32" if dst.dtype == types.float32 else "v16f64") + ".p0"
        load = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty.as_pointer(), i32, mty, vty]), "llvm.masked.load." + suffix)
        store = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vty, vty.as_pointer(), i32, mty]),
            "llvm.masked.store." + suffix)
        align = ir.Constant(i32, dst.dtype.bitwidth // 8)
        zero = ir.Constant(vty, None)
        d = lanes(0, 1)
        total = builder.fadd(builder.call(load, [d, align, mask, zero]),
                             builder.call(load, [lanes(2, 3), align, mask, zero]))
        builder.call(store, [total, d, align, mask])
        return context.get_dummy_value()

    return sig, codegen


def native_float(dt: np.dtype) -> bool:
    """float32 or float64 in this machine's byte order: what the kernels are compiled for."""
    return dt.char in "fd" and dt.isnative


def c_array(x: np.ndarray, dtype=None) -> np.ndarray:
    """C-contiguous and writeable (numba compiles read-only arrays as a separate signature)."""
    y = np.ascontiguousarray(x, dtype=dtype)
    return y if y.flags.writeable else y.copy()


__all__ = ["add_into16", "c_array", "int_bits_as_float32", "native_float", "FASTMATH", "MR", "NR", "JIT", "njit",
           "stack_tile", "stack_buf"]
