"""Generated handwriting that mimics NIST36: 32x32 pen-stroke characters in the NIST36 conventions."""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from .cache import cached_arrays
from .classes import CLASSES, IMAGE_SIZE, NUM_CLASSES, one_hot, to_layout
from .render import DEFAULT_DISTORTION, Distortion, deform, fit_to_box, pen_radii, rasterise
from .glyphs_letters import SMALL_SHARE
from .strokes import glyph_styles

#: Bump whenever the generator's output changes, so cached datasets are rebuilt.
GENERATOR_VERSION: int = 4
#: Samples per class of each split, as in the NIST36 files (10800 / 3600 / 1800 rows).
SPLIT_SIZES: dict[str, int] = {"train": 300, "valid": 100, "test": 50}
#: Share of samples drawn from typeset DejaVu fonts instead of pen strokes, for variety.
FONT_FRACTION: float = 0.05
#: The range NIST36's resampled cells span (about -0.14 to 1.12); generated cells stay inside it.
VALUE_RANGE: tuple[float, float] = (-0.15, 1.15)
_SPLIT_SALT = {"train": 1, "valid": 2, "test": 3}
_PEN_RADIUS = (1.45, 0.2)     # output pixels: median and log-sd of the nib (NIST strokes: 2.6-4.4 px wide)
_MARGIN = (1.0, 6.0)           # blank border in output pixels (NIST: about 1-8, median 4)
_SCAN = 4                      # NIST scans are binary at 4x the 32x32 cells, then resampled


def render_char(char: str, rng: np.random.Generator, size: int = IMAGE_SIZE,
                distortion: Distortion = DEFAULT_DISTORTION, font_fraction: float = FONT_FRACTION
                ) -> np.ndarray:
    """Draw one handwritten ``char`` as a (size, size) float32 image: paper ~1.0, ink ~0.0.

    Like a NIST cell, the character is drawn as a binary scan at 4x the cell's resolution and then
    resampled, so values overshoot [0, 1] slightly beside the edges.
    """
    if font_fraction > 0 and rng.random() < font_fraction:
        scan = _font_char(char, rng, size * _SCAN)
    else:
        styles, probs = glyph_styles(char)
        style = styles[int(rng.choice(len(styles), p=probs))]
        pts, seg_on = deform(style, rng, distortion)
        margin = rng.uniform(*_MARGIN)
        radius = float(np.exp(rng.normal(np.log(_PEN_RADIUS[0]), _PEN_RADIUS[1])))
        height = style.height if style.height < 1 or rng.random() >= SMALL_SHARE.get(char, 0.0) else 0.7
        if height < 1:
            # Written at lower-case size with the same pen: the letter's height shrinks (a wide m
            # may still fill the width), the nib does not.
            w, h = np.ptp(pts, axis=0)
            inner = size - 2 * margin - 2 * radius
            scale = min(inner * height * rng.uniform(0.85, 1.15) / max(h, 1e-6), inner / max(w, 1e-6))
            margin = 0.5 * (size - 2 * radius - scale * max(w, h))
        radii = pen_radii(pts.shape[0], radius, rng, distortion.pressure)
        pts = fit_to_box(pts, size, margin, radius, rng.normal(0.0, 0.8, 2))
        # Ink where the nib covers at least half a scan pixel.
        scan = rasterise(pts * _SCAN, radii * _SCAN, seg_on, size * _SCAN, size * _SCAN) >= 0.5
    return _resample(1.0 - scan.astype(np.float32), size, rng)


