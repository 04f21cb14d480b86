"""DistributedSampler: each rank's disjoint share of a dataset's indices, torch's algorithm.

Every rank draws the same permutation (from seed + epoch), pads it by repeating its head until it
divides evenly (or drops the tail with drop_last), and takes every num_replicas-th index from its
rank on. The shards are disjoint and together cover the epoch once (plus the padding).

It needs only `len(dataset)`, so it serves both loaders: a map-style dataset's DataLoader takes it
as `sampler=`, and for arrays, index them yourself: `xs, ys = x[sampler.indices()], y[...]`, then
batch (x_shard, y_shard) with tinygrad5.data.DataLoader.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np


class DistributedSampler:
    """Indices of this rank's shard of `dataset` for the current epoch (see `set_epoch`)."""

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        try:
            self.dataset_len = len(dataset)
        except TypeError:
            raise TypeError(f"DistributedSampler needs a dataset with __len__, got a "
                            f"{type(dataset).__name__}") from None
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "tinygrad5.distributed.init_process_group('mpi') first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank!r}")
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = self.dataset_len
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)  # whole rounds only
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use epoch's permutation (call at the start of every epoch, the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = self.dataset_len
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n and n > 0:
            order = np.concatenate([order, np.resize(order, self.total_size - n)])  # repeats the head
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    _order = indices  # what tinygrad5.utils.data's batch sampler reads to slice whole epochs

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(len={self.dataset_len}, num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, epoch={self.epoch})")
