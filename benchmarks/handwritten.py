"""The homework's way: forward, backward and SGD of each model written by hand in float32 numpy.

No framework, no graph, preallocated nothing clever beyond in-place updates: the practical floor a
framework on numpy can approach.  Weights come in tinygrad5's layout (Linear weight (out, in), conv
weight (O, C, KH, KW)) so every contender starts from the same arrays; they are converted once here.

The ConvNet works in NHWC internally (im2col by a strided window view, one BLAS product per layer,
col2im as 25 strided adds, 2×2 pooling by reshape); its fc1 weight is permuted once so that the
flattened features match tinygrad5's NCHW flatten.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

F32 = np.float32


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Stable logistic via tanh, in place: one transcendental, no overflow at ±1000."""
    z *= 0.5
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5
    return z


def _softmax_xent(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed cross-entropy and d(loss)/d(logits) = probs - onehot (logits are overwritten)."""
    logits -= logits.max(axis=1, keepdims=True)
    rows = np.arange(len(y))
    picked = logits[rows, y]
    np.exp(logits, out=logits)
    s = logits.sum(axis=1, keepdims=True)
    loss = float(np.log(s).sum() - picked.sum())
    logits /= s
    logits[rows, y] -= 1.0
    return loss, logits


class _SGD:
    """Plain SGD, or the homework's momentum form M ← μM − lr·g, W ← W + M."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        self.params, self.lr, self.mu = params, lr, momentum
        self.bufs = [np.zeros_like(p) for p in params] if momentum else None

    def step(self, grads: list[np.ndarray]) -> None:
        """Update every parameter in place."""
        if self.bufs is None:
            for p, g in zip(self.params, grads):
                g *= self.lr
                p -= g
            return
        for p, g, m in zip(self.params, grads, self.bufs):
            m *= self.mu
            g *= self.lr
            m -= g
            p += m


def _linear_params(weights: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
    """[W (in, out), b, ...] float32 copies from tinygrad5's '<name>.weight' (out, in) and '.bias'."""
    out = []
    for n in names:
        out.append(np.ascontiguousarray(weights[f"{n}.weight"].T, dtype=F32))
        out.append(np.array(weights[f"{n}.bias"], dtype=F32))
    return out


class MLP:
    """1024 -> 64 sigmoid -> 36, softmax cross-entropy summed over the batch."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float, momentum: float = 0.0) -> None:
        self.p = _linear_params(weights, ["0", "2"])
        self.opt = _SGD(self.p, lr, momentum)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One SGD step on a batch; returns the summed loss."""
        w1, b1, w2, b2 = self.p
        h = x @ w1
        h += b1
        _sigmoid(h)
        logits = h @ w2
        logits += b2
        loss, d = _softmax_xent(logits, y)
        gw2, gb2 = h.T @ d, d.sum(axis=0)
        dh = d @ w2.T
        h *= 1.0 - h          # h is not needed any more: reuse it for sigmoid'
        dh *= h
        gw1, gb1 = x.T @ dh, dh.sum(axis=0)
        self.opt.step([gw1, gb1, gw2, gb2])
        return loss


class Autoencoder:
    """1024 -> 32 -> 32 -> 32 (ReLU) -> 1024 sigmoid, squared error summed over the batch."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float, momentum: float = 0.9) -> None:
        self.p = _linear_params(weights, ["0", "2", "4", "6"])
        self.opt = _SGD(self.p, lr, momentum)

    def step(self, x: np.ndarray, y: np.ndarray | None = None) -> float:
        """One step reconstructing x; returns the summed squared error."""
        w1, b1, w2, b2, w3, b3, w4, b4 = self.p
        a1 = x @ w1
        a1 += b1
        np.maximum(a1, 0, out=a1)
        a2 = a1 @ w2
        a2 += b2
        np.maximum(a2, 0, out=a2)
        a3 = a2 @ w3
        a3 += b3
        np.maximum(a3, 0, out=a3)
        out = a3 @ w4
        out += b4
        _sigmoid(out)
        diff = out - x
        loss = float(np.vdot(diff, diff))
        diff *= 2.0
        out *= 1.0 - out
        diff *= out          # d loss / d pre-activation of the last layer
        grads = [a3.T @ diff, diff.sum(axis=0)]
        d = diff @ w4.T
        for a_in, a_out, w in ((a2, a3, w3), (a1, a2, w2), (x, a1, None)):
            d *= a_out > 0
            grads = [a_in.T @ d, d.sum(axis=0)] + grads
            if w is not None:
                d = d @ w.T
        self.opt.step(grads)
        return loss


def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """(N, H, W, C) -> (N·OH·OW, C·k·k) rows ordered (c, kh, kw), a fresh contiguous array."""
    n, h, w, c = x.shape
    win = sliding_window_view(x, (k, k), axis=(1, 2))          # N OH OW C k k (a view)
    return win.reshape(n * (h - k + 1) * (w - k + 1), c * k * k)


def _col2im(dcols: np.ndarray, shape: tuple[int, int, int, int], k: int) -> np.ndarray:
    """Adjoint of _im2col: sum each window's gradient back into an (N, H, W, C) array."""
    n, h, w, c = shape
    oh, ow = h - k + 1, w - k + 1
    d6 = dcols.reshape(n, oh, ow, c, k, k)
    dx = np.zeros(shape, dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, i:i + oh, j:j + ow, :] += d6[:, :, :, :, i, j]
    return dx


def _pool2(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2×2 max pool of (N, H, W, C) and the mask of where the max came from.

    Ties mark several elements; after ReLU the only ties are zeros, whose gradient the ReLU mask
    zeroes anyway, so the gradient matches an argmax pool.
    """
    n, h, w, c = a.shape
    a6 = a.reshape(n, h // 2, 2, w // 2, 2, c)
    out = a6.max(axis=(2, 4))
    mask = a6 == out[:, :, None, :, None, :]
    return out, mask


def _unpool2(g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Route (N, H/2, W/2, C) gradients through the pool mask to (N, H, W, C)."""
    n, h2, w2, c = g.shape
    return (mask * g[:, :, None, :, None, :]).reshape(n, 2 * h2, 2 * w2, c)


class ConvNet:
    """conv5×20 relu pool2 -> conv5×50 relu pool2 -> fc1250-512 relu -> fc512-36, mean cross-entropy."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float, momentum: float = 0.9) -> None:
        def conv_w(name: str) -> np.ndarray:
            w = weights[f"{name}.weight"]
            return np.ascontiguousarray(w.reshape(w.shape[0], -1).T, dtype=F32)   # (C·k·k, O)
        fc1 = weights["7.weight"].reshape(512, 50, 5, 5).transpose(0, 2, 3, 1).reshape(512, 1250)
        self.p = [conv_w("0"), np.array(weights["0.bias"], F32), conv_w("3"), np.array(weights["3.bias"], F32),
                  np.ascontiguousarray(fc1.T, dtype=F32), np.array(weights["7.bias"], F32),
                  np.ascontiguousarray(weights["9.weight"].T, dtype=F32), np.array(weights["9.bias"], F32)]
        self.opt = _SGD(self.p, lr, momentum)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One step on x (N, 1, 32, 32) (same memory as NHWC since C = 1); returns the mean loss."""
        w1, b1, w2, b2, w3, b3, w4, b4 = self.p
        n = x.shape[0]
        x = x.reshape(n, 32, 32, 1)
        cols1 = _im2col(x, 5)                                   # N·784 × 25
        c1 = cols1 @ w1
        c1 += b1
        np.maximum(c1, 0, out=c1)
        p1, m1 = _pool2(c1.reshape(n, 28, 28, 20))              # N 14 14 20
        cols2 = _im2col(p1, 5)                                  # N·100 × 500
        c2 = cols2 @ w2
        c2 += b2
        np.maximum(c2, 0, out=c2)
        p2, m2 = _pool2(c2.reshape(n, 10, 10, 50))              # N 5 5 50
        f = p2.reshape(n, 1250)
        h = f @ w3
        h += b3
        np.maximum(h, 0, out=h)
        logits = h @ w4
        logits += b4
        loss, d = _softmax_xent(logits, y)
        d *= 1.0 / n
        gw4, gb4 = h.T @ d, d.sum(axis=0)
        dh = d @ w4.T
        dh *= h > 0
        gw3, gb3 = f.T @ dh, dh.sum(axis=0)
        dc2 = _unpool2((dh @ w3.T).reshape(n, 5, 5, 50), m2)
        dc2 *= c2.reshape(n, 10, 10, 50) > 0
        dc2 = dc2.reshape(n * 100, 50)
        gw2, gb2 = cols2.T @ dc2, dc2.sum(axis=0)
        dp1 = _col2im(dc2 @ w2.T, (n, 14, 14, 20), 5)
        dc1 = _unpool2(dp1, m1)
        dc1 *= c1.reshape(n, 28, 28, 20) > 0
        dc1 = dc1.reshape(n * 784, 20)
        gw1, gb1 = cols1.T @ dc1, dc1.sum(axis=0)
        self.opt.step([gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4])
        return loss / n


BUILDERS = {"mlp": MLP, "autoencoder": Autoencoder, "convnet": ConvNet}
