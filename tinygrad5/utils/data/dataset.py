"""Datasets shaped like torch.utils.data's: Dataset, IterableDataset, TensorDataset, Subset,
ConcatDataset, random_split.

A map-style dataset may also define `_gather(indices)`: the whole batch for an int64 index array,
already collated (a list of Tensors, one per field). The DataLoader uses it with the default collate,
so a TensorDataset batch is one fancy-indexing gather per field instead of a Python loop per sample.
"""
from __future__ import annotations

import bisect
import math
import warnings
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ...tensor import Tensor
from .sampler import _own, as_rng


class Dataset:
    """A map-style dataset: subclasses define __getitem__(index) and __len__()."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define __iter__; a DataLoader reads it in order (no sampler)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: Dataset) -> Any:
        raise TypeError("adding IterableDatasets (torch's ChainDataset) is not supported; chain them with "
                        "itertools.chain inside an IterableDataset's __iter__")


class TensorDataset(Dataset):
    """Sample i is `tuple(t[i] for t in tensors)`; every tensor (or numpy array) shares its first dim."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        for i, t in enumerate(self.tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset tensor {i} is 0-d; every tensor needs a first (sample) dim")
        if len({t.shape[0] for t in self.tensors}) != 1:
            raise ValueError("Size mismatch between tensors: TensorDataset needs equal first dims, got shapes "
                             + ", ".join(str(tuple(t.shape)) for t in self.tensors))

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(Tensor(t.data[index]) for t in self.tensors)

    def _gather(self, indices: np.ndarray) -> list[Tensor]:
        return [Tensor(t.data[indices]) for t in self.tensors]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices
        self._index = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def _gather(self, indices: np.ndarray) -> Any:
        if self._index is None or len(self._index) != len(self.indices):
            self._index = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return _gather_from(self.dataset, self._index[indices])


def _gather_from(dataset: Any, indices: np.ndarray) -> Any:
    """dataset's whole batch at `indices` if it can gather, else None (then samples are collated)."""
    if isinstance(dataset, np.ndarray):
        return Tensor(dataset[indices])
    if isinstance(dataset, Tensor):
        return Tensor(dataset.data[indices])
    gather = getattr(dataset, "_gather", None)
    return None if gather is None else gather(indices)


class ConcatDataset(Dataset):
    """Several map-style datasets end to end."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"absolute value of index {idx} should not exceed dataset length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx - (self.cumulative_sizes[d - 1] if d else 0)]


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None) -> list[Subset]:
    """Split into disjoint random Subsets of the given lengths (or fractions summing to 1).

    generator: None (the global generator, so manual_seed repeats it), an int seed, or a Generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and not all(isinstance(x, int) for x in lengths):
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is {frac}, not between 0 and 1")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):  # the remainder goes round-robin, as torch does
            sizes[i % len(sizes)] += 1
        for i, k in enumerate(sizes):
            if k == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; it will be an empty Subset")
        lengths = sizes
    if any(isinstance(k, bool) or int(k) != k or k < 0 for k in lengths):
        raise ValueError(f"random_split lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} ({lengths}) does not equal the "
                         f"length of the input dataset ({n})")
    perm = as_rng(_own(generator)).permutation(n).tolist()
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, perm[start:start + int(k)]))
        start += int(k)
    return out
