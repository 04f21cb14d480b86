"""2x2, stride-2 max pooling (LeNet's two pools) over the row pairs of every plane at once.

Why.  pool.py's generic kernels loop over (n, c) planes; a LeNet plane is small (conv2's is 10 x
10), so taking its views and scheduling it cost more than pooling it.  And its pooled rows are 14
and 5 outputs long: LLVM's loop vectoriser leaves loops that short scalar (~10 cycles an output).

How.  The work is the list of all N*C*OH row pairs, one contiguous range per thread.  For float32
each row pair is one or two calls of a 16-lane intrinsic: two masked loads per input row (lanes
past the row are never touched), a shuffle that splits even and odd columns, the window maximum,
argmax and ReLU cut as vector selects, and a masked store.  float64 runs a scalar loop, same rules.
The rules are pool.py's: taps in row-major order, a tap wins if it is greater or is the first NaN
(numpy.argmax); with relu a maximum that fails `> 0` becomes 0 (NaN stays NaN) and its index
-(index + 1).  Backward writes every tap of every window (the gradient where the index points, 0
elsewhere), so the input gradient needs no zeroing pass; an odd last row or column, which no
window covers, is zeroed separately.  The intrinsics live here, beside their only callers: numba's
disk cache notices edits to a kernel's own file only.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic, overload

from ._ir import ALIGN, F32, I32, I64, IRArgs, LANES, VB, VF, VI
from ._jit import JIT, njit

LANE = ir.Constant(VI, list(range(LANES)))
ZERO = ir.Constant(VF, None)


def _vi(values: list[int] | int) -> ir.Constant:
    """An int32 vector constant (one value for every lane, or one per lane)."""
    return ir.Constant(VI, values if isinstance(values, list) else [values] * LANES)


def _is_array(t: types.Type, dtype: types.Type) -> bool:
    return isinstance(t, types.Array) and t.ndim == 1 and t.dtype == dtype


class _Emit(IRArgs):  # pragma: no cover  (runs while numba compiles: see setup.cfg)
    """IR plumbing for one intrinsic body: vector pointers into its arrays, masks and LLVM's masked
    loads and stores (lanes outside the mask are never touched)."""

    def int32(self, i: int) -> ir.Value:
        """Index values and counts are int32, as the stored indices."""
        return self.b.trunc(self.int64(i), I32)

    def first(self, count: ir.Value, skip: int = 0) -> ir.Value:
        """The mask of lanes k with skip + k < count."""
        return self.b.icmp_signed("<", self.b.add(LANE, _vi(skip)), self.splat(count))

    def _ptr(self, i: int, offset: ir.Value, vty: ir.VectorType) -> ir.Value:
        return self.b.bitcast(self.b.gep(self.data(i), [offset]), vty.as_pointer())

    def _masked(self, name: str, vty: ir.VectorType, ret: ir.Type, params: list[ir.Type]) -> ir.Function:
        suffix = f"v{LANES}{'f32' if vty.element == F32 else 'i32'}.p0"
        return self.declare(f"llvm.masked.{name}.{suffix}", ret, params)

    def load(self, i: int, offset: ir.Value, mask: ir.Value, vty: ir.VectorType = VF) -> ir.Value:
        """Lanes of array argument i from element `offset` (int64)."""
        fn = self._masked("load", vty, vty, [vty.as_pointer(), I32, VB, vty])
        return self.b.call(fn, [self._ptr(i, offset, vty), ALIGN, mask, ir.Constant(vty, None)])

    def store(self, value: ir.Value, i: int, offset: ir.Value, mask: ir.Value) -> None:
        vty = value.type
        fn = self._masked("store", vty, ir.VoidType(), [vty, vty.as_pointer(), I32, VB])
        self.b.call(fn, [value, self._ptr(i, offset, vty), ALIGN, mask])

    def add64(self, offset: ir.Value, more: ir.Value | int) -> ir.Value:
        """offset + more (an int32 value or a constant), as int64."""
        return self.b.add(offset, ir.Constant(I64, more) if isinstance(more, int) else self.b.sext(more, I64))


@intrinsic
def pool2x2_row16(typingctx, x, r0, i0, w, out, idx, o0, n, relu):
    """out[o0 + j], idx[o0 + j] for j < n <= 16: the max of x[r0 + 2j], x[r0 + 2j + 1], x[r0 + w + 2j],
    x[r0 + w + 2j + 1] and its index, counted from i0 at x[r0] (ReLU applied when relu); see the
    module docstring."""
    if not (_is_array(x, types.float32) and _is_array(out, types.float32) and _is_array(idx, types.int32)):
        return None
    sig = types.void(x, r0, i0, w, out, idx, o0, n, relu)

    def codegen(context, builder, signature, args):
        e = _Emit(context, builder, signature, args)
        r0v, o0v, i0v, wv, nv = e.int64(1), e.int64(6), e.int32(2), e.int32(3), e.int32(7)
        two_n = builder.mul(nv, ir.Constant(I32, 2))
        lo_mask, hi_mask = e.first(two_n), e.first(two_n, LANES)

        def row_pair(start):  # (even columns, odd columns) of the 2n values from x[start]
            lo, hi = e.load(0, start, lo_mask), e.load(0, e.add64(start, LANES), hi_mask)
            return (builder.shuffle_vector(lo, hi, _vi(list(range(0, 2 * LANES, 2)))),
                    builder.shuffle_vector(lo, hi, _vi(list(range(1, 2 * LANES, 2)))))

        (a, b), (c, d) = row_pair(r0v), row_pair(e.add64(r0v, wv))
        base = builder.add(e.splat(i0v), builder.mul(LANE, _vi(2)))
        best, bi = a, base
        one = ir.Constant(I32, 1)
        for v, off in ((b, one), (c, wv), (d, builder.add(wv, one))):  # offsets past the top-left tap
            nan_wins = builder.and_(builder.fcmp_unordered("uno", v, v), builder.fcmp_ordered("ord", best, best))
            take = builder.or_(builder.fcmp_ordered(">", v, best), nan_wins)
            best = builder.select(take, v, best)
            bi = builder.select(take, builder.add(base, e.splat(off)), bi)
        relu_on = builder.icmp_signed("!=", e.int64(8), ir.Constant(I64, 0))
        keep = builder.fcmp_ordered(">", best, ZERO)
        cut_val = builder.select(builder.fcmp_ordered("<=", best, ZERO), ZERO, best)  # NaN fails <= 0: kept
        cut_idx = builder.select(keep, bi, builder.sub(_vi(-1), bi))
        out_mask = e.first(nv)
        e.store(builder.select(relu_on, cut_val, best), 4, o0v, out_mask)
        e.store(builder.select(relu_on, cut_idx, bi), 5, o0v, out_mask)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def unpool2x2_row16(typingctx, g, idx, o0, n, gx, r0, i0, w):
    """The backward of pool2x2_row16 for one row pair: writes all four taps of windows j < n <= 16,
    gx[r0 + 2j], gx[r0 + 2j + 1], gx[r0 + w + 2j], gx[r0 + w + 2j + 1]: 0 + g[o0 + j] at the tap
    idx[o0 + j] names (counted from i0 at gx[r0]), 0 + g * 0 where the index is a ReLU cut
    -(index + 1), 0 at the other taps: what zeroing gx and adding g through the index gives."""
    if not (_is_array(g, types.float32) and _is_array(gx, types.float32) and _is_array(idx, types.int32)):
        return None
    sig = types.void(g, idx, o0, n, gx, r0, i0, w)

    def codegen(context, builder, signature, args):
        e = _Emit(context, builder, signature, args)
        o0v, r0v, nv, i0v, wv = e.int64(2), e.int64(5), e.int32(3), e.int32(6), e.int32(7)
        in_mask = e.first(nv)
        gv, iv = e.load(0, o0v, in_mask), e.load(1, o0v, in_mask, VI)
        cut = builder.icmp_signed("<", iv, _vi(0))
        j = builder.select(cut, builder.sub(_vi(-1), iv), iv)
        val = builder.fadd(ZERO, builder.select(cut, builder.fmul(gv, ZERO), gv))
        rel = builder.sub(j, builder.add(e.splat(i0v), builder.mul(LANE, _vi(2))))
        one = ir.Constant(I32, 1)
        taps = [builder.select(builder.icmp_signed("==", rel, e.splat(off)), val, ZERO)
                for off in (ir.Constant(I32, 0), one, wv, builder.add(wv, one))]
        two_n = builder.mul(nv, ir.Constant(I32, 2))
        lo_mask, hi_mask = e.first(two_n), e.first(two_n, LANES)
        lo_order = _vi([k // 2 + (k % 2) * LANES for k in range(LANES)])  # e0 o0 e1 o1 ...
        hi_order = _vi([LANES // 2 + k // 2 + (k % 2) * LANES for k in range(LANES)])
        for start, (ev, od) in ((r0v, taps[:2]), (e.add64(r0v, wv), taps[2:])):
            e.store(builder.shuffle_vector(ev, od, lo_order), 4, start, lo_mask)
            e.store(builder.shuffle_vector(ev, od, hi_order), 4, e.add64(start, LANES), hi_mask)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def relu_cut(b, bi):
    """ReLU of a window's maximum b, and its index bi, -(bi + 1) where ReLU's mask (b > 0) is False."""
    keep = b > 0
    return (0 if b <= 0 else b), (bi if keep else -bi - 1)  # NaN fails b <= 0 and is kept, as in ReLU


@njit(**JIT)
def _fwd_row_scalar(xf, r0, i0, w, of, jf, o0, ow, relu):
    """pool2x2_row16's work for any row length, one window at a time."""
    for ox in range(ow):
        p, t = r0 + 2 * ox, i0 + 2 * ox
        b, bi = xf[p], t
        for off in (1, w, w + 1):
            v = xf[p + off]
            take = (v > b) | ((v != v) & (b == b))
            b = v if take else b
            bi = t + off if take else bi
        if relu:
            b, bi = relu_cut(b, bi)
        of[o0 + ox] = b
        jf[o0 + ox] = bi


