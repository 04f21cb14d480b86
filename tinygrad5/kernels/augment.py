"""numba kernels behind tinygrad5.data.transforms: bilinear warps, 3x3 grey-level morphology, a
separable blur with per-sample taps, and InkJitter's tone curve and unsharp mask.

Every kernel reads a float32 (N, H, W) batch and writes a fresh (N, H, W) output, one sample at a
time on the calling thread: a 32-image batch is ~30 k pixels, far below what a parallel launch
repays, and the data loader runs between training steps that own the cores.  Pixels outside the
image read as ``fill`` (white paper, 1.0, for handwriting).
"""
from __future__ import annotations

import numpy as np

from ._jit import JIT, njit


@njit(inline="always", **JIT)
def _pad(img, fill, pad):
    """Copy one (H, W) image into the middle of an (H+2, W+2) buffer whose border is ``fill``."""
    h, w = img.shape
    pad[0, :] = fill
    pad[h + 1, :] = fill
    for i in range(h):
        pad[i + 1, 0] = fill
        pad[i + 1, w + 1] = fill
        for j in range(w):
            pad[i + 1, j + 1] = img[i, j]


# Each warp runs a sample in two passes over all its pixels: the first turns source coordinates
# into a padded-buffer index and two weights (it vectorises: clamps, float-to-int, no loads), the
# second gathers the four neighbours and interpolates (scalar). One fused loop stayed scalar and
# was ~2.5x slower, and 32-long row loops are too short for LLVM's unrolled vector loop.
@njit(inline="always", **JIT)
def _coords(ys, xs, h, w, w2, ks, fys, fxs):
    """Turn source coordinates (unpadded pixel units) into padded indices ks and weights, in place."""
    for q in range(ys.shape[0]):
        # Clamping to the pad ring [-1, h] keeps every read inside the buffer: a point further out
        # lands on the fill border, which is what it would read anyway.
        y = ys[q] + np.float32(1.0)
        x = xs[q] + np.float32(1.0)
        y = y if y > np.float32(0.0) else np.float32(0.0)
        y = y if y < np.float32(h + 1) else np.float32(h + 1)
        x = x if x > np.float32(0.0) else np.float32(0.0)
        x = x if x < np.float32(w + 1) else np.float32(w + 1)
        # y, x >= 0, so truncation is floor (math.floor would promote the arithmetic to float64)
        yi = np.int32(y)
        yi = yi if yi < h else np.int32(h)
        xi = np.int32(x)
        xi = xi if xi < w else np.int32(w)
        fys[q] = y - np.float32(yi)
        fxs[q] = x - np.float32(xi)
        ks[q] = np.uint32(yi * w2 + xi)  # unsigned: no negative-index wraparound in the gather


@njit(inline="always", **JIT)
def _gather(pad, ks, fys, fxs, w2, out):
    """out[q] = bilinear interpolation of the flat padded image at the stored indices and weights."""
    for q in range(out.shape[0]):
        k = ks[q]
        fx = fxs[q]
        p00, p01 = pad[k], pad[k + 1]
        p10, p11 = pad[k + w2], pad[k + w2 + 1]
        top = p00 + fx * (p01 - p00)
        bot = p10 + fx * (p11 - p10)
        out[q] = top + fys[q] * (bot - top)


@njit(**JIT)
def warp_affine(img, inv, fill, out):
    """out[n, i, j] = img[n] sampled at inv[n] @ (j, i, 1): inv maps output (x, y) to source (x, y)."""
    n, h, w = img.shape
    w2 = w + 2
    pad = np.empty((h + 2, w2), dtype=img.dtype)
    flat = pad.reshape(-1)
    ii = np.empty(h * w, np.float32)
    jj = np.empty(h * w, np.float32)
    for i in range(h):
        for j in range(w):
            ii[i * w + j], jj[i * w + j] = i, j
    ys, xs, fys, fxs = np.empty_like(ii), np.empty_like(ii), np.empty_like(ii), np.empty_like(ii)
    ks = np.empty(h * w, np.uint32)
    fill = img.dtype.type(fill)
    for s in range(n):
        _pad(img[s], fill, pad)
        a, b, c = np.float32(inv[s, 0, 0]), np.float32(inv[s, 0, 1]), np.float32(inv[s, 0, 2])
        d, e, f = np.float32(inv[s, 1, 0]), np.float32(inv[s, 1, 1]), np.float32(inv[s, 1, 2])
        for q in range(h * w):
            ys[q] = d * jj[q] + e * ii[q] + f
            xs[q] = a * jj[q] + b * ii[q] + c
        _coords(ys, xs, h, w, w2, ks, fys, fxs)
        _gather(flat, ks, fys, fxs, w2, out[s].reshape(-1))


