"""DataLoader shaped like torch.utils.data.DataLoader: batches from any dataset through a sampler and
a collate function, with torch's defaults (shuffle=False) and argument rules.

Workers: `num_workers > 0` is accepted so torch scripts run unchanged, but batches are loaded in this
process (numpy's gathers and our kernels already use the cores); `worker_init_fn(0)` is called once
per epoch (once in all with persistent_workers), where torch calls it in each worker. pin_memory,
timeout, prefetch_factor, multiprocessing_context and in_order are accepted and have no effect (CPU only).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .collate import default_collate, default_convert
from .dataset import IterableDataset, _gather_from
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


class DataLoader:
    """`for xb, yb in DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True): ...`

    With the default collate, a dataset that can gather whole batches (TensorDataset, a Subset of
    one, a numpy array or Tensor) is read by one fancy-indexing gather per field and batch; any
    other map-style dataset is read sample by sample and collated. `len()` is batches per epoch; each
    `iter()` draws its epoch's order at once (shuffle: from `generator`, or the global generator that
    `tinygrad5.manual_seed` reseeds).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"num_workers option should be a non-negative int, got {num_workers!r}; use "
                             "num_workers=0 to load in the main process")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing: let "
                             "num_workers > 0 to enable it, otherwise set prefetch_factor to None")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size <= 0):
            hint = (" (tinygrad5.data.DataLoader(x, y, batch_size=...) takes arrays; this one takes a dataset: "
                    "DataLoader(TensorDataset(x, y), batch_size=...))" if hasattr(batch_size, "shape") else "")
            raise ValueError(f"batch_size should be a positive int or None, got {type(batch_size).__name__}"
                             f"{'' if hint else ' ' + repr(batch_size)}{hint}")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler and batch_sampler "
                                 "options (the dataset yields its own order)")
        elif not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader needs a dataset with __getitem__ and __len__ (or an IterableDataset), got "
                            f"a {type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), pin_memory, timeout
        self.worker_init_fn, self.generator = worker_init_fn, generator
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        default = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn if collate_fn is not None else default
        self._workers_started = False

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __len__(self) -> int:
        if self._iterable:
            try:
                n = len(self.dataset)
            except TypeError:
                raise TypeError(f"len() of a DataLoader over {type(self.dataset).__name__}, an IterableDataset "
                                "without __len__") from None
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self) -> Iterator[Any]:
        # the epoch's order is drawn here, not at the first next(), so iter() alone fixes it
        if self.worker_init_fn is not None and self.num_workers > 0 and not (
                self.persistent_workers and self._workers_started):
            self.worker_init_fn(0)
        self._workers_started = True
        if self._iterable:
            return self._from_stream()
        if not self._auto_collation:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._from_batches(self._index_batches())

    def _index_batches(self) -> Iterator[np.ndarray]:
        bs = self.batch_sampler
        if isinstance(bs, BatchSampler):
            return bs._index_batches()
        return (np.asarray(b, dtype=np.int64).reshape(-1) for b in iter(bs))

    def _from_batches(self, batches: Iterator[np.ndarray]) -> Iterator[Any]:
        fast = self.collate_fn is default_collate
        for idx in batches:
            out = _gather_from(self.dataset, idx) if fast else None
            if out is None:
                out = self.collate_fn([self.dataset[i] for i in idx.tolist()])
            yield out

    def _from_stream(self) -> Iterator[Any]:
        it = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(s) for s in it)
            return
        batch: list[Any] = []
        for s in it:
            batch.append(s)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, drop_last={self.drop_last}, num_workers={self.num_workers})")