@njit(**JIT)
def _bwd_row_scalar(gf, jf, o0, ow, gxf, r0, i0, w):
    """unpool2x2_row16's work for any row length, one window at a time."""
    for ox in range(ow):
        p = r0 + 2 * ox
        for off in (0, 1, w, w + 1):
            gxf[p + off] = 0
        j = jf[o0 + ox]
        if j >= 0:
            gxf[r0 + j - i0] += gf[o0 + ox]
        else:
            gxf[r0 - j - 1 - i0] += gf[o0 + ox] * 0


def _fwd_row(xf, r0, i0, w, of, jf, o0, ow, relu):
    """One row pair of windows: 16 per vector step for float32, the scalar loop otherwise."""
    _fwd_row_scalar(xf, r0, i0, w, of, jf, o0, ow, relu)


def _bwd_row(gf, jf, o0, ow, gxf, r0, i0, w):
    """The backward of _fwd_row."""
    _bwd_row_scalar(gf, jf, o0, ow, gxf, r0, i0, w)


@overload(_fwd_row, inline="always")
def _fwd_row_impl(xf, r0, i0, w, of, jf, o0, ow, relu):
    if xf.dtype == types.float32:
        def vector(xf, r0, i0, w, of, jf, o0, ow, relu):
            for j in range(0, ow, LANES):
                pool2x2_row16(xf, r0 + 2 * j, i0 + 2 * j, w, of, jf, o0 + j, min(LANES, ow - j), relu)
        return vector
    return lambda xf, r0, i0, w, of, jf, o0, ow, relu: _fwd_row_scalar(xf, r0, i0, w, of, jf, o0, ow, relu)


