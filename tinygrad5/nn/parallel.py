"""DistributedDataParallel: the same model on every rank, gradients averaged over MPI after backward().

Each rank runs its own slice of the batch through its own copy of the model; `backward()` then
leaves every rank holding the average of all ranks' gradients, so any optimizer steps every copy
to the same weights. Construction copies rank 0's parameters (and buffers) to every rank, after
checking that all ranks built the same model.

Gradients travel in a few flat buckets (at most `bucket_cap_mb` each, in reverse registration
order, one dtype each): one Allreduce per bucket instead of one per parameter, because a
collective's fixed cost (tens of microseconds) dwarfs the transfer of a bias. A bucket is reduced
by the post-accumulate-grad hook of its last parameter to receive a gradient. The engine hands
leaves their gradients at the end of backward() (tensor.py, `_give_to_leaves`), so there is no
backward compute left to hide a non-blocking Iallreduce behind; benchmarks/distributed.py measures
that overlapping a reduction with compute gains nothing on this MPI either (no progress thread), so
the reductions are blocking.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from ..tensor import Tensor, no_grad
from .module import Module


class _Bucket:
    """A flat array holding some parameters' gradients back to back, reduced in one call."""

    def __init__(self, params: list[tuple[str, Tensor]], dtype: np.dtype) -> None:
        self.names = [n for n, _ in params]
        self.params = [p for _, p in params]
        sizes = [p.data.size for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.flat = np.zeros(int(self.offsets[-1]), dtype)
        self.ready: set[int] = set()

    def view(self, i: int) -> np.ndarray:
        """Parameter i's slice of the flat array, in its shape (row-major)."""
        return self.flat[self.offsets[i]:self.offsets[i + 1]].reshape(self.params[i].data.shape)


def _layout(module: Module) -> list[tuple[str, str]]:
    """(name, 'kind shape dtype') for every parameter and buffer: what all ranks must agree on."""
    items = [(n, f"parameter {tuple(p.data.shape)} {p.data.dtype}") for n, p in module.named_parameters()]
    named_buffers = getattr(module, "named_buffers", None)
    if named_buffers is not None:
        items += [(n, f"buffer {tuple(b.data.shape)} {b.data.dtype}") for n, b in named_buffers()]
    return items


def _first_difference(mine: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> str:
    a, b = dict(mine), dict(theirs)
    for name in list(a) + [n for n in b if n not in a]:
        if a.get(name) != b.get(name):
            return f"{name!r}: {b.get(name, 'missing')} there, {a.get(name, 'missing')} on rank 0"
    return "the same names in another order"


def _check_same_model(module: Module, dist: Any) -> None:
    """Raise, on every rank, when some rank's parameters differ in name, shape or dtype from rank 0's."""
    mine = _layout(module)
    blob = "\n".join(f"{n}\t{d}" for n, d in mine).encode()
    layouts = [[tuple(line.split("\t", 1)) for line in b.decode().splitlines()]
               for b in dist.all_gather_bytes(blob)]
    bad = [r for r, lay in enumerate(layouts) if lay != layouts[0]]
    if bad:
        r = bad[0]
        raise ValueError(f"DistributedDataParallel: the ranks hold different models ({len(layouts[0])} "
                         f"parameters and buffers on rank 0, {len(layouts[r])} on rank {r}); rank {r} differs "
                         f"at {_first_difference(layouts[0], layouts[r])}. Build the same model on every rank.")


class DistributedDataParallel(Module):
    """Wrap `module` so that backward() averages its gradients over all ranks (torch's DDP).

    Call tinygrad5.distributed.init_process_group("mpi") first. `module` is the inner model;
    `state_dict()` and `load_state_dict()` use its keys, so a checkpoint loads with or without
    the wrapper and at any world size.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel needs a Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        from .. import distributed as dist
        from ..distributed.process_group import mpi_comm
        super().__init__()
        self.module = module
        self._comm, self._MPI = mpi_comm()
        self.world_size = self._comm.Get_size()
        _check_same_model(module, dist)
        with no_grad():
            for _, p in module.named_parameters():
                dist.broadcast(p, src=0)
            if broadcast_buffers and hasattr(module, "named_buffers"):
                for _, b in module.named_buffers():
                    dist.broadcast(b, src=0)
        self._sync = True
        self._buckets = self._make_buckets(int(bucket_cap_mb * 2**20)) if self.world_size > 1 else []
        self._where: dict[int, tuple[_Bucket, int]] = {}
        self._handles = []
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (bucket, i)
                self._handles.append(p.register_post_accumulate_grad_hook(self._on_grad))

    def _make_buckets(self, cap_bytes: int) -> list[_Bucket]:
        # Reverse registration order: the last layers' gradients come first in backward, which is
        # the order an engine that hands gradients out early would fill the buckets in.
        trainable = [(n, p) for n, p in self.module.named_parameters() if p.requires_grad][::-1]
        buckets: list[_Bucket] = []
        open_: dict[np.dtype, list[tuple[str, Tensor]]] = {}
        for name, p in trainable:
            group = open_.setdefault(p.data.dtype, [])
            if group and sum(q.data.nbytes for _, q in group) + p.data.nbytes > cap_bytes:
                buckets.append(_Bucket(group, p.data.dtype))
                group = open_[p.data.dtype] = []
            group.append((name, p))
        buckets += [_Bucket(group, dt) for dt, group in open_.items() if group]
        return buckets

    def _on_grad(self, p: Tensor) -> None:
        """Hook: copy p's gradient into its bucket; the bucket's last gradient reduces it."""
        if not self._sync:
            return
        bucket, i = self._where[id(p)]
        bucket.view(i)[...] = p.grad.data
        bucket.ready.add(i)
        if len(bucket.ready) == len(bucket.params):
            self._comm.Allreduce(self._MPI.IN_PLACE, bucket.flat, op=self._MPI.SUM)
            scale = bucket.flat.dtype.type(1.0 / self.world_size)
            for j, q in enumerate(bucket.params):
                np.multiply(bucket.view(j), scale, out=q.grad.data)
            bucket.ready.clear()

    def _check_finished(self) -> None:
        missing = [b.names[i] for b in self._buckets if b.ready for i in range(len(b.params)) if i not in b.ready]
        if missing:
            for b in self._buckets:
                b.ready.clear()
            raise RuntimeError(f"DistributedDataParallel: the last backward() gave no gradient to {missing}, so "
                               "their bucket was never averaged; every parameter must take part in the loss")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The inner module's forward."""
        self._check_finished()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accumulate gradients locally inside the block; the first backward() after it averages them."""
        prev, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = prev

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """The inner module's state dict (its keys, without a 'module.' prefix)."""
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        """Load into the inner module (a checkpoint saved with or without the wrapper)."""
        return self.module.load_state_dict(state, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"
