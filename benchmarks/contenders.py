"""What is trained (workloads), on what data, by whom (contenders), under which thread settings.

Every contender exposes `step(x, y) -> float` (one SGD step on numpy arrays, returning the loss as
a Python number, as a training loop that logs it would) and a `threads()` context that puts the
process under its intended thread settings for an epoch:

- tg-numba: tinygrad5's policy (numba on all cores, OpenBLAS at 1 thread), numba backend.
- tg-numba-1t: the same with one numba thread (a like-for-like peer of torch-1t).
- tg-numpy: tinygrad5's numpy reference backend, OpenBLAS at 1 thread.
- hand-numpy: the hand-written float32 numpy model (handwritten.py), OpenBLAS at 1 thread.
- hand-numpy-2t: the same with OpenBLAS at 2 threads.
- torch-1t / torch-2t: PyTorch CPU under torch.set_num_threads(1 / 2), restored after.
- tg-jit: tg-numba with the step captured by tinygrad5.jit.
- jax: the same step under jax.jit (jax_models.py; skipped where jax is absent), XLA's own threads.

OpenBLAS limits are set with threadpoolctl for the block and restored on exit, so no contender
inherits another's setting (tinygrad5's own process-wide limit is applied on its first numba use).
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))   # the homework models, exactly as the examples build them

N_TRAIN, N_FEATURES, N_CLASSES = 10_800, 1024, 36


@dataclass(frozen=True)
class Workload:
    """One benchmark row: a model, its batch size and the homework's optimizer and loss."""

    model: str          # mlp | autoencoder | convnet
    batch: int
    lr: float
    momentum: float
    loss: str           # ce_sum | ce_mean | sse

    @property
    def name(self) -> str:
        return f"{self.model} b{self.batch}"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (-1, 1, 32, 32) if self.model == "convnet" else (-1, N_FEATURES)


def workloads(models: list[str], convnet_batches: list[int]) -> list[Workload]:
    """The homework settings for each requested model (the ConvNet once per batch size)."""
    out = []
    for m in models:
        if m == "mlp":
            out.append(Workload("mlp", 32, 3e-3, 0.0, "ce_sum"))
        elif m == "autoencoder":
            out.append(Workload("autoencoder", 36, 3e-5, 0.9, "sse"))
        elif m == "convnet":
            out += [Workload("convnet", b, 1e-2, 0.9, "ce_mean") for b in convnet_batches]
        else:
            raise ValueError(f"unknown model {m!r}; choose from mlp, autoencoder, convnet")
    return out


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """NIST36-sized random data: x uniform [0, 1) float32 (n, 1024), y int64 in [0, 36)."""
    rng = np.random.default_rng(seed)
    return rng.random((n, N_FEATURES), dtype=np.float32), rng.integers(0, N_CLASSES, n, dtype=np.int64)


def epoch_batches(n: int, batch: int, epoch: int, seed: int = 0) -> list[np.ndarray]:
    """A fresh random partition into batches (the homework's get_random_batches), same for everyone."""
    order = np.random.default_rng((seed, epoch)).permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def initial_weights(model: str, seed: int = 0) -> dict[str, np.ndarray]:
    """tinygrad5's initial weights for the model (copies), the start for every contender."""
    import models as homework_models
    import tinygrad5 as tg
    tg.manual_seed(seed)
    net = homework_models.BUILDERS[model]()
    return {k: np.array(v.data if hasattr(v, "data") else v) for k, v in net.state_dict().items()}


class TinygradTrainer:
    """The homework loop body in tinygrad5: forward, loss, zero_grad, backward, step, item()."""

    def __init__(self, w: Workload, weights: dict[str, np.ndarray]) -> None:
        import models as homework_models
        import tinygrad5 as tg
        self.tg = tg
        self.net = homework_models.BUILDERS[w.model]()
        self.net.load_state_dict({k: np.array(v) for k, v in weights.items()})
        self.opt = tg.optim.SGD(self.net.parameters(), lr=w.lr, momentum=w.momentum)
        self.loss = w.loss

    def _train(self, xb: Any, yb: Any) -> Any:
        """The step on Tensors; returns the loss tensor (JitTrainer captures this function)."""
        out = self.net(xb)
        tg = self.tg
        loss = (tg.mse_loss(out, xb, reduction="sum") if self.loss == "sse"
                else tg.cross_entropy(out, yb, reduction=self.loss[3:]))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One SGD step; x and y are wrapped as the DataLoader would."""
        return self._train(self.tg.Tensor(x), self.tg.Tensor(y)).item()


class JitTrainer(TinygradTrainer):
    """TinygradTrainer's step captured by tinygrad5.jit (replayed from the third call on; an epoch's
    last, smaller batch has a capture of its own); the loss's item() is read outside the captured
    function, where a replay returns the loss tensor."""

    def __init__(self, w: Workload, weights: dict[str, np.ndarray]) -> None:
        super().__init__(w, weights)
        self._captured = self.tg.jit(self._train, captures=2)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One SGD step (replayed once captured)."""
        return self._captured(self.tg.Tensor(x), self.tg.Tensor(y)).item()


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Every loaded BLAS at n threads inside the block, the previous limits restored after."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=n, user_api="blas"):
        yield