@overload(_bwd_row, inline="always")
def _bwd_row_impl(gf, jf, o0, ow, gxf, r0, i0, w):
    if gf.dtype == types.float32:
        def vector(gf, jf, o0, ow, gxf, r0, i0, w):
            for j in range(0, ow, LANES):
                unpool2x2_row16(gf, jf, o0 + j, min(LANES, ow - j), gxf, r0 + 2 * j, i0 + 2 * j, w)
        return vector
    return lambda gf, jf, o0, ow, gxf, r0, i0, w: _bwd_row_scalar(gf, jf, o0, ow, gxf, r0, i0, w)


@njit(**JIT)
def _fwd_rows(xf, of, jf, lo, hi, h, w, oh, ow, relu):
    """Row pairs [lo, hi) of all planes; row pair r is plane r // oh, output row r % oh."""
    for r in range(lo, hi):
        i0 = 2 * (r % oh) * w  # the index of its first tap within the plane
        _fwd_row(xf, (r // oh) * h * w + i0, i0, w, of, jf, r * ow, ow, relu)


@njit(**JIT)
def _bwd_rows(gf, jf, gxf, lo, hi, h, w, oh, ow):
    """The backward of _fwd_rows for row pairs [lo, hi)."""
    for r in range(lo, hi):
        i0 = 2 * (r % oh) * w
        _bwd_row(gf, jf, r * ow, ow, gxf, (r // oh) * h * w + i0, i0, w)


@njit(parallel=True, **JIT)
def _fwd_par(xf, of, jf, rows, h, w, oh, ow, relu, parts):
    for t in prange(parts):
        _fwd_rows(xf, of, jf, rows * t // parts, rows * (t + 1) // parts, h, w, oh, ow, relu)


@njit(parallel=True, **JIT)
def _bwd_par(gf, jf, gxf, rows, h, w, oh, ow, parts):
    for t in prange(parts):
        _bwd_rows(gf, jf, gxf, rows * t // parts, rows * (t + 1) // parts, h, w, oh, ow)


def forward(x: np.ndarray, out: np.ndarray, idx: np.ndarray, relu: bool, parts: int) -> None:
    """out, idx (N, C, OH, OW) of C-contiguous x (N, C, H, W): windows' maxima and plane indices."""
    n, c, h, w = x.shape
    oh, ow = out.shape[2:]
    args = (x.reshape(-1), out.reshape(-1), idx.reshape(-1))
    if parts > 1:
        _fwd_par(*args, n * c * oh, h, w, oh, ow, relu, parts)
    else:
        _fwd_rows(*args, 0, n * c * oh, h, w, oh, ow, relu)


def backward(g: np.ndarray, idx: np.ndarray, gx: np.ndarray, parts: int) -> None:
    """gx (N, C, H, W), written whole, from g and idx (N, C, OH, OW) of `forward`."""
    n, c, h, w = gx.shape
    oh, ow = g.shape[2:]
    if h % 2 or w % 2:
        gx[:, :, 2 * oh:, :] = 0
        gx[:, :, :, 2 * ow:] = 0
    args = (g.reshape(-1), idx.reshape(-1), gx.reshape(-1))
    if parts > 1:
        _bwd_par(*args, n * c * oh, h, w, oh, ow, parts)
    else:
        _bwd_rows(*args, 0, n * c * oh, h, w, oh, ow)
