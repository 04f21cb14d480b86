"""Image cleaning for letter finding: greyscale, illumination flattening, Otsu, hysteresis.

Everything works on numpy arrays. "Darkness" images are 1 − (grey / paper brightness): paper is
≈ 0 wherever it lies on the page, ink is positive (a marker reaches 0.5–0.8, a pencil 0.15–0.4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_unit_range(a: np.ndarray) -> np.ndarray:
    """Scale a 2-D or 3-D bool/integer/float image to float32 in [0, 1] by the range its values live in.

    bool: True is 1. Unsigned 8/16-bit: divided by 255 / 65535. Other integers and floats (Pillow's
    I and F modes): taken as [0, 1] when they lie in it, else divided by the smallest of 255, 65535
    and 2^32 − 1 that holds their maximum (16-bit scans arrive as 32-bit I); with negative values
    the image's own min..max is stretched to 0..1.
    """
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        return a.astype(np.float32) * np.float32(1 / (256 ** a.dtype.itemsize - 1))
    if a.dtype.kind not in "iuf":
        raise ValueError(f"unsupported image dtype {a.dtype} (shape {a.shape})")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"image of shape {a.shape} contains NaN or inf")
    if a.size == 0:
        return a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    g = a.astype(np.float64)
    if lo < 0:
        # No range to read the values in: the image's own extremes become black and white.
        g = (g - lo) / (hi - lo) if hi > lo else np.ones_like(g)
    elif hi > 1.5:  # clearly beyond [0, 1] (not just rounding): a wider range in disguise
        g = g / next((r for r in (255.0, 65535.0, 4294967295.0) if hi <= r), hi)
    return np.clip(g, 0.0, 1.0).astype(np.float32)


def to_grey(image: np.ndarray) -> np.ndarray:
    """Convert an H×W, H×W×3 or H×W×4 bool/integer/float image to float32 grey in [0, 1]."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., :3]
    elif a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    elif a.ndim != 2:
        raise ValueError(f"expected an H×W or H×W×3 image, got shape {a.shape}")
    if a.shape[0] < 8 or a.shape[1] < 8:
        raise ValueError(f"image of shape {a.shape} is too small to hold letters (at least 8×8 pixels needed)")
    fixed = {np.dtype(np.bool_): 1.0, np.dtype(np.uint8): 1 / 255, np.dtype(np.uint16): 1 / 65535}
    if a.dtype in fixed:
        # Weighted sum first, then the scale: the order every earlier result was computed in.
        g = a.astype(np.float32) @ _LUMA if a.ndim == 3 else a.astype(np.float32)
        g *= np.float32(fixed[a.dtype])
    else:
        g = to_unit_range(a)
        if g.ndim == 3:
            g = g @ _LUMA
    return np.clip(g, 0.0, 1.0, out=g)


def downsample(img: np.ndarray, factor: int) -> np.ndarray:
    """Area-average a 2-D image by an integer factor; a ragged edge is padded by repetition."""
    if factor <= 1:
        return img.astype(np.float32, copy=False)
    h, w = img.shape
    ph, pw = -h % factor, -w % factor
    if ph or pw:
        img = np.pad(img, ((0, ph), (0, pw)), mode="edge")
    hh, ww = img.shape[0] // factor, img.shape[1] // factor
    return img.reshape(hh, factor, ww, factor).mean(axis=(1, 3), dtype=np.float32)


