"""DataLoader: a fresh random partition of equal-length arrays into batches every epoch."""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..random import get_rng
from ..tensor import Tensor


class DataLoader:
    """Batches of rows from arrays of equal length: `for x, y in DataLoader(X, Y, batch_size=32): ...`.

    Each `iter()` (each epoch) draws a new permutation when shuffle=True, i.e. the homework's
    `get_random_batches`. With seed=None the permutation comes from the global generator (so
    `tinygrad5.manual_seed` makes runs repeat); with a seed the loader has its own generator.
    Yields tuples of Tensors (of numpy arrays with as_tensor=False); `len()` is batches per epoch.
    """

    def __init__(self, *arrays: Any, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 seed: int | None = None, as_tensor: bool = True) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        self.arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays]
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"DataLoader array {i} is 0-d; every array needs a first (sample) dim")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"DataLoader arrays must have equal lengths, got lengths {lengths}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.n, self.batch_size = lengths[0], int(batch_size)
        self.shuffle, self.drop_last, self.as_tensor = shuffle, drop_last, as_tensor
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or not rest else full + 1

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # drawn here, not lazily at the first next(), so iter() alone fixes the epoch's order
        if self.shuffle:
            order = (get_rng() if self._rng is None else self._rng).permutation(self.n)
        else:
            order = np.arange(self.n)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[tuple[Any, ...]]:
        bs = self.batch_size
        for start in range(0, len(self) * bs, bs):
            idx = order[start:start + bs]
            batch = tuple(a[idx] for a in self.arrays)
            yield tuple(Tensor(b) for b in batch) if self.as_tensor else batch

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (f"DataLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
