"""Loaders for EMNIST and MNIST (IDX files, gzip'd or raw, and EMNIST's .mat) in NIST36's conventions.

``load_emnist`` / ``load_mnist`` return what ``load_nist36`` returns: x float32 (N, 1024), white paper
~1 and dark ink ~0, each row an upright row-major 32x32 image (the 28x28 originals refitted so the
character's longer side spans 32 - 2 * 3.5 px, NIST's margin), and y int64 indices into ``CLASSES``.
Nothing is downloaded: the files must already be in ``data_dir``.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .classes import CLASSES, IMAGE_SIZE, one_hot, to_layout

EMNIST_SPLITS: tuple[str, ...] = ("balanced", "byclass", "bymerge", "letters", "digits", "mnist")
SUBSETS: tuple[str, ...] = ("train", "test")
EMNIST_URL = "https://www.nist.gov/itl/products-and-services/emnist-dataset"
MNIST_URL = "http://yann.lecun.com/exdb/mnist/"
_SIDE = 28  # EMNIST and MNIST images are 28x28
_INK_LEVEL = 0.25  # ink (0..1) above which a pixel counts towards a character's bounding box
_DIGITS, _UPPER = "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Characters of each split's labels 0..K-1, as in the splits' mapping files ("?": label unused).
SPLIT_CHARS: dict[str, str] = {
    "byclass": _DIGITS + _UPPER + _UPPER.lower(),
    "bymerge": _DIGITS + _UPPER + "abdefghnqrt",
    "balanced": _DIGITS + _UPPER + "abdefghnqrt",
    "letters": "?" + _UPPER,  # 1-26 = A-Z, each holding both cases
    "digits": _DIGITS,
    "mnist": _DIGITS,
}


class DatasetFileError(ValueError):
    """A dataset file that is malformed, truncated or inconsistent with its partner file."""


# ----------------------------------------------------------------------------- IDX files

def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is a gzip stream (whatever its name)."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetFileError(f"{path}: broken or truncated gzip data ({exc})") from None


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzip'd or raw) with `ndim` dimensions as a uint8 array.

    The magic number (0x0000080N: zero bytes, type 0x08 = unsigned byte, N = ndim), the dimensions
    and the data length are checked; a mismatch raises DatasetFileError naming the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 + 4 * ndim:
        raise DatasetFileError(f"{path}: {len(data)} bytes is too short for an IDX header with {ndim} dimension(s)")
    magic = int.from_bytes(data[:4], "big")
    want = 0x800 + ndim
    if magic != want:
        kind = "labels (idx1)" if ndim == 1 else f"images (idx{ndim})"
        raise DatasetFileError(f"{path}: bad IDX magic number 0x{magic:08X}; {kind} of unsigned bytes start "
                               f"with 0x{want:08X}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    size = int(np.prod(dims, dtype=np.int64))
    if len(data) - start != size:
        what = "truncated" if len(data) - start < size else "longer than its header says"
        raise DatasetFileError(f"{path}: {what}: header says {' x '.join(map(str, dims))} = {size} bytes of "
                               f"data, the file holds {len(data) - start}")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(dims)


def _read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) from two IDX files whose counts must agree."""
    images = read_idx(images_path, 3)
    if images.shape[1:] != (_SIDE, _SIDE):
        raise DatasetFileError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected "
                               f"{_SIDE}x{_SIDE}")
    labels = read_idx(labels_path, 1)
    if len(labels) != len(images):
        raise DatasetFileError(f"{labels_path} holds {len(labels)} labels but {images_path} holds "
                               f"{len(images)} images")
    return images, labels


# ----------------------------------------------------------------------------- EMNIST .mat

