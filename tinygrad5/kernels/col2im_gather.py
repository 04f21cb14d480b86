"""col2im for stride 1 by gathering: each 16-wide piece of an input-gradient row is summed in registers
from the column-gradient rows that reach it, and stored once.

Why.  The scatter form (conv.py's _col2im_scatter) zeroes gx, then adds every run of OW values of
every column row into it: for LeNet's conv2 that is 5,000 load-add-store runs of 10 values per
sample (~15 us), each waiting on the store before it.  For stride 1 the input pixel (y, x) gets
column row (c, ky, kx) at output position (y + ph - ky, x + pw - kx), so one input row of one
channel is the sum over (ky, kx) of column rows shifted by kx: a masked 16-lane load each (lanes
whose output column falls outside [0, OW) masked off), added in registers, stored once.  No
zeroing pass; every gx value is written.

Exactness.  A gx value receives its terms in (ky, kx) order starting from 0, the order of the
scatter form, so both give the same bits.

conv.py's _col2im_one picks this for float32 at stride 1, on both conv paths.  The intrinsic
lives beside its caller: numba's disk cache notices edits to a kernel's own file only.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._ir import ALIGN, I32, I64, IRArgs, LANES, VB, VF, VI
from ._jit import JIT, njit



@intrinsic
def gather_row16(typingctx, nc_t, cf, crow0, cstep, pitch, kw, ky_lo, ky_hi, yp, ow, pw, w, x0, gf, d, dstep):
    """For channels i < NC (a compile-time constant): gf[d + i*dstep + j] = sum over ky in [ky_lo,
    ky_hi), kx < kw of cf[crow0 + i*cstep + (ky*kw + kx)*pitch + (yp - ky)*ow + x0 + j - kx + pw],
    lanes j < min(16, w - x0) whose output column x0 + j - kx + pw lies in [0, ow) (float32 flat
    arrays; yp = y + ph).  NC channels at once: NC independent chains of adds in flight."""
    if not (isinstance(nc_t, types.IntegerLiteral)
            and all(isinstance(t, types.Array) and t.dtype == types.float32 for t in (cf, gf))):
        return None
    nc = nc_t.literal_value
    sig = types.void(nc_t, cf, crow0, cstep, pitch, kw, ky_lo, ky_hi, yp, ow, pw, w, x0, gf, d, dstep)

    def codegen(context, builder, signature, args):  # pragma: no cover  (runs while numba compiles)
        e = IRArgs(context, builder, signature, args)
        int64, data, declare = e.int64, e.data, e.declare

        def splat(value):  # an int64 value in every int32 lane
            return e.splat(builder.trunc(value, I32))

        def vptr(base, off):
            return builder.bitcast(builder.gep(base, [off]), VF.as_pointer())

        cp, gp = data(1), data(13)
        crow0, cstep, pitch, kw, ky_lo, ky_hi, yp, ow, pw, w, x0, d, dstep = (
            int64(i) for i in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15))
        mload = declare("llvm.masked.load.v16f32.p0", VF, [VF.as_pointer(), I32, VB, VF])
        mstore = declare("llvm.masked.store.v16f32.p0", ir.VoidType(), [VF, VF.as_pointer(), I32, VB])
        lanes = ir.Constant(VI, list(range(LANES)))
        in_row = builder.icmp_signed("<", lanes, splat(builder.sub(w, x0)))  # x0 + j < w
        accs = [cgutils.alloca_once_value(builder, ir.Constant(VF, None)) for _ in range(nc)]
        with cgutils.for_range(builder, builder.sub(ky_hi, ky_lo)) as ky_loop:
            ky = builder.add(ky_lo, ky_loop.index)
            row = builder.add(crow0, builder.mul(builder.mul(ky, kw), pitch))
            src0 = builder.add(row, builder.mul(builder.sub(yp, ky), ow))
            with cgutils.for_range(builder, kw) as kx_loop:
                kx = kx_loop.index
                shift = builder.add(builder.sub(x0, kx), pw)  # output column of lane 0
                col = builder.add(lanes, splat(shift))
                ok = builder.and_(builder.and_(builder.icmp_signed(">=", col, ir.Constant(VI, [0] * LANES)),
                                               builder.icmp_signed("<", col, splat(ow))), in_row)
                src = builder.add(builder.add(src0, builder.mul(kx, pitch)), shift)
                for i, acc in enumerate(accs):
                    at = builder.add(src, builder.mul(cstep, ir.Constant(I64, i)))
                    part = builder.call(mload, [vptr(cp, at), ALIGN, ok, ir.Constant(VF, None)])
                    builder.store(builder.fadd(builder.load(acc), part), acc)
        for i, acc in enumerate(accs):
            at = builder.add(d, builder.mul(dstep, ir.Constant(I64, i)))
            builder.call(mstore, [builder.load(acc), vptr(gp, at), ALIGN, in_row])
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def col2im_gather(gcols, n, gx, col0, kh, kw, ph, pw, oh, ow):
    """gx[n] = col2im of gcols' columns [col0, col0 + OH*OW) for stride 1 (float32; see the module
    docstring): the scatter form's result, bit for bit."""
    c_in, h, w = gx.shape[1], gx.shape[2], gx.shape[3]
    gf, cf, pitch = gx.reshape(-1), gcols.reshape(-1), gcols.shape[1]
    cstep = kh * kw * pitch
    for y in range(h):
        ky_lo, ky_hi = max(0, y + ph - oh + 1), min(kh, y + ph + 1)
        ky_hi = max(ky_lo, ky_hi)
        for x0 in range(0, w, LANES):
            # four channels per call: each add waits on the one before it (a 3-cycle latency)
            for c in range(0, c_in - 3, 4):
                gather_row16(4, cf, c * cstep + col0, cstep, pitch, kw, ky_lo, ky_hi, y + ph, ow, pw, w, x0,
                             gf, ((n * c_in + c) * h + y) * w + x0, h * w)
            for c in range(c_in - c_in % 4, c_in):
                gather_row16(1, cf, c * cstep + col0, cstep, pitch, kw, ky_lo, ky_hi, y + ph, ow, pw, w, x0,
                             gf, ((n * c_in + c) * h + y) * w + x0, h * w)
