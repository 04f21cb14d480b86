"""Generated photos of handwritten text pages, with per-character ground-truth boxes.

Characters are drawn with the same pen model as the 32x32 dataset (``render``), laid out in words
and lines with a drifting baseline, then the page is rotated slightly, printed on grey paper under
uneven light, blurred and made noisy - the kind of phone photo the text-extraction example reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from .classes import CLASSES
from .render import Distortion, deform, pen_radii, rasterise
from .strokes import glyph_styles

#: Characters a page may hold besides spaces.
PAGE_CHARS: str = CLASSES + "."
_MAX_WIDTH = 3000
# Milder than the 32x32 dataset: a page is one careful writer, not thousands of strangers.
_PAGE_DISTORTION = Distortion(jitter=0.03, stroke_shift=0.015, slant_std=0.05, rotate_deg=3.0,
                              aspect_mean=0.0, aspect_std=0.1, aspect_narrow=1.5, elastic=0.025,
                              break_prob=0.0)


@dataclass
class PageTruth:
    """Ground truth of a generated page: text lines and one box per non-space character."""

    lines: list[str]
    boxes: np.ndarray        # (N, 4) int64 [y1, x1, y2, x2], y2 / x2 exclusive (regionprops.bbox)
    chars: list[str]         # the character in each box
    line_index: np.ndarray   # (N,) int64 line number of each box
    ink: np.ndarray          # (H, W) bool: where a stroke covers at least half a pixel, before blur and noise
    char_height: float       # nominal character height in pixels
    pen_width: float         # nominal stroke thickness in pixels


def random_lines(rng: np.random.Generator, n_lines: int | None = None, max_chars: int = 20) -> list[str]:
    """Random text for a page: 2-6 lines of 1-4 words of A-Z / 0-9, now and then ending with '.'."""
    n_lines = int(rng.integers(2, 7)) if n_lines is None else n_lines
    lines = []
    for _ in range(n_lines):
        words: list[str] = []
        for _ in range(int(rng.integers(1, 5))):
            word = "".join(CLASSES[i] for i in rng.integers(0, len(CLASSES), int(rng.integers(1, 7))))
            if rng.random() < 0.1:
                word += "."
            if len(" ".join(words + [word])) > max_chars:
                break
            words.append(word)
        lines.append(" ".join(words) if words else CLASSES[int(rng.integers(len(CLASSES)))])
    return lines


def make_page(lines: Sequence[str], seed: int = 0, char_height: float | None = None
              ) -> tuple[np.ndarray, PageTruth]:
    """Render ``lines`` as a photo-like page: returns (H x W x 3 uint8 image, :class:`PageTruth`)."""
    lines = [str(s) for s in lines]
    bad = sorted({c for s in lines for c in s if c != " " and c not in PAGE_CHARS})
    if bad or not any(s.strip() for s in lines):
        raise ValueError(f"make_page needs non-empty lines of {PAGE_CHARS!r} and spaces; bad characters: {bad}")
    rng = np.random.default_rng(seed)
    longest = max(len(s) for s in lines)
    # Keep the page under _MAX_WIDTH: about 1.15 character heights per character including gaps.
    fit = (_MAX_WIDTH - 300) / (1.15 * longest + 1.0)
    h = float(char_height) if char_height is not None else rng.uniform(60.0, max(60.0, min(200.0, fit)))
    pen = float(np.clip(h * rng.uniform(0.06, 0.1), 5.0, 15.0))
    glyphs = _layout(lines, h, pen, rng)
    ink, boxes, chars, line_idx = _draw(glyphs, h, rng)
    image = _photograph(ink, rng)
    truth = PageTruth(lines=lines, boxes=boxes, chars=chars, line_index=line_idx, ink=ink >= 0.5,
                      char_height=h, pen_width=pen)
    return image, truth


def _layout(lines: list[str], h: float, pen: float, rng: np.random.Generator) -> list[tuple]:
    """Place every character: returns (char, line, points in page pixels, seg_on, radii) tuples."""
    out = []
    line_gap = h * rng.uniform(1.5, 2.0)
    slope = rng.normal(0.0, 0.01)
    for li, text in enumerate(lines):
        x = rng.uniform(0.0, 0.4) * h
        base = li * line_gap + rng.normal(0.0, 0.05) * h
        drift_amp, drift_freq = rng.uniform(0, 0.08) * h, rng.uniform(0.5, 2.0) / max(len(text) * h, 1.0)
        for ch in text:
            if ch == " ":
                x += h * rng.uniform(0.6, 1.1)
                continue
            hc = h * rng.uniform(0.9, 1.1)
            if ch == ".":
                pts = np.array([[0.0, -0.02], [0.03, 0.0]]) * hc
                seg_on = np.array([True])
            else:
                styles, probs = glyph_styles(ch)
                pts, seg_on = deform(styles[int(rng.choice(len(styles), p=probs))], rng, _PAGE_DISTORTION)
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                pts = (pts - np.array([lo[0], hi[1]])) * (hc / max(hi[1] - lo[1], 1e-6))  # bottom-left origin
            radii = pen_radii(pts.shape[0], 0.5 * pen * rng.uniform(0.9, 1.1), rng, 0.1)
            y = base + drift_amp * np.sin(2 * np.pi * drift_freq * x) + slope * x + rng.normal(0, 0.03) * h
            pts = pts + np.array([x, y])
            out.append((ch, li, pts, seg_on, radii))
            width = pts[:, 0].max() - x
            # Gap between characters: wide enough that neighbours' ink never touches.
            x += width + max(h * rng.uniform(0.2, 0.45), 3.0 * pen)
    return out


def _draw(glyphs: list[tuple], h: float, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Rotate the whole layout a little, size the page around it and rasterise each character."""
    ang = np.deg2rad(rng.normal(0.0, 1.0))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    glyphs = [(c, li, p @ rot.T, s, r) for c, li, p, s, r in glyphs]
    allpts = np.concatenate([g[2] for g in glyphs])
    reach = max(float(g[4].max()) for g in glyphs) + 2.0
    margin = h * rng.uniform(0.4, 0.8) + reach
    lo, hi = allpts.min(axis=0) - margin, allpts.max(axis=0) + margin
    width = int(np.ceil(max(hi[0] - lo[0], 1000.0)))
    height = int(np.ceil(max(hi[1] - lo[1], 0.6 * width)))
    # Spare paper (short text on a page-shaped photo) goes mostly below and right, but not all.
    lo = lo - np.array([rng.uniform(0.0, 0.3), rng.uniform(0.0, 0.5)]) * (np.array([width, height]) - (hi - lo))
    ink = np.zeros((height, width), dtype=np.float32)
    boxes, chars, line_idx = [], [], []
    for ch, li, pts, seg_on, radii in glyphs:
        pts = pts - lo
        r = float(radii.max()) + 2.0
        x0, y0 = int(np.floor(pts[:, 0].min() - r)), int(np.floor(pts[:, 1].min() - r))
        x1, y1 = int(np.ceil(pts[:, 0].max() + r)), int(np.ceil(pts[:, 1].max() + r))
        cov = rasterise(pts - np.array([x0, y0]), radii, seg_on, y1 - y0, x1 - x0)
        np.maximum(ink[y0:y1, x0:x1], cov, out=ink[y0:y1, x0:x1])
        ys, xs = np.nonzero(cov >= 0.5)
        if ys.size == 0:
            continue
        boxes.append([y0 + ys.min(), x0 + xs.min(), y0 + ys.max() + 1, x0 + xs.max() + 1])
        chars.append(ch)
        line_idx.append(li)
    return ink, np.asarray(boxes, dtype=np.int64).reshape(-1, 4), chars, np.asarray(line_idx, dtype=np.int64)


