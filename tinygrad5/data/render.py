"""Pen model and rasteriser: turn a stroke skeleton into a randomly distorted, anti-aliased drawing.

The pen is a round nib whose radius varies a little along the stroke (pressure). A sample is made by
jittering the skeleton's control points, stretching or shortening stroke ends, sometimes lifting the
pen for a short gap, slanting / rotating / rescaling, bending the whole drawing with a smooth random
displacement field, and then rasterising the capsules between consecutive points as a
distance-to-segment field at a few times the output resolution before area-averaging down.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .strokes import CompiledStyle


@dataclass(frozen=True)
class Distortion:
    """Per-sample randomness of the pen model (lengths in units of the glyph's box height)."""

    jitter: float = 0.045              # std of control-point jitter
    stroke_shift: float = 0.03         # std of a whole stroke's offset (loose joins, stray bars)
    overshoot: tuple[float, float] = (-0.5, 1.2)  # stroke-end stretch, in end-segment lengths
    break_prob: float = 0.08           # chance that a sample has one short pen gap
    slant_mean: float = 0.15           # mean shear (positive leans right, like most writers)
    slant_std: float = 0.18
    rotate_deg: float = 8.0            # std of rotation in degrees
    aspect_mean: float = 0.10          # mean log(width / height) stretch: NIST letters run ~10% wide
    aspect_std: float = 0.20           # std of log(width / height) stretch towards wide
    aspect_narrow: float = 1.0         # aspect_std times this on the narrow side
    elastic: float = 0.045             # amplitude of the smooth displacement field
    pressure: float = 0.15             # relative pen-radius variation along a stroke


DEFAULT_DISTORTION = Distortion()


def deform(style: CompiledStyle, rng: np.random.Generator, dist: Distortion = DEFAULT_DISTORTION
           ) -> tuple[np.ndarray, np.ndarray]:
    """Return a randomly distorted copy of ``style``'s polyline as ``(points (P, 2), seg_on (P-1,))``."""
    ctrl = style.ctrl + rng.normal(0.0, dist.jitter, style.ctrl.shape)
    pts = style.basis @ ctrl
    seg_on = style.seg_on.copy()
    _stretch_ends(pts, style, rng, dist.overshoot)
    if dist.stroke_shift > 0 and style.stroke_first.size > 1:
        # Each pen-down is placed on its own, so joins between strokes gap or cross a little.
        shifts = rng.normal(0.0, dist.stroke_shift, (style.stroke_first.size, 2))
        for k in range(style.stroke_first.size):
            pts[style.stroke_first[k]:style.stroke_last[k] + 1] += shifts[k]
    if seg_on.size > 4 and rng.random() < dist.break_prob:
        # A short gap where the pen skipped: one or two segments inside a stroke.
        i = int(rng.integers(1, seg_on.size - 2))
        seg_on[i:i + int(rng.integers(1, 3))] = False
    centre = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
    pts -= centre
    ang = np.deg2rad(rng.normal(0.0, dist.rotate_deg))
    shear = rng.normal(dist.slant_mean, dist.slant_std)
    log_stretch = rng.normal(0.0, dist.aspect_std)
    # A split normal around the mean: the narrow side may spread further than the wide one.
    stretch = np.exp(dist.aspect_mean + log_stretch * (dist.aspect_narrow if log_stretch < 0 else 1.0))
    ca, sa = np.cos(ang), np.sin(ang)
    # x' = stretch * (x - shear * y) then rotate; y grows downwards so -shear*y leans tops right.
    m = np.array([[ca, -sa], [sa, ca]]) @ np.array([[stretch, -shear * stretch], [0.0, 1.0]])
    pts = pts @ m.T
    if dist.elastic > 0:
        pts += _smooth_field(pts, rng, dist.elastic)
    return pts, seg_on


def _stretch_ends(pts: np.ndarray, style: CompiledStyle, rng: np.random.Generator,
                  overshoot: tuple[float, float]) -> None:
    """Move every stroke end along its end segment: overshoots (>0) and short strokes (<0)."""
    ends = np.concatenate([style.stroke_first, style.stroke_last])
    inner = np.concatenate([style.stroke_first + 1, style.stroke_last - 1])
    amount = rng.uniform(overshoot[0], overshoot[1], size=ends.shape[0])
    pts[ends] += (pts[ends] - pts[inner]) * amount[:, None]


def _smooth_field(pts: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Displacements from a sum of three random low-frequency plane waves per axis."""
    freq = rng.normal(0.0, 0.8, size=(2, 3, 2))          # cycles per unit, per axis, per wave
    phase = rng.uniform(0.0, 2 * np.pi, size=(2, 3))
    amp = rng.normal(0.0, amplitude / np.sqrt(3.0), size=(2, 3))
    arg = 2 * np.pi * np.einsum("pd,awd->paw", pts, freq) + phase
    return np.einsum("paw,aw->pa", np.sin(arg), amp)


def pen_radii(n_points: int, radius: float, rng: np.random.Generator, pressure: float) -> np.ndarray:
    """Pen radius at each of ``n_points`` points: ``radius`` with a slow random pressure wave."""
    s = np.linspace(0.0, 1.0, n_points)
    wave = np.sin(2 * np.pi * (rng.uniform(0.5, 2.5) * s + rng.uniform(0, 1)))
    return radius * (1.0 + pressure * wave)


def fit_to_box(pts: np.ndarray, size: int, margin: float, radius: float, shift: np.ndarray) -> np.ndarray:
    """Scale and translate ``pts`` (aspect kept) so ink of pen ``radius`` spans the box less ``margin``."""
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = max(float((hi - lo).max()), 1e-6)
    scale = max(size - 2 * margin - 2 * radius, 1.0) / span
    return (pts - 0.5 * (lo + hi)) * scale + (0.5 * size + shift)


def rasterise(pts: np.ndarray, radii: np.ndarray, seg_on: np.ndarray, height: int, width: int,
              supersample: int = 1) -> np.ndarray:
    """Ink coverage in [0, 1] (float32, ``height x width``) of round-pen capsules along the polyline.

    ``pts`` are (x, y) pixel coordinates of the output image; drawing happens at ``supersample``
    times the resolution and is area-averaged down, which anti-aliases the edges.
    """
    if pts.ndim != 2 or pts.shape[1] != 2 or radii.shape != (pts.shape[0],) or seg_on.shape != (max(pts.shape[0] - 1, 0),):
        raise ValueError(f"rasterise needs pts (P, 2), radii (P,), seg_on (P-1,); got {pts.shape}, "
                         f"{radii.shape}, {seg_on.shape}")
    f = int(supersample)
    canvas = np.zeros((height * f, width * f), dtype=np.float32)
    _draw_capsules(np.ascontiguousarray(pts, dtype=np.float64) * f,
                   np.ascontiguousarray(radii, dtype=np.float64) * f,
                   np.ascontiguousarray(seg_on, dtype=np.bool_), canvas)
    if f == 1:
        return canvas
    return canvas.reshape(height, f, width, f).mean(axis=(1, 3), dtype=np.float32)


@numba.njit(cache=True, nogil=True)
def _draw_capsules(pts, radii, seg_on, canvas):  # pragma: no cover - compiled
    """Max-composite the coverage of each enabled segment's capsule into ``canvas`` (1-px AA edge)."""
    h, w = canvas.shape
    for i in range(seg_on.shape[0]):
        if not seg_on[i]:
            continue
        ax, ay = pts[i, 0], pts[i, 1]
        bx, by = pts[i + 1, 0], pts[i + 1, 1]
        ra, rb = radii[i], radii[i + 1]
        reach = max(ra, rb) + 1.0
        x0 = max(int(np.floor(min(ax, bx) - reach)), 0)
        x1 = min(int(np.ceil(max(ax, bx) + reach)), w)
        y0 = max(int(np.floor(min(ay, by) - reach)), 0)
        y1 = min(int(np.ceil(max(ay, by) + reach)), h)
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        inv = 1.0 / len2 if len2 > 1e-12 else 0.0
        for yy in range(y0, y1):
            py = yy + 0.5
            for xx in range(x0, x1):
                px = xx + 0.5
                t = ((px - ax) * dx + (py - ay) * dy) * inv
                t = min(max(t, 0.0), 1.0)
                qx = ax + t * dx - px
                qy = ay + t * dy - py
                cov = ra + t * (rb - ra) + 0.5 - np.sqrt(qx * qx + qy * qy)
                if cov > 1.0:
                    cov = 1.0
                if cov > canvas[yy, xx]:
                    canvas[yy, xx] = cov
