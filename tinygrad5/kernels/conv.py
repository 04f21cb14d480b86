"""conv2d kernels in numba: im2col, col2im (a scatter-add, no np.add.at) and an implicit GEMM.

The batch-wide path (conv2d.py uses it when the batch is smaller than the thread count; otherwise
conv_per_sample.py runs these im2col/col2im helpers one sample at a time) treats the batch as one
matrix: cols (C*KH*KW, N*OH*OW), sample n owning columns [n*OH*OW, (n+1)*OH*OW).  conv2d.py
strings them together with our GEMM (gemm3) and gemm_nt:
Forward   out = W (O, CKK) @ cols + b, written straight in (N, O, OH*OW) order; for one input
          channel the implicit GEMM below reads x directly instead (no cols).
Backward  gW = g (O, N*OH*OW) @ cols^T (gemm_nt); gb = sum of g; gcols = W^T @ g, then col2im.
A plain direct kernel for one input channel (no register tile) was measured ~3.5x slower than
im2col + GEMM for LeNet's first layer; the implicit GEMM is ~1.5x faster than it.
x, w and outputs are C-contiguous (N, C, H, W) arrays; kernels get them as N-d C arrays, which
keeps each kernel at one compiled signature per dtype.
"""
from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from .col2im_gather import col2im_gather
from ._jit import FASTMATH, JIT, MR, NR, add_into16, njit, stack_buf, stack_tile

_NONNEG = (1 << 47) - 1  # see pack.py: masked offsets let LLVM drop negative-index wraparound
W16 = 16  # chunk width of the register copies (the stack tile holds MR*NR >= 16 values)


@njit(**JIT)
def _span(o_len, stride, shift, in_len):
    """First and one-past-last output index whose input index o*stride + shift lies in [0, in_len)."""
    lo = 0
    if shift < 0:
        lo = (-shift + stride - 1) // stride
    hi = 0
    if in_len - shift > 0:
        hi = (in_len - shift - 1) // stride + 1
    hi = min(hi, o_len)
    lo = min(lo, hi)
    return lo, hi


@njit(**JIT)
def _im2col_one(x, n, cols, col0, kh, kw, sh, sw, ph, pw, oh, ow):
    """cols[(c*kh + ky)*kw + kx, col0 + oy*ow + ox] = x[n, c, oy*sh + ky - ph, ox*sw + kx - pw] or 0.

    col0 is n*OH*OW for the whole batch's matrix, 0 for one sample's (conv_per_sample.py)."""
    c_in, h, w = x.shape[1], x.shape[2], x.shape[3]
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    npix = oh * ow
    pitch = cols.shape[1]  # the sample owns columns [col0, col0 + npix) of every row
    t = stack_tile(cf)
    for c in range(c_in):
        xc = (n * c_in + c) * h * w
        for ky in range(kh):
            ylo, yhi = _span(oh, sh, ky - ph, h)
            for kx in range(kw):
                xlo, xhi = _span(ow, sw, kx - pw, w)
                rowbase = ((c * kh + ky) * kw + kx) * pitch + col0
                end = rowbase + npix
                for oy in range(oh):
                    d = (rowbase + oy * ow) & _NONNEG
                    if oy < ylo or oy >= yhi:
                        for ox in range(ow):
                            cf[d + ox] = 0
                        continue
                    cnt = xhi - xlo
                    s = xc + (oy * sh + ky - ph) * w + xlo * sw + kx - pw
                    dd = d + xlo
                    if sw == 1:
                        # Copy in 16-wide chunks through registers; the last chunk may run past
                        # the segment (later segments overwrite that), never past this sample's
                        # part of the row (another thread's) nor past x.  Offsets are re-masked at each use
                        # so LLVM keeps knowing they are >= 0 (else: per-lane gathers/scatters).
                        while cnt > 0 and dd + W16 <= end and s + W16 <= xf.shape[0]:
                            so = s & _NONNEG
                            do = dd & _NONNEG
                            for i in range(W16):
                                t[i] = xf[so + i]
                            for i in range(W16):
                                cf[do + i] = t[i]
                            dd += W16
                            s += W16
                            cnt -= W16
                        so = s & _NONNEG
                        do = dd & _NONNEG
                        for i in range(max(cnt, 0)):
                            cf[do + i] = xf[so + i]
                    else:
                        so = s & _NONNEG
                        do = dd & _NONNEG
                        for i in range(cnt):
                            cf[do + i] = xf[so + i * sw]
                    for ox in range(xlo):  # zeros after the copy: they overwrite any overrun
                        cf[d + ox] = 0
                    for ox in range(xhi, ow):
                        cf[d + ox] = 0


