"""2x2, stride-2 max pooling of one row pair as 16-lane vector code (an LLVM intrinsic).

Why.  LeNet's pooled rows are 14 and 5 outputs long.  LLVM's loop vectoriser leaves loops that
short scalar, so the plain kernel spent ~10 cycles per output (pool.py's generic loop).  Here one
call handles up to 16 outputs of a row pair: two masked 16-lane loads per input row (lanes past
the row are never touched), a shuffle that splits even and odd columns, and the window maximum,
argmax and ReLU cut as vector selects, stored with a mask.

The rules are pool.py's, lane by lane: taps in row-major order, a tap wins if it is greater or is
the first NaN (numpy.argmax); with relu, a maximum that fails `> 0` becomes 0 (NaN stays NaN) and
its index -(index + 1).  float32 only: float64 keeps the scalar loop.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16


def _splat(builder: ir.IRBuilder, value: ir.Value, vty: ir.VectorType) -> ir.Value:
    """A vector with value in every lane."""
    i32 = ir.IntType(32)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(i32, 0))
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES), [0] * LANES))


@intrinsic
def pool2x2_row16(typingctx, x, r0, i0, w, out, idx, o0, n, relu):
    """out[o0 + j], idx[o0 + j] for j < n <= 16: the max of x[r0 + 2j], x[r0 + 2j + 1], x[r0 + w + 2j],
    x[r0 + w + 2j + 1] and its index, counted from i0 at x[r0] (ReLU applied when relu); see the
    module docstring."""
    if not (isinstance(x, types.Array) and x.ndim == 1 and x.dtype == types.float32
            and isinstance(out, types.Array) and out.ndim == 1 and out.dtype == types.float32
            and isinstance(idx, types.Array) and idx.ndim == 1 and idx.dtype == types.int32):
        return None
    sig = types.void(x, r0, i0, w, out, idx, o0, n, relu)

    def codegen(context, builder, signature, args):
        f32, i32, i64, i1 = ir.FloatType(), ir.IntType(32), ir.IntType(64), ir.IntType(1)
        vf, vi, vb = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES), ir.VectorType(i1, LANES)
        argtys = signature.args

        def arg64(i):
            return context.cast(builder, args[i], argtys[i], types.int64)

        def arg_i32(i):  # index values and counts: int32, as the stored indices
            return builder.trunc(arg64(i), i32)

        def ptr(i_arr, offset, vty):  # element `offset` (i64) of array args[i_arr], as a vector pointer
            arr = context.make_array(argtys[i_arr])(context, builder, args[i_arr])
            return builder.bitcast(builder.gep(arr.data, [offset]), vty.as_pointer())

        def masked(name, vty, ret, params):
            suffix = f"v{LANES}{'f32' if vty.element == f32 else 'i32'}.p0"
            return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, params),
                                                  f"llvm.masked.{name}.{suffix}")

        load = masked("load", vf, vf, [vf.as_pointer(), i32, vb, vf])
        store_f = masked("store", vf, ir.VoidType(), [vf, vf.as_pointer(), i32, vb])
        store_i = masked("store", vi, ir.VoidType(), [vi, vi.as_pointer(), i32, vb])
        four = ir.Constant(i32, 4)
        lane = ir.Constant(vi, list(range(LANES)))
        r0v, o0v, i0v, wv, nv = arg64(1), arg64(6), arg_i32(2), arg_i32(3), arg_i32(7)
        two_n = _splat(builder, builder.mul(nv, ir.Constant(i32, 2)), vi)
        lo_mask = builder.icmp_signed("<", lane, two_n)
        hi_mask = builder.icmp_signed("<", builder.add(lane, ir.Constant(vi, [LANES] * LANES)), two_n)
        zero = ir.Constant(vf, None)

        def row_pair(start):  # (even columns, odd columns) of the 2n values from x[start]
            lo = builder.call(load, [ptr(0, start, vf), four, lo_mask, zero])
            hi = builder.call(load, [ptr(0, builder.add(start, ir.Constant(i64, LANES)), vf), four, hi_mask, zero])
            ev = builder.shuffle_vector(lo, hi, ir.Constant(vi, list(range(0, 2 * LANES, 2))))
            od = builder.shuffle_vector(lo, hi, ir.Constant(vi, list(range(1, 2 * LANES, 2))))
            return ev, od

        (a, b), (c, d) = row_pair(r0v), row_pair(builder.add(r0v, builder.sext(wv, i64)))
        base = builder.add(_splat(builder, i0v, vi), builder.mul(lane, ir.Constant(vi, [2] * LANES)))
        best, bi = a, base
        one = ir.Constant(i32, 1)
        for v, off in ((b, one), (c, wv), (d, builder.add(wv, one))):  # offsets past the top-left tap
            nan_wins = builder.and_(builder.fcmp_unordered("uno", v, v), builder.fcmp_ordered("ord", best, best))
            take = builder.or_(builder.fcmp_ordered(">", v, best), nan_wins)
            best = builder.select(take, v, best)
            bi = builder.select(take, builder.add(base, _splat(builder, off, vi)), bi)
        relu_on = builder.icmp_signed("!=", context.cast(builder, args[8], argtys[8], types.int64),
                                      ir.Constant(ir.IntType(64), 0))
        keep = builder.fcmp_ordered(">", best, zero)
        cut_val = builder.select(builder.fcmp_ordered("<=", best, zero), zero, best)  # NaN fails <= 0: kept
        cut_idx = builder.select(keep, bi, builder.sub(ir.Constant(vi, [-1] * LANES), bi))
        best = builder.select(relu_on, cut_val, best)
        bi = builder.select(relu_on, cut_idx, bi)
        out_mask = builder.icmp_signed("<", lane, _splat(builder, nv, vi))
        builder.call(store_f, [best, ptr(4, o0v, vf), four, out_mask])
        builder.call(store_i, [bi, ptr(5, o0v, vi), four, out_mask])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def unpool2x2_row16(typingctx, g, idx, o0, n, gx, r0, i0, w):
    """The backward of pool2x2_row16 for one row pair: writes all four taps of windows j < n <= 16,
    gx[r0 + 2j], gx[r0 + 2j + 1], gx[r0 + w + 2j], gx[r0 + w + 2j + 1]: 0 + g[o0 + j] at the tap
    idx[o0 + j] names (counted from i0 at gx[r0]), 0 + g * 0 where the index is a ReLU cut
    -(index + 1), 0 at the other taps: what zeroing gx and adding g through the index gives."""
    if not (isinstance(g, types.Array) and g.ndim == 1 and g.dtype == types.float32
            and isinstance(gx, types.Array) and gx.ndim == 1 and gx.dtype == types.float32
            and isinstance(idx, types.Array) and idx.ndim == 1 and idx.dtype == types.int32):
        return None
    sig = types.void(g, idx, o0, n, gx, r0, i0, w)

    def codegen(context, builder, signature, args):
        f32, i32, i64, i1 = ir.FloatType(), ir.IntType(32), ir.IntType(64), ir.IntType(1)
        vf, vi, vb = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES), ir.VectorType(i1, LANES)
        argtys = signature.args

        def arg64(i):
            return context.cast(builder, args[i], argtys[i], types.int64)

        def ptr(i_arr, offset, vty):
            arr = context.make_array(argtys[i_arr])(context, builder, args[i_arr])
            return builder.bitcast(builder.gep(arr.data, [offset]), vty.as_pointer())

        def masked(name, vty, ret, params):
            suffix = f"v{LANES}{'f32' if vty.element == f32 else 'i32'}.p0"
            return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, params),
                                                  f"llvm.masked.{name}.{suffix}")

        load_f = masked("load", vf, vf, [vf.as_pointer(), i32, vb, vf])
        load_i = masked("load", vi, vi, [vi.as_pointer(), i32, vb, vi])
        store_f = masked("store", vf, ir.VoidType(), [vf, vf.as_pointer(), i32, vb])
        four = ir.Constant(i32, 4)
        lane = ir.Constant(vi, list(range(LANES)))
        o0v, r0v = arg64(2), arg64(5)
        nv, i0v, wv = (builder.trunc(arg64(i), i32) for i in (3, 6, 7))
        zero = ir.Constant(vf, None)
        in_mask = builder.icmp_signed("<", lane, _splat(builder, nv, vi))
        gv = builder.call(load_f, [ptr(0, o0v, vf), four, in_mask, zero])
        iv = builder.call(load_i, [ptr(1, o0v, vi), four, in_mask, ir.Constant(vi, None)])
        cut = builder.icmp_signed("<", iv, ir.Constant(vi, None))
        j = builder.select(cut, builder.sub(ir.Constant(vi, [-1] * LANES), iv), iv)
        val = builder.fadd(zero, builder.select(cut, builder.fmul(gv, zero), gv))
        rel = builder.sub(j, builder.add(_splat(builder, i0v, vi), builder.mul(lane, ir.Constant(vi, [2] * LANES))))
        one = ir.Constant(i32, 1)
        taps = [builder.select(builder.icmp_signed("==", rel, _splat(builder, off, vi)), val, zero)
                for off in (ir.Constant(i32, 0), one, wv, builder.add(wv, one))]
        two_n = _splat(builder, builder.mul(nv, ir.Constant(i32, 2)), vi)
        lo_mask = builder.icmp_signed("<", lane, two_n)
        hi_mask = builder.icmp_signed("<", builder.add(lane, ir.Constant(vi, [LANES] * LANES)), two_n)
        lo_order = ir.Constant(vi, [k // 2 + (k % 2) * LANES for k in range(LANES)])  # e0 o0 e1 o1 ...
        hi_order = ir.Constant(vi, [LANES // 2 + k // 2 + (k % 2) * LANES for k in range(LANES)])
        for row, (ev, od) in enumerate((taps[:2], taps[2:])):
            start = r0v if row == 0 else builder.add(r0v, builder.sext(wv, i64))
            builder.call(store_f, [builder.shuffle_vector(ev, od, lo_order), ptr(4, start, vf), four, lo_mask])
            builder.call(store_f, [builder.shuffle_vector(ev, od, hi_order),
                                   ptr(4, builder.add(start, ir.Constant(i64, LANES)), vf), four, hi_mask])
        return context.get_dummy_value()

    return sig, codegen
