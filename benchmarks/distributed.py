"""Data-parallel benchmark: step time, allreduce time and bytes a step at 1 and 2 MPI ranks, and a
ring-allreduce cost model for N machines.

    python benchmarks/distributed.py            # launches `mpiexec -n 1` and `-n 2` workers itself
    python benchmarks/distributed.py --steps 30 --latency-us 20

Every rank runs one numba thread (NUMBA_NUM_THREADS=1), so 2 ranks use this machine's 2 cores.
Workers build the homework's models (examples/models.py), wrap them in DistributedDataParallel at
2 ranks, and time each step's forward, backward and SGD update on random inputs of the global
batch split over the ranks; the allreduce is timed inside the wrapper (a timing proxy on its
communicator), so "backward" below is compute only. They also time a bare Allreduce at several
sizes (fitted as latency + bytes / bandwidth) and whether a non-blocking Iallreduce overlaps with
compute on this MPI.

Cost model (ring allreduce of B gradient bytes over N ranks, link bandwidth W, per-message latency a):
    T_comm(N) = 2 (N-1)/N * B / W + 2 (N-1) a
Communication can hide behind compute (given an engine that starts each bucket's reduction as its
gradients are ready) once the backward pass takes as long: T_bwd(b) = c + s b >= T_comm, with c, s
fitted from the 1-rank backward times. The per-rank batch b* printed is the smallest such b.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

GLOBAL_BATCHES = {"mlp": [8, 32, 128, 512], "autoencoder": [32, 256], "convnet": [8, 32, 128]}
SIZES = [2**k for k in range(10, 25, 2)]  # bare Allreduce sizes in bytes: 1 KiB .. 16 MiB
BANDWIDTHS_GBIT = [10, 25, 100]
MACHINES = [2, 4, 8, 16, 64]


# ---- the worker (runs under mpiexec) ------------------------------------------------------------------
class _TimedComm:
    """Wraps an mpi4py communicator, adding up the seconds its Allreduce calls take."""

    def __init__(self, comm: object) -> None:
        self._comm, self.seconds = comm, 0.0

    def Allreduce(self, *args: object, **kwargs: object) -> None:  # noqa: N802 (mpi4py's name)
        t = time.perf_counter()
        self._comm.Allreduce(*args, **kwargs)
        self.seconds += time.perf_counter() - t

    def __getattr__(self, name: str) -> object:
        return getattr(self._comm, name)


def _batch(model: str, b: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape = (b, 1, 32, 32) if model == "convnet" else (b, 1024)
    return rng.random(shape, dtype=np.float32), rng.integers(0, 36, b)


def _time_steps(model_name: str, global_batch: int, steps: int, rank: int, world: int) -> dict:
    """Median forward / backward / allreduce / update / step seconds for one model and batch."""
    import models

    import tinygrad5 as tg
    from tinygrad5.nn.parallel import DistributedDataParallel
    tg.manual_seed(0)
    inner = models.BUILDERS[model_name]()
    net = DistributedDataParallel(inner) if world > 1 else inner
    timed = None
    if world > 1:
        timed = net._comm = _TimedComm(net._comm)
    opt = tg.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    b = global_batch // world
    x, y = _batch(model_name, b, np.random.default_rng(rank))
    rows = []
    for i in range(steps + 3):  # 3 warm-up steps
        if timed is not None:
            timed.seconds = 0.0
        t0 = time.perf_counter()
        xb = tg.Tensor(x)
        out = net(xb)
        if model_name == "autoencoder":
            loss = tg.mse_loss(out, xb, reduction="sum")
        else:
            loss = tg.cross_entropy(out, y, reduction="sum")
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        comm = timed.seconds if timed is not None else 0.0
        if i >= 3:
            rows.append((t1 - t0, t2 - t1 - comm, comm, t3 - t2, t3 - t0))
    med = [statistics.median(col) for col in zip(*rows)]
    nbytes = sum(p.data.nbytes for p in inner.parameters())
    return {"model": model_name, "world": world, "global_batch": global_batch, "batch": b, "fwd": med[0],
            "bwd": med[1], "allreduce": med[2], "update": med[3], "step": med[4], "bytes": nbytes}


def _bare_allreduce(comm: object, MPI: object, reps: int) -> list[tuple[int, float]]:
    out = []
    for n in SIZES:
        buf = np.ones(n // 4, np.float32)
        times = []
        for _ in range(reps + 2):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        out.append((n, statistics.median(times[2:])))
    return out


def _overlap(comm: object, MPI: object, reps: int) -> dict:
    """ConvNet-sized reduction after a ConvNet backward vs started before it (Iallreduce) and waited after."""
    import models

    import tinygrad5 as tg
    net = models.convnet()
    x, y = _batch("convnet", 32, np.random.default_rng(comm.Get_rank()))
    buf = np.ones(sum(p.data.size for p in net.parameters()), np.float32)

    def compute() -> None:
        tg.cross_entropy(net(tg.Tensor(x)), y, reduction="sum").backward()

    serial, overlapped, alone = [], [], []
    for i in range(reps + 2):
        comm.Barrier()
        t = time.perf_counter()
        compute()
        t1 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        t2 = time.perf_counter()
        comm.Barrier()
        t3 = time.perf_counter()
        req = comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        compute()
        req.Wait()
        t4 = time.perf_counter()
        if i >= 2:
            serial.append(t2 - t), overlapped.append(t4 - t3), alone.append(t1 - t)
    return {"compute": statistics.median(alone), "serial": statistics.median(serial),
            "overlapped": statistics.median(overlapped), "bytes": buf.nbytes}


def worker(steps: int) -> None:
    """Measure everything at this world size; rank 0 prints one JSON line."""
    import tinygrad5.distributed as dist
    dist.init_process_group("mpi")
    from tinygrad5.distributed.process_group import mpi_comm
    comm, MPI = mpi_comm()
    rank, world = comm.Get_rank(), comm.Get_size()
    res = {"world": world, "steps": [], "bare": [], "overlap": None}
    for name, batches in GLOBAL_BATCHES.items():
        for g in batches:
            res["steps"].append(_time_steps(name, g, steps, rank, world))
    if world > 1:
        res["bare"] = _bare_allreduce(comm, MPI, reps=20)
        res["overlap"] = _overlap(comm, MPI, reps=max(5, steps // 2))
    if rank == 0:
        print("RESULT " + json.dumps(res), flush=True)


# ---- the driver -----------------------------------------------------------------------------------------
def run_world(world: int, steps: int) -> dict:
    """Launch the worker under `mpiexec -n world` with one numba thread a rank."""
    from tinygrad5.distributed import find_mpiexec
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise SystemExit("mpiexec not found: pip install mpi4py mpich")
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [mpiexec, "-n", str(world), sys.executable, __file__, "--worker", "--steps", str(steps)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    line = next((s for s in res.stdout.splitlines() if s.startswith("RESULT ")), None)
    if res.returncode or line is None:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    return json.loads(line[len("RESULT "):])


def fit_line(xs: list[float], ys: list[float], relative: bool = False) -> tuple[float, float]:
    """Least-squares intercept and slope, both floored at 0 (slope at a tiny positive value); with
    relative=True the residuals are relative, so sizes spanning decades all count."""
    y = np.asarray(ys, float)
    slope, icpt = np.polyfit(np.asarray(xs, float), y, 1, w=1 / y if relative else None)
    return max(float(icpt), 0.0), max(float(slope), 1e-12)


def ring_seconds(nbytes: float, n: int, bandwidth_bytes: float, latency: float) -> float:
    """Ring allreduce time: 2(N-1)/N of the bytes over the link plus 2(N-1) message latencies."""
    return 2 * (n - 1) / n * nbytes / bandwidth_bytes + 2 * (n - 1) * latency


def hiding_batch(t_comm: float, c: float, s: float) -> int:
    """Smallest per-rank batch b with c + s b >= t_comm."""
    return max(1, math.ceil((t_comm - c) / s))


def ms(t: float) -> str:
    return f"{t * 1e3:.3f}"


def report(one: dict, two: dict, latency: float) -> str:
    """The tables, as markdown."""
    lines = ["| model | global batch | ranks | per-rank batch | step ms | fwd ms | bwd ms | allreduce ms | "
             "update ms | grad bytes/step | samples/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(one["steps"] + two["steps"], key=lambda r: (r["model"], r["global_batch"], r["world"])):
        lines.append(f"| {r['model']} | {r['global_batch']} | {r['world']} | {r['batch']} | {ms(r['step'])} | "
                     f"{ms(r['fwd'])} | {ms(r['bwd'])} | {ms(r['allreduce'])} | {ms(r['update'])} | "
                     f"{r['bytes'] if r['world'] > 1 else 0} | {r['global_batch'] / r['step']:.0f} |")
    lines += ["", "The allreduce column is the time spent inside the wrapper's Allreduce calls, including waiting "
              "for the slower rank; bwd excludes it."]
    sizes, times = zip(*two["bare"])
    a_loc, inv_bw = fit_line(list(sizes), list(times), relative=True)
    # for N=2 the ring sends B bytes and 2 messages: t = 2 a + B / W
    lines += ["", "Bare 2-rank Allreduce on this machine: " + ", ".join(
        f"{n // 1024} KiB {ms(t)} ms" for n, t in two["bare"]),
        f"fit: latency a = {a_loc / 2 * 1e6:.1f} us a message, bandwidth W = {1 / inv_bw / 1e9:.2f} GB/s."]
    ov = two["overlap"]
    lines += ["", f"Overlap (ConvNet b32 backward and a {ov['bytes']} B allreduce, 2 ranks): compute alone "
              f"{ms(ov['compute'])} ms, compute then Allreduce {ms(ov['serial'])} ms, Iallreduce started "
              f"before compute and waited after {ms(ov['overlapped'])} ms."]
    lines += ["", f"Cost model: per-rank batch b* from which the backward pass outlasts a ring allreduce "
              f"(latency {latency * 1e6:.0f} us a message), per model, machines x link:"]
    for model in ("mlp", "convnet"):
        rows = [r for r in one["steps"] if r["model"] == model]
        c, s = fit_line([r["batch"] for r in rows], [r["bwd"] for r in rows])
        nbytes = rows[0]["bytes"]
        lines += ["", f"{model}: {nbytes} gradient bytes, backward {ms(c)} ms + {s * 1e6:.1f} us a sample "
                  "(1 rank, 1 thread)", "", "| machines | " + " | ".join(f"{g} Gbit/s" for g in BANDWIDTHS_GBIT)
                  + " |", "|---|" + "---|" * len(BANDWIDTHS_GBIT)]
        for n in MACHINES:
            cells = []
            for g in BANDWIDTHS_GBIT:
                t = ring_seconds(nbytes, n, g * 1e9 / 8, latency)
                cells.append(f"{hiding_batch(t, c, s)} ({ms(t)} ms)")
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        t_loc = a_loc + nbytes * inv_bw
        measured = [r for r in two["steps"] if r["model"] == model]
        hides = [r["batch"] for r in measured if r["bwd"] >= r["allreduce"]]
        lines += ["", f"check, 2 local ranks: the fitted link predicts {ms(t_loc)} ms an allreduce and b* = "
                  f"{hiding_batch(t_loc, c, s)}; measured allreduce " + ", ".join(
                      f"b{r['batch']} {ms(r['allreduce'])} ms vs bwd {ms(r['bwd'])} ms" for r in measured)
                  + f"; the backward outlasts it from b{min(hides) if hides else ' > ' + str(measured[-1]['batch'])}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=15, help="timed steps per model and batch (after 3 warm-up)")
    p.add_argument("--latency-us", type=float, default=20.0, help="per-message network latency of the cost model")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(a.steps)
        return
    one, two = run_world(1, a.steps), run_world(2, a.steps)
    print(report(one, two, a.latency_us * 1e-6))


if __name__ == "__main__":
    main()
