"""Reading any labelled file of 32x32 characters: an ``.npz`` with ``x``/``y`` or a NIST ``.mat`` split.

``load_labelled(path, layout)`` returns ``x`` float32 (N, 1024) upright row-major (``x[i].reshape(32, 32)``
shows the character) and ``y`` int64 indices into ``CLASSES``, whatever the file's layout and label form:

- ``.npz``: ``x`` (N, 1024) and ``y``, either N class indices or N one-hot rows (N, K) with K <= 36
  whose columns are the first K classes; an optional ``classes`` array (one character per index, as
  in ``nist26_dev.npz``) maps the file's indices to ``CLASSES``.
- ``.mat``: ``{split}_data`` (N, 1024) and ``{split}_labels`` (one-hot (N, K) or indices (N, 1)/(1, N)),
  the split taken from the keys present (exactly one split per file).

``layout="nist"`` reads rows stored column-major (the NIST36 files and the homework's raw layout),
``layout="upright"`` rows stored row-major. Pixel values are kept as stored.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .classes import CLASSES, IMAGE_SIZE, NUM_CLASSES, to_layout

LAYOUTS: tuple[str, ...] = ("nist", "upright")
PIXELS: int = IMAGE_SIZE * IMAGE_SIZE


class LabelledFileError(ValueError):
    """A labelled file is missing, unreadable, or its arrays do not fit together; the message names it."""


def load_labelled(path: str | os.PathLike, layout: str = "nist") -> tuple[np.ndarray, np.ndarray]:
    """Load a labelled ``.npz``/``.mat`` file as (x float32 (N, 1024) upright, y int64 indices into CLASSES)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise LabelledFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y, classes, xkey, ykey = _read_npz(path)
    elif suffix == ".mat":
        x, y, xkey, ykey = _read_mat(path)
        classes = None
    else:
        raise LabelledFileError(f"{path}: unsupported file type {path.suffix!r}; expected .npz (x, y) or a "
                                "NIST .mat ({split}_data, {split}_labels)")
    x = _check_images(x, path, xkey)
    y = _labels_to_index(y, len(x), path, ykey, xkey)
    if classes is not None:
        y = _map_classes(y, classes, path)
    elif y.size and y.max() >= NUM_CLASSES:
        raise LabelledFileError(f"{path}: {ykey!r} holds labels out of range: found [{y.min()}, {y.max()}], "
                                f"expected class indices in [0, {NUM_CLASSES})")
    # to_layout transposes each image for "nist", which is its own inverse: it also reads nist rows upright.
    return to_layout(x, layout), y


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str, str]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = sorted(npz.files)
            missing = [k for k in ("x", "y") if k not in npz.files]
            if missing:
                raise LabelledFileError(f"{path}: lacks key(s) {missing}; expected 'x' (N, {PIXELS}) and 'y' "
                                        f"(labels), found {found}")
            return npz["x"], npz["y"], (npz["classes"] if "classes" in npz.files else None), "x", "y"
    except LabelledFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LabelledFileError(f"{path}: could not read as a numpy .npz archive ({exc})") from None


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray, str, str]:
    import scipy.io  # imported here so the package imports quickly

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for corrupt files
        raise LabelledFileError(f"{path}: could not read as a MATLAB .mat file ({exc})") from None
    found = sorted(k for k in mat if not k.startswith("__"))
    splits = sorted(k[:-len("_data")] for k in found if k.endswith("_data") and f"{k[:-5]}_labels" in mat)
    if len(splits) != 1:
        what = "no {split}_data/{split}_labels pair" if not splits else f"several splits {splits}"
        raise LabelledFileError(f"{path}: expected exactly one pair of keys {{split}}_data and {{split}}_labels "
                                f"(e.g. 'valid_data', 'valid_labels'); found {what} among keys {found}")
    xkey, ykey = f"{splits[0]}_data", f"{splits[0]}_labels"
    return np.asarray(mat[xkey]), np.asarray(mat[ykey]), xkey, ykey


def _check_images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.ndim != 2 or x.shape[1] != PIXELS or x.dtype.kind not in "biuf":
        raise LabelledFileError(f"{path}: {key!r} must be numeric of shape (N, {PIXELS}) (one 32x32 image a row), "
                                f"found shape {x.shape} dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise LabelledFileError(f"{path}: {key!r} row {bad} holds non-finite values")
    return x


def _labels_to_index(y: np.ndarray, n: int, path: Path, key: str, xkey: str) -> np.ndarray:
    """Index labels (N,), (N, 1) or (1, N), or one-hot rows (N, K): int64 indices, checked."""
    if y.dtype.kind not in "biuf":
        raise LabelledFileError(f"{path}: {key!r} must be numeric labels, found dtype {y.dtype}")
    if y.ndim == 2 and n != 1 and y.shape == (1, n):
        y = y[0]
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise LabelledFileError(f"{path}: {xkey!r} has {n} images but {key!r} has shape {y.shape}; expected "
                                f"{n} labels, as indices ({n},) or one-hot rows ({n}, K)")
    if y.ndim == 2:
        if y.shape[1] > NUM_CLASSES:
            raise LabelledFileError(f"{path}: one-hot {key!r} has {y.shape[1]} columns, more than the "
                                    f"{NUM_CLASSES} classes")
        lab = y.astype(np.float64)
        idx = lab.argmax(axis=1) if n else np.zeros(0, np.int64)
        ok = np.isclose(lab[np.arange(n), idx], 1.0) & np.isclose(lab.sum(axis=1), 1.0)
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise LabelledFileError(f"{path}: {key!r} row {bad} is not one-hot: {y[bad].tolist()}")
        return idx.astype(np.int64)
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise LabelledFileError(f"{path}: {key!r} holds non-integer labels; expected class indices")
    if y.size and y.min() < 0:
        raise LabelledFileError(f"{path}: {key!r} holds labels out of range: found [{y.min():g}, {y.max():g}], "
                                f"expected class indices in [0, {NUM_CLASSES})")
    return y.astype(np.int64)


def _map_classes(y: np.ndarray, classes: np.ndarray, path: Path) -> np.ndarray:
    """Map the file's own class indices to CLASSES through its ``classes`` array."""
    names = [str(c) for c in np.asarray(classes).reshape(-1)]
    unknown = [c for c in names if c not in CLASSES or len(c) != 1]
    if unknown:
        raise LabelledFileError(f"{path}: 'classes' holds {unknown[:5]}, which are not among {CLASSES!r}")
    if y.size and y.max() >= len(names):
        raise LabelledFileError(f"{path}: 'y' holds labels out of range: found [{y.min()}, {y.max()}], "
                                f"expected indices into its {len(names)} 'classes'")
    return np.array([CLASSES.index(c) for c in names], dtype=np.int64)[y]