def _photograph(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink on grey paper under uneven light, with lens blur and sensor noise, as uint8 RGB."""
    hgt, wid = ink.shape
    yy = np.linspace(-1.0, 1.0, hgt, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, wid, dtype=np.float32)[None, :]
    cx, cy = rng.uniform(-0.8, 0.8, 2)
    fall = np.float32(rng.uniform(0.05, 0.2) / 4.0)
    # A tilted gradient plus a soft hot spot (phone photos are brighter where the lamp is); the
    # field is separable, so it is built from two 1-D profiles and one broadcast add.
    gx = 1.0 + np.float32(rng.uniform(-0.12, 0.12)) * xx - fall * (xx - np.float32(cx)) ** 2
    gy = np.float32(rng.uniform(-0.12, 0.12)) * yy - fall * (yy - np.float32(cy)) ** 2
    paper = rng.uniform(0.55, 0.8) * np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 0.97)],
                                               dtype=np.float32)
    ink_colour = rng.uniform(0.08, 0.25) * np.array([1.0, 1.0, rng.uniform(1.0, 1.3)], dtype=np.float32)
    soft = ndimage.gaussian_filter(ink, sigma=rng.uniform(0.6, 1.6))
    grey = gx + gy
    grey *= 1.0 - soft                                # ~1 on lit paper, 0 under ink
    img = np.empty((hgt, wid, 3), dtype=np.float32)
    for c in range(3):
        img[..., c] = ink_colour[c] + (paper[c] - ink_colour[c]) * grey
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= np.float32(255.0 * rng.uniform(0.008, 0.025))
    img *= 255.0
    img += noise
    np.clip(img, 0.0, 255.0, out=img)
    return np.rint(img, out=img).astype(np.uint8)
