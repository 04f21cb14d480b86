"""Eager vs replayed (tinygrad5.jit) training steps of the homework models, and where a replay's time goes.

    python benchmarks/jit_parts.py                     # mlp b32, autoencoder b36, convnet b32
    python benchmarks/jit_parts.py --models mlp --steps 500 --rounds 7

One process: the eager and the captured step train copies of the same model (benchmarks/train.py's
workloads: same initial weights, lr, momentum and loss) on the same batches, timed in alternating
blocks of `--steps` steps; the figures are medians over `--rounds` blocks (the machine is shared).

The breakdown times each part of a replay on its own (perf_counter around each piece, medians):
  products     backend calls that multiply (matmul, linear_forward with its fused bias/activation,
               the convolutions with theirs);
  elementwise  the other backend calls (bias/activation gradients, ReLU, pooling, softmax-xent);
  copies       copying fresh call results into the replay's fixed arrays, and the input batch in;
  ops' numpy   ops replayed whole (their body does numpy work of its own: the losses' reductions),
               less the backend calls they make (counted above);
  engine       the seed, broadcast sums and handing gradients to the leaves;
  update       the optimizer's step (zero_grad is counted under engine);
  Python       what is left: the replay wall time minus the parts (the tape loop, call overhead).
The FLOP limit is the step's needed FLOPs (benchmarks/flops.py) at the rate of a large float32 product
measured here on every core (tinygrad5's GEMM, 1024x1024x1024): the fastest a step could run if it
were all products at that rate.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tinygrad5.jit_calls import take

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contenders as C  # noqa: E402
import flops  # noqa: E402

PRODUCTS = ("matmul", "linear_forward", "conv2d_forward", "conv2d_backward", "conv2d_relu_pool_forward",
            "conv2d_relu_pool_backward")


def _time_block(fn, batches: list, steps: int) -> float:
    """Seconds per step over `steps` calls cycling through batches."""
    t0 = time.perf_counter()
    for i in range(steps):
        fn(*batches[i % len(batches)])
    return (time.perf_counter() - t0) / steps


class _TimedBackend:
    """The backend, each call timed into products or elementwise while `on` (Function-level entries
    call the backend through backend.current(): their kernels count as kernels, not as numpy)."""

    def __init__(self, module, acc: dict) -> None:
        self._m, self._acc, self.on, self.inner = module, acc, False, 0.0

    def __getattr__(self, name: str):
        fn = getattr(self._m, name)
        if not callable(fn) or not self.on:
            return fn
        part = "products" if name in PRODUCTS else "elementwise"

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                self._acc[part] += dt
                self.inner += dt
        return timed


def _parts(cap, flat: list, reps: int) -> dict[str, float]:
    """Median seconds per replay of each part (see the module docstring)."""
    import importlib
    B = importlib.import_module("tinygrad5.backend")
    samples: dict[str, list[float]] = {}
    pc = time.perf_counter
    current = B.current
    try:
        for _ in range(reps):
            acc = dict.fromkeys(("products", "elementwise", "copies", "ops' numpy", "engine", "update"), 0.0)
            timed = _TimedBackend(current(), acc)
            B.current = lambda: timed
            t0 = pc()
            for buf, x in zip(cap.inputs, flat):
                np.copyto(buf, x.data)
            acc["copies"] += pc() - t0
            for run in cap.tape:
                kind = getattr(run, "kind", "engine")
                if kind == "op":
                    timed.on, timed.inner = True, 0.0
                    t0 = pc()
                    run(flat)
                    acc["ops' numpy"] += pc() - t0 - timed.inner
                    timed.on = False
                    continue
                if kind != "calls":
                    t0 = pc()
                    run(flat)
                    acc["update" if kind == "update" else "engine"] += pc() - t0
                    continue
                for fn, args, kwargs, copies in run.steps:
                    t0 = pc()
                    res = fn(*args, **kwargs)
                    t1 = pc()
                    acc["products" if fn.__name__ in PRODUCTS else "elementwise"] += t1 - t0
                    if copies:
                        for path, dest in copies:
                            np.copyto(dest, take(res, path))
                        acc["copies"] += pc() - t1
            for k, v in acc.items():
                samples.setdefault(k, []).append(v)
    finally:
        B.current = current
    return {k: statistics.median(v) for k, v in samples.items()}


def _peak_gflops() -> float:
    """Best GFLOP/s of large float32 products by the numba backend on every core (the practical
    limit): 1024^3 and 512x1024 @ 1024x512, best of several blocks (the machine is shared)."""
    import importlib
    be = importlib.import_module("tinygrad5.backend").current()
    rng = np.random.default_rng(0)
    best = 0.0
    for m, k, n in ((1024, 1024, 1024), (512, 1024, 512)):
        a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
        be.matmul(a, b)
        t = min(_time_block(lambda: be.matmul(a, b), [()], 5) for _ in range(8))
        best = max(best, 2 * m * k * n / t / 1e9)
    return best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="mlp,autoencoder,convnet")
    p.add_argument("--steps", type=int, default=300, help="steps per timed block (convnet: a tenth)")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    import tinygrad5 as tg
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} at the start; "
          f"{tg.get_num_threads()} numba threads")
    peak = _peak_gflops()
    print(f"float32 product 1024^3 on every core: {peak:.0f} GFLOP/s (the FLOP limit below)\n")
    rows = []
    for w in C.workloads(a.models.split(","), [32]):
        steps = max(10, a.steps // 10) if w.model == "convnet" else a.steps
        weights = C.initial_weights(w.model)
        x, y = C.make_data(8 * w.batch)
        batches = [(tg.Tensor(x[i * w.batch:(i + 1) * w.batch].reshape(w.input_shape)),
                    tg.Tensor(y[i * w.batch:(i + 1) * w.batch])) for i in range(8)]
        eager, jitted = C.TinygradTrainer(w, weights)._train, tg.jit(C.TinygradTrainer(w, weights)._train)
        for _ in range(3):
            for b in batches[:2]:
                eager(*b), jitted(*b)
        times: dict[str, list[float]] = {"eager": [], "jit": []}
        for _ in range(a.rounds):
            times["eager"].append(_time_block(eager, batches, steps))
            times["jit"].append(_time_block(jitted, batches, steps))
        e, j = (statistics.median(times[k]) for k in ("eager", "jit"))
        cap = next(iter(jitted._captures.values()))
        parts = _parts(cap, list(batches[0]), max(20, steps // 3))
        parts["Python"] = max(0.0, j - sum(parts.values()))
        needed = flops.per_sample(w.model)["train_needed"] * w.batch
        rows.append((w, e, j, parts, needed))
        kinds = [getattr(r, "kind", "?") for r in cap.tape]
        print(f"{w.name}: tape of {len(kinds)} entries: {kinds.count('calls')} kernel-level, "
              f"{kinds.count('op')} Function-level ({', '.join(r.name for r in cap.tape if r.kind == 'op')})")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end\n")
    print("| model | eager µs/step | replay µs/step | replay/eager | needed MFLOP/step | GFLOP/s (replay) "
          "| FLOP-limit µs | × FLOP limit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for w, e, j, parts, needed in rows:
        print(f"| {w.name} | {e * 1e6:.0f} | {j * 1e6:.0f} | {j / e:.2f} | {needed / 1e6:.1f} | "
              f"{needed / j / 1e9:.1f} | {needed / peak / 1e3:.0f} | {j / (needed / peak / 1e9):.1f} |")
    names = ["products", "elementwise", "copies", "ops' numpy", "engine", "update", "Python"]
    print("\n| model (replay, µs) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for w, e, j, parts, needed in rows:
        print(f"| {w.name} | " + " | ".join(f"{parts[k] * 1e6:.1f}" for k in names) + " |")


if __name__ == "__main__":
    main()