def _read_emnist_mat(path: Path, subset: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Images (N, 28, 28) as stored, labels (N,) and the (label, char) mapping of an emnist-{split}.mat."""
    import scipy.io  # imported here so the package imports quickly

    try:
        mat = scipy.io.loadmat(str(path), simplify_cells=True)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DatasetFileError(f"{path}: not readable as a MATLAB .mat file ({exc})") from None
    ds = mat.get("dataset")
    part = ds.get(subset) if isinstance(ds, dict) else None
    if not isinstance(part, dict) or "images" not in part or "labels" not in part:
        raise DatasetFileError(f"{path}: expected EMNIST's layout, a struct 'dataset' with '{subset}' holding "
                               f"'images' and 'labels'; found keys {sorted(k for k in mat if not k.startswith('__'))}")
    images, labels = np.asarray(part["images"]), np.asarray(part["labels"]).reshape(-1)
    if images.ndim == 1 and images.size == _SIDE * _SIDE:  # simplify_cells squeezed a single image
        images = images[None]
    if images.ndim != 2 or images.shape[1] != _SIDE * _SIDE:
        raise DatasetFileError(f"{path}: dataset.{subset}.images must be (N, {_SIDE * _SIDE}), found {images.shape}")
    if len(labels) != len(images):
        raise DatasetFileError(f"{path}: dataset.{subset} holds {len(images)} images but {len(labels)} labels")
    if images.dtype.kind not in "uif" or labels.dtype.kind not in "uif":
        raise DatasetFileError(f"{path}: images ({images.dtype}) and labels ({labels.dtype}) must be numeric")
    if images.dtype != np.uint8 and images.size and (images.min() < 0 or images.max() > 255):
        raise DatasetFileError(f"{path}: image values must lie in 0..255, found {images.min()}..{images.max()}")
    mapping = _mat_mapping(path, ds.get("mapping"))
    return images.astype(np.uint8).reshape(-1, _SIDE, _SIDE), labels.astype(np.int64), mapping


def _mat_mapping(path: Path, table) -> list[tuple[int, str]]:
    """The .mat's mapping rows [label, ASCII code (, lower-case code)] as (label, character)."""
    if table is None:
        return []
    t = np.asarray(table)
    t = t[None] if t.ndim == 1 else t
    if t.ndim != 2 or t.shape[1] < 2 or t.dtype.kind not in "uif":
        raise DatasetFileError(f"{path}: dataset.mapping must be rows [label, ASCII code], found shape {t.shape}")
    return [(int(row[0]), chr(int(row[1]))) for row in t]


def _txt_mapping(path: Path) -> list[tuple[int, str]]:
    """Rows `label code [code]` of an emnist-{split}-mapping.txt as (label, character)."""
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            rows.append((int(parts[0]), chr(int(parts[1]))))
        except (ValueError, IndexError):
            raise DatasetFileError(f"{path}, line {i}: expected 'label ASCII-code', found {line!r}") from None
    return rows


# ----------------------------------------------------------------------------- labels and pixels

def class_table(chars: dict[int, str] | str, case: str = "drop") -> np.ndarray:
    """Label -> index into CLASSES (-1: dropped lower-case, -2: no such label) for a split's characters."""
    if case not in ("drop", "merge"):
        raise ValueError(f"case must be 'drop' or 'merge', got {case!r}")
    items = dict(enumerate(chars)) if isinstance(chars, str) else dict(chars)
    table = np.full(max(items, default=-1) + 1, -2, dtype=np.int64)
    for label, ch in items.items():
        if ch in CLASSES:
            table[label] = CLASSES.index(ch)
        elif ch.isalpha() and ch.upper() in CLASSES:
            table[label] = CLASSES.index(ch.upper()) if case == "merge" else -1
    return table


def _map_labels(labels: np.ndarray, table: np.ndarray, path: Path, split: str) -> np.ndarray:
    """Class indices of `labels` (-1 where a lower-case class is dropped); unknown labels are an error."""
    labels = labels.astype(np.int64)
    bad = (labels < 0) | (labels >= len(table))
    bad[~bad] = table[labels[~bad]] == -2
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetFileError(f"{path}: label {int(labels[i])} (sample {i}) is not a class of the {split!r} split "
                               f"(labels 0..{len(table) - 1}; {int(bad.sum())} bad in all)")
    return table[labels]


def fit_to_nist(images: np.ndarray, margin: float | None = None, size: int = IMAGE_SIZE,
                chunk: int = 8192) -> np.ndarray:
    """Upright (N, H, W) uint8 images (ink high, paper 0) as NIST36 rows (N, size*size) float32, ink 0 paper 1.

    Each character's bounding box (pixels above a quarter of full ink) is centred and scaled, aspect
    kept, so its longer side spans size - 2 * margin (NIST's margin, 3.5 of 32 px, by default), with
    linear interpolation (triangle filter widened when shrinking).
    """
    if margin is None:
        from ..vision.crops import NIST_MARGIN  # the margin measured on the NIST reference cells
        margin = NIST_MARGIN
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"fit_to_nist expects (N, H, W) uint8 images, got shape {images.shape} dtype {images.dtype}")
    n, h, w = images.shape
    out = np.empty((n, size * size), dtype=np.float32)
    for s in range(0, n, chunk):
        ink = images[s:s + chunk].astype(np.float32) * np.float32(1 / 255)
        mask = ink > _INK_LEVEL
        rows, cols = mask.any(axis=2), mask.any(axis=1)
        empty = ~rows.any(axis=1)
        y0, y1 = rows.argmax(axis=1), h - rows[:, ::-1].argmax(axis=1)
        x0, x1 = cols.argmax(axis=1), w - cols[:, ::-1].argmax(axis=1)
        # An image without ink keeps its whole frame (and stays paper).
        y0, y1, x0, x1 = (np.where(empty, a, b) for a, b in ((0, y0), (h, y1), (0, x0), (w, x1)))
        scale = (size - 2 * margin) / np.maximum(y1 - y0, x1 - x0)
        ry = _weights((y0 + y1) / 2, scale, h, size)
        rx = _weights((x0 + x1) / 2, scale, w, size)
        fitted = np.matmul(np.matmul(ry, ink), rx.transpose(0, 2, 1))
        out[s:s + chunk] = (1.0 - np.clip(fitted, 0.0, 1.0)).reshape(len(ink), size * size)
    return out


