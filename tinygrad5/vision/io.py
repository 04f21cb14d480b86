"""Reading photos from disk as upright RGB uint8 arrays."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an H×W×3 uint8 RGB array, rotated upright by its EXIF orientation."""
    # Pillow is imported lazily so that importing tinygrad5.vision stays cheap.
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"read_image: no such file: {p}")
    if not p.is_file():
        raise ValueError(f"read_image: not a regular file: {p}")
    try:
        with Image.open(p) as im:
            # Phones store pixels in sensor order and say how to turn them in the EXIF tag;
            # without this a portrait photo comes out lying on its side.
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                # Composite on white so transparent areas read as paper, not as black ink.
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except UnidentifiedImageError as e:
        raise ValueError(f"read_image: {p} is not an image Pillow can read") from e
    except OSError as e:  # truncated or corrupt data surfaces as OSError during decode
        raise ValueError(f"read_image: could not decode {p}: {e}") from e
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise ValueError(f"read_image: {p} decoded to an unusable array of shape {arr.shape}")
    return np.ascontiguousarray(arr)
