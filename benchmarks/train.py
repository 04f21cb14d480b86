"""Training benchmark: the homework's three models, tinygrad5 against PyTorch and hand-written numpy.

    python benchmarks/train.py                       # everything, full epochs (10,800 samples), 3 repeats
    python benchmarks/train.py --quick               # 1,000 samples, 1 repeat, quick micro-benchmarks
    python benchmarks/train.py --models mlp,autoencoder --write /tmp/train.md
    python benchmarks/train.py --contenders tg-numba,torch-1t,torch-2t --in-process

Per workload every contender starts from the same weights (tinygrad5's init) and sees the same
batches (one seeded permutation per epoch); contenders are interleaved: one warm-up epoch each, then
`--repeats` rounds of one epoch each (order rotated per round), and the median is reported.  Each
contender runs in its own worker process (worker.py: why, and how memory is measured); with
`--in-process` all share this process instead (to show the OpenMP pools' interplay; no memory).
Contenders and their thread settings: contenders.py.  FLOP counting: flops.py.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contenders as C  # noqa: E402
import flops  # noqa: E402
import jax_models  # noqa: E402
import torch_models  # noqa: E402
from worker import Client  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1,000 samples, 1 repeat, short micro-benchmarks")
    p.add_argument("--models", default="mlp,autoencoder,convnet", help="comma list of mlp, autoencoder, convnet")
    p.add_argument("--convnet-batches", default="32,128", help="ConvNet batch sizes (one row each)")
    p.add_argument("--contenders", default=",".join(C.DEFAULT),
                   help=f"comma list of {', '.join(C.CONTENDERS)}")
    p.add_argument("--samples", type=int, default=None, help="training samples (default 10,800; 1,000 with --quick)")
    p.add_argument("--repeats", type=int, default=None, help="timed epochs per contender (default 3; 1 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--in-process", action="store_true",
                   help="run every contender in this process (thread-pool interplay; no memory figures)")
    p.add_argument("--no-micro", action="store_true", help="skip the framework-overhead micro-benchmark")
    p.add_argument("--write", type=Path, default=None, help="also write the report (markdown) to this file")
    a = p.parse_args(argv)
    a.models = [m for m in a.models.split(",") if m]
    a.convnet_batches = [int(b) for b in a.convnet_batches.split(",") if b]
    a.contenders = [c for c in a.contenders.split(",") if c]
    unknown = [c for c in a.contenders if c not in C.CONTENDERS]
    if unknown:
        p.error(f"unknown contenders {unknown}; choose from {sorted(C.CONTENDERS)}")
    if "jax" in a.contenders and not jax_models.available():
        a.contenders.remove("jax")
        print("jax is not installed: skipping the jax contender (pip install -e '.[jax]')", file=sys.stderr)
    if not torch_models.available():
        dropped = [c for c in a.contenders if c.startswith("torch")]
        a.contenders = [c for c in a.contenders if not c.startswith("torch")]
        if dropped:
            print(f"torch is not installed: dropping {dropped}", file=sys.stderr)
    a.samples = a.samples or (1000 if a.quick else C.N_TRAIN)
    a.repeats = a.repeats or (1 if a.quick else 3)
    return a


# ---- the machine ---------------------------------------------------------------------------------
def machine() -> list[str]:
    """Markdown bullet lines: CPU, cores, load, library versions, BLAS and OpenMP pools."""
    import numba
    from threadpoolctl import threadpool_info
    cpu, flags = "unknown", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = ", ".join(f for f in ("avx2", "fma", "avx512f") if f in flags) or "unknown"
    lines = [f"- CPU: {cpu} ({simd}); {os.cpu_count()} logical cores, {len(os.sched_getaffinity(0))} usable",
             f"- load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
             "(other jobs share these cores: figures are noisy)",
             f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
             f"({numba.config.NUMBA_NUM_THREADS} threads, threading layer setting "
             f"{numba.config.THREADING_LAYER!r})"]
    if torch_models.available():
        import torch
        lines.append(f"- torch {torch.__version__} (default {torch.get_num_threads()} threads)")
    for pool in threadpool_info():
        lines.append(f"- thread pool in the parent: {pool.get('internal_api')} {pool.get('version') or ''} "
                     f"{pool.get('architecture') or ''} ({Path(pool['filepath']).name}), "
                     f"{pool['num_threads']} threads by default")
    return lines


# ---- timing --------------------------------------------------------------------------------------
def _report_parity(losses: dict[str, float]) -> None:
    ref = next(iter(losses.values()))
    diff = max(abs(v - ref) / max(abs(ref), 1e-30) for v in losses.values())
    print("  first-step loss: " + ", ".join(f"{k} {v:.5g}" for k, v in losses.items())
          + f" (max rel. diff {diff:.1e})")


def _rounds(names: list[str], repeats: int):
    """(round, contender) in run order: round 0 is the warm-up; the order rotates every round."""
    for rnd in range(repeats + 1):
        k = rnd % len(names)
        for name in names[k:] + names[:k]:
            yield rnd, name


def time_workload(w: C.Workload, names: list[str], n: int, repeats: int, seed: int
                  ) -> tuple[dict[str, list[float]], dict[str, dict]]:
    """Seconds per timed epoch and memory figures per contender, each in its own worker process."""
    clients = {name: Client(name) for name in names}
    try:
        _report_parity({k: c.ask("setup", workload=asdict(w), n=n, seed=seed)["loss0"] for k, c in clients.items()})
        times: dict[str, list[float]] = {k: [] for k in names}
        for rnd, name in _rounds(names, repeats):
            dt = clients[name].ask("epoch", round=rnd)["sec"]
            if rnd:
                times[name].append(dt)
            print(f"  {'warm-up' if not rnd else f'round {rnd}'} {name}: {dt:.3f} s", flush=True)
        return times, {k: c.ask("memory") for k, c in clients.items()}
    finally:
        for c in clients.values():
            c.close()


def time_in_process(w: C.Workload, names: list[str], x: np.ndarray, y: np.ndarray, repeats: int,
                    seed: int) -> dict[str, list[float]]:
    """The same schedule with every contender in this one process (shows the thread-pool interplay)."""
    weights = C.initial_weights(w.model, seed)
    idx = C.epoch_batches(len(y), w.batch, 0, seed)[0]
    trainers, losses = {}, {}
    for name in names:
        c = C.CONTENDERS[name]
        with c.threads():
            losses[name] = c.build(w, weights).step(x[idx].reshape(w.input_shape), y[idx])
        trainers[name] = c.build(w, weights)
    _report_parity(losses)
    times: dict[str, list[float]] = {k: [] for k in names}
    for rnd, name in _rounds(names, repeats):
        with C.CONTENDERS[name].threads():
            t0 = time.perf_counter()
            C.run_epoch(trainers[name], x, y, C.epoch_batches(len(y), w.batch, rnd, seed), w.input_shape)
            dt = time.perf_counter() - t0
        if rnd:
            times[name].append(dt)
        print(f"  {'warm-up' if not rnd else f'round {rnd}'} {name}: {dt:.3f} s", flush=True)
    return times


# ---- tables --------------------------------------------------------------------------------------
def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "–"


def workload_table(w: C.Workload, times: dict[str, list[float]], mem: dict[str, dict | None], n: int) -> str:
    """Markdown rows: s/epoch, samples/s, GFLOP/s, memory, ratios to torch's best and hand numpy."""
    med = {k: statistics.median(v) for k, v in times.items()}
    torch_best = min((v for k, v in med.items() if k.startswith("torch")), default=None)
    hand = med.get("hand-numpy")
    gflop = flops.per_sample(w.model)["train_needed"] * n / 1e9
    rows = [f"**{w.name}** ({n} samples, {len(next(iter(times.values())))} timed epochs; "
            f"{gflop:.2f} GFLOP per epoch)", "",
            "| contender | s/epoch (median) | min | samples/s | GFLOP/s | peak RSS MB | Δ train MB | "
            "× torch best | × hand numpy | × jax |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, v in med.items():
        m = mem.get(k)
        mtxt = f"{m['peak_mb']:.0f} | {m['delta_mb']:.0f}" if m else "– | –"
        rows.append(f"| {k} | {v:.3f} | {min(times[k]):.3f} | {n / v:,.0f} | {gflop / v:.1f} | {mtxt} | "
                    f"{_ratio(v, torch_best)} | {_ratio(v, hand)} | {_ratio(v, med.get('jax'))} |")
    return "\n".join(rows)


def micro_table(quick: bool, names: list[str]) -> tuple[str, dict[str, dict]]:
    """Framework overhead rows (µs): add and linear, forward and forward+backward, a worker each."""
    rows = ["| contender | add fwd µs | add fwd+bwd µs | linear fwd µs | linear fwd+bwd µs |",
            "|---|---:|---:|---:|---:|"]
    results = {}
    for name in names:
        client = Client(name)
        try:
            r = results[name] = client.ask("micro", repeats=5 if quick else 15)
        finally:
            client.close()
        rows.append(f"| {name} | {r['add'][0]:.1f} | {r['add'][1]:.1f} | {r['linear'][0]:.1f} | "
                    f"{r['linear'][1]:.1f} |")
    return "\n".join(rows), results


def targets_table(medians: dict[str, dict[str, float]], micro_res: dict[str, dict]) -> str:
    """tinygrad5 (numba) against the brief's targets: figures to read, not assertions."""
    rows = ["| figure | tg-numba | target | met |", "|---|---:|---:|---|"]
    for name, med in medians.items():
        tg = med.get("tg-numba")
        torch_best = min((v for k, v in med.items() if k.startswith("torch")), default=None)
        if tg and torch_best:
            r = tg / torch_best
            rows.append(f"| {name}: × PyTorch's best | {r:.2f} | ≤ 0.5 | {'yes' if r <= 0.5 else 'no'} |")
        if tg and med.get("hand-numpy") and not name.startswith("convnet"):
            r = tg / med["hand-numpy"]
            rows.append(f"| {name}: × hand-written numpy | {r:.2f} | ≤ 1.3 | {'yes' if r <= 1.3 else 'no'} |")
    if "tg-numba" in micro_res:
        us = micro_res["tg-numba"]["add"][1]
        rows.append(f"| add fwd+bwd (32×64), µs | {us:.1f} | ≤ 15 | {'yes' if us <= 15 else 'no'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    x, y = C.make_data(args.samples, args.seed) if args.in_process else (None, None)
    started = time.strftime("%Y-%m-%d %H:%M")
    sections, pools, medians, micro_res = [], {}, {}, {}
    for w in C.workloads(args.models, args.convnet_batches):
        print(f"{w.name}: {args.samples} samples, contenders {', '.join(args.contenders)}", flush=True)
        if args.in_process:
            times, mem = time_in_process(w, args.contenders, x, y, args.repeats, args.seed), {}
        else:
            times, mem = time_workload(w, args.contenders, args.samples, args.repeats, args.seed)
            pools.update({k: m.pop("pools") for k, m in mem.items()})
        sections.append(workload_table(w, times, mem, args.samples))
        medians[w.name] = {k: statistics.median(v) for k, v in times.items()}
        print(sections[-1] + "\n", flush=True)
    if not args.no_micro:
        table, micro_res = micro_table(args.quick, [c for c in args.contenders if c not in ("tg-jit", "jax")])
        sections.append("**Framework overhead** (median µs per call, each contender in its own process; 32×64 "
                        "add; 32×1024 @ (64×1024).T + b linear, backward without the input gradient)\n\n" + table)
        print(sections[-1] + "\n")
    sections.append("**Targets** (tinygrad5 numba backend; medians above)\n\n" + targets_table(medians, micro_res))
    print(sections[-1] + "\n")
    label = "quick run (--quick)" if args.quick else f"{args.samples} samples, {args.repeats} repeats"
    mode = "all contenders in one process (--in-process)" if args.in_process else "one worker process per contender"
    report = "\n".join([f"## Training benchmarks ({label}, {started}; {mode})", "",
                        "Machine:", *machine(), "", "Contenders (thread pools as loaded in each worker after training):",
                        *[f"- `{k}`: {C.CONTENDERS[k].blurb}" + (f"; {pools[k]}" if k in pools else "")
                          for k in args.contenders], "",
                        "FLOPs per sample (flops.py; GFLOP/s below use the 'needed' count):", "",
                        flops.table(args.samples), "", *[s + "\n" for s in sections]])
    if args.write:
        args.write.write_text(report + "\n")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