def _weights(centre: np.ndarray, scale: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """(N, n_out, n_in) linear-interpolation weights mapping output pixels around `centre` by `scale`."""
    inv = (1.0 / scale).astype(np.float32)[:, None]
    src = centre.astype(np.float32)[:, None] + (np.arange(n_out, dtype=np.float32) + 0.5 - n_out / 2) * inv
    radius = np.maximum(np.float32(1.0), inv)[:, :, None]
    w = src[:, :, None] - (np.arange(n_in, dtype=np.float32) + 0.5)
    np.abs(w, out=w)
    w /= radius
    np.subtract(1.0, w, out=w)
    np.maximum(w, 0.0, out=w)
    # Outside the source frame there is only paper, so edge rows are not renormalised.
    w /= radius
    return w


# ----------------------------------------------------------------------------- finding files

def _folder(data_dir: str | os.PathLike | None, what: str) -> Path:
    if data_dir is None or not isinstance(data_dir, (str, os.PathLike)) or str(data_dir) == "":
        raise TypeError(f"{what}: data_dir must be the path of a folder holding the files, got {data_dir!r}")
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{what}: data folder {folder} does not exist or is not a folder")
    return folder


def _find(folders: list[Path], name: str) -> Path | None:
    """The first of folder/name and folder/name.gz (gzip'd or raw) that is a file."""
    for folder in folders:
        for cand in (folder / name, folder / f"{name}.gz"):
            if cand.is_file():
                return cand
    return None


def _check_args(subset: str, layout: str) -> None:
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    if layout not in ("upright", "nist"):
        raise ValueError(f"layout must be 'upright' or 'nist', got {layout!r}")


def _finish(images: np.ndarray, y: np.ndarray, layout: str, onehot: bool) -> tuple[np.ndarray, np.ndarray]:
    keep = y >= 0
    if not keep.all():
        images, y = images[keep], y[keep]
    x = to_layout(fit_to_nist(images), layout)
    return x, (one_hot(y) if onehot else y)


def load_emnist(data_dir: str | os.PathLike, split: str = "balanced", subset: str = "train", layout: str = "upright",
                *, case: str = "drop", onehot: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load an EMNIST split's train or test subset as ``(x, y)`` in load_nist36's conventions.

    Reads ``emnist-{split}-{subset}-{images-idx3,labels-idx1}-ubyte[.gz]`` (in ``data_dir``, its
    ``gzip/`` subfolder or torchvision's ``EMNIST/raw/``), else ``emnist-{split}.mat`` (in ``data_dir``
    or ``matlab/``). Images are stored transposed and are turned upright. Labels map to ``CLASSES``:
    lower-case classes (byclass, bymerge, balanced) are dropped, or folded into upper case with
    ``case="merge"``; ``letters`` labels 1-26 are A-Z.
    """
    if split not in EMNIST_SPLITS:
        raise ValueError(f"split must be one of {EMNIST_SPLITS}, got {split!r}")
    _check_args(subset, layout)
    folder = _folder(data_dir, "load_emnist")
    idx_dirs = [folder, folder / "gzip", folder / "EMNIST" / "raw"]
    img_name = f"emnist-{split}-{subset}-images-idx3-ubyte"
    lab_name = f"emnist-{split}-{subset}-labels-idx1-ubyte"
    img_path, lab_path = _find(idx_dirs, img_name), _find(idx_dirs, lab_name)
    mat_path = next((p for p in (folder / f"emnist-{split}.mat", folder / "matlab" / f"emnist-{split}.mat")
                     if p.is_file()), None)
    chars: dict[int, str] = dict(enumerate(SPLIT_CHARS[split]))
    if img_path is not None and lab_path is not None:
        images, labels = _read_idx_pair(img_path, lab_path)
        map_txt = _find(idx_dirs, f"emnist-{split}-mapping.txt")
        if map_txt is not None:
            chars = dict(_txt_mapping(map_txt))
        source = lab_path
    elif mat_path is not None:
        images, labels, mapping = _read_emnist_mat(mat_path, subset)
        chars = dict(mapping) or chars
        source = mat_path
    else:
        found = [p.name for p in (img_path, lab_path) if p is not None]
        raise FileNotFoundError(
            f"EMNIST {split!r} {subset} files not found in {folder}"
            + (f" (found only {found[0]})" if found else "")
            + f": expected {img_name}.gz and {lab_name}.gz (gzip'd or not; also looked in gzip/ and EMNIST/raw/), "
            f"or emnist-{split}.mat (also looked in matlab/). NIST publishes EMNIST at {EMNIST_URL} as gzip.zip "
            "(IDX files) and matlab.zip (.mat files); unzip one into that folder. Nothing is downloaded.")
    y = _map_labels(labels, class_table(chars, case), source, split)
    # EMNIST stores each image transposed (column-major): swap the axes to make it upright.
    return _finish(np.ascontiguousarray(images.transpose(0, 2, 1)), y, layout, onehot)


def load_mnist(data_dir: str | os.PathLike, subset: str = "train", layout: str = "upright",
               *, onehot: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST's train (60k) or test (t10k) subset as ``(x, y)`` in load_nist36's conventions (digits 26-35).

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``data_dir`` or torchvision's
    ``MNIST/raw/``.
    """
    _check_args(subset, layout)
    folder = _folder(data_dir, "load_mnist")
    dirs = [folder, folder / "MNIST" / "raw"]
    stem = "train" if subset == "train" else "t10k"
    img_name, lab_name = f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte"
    img_path, lab_path = _find(dirs, img_name), _find(dirs, lab_name)
    if img_path is None or lab_path is None:
        missing = [n for n, p in ((img_name, img_path), (lab_name, lab_path)) if p is None]
        raise FileNotFoundError(
            f"MNIST {subset} file(s) not found in {folder}: {' and '.join(m + '.gz' for m in missing)} "
            f"(gzip'd or not; also looked in MNIST/raw/). MNIST is published at {MNIST_URL} as the four files "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz; put them in that folder. Nothing is downloaded.")
    images, labels = _read_idx_pair(img_path, lab_path)
    y = _map_labels(labels, class_table(SPLIT_CHARS["mnist"]), lab_path, "mnist")
    return _finish(images, y, layout, onehot)


def carve_valid(x: np.ndarray, y: np.ndarray, n_valid: int, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                                    tuple[np.ndarray, np.ndarray]]:
    """Split (x, y) into a fixed, seeded (train, valid) pair with `n_valid` validation rows, order kept."""
    if not 0 < n_valid < len(y):
        raise ValueError(f"n_valid must lie in [1, {len(y) - 1}] for {len(y)} samples, got {n_valid}")
    pick = np.zeros(len(y), bool)
    pick[np.random.default_rng(seed).permutation(len(y))[:n_valid]] = True
    return (x[~pick], y[~pick]), (x[pick], y[pick])
