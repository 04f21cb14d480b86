"""crop_letters: NIST-like 32×32 cells — shape, range, polarity, orientation, centring, strokes."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

try:
    from tinygrad5.vision.binarize import stroke_width
    from tinygrad5.vision.crops import NIST_STROKE, crop_letters
except ImportError:  # the package __init__ may be mid-rewrite by someone else; load ours directly
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tinygrad5.vision.binarize import stroke_width
    from tinygrad5.vision.crops import NIST_STROKE, crop_letters


def ink_image(shape, strokes, width: int) -> np.ndarray:
    """A bw image (ink 0 on 1) with polylines of the given width."""
    im = Image.new("L", (shape[1], shape[0]), 255)
    d = ImageDraw.Draw(im)
    for line in strokes:
        d.line(line, fill=0, width=width)
    return np.asarray(im, np.float32) / 255


def tight_box(bw: np.ndarray) -> np.ndarray:
    """The [y1, x1, y2, x2] box of all ink in bw."""
    ys, xs = np.nonzero(bw < 0.5)
    return np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1])


def test_shape_range_polarity_and_orientation():
    """An L stays an L: ink bottom-left, paper top-right, values in [0, 1], float32."""
    bw = ink_image((300, 300), [[(100, 50), (100, 230), (190, 230)]], 12)
    cells = crop_letters(bw, tight_box(bw)[None])
    assert cells.shape == (1, 32, 32) and cells.dtype == np.float32
    c = cells[0]
    assert 0.0 <= c.min() and c.max() <= 1.0
    assert c[0, 0] == 1.0 and c[-1, -1] == 1.0 and c.min() < 0.05
    # Upright, row-major: the vertical stroke is on the left, the foot at the bottom.
    ink = 1 - c
    assert np.argmax(ink.sum(axis=0)) < 12  # the darkest column is the stem, on the left
    assert np.argmax(ink.sum(axis=1)) > 22  # the darkest row is the foot, at the bottom
    assert c[3:20, 18:29].min() > 0.95  # top right is paper


def test_centring_and_margin_like_nist():
    """A tall bar is centred horizontally, a wide bar vertically; longer side ≈ 25 of 32 px."""
    bw = np.ones((400, 600), np.float32)
    bw[50:250, 100:116] = 0  # tall thin "1"
    bw[300:316, 300:500] = 0  # wide dash
    boxes = np.array([[50, 100, 250, 116], [300, 300, 316, 500]])
    tall, wide = crop_letters(bw, boxes)
    for cell, axis in ((tall, 0), (wide, 1)):
        ink = 1 - cell
        ys, xs = np.nonzero(ink > 0.5)
        centre = (ink.sum(axis=axis) * np.arange(32)).sum() / ink.sum()
        assert abs(centre - 15.5) < 0.6
        extent = (ys.max() - ys.min() + 1) if axis == 0 else (xs.max() - xs.min() + 1)
        assert 23 <= extent <= 27
        assert min(ys.min(), xs.min(), 31 - ys.max(), 31 - xs.max()) >= 2


@pytest.mark.parametrize("width", [2, 5, 30])
def test_strokes_are_set_to_nist_width(width):
    """A 2 px pen, a 5 px pen and a 30 px marker on a 160 px letter all come out ≈ NIST width."""
    bw = ink_image((260, 260), [[(60, 40), (130, 200), (200, 40)]], width)  # a V, 160 px tall
    cell = crop_letters(bw, tight_box(bw)[None])[0]
    assert abs(stroke_width(cell < 0.5) - NIST_STROKE) < 1.0
    raw = crop_letters(bw, tight_box(bw)[None], stroke=None)[0]
    if width == 2:  # left alone, a thin pen line is under 1.5 px at 32×32
        assert stroke_width(raw < 0.5) < 2.0 or (raw < 0.5).sum() < (cell < 0.5).sum() / 2


def test_small_boxes_are_enlarged_and_other_sizes_work():
    """A 12 px character is enlarged, and size/margin are honoured."""
    bw = np.ones((40, 40), np.float32)
    bw[10:22, 15:18] = 0
    cell = crop_letters(bw, np.array([[10, 15, 22, 18]]))[0]
    assert cell.shape == (32, 32) and cell.min() < 0.1 and cell[0].min() == 1.0
    cells = crop_letters(bw, np.array([[10, 15, 22, 18]] * 3), size=28, margin=2)
    assert cells.shape == (3, 28, 28)


def test_errors_and_empty():
    """Out-of-image boxes and bad shapes raise ValueError naming them; no boxes, no cells."""
    bw = np.ones((50, 60), np.float32)
    assert crop_letters(bw, np.zeros((0, 4), int)).shape == (0, 32, 32)
    with pytest.raises(ValueError, match=r"outside the \(50, 60\) image"):
        crop_letters(bw, np.array([[10, 10, 70, 20]]))
    with pytest.raises(ValueError, match="empty"):
        crop_letters(bw, np.array([[10, 10, 10, 20]]))
    with pytest.raises(ValueError, match=r"H×W"):
        crop_letters(np.ones((5, 5, 3)), np.array([[0, 0, 2, 2]]))
    with pytest.raises(ValueError, match=r"K×4"):
        crop_letters(bw, np.array([1, 2, 3, 4]))


SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.skipif(not (SHARED / "reference" / "letters_photo.jpg").exists(), reason="no shared/")
def test_reference_photo_crops_look_like_nist():
    """Crops of the 36 photo characters match the NIST cells' stroke width, fill and ink share."""
    from tinygrad5.vision import find_letters, read_image

    image = read_image(SHARED / "reference" / "letters_photo.jpg")
    boxes, bw = find_letters(image)
    cells = crop_letters(bw, boxes)
    assert cells.shape == (36, 32, 32)
    widths = [stroke_width(c < 0.5) for c in cells]
    assert abs(np.median(widths) - NIST_STROKE) < 0.6
    fills = []
    for c in cells:
        ys, xs = np.nonzero(c < 0.5)
        fills.append(max(ys.max() - ys.min(), xs.max() - xs.min()) + 1)
    assert 23 <= np.median(fills) <= 28  # NIST: 25 px median for the longer side
    # NIST reference cells are about 18 % ink; a thin or bloated stroke would move this a lot.
    assert 0.12 < np.mean(cells < 0.5) < 0.25
