"""Where a tinygrad5 training epoch spends its time: cProfile of one epoch after a warm-up epoch.

    python benchmarks/profile_train.py --model mlp                  # numba backend, batch 32
    python benchmarks/profile_train.py --model convnet --batch 128 --samples 2000
    py-spy record --native -r 250 -f speedscope -o convnet.json -- \\
        python benchmarks/profile_train.py --model convnet --tool none --epochs 3

Prints the top functions by own time and by cumulative time, and a summary by layer of the
framework (numba kernels, backend dispatch, ops, autodiff engine, optimizer, modules, data).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contenders as C  # noqa: E402

BUCKETS = [  # (path fragment, label): the first match names a function's layer
    ("tinygrad5/kernels/", "kernels' Python glue (plans, views, checks)"),
    ("tinygrad5/backends/", "backend dispatch"),
    ("tinygrad5/ops/", "ops (forward/backward bodies)"),
    ("tinygrad5/tensor.py", "autodiff engine + Tensor"),
    ("tinygrad5/optim/", "optimizer"),
    ("tinygrad5/nn/", "modules"),
    ("tinygrad5/threads.py", "thread policy"),
    ("benchmarks/", "benchmark loop (gather batches)"),
    ("numba/", "numba dispatcher (Python side)"),
    ("threadpoolctl", "threadpoolctl"),
]


def _is_jitted(filename: str, name: str) -> bool:
    """True for a numba dispatcher in tinygrad5/kernels (cProfile lists them under their .py file)."""
    import importlib
    mod = f"tinygrad5.kernels.{Path(filename).stem}"
    try:
        return hasattr(getattr(importlib.import_module(mod), name, None), "py_func")
    except ImportError:
        return False


def bucket(filename: str, name: str) -> str:
    """The framework layer a profiled function belongs to."""
    if "tinygrad5/kernels/" in filename and _is_jitted(filename, name):
        return "numba compiled kernels"
    for frag, label in BUCKETS:
        if frag in filename:
            return label
    if filename == "~":
        return "builtins / numpy C (own time, e.g. OpenBLAS GEMMs)"
    return "other Python"


def summary(stats: pstats.Stats, total: float) -> str:
    """Own time per layer, as a markdown table."""
    per: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():
        per[bucket(filename, name)] += tottime
    rows = ["| layer | own s | share |", "|---|---:|---:|"]
    for label, t in sorted(per.items(), key=lambda kv: -kv[1]):
        rows.append(f"| {label} | {t:.3f} | {100 * t / total:.0f}% |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "autoencoder", "convnet"], default="mlp")
    p.add_argument("--batch", type=int, default=None, help="default: the homework's (32, 36, 32)")
    p.add_argument("--contender", default="tg-numba", choices=[k for k in C.CONTENDERS if k.startswith("tg")])
    p.add_argument("--samples", type=int, default=C.N_TRAIN)
    p.add_argument("--epochs", type=int, default=1, help="profiled epochs (after one warm-up epoch)")
    p.add_argument("--tool", choices=["cprofile", "none"], default="cprofile", help="none: for py-spy")
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args(argv)
    w = C.workloads([a.model], [a.batch or 32])[0]
    if a.batch and a.model != "convnet":
        w = C.Workload(w.model, a.batch, w.lr, w.momentum, w.loss)
    c = C.CONTENDERS[a.contender]
    x, y = C.make_data(a.samples)
    trainer = c.build(w, C.initial_weights(w.model))
    with c.threads():
        C.run_epoch(trainer, x, y, C.epoch_batches(a.samples, w.batch, 0), w.input_shape)
        prof = cProfile.Profile() if a.tool == "cprofile" else None
        t0 = time.perf_counter()
        for e in range(1, a.epochs + 1):
            batches = C.epoch_batches(a.samples, w.batch, e)
            if prof:
                prof.runcall(C.run_epoch, trainer, x, y, batches, w.input_shape)
            else:
                C.run_epoch(trainer, x, y, batches, w.input_shape)
        wall = time.perf_counter() - t0
    print(f"{a.contender} {w.name}, {a.samples} samples x {a.epochs} epochs: {wall:.3f} s "
          f"({'under cProfile, which inflates Python-heavy code' if prof else 'no profiler'})")
    if prof is None:
        return
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())
    print("\n" + summary(stats, total) + "\n")
    stats.sort_stats("tottime").print_stats(a.top)
    stats.sort_stats("cumulative").print_stats(a.top)


if __name__ == "__main__":
    main()