def _col2im_one(gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow):
    """gx[n] = sum over (c, ky, kx, oy, ox) of gcols[row, col0 + oy*ow + ox] at its input position:
    gathered in registers for float32 at stride 1 (col2im_gather.py; LeNet's conv2 13.6 -> 6.4 us a
    sample, the same bits), else the scatter below.  Both conv paths call this."""


@overload(_col2im_one, inline="always")
def _col2im_one_impl(gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow):
    if gcols.dtype != types.float32:
        return lambda gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow: _col2im_scatter(
            gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow)

    def gathered(gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow):
        if sh == 1 and sw == 1:
            col2im_gather(gcols, n, gx, col0, kh, kw, ph, pw, oh, ow)
        else:
            _col2im_scatter(gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow)
    return gathered


@njit(**JIT)
def _col2im_scatter(gcols, n, gx, col0, kh, kw, sh, sw, ph, pw, oh, ow):
    """_col2im_one by scattering: zero gx[n], then add every run of each column row into it."""
    c_in, h, w = gx.shape[1], gx.shape[2], gx.shape[3]
    gf = gx.reshape(-1)
    cf = gcols.reshape(-1)
    npix = oh * ow
    pitch = gcols.shape[1]
    end = (n + 1) * c_in * h * w
    for i in range(n * c_in * h * w, end):
        gf[i] = 0
    for c in range(c_in):
        xc = (n * c_in + c) * h * w
        for ky in range(kh):
            ylo, yhi = _span(oh, sh, ky - ph, h)
            for kx in range(kw):
                xlo, xhi = _span(ow, sw, kx - pw, w)
                rowbase = ((c * kh + ky) * kw + kx) * pitch + col0
                cnt = xhi - xlo
                # Even output rows, then odd ones: consecutive runs never share a 16-lane span of
                # gx, so a wide add does not wait for the previous one's store to land.
                for par in range(2):
                    for oy in range(ylo + par, yhi, 2):
                        s = (rowbase + oy * ow + xlo) & _NONNEG
                        d = (xc + (oy * sh + ky - ph) * w + xlo * sw + kx - pw) & _NONNEG
                        if sw == 1:
                            # 16-lane masked adds: a plain loop stays scalar for runs shorter than
                            # the vector width (LeNet's are 10 long).
                            for i in range(0, cnt, 16):
                                add_into16(gf, d + i, cf, s + i, min(16, cnt - i))
                        else:
                            for i in range(cnt):
                                gf[d + i * sw] += cf[s + i]


