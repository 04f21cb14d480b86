"""Datasets for tinygrad5: the real NIST36 files when present, generated look-alikes otherwise.

Everything here is plain numpy (no Tensor): ``x`` is float32 (N, 1024) with white paper ~1 and dark
ink ~0, stored upright row-major by default; ``y`` is int64 class indices into ``CLASSES``.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from .classes import CLASSES, IMAGE_SIZE, NUM_CLASSES, class_index, one_hot, to_layout
from .emnist import EMNIST_SPLITS, DatasetFileError, carve_valid, load_emnist, load_mnist
from .loader import DataLoader
from .nist36 import DATA_DIR_ENV, SPLITS, find_nist36_dir, load_nist36
from .pages import PageTruth, make_page, random_lines
from .synthetic import GENERATOR_VERSION, SPLIT_SIZES, load_synthetic, render_char
from . import transforms

__all__ = [
    "CLASSES", "NUM_CLASSES", "IMAGE_SIZE", "SPLITS", "SPLIT_SIZES", "GENERATOR_VERSION", "DATA_DIR_ENV",
    "class_index", "one_hot", "to_layout", "load_nist36", "find_nist36_dir", "load_synthetic",
    "render_char", "load_dataset", "DataLoader", "dataset_source", "make_page", "random_lines", "PageTruth",
    "load_emnist", "load_mnist", "EMNIST_SPLITS", "DatasetFileError", "carve_valid",
    "transforms",
]


def dataset_source(data_dir: str | os.PathLike | None = None) -> str:
    """Describe what :func:`load_dataset` would load: the real NIST36 folder or the generator."""
    found = find_nist36_dir(data_dir)
    if found is not None:
        return f"NIST36 files in {found}"
    return f"generated NIST36 look-alike (tinygrad5.data.synthetic, version {GENERATOR_VERSION})"


def load_dataset(split: str, data_dir: str | os.PathLike | None = None, *, layout: str = "upright",
                 onehot: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Load ``split`` from the real NIST36 files if available (``data_dir`` or $TINYGRAD5_NIST36), else generate it.

    An explicit ``data_dir`` that lacks the files is an error rather than a silent fallback.
    """
    if data_dir is not None or find_nist36_dir() is not None:
        folder = data_dir if data_dir is not None else find_nist36_dir()
        return load_nist36(folder, split, layout=layout, onehot=onehot)
    if os.environ.get(DATA_DIR_ENV):
        warnings.warn(f"${DATA_DIR_ENV}={os.environ[DATA_DIR_ENV]!r} does not hold nist36_{{train,valid,test}}.mat; "
                      "using generated data instead", stacklevel=2)
    return load_synthetic(split, seed=seed, layout=layout, onehot=onehot)
