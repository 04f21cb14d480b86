"""Seeded training-time augmentation for batches of handwriting images (white paper ~1, ink ~0).

Every transform is a callable ``t(batch, rng) -> batch``: ``batch`` is float (N, H*W) with square
images (the (N, 1024) rows of tinygrad5.data), (N, H, W) or (N, 1, H, W), upright and row-major;
the result is a new float32 array of the same shape (the input is never written) and every random
number comes from ``rng`` (a ``np.random.Generator``), so the same seed gives the same batch bit for
bit. Parameters are drawn per sample. Compose them with :class:`Compose` and :class:`RandomApply`;
``DataLoader(x, y, batch_size=32, transform=default_augmentation())`` applies one to every batch.

Value range: for inputs in [0, 1], the geometric, stroke-width and blur transforms keep every value
within [min(input), max(input, fill)] (they average or pick neighbouring values and paper), and
:class:`InkJitter` clips its output to its ``clip`` range (default [-0.2, 1.2], a little wider than
the -0.14..1.12 of real NIST scans), so the default pipeline stays within [-0.2, 1.2].
Non-finite input values are not checked: a NaN spoils the output pixels that read it (the
warps' neighbours, the blur and overshoot windows); the 3x3 min/max filters may drop or keep it.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..kernels.augment import morph3x3, warp_affine, warp_affine_field, warp_field
from .photometric import GaussianBlur, InkJitter, Transform, images_of, lerp, pair

__all__ = ["Transform", "RandomAffine", "ElasticWarp", "StrokeWidth", "InkJitter", "GaussianBlur",
           "Compose", "RandomApply", "default_augmentation"]


class RandomAffine(Transform):
    """Per-sample rotation, x-shear, scale and translation about the image centre, bilinear resampling.

    ``degrees`` and ``shear`` (degrees; a number d means (-d, d)) and ``scale`` (lo, hi) are drawn
    uniformly per sample; ``translate`` is the largest shift as a fraction of the width and height
    (a number or (fx, fy)). Positive angles turn the letter counter-clockwise as seen; positive shear
    leans it right (its top moves right). Pixels that come from outside the image are ``fill``.

    With ``elastic`` (an :class:`ElasticWarp`), a ``p_elastic`` share of the samples also gets its
    displacement field in the same resampling: the same draws, in the same order, as
    ``Compose([RandomAffine(...), RandomApply(elastic, p_elastic)])``, but one interpolation instead
    of two (less blur, and about half the time).
    """

    def __init__(self, degrees: float | Sequence[float] = 0.0, translate: float | Sequence[float] = 0.0,
                 scale: Sequence[float] = (1.0, 1.0), shear: float | Sequence[float] = 0.0,
                 fill: float = 1.0, elastic: "ElasticWarp | None" = None, p_elastic: float = 1.0) -> None:
        self.degrees = pair(degrees, "RandomAffine degrees", symmetric=True)
        self.shear = pair(shear, "RandomAffine shear", symmetric=True)
        if max(abs(v) for v in self.shear) >= 90:
            raise ValueError(f"RandomAffine: shear must lie within (-90, 90) degrees, got {shear!r}")
        t = pair(translate, "RandomAffine translate", symmetric=False, ordered=False)
        if not all(0.0 <= v <= 1.0 for v in t):
            raise ValueError(f"RandomAffine: translate fractions must lie in [0, 1], got {translate!r}")
        self.translate = t
        self.scale = pair(scale, "RandomAffine scale", symmetric=False)
        if self.scale[0] <= 0:
            raise ValueError(f"RandomAffine: scale must be positive, got {scale!r}")
        self.fill = float(fill)
        if elastic is not None and not isinstance(elastic, ElasticWarp):
            raise TypeError(f"RandomAffine: elastic must be an ElasticWarp or None, got {elastic!r}")
        if not (isinstance(p_elastic, (int, float)) and 0.0 <= p_elastic <= 1.0):
            raise ValueError(f"RandomAffine: p_elastic must be a probability in [0, 1], got {p_elastic!r}")
        self.elastic, self.p_elastic = elastic, float(p_elastic)

    def matrices(self, n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n inverse maps (n, 2, 3) from output (x, y, 1) to source (x, y), about the centre."""
        u = rng.random((n, 5))
        theta = np.radians(lerp(self.degrees, u[:, 0]))
        k = np.tan(np.radians(lerp(self.shear, u[:, 1])))
        s = lerp(self.scale, u[:, 2])
        tx = (2 * u[:, 3] - 1) * self.translate[0] * w
        ty = (2 * u[:, 4] - 1) * self.translate[1] * h
        # forward A = R(theta) Shear(k) s, with y pointing down, so R turns counter-clockwise as seen;
        # its inverse is Shear(-k) R(-theta) / s.
        c, sn = np.cos(theta), np.sin(theta)
        inv = np.empty((n, 2, 3))
        inv[:, 0, 0], inv[:, 0, 1] = (c + k * sn) / s, (-sn + k * c) / s
        inv[:, 1, 0], inv[:, 1, 1] = sn / s, c / s
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        # source = Ainv (p - centre - t) + centre
        inv[:, 0, 2] = cx - inv[:, 0, 0] * (cx + tx) - inv[:, 0, 1] * (cy + ty)
        inv[:, 1, 2] = cy - inv[:, 1, 0] * (cx + tx) - inv[:, 1, 1] * (cy + ty)
        return inv

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, h, w = imgs.shape
        out = np.empty_like(imgs)
        inv = self.matrices(n, h, w, rng)
        if self.elastic is None:
            warp_affine(imgs, inv, self.fill, out)
            return out
        if h != w:
            raise ValueError(f"RandomAffine with an elastic warp needs square images, got {h}x{w}")
        idx = np.flatnonzero(rng.random(n) < self.p_elastic)
        field = np.zeros((2, n, h, w), np.float32)
        if idx.size:
            field[:, idx] = self.elastic.fields(idx.size, h, rng)
        warp_affine_field(imgs, inv, field[0], field[1], self.fill, out)
        return out

    def __repr__(self) -> str:
        extra = "" if self.elastic is None else f", elastic={self.elastic!r}, p_elastic={self.p_elastic}"
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
                f"shear={self.shear}, fill={self.fill}{extra})")


