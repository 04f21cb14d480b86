"""conv2d 5x5 forward (+ bias, or with ReLU and 2x2 pool) and weight gradient by Winograd's F(2x2, 5x5).

Why.  LeNet's conv2 spends its forward in one product, W (50 x 500) @ columns (500 x 100) a sample,
2.5 M multiply-adds at the tiles' peak.  Winograd's minimal filtering computes each 2x2 block of
outputs from a 6x6 block of input with 36 multiplies per (input, output) channel pair where the
direct form takes 100: per sample 36 products (O x C) @ (C x tiles), 0.9 M multiply-adds.

The transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015) are
derived below from their interpolation points by exact rational arithmetic: for a 1-D filter g (5)
and input d (6), the two outputs of the correlation are AT @ ((G @ g) * (BT @ d)); in 2-D,
Y = AT [(G g G^T) * (BT d BT^T)] AT^T.  The points 0, 1, -1, 1/2, -2 (and infinity) gave the
smallest float32 error of the sets tried: a maximum relative error of 6e-7 at conv2, against 2.5e-7
for the direct products (0, +-1, +-2: 1.2e-6).

How.  Each thread takes a run of samples, 16 at a time, one per vector lane: the group's input is
first copied lane-last (x[c, h, w, lane]), so every transform is plain 16-wide vector arithmetic
and every product has 16 columns per output block (up to TX_CHUNK blocks of a row per pass).  Per
pass: input transform -> 36 tile GEMMs (tile_gemm.gemm_block) -> output transform and bias, then
either the stores or the pool's rules (pool2x2: taps in row-major order, the first NaN or a strictly
greater value wins, ReLU's cut and index coding) on each 2x2 block, which is exactly one window.
Lanes past the run repeat its last sample and are not stored.

Weight gradient.  Differentiating the forward, gW = G^T [sum over samples and blocks of
(AT^T dY AT) * (BT d BT^T)] G per channel pair: per transform point a product (C x blocks) @
(blocks x O), 0.9 M multiply-adds a sample against the direct 2.5 M.  The input transform is the
forward's; the gradient's runs 16 channels a vector (its copy keeps channels innermost, padded to
a multiple of 16), so it lands as the product's right operand with unit-stride rows.

Non-finite values.  A Winograd block mixes its 6x6 inputs, so an inf can come out as NaN (inf -
inf) where the direct sum gives inf.  The forward reports whether any conv output was not finite
and weight_grad returns None for a non-finite result; the caller then runs the direct path:
results with infs and NaNs are the direct ones.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from .tile_gemm import gemm_block
from ._ir import I64, IRArgs, LANES, VF
from ._jit import JIT, njit

POINTS = (0, 1, -1, Fraction(1, 2), -2)  # plus the point at infinity
M_OUT, R_FILTER = 2, 5
ALPHA = M_OUT + R_FILTER - 1  # 6: the input block's side
TX_CHUNK = 5  # output blocks of a row per pass: bounds the buffers on wide images (LeNet's conv2: one pass)


def _vandermonde(points: tuple, n: int) -> list[list[Fraction]]:
    """Rows (1, p, ..., p^(n-1)) for each point, then (0, ..., 0, 1) for the point at infinity."""
    rows = [[Fraction(p) ** k for k in range(n)] for p in points]
    return rows + [[Fraction(0)] * (n - 1) + [Fraction(1)]]


def _inverse(a: list[list[Fraction]]) -> list[list[Fraction]]:
    """The inverse of a square matrix of Fractions (Gauss-Jordan, exact)."""
    n = len(a)
    m = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        piv = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[piv] = m[piv], m[col]
        m[col] = [v / m[col][col] for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [v - f * u for v, u in zip(m[r], m[col])]
    return [row[n:] for row in m]


def transforms(points: tuple = POINTS, m: int = M_OUT, r: int = R_FILTER
               ) -> tuple[list[list[Fraction]], list[list[Fraction]], list[list[Fraction]]]:
    """(AT (m x a), G (a x r), BT (a x a)) of F(m, r) for these points, a = m + r - 1, exact.

    Toom-Cook: a linear convolution is evaluation at the points (G for the filter, E_m for the
    input), a pointwise product, and interpolation (the inverse of E_a); the correlation a layer
    computes is its transpose, so AT = E_m^T, G = E_r and BT = (E_a^-1)^T.
    """
    e_m, g, e_a = _vandermonde(points, m), _vandermonde(points, r), _vandermonde(points, m + r - 1)
    at = [list(col) for col in zip(*e_m)]
    bt = [list(col) for col in zip(*_inverse(e_a))]
    return at, g, bt


_AT, _G, _BT = (np.array(t, dtype=np.float64) for t in transforms())
_GG = np.kron(_G, _G)
_GG32 = _GG.astype(np.float32)


@intrinsic
def lincomb16(typingctx, which, src, s0, sstride, dst, d0, dstride):
    """dst[d0 + r*dstride + s] = sum_j T[r, j] * src[s0 + j*sstride + s] for s < 16, with T the
    transform BT (which == 0, 6 x 6), AT (1, 2 x 6) or AT^T (2, 6 x 2) baked in as constants: a
    vector load per column, a multiply-add for each non-zero coefficient (an add or subtract for
    +-1), one store per row.  src and dst: flat float32 arrays, not overlapping."""
    if not isinstance(which, types.IntegerLiteral) or not all(
            isinstance(t, types.Array) and t.dtype == types.float32 for t in (src, dst)):
        return None
    mat = (_BT, _AT, _AT.T)[which.literal_value].astype(np.float32)
    sig = types.void(which, src, s0, sstride, dst, d0, dstride)

    def codegen(context, builder, signature, args):  # pragma: no cover  (runs while numba compiles)
        e = IRArgs(context, builder, signature, args)
        sp, dp = e.data(1), e.data(4)
        s0v, ssv, d0v, dsv = e.int64(2), e.int64(3), e.int64(5), e.int64(6)
        fma = e.declare("llvm.fma.v16f32", VF, [VF, VF, VF])

        def ptr(base, off):
            return builder.bitcast(builder.gep(base, [off]), VF.as_pointer())

        xs = [builder.load(ptr(sp, builder.add(s0v, builder.mul(ssv, ir.Constant(I64, j)))), align=4)
              for j in range(mat.shape[1])]
        for r in range(mat.shape[0]):
            acc = None
            for j, f in enumerate(mat[r]):
                if f == 0:
                    continue
                if acc is None:
                    acc = xs[j] if f == 1 else builder.fmul(ir.Constant(VF, [float(f)] * LANES), xs[j])
                elif f == 1:
                    acc = builder.fadd(acc, xs[j])
                elif f == -1:
                    acc = builder.fsub(acc, xs[j])
                else:
                    acc = builder.call(fma, [ir.Constant(VF, [float(f)] * LANES), xs[j], acc])
            builder.store(acc, ptr(dp, builder.add(d0v, builder.mul(dsv, ir.Constant(I64, r)))), align=4)
        return context.get_dummy_value()
    return sig, codegen


def filter_transform(w: np.ndarray) -> np.ndarray:
    """U (36, O, C) = G w G^T for every (output, input) channel pair: one product by kron(G, G),
    whose row a*6 + b holds G[a, k] * G[b, l] at column k*5 + l.  In float32 (28 us at conv2; its
    rounding, 7e-8 of U's largest value, is a tenth of the convolution's)."""
    o, c = w.shape[0], w.shape[1]
    return (_GG32 @ w.reshape(o * c, R_FILTER * R_FILTER).T).reshape(ALPHA * ALPHA, o, c)


@njit(**JIT)
def _lanes_in(x, n0, n1, xl):
    """xl[((c*H + h)*W + w)*16 + s] = x[min(n0 + s, n1 - 1), c, h, w]: a group's samples, one a lane."""
    per = x.shape[1] * x.shape[2] * x.shape[3]
    xf = x.reshape(-1)
    for s in range(LANES):
        src = xf[min(n0 + s, n1 - 1) * per:]
        for e in range(per):
            xl[e * LANES + s] = src[e]


