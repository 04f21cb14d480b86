"""Kernel benchmarks: our numba GEMM / conv2d / max_pool2d against OpenBLAS and PyTorch, the
thread-switch cost, and compile cost.  A script, not a test:

    python benchmarks/kernels.py            # full run (~3-4 minutes on 2 cores)
    python benchmarks/kernels.py --quick    # fewer shapes and repeats (~1 minute)
    python benchmarks/kernels.py --write BENCHMARKS_KERNELS.md

Contenders are interleaved: every round runs one timed block of each contender in turn, a block's
time is the median of its calls, and the table shows the median over rounds.  After a block that
used another thread pool (OpenBLAS with 2 threads, torch) the script sleeps so that pool's spinning
workers go idle before the next contender starts.  The machines are shared: re-run and compare.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import tinygrad5.kernels as K  # noqa: E402
from tinygrad5 import threads  # noqa: E402
from tinygrad5.backends import numba_backend as nb  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: its columns are left out
    torch = None

GEMM_SHAPES = [(32, 1024, 64), (32, 64, 36), (36, 1024, 32), (256, 256, 256), (512, 512, 512),
               (1024, 1024, 1024), (25088, 25, 20), (3200, 500, 50), (32, 1250, 512)]
CONV_LAYERS = [("conv1", (1, 32, 32), 20), ("conv2", (20, 14, 14), 50)]
POOL_LAYERS = [("pool1", (20, 28, 28)), ("pool2", (50, 10, 10))]
SETTLE_S = 0.15  # OpenBLAS workers spin up to ~0.1 s after a call before they sleep


def median_time(fn: Callable[[], object], calls: int) -> float:
    """Median seconds of `calls` calls of fn."""
    ts = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _blas(n: int | None):
    """Context: OpenBLAS at n threads for one timed block (None: leave the policy's 1 thread)."""
    return threadpool_limits(n, user_api="blas") if n else contextlib.nullcontext()


def interleave(contenders: dict[str, tuple[Callable[[], object], bool, int | None]], calls: int,
               rounds: int) -> dict[str, float]:
    """{name: median over rounds of per-block medians}.

    Each contender is (fn, settle, blas_threads): settle asks for a pause after its block (its
    thread pool must go idle), blas_threads sets OpenBLAS's threads for its block only.
    """
    for fn, _, nblas in contenders.values():  # warm-up (compiles, first-touch of buffers)
        with _blas(nblas):
            fn()
    res: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, (fn, settle, nblas) in contenders.items():
            with _blas(nblas):
                res[name].append(median_time(fn, calls))
            if settle:
                time.sleep(SETTLE_S)
    return {k: float(np.median(v)) for k, v in res.items()}


def machine() -> str:
    """CPU model, cores, SIMD and library versions."""
    import llvmlite.binding as llvm
    import numba
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    feats = llvm.get_host_cpu_features()
    simd = "AVX-512" if feats.get("avx512f") else ("AVX2+FMA" if feats.get("avx2") else "SSE")
    blas = ", ".join(f"{p['internal_api']} {p['version']} ({p.get('architecture', '?')})"
                     for p in threadpool_info() if p["user_api"] == "blas")
    return (f"{model}, LLVM host CPU {llvm.get_host_cpu_name()} ({simd}), {os.cpu_count()} cores; "
            f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
            f"(threading layer {numba.threading_layer()}), {blas}"
            + (f", torch {torch.__version__}" if torch is not None else ", torch not installed"))


def gemm_section(quick: bool, rounds: int) -> list[str]:
    """GFLOP/s of our GEMM, the backend's choice, OpenBLAS at 1 and 2 threads, torch."""
    shapes = [s for s in GEMM_SHAPES if not (quick and s == (1024, 1024, 1024))]
    rng = np.random.default_rng(0)
    rows = ["| M x K @ K x N | ours | backend (pick) | OpenBLAS 1 thr | OpenBLAS 2 thr | torch | ours / BLAS 2 thr | ours / torch |",
            "|---|---|---|---|---|---|---|---|"]
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        flop = 2.0 * m * n * k
        calls = int(np.clip(2e8 / flop, 3, 200))
        cont = {"ours": (lambda: K.matmul(a, b), False, None), "backend": (lambda: nb.matmul(a, b), False, None),
                "blas1": (lambda: a @ b, False, None), "blas2": (lambda: a @ b, True, 2)}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            cont["torch"] = (lambda: torch.mm(ta, tb), True, None)
        t = interleave(cont, calls, rounds)
        g = {k_: flop / v / 1e9 for k_, v in t.items()}
        pick = "ours" if nb.use_ours(m, n, k) else "BLAS"
        tg = f"{g['torch']:.0f}" if "torch" in g else "-"
        rt = f"{t['torch'] / t['ours']:.2f}" if "torch" in t else "-"
        rows.append(f"| {m}x{k} @ {k}x{n} | {g['ours']:.0f} | {g['backend']:.0f} ({pick}) | {g['blas1']:.0f} | "
                    f"{g['blas2']:.0f} | {tg} | {t['blas2'] / t['ours']:.2f} | {rt} |")
    return rows


def _torch_conv(x, w, b, need_x):
    tx = torch.from_numpy(x).requires_grad_(need_x)
    tw, tbias = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()

    def run():
        y = torch.nn.functional.conv2d(tx, tw, tbias)
        y.backward(torch.ones_like(y))
        tw.grad = tbias.grad = tx.grad = None
    return run


def conv_section(batches: list[int], rounds: int) -> list[str]:
    """LeNet conv and pool layers, forward + backward, ours vs torch."""
    rng = np.random.default_rng(1)
    rows = ["| layer | batch | ours fwd | ours fwd+bwd | torch fwd+bwd | torch / ours |", "|---|---|---|---|---|---|"]
    for bsz in batches:
        for name, (c, h, w_), o in CONV_LAYERS:
            x = rng.standard_normal((bsz, c, h, w_)).astype(np.float32)
            w = rng.standard_normal((o, c, 5, 5)).astype(np.float32) * 0.1
            b = rng.standard_normal(o).astype(np.float32)
            need_x = c > 1  # the first layer's input needs no gradient
            g = np.ones((bsz, o, h - 4, w_ - 4), np.float32)

            def ours_fb():
                _, cache = K.conv2d_forward(x, w, b, (1, 1), (0, 0))
                K.conv2d_backward(g, cache, need_x)
            cont = {"fwd": (lambda: K.conv2d_forward(x, w, b, (1, 1), (0, 0)), False, None),
                    "fb": (ours_fb, False, None)}
            if torch is not None:
                cont["torch"] = (_torch_conv(x, w, b, need_x), True, None)
            t = interleave(cont, 10, rounds)
            tt = f"{t['torch'] * 1e3:.2f} ms" if "torch" in t else "-"
            ratio = f"{t['torch'] / t['fb']:.2f}x" if "torch" in t else "-"
            rows.append(f"| {name} {o}x{c}x5x5 | {bsz} | {t['fwd'] * 1e3:.2f} ms | {t['fb'] * 1e3:.2f} ms | {tt} | {ratio} |")
        for name, (c, h, w_) in POOL_LAYERS:
            x = rng.standard_normal((bsz, c, h, w_)).astype(np.float32)
            g = np.ones((bsz, c, h // 2, w_ // 2), np.float32)

            def pool_fb():
                _, cache = K.max_pool2d_forward(x, (2, 2), (2, 2))
                K.max_pool2d_backward(g, cache)
            cont = {"fwd": (lambda: K.max_pool2d_forward(x, (2, 2), (2, 2)), False, None), "fb": (pool_fb, False, None)}
            if torch is not None:
                tx = torch.from_numpy(x).requires_grad_()

                def torch_pool():
                    torch.nn.functional.max_pool2d(tx, 2).backward(torch.from_numpy(g))
                    tx.grad = None
                cont["torch"] = (torch_pool, True, None)
            t = interleave(cont, 10, rounds)
            tt = f"{t['torch'] * 1e3:.3f} ms" if "torch" in t else "-"
            ratio = f"{t['torch'] / t['fb']:.2f}x" if "torch" in t else "-"
            rows.append(f"| {name} 2x2 on {c}x{h}x{w_} | {bsz} | {t['fwd'] * 1e3:.3f} ms | {t['fb'] * 1e3:.3f} ms | {tt} | {ratio} |")
    return rows


def switch_section(pairs: int) -> list[str]:
    """Time of an OpenBLAS GEMM followed by a numba parallel kernel, under three settings."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((32, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 64)).astype(np.float32)
    x = rng.standard_normal((32, 20, 28, 28)).astype(np.float32)
    out = np.empty((32, 20, 14, 14), np.float32)
    idx = np.empty(out.shape, np.int32)
    from tinygrad5.kernels import pool as _pool
    kern = lambda: _pool._fwd_par(x, out, idx, 2, 2, 2, 2)  # noqa: E731  a numba parallel kernel
    n0 = threads.get_num_threads()
    rows = ["| setting | GEMM alone | parallel kernel alone | GEMM then kernel (per pair) |", "|---|---|---|---|"]
    settings = [("defaults: OpenBLAS 2 threads, numba 2 threads", 2, 2),
                ("tinygrad5 policy: OpenBLAS 1 thread, numba 2 threads", 1, 2),
                ("reverse: OpenBLAS 2 threads, numba 1 thread", 2, 1)]
    for label, blas_n, numba_n in settings:
        threads.set_num_threads(min(numba_n, threads.max_threads()))
        with threadpool_limits(blas_n, user_api="blas"):
            kern()
            time.sleep(SETTLE_S)
            g = median_time(lambda: a @ b, pairs)
            time.sleep(SETTLE_S)
            kk = median_time(kern, pairs)
            time.sleep(SETTLE_S)
            both = median_time(lambda: (a @ b, kern()), pairs)
        time.sleep(SETTLE_S)
        rows.append(f"| {label} | {g * 1e3:.3f} ms | {kk * 1e3:.3f} ms | {both * 1e3:.3f} ms |")
    threads.set_num_threads(n0)
    return rows


_COMPILE_PROBE = """
import time, numpy as np
t0 = time.perf_counter()
import tinygrad5.backends.numba_backend as nb
t1 = time.perf_counter()
for dt in (np.float32, np.float64):
    x = np.random.rand(8, 20, 14, 14).astype(dt); w = np.random.rand(50, 20, 5, 5).astype(dt)
    o, c = nb.conv2d_forward(x, w, np.zeros(50, dt), (1, 1), (0, 0)); nb.conv2d_backward(o, c)
    p, pc = nb.max_pool2d_forward(o, (2, 2), (2, 2)); nb.max_pool2d_backward(p, pc)
    l, pr = nb.softmax_cross_entropy_forward(np.random.rand(40, 36).astype(dt), np.zeros(40, np.int64))
    nb.softmax_cross_entropy_backward(pr, np.zeros(40, np.int64), l)
    a = np.random.rand(300, 300).astype(dt); nb.matmul(a, a)
    import tinygrad5.kernels as K; K.matmul(a[:20, :20], a[:20, :20])
t2 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f}")
"""


def compile_section() -> list[str]:
    """Import time and first-use time of every kernel (both dtypes), cold and warm cache."""
    rows = ["| cache | import tinygrad5 numba backend | first use of all kernels, f32 + f64 |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        for label in ("cold (empty cache)", "warm (second process)"):
            r = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env, capture_output=True, text=True)
            if r.returncode:
                rows.append(f"| {label} | failed: {r.stderr.strip().splitlines()[-1]} | |")
                continue
            imp, use = r.stdout.split()
            rows.append(f"| {label} | {imp} s | {use} s |")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    p.add_argument("--write", type=Path, help="also write the tables to this markdown file")
    p.add_argument("--skip-compile", action="store_true", help="skip the cold/warm compile probe")
    args = p.parse_args(argv)
    threads.ensure_policy()
    rounds = 3 if args.quick else 7
    out = ["## Kernel benchmarks (benchmarks/kernels.py)", "", f"Machine: {machine()}.", "",
           f"Threads: numba {threads.get_num_threads()}, OpenBLAS 1 under the tinygrad5 policy "
           f"(the '2 thr' column raises it for that call only); torch "
           f"{torch.get_num_threads() if torch is not None else '-'} threads.  float32, medians of "
           f"{rounds} interleaved rounds.", ""]
    sections = [("### GEMM, GFLOP/s", lambda: gemm_section(args.quick, rounds)),
                ("### LeNet conv2d and max_pool2d, forward + backward", lambda: conv_section([32] if args.quick else [32, 128], rounds)),
                ("### Thread switch: OpenBLAS GEMM 32x1024@1024x64, then a numba parallel kernel (pool fwd 32x20x28x28)",
                 lambda: switch_section(50 if args.quick else 200))]
    if not args.skip_compile:
        sections.append(("### Compile cost", compile_section))
    for title, fn in sections:
        print(title, flush=True)
        rows = fn()
        print("\n".join(rows), "\n", flush=True)
        out += [title, "", *rows, ""]
    if args.write:
        args.write.write_text("\n".join(out) + "\n")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
