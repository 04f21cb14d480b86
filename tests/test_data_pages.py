"""Generated text pages: image format, ground-truth boxes against the ink, determinism, speed."""
import time

import numpy as np
import pytest
from scipy import ndimage

from tinygrad5.data import PageTruth, make_page, random_lines
from tinygrad5.data.pages import PAGE_CHARS

LINES = ["AB 12", "XYZ.", "7 Q"]


@pytest.fixture(scope="module")
def page():
    return make_page(LINES, seed=4)


def _covered(boxes: np.ndarray, shape: tuple[int, int], pad: int = 0) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for y1, x1, y2, x2 in boxes:
        mask[max(y1 - pad, 0):y2 + pad, max(x1 - pad, 0):x2 + pad] = True
    return mask


def test_image_format_and_size(page):
    img, truth = page
    assert isinstance(truth, PageTruth)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert 1000 <= img.shape[1] <= 3000 and truth.ink.shape == img.shape[:2]
    assert 60 <= truth.char_height <= 200 and 5 <= truth.pen_width <= 15


def test_one_box_per_non_space_character_in_reading_order(page):
    _, truth = page
    assert truth.lines == LINES
    assert truth.chars == [c for line in LINES for c in line if c != " "]
    np.testing.assert_array_equal(truth.line_index, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    assert truth.boxes.shape == (10, 4) and truth.boxes.dtype == np.int64
    y1, x1, y2, x2 = truth.boxes.T
    assert (y2 > y1).all() and (x2 > x1).all()
    for li in range(3):   # left to right within a line, lines top to bottom
        on = truth.line_index == li
        assert (np.diff(x1[on]) > 0).all()
    centres = [(y1 + y2)[truth.line_index == li].mean() / 2 for li in range(3)]
    assert centres[0] < centres[1] < centres[2]


def test_boxes_cover_the_ink_and_each_holds_ink(page):
    img, truth = page
    assert truth.ink.any()
    assert not (truth.ink & ~_covered(truth.boxes, truth.ink.shape)).any()
    for y1, x1, y2, x2 in truth.boxes:
        box = truth.ink[y1:y2, x1:x2]
        # Tight boxes (regionprops convention, exclusive ends): ink touches all four sides.
        assert box[0].any() and box[-1].any() and box[:, 0].any() and box[:, -1].any()


def test_dark_pixels_of_the_photo_lie_in_boxes(page):
    img, truth = page
    grey = img.astype(np.float32).mean(axis=2)
    # Local paper brightness (uneven light) from a wide median-like smoothing of the paper only.
    paper = ndimage.uniform_filter(np.where(truth.ink, np.median(grey), grey), size=101)
    dark = grey < 0.6 * paper
    assert dark.sum() > 0.5 * truth.ink.sum()
    assert not (dark & ~_covered(truth.boxes, dark.shape, pad=3)).any()
    for y1, x1, y2, x2 in truth.boxes:
        assert dark[y1:y2, x1:x2].any()


def test_letters_have_the_requested_height():
    _, truth = make_page(["HELLO WORLD"], seed=1, char_height=120)
    heights = np.array([y2 - y1 for y1, _, y2, _ in truth.boxes])
    assert 95 < np.median(heights) < 150
    assert truth.pen_width == pytest.approx(np.clip(truth.pen_width, 5, 15))


def test_characters_are_separate():
    _, truth = make_page(["ABCDEFGHIJ", "KLMNOPQRST", "UVWXYZ0123"], seed=2)
    for li in range(3):
        b = truth.boxes[truth.line_index == li]
        # Neighbouring boxes in a line do not overlap, so sorting boxes by x gives reading order.
        assert (b[:-1, 3] <= b[1:, 1]).all()
    # Characters never touch: labelling the ink finds at least one component per character.
    _, n = ndimage.label(truth.ink)
    assert n >= len(truth.boxes)


def test_deterministic_and_seed_dependent():
    a, ta = make_page(["AB"], seed=7)
    b, tb = make_page(["AB"], seed=7)
    c, _ = make_page(["AB"], seed=8)
    assert a.tobytes() == b.tobytes() and (ta.boxes == tb.boxes).all()
    assert a.shape != c.shape or a.tobytes() != c.tobytes()


def test_random_lines_use_page_characters():
    rng = np.random.default_rng(0)
    for _ in range(20):
        lines = random_lines(rng)
        assert 2 <= len(lines) <= 6
        assert all(line.strip() and set(line) <= set(PAGE_CHARS + " ") and len(line) <= 20 for line in lines)


def test_bad_text_rejected():
    with pytest.raises(ValueError, match="bad characters"):
        make_page(["hello"], seed=0)
    with pytest.raises(ValueError, match="non-empty"):
        make_page(["   "], seed=0)


def test_page_is_fast():
    make_page(["WARM UP"], seed=0)
    lines = random_lines(np.random.default_rng(3), n_lines=6)
    t = time.perf_counter()
    img, _ = make_page(lines, seed=3)
    assert time.perf_counter() - t < 2.0   # typically 0.1-0.4 s; loose for busy shared machines


def test_command_line_writes_preview_and_page_into_new_folders(tmp_path, monkeypatch, capsys):
    from tinygrad5.data.__main__ import main
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert main(["preview", "--per-class", "2", "--out", str(tmp_path / "a" / "glyphs.png")]) == 0
    assert main(["page", "--seed", "3", "--out", str(tmp_path / "b" / "page.png")]) == 0
    assert (tmp_path / "a" / "glyphs.png").stat().st_size > 1000
    assert (tmp_path / "b" / "page.png").stat().st_size > 1000
    assert "characters" in capsys.readouterr().out
