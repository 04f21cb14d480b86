"""Helpers that let a homework example train data-parallel under `mpiexec -n N ... --distributed`.

The global batch stays the homework's and is split across ranks; every rank holds the same model
(rank 0's initial weights) and, after each backward(), the average gradient; rank 0 alone logs,
plots and saves. Without --distributed every helper is a no-op (rank 0 of a world of 1).

    rank, world = distributed.setup(args)               # after parse_args; quiets other ranks
    tg.manual_seed(args.seed)
    model = distributed.wrap(models.mlp())               # DistributedDataParallel when world > 1
    opt = tg.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        xs, ys = distributed.shard(x, y, epoch, seed=args.seed)   # this rank's rows, reshuffled per epoch
        for xb, yb in DataLoader(xs, ys, batch_size=distributed.local_batch(args.batch_size), shuffle=False):
            loss = tg.cross_entropy(model(xb), yb, reduction="sum")
            opt.zero_grad()
            (loss * distributed.loss_scale("sum")).backward()    # summed losses: see loss_scale
            opt.step()
        train_loss = distributed.all_sum(loss_sum) / len(y)      # metrics over all ranks
        if distributed.is_main():
            ...log, plot, common.save_model(path, distributed.unwrap(model), ...)
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tinygrad5 as tg
import tinygrad5.distributed as dist
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