def _interp_axis(n_out: int, f_out: int, n_in: int, f_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights for linear interpolation between two pixel grids of one axis."""
    # Pixel i of a grid downsampled by f covers full-res [i·f, (i+1)·f); compare centres.
    centres = ((np.arange(n_out) + 0.5) * f_out) / f_in - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    lo = np.minimum(np.floor(centres).astype(np.intp), max(n_in - 2, 0))
    wt = (centres - lo).astype(np.float32)
    if n_in == 1:
        return np.zeros(n_out, np.intp), np.zeros(n_out, np.float32)
    return lo, wt


def resample(img: np.ndarray, f_in: int, shape_out: tuple[int, int], f_out: int) -> np.ndarray:
    """Bilinearly resample an image on a grid downsampled by f_in onto one downsampled by f_out."""
    lo_y, wy = _interp_axis(shape_out[0], f_out, img.shape[0], f_in)
    lo_x, wx = _interp_axis(shape_out[1], f_out, img.shape[1], f_in)
    hi_y = np.minimum(lo_y + 1, img.shape[0] - 1)
    hi_x = np.minimum(lo_x + 1, img.shape[1] - 1)
    rows = img[lo_y] * (1 - wy)[:, None] + img[hi_y] * wy[:, None]
    return rows[:, lo_x] * (1 - wx) + rows[:, hi_x] * wx


def estimate_background(grey_small: np.ndarray, window: int) -> np.ndarray:
    """Paper brightness at every pixel of a downsampled grey image (upper envelope, smoothed)."""
    # A median first so that a bright JPEG speck or glare pixel cannot lift the envelope.
    g = ndi.median_filter(grey_small, size=3, mode="nearest")
    # Grey closing = max then min: erases dark strokes narrower than the window and keeps the
    # slowly varying paper level, including shadows broader than the window.
    window = max(3, int(window) | 1)
    closed = ndi.grey_closing(g, size=(window, window), mode="nearest")
    # Smoothing removes the closing's blockiness, but next to a sharp shadow or page edge it
    # would lift the dark side above its true level and paint a false ink band; the closing
    # alone is exact at such a step, so never exceed it.
    bg = np.minimum(ndi.gaussian_filter(closed, sigma=window / 4, mode="nearest"), closed)
    return np.maximum(bg, 1e-3)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample: the cut maximising the between-class variance."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"otsu_threshold needs at least 2 values, got {v.size}")
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    k = int(np.argmax(between[:-1]))
    return float(edges[k + 1])


@dataclass(frozen=True)
class InkLevels:
    """Thresholds on darkness: paper level and noise, and the hysteresis pair for ink."""

    paper: float
    noise: float
    low: float
    high: float
    contrast: float


def ink_levels(dark: np.ndarray, min_contrast: float = 0.15) -> InkLevels | None:
    """Pick hysteresis thresholds for ink on a darkness image, or None when there is no ink."""
    sample = dark[::3, ::3] if dark.size > 400_000 else dark
    paper = float(np.median(sample))
    noise = float(1.4826 * np.median(np.abs(sample - paper)))
    # Otsu over the whole page would split paper noise on a blank page and is pulled towards
    # the huge paper class otherwise; restricting it to pixels clearly above the paper noise
    # makes it separate faint marks (grid lines, show-through, stroke edges) from real ink.
    floor = paper + max(4.0 * noise, 0.03)
    cand = dark[dark > floor]
    if cand.size < 30:
        return None
    t = otsu_threshold(cand)
    upper = cand[cand > t]
    if upper.size < 20:
        return None
    contrast = float(np.mean(upper)) - paper
    if contrast < min_contrast or contrast < 8.0 * noise:
        return None
    # Seeds must be convincingly ink; the low level lets a seed grow over the softer stroke
    # edges and faint stretches of pencil but stays above the paper noise and faint grid lines.
    high = max(t, paper + 0.5 * contrast, paper + 6.0 * noise)
    # Otsu's lower class holds the faint marks; the low level stays above most of them so a
    # grid line crossing a letter is not grown into it (and then into every other letter).
    lower = cand[cand <= t]
    faint = float(lower.mean() + 2.0 * lower.std()) if lower.size else floor
    low = max(paper + 0.45 * (high - paper), paper + 5.0 * noise, floor, faint)
    return InkLevels(paper, noise, min(low, high), high, contrast)


def hysteresis(dark: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels above `low` that are 8-connected to some pixel above `high`."""
    weak = dark > low
    lab, n = ndi.label(weak, structure=np.ones((3, 3), bool))
    if n == 0:
        return weak
    keep = np.zeros(n + 1, bool)
    keep[np.unique(lab[dark > high])] = True
    keep[0] = False
    return keep[lab]


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels of a binary ink mask (0 when there is no ink)."""
    if not mask.any():
        return 0.0
    edt = ndi.distance_transform_edt(mask)
    # Across a stroke of width w the distances run 1, 2, …, w/2, …, 2, 1: mean ≈ w/4 + 1/2.
    return float(max(1.0, 4.0 * (edt[mask].mean() - 0.5)))