@njit(**JIT)
def warp_field(img, dy, dx, fill, out):
    """out[n, i, j] = img[n] sampled at (i + dy[n, i, j], j + dx[n, i, j]), bilinear."""
    n, h, w = img.shape
    w2 = w + 2
    pad = np.empty((h + 2, w2), dtype=img.dtype)
    flat = pad.reshape(-1)
    ii = np.empty(h * w, np.float32)
    jj = np.empty(h * w, np.float32)
    for i in range(h):
        for j in range(w):
            ii[i * w + j], jj[i * w + j] = i, j
    ys, xs, fys, fxs = np.empty_like(ii), np.empty_like(ii), np.empty_like(ii), np.empty_like(ii)
    ks = np.empty(h * w, np.uint32)
    fill = img.dtype.type(fill)
    for s in range(n):
        _pad(img[s], fill, pad)
        ddy, ddx = dy[s].reshape(-1), dx[s].reshape(-1)
        for q in range(h * w):
            ys[q] = ii[q] + ddy[q]
            xs[q] = jj[q] + ddx[q]
        _coords(ys, xs, h, w, w2, ks, fys, fxs)
        _gather(flat, ks, fys, fxs, w2, out[s].reshape(-1))


@njit(**JIT)
def warp_affine_field(img, inv, dy, dx, fill, out):
    """out[n, i, j] = img[n] sampled at inv[n] @ (j + dx[n, i, j], i + dy[n, i, j], 1): a displacement,
    then an affine map, in one bilinear resampling."""
    n, h, w = img.shape
    w2 = w + 2
    pad = np.empty((h + 2, w2), dtype=img.dtype)
    flat = pad.reshape(-1)
    ii = np.empty(h * w, np.float32)
    jj = np.empty(h * w, np.float32)
    for i in range(h):
        for j in range(w):
            ii[i * w + j], jj[i * w + j] = i, j
    ys, xs, fys, fxs = np.empty_like(ii), np.empty_like(ii), np.empty_like(ii), np.empty_like(ii)
    ks = np.empty(h * w, np.uint32)
    fill = img.dtype.type(fill)
    for s in range(n):
        _pad(img[s], fill, pad)
        a, b, c = np.float32(inv[s, 0, 0]), np.float32(inv[s, 0, 1]), np.float32(inv[s, 0, 2])
        d, e, f = np.float32(inv[s, 1, 0]), np.float32(inv[s, 1, 1]), np.float32(inv[s, 1, 2])
        ddy, ddx = dy[s].reshape(-1), dx[s].reshape(-1)
        for q in range(h * w):
            y, x = ii[q] + ddy[q], jj[q] + ddx[q]
            ys[q] = d * x + e * y + f
            xs[q] = a * x + b * y + c
        _coords(ys, xs, h, w, w2, ks, fys, fxs)
        _gather(flat, ks, fys, fxs, w2, out[s].reshape(-1))


@njit(**JIT)
def morph3x3(img, mode, square, fill, out):
    """Grey-level 3x3 morphology: mode 0 min filter, 1 max filter; a plus-shaped window unless square."""
    n, h, w = img.shape
    pad = np.empty((h + 2, w + 2), dtype=img.dtype)
    fill = img.dtype.type(fill)
    for s in range(n):
        _pad(img[s], fill, pad)
        for i in range(1, h + 1):
            for j in range(1, w + 1):
                v = pad[i, j]
                if mode == 0:
                    v = min(v, pad[i - 1, j], pad[i + 1, j], pad[i, j - 1], pad[i, j + 1])
                    if square:
                        v = min(v, pad[i - 1, j - 1], pad[i - 1, j + 1], pad[i + 1, j - 1], pad[i + 1, j + 1])
                else:
                    v = max(v, pad[i - 1, j], pad[i + 1, j], pad[i, j - 1], pad[i, j + 1])
                    if square:
                        v = max(v, pad[i - 1, j - 1], pad[i - 1, j + 1], pad[i + 1, j - 1], pad[i + 1, j + 1])
                out[s, i - 1, j - 1] = v


