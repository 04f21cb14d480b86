"""Loader for the real NIST36 files (``nist36_{train,valid,test}.mat``) used by the homework."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .classes import IMAGE_SIZE, NUM_CLASSES, one_hot, to_layout

SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: Environment variable that may name the folder holding the .mat files.
DATA_DIR_ENV: str = "TINYGRAD5_NIST36"


def nist36_path(data_dir: str | os.PathLike, split: str) -> Path:
    """Return the path of the .mat file for ``split`` inside ``data_dir``."""
    _check_split(split)
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a folder path (str or os.PathLike), got {type(data_dir).__name__}: "
                        f"{data_dir!r}")
    return Path(data_dir).expanduser() / f"nist36_{split}.mat"


def find_nist36_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """Return the folder holding all three NIST36 files (argument, then $TINYGRAD5_NIST36), else None."""
    candidates = [data_dir] if data_dir is not None else [os.environ.get(DATA_DIR_ENV)]
    for cand in candidates:
        if cand and all(nist36_path(cand, s).is_file() for s in SPLITS):
            return Path(cand).expanduser()
    return None


def load_nist36(
    data_dir: str | os.PathLike | None,
    split: str,
    *,
    layout: str = "upright",
    onehot: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one NIST36 split as ``(x, y)``: x float32 (N, 1024), y int64 class indices (or one-hot).

    ``layout="upright"`` (default) stores each image row-major so ``x[i].reshape(32, 32)`` is
    upright; ``layout="nist"`` keeps the files' column-major rows. Values are kept as stored
    (white paper ~1, dark ink ~0, slight overshoot of [0, 1] is possible). ``data_dir=None`` means
    the folder named by $TINYGRAD5_NIST36.
    """
    if layout not in ("upright", "nist"):
        raise ValueError(f"layout must be 'upright' or 'nist', got {layout!r}")
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV)
        if not data_dir:
            _check_split(split)
            raise FileNotFoundError(f"load_nist36: no data_dir given and ${DATA_DIR_ENV} is not set; pass the "
                                    f"folder holding nist36_{split}.mat (load_nist36('/path/to/folder', {split!r}))")
    path = nist36_path(data_dir, split)
    if path.is_dir():
        raise IsADirectoryError(f"NIST36 file {path} is a folder, not a MATLAB .mat file")
    if not path.is_file():
        expected = ", ".join(f"nist36_{s}.mat" for s in SPLITS)
        raise FileNotFoundError(
            f"NIST36 file not found: {path}. Expected the files {expected} in one folder; pass that "
            f"folder as data_dir (load_nist36('/path/to/folder', {split!r})) or set ${DATA_DIR_ENV}."
        )
    data, labels = _read_mat(path, split)
    x = to_layout(_to_upright(data), layout)
    y = _labels_to_index(labels, path)
    return x, (one_hot(y) if onehot else y)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _read_mat(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate the two arrays of one .mat file."""
    import scipy.io  # imported here so the package imports quickly

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for corrupt files
        raise ValueError(f"could not read {path} as a MATLAB .mat file: {exc}") from exc
    data_key, label_key = f"{split}_data", f"{split}_labels"
    found = sorted(k for k in mat if not k.startswith("__"))
    missing = [k for k in (data_key, label_key) if k not in mat]
    if missing:
        raise KeyError(f"{path} lacks key(s) {missing}; expected {data_key!r} and {label_key!r}, found {found}")
    data = np.asarray(mat[data_key])
    labels = np.asarray(mat[label_key])
    pixels = IMAGE_SIZE * IMAGE_SIZE
    if data.ndim != 2 or data.shape[1] != pixels or not np.issubdtype(data.dtype, np.number):
        raise ValueError(f"{path}: {data_key!r} must be numeric of shape (N, {pixels}), found shape "
                         f"{data.shape} dtype {data.dtype}")
    if labels.shape != (data.shape[0], NUM_CLASSES):
        raise ValueError(f"{path}: {label_key!r} must have shape ({data.shape[0]}, {NUM_CLASSES}) to "
                         f"match {data_key!r} {data.shape}, found shape {labels.shape}")
    return data, labels


def _to_upright(data: np.ndarray) -> np.ndarray:
    """Turn the files' column-major rows into upright row-major float32 rows."""
    n = data.shape[0]
    img = data.astype(np.float32, copy=False).reshape(n, IMAGE_SIZE, IMAGE_SIZE)
    return np.ascontiguousarray(img.transpose(0, 2, 1)).reshape(n, IMAGE_SIZE * IMAGE_SIZE)


def _labels_to_index(labels: np.ndarray, path: Path) -> np.ndarray:
    """Turn one-hot label rows into int64 indices, checking each row has exactly one 1."""
    lab = labels.astype(np.float64, copy=False)
    idx = lab.argmax(axis=1).astype(np.int64)
    ok = np.isclose(lab[np.arange(lab.shape[0]), idx], 1.0) & np.isclose(lab.sum(axis=1), 1.0)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"{path}: label row {bad} is not one-hot: {labels[bad].tolist()}")
    return idx