@contextlib.contextmanager
def tinygrad5_threads(backend: str, numba_threads: int | None) -> Iterator[None]:
    """tinygrad5 on `backend`; with numba, its policy at numba_threads (None: all cores); BLAS at 1."""
    import tinygrad5 as tg
    from tinygrad5 import threads
    if backend == "numba":
        # set_num_threads applies the policy (OMP_WAIT_POLICY, malloc, BLAS) before numba's pool
        # starts; asking numba.get_num_threads() first would start the pool without it.  Nothing
        # numba is touched for the numpy backend (importing it costs ~60 MB of resident memory).
        tg.set_num_threads(numba_threads or threads.max_threads())
    with blas_threads(1), tg.backend(backend):
        yield


@dataclass(frozen=True)
class Contender:
    """A name, how to build a trainer for a workload, and the thread settings it runs under."""

    name: str
    build: Callable[[Workload, dict[str, np.ndarray]], Any]
    threads: Callable[[], ContextManager[None]]
    blurb: str


def _hand(w: Workload, weights: dict[str, np.ndarray]) -> Any:
    import handwritten
    return handwritten.BUILDERS[w.model](weights, lr=w.lr, momentum=w.momentum)


def _torch(w: Workload, weights: dict[str, np.ndarray]) -> Any:
    import torch_models
    return torch_models.Trainer(w.model, weights, w.lr, w.momentum, w.loss)


def _jax(w: Workload, weights: dict[str, np.ndarray]) -> Any:
    import jax_models
    return jax_models.Trainer(w.model, weights, w.lr, w.momentum, w.loss)


def _torch_threads(n: int) -> Callable[[], ContextManager[None]]:
    def ctx() -> ContextManager[None]:
        import torch_models
        return torch_models.threads(n)
    return ctx


CONTENDERS: dict[str, Contender] = {c.name: c for c in [
    Contender("tg-numba", TinygradTrainer, lambda: tinygrad5_threads("numba", None),
              "tinygrad5, numba backend, numba on all cores, OpenBLAS 1 thread"),
    Contender("tg-numba-1t", TinygradTrainer, lambda: tinygrad5_threads("numba", 1),
              "tinygrad5, numba backend, 1 numba thread, OpenBLAS 1 thread"),
    Contender("tg-jit", JitTrainer, lambda: tinygrad5_threads("numba", None),
              "tinygrad5, numba backend, the step captured by tinygrad5.jit and replayed"),
    Contender("tg-numpy", TinygradTrainer, lambda: tinygrad5_threads("numpy", None),
              "tinygrad5, numpy backend, OpenBLAS 1 thread"),
    Contender("hand-numpy", _hand, lambda: blas_threads(1), "hand-written float32 numpy, OpenBLAS 1 thread"),
    Contender("hand-numpy-2t", _hand, lambda: blas_threads(2), "hand-written float32 numpy, OpenBLAS 2 threads"),
    Contender("torch-1t", _torch, _torch_threads(1), "PyTorch CPU, torch.set_num_threads(1)"),
    Contender("torch-2t", _torch, _torch_threads(2), "PyTorch CPU, torch.set_num_threads(2)"),
    Contender("jax", _jax, contextlib.nullcontext, "JAX CPU, the whole step under jax.jit (optional extra)"),
]}
DEFAULT = ["tg-numba", "tg-jit", "tg-numba-1t", "tg-numpy", "hand-numpy", "torch-1t", "torch-2t", "jax"]


def run_epoch(trainer: Any, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray],
              shape: tuple[int, ...]) -> float:
    """Train over the batches (gathering each as the homework does); returns the mean loss per batch."""
    total = 0.0
    for idx in batches:
        total += trainer.step(x[idx].reshape(shape), y[idx])
    return total / max(len(batches), 1)