def _resample(scan: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Downsample a binary scan to (size, size) as NIST's cells were: a cubic or Lanczos filter whose
    ringing leaves paper a little above 1 and ink a little below 0 beside each edge."""
    from PIL import Image

    method = Image.BICUBIC if rng.random() < 0.8 else Image.LANCZOS
    cell = np.asarray(Image.fromarray(scan, mode="F").resize((size, size), method), dtype=np.float32)
    return np.clip(cell, *VALUE_RANGE)


def generate(split: str, n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate (uncached) a balanced, shuffled split: x float32 (N, 1024) upright, y int64 (N,)."""
    _check_args(split, n_per_class, seed)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_SALT[split], GENERATOR_VERSION]))
    y = rng.permutation(np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), n_per_class))
    x = np.empty((y.shape[0], IMAGE_SIZE * IMAGE_SIZE), dtype=np.float32)
    for i, label in enumerate(y):
        x[i] = render_char(CLASSES[label], rng).ravel()
    return x, y


def load_synthetic(split: str, n_per_class: int | None = None, seed: int = 0, *, layout: str = "upright",
                   onehot: bool = False, cache_dir: str | os.PathLike | None = None,
                   use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Generated NIST36 look-alike split as ``(x, y)`` in exactly the conventions of ``load_nist36``.

    Defaults give the NIST36 sizes (300 / 100 / 50 per class for train / valid / test). Results
    are cached under ``cache_dir`` (default $TINYGRAD5_CACHE or ~/.cache/tinygrad5), keyed by
    GENERATOR_VERSION and the arguments.
    """
    n = SPLIT_SIZES.get(split, 0) if n_per_class is None else n_per_class
    _check_args(split, n, seed)
    if layout not in ("upright", "nist"):
        raise ValueError(f"layout must be 'upright' or 'nist', got {layout!r}")
    params = {"version": GENERATOR_VERSION, "split": split, "n_per_class": int(n), "seed": int(seed)}

    def build() -> dict[str, np.ndarray]:
        x, y = generate(split, n, seed)
        return {"x": x, "y": y}

    arrays = cached_arrays("synthetic36", params, build, cache_dir=cache_dir, use_cache=use_cache)
    x, y = to_layout(arrays["x"], layout), arrays["y"]
    return x, (one_hot(y) if onehot else y)


def _check_args(split: str, n_per_class: int, seed: int) -> None:
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be one of {tuple(SPLIT_SIZES)}, got {split!r}")
    if not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


# --- typeset minority ---------------------------------------------------------------------------
# Sans faces only: real writers draw no serifs beyond the bars of I and J.
_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
               "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")


@lru_cache(maxsize=None)
def _font(name: str, px: int):  # -> PIL.ImageFont.FreeTypeFont
    """Load one of matplotlib's bundled DejaVu fonts with Pillow."""
    from matplotlib import font_manager  # noqa: F401  (ensures matplotlib's data path exists)
    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name), px)


def _font_char(char: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """Binary ink mask (size x size) of ``char`` typeset in a random DejaVu face, slanted, thickened, fitted."""
    from PIL import Image, ImageDraw, ImageFilter

    big = 96
    img = Image.new("L", (2 * big, 2 * big), 0)
    ImageDraw.Draw(img).text((big // 2, big // 4), char, fill=255, font=_font(_FONT_FILES[rng.integers(len(_FONT_FILES))], big))
    shear, ang = rng.normal(0.1, 0.15), rng.normal(0.0, 6.0)
    img = img.transform(img.size, Image.AFFINE, (1, shear, -shear * big, 0, 1, 0), resample=Image.BILINEAR)
    img = img.rotate(ang, resample=Image.BILINEAR)
    grow = int(rng.integers(0, 4)) * 2 + 1     # MaxFilter sizes 1..7 thicken thin faces like a marker
    if grow > 1:
        img = img.filter(ImageFilter.MaxFilter(grow))
    box = img.getbbox()
    if box is None:
        raise RuntimeError(f"font rendering of {char!r} produced no ink")
    img = img.crop(box)
    margin = rng.uniform(*_MARGIN) * size / IMAGE_SIZE
    scale = (size - 2 * margin) / max(img.size)
    w, h = max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))
    small = np.asarray(img.resize((w, h), Image.BILINEAR)) >= 128
    out = np.zeros((size, size), dtype=bool)
    top, left = (size - h) // 2, (size - w) // 2
    out[top:top + h, left:left + w] = small
    return out
