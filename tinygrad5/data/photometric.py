"""The Transform base of tinygrad5.data.transforms, its argument checks, and the per-pixel transforms
(ink-level jitter with edge overshoot, Gaussian blur of random width); see transforms.py."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..kernels.augment import blur_separable, ink_curve, unsharp

def images_of(batch: np.ndarray, who: str, rng: object = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """(N, H, W) float32 C-contiguous images of a (N, H*W) / (N, H, W) / (N, 1, H, W) batch, and its shape.

    The images may be a view of ``batch``: callers write only to fresh arrays.
    """
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    a = np.asarray(batch)
    if a.dtype.kind != "f":
        raise TypeError(f"{who}: expects a floating-point batch (paper ~1, ink ~0), got dtype {a.dtype}")
    shape = a.shape
    if a.ndim == 2:
        side = math.isqrt(shape[1])
        if side * side != shape[1] or side == 0:
            raise ValueError(f"{who}: a (N, D) batch needs square images (D = side**2), got shape {shape}")
        hw = (side, side)
    elif a.ndim == 3 and 0 not in shape[1:]:
        hw = shape[1:]
    elif a.ndim == 4 and shape[1] == 1 and 0 not in shape[2:]:
        hw = shape[2:]
    else:
        raise ValueError(f"{who}: expects a batch of shape (N, H*W), (N, H, W) or (N, 1, H, W), got {shape}")
    return np.ascontiguousarray(a.reshape((shape[0],) + hw), dtype=np.float32), shape


def pair(v: float | Sequence[float], name: str, *, symmetric: bool,
         ordered: bool = True) -> tuple[float, float]:
    """A (low, high) pair from a number (-v, v) if symmetric, (v, v) otherwise, or from a pair."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        v = float(v)
        if not math.isfinite(v) or (symmetric and v < 0):
            raise ValueError(f"{name} must be a finite{' non-negative' if symmetric else ''} number "
                             f"or a (low, high) pair, got {v!r}")
        return (-v, v) if symmetric else (v, v)
    try:
        lo, hi = (float(x) for x in v)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a pair of numbers, got {v!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or (ordered and lo > hi):
        raise ValueError(f"{name} must be a pair of finite numbers{' with low <= high' if ordered else ''}, got {v!r}")
    return lo, hi


def lerp(r: tuple[float, float], u: np.ndarray) -> np.ndarray:
    """Map uniform [0, 1) draws u onto the range r."""
    return r[0] + (r[1] - r[0]) * u


class Transform:
    """Base of the batch transforms: ``t(batch, rng)`` checks the batch and calls ``_apply`` on (N, H, W)."""

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform a batch with draws from rng; returns a new float32 array of the batch's shape."""
        imgs, shape = images_of(batch, type(self).__name__, rng)
        return self._apply(imgs, rng).reshape(shape)

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform float32 (N, H, W) images into a fresh array (never a view of imgs)."""
        raise NotImplementedError


def gauss_taps(sigma: np.ndarray, truncate: float = 3.0) -> np.ndarray:
    """(n, 2r+1) float32 Gaussian taps summing to 1 for n standard deviations, r = ceil(truncate * max).

    r is at least 4: nine taps take the blur kernel's fast path (a wider zero tail costs nothing).
    """
    s = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-6)  # sigma 0: exactly the identity
    r = max(4, math.ceil(truncate * float(s.max(initial=0.0))))
    t = np.arange(-r, r + 1)
    taps = np.exp(-(t[None, :] ** 2) / (2 * s[:, None] ** 2))
    taps /= taps.sum(axis=1, keepdims=True)
    taps[taps < 1e-12] = 0.0  # float32 denormals would make every product with them ~100x slower
    return taps.astype(np.float32)


class GaussianBlur(Transform):
    """Gaussian blur with a standard deviation drawn per sample from ``sigma`` (pixels), paper outside."""

    def __init__(self, sigma: float | Sequence[float] = (0.0, 1.0), fill: float = 1.0) -> None:
        self.sigma = pair(sigma, "GaussianBlur sigma", symmetric=False)
        if self.sigma[0] < 0:
            raise ValueError(f"GaussianBlur sigma must be >= 0, got {sigma!r}")
        self.fill = float(fill)

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.empty_like(imgs)
        blur_separable(imgs, gauss_taps(lerp(self.sigma, rng.random(imgs.shape[0]))), self.fill, out)
        return out

    def __repr__(self) -> str:
        return f"GaussianBlur(sigma={self.sigma}, fill={self.fill})"


class InkJitter(Transform):
    """Random ink darkness, paper level, contrast and a soft edge overshoot, drawn per sample.

    With a = 1 - x the ink fraction (0 on paper, 1 on full ink), the contrast c (drawn
    log-uniformly) bends a into c*a / (1 + (c-1)*a) on [0, 1] (c > 1 darkens the soft edge pixels,
    c < 1 lightens them; full ink and paper stay), then the pixel becomes paper - (paper - ink) * a.
    The overshoot k adds k * (x - blur(x)) with a Gaussian of ``overshoot_sigma`` pixels, an unsharp
    mask whose ringing leaves values a little outside [ink, paper] next to the strokes, as NIST's
    resampling does. The result is clipped to ``clip`` (None: not clipped).
    """

    def __init__(self, ink: Sequence[float] = (0.0, 0.1), paper: Sequence[float] = (0.96, 1.04),
                 contrast: Sequence[float] = (0.75, 1.25), overshoot: Sequence[float] = (0.0, 0.3),
                 overshoot_sigma: float = 0.8, clip: Sequence[float] | None = (-0.2, 1.2)) -> None:
        self.ink = pair(ink, "InkJitter ink", symmetric=False)
        self.paper = pair(paper, "InkJitter paper", symmetric=False)
        self.contrast = pair(contrast, "InkJitter contrast", symmetric=False)
        if self.contrast[0] <= 0:
            raise ValueError(f"InkJitter contrast must be positive, got {contrast!r}")
        self.overshoot = pair(overshoot, "InkJitter overshoot", symmetric=False)
        if self.overshoot[0] < 0:
            raise ValueError(f"InkJitter overshoot must be >= 0, got {overshoot!r}")
        if not (isinstance(overshoot_sigma, (int, float)) and math.isfinite(overshoot_sigma) and overshoot_sigma > 0):
            raise ValueError(f"InkJitter overshoot_sigma must be a positive number, got {overshoot_sigma!r}")
        self.overshoot_sigma = float(overshoot_sigma)
        self.clip = None if clip is None else pair(clip, "InkJitter clip", symmetric=False)
        self._taps = gauss_taps(np.array([self.overshoot_sigma]))

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.random((imgs.shape[0], 4))
        ink = lerp(self.ink, u[:, 0]).astype(np.float32)
        paper = lerp(self.paper, u[:, 1]).astype(np.float32)
        log_c = (math.log(self.contrast[0]), math.log(self.contrast[1]))
        gain = np.exp(lerp(log_c, u[:, 2])).astype(np.float32)
        amount = lerp(self.overshoot, u[:, 3]).astype(np.float32)
        z = np.empty_like(imgs)  # the new image minus its paper level
        ink_curve(imgs, ink, paper, gain, z)
        blurred = z  # with no overshoot, amount is 0 and the blur is never read
        if self.overshoot[1] > 0:
            blurred = np.empty_like(z)
            blur_separable(z, self._taps, 0.0, blurred)  # z is 0 on paper, so beyond the border too
        lo, hi = (-np.inf, np.inf) if self.clip is None else self.clip
        out = np.empty_like(z)
        unsharp(z, blurred, amount, paper, lo, hi, out)
        return out

    def __repr__(self) -> str:
        return (f"InkJitter(ink={self.ink}, paper={self.paper}, contrast={self.contrast}, "
                f"overshoot={self.overshoot}, overshoot_sigma={self.overshoot_sigma}, clip={self.clip})")