@njit(parallel=True, **JIT)
def _im2col_par(x, cols, kh, kw, sh, sw, ph, pw, oh, ow):
    """im2col of every sample, samples spread over threads."""
    for n in prange(x.shape[0]):
        _im2col_one(x, n, cols, n * oh * ow, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(**JIT)
def _im2col_ser(x, cols, kh, kw, sh, sw, ph, pw, oh, ow):
    """im2col of every sample on the calling thread."""
    for n in range(x.shape[0]):
        _im2col_one(x, n, cols, n * oh * ow, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(parallel=True, **JIT)
def _col2im_par(gcols, gx, kh, kw, sh, sw, ph, pw, oh, ow):
    """col2im of every sample, samples spread over threads (each owns its gx[n]: no races)."""
    for n in prange(gx.shape[0]):
        _col2im_one(gcols, n, gx, n * oh * ow, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(**JIT)
def _col2im_ser(gcols, gx, kh, kw, sh, sw, ph, pw, oh, ow):
    """col2im of every sample on the calling thread."""
    for n in range(gx.shape[0]):
        _col2im_one(gcols, n, gx, n * oh * ow, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(fastmath=FASTMATH, **JIT)
def _igemm_item(x, wp, bias, has_bias, out, item, sh, ph, pw, kh, kw):
    """Implicit-GEMM forward for one (sample, output row): out[n, :, oy, :] = W . taps(x) (+ b).

    The GEMM micro-kernel without im2col: a 6x16 register tile of (output channels x output
    columns); per tap, one 16-wide load straight from the input row, shifted by kx, and six FMAs
    with broadcast weights from wp, the weights packed as (O/6 panels, taps, 6).  Lanes past the
    row's end read the next row's pixels (harmless: never stored); padded edges and the very end
    of x take bounds-checked lanes instead.  (A 6x32 tile, to halve the loop overhead per FMA,
    measured 5x slower: LLVM no longer kept its 192 accumulators in registers.)
    """
    c_in, h, w = x.shape[1], x.shape[2], x.shape[3]
    o_ch, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    n, oy = item // oh, item % oh
    xf = x.reshape(-1)
    of = out.reshape(-1)
    ntap = c_in * kh * kw
    acc = stack_tile(of)
    t16 = stack_buf(of, W16)
    for o0 in range(0, o_ch, MR):
        wpan = wp[(o0 // MR) * ntap * MR:(o0 // MR + 1) * ntap * MR]
        for x0 in range(0, ow, NR):
            for t in range(MR * NR):
                acc[t] = 0
            for c in range(c_in):
                for ky in range(kh):
                    iy = oy * sh + ky - ph
                    if iy < 0 or iy >= h:
                        continue  # zero padding: the tap adds nothing
                    rowb = ((n * c_in + c) * h + iy) * w
                    pt = (c * kh + ky) * kw * MR
                    sb = (rowb + x0 - pw) & _NONNEG
                    if x0 >= pw and x0 - pw + kw - 1 + min(NR, ow - x0) <= w and sb + kw - 1 + NR <= xf.shape[0]:
                        # Every tap of this kernel row reads real pixels for the lanes that get
                        # stored: one vector load per tap straight from x, no checks in the loop.
                        # (Routing it through t16 as well made LLVM build the vector lane by lane.)
                        for kx in range(kw):
                            pa = (pt + kx * MR) & _NONNEG
                            a0, a1, a2 = wpan[pa], wpan[pa + 1], wpan[pa + 2]
                            a3, a4, a5 = wpan[pa + 3], wpan[pa + 4], wpan[pa + 5]
                            for j in range(NR):
                                v = xf[sb + kx + j]
                                acc[j] += a0 * v
                                acc[NR + j] += a1 * v
                                acc[2 * NR + j] += a2 * v
                                acc[3 * NR + j] += a3 * v
                                acc[4 * NR + j] += a4 * v
                                acc[5 * NR + j] += a5 * v
                        continue
                    for kx in range(kw):  # padded edges or the end of x: bounds-checked lanes
                        ix0 = x0 + kx - pw
                        for j in range(NR):
                            ix = ix0 + j
                            t16[j] = xf[(rowb + ix) & _NONNEG] if ix >= 0 and ix < w and x0 + j < ow else 0
                        pa = (pt + kx * MR) & _NONNEG
                        a0, a1, a2 = wpan[pa], wpan[pa + 1], wpan[pa + 2]
                        a3, a4, a5 = wpan[pa + 3], wpan[pa + 4], wpan[pa + 5]
                        for j in range(NR):
                            v = t16[j]
                            acc[j] += a0 * v
                            acc[NR + j] += a1 * v
                            acc[2 * NR + j] += a2 * v
                            acc[3 * NR + j] += a3 * v
                            acc[4 * NR + j] += a4 * v
                            acc[5 * NR + j] += a5 * v
            if o0 + MR <= o_ch and x0 + NR <= ow:  # full tile: constant loops keep acc in registers
                for r in range(MR):
                    bo = bias[o0 + r] if has_bias else 0.0
                    d = (((n * o_ch + o0 + r) * oh + oy) * ow + x0) & _NONNEG
                    for j in range(NR):
                        of[d + j] = acc[r * NR + j] + bo
            else:
                tmp = stack_tile(of)
                for t in range(MR * NR):
                    tmp[t] = acc[t]
                for r in range(min(MR, o_ch - o0)):
                    bo = bias[o0 + r] if has_bias else 0.0
                    d = (((n * o_ch + o0 + r) * oh + oy) * ow + x0) & _NONNEG
                    for j in range(min(NR, ow - x0)):
                        of[d + j] = tmp[r * NR + j] + bo


@njit(parallel=True, **JIT)
def _igemm_par(x, wp, bias, has_bias, out, sh, ph, pw, kh, kw):
    """Implicit-GEMM forward, (sample, output row) items spread over threads."""
    for item in prange(out.shape[0] * out.shape[2]):
        _igemm_item(x, wp, bias, has_bias, out, item, sh, ph, pw, kh, kw)


@njit(**JIT)
def _igemm_ser(x, wp, bias, has_bias, out, sh, ph, pw, kh, kw):
    """Implicit-GEMM forward on the calling thread."""
    for item in range(out.shape[0] * out.shape[2]):
        _igemm_item(x, wp, bias, has_bias, out, item, sh, ph, pw, kh, kw)