@njit(**JIT)
def _input_transform(xl, c_in, h, w, ty, tx0, rows, v, nl):
    """v[(a*6 + b)*C*nl + c*nl + tx*16 + s] = (BT d BT^T)[a, b] for each channel c and 6x6 input
    block d at output block (ty, tx0 + tx); xl holds x[c, h, w, lane] flat; rows: 36*16 scratch."""
    plane = c_in * nl
    for c in range(c_in):
        for tx in range(nl // LANES):
            for i in range(ALPHA):  # along each input row: rows[i, b] = sum_j BT[b, j] d[i, j]
                src = ((c * h + 2 * ty + i) * w + 2 * (tx0 + tx)) * LANES
                lincomb16(0, xl, src, LANES, rows, i * ALPHA * LANES, LANES)
            for b in range(ALPHA):  # then down each column: v[a, b] = sum_i BT[a, i] rows[i, b]
                lincomb16(0, rows, b * LANES, ALPHA * LANES, v, b * plane + c * nl + tx * LANES, ALPHA * plane)


@njit(**JIT)
def _block(mb, plane, o, nl, tx, t2, y):
    """y[(i*2 + j)*16 + s] = (AT m AT^T)[i, j]: output channel o's 2x2 block at column tx."""
    for a in range(ALPHA):  # across: t2[a, j] = sum_b AT[j, b] m[a, b]
        lincomb16(1, mb, a * ALPHA * plane + o * nl + tx * LANES, plane, t2, a * 2 * LANES, LANES)
    for j in range(M_OUT):  # down: y[i, j] = sum_a AT[i, a] t2[a, j]
        lincomb16(1, t2, j * LANES, 2 * LANES, y, j * LANES, 2 * LANES)


@njit(**JIT)
def _output_pool(mb, o_n, nl, ty, tx0, bias, has_bias, n0, n1, pooled, pidx, ow, t2, y, pv, pi, bad):
    """Each 2x2 block (+ bias), ReLU and max-pooled into pooled[n, o, ty, tx0 + tx] and pidx (pool2x2's
    rules).  bad[s] becomes NaN when lane s saw a conv output that is not finite."""
    for o in range(o_n):
        bo = bias[o] if has_bias else np.float32(0)
        for tx in range(nl // LANES):
            _block(mb, o_n * nl, o, nl, tx, t2, y)
            base = 2 * ty * ow + 2 * (tx0 + tx)  # plane index of the window's first tap
            for s in range(LANES):  # branch-free, so LLVM runs the 16 lanes as vectors
                v0, v1, v2, v3 = y[s] + bo, y[LANES + s] + bo, y[2 * LANES + s] + bo, y[3 * LANES + s] + bo
                bad[s] += (v0 + v1 + v2 + v3) * 0  # NaN once any output was inf or NaN
                b, bi = v0, base
                take = (v1 > b) | ((v1 != v1) & (b == b))
                b, bi = (v1 if take else b), (base + 1 if take else bi)
                take = (v2 > b) | ((v2 != v2) & (b == b))
                b, bi = (v2 if take else b), (base + ow if take else bi)
                take = (v3 > b) | ((v3 != v3) & (b == b))
                b, bi = (v3 if take else b), (base + ow + 1 if take else bi)
                keep = b > 0  # ReLU's mask; NaN fails it and stays NaN
                pv[s] = b if (keep | (b != b)) else np.float32(0)
                pi[s] = bi if keep else -bi - 1
            for s in range(min(LANES, n1 - n0)):
                pooled[n0 + s, o, ty, tx0 + tx] = pv[s]
                pidx[n0 + s, o, ty, tx0 + tx] = pi[s]


@njit(**JIT)
def _output_store(mb, o_n, nl, ty, tx0, bias, has_bias, n0, n1, out, t2, y, bad):
    """Each 2x2 block (+ bias) into out[n, o, 2ty:2ty+2, 2(tx0+tx):...+2]; bad as in _output_pool."""
    for o in range(o_n):
        bo = bias[o] if has_bias else np.float32(0)
        for tx in range(nl // LANES):
            _block(mb, o_n * nl, o, nl, tx, t2, y)
            for s in range(LANES):
                total = np.float32(0)
                for k in range(M_OUT * M_OUT):
                    val = y[k * LANES + s] + bo
                    y[k * LANES + s] = val
                    total += val
                bad[s] += total * 0
            for s in range(min(LANES, n1 - n0)):
                for i in range(M_OUT):
                    for j in range(M_OUT):
                        out[n0 + s, o, 2 * ty + i, 2 * (tx0 + tx) + j] = y[(i * M_OUT + j) * LANES + s]


@njit(**JIT)
def _group(xl, c_in, h, w, uf, o_n, bias, has_bias, pool, out, pooled, pidx, n0, n1, v, mb, rows, t2, y, pv, pi,
           bad):
    """One group of 16 samples (lanes), its input already in xl: every row of output blocks."""
    th, tw = (h - ALPHA + 2) // 2, (w - ALPHA + 2) // 2
    for ty in range(th):
        for tx0 in range(0, tw, TX_CHUNK):
            nc = min(TX_CHUNK, tw - tx0) * LANES
            _input_transform(xl, c_in, h, w, ty, tx0, rows, v, nc)
            for k in range(ALPHA * ALPHA):
                gemm_block(uf, k * o_n * c_in, c_in, 1, v, k * c_in * nc, nc, mb, k * o_n * nc, nc, o_n, nc, c_in)
            if pool:
                _output_pool(mb, o_n, nc, ty, tx0, bias, has_bias, n0, n1, pooled, pidx, 2 * tw, t2, y, pv, pi, bad)
            else:
                _output_store(mb, o_n, nc, ty, tx0, bias, has_bias, n0, n1, out, t2, y, bad)


@njit(**JIT)
def _buffers(c_in, h, w, o_n):
    """A thread's scratch for _group: (xl, v, mb, rows, t2, y, pv, pi, bad)."""
    nl = min((w - ALPHA + 2) // 2, TX_CHUNK) * LANES
    return (np.empty(c_in * h * w * LANES, np.float32), np.empty(ALPHA * ALPHA * c_in * nl, np.float32),
            np.empty(ALPHA * ALPHA * o_n * nl, np.float32), np.empty(ALPHA * ALPHA * LANES, np.float32),
            np.empty(ALPHA * M_OUT * LANES, np.float32), np.empty(M_OUT * M_OUT * LANES, np.float32),
            np.empty(LANES, np.float32), np.empty(LANES, np.int32), np.zeros(LANES, np.float32))


@njit(parallel=True, **JIT)
def _forward(x, u, bias, has_bias, pool, out, pooled, pidx, parts):
    """out, or with `pool` pooled and pidx, for samples split in `parts` runs; returns the number
    of runs that saw a non-finite conv output (the caller then recomputes by the direct path)."""
    nb, c_in, h, w = x.shape
    o_n = u.shape[1]
    flags = np.zeros(parts, np.int64)
    uf = u.reshape(-1)
    for t in prange(parts):
        xl, v, mb, rows, t2, y, pv, pi, bad = _buffers(c_in, h, w, o_n)
        lo, hi = nb * t // parts, nb * (t + 1) // parts
        for n0 in range(lo, hi, LANES):
            _lanes_in(x, n0, hi, xl)
            _group(xl, c_in, h, w, uf, o_n, bias, has_bias, pool, out, pooled, pidx, n0, hi, v, mb, rows, t2, y,
                   pv, pi, bad)
        for s in range(LANES):
            if bad[s] != bad[s]:
                flags[t] = 1
    return flags.sum()


@njit(**JIT)
def _grad_lanes(g, gidx, unpool, n0, n1, ow, o_pad, gl):
    """gl[((y*OW + x)*16 + s)*o_pad + o] = lane s's conv-output gradient at (o, y, x): unpooled
    through gidx when `unpool` (times 0 where ReLU cut, as pool2x2's backward); 0 for lanes past
    the run (so they add nothing) and for the padding channels."""
    gl[:] = 0
    o_n = g.shape[1]
    for s in range(min(LANES, n1 - n0)):
        n = n0 + s
        # channels innermost: the writes run along gl (4 KiB-strided ones would collide in L1)
        for i in range(g.shape[2]):
            for j in range(g.shape[3]):
                for o in range(o_n):
                    val, k = g[n, o, i, j], i * ow + j
                    if unpool:  # a pooled value goes to its window's tap k (plane index y*OW + x)
                        k = gidx[n, o, i, j]
                        if k < 0:
                            k, val = -k - 1, val * 0
                    gl[(k * LANES + s) * o_pad + o] = val


@njit(**JIT)
def _grad_transform(gl, ow, o_pad, ty, tx0, nc, r2, gh, plane):
    """gh[(a*6 + b)*plane + (tx*16 + s)*o_pad + o] = (AT^T dY AT)[a, b] for the 2x2 gradient block
    dY at (ty, tx0 + tx), lane s, channel o: 16 channels a vector."""
    for tx in range(nc // LANES):
        for s in range(LANES):
            for oc in range(0, o_pad, LANES):
                for i in range(M_OUT):  # along the block's rows: r2[i, b] = sum_j AT^T[b, j] dY[i, j]
                    src = (((2 * ty + i) * ow + 2 * (tx0 + tx)) * LANES + s) * o_pad + oc
                    lincomb16(2, gl, src, LANES * o_pad, r2, i * ALPHA * LANES, LANES)
                for b in range(ALPHA):  # then down: gh[a, b] = sum_i AT^T[a, i] r2[i, b]
                    lincomb16(2, r2, b * LANES, ALPHA * LANES, gh, b * plane + (tx * LANES + s) * o_pad + oc,
                              ALPHA * plane)


@njit(parallel=True, **JIT)
def _weight_grad(x, g, gidx, unpool, o_pad, du_parts, parts):
    """du_parts[t] (36, C, o_pad, float64) = thread t's sum over its samples and blocks of
    (BT d BT^T) (x) (AT^T dY AT) per transform point, channel pair."""
    nb, c_in, h, w = x.shape
    ow = w - R_FILTER + 1
    th, tw = (h - ALPHA + 2) // 2, (w - ALPHA + 2) // 2
    nl = min(tw, TX_CHUNK) * LANES
    plane = nl * o_pad + LANES  # the 36 planes not a multiple of 4 KiB apart (L1 set conflicts)
    for t in prange(parts):
        xl = np.empty(c_in * h * w * LANES, np.float32)
        v = np.empty(ALPHA * ALPHA * c_in * nl, np.float32)
        rows = np.empty(ALPHA * ALPHA * LANES, np.float32)
        gl = np.empty((h - R_FILTER + 1) * ow * LANES * o_pad, np.float32)
        gh = np.empty(ALPHA * ALPHA * plane, np.float32)
        r2 = np.empty(M_OUT * ALPHA * LANES, np.float32)
        tmp = np.empty(ALPHA * ALPHA * c_in * o_pad, np.float32)
        acc = np.empty(ALPHA * ALPHA * c_in * o_pad, np.float32)  # a group's sum, in float32
        du = du_parts[t]
        du[:] = 0
        lo, hi = nb * t // parts, nb * (t + 1) // parts
        for n0 in range(lo, hi, LANES):
            _lanes_in(x, n0, hi, xl)
            _grad_lanes(g, gidx, unpool, n0, hi, ow, o_pad, gl)
            acc[:] = 0
            for ty in range(th):
                for tx0 in range(0, tw, TX_CHUNK):
                    nc = min(TX_CHUNK, tw - tx0) * LANES
                    _input_transform(xl, c_in, h, w, ty, tx0, rows, v, nc)
                    _grad_transform(gl, ow, o_pad, ty, tx0, nc, r2, gh, plane)
                    for k in range(ALPHA * ALPHA):
                        gemm_block(v, k * c_in * nc, nc, 1, gh, k * plane, o_pad, tmp, k * c_in * o_pad,
                                   o_pad, c_in, o_pad, nc)
                    for i in range(tmp.shape[0]):
                        acc[i] += tmp[i]
            for i in range(acc.shape[0]):
                du[i] += acc[i]


def usable(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """Whether forward takes these: float32, 5x5 kernels, stride 1, no padding, even output sides,
    at least 8 input and output channels (fewer make the 36 products too thin to pay)."""
    return (x.dtype == np.float32 and w.dtype == np.float32 and w.shape[2:] == (R_FILTER, R_FILTER)
            and tuple(stride) == (1, 1) and tuple(padding) == (0, 0) and w.shape[0] >= 8 and w.shape[1] >= 8
            and x.shape[2] >= R_FILTER and x.shape[3] >= R_FILTER
            and (x.shape[2] - R_FILTER + 1) % 2 == 0 and (x.shape[3] - R_FILTER + 1) % 2 == 0)


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray, parts: int) -> bool:
    """conv2d(x, w, b) into out (N, O, OH, OW) for C-contiguous float32 x (N, C, H, W), w (O, C, 5, 5)
    and b (O,) that `usable` accepts.  False when an output was not finite: out is then to be
    recomputed (see the module docstring)."""
    bias = b if b is not None else np.zeros(1, np.float32)
    none, idx = np.empty((0, 0, 0, 0), np.float32), np.empty((0, 0, 0, 0), np.int32)
    return _forward(x, filter_transform(w), bias, b is not None, False, out, none, idx, parts) == 0


def forward_relu_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, pooled: np.ndarray, pidx: np.ndarray,
                      parts: int) -> bool:
    """max_pool2d(relu(conv2d(x, w, b)), 2, 2) into pooled and pidx (int32), as pool2x2 codes them;
    otherwise as forward."""
    bias = b if b is not None else np.zeros(1, np.float32)
    none = np.empty((0, 0, 0, 0), np.float32)
    return _forward(x, filter_transform(w), bias, b is not None, True, none, pooled, pidx, parts) == 0


def weight_grad(x: np.ndarray, g: np.ndarray, gidx: np.ndarray | None, w_shape: tuple[int, ...], parts: int
                ) -> np.ndarray | None:
    """conv2d's weight gradient (O, C, 5, 5) for x and w that `usable` takes: g is the output
    gradient (N, O, OH, OW), or with gidx the gradient of forward_relu_pool's pooled output and its
    indices.  gW = G^T [sum over samples and blocks of (AT^T dY AT) * (BT d BT^T)] G per channel
    pair.  None when a value is not finite (the caller then runs the direct path)."""
    o_n, c_in = w_shape[0], w_shape[1]
    o_pad = (o_n + LANES - 1) // LANES * LANES
    du_parts = np.empty((parts, ALPHA * ALPHA * c_in * o_pad))
    idx = gidx if gidx is not None else np.empty((0, 0, 0, 0), np.int32)
    _weight_grad(x, g, idx, gidx is not None, o_pad, du_parts, parts)
    du = du_parts.sum(axis=0).reshape(ALPHA * ALPHA, c_in, o_pad)[:, :, :o_n]
    with np.errstate(invalid="ignore", over="ignore"):  # a non-finite sum is refused just below
        gw = (du.transpose(2, 1, 0).reshape(o_n * c_in, ALPHA * ALPHA) @ _GG).reshape(w_shape)
    return gw.astype(x.dtype) if np.isfinite(gw).all() else None
