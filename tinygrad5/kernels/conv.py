"""conv2d kernels: im2col / col2im in numba, the products through our GEMM (gemm3).

Forward   cols[n] (C*KH*KW, OH*OW) = im2col(x[n]);  out[n] = W (O, CKK) @ cols[n] + b.
Backward  gW = sum_n gout[n] @ cols[n]^T, computed as (sum_n cols[n] @ gout[n]^T)^T because packing
          cols row-major is cheap while packing cols^T is a transpose; gb = sum of gout;
          gcols[n] = W^T @ gout[n], then gx = col2im(gcols), a scatter-add (no np.add.at).
For one input channel a direct kernel skips im2col entirely (see direct_c1_forward).
x, w and outputs are C-contiguous (N, C, H, W) arrays; kernels get them as N-d C arrays, which
keeps each kernel at one compiled signature per dtype.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import JIT, FASTMATH, njit

_NONNEG = (1 << 47) - 1  # see gemm.py: masked offsets let LLVM drop negative-index wraparound


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
def _im2col_one(x, n, cols, kh, kw, sh, sw, ph, pw, oh, ow):
    """cols[n, (c*kh + ky)*kw + kx, oy*ow + ox] = x[n, c, oy*sh + ky - ph, ox*sw + kx - pw] or 0."""
    c_in, h, w = x.shape[1], x.shape[2], x.shape[3]
    dst = cols[n]
    for c in range(c_in):
        plane = x[n, c]
        for ky in range(kh):
            ylo, yhi = _span(oh, sh, ky - ph, h)
            for kx in range(kw):
                xlo, xhi = _span(ow, sw, kx - pw, w)
                row = dst[(c * kh + ky) * kw + kx]
                for oy in range(oh):
                    o = oy * ow
                    if oy < ylo or oy >= yhi:
                        for ox in range(ow):
                            row[o + ox] = 0
                        continue
                    src = plane[oy * sh + ky - ph]
                    for ox in range(xlo):
                        row[o + ox] = 0
                    s0 = (xlo * sw + kx - pw) & _NONNEG
                    d0 = (o + xlo) & _NONNEG
                    if sw == 1:
                        for i in range(xhi - xlo):
                            row[d0 + i] = src[s0 + i]
                    else:
                        for i in range(xhi - xlo):
                            row[d0 + i] = src[s0 + i * sw]
                    for ox in range(xhi, ow):
                        row[o + ox] = 0


@njit(**JIT)
def _col2im_one(gcols, n, gx, kh, kw, sh, sw, ph, pw, oh, ow):
    """gx[n] = sum over (c, ky, kx, oy, ox) of gcols[n, row, oy*ow + ox] at its input position."""
    c_in, h, w = gx.shape[1], gx.shape[2], gx.shape[3]
    src = gcols[n]
    for c in range(c_in):
        plane = gx[n, c]
        for i in range(h):
            for j in range(w):
                plane[i, j] = 0
        for ky in range(kh):
            ylo, yhi = _span(oh, sh, ky - ph, h)
            for kx in range(kw):
                xlo, xhi = _span(ow, sw, kx - pw, w)
                row = src[(c * kh + ky) * kw + kx]
                for oy in range(ylo, yhi):
                    dst = plane[oy * sh + ky - ph]
                    d0 = (xlo * sw + kx - pw) & _NONNEG
                    s0 = (oy * ow + xlo) & _NONNEG
                    if sw == 1:
                        for i in range(xhi - xlo):
                            dst[d0 + i] += row[s0 + i]
                    else:
                        for i in range(xhi - xlo):
                            dst[d0 + i * sw] += row[s0 + i]


@njit(parallel=True, **JIT)
def _im2col_par(x, cols, kh, kw, sh, sw, ph, pw, oh, ow):
    """im2col of every sample, samples spread over threads."""
    for n in prange(x.shape[0]):
        _im2col_one(x, n, cols, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(**JIT)
def _im2col_ser(x, cols, kh, kw, sh, sw, ph, pw, oh, ow):
    """im2col of every sample on the calling thread."""
    for n in range(x.shape[0]):
        _im2col_one(x, n, cols, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(parallel=True, **JIT)
def _col2im_par(gcols, gx, kh, kw, sh, sw, ph, pw, oh, ow):
    """col2im of every sample, samples spread over threads (each owns its gx[n]: no races)."""
    for n in prange(gx.shape[0]):
        _col2im_one(gcols, n, gx, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(**JIT)
def _col2im_ser(gcols, gx, kh, kw, sh, sw, ph, pw, oh, ow):
    """col2im of every sample on the calling thread."""
    for n in range(gx.shape[0]):
        _col2im_one(gcols, n, gx, kh, kw, sh, sw, ph, pw, oh, ow)


@njit(fastmath=FASTMATH, **JIT)
def _direct_c1_one(x, n, w, b, out, sh, sw, ph, pw):
    """out[n, o] = sum_{ky,kx} w[o, 0, ky, kx] * x[n, 0, shifted] + b[o] for a 1-channel input."""
    o_ch, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    h, wd = x.shape[2], x.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    plane = x[n, 0]
    for o in range(o_ch):
        dst = out[n, o]
        bo = b[o] if b.shape[0] > 0 else 0.0
        for oy in range(oh):
            drow = dst[oy]
            for ox in range(ow):
                drow[ox] = bo
            for ky in range(kh):
                iy = oy * sh + ky - ph
                if iy < 0 or iy >= h:
                    continue
                src = plane[iy]
                for kx in range(kw):
                    xlo, xhi = _span(ow, sw, kx - pw, wd)
                    wv = w[o, 0, ky, kx]
                    s0 = (xlo * sw + kx - pw) & _NONNEG
                    d0 = xlo & _NONNEG
                    if sw == 1:
                        for i in range(xhi - xlo):
                            drow[d0 + i] += wv * src[s0 + i]
                    else:
                        for i in range(xhi - xlo):
                            drow[d0 + i] += wv * src[s0 + i * sw]


@njit(parallel=True, **JIT)
def _direct_c1_par(x, w, b, out, sh, sw, ph, pw):
    """Direct 1-channel convolution, samples spread over threads."""
    for n in prange(x.shape[0]):
        _direct_c1_one(x, n, w, b, out, sh, sw, ph, pw)


@njit(**JIT)
def _direct_c1_ser(x, w, b, out, sh, sw, ph, pw):
    """Direct 1-channel convolution on the calling thread."""
    for n in range(x.shape[0]):
        _direct_c1_one(x, n, w, b, out, sh, sw, ph, pw)
