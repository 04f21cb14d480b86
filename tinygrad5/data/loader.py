"""DataLoader: a fresh random partition of equal-length arrays into batches every epoch."""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterator

import numpy as np

from ..random import get_rng
from ..tensor import Tensor


class DataLoader:
    """Batches of rows from arrays of equal length: `for x, y in DataLoader(X, Y, batch_size=32): ...`.

    Each `iter()` (each epoch) draws a new permutation when shuffle=True, i.e. the homework's
    `get_random_batches`. With seed=None the permutation comes from the global generator (so
    `tinygrad5.manual_seed` makes runs repeat); with a seed the loader has its own generator.
    Yields tuples of Tensors (of numpy arrays with as_tensor=False); `len()` is batches per epoch.

    ``transform(batch, rng)`` (e.g. ``tinygrad5.data.transforms.default_augmentation()``) replaces
    the first array of each batch (the images; labels are never touched) and draws from the
    loader's generator after the epoch's permutation, so a seeded run repeats; with
    transform=None no extra numbers are drawn.
    """

    def __init__(self, *arrays: Any, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 seed: int | None = None, as_tensor: bool = True,
                 transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        self.arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays]
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"DataLoader array {i} is 0-d; every array needs a first (sample) dim")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"DataLoader arrays must have equal lengths, got lengths {lengths}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader transform must be a callable transform(batch, rng) or None, "
                            f"got {transform!r}")
        self.n, self.batch_size = lengths[0], _positive_int(batch_size, "batch_size")
        self.transform = transform
        self.shuffle, self.drop_last, self.as_tensor = shuffle, drop_last, as_tensor
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or not rest else full + 1

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # drawn here, not lazily at the first next(), so iter() alone fixes the epoch's order
        rng = get_rng() if self._rng is None else self._rng
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        return self._batches(order, rng)

    def _batches(self, order: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[Any, ...]]:
        bs = self.batch_size
        for start in range(0, len(self) * bs, bs):
            idx = order[start:start + bs]
            batch = tuple(a[idx] for a in self.arrays)
            if self.transform is not None:
                batch = (self._transformed(batch[0], rng),) + batch[1:]
            yield tuple(Tensor(b) for b in batch) if self.as_tensor else batch

    def _transformed(self, first: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The transform's result for a batch's first array, checked to still line up with the rest."""
        out = self.transform(first, rng)
        if not isinstance(out, np.ndarray) or out.ndim == 0 or len(out) != len(first):
            got = f"shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(f"DataLoader transform {self.transform!r} returned {got} for a batch of shape "
                             f"{first.shape}; it must return an array with the same number of rows")
        return out

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        extra = "" if self.transform is None else f", transform={self.transform!r}"
        return (f"DataLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}{extra})")


def _positive_int(value: Any, name: str) -> int:
    """``value`` as a positive int; None, bools, strings, nan, inf and fractions are refused by name."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive int, got {value!r} of type {type(value).__name__}")
    if not isinstance(value, numbers.Integral):
        as_float = float(value)
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if int(value) < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)
