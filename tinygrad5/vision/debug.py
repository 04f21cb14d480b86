"""Pictures for checking letter finding by eye: boxes drawn on a photo, a grid of crops."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[str] | None = None,
    colour: tuple[int, int, int] = (255, 0, 0),
    width: int = 3,
) -> np.ndarray:
    """Copy of an H×W(×3) image (uint8 or float in [0, 1]) with boxes and optional labels drawn."""
    from PIL import Image, ImageDraw

    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"draw_boxes expects an H×W or H×W×3 image, got shape {a.shape}")
    boxes = np.asarray(boxes).reshape(-1, 4)
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"draw_boxes got {len(labels)} labels for {len(boxes)} boxes")
    im = Image.fromarray(a)
    draw = ImageDraw.Draw(im)
    for k, (y1, x1, y2, x2) in enumerate(boxes.tolist()):
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], outline=colour, width=width)
        if labels is not None:
            draw.text((x1, max(0, y1 - 12)), str(labels[k]), fill=colour)
    return np.asarray(im)


def tile(cells: np.ndarray, columns: int = 12, pad: int = 1, scale: int = 3) -> np.ndarray:
    """Tile K×h×w float images (1 = white) into one grey uint8 picture, enlarged `scale` times."""
    c = np.asarray(cells, dtype=np.float32)
    if c.ndim != 3:
        raise ValueError(f"tile expects K×h×w cells, got shape {c.shape}")
    k, h, w = c.shape
    rows = max(1, -(-k // columns))
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 0.5, np.float32)
    for i in range(k):
        r, q = divmod(i, columns)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = c[i]
    out = np.kron(out, np.ones((scale, scale), np.float32))
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)
