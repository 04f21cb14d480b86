"""Cost of tinygrad5.data.transforms: time per 32-image batch and per epoch of 10,800 images.

    python benchmarks/transforms.py [--batch 32] [--epoch 10800] [--repeats 7] [--quick]

Each transform runs on rendered 32x32 letters (the content hardly matters to the cost). Per batch:
the median wall time and the median CPU time of the process over ``--repeats`` rounds of 50 calls
(on a busy machine the CPU time is the steadier figure). Per epoch: one pass of the DataLoader over
``--epoch`` images with the transform, minus the same pass without it (wall and CPU), median of the
rounds. The threading policy is tinygrad5's (OpenBLAS on one thread; the transforms' kernels are
serial).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tinygrad5 import threads
from tinygrad5.data import CLASSES, DataLoader, render_char
from tinygrad5.data import transforms as T


def pipelines() -> dict[str, T.Transform]:
    """The transforms timed, each at the strength the default pipeline uses it."""
    return {
        "RandomAffine": T.RandomAffine(degrees=10, translate=2 / 32, scale=(0.85, 1.1), shear=10),
        "ElasticWarp": T.ElasticWarp(alpha=1.0, sigma=5.0),
        "RandomAffine + ElasticWarp on half, one resampling": T.RandomAffine(
            degrees=10, translate=2 / 32, scale=(0.85, 1.1), shear=10,
            elastic=T.ElasticWarp(alpha=(0.0, 1.0), sigma=5.0), p_elastic=0.5),
        "StrokeWidth (1/4 thick, 1/4 thin)": T.StrokeWidth(p_thicken=0.25, p_thin=0.25),
        "StrokeWidth (all thickened)": T.StrokeWidth(p_thicken=1.0, p_thin=0.0),
        "GaussianBlur": T.GaussianBlur(sigma=(0.3, 0.8)),
        "InkJitter": T.InkJitter(),
        "default_augmentation('medium')": T.default_augmentation("medium"),
        "default_augmentation('strong')": T.default_augmentation("strong"),
    }


def letters(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 1024) tiled from 360 rendered letters and digits, with their labels."""
    rng = np.random.default_rng(0)
    y = np.arange(360) % len(CLASSES)
    base = np.stack([render_char(CLASSES[c], rng) for c in y]).reshape(360, 1024)
    reps = -(-n // 360)
    return np.tile(base, (reps, 1))[:n], np.tile(y, reps)[:n]


def per_batch(t: T.Transform, batch: np.ndarray, repeats: int, calls: int = 50) -> tuple[float, float]:
    """Median (wall, CPU) seconds per call over `repeats` rounds of `calls` calls."""
    rng = np.random.default_rng(1)
    t(batch, rng)  # compile / warm
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            t(batch, rng)
        wall.append((time.perf_counter() - w0) / calls)
        cpu.append((time.process_time() - c0) / calls)
    return statistics.median(wall), statistics.median(cpu)


def per_epoch(t: T.Transform | None, x: np.ndarray, y: np.ndarray, bs: int, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of one DataLoader epoch (numpy batches, no training)."""
    loader = DataLoader(x, y, batch_size=bs, seed=0, transform=t, as_tensor=False)
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in loader:
            pass
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    """Print the table (milliseconds per batch and seconds per epoch)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epoch", type=int, default=10800)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 rounds and a 1,080-image epoch (a smoke test)")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.epoch = 3, 1080
    threads.ensure_policy()
    x, y = letters(args.epoch)
    batch = x[:args.batch].copy()
    base_wall, base_cpu = per_epoch(None, x, y, args.batch, args.repeats)
    print(f"batch of {args.batch} (N, 1024) float32 images; epoch of {args.epoch} images "
          f"({-(-args.epoch // args.batch)} batches); the loader alone: {base_wall:.3f} s per epoch")
    print("| transform | ms / batch (wall) | ms / batch (CPU) | s / epoch added (wall) | s / epoch added (CPU) |")
    print("|---|---|---|---|---|")
    for name, t in pipelines().items():
        wall, cpu = per_batch(t, batch, args.repeats)
        ep_wall, ep_cpu = per_epoch(t, x, y, args.batch, args.repeats)
        print(f"| {name} | {wall * 1e3:.3f} | {cpu * 1e3:.3f} | {ep_wall - base_wall:.3f} | {ep_cpu - base_cpu:.3f} |")

if __name__ == "__main__":
    main()
