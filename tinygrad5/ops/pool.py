"""avg_pool2d: the mean of each window, with torch's padding, ceil_mode and divisor rules.

Windows are summed as kernel-many strided slices of the zero-padded input (numpy, no backend: the
work is a few passes over the input). Each window's divisor is the number of its elements inside
the padded input (count_include_pad=True) or inside the input itself (False), unless
divisor_override gives one number for all.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Function, Tensor, as_tensor
from .conv import as_pair


class AvgPool2d(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_hw=(1, 1), divisor=None):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
        n, c, h, w = x.shape
        hp, wp = max(h + 2 * ph, (oh - 1) * sh + kh), max(w + 2 * pw, (ow - 1) * sw + kw)
        xp = np.zeros((n, c, hp, wp), x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        total = np.zeros((n, c, oh, ow), x.dtype)
        for i in range(kh):
            for j in range(kw):
                total += xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
        self.div, self.geom = divisor.astype(x.dtype, copy=False), (x.shape, (hp, wp), kernel, stride, padding)
        return total / self.div

    def backward(self, g):
        (n, c, h, w), (hp, wp), (kh, kw), (sh, sw), (ph, pw) = self.geom
        oh, ow = g.shape[2:]
        gd = g / self.div
        gp = np.zeros((n, c, hp, wp), g.dtype)
        for i in range(kh):
            for j in range(kw):
                gp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += gd
        return gp[:, :, ph:ph + h, pw:pw + w]


def _out_size(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    out = (size + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _window_counts(size: int, out: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """How many of each window's k positions lie in the padded input (or the input itself)."""
    lo, hi = (0, size + 2 * p) if include_pad else (p, p + size)
    starts = np.arange(out) * s
    return np.clip(np.minimum(starts + k, hi) - np.maximum(starts, lo), 0, None)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over kernel_size windows of x (N, C, H, W) or (C, H, W); stride defaults to kernel_size."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"avg_pool2d needs x of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"avg_pool2d needs a float input, got dtype {x.dtype}")
    k = as_pair(kernel_size, "kernel_size")
    s = k if stride is None or stride == [] else as_pair(stride, "stride")
    p = as_pair(padding, "padding")
    if min(k) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"avg_pool2d needs kernel_size and stride >= 1 and padding >= 0, got {k}, {s}, {p}")
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"avg_pool2d: padding {p} should be at most half of kernel_size {k}")
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("avg_pool2d: divisor_override must not be 0")
    squeeze = x.ndim == 3
    if squeeze:
        x = x.reshape((1,) + x.shape)
    h, w = x.shape[2:]
    oh, ow = (_out_size(n, kk, ss, pp, ceil_mode) for n, kk, ss, pp in zip((h, w), k, s, p))
    if oh < 1 or ow < 1:
        raise ValueError(f"avg_pool2d: kernel {k} stride {s} padding {p} do not fit input {input.shape}")
    if divisor_override is not None:
        div = np.full((1, 1, 1, 1), float(divisor_override))
    else:
        ch = _window_counts(h, oh, k[0], s[0], p[0], count_include_pad)
        cw = _window_counts(w, ow, k[1], s[1], p[1], count_include_pad)
        div = (ch[:, None] * cw[None, :]).astype(np.float64)[None, None]
    out = AvgPool2d.apply(x, kernel=k, stride=s, padding=p, out_hw=(oh, ow), divisor=div)
    return out.reshape(out.shape[1:]) if squeeze else out
