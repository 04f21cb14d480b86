"""find_letters on synthetic photos with known characters, and on the reference photo."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

try:
    from tinygrad5.vision.letters import find_letters
except ImportError:  # the package __init__ may be mid-rewrite by someone else; load ours directly
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tinygrad5.vision.letters import find_letters

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Stroke skeletons of straight-line characters in a unit box (x right, y down), with aspect w/h.
SKELETONS: dict[str, tuple[float, list[list[tuple[float, float]]]]] = {
    "A": (0.75, [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]]),
    "E": (0.6, [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.8, 0.5)]]),
    "F": (0.6, [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.8, 0.5)]]),
    "H": (0.7, [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]]),
    "I": (0.4, [[(0.5, 0), (0.5, 1)], [(0, 0), (1, 0)], [(0, 1), (1, 1)]]),
    "K": (0.65, [[(0, 0), (0, 1)], [(1, 0), (0, 0.55)], [(0.3, 0.4), (1, 1)]]),
    "L": (0.6, [[(0, 0), (0, 1), (1, 1)]]),
    "M": (0.85, [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]]),
    "N": (0.7, [[(0, 1), (0, 0), (1, 1), (1, 0)]]),
    "T": (0.7, [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]]),
    "V": (0.7, [[(0, 0), (0.5, 1), (1, 0)]]),
    "W": (1.0, [[(0, 0), (0.25, 1), (0.5, 0.4), (0.75, 1), (1, 0)]]),
    "X": (0.7, [[(0, 0), (1, 1)], [(1, 0), (0, 1)]]),
    "Y": (0.7, [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]]),
    "Z": (0.7, [[(0, 0), (1, 0), (0, 1), (1, 1)]]),
    "1": (0.35, [[(0, 0.2), (0.6, 0), (0.6, 1)]]),
    "7": (0.6, [[(0, 0), (1, 0), (0.35, 1)]]),
}


def draw_strokes(canvas: ImageDraw.ImageDraw, strokes, x: int, y: int, h: int, w: int, sw: int) -> None:
    """Draw polyline strokes scaled into the box (x, y, w, h) with round ends and joints."""
    r = sw / 2
    for line in strokes:
        pts = [(x + px * w, y + py * h) for px, py in line]
        canvas.line(pts, fill=255, width=sw)
        for px, py in pts:
            canvas.ellipse([px - r, py - r, px + r, py + r], fill=255)


def glyph_layer(shape, items) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ink coverage in [0, 1] for items (kind, spec…) and the bbox of each item's ink."""
    cover = np.zeros(shape, np.float32)
    boxes = []
    for item in items:
        layer = Image.new("L", (shape[1], shape[0]), 0)
        d = ImageDraw.Draw(layer)
        kind = item[0]
        if kind == "stroke":  # ("stroke", char, x, y, height, stroke_width)
            _, ch, x, y, h, sw = item
            aspect, strokes = SKELETONS[ch]
            draw_strokes(d, strokes, x, y, h, int(round(aspect * h)), sw)
        elif kind == "font":  # ("font", char, x, y, cap_height, extra_stroke)
            _, ch, x, y, h, extra = item
            import matplotlib.font_manager as fm

            font = ImageFont.truetype(fm.findfont("DejaVu Sans"), size=int(h / 0.73))
            d.text((x, y), ch, font=font, fill=255, stroke_width=extra, stroke_fill=255)
        elif kind == "raw":  # ("raw", callable(draw)) for custom shapes such as broken letters
            item[1](d)
        elif kind == "dot":  # ("dot", cx, cy, radius): a period, never a character
            _, cx, cy, r = item
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        a = np.asarray(layer, np.float32) / 255
        ys, xs = np.nonzero(a > 0.5)
        boxes.append(np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]))
        cover = np.maximum(cover, a)
    return cover, boxes


