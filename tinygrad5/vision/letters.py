"""find_letters: boxes of handwritten characters in a photo, and a cleaned ink image.

Pipeline: greyscale → paper brightness estimated on a coarse copy (grey closing) → darkness
= 1 − grey/paper, which flattens shadows and uneven light → light gaussian denoising →
hysteresis threshold whose levels come from Otsu on the above-noise pixels, with a contrast
test so a blank page yields nothing → small closing for broken strokes → connected components
→ merging of pieces of one character → removal of specks, rule lines and page-sized blobs.
Thick strokes are processed at a reduced resolution; boxes are mapped back to full resolution.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .binarize import (
    downsample,
    estimate_background,
    hysteresis,
    ink_levels,
    resample,
    stroke_width,
    to_grey,
)
from .components import (
    character_filter,
    component_boxes,
    group_boxes,
    merge_pieces,
    typical_height,
)

_EIGHT = np.ones((3, 3), bool)
MIN_CHAR_PX = 24  # smallest character height (full-resolution pixels) that sets the scale


def _darkness(grey: np.ndarray, bg: np.ndarray, f_bg: int, factor: int) -> np.ndarray:
    """Darkness of the grey image downsampled by `factor`, against a background on grid f_bg."""
    g = downsample(grey, factor)
    paper = resample(bg, f_bg, g.shape, factor)
    dark = 1.0 - g / paper
    return dark.astype(np.float32, copy=False)


def _working_factor(dark_coarse: np.ndarray, f_coarse: int, short_side: int) -> int:
    """How much to shrink the image for the main pass, judged from coarse stroke widths."""
    levels = ink_levels(dark_coarse)
    if levels is None:
        return 1
    sw = stroke_width(hysteresis(dark_coarse, levels.low, levels.high)) * f_coarse
    # Keep about 4–5 px across a stroke: thin pen lines stay at full resolution, thick marker
    # strokes on big photos are processed at half or a third of it (4× or 9× fewer pixels).
    factor = int(sw // 5)
    return int(np.clip(factor, 1, max(1, min(3, short_side // 600))))


def find_letters(image: np.ndarray, min_contrast: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Find handwritten characters: (boxes K×4 int [y1, x1, y2, x2], bw H×W float, ink 0 on 1).

    `image` is H×W×3 (RGB) or H×W, uint8 or float in [0, 1]. y2 and x2 are exclusive. `bw` is
    the cleaned ink of the kept characters only (specks, lines and shadows removed), with soft
    edges where the work was done at reduced resolution. `min_contrast` is the least mean
    darkness of ink against paper (0–1) for anything to count as writing.
    """
    grey = to_grey(image)
    h, w = grey.shape
    short = min(h, w)
    no_ink = (np.zeros((0, 4), np.int64), np.ones((h, w), np.float32))

    # Paper brightness on a copy about 300 px on its short side; the closing window (~1/20 of
    # the page, at least ~50 px) is wider than any marker stroke so strokes cannot pass as paper.
    f_bg = max(1, short // 300)
    coarse = downsample(grey, f_bg)
    window = max(48, short // 20) / f_bg
    bg = estimate_background(coarse, int(round(window)))
    factor = _working_factor(1.0 - coarse / bg, f_bg, short)

    dark = _darkness(grey, bg, f_bg, factor)
    dark = ndi.gaussian_filter(dark, sigma=1.0, mode="nearest")
    levels = ink_levels(dark, min_contrast=min_contrast)
    if levels is None:
        return no_ink
    ink = hysteresis(dark, levels.low, levels.high)
    # Bridges one- or two-pixel breaks (a skipping pen, JPEG blocks) inside strokes.
    ink = ndi.binary_closing(ink, structure=_EIGHT, border_value=0) | ink

    labels, n = ndi.label(ink, structure=_EIGHT)
    if n == 0:
        return no_ink
    boxes, areas = component_boxes(labels, n)
    stroke = stroke_width(ink)
    # Drop dust far below a stroke's footprint before it can bias the size statistics.
    real = areas >= max(4.0, 0.5 * stroke * stroke)
    # Characters span several stroke widths and, in any photo worth reading, 24+ pixels; below
    # that a clump of two dust specks could pass for the "typical character" of a blank page.
    min_side = max(3 * stroke, MIN_CHAR_PX / factor)
    height = typical_height(boxes[real], areas[real], ink.shape, min_side=min_side)
    if height <= 0:
        return no_ink
    idx = np.flatnonzero(real)
    groups = merge_pieces(boxes[idx], height, stroke)
    merged, members = group_boxes(boxes[idx], groups)
    keep = character_filter(merged, height, ink.shape)
    merged = merged[keep]
    members = [idx[m] for m, k in zip(members, keep) if k]
    if len(merged) == 0:
        return no_ink

    # Ink image of the kept characters only, so crops never pick up specks or grid lines.
    lut = np.zeros(n + 1, bool)
    for m in members:
        lut[m + 1] = True
    kept = lut[labels]
    if factor == 1:
        bw = 1.0 - kept.astype(np.float32)
    else:
        bw = 1.0 - resample(kept.astype(np.float32), factor, (h, w), 1)
    out = merged * factor
    out[:, [0, 2]] = np.minimum(out[:, [0, 2]], h)
    out[:, [1, 3]] = np.minimum(out[:, [1, 3]], w)
    order = np.lexsort((out[:, 1], out[:, 0]))
    return out[order].astype(np.int64), np.clip(bw, 0.0, 1.0).astype(np.float32)