@njit(inline="always", **JIT)
def _taps_general(src, tp, step, dst):
    """dst[q] = sum_t tp[t] * src[q + t * step], tap-outer (each tap one vectorised pass over dst)."""
    dst[:] = 0
    for t in range(tp.shape[0]):
        c = tp[t]
        s = src[t * step:t * step + dst.shape[0]]  # sliced: a bare counter index, no wraparound check
        for q in range(dst.shape[0]):
            dst[q] += c * s[q]


@njit(inline="always", **JIT)
def _taps9(src, tp, step, dst):
    """_taps_general for exactly 9 taps: the sum stays in registers (2.4x faster, measured)."""
    n = dst.shape[0]
    c0, c1, c2, c3, c4, c5, c6, c7, c8 = tp[0], tp[1], tp[2], tp[3], tp[4], tp[5], tp[6], tp[7], tp[8]
    s0, s1, s2 = src[0:n], src[step:step + n], src[2 * step:2 * step + n]
    s3, s4, s5 = src[3 * step:3 * step + n], src[4 * step:4 * step + n], src[5 * step:5 * step + n]
    s6, s7, s8 = src[6 * step:6 * step + n], src[7 * step:7 * step + n], src[8 * step:8 * step + n]
    for q in range(n):
        dst[q] = (c0 * s0[q] + c1 * s1[q] + c2 * s2[q] + c3 * s3[q] + c4 * s4[q] + c5 * s5[q]
                  + c6 * s6[q] + c7 * s7[q] + c8 * s8[q])


@njit(**JIT)
def blur_separable(img, taps, fill, out):
    """Separable blur: out[n] = taps[n] (x) taps[n] applied to img[n] (taps (1 or N, 2r+1), summing to 1).

    Pixels beyond the border are ``fill``; one row of taps serves every sample when taps has one row.
    Nine taps (radius 4) take a faster path.
    """
    n, h, w = img.shape
    k = taps.shape[1]
    r = k // 2
    w2 = w + 2 * r
    pad = np.empty((h + 2 * r, w2), dtype=img.dtype)
    flat = pad.reshape(-1)
    # Both passes run over the whole padded image as one flat row (the columns past w are junk and
    # never read back): a 32-long row is shorter than LLVM's unrolled vector loop and stays scalar.
    hz = np.empty(flat.shape[0] - 2 * r, dtype=img.dtype)
    vt = np.empty(h * w2, dtype=img.dtype)
    fill = img.dtype.type(fill)
    pad[:, :] = fill
    for s in range(n):
        tp = taps[s if taps.shape[0] > 1 else 0]
        for i in range(h):
            for j in range(w):
                pad[i + r, j + r] = img[s, i, j]
        if k == 9:
            _taps9(flat, tp, 1, hz)
            _taps9(hz, tp, w2, vt)
        else:
            _taps_general(flat, tp, 1, hz)
            _taps_general(hz, tp, w2, vt)
        for i in range(h):
            for j in range(w):
                out[s, i, j] = vt[i * w2 + j]


@njit(error_model="numpy", **JIT)  # numpy's error model: the division vectorises
def ink_curve(img, ink, paper, gain, out):
    """out = (ink - paper) * bend(1 - img): the image minus its new paper level (see InkJitter).

    bend(a) = g*a / (1 + (g-1)*a) on [0, 1]; the part of a outside [0, 1] passes on unchanged.
    """
    n, h, w = img.shape
    one, zero = img.dtype.type(1.0), img.dtype.type(0.0)
    for s in range(n):
        g, depth = gain[s], ink[s] - paper[s]
        for i in range(h):
            for j in range(w):
                a = one - img[s, i, j]
                inside = a if a > zero else zero
                inside = inside if inside < one else one
                out[s, i, j] = depth * (g * inside / (one + (g - one) * inside) + (a - inside))


@njit(**JIT)
def unsharp(z, blurred, amount, paper, lo, hi, out):
    """out = clip(paper + (1 + k) z - k blurred, lo, hi) per sample: an unsharp mask's overshoot."""
    n, h, w = z.shape
    lo, hi = z.dtype.type(lo), z.dtype.type(hi)
    for s in range(n):
        k, p = amount[s], paper[s]
        k1 = k + z.dtype.type(1.0)
        for i in range(h):
            for j in range(w):
                v = p + k1 * z[s, i, j] - k * blurred[s, i, j]
                v = lo if v < lo else v  # compared this way round, NaN stays NaN (as np.clip)
                out[s, i, j] = hi if v > hi else v
