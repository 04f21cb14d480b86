"""Framework overhead: forward and forward+backward of one small op, in microseconds.

Two ops: an add of two 32×64 tensors (pure bookkeeping: the arithmetic is ~0.3 µs) and a linear
layer x (32×1024) @ W.T (64×1024) + b (the MLP's first layer: 2.1 MFLOP forward, 4.2 backward, the
input needs no gradient).  Contenders: tinygrad5 on each backend, numpy by hand (the same products
with no graph: the floor) and PyTorch on 1 and 2 threads.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np


def timeit_us(fn: Callable[[], object], repeats: int, inner: int) -> float:
    """Median over `repeats` blocks of the mean µs per call in a block of `inner` calls."""
    fn()  # warm: compile, allocate, fault in
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        per.append((time.perf_counter() - t0) / inner * 1e6)
    return statistics.median(per)


def tinygrad5_micro(backend: str, repeats: int) -> dict[str, tuple[float, float]]:
    """(forward µs, forward+backward µs) for the add and the linear on a tinygrad5 backend."""
    import tinygrad5 as tg
    rng = np.random.default_rng(0)
    a = tg.Tensor(rng.standard_normal((32, 64), dtype=np.float32), requires_grad=True)
    b = tg.Tensor(rng.standard_normal((32, 64), dtype=np.float32), requires_grad=True)
    g_add = np.ones((32, 64), np.float32)
    x = tg.Tensor(rng.standard_normal((32, 1024), dtype=np.float32))
    w = tg.Tensor(rng.standard_normal((64, 1024), dtype=np.float32), requires_grad=True)
    bias = tg.Tensor(rng.standard_normal(64, dtype=np.float32), requires_grad=True)
    g_lin = np.ones((32, 64), np.float32)

    def add_fb() -> None:
        a.grad = b.grad = None
        (a + b).backward(g_add)

    def lin_fb() -> None:
        w.grad = bias.grad = None
        tg.ops.linear(x, w, bias).backward(g_lin)

    with tg.backend(backend):
        with tg.no_grad():
            add_f = timeit_us(lambda: a + b, repeats, inner=200)
            lin_f = timeit_us(lambda: tg.ops.linear(x, w, bias), repeats, inner=50)
        return {"add": (add_f, timeit_us(add_fb, repeats, inner=100)),
                "linear": (lin_f, timeit_us(lin_fb, repeats, inner=30))}


def numpy_micro(repeats: int) -> dict[str, tuple[float, float]]:
    """The same arithmetic by hand: no graph, no checks (backward of an add is two copies of g)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((32, 64), dtype=np.float32) for _ in range(2))
    g_add = np.ones((32, 64), np.float32)
    x = rng.standard_normal((32, 1024), dtype=np.float32)
    w = rng.standard_normal((64, 1024), dtype=np.float32)
    bias = rng.standard_normal(64, dtype=np.float32)
    g_lin = np.ones((32, 64), np.float32)

    def lin_f() -> np.ndarray:
        out = x @ w.T
        out += bias
        return out

    def add_fb() -> None:
        a + b
        np.array(g_add), np.array(g_add)  # a framework hands each leaf its own gradient buffer

    def lin_fb() -> None:
        lin_f()
        g_lin.T @ x, g_lin.sum(axis=0)

    return {"add": (timeit_us(lambda: a + b, repeats, 200), timeit_us(add_fb, repeats, 100)),
            "linear": (timeit_us(lin_f, repeats, 50), timeit_us(lin_fb, repeats, 30))}
