"""Samplers shaped like torch.utils.data's: which indices a DataLoader reads, and in what order.

Our samplers also offer `_order()`, the whole epoch's indices as one array, so a BatchSampler can cut
batches as array slices (no Python loop per sample). Randomness comes from `generator`: None means the
global generator at iteration time (so `tinygrad5.manual_seed` makes runs repeat), an int seeds a
private numpy generator, and a numpy Generator (or anything holding one as `rng`/`_rng`, as a
`tinygrad5.Generator` may) is used as is.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Sized

import numpy as np

from ...random import get_rng


def as_rng(generator: Any) -> np.random.Generator:
    """The numpy generator behind `generator` (None: the global one, reseeded by manual_seed)."""
    if generator is None:
        return get_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    for name in ("rng", "_rng", "generator"):
        inner = getattr(generator, name, None)
        if isinstance(inner, np.random.Generator):
            return inner
    raise TypeError(f"generator must be None, an int seed, a numpy Generator or a tinygrad5 Generator, got "
                    f"{type(generator).__name__}")


def _own(generator: Any) -> Any:
    """An int seed becomes a private numpy generator once, so each epoch continues its stream."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    as_rng(generator)  # refuse a wrong type now, not at the first epoch
    return generator


def _sized_len(data_source: Any, who: str) -> int:
    try:
        return len(data_source)
    except TypeError:
        raise TypeError(f"{who} needs a dataset with __len__, got a {type(data_source).__name__} without one "
                        "(an IterableDataset is read in its own order: no sampler, no shuffle)") from None


class Sampler:
    """Base: iterating yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def _order(self) -> np.ndarray:
        """One epoch's indices as an int64 array (subclasses draw it directly)."""
        return np.fromiter((int(i) for i in self), dtype=np.int64)


def _draws_whole_orders(sampler: Any) -> bool:
    """True when `sampler._order()` is what iterating it gives: the class that defines its __iter__
    also defines _order (a subclass that overrides only __iter__ is iterated instead)."""
    for k in type(sampler).__mro__:
        if "__iter__" in vars(k):
            return "_order" in vars(k)
    return False


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) − 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __len__(self) -> int:
        return _sized_len(self.data_source, "SequentialSampler")

    def _order(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self)))


class RandomSampler(Sampler):
    """A fresh permutation every epoch, or with replacement=True `num_samples` uniform draws."""

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, got replacement={replacement!r}")
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples
        self.generator = _own(generator)
        if num_samples is not None and (isinstance(num_samples, bool) or int(num_samples) != num_samples
                                        or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, got num_samples={num_samples!r}")

    @property
    def num_samples(self) -> int:
        """Indices per epoch (the dataset's length unless given)."""
        if self._num_samples is None:
            return _sized_len(self.data_source, "RandomSampler")
        return int(self._num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def _order(self) -> np.ndarray:
        n, rng = _sized_len(self.data_source, "RandomSampler"), as_rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        k = self.num_samples  # more than n: whole permutations back to back, as torch does
        parts = [rng.permutation(n) for _ in range(-(-k // n))] if n else [np.empty(0, np.int64)]
        return np.concatenate(parts)[:k].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())


class SubsetRandomSampler(Sampler):
    """The given indices in a fresh random order every epoch."""

    def __init__(self, indices: Iterable[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = _own(generator)

    def __len__(self) -> int:
        return len(self.indices)

    def _order(self) -> np.ndarray:
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return idx[as_rng(self.generator).permutation(len(idx))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights`."""

    def __init__(self, weights: Iterable[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        w = np.asarray(weights.data if hasattr(weights, "data") else weights, dtype=np.float64).reshape(-1)
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, got num_samples={num_samples!r}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"cannot draw {num_samples} samples without replacement from "
                             f"{np.count_nonzero(w)} non-zero weights")
        self.weights, self.num_samples, self.replacement = w, int(num_samples), bool(replacement)
        self.generator = _own(generator)

    def __len__(self) -> int:
        return self.num_samples

    def _order(self) -> np.ndarray:
        rng = as_rng(self.generator)
        return rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                          p=self.weights / self.weights.sum()).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of `batch_size` (the last one shorter unless drop_last)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _index_batches(self) -> Iterator[np.ndarray]:
        """The batches as int64 arrays; the epoch's order is drawn before this returns."""
        if not (_draws_whole_orders(self.sampler) and type(self).__iter__ is BatchSampler.__iter__):
            return (np.asarray(b, dtype=np.int64).reshape(-1) for b in self)
        order = self.sampler._order()
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        return (order[i:i + bs] for i in range(0, stop, bs))

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch
