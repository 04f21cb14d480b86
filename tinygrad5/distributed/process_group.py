"""The process group over MPI (mpi4py): init_process_group, rank and size, and the collectives
all_reduce, broadcast and barrier on Tensors, shaped like torch.distributed.

mpi4py is imported only by init_process_group, so importing tinygrad5 never needs it. The group
works on a duplicate of MPI_COMM_WORLD, so a user's own messages on COMM_WORLD cannot mix with ours.
"""
from __future__ import annotations

import enum
from typing import Any

import numpy as np

from ..tensor import Tensor

_state: dict[str, Any] = {"MPI": None, "comm": None, "prev_hook": None}


class ReduceOp(enum.Enum):
    """How all_reduce combines the ranks' values (AVG: the sum divided by the world size)."""

    SUM = "SUM"
    PRODUCT = "PROD"
    MIN = "MIN"
    MAX = "MAX"
    AVG = "AVG"


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("tinygrad5.distributed needs the mpi4py package and an MPI library; install "
                          "both from wheels with `pip install mpi4py mpich`") from e
    return MPI


def init_process_group(backend: str = "mpi", *, abort_on_exception: bool = True) -> None:
    """Join the world of processes started by `mpiexec -n N` (a world of 1 without mpiexec).

    With abort_on_exception (the default) an uncaught exception on any rank prints that rank's
    traceback and then aborts the whole job, so the other ranks never wait on it forever.
    """
    if backend != "mpi":
        raise ValueError(f"init_process_group: only the 'mpi' backend exists, got {backend!r}")
    if _state["comm"] is not None:
        raise RuntimeError("init_process_group: the process group is already initialized; "
                           "call destroy_process_group() first")
    MPI = _import_mpi()
    _state["MPI"], _state["comm"] = MPI, MPI.COMM_WORLD.Dup()
    if abort_on_exception and _state["comm"].Get_size() > 1:
        from .faults import install_abort_hook
        install_abort_hook()


def is_initialized() -> bool:
    """True between init_process_group() and destroy_process_group()."""
    return _state["comm"] is not None


def _comm() -> Any:
    comm = _state["comm"]
    if comm is None:
        raise RuntimeError("the process group is not initialized: call "
                           "tinygrad5.distributed.init_process_group('mpi') first")
    return comm


def get_rank() -> int:
    """This process's rank in 0..world_size-1."""
    return _comm().Get_rank()


def get_world_size() -> int:
    """Number of processes in the group."""
    return _comm().Get_size()


def barrier() -> None:
    """Wait until every rank has reached this call."""
    _comm().Barrier()


def destroy_process_group() -> None:
    """Leave the group (MPI itself is finalized at interpreter exit); restores the excepthook."""
    comm = _state["comm"]
    if comm is None:
        return
    from .faults import remove_abort_hook
    remove_abort_hook()
    comm.Free()
    _state["comm"] = None


def _array_of(tensor: Tensor | np.ndarray, fn: str) -> np.ndarray:
    arr = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{fn} needs a Tensor or numpy array, got {type(tensor).__name__}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: dtype {arr.dtype} cannot be sent (numbers and bools only)")
    return arr


def _contiguous(arr: np.ndarray) -> np.ndarray:
    # MPI sends memory in row-major order; a column-major or strided array travels as a copy so
    # that every rank reads elements in the same logical order whatever its layout.
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def all_reduce(tensor: Tensor | np.ndarray, op: ReduceOp = ReduceOp.SUM) -> None:
    """Combine `tensor` over all ranks with `op`, in place on its array (every rank gets the result)."""
    comm, MPI = _comm(), _state["MPI"]
    arr = _array_of(tensor, "all_reduce")
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and arr.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a float tensor, got dtype {arr.dtype}")
    buf = _contiguous(arr)
    mpi_op = MPI.SUM if op is ReduceOp.AVG else getattr(MPI, op.value)
    comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    if op is ReduceOp.AVG:
        buf /= comm.Get_size()
    if buf is not arr:
        arr[...] = buf


def broadcast(tensor: Tensor | np.ndarray, src: int = 0) -> None:
    """Overwrite `tensor`'s array on every rank with rank `src`'s values, in place."""
    comm = _comm()
    arr = _array_of(tensor, "broadcast")
    if not isinstance(src, int) or not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src must be a rank in [0, {comm.Get_size()}), got {src!r}")
    buf = _contiguous(arr)
    comm.Bcast(buf, root=src)
    if buf is not arr:
        arr[...] = buf


def all_gather_bytes(data: bytes) -> list[bytes]:
    """Every rank's `data`, in rank order (small control messages; sent as raw bytes, no pickle)."""
    comm, MPI = _comm(), _state["MPI"]
    sizes = np.zeros(comm.Get_size(), np.int64)
    comm.Allgather(np.array([len(data)], np.int64), sizes)
    out = np.empty(int(sizes.sum()), np.uint8)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    comm.Allgatherv(np.frombuffer(data, np.uint8), [out, sizes, offsets, MPI.BYTE])
    return [out[o:o + n].tobytes() for o, n in zip(offsets, sizes)]


def mpi_comm() -> tuple[Any, Any]:
    """The group's mpi4py communicator and the MPI module (for bucketed reductions)."""
    return _comm(), _state["MPI"]