def photo(
    shape,
    items,
    *,
    paper=(0.86, 0.84, 0.80),
    ink=(0.08, 0.08, 0.1),
    shadow: bool = True,
    grid: float = 0.07,
    noise: float = 0.02,
    jpeg: int | None = 70,
    seed: int = 0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A phone-photo-like uint8 page: uneven light, shadow, faint grid, noise, JPEG artefacts."""
    rng = np.random.default_rng(seed)
    h, w = shape
    cover, boxes = glyph_layer(shape, items)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 0.65 + 0.35 * (xx / w) * (0.6 + 0.4 * yy / h)
    if shadow:
        from scipy.ndimage import gaussian_filter

        sh = np.zeros(shape, np.float32)
        sh[: h // 2, : w // 3] = 1
        light *= 1 - 0.3 * gaussian_filter(sh, 25)
    page = np.ones(shape, np.float32)
    if grid:
        step = max(20, min(shape) // 20)
        page[(yy.astype(int) % step) < 2] -= grid
        page[(xx.astype(int) % step) < 2] -= grid
    rgb = np.stack([page * paper[c] * (1 - cover) + ink[c] * cover for c in range(3)], -1)
    rgb = rgb * light[..., None] + rng.normal(0, noise, rgb.shape).astype(np.float32)
    out = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if jpeg:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=jpeg)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out, boxes


def iou(a, b) -> float:
    """Intersection over union of two [y1, x1, y2, x2] boxes."""
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def assert_matches(found: np.ndarray, truth: list[np.ndarray], min_iou: float = 0.5) -> None:
    """Exactly one found box per true box, each with IoU ≥ min_iou."""
    assert len(found) == len(truth), f"found {len(found)} boxes for {len(truth)} characters:\n{found}"
    for t in truth:
        best = max(iou(t, f) for f in found)
        assert best >= min_iou, f"character at {t.tolist()} best IoU {best:.2f}; found\n{found}"


def row(chars: str, x0: int, y: int, h: int, sw: int, gap: float = 0.4) -> list[tuple]:
    """Stroke characters in a row starting at x0, each `h` tall, `gap`·h apart (ink to ink)."""
    items, x = [], float(x0)
    for c in chars:
        items.append(("stroke", c, int(x), y, h, sw))
        x += SKELETONS[c][0] * h + sw + gap * h
    return items


def test_marker_page_with_period_grid_and_shadow():
    """Thick marker capitals under uneven light: one box each, the period after '1' dropped."""
    items = row("AEHKMNTXZ", 80, 120, 110, 11) + row("1", 80, 420, 110, 11)
    items += [("font", "B", 400, 400, 120, 3), ("font", "S", 600, 400, 120, 3)]
    page, boxes = photo((760, 1200), items + [("dot", 150, 527, 8)], seed=1)
    found, bw = find_letters(page)
    assert_matches(found, boxes[:-1])
    assert bw.shape == page.shape[:2] and bw.dtype == np.float32
    assert 0.0 <= bw.min() and bw.max() <= 1.0
    # Ink is 0 inside a character, background 1 on the paper and on the dropped period.
    assert bw[527, 150] > 0.5 and bw[20, 20] == 1.0
    y1, x1, y2, x2 = boxes[0]
    assert bw[y1:y2, x1:x2].min() < 0.5


def test_thin_blue_pen_on_large_photo():
    """A 3 px ballpoint stroke on a 2400 px wide photo with 70 px characters."""
    items = row("FILVWY17", 200, 300, 70, 3, gap=0.8) + row("HENZ", 300, 900, 90, 4, gap=1.2)
    page, boxes = photo((1400, 2400), items, ink=(0.15, 0.2, 0.55), seed=2)
    found, _ = find_letters(page)
    assert_matches(found, boxes)


def test_pencil_on_grey_paper():
    """Soft grey pencil on grey paper: weak contrast, still found, grid lines not ink."""
    items = row("TAXEK", 100, 150, 120, 5, gap=0.6)
    page, boxes = photo((500, 1000), items, paper=(0.7, 0.7, 0.7), ink=(0.45, 0.45, 0.47), grid=0.06, seed=3)
    found, _ = find_letters(page)
    assert_matches(found, boxes)


def test_big_font_letters_and_float_grey_input():
    """Curved letters drawn from a font; a 2-D float image gives the same boxes as uint8 RGB."""
    items = [("font", c, 60 + i * 200, 80, 160, 6) for i, c in enumerate("QRSGO8")]
    page, boxes = photo((340, 1300), items, seed=4)
    found, _ = find_letters(page)
    assert_matches(found, boxes)
    grey = page.astype(np.float64).mean(axis=2) / 255
    found2, _ = find_letters(grey)
    assert_matches(found2, boxes)


def _broken(draw: ImageDraw.ImageDraw) -> None:
    """A T whose bar floats 6 px above its stem, an H with a 5 px hole in its bar, a loose-armed E."""
    sw = 8
    draw_strokes(draw, [[(0, 0), (1, 0)]], 100, 100, 120, 84, sw)  # T bar
    draw_strokes(draw, [[(0.5, 0), (0.5, 1)]], 100, 114, 106, 84, sw)  # T stem, 14 px below
    draw_strokes(draw, [[(0, 0), (0, 1)], [(0, 0.5), (0.42, 0.5)]], 300, 100, 120, 84, sw)
    draw_strokes(draw, [[(1, 0), (1, 1)], [(0.58, 0.5), (1, 0.5)]], 300, 100, 120, 84, sw)
    draw_strokes(draw, [[(0, 0), (0, 1)]], 500, 100, 120, 72, sw)  # E stem
    for yy in (0, 0.5, 1):
        draw_strokes(draw, [[(0.2, yy), (1, yy)]], 500, 100, 120, 72, sw)


def test_broken_characters_give_one_box_each():
    """Pieces of one character (detached bar, split bar, loose arms) merge into one box."""
    _, parts = glyph_layer((320, 700), [("raw", _broken)])
    page, _ = photo((320, 700), [("raw", _broken)], seed=5)
    found, _ = find_letters(page)
    truth = [np.array([96, x - 4, 224, x + 90]) for x in (100, 300, 500)]
    # The drawn boxes are known up to the round caps; compare against hand-made boxes.
    assert_matches(found, truth, min_iou=0.75)


def test_neighbours_stay_apart():
    """Full characters a fifth of their height apart are not merged."""
    items = row("ILHIT1", 100, 100, 120, 8, gap=0.2)
    page, boxes = photo((350, 800), items, seed=6)
    found, _ = find_letters(page)
    assert_matches(found, boxes)


def test_desk_border_and_hard_shadow_edge():
    """A dark desk strip at the edge and a sharp shadow edge through a letter are not ink."""
    items = row("AKMNTX", 100, 200, 150, 8, gap=0.5)
    page, boxes = photo((600, 1400), items, shadow=False, seed=7)
    page = page.astype(np.float32)
    page[:, 510:] *= 0.55  # a hard shadow boundary running through the M
    page[:, :60] *= 0.25  # the desk beside the page
    page[-50:] *= 0.3
    found, _ = find_letters(page.astype(np.uint8))
    assert_matches(found, boxes)
    blank, _ = photo((600, 900), [], seed=8)
    blank = blank.copy()
    blank[:, :80] //= 5
    assert find_letters(blank)[0].shape == (0, 4)


def test_dust_does_not_become_characters_or_chains():
    """Thousands of dark specks: none kept, none chained into fake strokes, none on a blank page."""
    items = row("AEHKMNTXZ", 60, 100, 100, 6, gap=0.5)
    page, boxes = photo((600, 1300), items, seed=9)
    page = page.copy()
    rng = np.random.default_rng(0)
    for y, x in zip(rng.integers(0, 597, 3000), rng.integers(0, 1297, 3000)):
        page[y:y + 3, x:x + 3] = 40
    found, _ = find_letters(page)
    assert_matches(found, boxes)
    blank, _ = photo((600, 900), [], seed=3)
    blank = blank.copy()
    for y, x in zip(rng.integers(0, 597, 400), rng.integers(0, 897, 400)):
        blank[y:y + 4, x:x + 4] = 30  # some specks touch and form 10–15 px clumps
    assert find_letters(blank)[0].shape == (0, 4)


@pytest.mark.parametrize("seed", [0, 1])
def test_blank_pages_give_no_boxes(seed):
    """Shadow, gradient, grid, noise and JPEG alone are not ink."""
    page, _ = photo((900, 1300), [], seed=seed, grid=0.08, noise=0.03)
    found, bw = find_letters(page)
    assert found.shape == (0, 4)
    assert (bw == 1).all()
    found, _ = find_letters(np.full((200, 300, 3), 255, np.uint8))
    assert found.shape == (0, 4)


def test_bad_input_is_named():
    """Shapes that are not images raise ValueError naming the shape."""
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        find_letters(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="too small"):
        find_letters(np.zeros((4, 4)))


@pytest.mark.skipif(not (SHARED / "reference" / "letters_photo.jpg").exists(), reason="no shared/")
def test_reference_photo_has_36_characters_in_5_lines():
    """The reference phone photo: 36 boxes, lines of 7, 7, 7, 5 and 10 characters."""
    from tinygrad5.vision.io import read_image
    from tinygrad5.vision.lines import group_lines

    image = read_image(SHARED / "reference" / "letters_photo.jpg")
    found, _ = find_letters(image)
    assert len(found) == 36
    lines = group_lines(found)
    assert [len(line.indices) for line in lines] == [7, 7, 7, 5, 10]
    # Left-to-right order inside each line: x centres increase.
    for line in lines:
        xc = (found[line.indices, 1] + found[line.indices, 3]) / 2
        assert np.all(np.diff(xc) > 0)


def test_read_image_formats_and_exif(tmp_path):
    """RGB uint8 out for grey and RGBA files; EXIF orientation is applied."""
    from tinygrad5.vision.io import read_image

    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:10, :, 0] = 255  # a red band along the top of the stored pixels
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    out = read_image(tmp_path / "rot.jpg")
    assert out.shape == (60, 40, 3) and out.dtype == np.uint8
    assert out[:, -5:, 0].mean() > 200 and out[:, :5, 0].mean() < 60  # the band is now on the right
    Image.fromarray(np.full((5, 7), 90, np.uint8)).save(tmp_path / "g.png")
    assert read_image(str(tmp_path / "g.png")).shape == (5, 7, 3)
    Image.new("RGBA", (4, 3), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert (read_image(tmp_path / "clear.png") == 255).all()  # transparent reads as paper


def test_read_image_errors_name_the_file(tmp_path):
    """Missing, non-image, directory and truncated files raise errors naming the path."""
    from tinygrad5.vision.io import read_image

    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="notes.txt"):
        read_image(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="not a regular file"):
        read_image(tmp_path)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:200])
    with pytest.raises(ValueError, match="cut.jpg"):
        read_image(tmp_path / "cut.jpg")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_pages_read_back(seed):
    """Pages from tinygrad5.data.pages: every character found, periods dropped, text and spaces."""
    pages = pytest.importorskip("tinygrad5.data.pages")
    from tinygrad5.vision.lines import group_lines, page_text

    lines = pages.random_lines(np.random.default_rng(seed))
    image, truth = pages.make_page(lines, seed=seed)
    keep = [i for i, c in enumerate(truth.chars) if c != "."]
    found, _ = find_letters(image)
    assert_matches(found, list(truth.boxes[keep]))
    # Label each found box with its true character, then read the page back through group_lines.
    labels = []
    for f in found:
        k = max(keep, key=lambda i: iou(truth.boxes[i], f))
        labels.append(truth.chars[k])
    assert page_text(group_lines(found), labels) == "\n".join(s.replace(".", "") for s in lines)
