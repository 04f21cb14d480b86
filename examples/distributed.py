"""Helpers that let a homework example train data-parallel under `mpiexec -n N ... --distributed`.

The global batch stays the homework's and is split across ranks; every rank holds the same model
(rank 0's initial weights) and, after each backward(), the average gradient; rank 0 alone logs,
plots and saves. Without --distributed every helper is a no-op (rank 0 of a world of 1).

    rank, world = distributed.setup(args)               # after parse_args; quiets other ranks
    tg.manual_seed(args.seed)
    model = distributed.wrap(models.mlp())               # DistributedDataParallel when world > 1
    opt = tg.optim.SGD(model.parameters(), lr=args.lr)
    loader = distributed.loader(x, y, batch_size=args.batch_size, seed=args.seed)  # this rank's share
    scale = distributed.loss_scale("sum")                # summed losses: see loss_scale
    for epoch in range(args.epochs):
        for xb, yb in loader:                            # the single-process batches, split across ranks
            loss = tg.cross_entropy(model(xb), yb, reduction="sum")
            opt.zero_grad()
            (loss * scale).backward()
            opt.step()
        train_loss = distributed.all_sum(loss_sum) / len(y)      # metrics over all ranks
        if distributed.is_main():
            ...log, plot, common.save_model(path, distributed.unwrap(model), ...)

`shard(x, y, epoch)` is the other way to split an epoch: torch's DistributedSampler, one shard per
rank, each rank batching its own shard (other global batches than one process draws).
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Iterator

import numpy as np

import tinygrad5 as tg
import tinygrad5.distributed as dist
from tinygrad5.data.loader import DataLoader
from tinygrad5.nn.parallel import DistributedDataParallel
from tinygrad5.utils.data.distributed import DistributedSampler


def add_flag(parser: argparse.ArgumentParser) -> None:
    """Add --distributed (run under `mpiexec -n N`)."""
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over MPI: launch with `mpiexec -n N python ...`")


def setup(args: argparse.Namespace) -> tuple[int, int]:
    """Join the MPI world when args.distributed is set; returns (rank, world). Ranks other than 0
    get args.no_progress = True, so only rank 0 draws a progress bar."""
    if not getattr(args, "distributed", False):
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if rank != 0 and hasattr(args, "no_progress"):
        args.no_progress = True
    return rank, world


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def is_main() -> bool:
    """True on the rank that logs, plots and saves (rank 0, or the only process)."""
    return rank_and_world()[0] == 0


def wrap(model: tg.nn.Module) -> tg.nn.Module:
    """The model wrapped in DistributedDataParallel when the world has several ranks, else as is."""
    return DistributedDataParallel(model) if rank_and_world()[1] > 1 else model


def unwrap(model: tg.nn.Module) -> tg.nn.Module:
    """The inner model of a wrapped one (to save, evaluate or inspect its layers)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def local_batch(global_batch: int) -> int:
    """This rank's share of the homework's global batch (which must split evenly)."""
    world = rank_and_world()[1]
    if global_batch % world:
        raise ValueError(f"the global batch {global_batch} does not split evenly over {world} ranks")
    return global_batch // world


def shard(x: np.ndarray, y: np.ndarray, epoch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """This rank's rows of (x, y) for `epoch`: one permutation per epoch shared by all ranks, cut into
    disjoint equal shards (padded by repeating the head, as torch's DistributedSampler does)."""
    rank, world = rank_and_world()
    sampler = DistributedSampler(x, num_replicas=world, rank=rank, seed=seed)
    sampler.set_epoch(epoch)
    idx = sampler.indices()
    return x[idx], y[idx]


Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def loader(*arrays: np.ndarray, batch_size: int, seed: int,
           transform: Transform | None = None) -> "DataLoader | ShardedLoader":
    """`DataLoader(*arrays, batch_size=, shuffle=True, seed=, transform=)` in one process; under several
    ranks a ShardedLoader that hands this rank its share of the same global batches."""
    if rank_and_world()[1] == 1:
        return DataLoader(*arrays, batch_size=batch_size, shuffle=True, seed=seed, transform=transform)
    return ShardedLoader(*arrays, batch_size=batch_size, seed=seed, transform=transform)


class ShardedLoader:
    """This rank's share of each global batch that `DataLoader(*arrays, batch_size, seed=seed)` yields.

    Every rank draws the same permutations as that single-process loader does (without a transform,
    N ranks see exactly one process's global batches), then takes its contiguous 1/N of each batch;
    a batch that does not split evenly (the last of an epoch, at most) is padded by repeating its
    head, as torch's DistributedSampler pads an epoch. `transform(batch, rng)` replaces the first
    array (the images) with a generator seeded by (seed, rank): repeatable, different on each rank.
    """

    def __init__(self, *arrays: np.ndarray, batch_size: int, seed: int, transform: Transform | None = None) -> None:
        self.rank, self.world = rank_and_world()
        local_batch(batch_size)  # refuses a global batch that does not split evenly
        self.arrays = [np.asarray(a) for a in arrays]
        lengths = [len(a) for a in self.arrays]
        if not lengths or len(set(lengths)) != 1:
            raise ValueError(f"ShardedLoader needs arrays of equal lengths, got lengths {lengths}")
        # the permutation stream of the single-process loader: a DataLoader over row indices
        self._order = DataLoader(np.arange(lengths[0]), batch_size=batch_size, shuffle=True, seed=seed,
                                 as_tensor=False)
        self.transform = transform
        self._rng = np.random.default_rng([seed, self.rank])

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[tuple[tg.Tensor, ...]]:
        for (idx,) in self._order:
            size = -(-len(idx) // self.world) * self.world
            mine = np.resize(idx, size).reshape(self.world, -1)[self.rank]  # resize repeats the head
            batch = [a[mine] for a in self.arrays]
            if self.transform is not None:
                batch[0] = self.transform(batch[0], self._rng)
            yield tuple(tg.Tensor(b) for b in batch)


def loss_scale(reduction: str) -> float:
    """Factor for the loss before backward(): DDP averages gradients over ranks, which is right for
    a mean loss (1.0) but turns a summed loss into 1/world of the global batch's sum (world)."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return float(rank_and_world()[1]) if reduction == "sum" else 1.0


def all_sum(value: Any) -> Any:
    """The sum of a number (or array) over all ranks, on every rank (the number itself when not distributed)."""
    if rank_and_world()[1] == 1:
        return value
    arr = np.array(value, dtype=np.float64)
    dist.all_reduce(arr)
    return arr.item() if arr.ndim == 0 else arr
