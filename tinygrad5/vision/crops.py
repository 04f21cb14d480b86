"""Cutting characters out of a cleaned ink image into NIST-like 32×32 cells.

NIST36 cells (see shared/reference/nist_letters_look.png, measured there): white ≈ 1 background,
ink ≈ 0, the character centred with its longer side about 25 of 32 px (margins ≈ 3.5 px), and
thick strokes of about 3.4 px. `crop_letters` reproduces that: pad each box to a square, thicken
thin pen strokes (or thin fat marker strokes) to the NIST width measured at the output scale,
then area-average down to the cell so edges are anti-aliased like the scans.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .binarize import stroke_width

NIST_STROKE = 3.4  # median stroke width of the NIST reference cells at 32×32, in pixels
NIST_MARGIN = 3.5  # median blank border of the NIST reference cells at 32×32, in pixels


def _restroke(mask: np.ndarray, scale: float, target: float | None) -> np.ndarray:
    """Dilate or erode a binary character so its strokes measure `target` px after scaling."""
    if target is None or not mask.any():
        return mask
    sw = stroke_width(mask)
    want = target / scale  # wanted stroke width in source pixels
    if abs(sw - want) * scale < 0.4:
        return mask
    if want > sw:
        # Distance to the nearest ink pixel ≤ r grows every stroke by r on both sides.
        r = (want - sw) / 2
        return ndi.distance_transform_edt(~mask) <= r
    # Thinning is capped so that thin parts of a fat-marker character do not vanish.
    r = min((sw - want) / 2, sw / 4)
    thinned = ndi.distance_transform_edt(mask) > r
    return thinned if thinned.any() else mask


def crop_letter(
    bw: np.ndarray,
    box: np.ndarray,
    size: int = 32,
    margin: float = NIST_MARGIN,
    stroke: float | None = NIST_STROKE,
) -> np.ndarray:
    """One size×size float32 cell (ink 0, paper 1) for box [y1, x1, y2, x2] of `bw`."""
    y1, x1, y2, x2 = (int(v) for v in box)
    h, w = y2 - y1, x2 - x1
    if h <= 0 or w <= 0 or y1 < 0 or x1 < 0 or y2 > bw.shape[0] or x2 > bw.shape[1]:
        raise ValueError(f"box {[y1, x1, y2, x2]} is empty or outside the {bw.shape} image")
    inner = size - 2 * margin
    if inner <= 1:
        raise ValueError(f"margin {margin} leaves no room in a {size}×{size} cell")
    side = max(h, w)
    scale = inner / side
    mask = bw[y1:y2, x1:x2] < 0.5
    # A square canvas with the margin, in source pixels, the box centred in it; the extra room
    # also lets dilated strokes spread without being clipped.
    canvas_side = max(side, int(round(size / scale)))
    canvas = np.zeros((canvas_side, canvas_side), bool)
    oy, ox = (canvas_side - h) // 2, (canvas_side - w) // 2
    canvas[oy:oy + h, ox:ox + w] = mask
    canvas = _restroke(canvas, scale, stroke)
    # Area averaging (BOX) when shrinking is exact anti-aliasing; tiny boxes are enlarged
    # bilinearly instead because BOX would just repeat pixels.
    from PIL import Image

    img = Image.fromarray(canvas.astype(np.float32), mode="F")
    resample = Image.Resampling.BOX if canvas_side >= size else Image.Resampling.BILINEAR
    ink = np.asarray(img.resize((size, size), resample=resample), dtype=np.float32)
    return np.clip(1.0 - ink, 0.0, 1.0)


def crop_letters(
    bw: np.ndarray,
    boxes: np.ndarray,
    size: int = 32,
    margin: float = NIST_MARGIN,
    stroke: float | None = NIST_STROKE,
) -> np.ndarray:
    """Cells K×size×size float32 in [0, 1] (ink 0, paper 1, upright) for K boxes of `bw`.

    `bw` is find_letters' ink image (H×W, ink < 0.5). Each box is padded to a square with
    `margin` px of paper at output scale and its strokes are set to `stroke` px wide at output
    scale (None keeps them as drawn). Reshape to (K, size*size) for an MLP or (K, 1, size,
    size) for a ConvNet; a model trained on NIST rows as stored (column-major) needs `.T`.
    """
    a = np.asarray(bw)
    if a.ndim != 2:
        raise ValueError(f"bw must be an H×W image, got shape {a.shape}")
    b = np.asarray(boxes)
    if b.size == 0:
        return np.zeros((0, size, size), np.float32)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be K×4 [y1, x1, y2, x2], got shape {b.shape}")
    return np.stack([crop_letter(a, box, size, margin, stroke) for box in b]).astype(np.float32)
