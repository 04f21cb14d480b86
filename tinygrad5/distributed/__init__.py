"""Data-parallel training over MPI, shaped like torch.distributed.

    import tinygrad5.distributed as dist
    dist.init_process_group("mpi")          # world from mpiexec; a world of 1 without it
    rank, world = dist.get_rank(), dist.get_world_size()
    dist.all_reduce(t, op=dist.ReduceOp.SUM) # in place, like torch

Run with `mpiexec -n 2 python train.py` (mpiexec comes with `pip install mpi4py mpich`). mpi4py is
imported by init_process_group only. Wrap a model in tinygrad5.nn.parallel.DistributedDataParallel
and shard the data with tinygrad5.utils.data.distributed.DistributedSampler.
"""
import importlib.util
import sys

from .env import find_mpiexec, launched_by_mpiexec, local_world_size
from .process_group import (ReduceOp, all_gather_bytes, all_reduce, barrier, broadcast, destroy_process_group,
                            get_rank, get_world_size, init_process_group, is_initialized)


def is_available() -> bool:
    """torch.distributed.is_available(): True when mpi4py, the transport, is installed."""
    if "mpi4py" in sys.modules:  # None there means an import was blocked
        return sys.modules["mpi4py"] is not None
    return importlib.util.find_spec("mpi4py") is not None


__all__ = ["ReduceOp", "all_gather_bytes", "all_reduce", "barrier", "broadcast", "destroy_process_group",
           "find_mpiexec", "get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized",
           "launched_by_mpiexec", "local_world_size"]
