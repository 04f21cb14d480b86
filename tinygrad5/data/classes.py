"""The 36 NIST36 classes and label helpers shared by every dataset in ``tinygrad5.data``."""
from __future__ import annotations

import numpy as np

#: Class order of the NIST36 files: capitals A-Z are 0-25, digits 0-9 are 26-35.
CLASSES: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NUM_CLASSES: int = len(CLASSES)
#: Side of the square images; rows hold IMAGE_SIZE * IMAGE_SIZE pixels.
IMAGE_SIZE: int = 32


def class_index(char: str) -> int:
    """Return the class index (0-35) of one character of ``CLASSES``."""
    idx = CLASSES.find(char.upper()) if len(char) == 1 else -1
    if idx < 0:
        raise ValueError(f"{char!r} is not a NIST36 class; classes are {CLASSES!r}")
    return idx


def one_hot(y: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Turn integer labels of shape (N,) into float32 one-hot rows of shape (N, num_classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot expects 1-D integer labels, got shape {y.shape} dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]")
    out = np.zeros((y.shape[0], num_classes), dtype=np.float32)
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def to_layout(x: np.ndarray, layout: str) -> np.ndarray:
    """Convert upright row-major rows (N, 1024) to ``layout``: "upright" (as is) or "nist" (column-major)."""
    if layout == "upright":
        return x
    if layout == "nist":
        # The NIST36 files store each 32x32 image column-major, i.e. the transpose of upright.
        n = x.shape[0]
        side = IMAGE_SIZE
        return np.ascontiguousarray(x.reshape(n, side, side).transpose(0, 2, 1).reshape(n, side * side))
    raise ValueError(f"layout must be 'upright' or 'nist', got {layout!r}")
