"""The reference backend: matmul, conv2d, max_pool2d, softmax-cross-entropy, sigmoid, ReLU, a linear
layer's bias + activation epilogue and the SGD update in plain numpy.

Every backend module exposes these functions on numpy arrays (never Tensors); `cache` values are
opaque to the caller and handed back to the matching backward.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NAME = "numpy"


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """numpy.matmul for operands of 2 or more dims, into `out` (C-contiguous) when given."""
    return np.matmul(a, b, out=out)


def _windows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) strided view of every window."""
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def conv2d_forward(x, w, b, stride, padding):
    """Cross-correlation of x (N,C,H,W) with w (O,C,KH,KW) plus b (O,), via im2col."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = _windows(xp, w.shape[2], w.shape[3], sh, sw)            # N C OH OW KH KW
    out = np.tensordot(cols, w, axes=((1, 4, 5), (1, 2, 3)))        # N OH OW O
    if b is not None:
        out += b
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)), (cols, w, xp.shape, x.shape, stride, padding, b is not None)


def conv2d_backward(gout, cache, need_x=True):
    """Gradients (gx or None, gw, gb or None) of conv2d_forward."""
    cols, w, xp_shape, x_shape, (sh, sw), (ph, pw), has_bias = cache
    gw = np.tensordot(gout, cols, axes=((0, 2, 3), (0, 2, 3)))      # O C KH KW
    gb = gout.sum(axis=(0, 2, 3)) if has_bias else None
    gx = None
    if need_x:
        gxp = np.zeros(xp_shape, dtype=gout.dtype)
        oh, ow = gout.shape[2], gout.shape[3]
        # col2im: each kernel tap adds one strided slab back; no scatter with repeats needed
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                contrib = np.tensordot(gout, w[:, :, i, j], axes=((1,), (0,)))  # N OH OW C
                gxp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += contrib.transpose(0, 3, 1, 2)
        gx = gxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]
    return gx, gw.astype(gout.dtype, copy=False), gb


def conv2d_relu_pool_forward(x, w, b, stride, padding):
    """max_pool2d(relu(conv2d(x, w, b)), 2x2, stride 2) -> (out, cache): here simply the two ops."""
    y, conv_cache = conv2d_forward(x, w, b, stride, padding)
    out, pool_cache = max_pool2d_forward(y, (2, 2), (2, 2), relu=True)
    return out, (conv_cache, pool_cache)


def conv2d_relu_pool_backward(gout, cache, need_x=True):
    """Gradients (gx or None, gw, gb or None) of conv2d_relu_pool_forward."""
    conv_cache, pool_cache = cache
    return conv2d_backward(max_pool2d_backward(gout, pool_cache), conv_cache, need_x)


def max_pool2d_forward(x, kernel, stride, relu=False):
    """Max over each window of x (N,C,H,W); keeps the flat in-window argmax for backward.

    relu=True: max_pool2d(relu(x)), computed as relu of the maxima (ReLU is monotone).
    """
    (kh, kw), (sh, sw) = kernel, stride
    win = _windows(x, kh, kw, sh, sw)
    flat = win.reshape(win.shape[:4] + (kh * kw,))
    idx = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    mask = None
    if relu:
        out, mask = relu_forward(out)
    return out, (idx, x.shape, kernel, stride, mask)


def max_pool2d_backward(gout, cache):
    """Route each output gradient to the input element that was the window's max."""
    idx, x_shape, (kh, kw), (sh, sw), mask = cache
    if mask is not None:
        gout = relu_backward(gout, mask)
    gx = np.zeros(x_shape, dtype=gout.dtype)
    oh, ow = gout.shape[2], gout.shape[3]
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += np.where(idx == i * kw + j, gout, 0)
    return gx


def softmax_cross_entropy_forward(logits, labels):
    """Per-row loss logsumexp(z) - z[label] and the softmax probabilities; labels outside [0, C) raise."""
    c = logits.shape[1]
    if len(labels) and (labels.min() < 0 or labels.max() >= c):
        bad = labels[(labels < 0) | (labels >= c)]
        raise ValueError(f"cross_entropy: label {bad[0]} is out of range for {c} classes")
    with np.errstate(over="ignore"):  # max - (-3e38) overflows to -inf, whose exp is the 0 it should be
        z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    probs = e / s
    loss = np.log(s[:, 0]) - z[np.arange(len(labels)), labels]
    return loss, probs


def softmax_cross_entropy_backward(probs, labels, gloss):
    """(probs - onehot(labels)) scaled per row by gloss ((N,), or () / (1,) for every row)."""
    d = probs.copy()
    d[np.arange(len(labels)), labels] -= 1
    d *= np.reshape(gloss, (-1, 1))
    return d


def sgd_step(w: np.ndarray, d: np.ndarray, buf: np.ndarray | None, lr: float, mu: float, damp: float) -> None:
    """In place: with buf, buf = mu*buf + (1-damp)*d and w -= lr*buf; without, w -= lr*d."""
    if buf is not None:
        buf *= mu
        buf += d if damp == 0 else d * (1.0 - damp)
        d = buf
    w -= d * lr


def sgd_steps(ws: list[np.ndarray], ds: list[np.ndarray], bufs: list[np.ndarray] | None,
              lr: float, mu: float, damp: float, cache: dict) -> None:
    """sgd_step for each parameter in turn (bufs None: no momentum); `cache` is unused here."""
    for i, (w, d) in enumerate(zip(ws, ds)):
        sgd_step(w, d, None if bufs is None else bufs[i], lr, mu, damp)


def relu_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max(a, 0), the mask a > 0); np.where over a random-sign mask is branchy and 8x slower."""
    return np.maximum(a, 0), a > 0


def relu_backward(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """g where the input was positive, else 0."""
    return g * mask


def sigmoid_into(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = 1 / (1 + e^-x) as (1 + tanh(x/2)) / 2 (out may be x itself): no overflow, exactly 0
    and 1 far out, no warnings.

    One transcendental, in place; the textbook two-branch np.where form measured 15x slower here.
    """
    np.multiply(x, 0.5, out=out)  # out= keeps 0-d inputs arrays
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def sigmoid_forward(a: np.ndarray) -> np.ndarray:
    """The logistic function of a, into a new array."""
    return sigmoid_into(a, np.empty_like(a))


def sigmoid_backward(out: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g * out * (1 - out) with one new array."""
    d = 1 - out
    d *= out
    d *= g
    return d


def bias_act_forward(out: np.ndarray, bias: np.ndarray | None, act: str | None) -> tuple[np.ndarray, object]:
    """act(out + bias) in place on a fresh 2-D product (act None, "sigmoid" or "relu") -> (out, cache)."""
    if bias is not None:
        out += bias
    if act == "sigmoid":
        return sigmoid_into(out, out), (act, out)
    if act == "relu":
        out, mask = relu_forward(out)
        return out, (act, mask)
    return out, (None, None)


def linear_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, act: str | None
                   ) -> tuple[np.ndarray, object]:
    """act(x @ w.T + bias) for 2-D x (rows, in) and w (out, in) -> (out, cache for bias_act_backward)."""
    return bias_act_forward(matmul(x, w.T), bias, act)


def bias_act_backward(g: np.ndarray, cache: object, want_bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(g through the activation, its column sums if want_bias) for bias_act_forward's cache."""
    act, saved = cache
    if act == "sigmoid":
        g = sigmoid_backward(saved, g)
    elif act == "relu":
        g = relu_backward(g, saved)
    return g, (np.add.reduce(g, axis=0) if want_bias else None)