class ElasticWarp(Transform):
    """Smooth random displacement: each pixel moves by a field with RMS ``alpha`` pixels per axis.

    The field is white noise on a grid of control points ``sigma`` pixels apart, smoothed by a
    Gaussian of width ``sigma`` pixels and scaled to unit variance at every pixel, times ``alpha``
    (a number, or (lo, hi) drawn per sample). Unlike Simard et al.'s alpha, which multiplies a field
    whose size depends on sigma, this alpha is the displacement itself.
    """

    def __init__(self, alpha: float | Sequence[float] = 1.0, sigma: float = 4.0, fill: float = 1.0) -> None:
        self.alpha = pair(alpha, "ElasticWarp alpha", symmetric=False)
        if self.alpha[0] < 0:
            raise ValueError(f"ElasticWarp: alpha must be >= 0, got {alpha!r}")
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"ElasticWarp: sigma must be a positive number of pixels, got {sigma!r}")
        self.sigma, self.fill = float(sigma), float(fill)
        self._smoothers: dict[int, np.ndarray] = {}

    def _smoother(self, size: int) -> np.ndarray:
        """(size, K) map from K control points to pixels, rows of unit norm (unit-variance output)."""
        g = self._smoothers.get(size)
        if g is None:
            s = self.sigma
            centres = np.arange(-2 * s, size - 1 + 2 * s + 1e-9, s)
            g = np.exp(-((np.arange(size)[:, None] - centres[None, :]) ** 2) / (2 * s * s))
            g /= np.linalg.norm(g, axis=1, keepdims=True)
            g[g < 1e-12] = 0.0  # float32 denormals in the far tails would slow the products ~100x
            g = g.astype(np.float32)
            self._smoothers[size] = g
        return g

    def fields(self, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """Draw (2, n, size, size) float32 displacements (dy, dx) in pixels."""
        g = self._smoother(size)
        k = g.shape[1]
        # Uniform noise scaled to unit variance: 4x cheaper to draw than normals, and the smoothing
        # sums many of them, so the field is close to Gaussian anyway. The field is linear in the
        # noise, so each sample's alpha scales its (smaller) noise rather than its field.
        scale = (lerp(self.alpha, rng.random(n)) * math.sqrt(12.0)).astype(np.float32)
        noise = rng.random((2, n, k * k), dtype=np.float32) - np.float32(0.5)
        noise *= scale[None, :, None]
        half = (noise.reshape(2 * n * k, k) @ g.T).reshape(2 * n, k, size).transpose(0, 2, 1)
        # half[b, j, :] . g[i, :] is G noise^T G^T: the field of the transposed noise, equally distributed
        return (half.reshape(2 * n * size, k) @ g.T).reshape(2, n, size, size)

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, h, w = imgs.shape
        if h != w:
            raise ValueError(f"ElasticWarp needs square images, got {h}x{w}")
        dy, dx = self.fields(n, h, rng)
        out = np.empty_like(imgs)
        warp_field(imgs, dy, dx, self.fill, out)
        return out

    def __repr__(self) -> str:
        return f"ElasticWarp(alpha={self.alpha}, sigma={self.sigma}, fill={self.fill})"


class StrokeWidth(Transform):
    """Thicken or thin the strokes by 3x3 grey-level morphology, chosen per sample.

    With probability ``p_thicken`` a sample gets a min filter (ink spreads one pixel), with
    ``p_thin`` a max filter (paper eats one pixel of ink), otherwise it is unchanged; the filtered
    image is blended in by a fraction drawn from ``amount`` (fractional widening). The window is a
    3x3 plus (``footprint="plus"``) or the full square. Thinning keeps at least ``keep_ink`` of a
    sample's ink (its blend fraction is lowered if need be), so strokes a pixel or two wide are
    lightened rather than erased.
    """

    def __init__(self, p_thicken: float = 0.3, p_thin: float = 0.3, amount: Sequence[float] = (0.5, 1.0),
                 footprint: str = "plus", keep_ink: float = 0.6, fill: float = 1.0) -> None:
        for name, p in (("p_thicken", p_thicken), ("p_thin", p_thin)):
            if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
                raise ValueError(f"StrokeWidth: {name} must be a probability in [0, 1], got {p!r}")
        if p_thicken + p_thin > 1.0 + 1e-12:
            raise ValueError(f"StrokeWidth: p_thicken + p_thin must be <= 1, got {p_thicken} + {p_thin}")
        if footprint not in ("plus", "square"):
            raise ValueError(f"StrokeWidth: footprint must be 'plus' or 'square', got {footprint!r}")
        self.amount = pair(amount, "StrokeWidth amount", symmetric=False)
        if not 0.0 <= self.amount[0] <= self.amount[1] <= 1.0:
            raise ValueError(f"StrokeWidth: amount must lie within [0, 1], got {amount!r}")
        if not (isinstance(keep_ink, (int, float)) and 0.0 <= keep_ink <= 1.0):
            raise ValueError(f"StrokeWidth: keep_ink must be a fraction in [0, 1], got {keep_ink!r}")
        self.p_thicken, self.p_thin, self.keep_ink = float(p_thicken), float(p_thin), float(keep_ink)
        self.footprint, self.fill = footprint, float(fill)

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.random((imgs.shape[0], 2))
        t = lerp(self.amount, u[:, 1]).astype(np.float32)[:, None, None]
        out = imgs.copy()
        thick = u[:, 0] < self.p_thicken
        thin = ~thick & (u[:, 0] < self.p_thicken + self.p_thin)
        for mode, mask in ((0, thick), (1, thin)):
            idx = np.flatnonzero(mask)
            if idx.size:
                sub = imgs[idx]
                filtered = np.empty_like(sub)
                morph3x3(sub, mode, self.footprint == "square", self.fill, filtered)
                frac = t[idx]
                if mode == 1 and self.keep_ink > 0:
                    ink = np.maximum(self.fill - sub, 0).sum(axis=(1, 2), dtype=np.float64)
                    lost = ink - np.maximum(self.fill - filtered, 0).sum(axis=(1, 2), dtype=np.float64)
                    cap = (1.0 - self.keep_ink) * ink / np.maximum(lost, 1e-12)
                    frac = np.fmin(frac, cap.astype(np.float32)[:, None, None])  # fmin: a NaN pixel caps nothing
                out[idx] = sub + frac * (filtered - sub)
        return out

    def __repr__(self) -> str:
        return (f"StrokeWidth(p_thicken={self.p_thicken}, p_thin={self.p_thin}, amount={self.amount}, "
                f"footprint={self.footprint!r}, keep_ink={self.keep_ink})")


def _run(t: Callable, imgs: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Run one step of a pipeline on (N, H, W) images: our transforms directly, any other callable
    on the batch's own shape, checked so that a bad result is named."""
    if isinstance(t, Transform):
        return t._apply(imgs, rng)
    res = t(imgs.reshape(shape), rng)
    if not isinstance(res, np.ndarray) or res.shape != shape:
        got = res.shape if isinstance(res, np.ndarray) else type(res).__name__
        raise ValueError(f"transform {t!r} returned {got}, expected an array of shape {shape}")
    return images_of(res, repr(t))[0]


class Compose(Transform):
    """Apply transforms in order: ``Compose([RandomAffine(10), InkJitter()])(batch, rng)``."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        imgs, shape = images_of(batch, "Compose", rng)
        out = imgs
        for t in self.transforms:
            out = _run(t, out, shape, rng)
        # a user callable may hand back its input: the result must never alias the caller's batch
        return (out.copy() if np.may_share_memory(out, batch) else out).reshape(shape)

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        shape = imgs.shape
        out = imgs
        for t in self.transforms:
            out = _run(t, out, shape, rng)
        return out.copy() if out is imgs else out

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {t!r}" for t in self.transforms)
        return f"Compose([\n{inner}\n])" if inner else "Compose([])"


class RandomApply(Transform):
    """Apply ``transform`` to each sample with probability ``p`` (to the whole batch if per_sample=False)."""

    def __init__(self, transform: Callable, p: float = 0.5, per_sample: bool = True) -> None:
        if not callable(transform):
            raise TypeError(f"RandomApply: transform must be callable, got {transform!r}")
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise ValueError(f"RandomApply: p must be a probability in [0, 1], got {p!r}")
        self.transform, self.p, self.per_sample = transform, float(p), bool(per_sample)

    def _apply(self, imgs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.per_sample:
            return _run(self.transform, imgs, imgs.shape, rng) if rng.random() < self.p else imgs.copy()
        idx = np.flatnonzero(rng.random(imgs.shape[0]) < self.p)
        out = imgs.copy()
        if idx.size:
            sub = imgs[idx]
            out[idx] = _run(self.transform, sub, sub.shape, rng)
        return out

    def __repr__(self) -> str:
        return f"RandomApply({self.transform!r}, p={self.p}, per_sample={self.per_sample})"


# Magnitudes per strength, for upright 32x32 letters; untuned starting points (see the docstring).
_STRENGTHS = {"light": 0.5, "medium": 1.0, "strong": 1.5}


def default_augmentation(strength: str = "medium") -> Compose:
    """A pipeline for handwritten letters: stroke width, affine, elastic warp, blur and ink jitter.

    ``"medium"`` turns letters by up to 10 degrees, shears by up to 10, scales by 0.85-1.1, shifts
    by up to 2 px, warps half of them by up to 1 px RMS (smooth over ~5 px), thickens or thins a
    quarter of them each, blurs half of them a little and jitters ink, paper, contrast and edge
    overshoot; ``"light"`` and ``"strong"`` scale these magnitudes by 0.5 and 1.5. The figures are
    plausible starting points for 32x32 letters, not tuned on any data.
    """
    if strength not in _STRENGTHS:
        raise ValueError(f"default_augmentation: strength must be one of {sorted(_STRENGTHS)}, got {strength!r}")
    m = _STRENGTHS[strength]
    return Compose([
        StrokeWidth(p_thicken=0.25, p_thin=0.25, amount=(0.4, 1.0)),
        RandomAffine(degrees=10 * m, translate=2 / 32 * m, scale=(1 - 0.15 * m, 1 + 0.1 * m), shear=10 * m,
                     elastic=ElasticWarp(alpha=(0.0, 1.0 * m), sigma=5.0), p_elastic=0.5),
        RandomApply(GaussianBlur(sigma=(0.3, 0.3 + 0.5 * m)), p=0.5),
        InkJitter(ink=(0.0, 0.1 * m), paper=(1 - 0.04 * m, 1 + 0.04 * m), contrast=(1 - 0.25 * m, 1 + 0.25 * m),
                  overshoot=(0.0, 0.3 * m)),
    ])
