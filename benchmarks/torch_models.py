"""PyTorch CPU twins of the homework models, loaded with tinygrad5's initial weights.

torch is imported lazily (only when a torch contender is built), so the other contenders' memory
figures, measured in their own subprocesses, do not carry torch's few hundred MB of libraries.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np


def available() -> bool:
    """True when torch imports."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def build(model: str, weights: dict[str, np.ndarray]) -> Any:
    """torch.nn.Sequential with the same layer indices as examples/models.py, weights copied in."""
    import torch
    from torch import nn
    if model == "mlp":
        net = nn.Sequential(nn.Linear(1024, 64), nn.Sigmoid(), nn.Linear(64, 36))
    elif model == "autoencoder":
        net = nn.Sequential(nn.Linear(1024, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                            nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1024), nn.Sigmoid())
    elif model == "convnet":
        net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1250, 512), nn.ReLU(), nn.Linear(512, 36))
    else:
        raise ValueError(f"unknown model {model!r}")
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()}
    net.load_state_dict(state)
    return net


class Trainer:
    """One SGD step per call, the homework's loss for the model (summed CE, summed SE or mean CE)."""

    def __init__(self, model: str, weights: dict[str, np.ndarray], lr: float, momentum: float,
                 loss: str) -> None:
        import torch
        self.torch = torch
        self.net = build(model, weights)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=lr, momentum=momentum)
        self.loss = loss

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """Forward, backward and update on numpy arrays (wrapped without copying)."""
        F = self.torch.nn.functional
        xb = self.torch.from_numpy(x)
        out = self.net(xb)
        if self.loss == "sse":
            loss = F.mse_loss(out, xb, reduction="sum")
        else:
            loss = F.cross_entropy(out, self.torch.from_numpy(y), reduction=self.loss[3:])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """torch.set_num_threads(n) inside the block; the previous setting comes back after."""
    import torch
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def micro(threads_n: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Median µs of (forward, forward+backward) for an add on 32×64 and a 32×1024 @ 1024×64 linear."""
    import torch
    import torch.nn.functional as F
    from micro import timeit_us
    torch.manual_seed(0)
    a, b = torch.randn(32, 64, requires_grad=True), torch.randn(32, 64, requires_grad=True)
    g_add = torch.ones(32, 64)
    x = torch.randn(32, 1024)
    w, bias = torch.randn(64, 1024, requires_grad=True), torch.randn(64, requires_grad=True)
    g_lin = torch.ones(32, 64)

    def add_fb() -> None:
        a.grad = b.grad = None
        (a + b).backward(g_add)

    def lin_fb() -> None:
        w.grad = bias.grad = None
        F.linear(x, w, bias).backward(g_lin)

    with threads(threads_n):
        with torch.no_grad():
            add_f = timeit_us(lambda: a + b, repeats, inner=200)
            lin_f = timeit_us(lambda: F.linear(x, w, bias), repeats, inner=50)
        return {"add": (add_f, timeit_us(add_fb, repeats, inner=100)),
                "linear": (lin_f, timeit_us(lin_fb, repeats, inner=30))}
