"""read_image and to_grey on every image mode, decompression bombs, tiny images and the working size."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinygrad5.data import make_page
from tinygrad5.vision import find_letters
from tinygrad5.vision.binarize import to_grey, to_unit_range
from tinygrad5.vision.io import WORKING_SIDE, read_image


def _photo() -> np.ndarray:
    """A 40×56 RGB picture: a horizontal grey ramp, a dark ink bar, a coloured patch."""
    ramp = np.linspace(60, 250, 56)[None, :].repeat(40, axis=0)
    rgb = np.repeat(ramp[..., None], 3, axis=2)
    rgb[8:14, 5:40] = 20                      # the "ink"
    rgb[25:35, 30:50] = (200, 40, 90)         # a colour that greyscale must weigh correctly
    return np.rint(rgb).astype(np.uint8)


def _grey255(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _save(im: Image.Image, path: Path) -> Path:
    im.save(path)
    with Image.open(path) as back:
        assert back.mode == im.mode, f"{path.suffix} did not keep mode {im.mode}"
    return path


def test_wide_modes_read_as_the_picture_not_blank(tmp_path):
    """16-bit, 32-bit and float greyscale files read as the picture, scaled to their own range."""
    grey = np.rint(_grey255(_photo())).astype(np.uint8)
    g16 = grey.astype(np.uint16) * 257                                   # full 16-bit range
    files = {
        "I;16": _save(Image.fromarray(g16), tmp_path / "g16.png"),
        "I": _save(Image.fromarray(g16.astype(np.int32)), tmp_path / "g32.tif"),
        "F": _save(Image.fromarray(grey.astype(np.float32) / 255), tmp_path / "gf.tif"),
        "F255": _save(Image.fromarray(grey.astype(np.float32)), tmp_path / "gf255.tif"),
    }
    for name, path in files.items():
        out = read_image(path)
        assert out.shape == (40, 56, 3) and out.dtype == np.uint8, name
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all(), name
        assert np.abs(out[..., 0].astype(int) - grey).max() <= 1, name
        assert out[10, 20, 0] <= 21 and out.max() >= 249, name   # ink dark, paper light: not clipped white
    # The old path (convert("RGB")) clipped every 16-bit value above 255 to white.
    with Image.open(files["I;16"]) as im:
        assert (np.asarray(im.convert("RGB")) == 255).mean() > 0.9


def test_every_8bit_mode_reads_as_the_picture(tmp_path):
    """1, L, P, LA, RGBA, CMYK and YCbCr files read as the same picture (grey within 1-3 levels)."""
    rgb = _photo()
    grey = _grey255(rgb)
    base = Image.fromarray(rgb)
    l_img = base.convert("L")
    cases = {
        "L": (_save(l_img, tmp_path / "l.png"), 1),
        "P": (_save(l_img.convert("P"), tmp_path / "p.png"), 1),
        "LA": (_save(l_img.convert("LA"), tmp_path / "la.png"), 1),
        "RGBA": (_save(base.convert("RGBA"), tmp_path / "rgba.png"), 1),
        "CMYK": (_save(base.convert("CMYK"), tmp_path / "cmyk.tif"), 1),
        "YCbCr": (_save(base.convert("YCbCr"), tmp_path / "ycc.tif"), 3),
    }
    for name, (path, tol) in cases.items():
        out = read_image(path)
        assert out.shape == (40, 56, 3) and out.dtype == np.uint8, name
        assert np.abs(_grey255(out) - grey).max() <= tol, name
    bw = grey > 128
    out = read_image(_save(Image.fromarray(bw), tmp_path / "bw.png"))
    assert ((out[..., 0] == 255) == bw).all() and set(np.unique(out)) == {0, 255}


def test_transparent_pixels_read_as_paper(tmp_path):
    """Fully transparent pixels of LA, RGBA and P files are white paper, opaque ones keep their value."""
    rgba = np.zeros((12, 12, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, 6:, 3] = 0                                    # right half transparent black
    for mode, name in (("RGBA", "a.png"), ("LA", "la.png")):
        out = read_image(_save(Image.fromarray(rgba).convert(mode), tmp_path / name))
        assert (out[:, :6] == 0).all() and (out[:, 6:] == 255).all(), mode
    p = Image.fromarray(np.where(np.arange(12) < 6, 0, 1).astype(np.uint8)[None].repeat(12, 0), mode="L").convert("P")
    p.info["transparency"] = 1
    out = read_image(_save(p, tmp_path / "p.png"))
    assert (out[:, :6] == 0).all() and (out[:, 6:] == 255).all()


def test_sixteen_bit_page_finds_the_same_letters(tmp_path):
    """A generated page saved as a 16-bit greyscale PNG yields exactly the boxes of its 8-bit copy."""
    image, _ = make_page(["AB 12"], seed=3)
    grey8 = np.asarray(Image.fromarray(image).convert("L"))
    Image.fromarray(grey8).save(tmp_path / "p8.png")
    Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / "p16.png")
    boxes8, _ = find_letters(read_image(tmp_path / "p8.png"))
    boxes16, _ = find_letters(read_image(tmp_path / "p16.png"))
    assert len(boxes8) == 4
    np.testing.assert_array_equal(boxes16, boxes8)


def test_to_unit_range_rules():
    """Each dtype is scaled by the range its values live in; negatives stretch min..max; NaN refused."""
    np.testing.assert_allclose(to_unit_range(np.array([[0, 255]], np.uint8)), [[0, 1]])
    np.testing.assert_allclose(to_unit_range(np.array([[0, 65535]], np.uint16)), [[0, 1]])
    np.testing.assert_allclose(to_unit_range(np.array([[0, 1000]], np.int32)), [[0, 1000 / 65535]], rtol=1e-6)
    np.testing.assert_allclose(to_unit_range(np.array([[0, 200]], np.int32)), [[0, 200 / 255]], rtol=1e-6)
    np.testing.assert_allclose(to_unit_range(np.array([[0.25, 0.5]], np.float32)), [[0.25, 0.5]])
    np.testing.assert_allclose(to_unit_range(np.array([[0.0, 1.2]], np.float32)), [[0.0, 1.0]])  # rounding
    np.testing.assert_allclose(to_unit_range(np.array([[-3.0, 1.0, 5.0]])), [[0.0, 0.5, 1.0]])
    assert to_unit_range(np.array([[True, False]])).tolist() == [[1.0, 0.0]]
    with pytest.raises(ValueError, match="NaN or inf"):
        to_unit_range(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="unsupported image dtype complex128"):
        to_unit_range(np.zeros((2, 2), complex))


def test_to_grey_keeps_8bit_results_and_reads_wide_ints():
    """uint8 grey is bit for bit as before; an int32 image holding 16-bit values is no longer clipped."""
    rgb = _photo()
    expected = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) * np.float32(1 / 255)
    np.testing.assert_array_equal(to_grey(rgb), np.clip(expected, 0, 1))
    wide = rgb[..., 0].astype(np.int32) * 257
    np.testing.assert_allclose(to_grey(wide), rgb[..., 0] / 255, atol=1e-6)


def test_tiny_image_is_refused_by_name():
    with pytest.raises(ValueError, match=r"image of shape \(5, 7, 3\) is too small to hold letters"):
        to_grey(np.zeros((5, 7, 3), np.uint8))
    assert to_grey(np.zeros((8, 8), np.uint8)).shape == (8, 8)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width×height pixels of RGB, with one tiny (truncated) data chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_decompression_bombs_refused_before_decoding(tmp_path, monkeypatch):
    """Over twice the limit Pillow raises, between it only warns: both end in one ValueError naming the file."""
    limit = Image.MAX_IMAGE_PIXELS
    assert limit is not None
    huge = _png_header_only(tmp_path / "huge.png", 20000, 20000)        # 4.5x the default limit
    with pytest.raises(ValueError, match=r"huge\.png is over Pillow's decompression-bomb limit"):
        read_image(huge)
    big = _png_header_only(tmp_path / "big.png", 10000, 10000)          # between the limit and twice it
    with pytest.raises(ValueError, match=rf"big\.png is 10000×10000 = 100000000 pixels, over Pillow's "
                                         rf"decompression-bomb limit of {limit}"):
        read_image(big)
    # The limit is Pillow's setting, read at call time.
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match=r"small\.png is 40×40 = 1600 pixels"):
        read_image(tmp_path / "small.png")


def test_max_side_reduces_by_an_integer_factor(tmp_path):
    """A PNG over max_side is area-averaged by ceil(long/max_side); smaller ones are untouched."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (120, 250, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "wide.png")
    out = read_image(tmp_path / "wide.png", max_side=100)               # factor ceil(250/100) = 3
    assert out.shape == (40, 84, 3)
    block = rgb[:3, :3].reshape(9, 3).mean(axis=0)
    np.testing.assert_allclose(out[0, 0], block, atol=1.0)
    np.testing.assert_array_equal(read_image(tmp_path / "wide.png", max_side=250), rgb)
    g16 = (rng.integers(0, 65536, (60, 90))).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "wide16.png")
    out16 = read_image(tmp_path / "wide16.png", max_side=45)             # factor 2, 16-bit path
    assert out16.shape == (30, 45, 3)
    assert abs(int(out16[0, 0, 0]) - g16[:2, :2].mean() / 257) <= 1
    # JPEGs are shrunk while decoding: 800×600 by 4 to 200×150.
    Image.fromarray(np.full((600, 800, 3), 128, np.uint8)).save(tmp_path / "big.jpg")
    assert read_image(tmp_path / "big.jpg", max_side=200).shape == (150, 200, 3)
    assert WORKING_SIDE == 4096
    with pytest.raises(ValueError, match="max_side must be at least 8"):
        read_image(tmp_path / "wide.png", max_side=4)
