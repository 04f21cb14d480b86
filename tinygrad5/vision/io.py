"""Reading photos from disk as upright RGB uint8 arrays, whatever mode and bit depth the file has."""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from .binarize import to_unit_range

#: Long side (pixels) that extract_text reduces larger photos to before looking for letters.
WORKING_SIDE = 4096

# Modes whose samples are not 8 bits: Pillow's convert("RGB") clips them to 0..255 (a 16-bit
# scan comes out white), so these are scaled to their own range here instead.
_WIDE_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


def _pixel_limit() -> int | None:
    """Pillow's decompression-bomb limit in pixels (None when the user switched it off)."""
    from PIL import Image

    return Image.MAX_IMAGE_PIXELS


def _reduce_factor(size: tuple[int, int], max_side: int | None) -> int:
    """The integer factor that brings the long side of `size` to at most `max_side`."""
    if max_side is None or max(size) <= max_side:
        return 1
    return math.ceil(max(size) / max_side)


def _wide_to_rgb(im, p: Path) -> np.ndarray:
    """An I/F/I;16 image as RGB uint8, scaled to its own range (see binarize.to_unit_range)."""
    a = np.asarray(im)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"read_image: {p} holds NaN or infinite pixel values (mode {im.mode})")
    grey = to_unit_range(a)
    g8 = np.rint(grey * 255.0).astype(np.uint8)
    return np.repeat(g8[..., None], 3, axis=2)


def read_image(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """Read an image file as an H×W×3 uint8 RGB array, rotated upright by its EXIF orientation.

    Every mode Pillow opens is read as the picture it shows: 16-bit, 32-bit integer and float
    greyscale are scaled to their own range (not clipped to 8 bits), transparency reads as white
    paper, CMYK and YCbCr are converted. With `max_side`, a larger image is shrunk by an integer
    factor (area average) until its long side is at most `max_side`. An image over Pillow's
    decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`) is refused before it is decoded.
    """
    # Pillow is imported lazily so that importing tinygrad5.vision stays cheap.
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"read_image: no such file: {p}")
    if not p.is_file():
        raise ValueError(f"read_image: not a regular file: {p}")
    if max_side is not None and int(max_side) < 8:
        raise ValueError(f"read_image: max_side must be at least 8 pixels, got {max_side}")
    try:
        with warnings.catch_warnings():
            # Pillow's warning between the limit and twice it becomes the error below instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
        with im:
            w, h = im.size
            limit = _pixel_limit()
            # Pillow itself only warns between the limit and twice it, after which decoding
            # could take gigabytes; refuse at the limit, before any pixel is decoded.
            if limit is not None and w * h > limit:
                raise ValueError(f"read_image: {p} is {w}×{h} = {w * h} pixels, over Pillow's "
                                 f"decompression-bomb limit of {limit} (PIL.Image.MAX_IMAGE_PIXELS)")
            factor = _reduce_factor(im.size, max_side)
            if factor > 1 and im.format == "JPEG":
                # The JPEG decoder can shrink by 2, 4 or 8 while decoding: less time and memory.
                im.draft(im.mode, (w // factor, h // factor))
            # Phones store pixels in sensor order and say how to turn them in the EXIF tag;
            # without this a portrait photo comes out lying on its side.
            im = ImageOps.exif_transpose(im)
            factor = _reduce_factor(im.size, max_side)
            if im.mode in _WIDE_MODES:
                if factor > 1:
                    im = im.convert("F").reduce(factor)
                arr = _wide_to_rgb(im, p)
            else:
                if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
                        im.mode == "P" and "transparency" in im.info):
                    # Composite on white so transparent areas read as paper, not as black ink.
                    im = im.convert("RGBA")
                    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                    im = Image.alpha_composite(bg, im)
                im = im.convert("RGB")
                if factor > 1:
                    im = im.reduce(factor)
                arr = np.asarray(im, dtype=np.uint8)
    except Image.DecompressionBombError as e:  # over twice the limit: raised by Image.open itself
        raise ValueError(f"read_image: {p} is over Pillow's decompression-bomb limit: {e}") from e
    except UnidentifiedImageError as e:
        raise ValueError(f"read_image: {p} is not an image Pillow can read") from e
    except OSError as e:  # truncated or corrupt data surfaces as OSError during decode
        raise ValueError(f"read_image: could not decode {p}: {e}") from e
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise ValueError(f"read_image: {p} decoded to an unusable array of shape {arr.shape}")
    return np.ascontiguousarray(arr)
