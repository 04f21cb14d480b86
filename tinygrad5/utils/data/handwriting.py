"""EMNIST and MNIST as map-style datasets shaped like torchvision's (files read by tinygrad5.data, never downloaded).

    train = EMNIST("~/data", split="balanced", train=True)     # root holds the files, or EMNIST/raw/
    for xb, yb in DataLoader(train, batch_size=64, shuffle=True): ...   # xb (64, 1, 32, 32), yb (64,)

A sample is `(image, target)`: image a float32 Tensor (1, 32, 32), what torchvision's ToTensor gives
but in NIST36's conventions (upright, white paper ~1, dark ink ~0, the character refitted to NIST's
margin), target an int index into `classes` (tinygrad5.data.CLASSES, the same 36 for every split).
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ...data.classes import CLASSES, IMAGE_SIZE
from ...data.emnist import EMNIST_URL, MNIST_URL, load_emnist, load_mnist
from ...tensor import Tensor
from .dataset import Dataset


def _no_download(name: str, url: str) -> None:
    raise ValueError(f"{name}(download=True): tinygrad5 does not download; get the files from {url} and pass "
                     "their folder as root (README: 'EMNIST and MNIST: getting the files')")


class _Handwriting(Dataset):
    """Images (N, 1, 32, 32) and int64 targets with torchvision's attributes and transform hooks."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: Callable | None,
                 target_transform: Callable | None) -> None:
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{type(self).__name__}: {name} must be callable or None, got {type(fn).__name__}")
        self.data = Tensor(np.ascontiguousarray(x.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)))
        self.targets = Tensor(np.asarray(y, dtype=np.int64))
        self.transform, self.target_transform = transform, target_transform
        self.classes = list(CLASSES)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        n = len(self)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be integers, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} is out of range for {n} samples")
        image = Tensor(self.data.data[index].copy())
        target = int(self.targets.data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _gather(self, indices: np.ndarray) -> list[Tensor] | None:
        # A whole batch in one gather; with transforms each sample must pass through them instead.
        if self.transform is not None or self.target_transform is not None:
            return None
        return [Tensor(self.data.data[indices]), Tensor(self.targets.data[indices])]

    def __repr__(self) -> str:
        return f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    {self._describe()}"

    def _describe(self) -> str:
        return ""


class EMNIST(_Handwriting):
    """torchvision.datasets.EMNIST's shape: `EMNIST(root, split, train=True, transform=None, target_transform=None)`.

    Reads the IDX (gzip'd or not) or .mat files in `root` (or root/gzip, root/matlab, root/EMNIST/raw)
    with tinygrad5.data.load_emnist; lower-case classes are dropped unless `case="merge"`.
    """

    splits = ("balanced", "byclass", "bymerge", "letters", "digits", "mnist")

    def __init__(self, root: str | os.PathLike, split: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False, *, case: str = "drop") -> None:
        if download:
            _no_download("EMNIST", EMNIST_URL)
        self.root, self.split, self.train = root, split, bool(train)
        x, y = load_emnist(root, split, "train" if train else "test", case=case)
        super().__init__(x, y, transform, target_transform)

    def _describe(self) -> str:
        return f"Root location: {self.root}\n    Split: {self.split} ({'Train' if self.train else 'Test'})"


class MNIST(_Handwriting):
    """torchvision.datasets.MNIST's shape: `MNIST(root, train=True, transform=None, target_transform=None)`.

    Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `root` or root/MNIST/raw; digits are
    classes 26-35 of `classes`.
    """

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        if download:
            _no_download("MNIST", MNIST_URL)
        self.root, self.train = root, bool(train)
        x, y = load_mnist(root, "train" if train else "test")
        super().__init__(x, y, transform, target_transform)

    def _describe(self) -> str:
        return f"Root location: {self.root}\n    Split: {'Train' if self.train else 'Test'}"
