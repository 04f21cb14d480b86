"""Kernel benchmarks: our numba GEMM / conv2d / max_pool2d against OpenBLAS and PyTorch, the
thread-switch cost, and compile cost.  A script, not a test:

    python benchmarks/kernels.py            # full run (~5 minutes on 2 cores, ~40 s of it compiling)
    python benchmarks/kernels.py --quick    # fewer shapes and repeats (~2 minutes)
    python benchmarks/kernels.py --write /tmp/kernels.md

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
from tinygrad5.kernels import tile_gemm  # noqa: E402
from tinygrad5.kernels.blas_split import matmul_split  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: its columns are left out
    torch = None

GEMM_SHAPES = [(32, 1024, 64), (32, 64, 36), (36, 1024, 32), (36, 32, 1024), (256, 256, 256), (512, 512, 512),
               (1024, 1024, 1024), (25088, 25, 20), (3200, 500, 50), (32, 1250, 512), (1250, 32, 512),
               (128, 1250, 512)]
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


@contextlib.contextmanager
def setting(blas: int | None = None, numba_threads: int | None = None, torch_threads: int | None = None):
    """Thread counts for one timed block: OpenBLAS, our numba kernels, torch (None: unchanged)."""
    n0 = threads.get_num_threads()
    t0 = torch.get_num_threads() if torch is not None else None
    if numba_threads:
        threads.set_num_threads(min(numba_threads, threads.max_threads()))
    if torch_threads and torch is not None:
        torch.set_num_threads(torch_threads)
    try:
        with (threadpool_limits(blas, user_api="blas") if blas else contextlib.nullcontext()):
            yield
    finally:
        threads.set_num_threads(n0)
        if t0 is not None:
            torch.set_num_threads(t0)


def interleave(contenders: dict[str, tuple[Callable[[], object], bool, dict]], calls: int,
               rounds: int) -> dict[str, float]:
    """{name: median over rounds of per-block medians}.

    Each contender is (fn, settle, threads): settle asks for a pause after its block (its thread
    pool must go idle); threads are setting() keywords in force for its block only.
    """
    for fn, _, kw in contenders.values():  # warm-up (compiles, first-touch of buffers)
        with setting(**kw):
            fn()
    res: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, (fn, settle, kw) in contenders.items():
            with setting(**kw):
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
    """GFLOP/s of our GEMM, one BLAS call per core (split), the backend's choice, OpenBLAS at 1 and 2 threads, torch."""
    shapes = [s for s in GEMM_SHAPES if not (quick and s == (1024, 1024, 1024))]
    rng = np.random.default_rng(0)
    rows = ["| M x K @ K x N | ours | tile | split | backend (pick) | OpenBLAS 1 thr | OpenBLAS 2 thr | torch | "
            "ours / BLAS 2 thr | backend / torch |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        flop = 2.0 * m * n * k
        calls = int(np.clip(2e8 / flop, 3, 200))
        parts = threads.get_num_threads() if m * n * k >= nb.TILE_PARALLEL_MIN_MACS else 1
        cont = {"ours": (lambda: K.matmul(a, b), False, {}), "split": (lambda: matmul_split(a, b), False, {}),
                "tile": (lambda: tile_gemm.matmul(a, b, None, parts), False, {}),
                "backend": (lambda: nb.matmul(a, b), False, {}),
                "blas1": (lambda: a @ b, False, {}), "blas2": (lambda: a @ b, True, {"blas": 2})}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            cont["torch"] = (lambda: torch.mm(ta, tb), True, {})
        t = interleave(cont, calls, rounds)
        g = {k_: flop / v / 1e9 for k_, v in t.items()}
        pick = ("tile" if nb.use_tile(m, n, k) else "split" if nb.use_split(m, n, k)
                else "ours" if nb.use_ours(m, n, k) else "BLAS")
        tg = f"{g['torch']:.0f}" if "torch" in g else "-"
        rt = f"{t['torch'] / t['backend']:.2f}" if "torch" in t else "-"
        rows.append(f"| {m}x{k} @ {k}x{n} | {g['ours']:.0f} | {g['tile']:.0f} | {g['split']:.0f} | {g['backend']:.0f} ({pick}) | "
                    f"{g['blas1']:.0f} | {g['blas2']:.0f} | {tg} | {t['blas2'] / t['ours']:.2f} | {rt} |")
    return rows


def _dense_products(rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(label, a, b, column-major result) for every product of an MLP (1024-64-36, b32) and an
    autoencoder (1024-32-32-32-1024, b36) step, in the layouts the step passes them (nn.Linear
    stores a wide-input weight column-major; its gradient is written as the row-major x.T @ g)."""
    def r(*shape, order="C"):
        return np.asarray(rng.standard_normal(shape), np.float32, order=order)
    x, w1, g1, h, w2, g2 = r(32, 1024), r(64, 1024, order="F"), r(32, 64), r(32, 64), r(36, 64), r(32, 36)
    xe, e1, ge, he, s, d4, gd = r(36, 1024), r(32, 1024, order="F"), r(36, 32), r(36, 32), r(32, 32), r(1024, 32), r(36, 1024)
    return [("MLP fc1 x @ W.T", x, w1.T, False), ("MLP fc1 dW: x.T @ g", x.T, g1, True),
            ("MLP fc2 h @ W.T", h, w2.T, False), ("MLP fc2 dx: g @ W", g2, w2, False),
            ("MLP fc2 dW: g.T @ h", g2.T, h, False),
            ("AE enc1 x @ W.T", xe, e1.T, False), ("AE enc1 dW: x.T @ g", xe.T, ge, True),
            ("AE 32->32 h @ W.T", he, s.T, False), ("AE dec W @ h.T", d4, he.T, False),
            ("AE dec dx: g @ W", gd, d4, False), ("AE dec dW: g.T @ h", gd.T, he, False)]


def _without_skinny(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """The backend's matmul as it was before kernels.skinny_gemm (its tile_gemm path)."""
    saved, nb.SKINNY_MAX_COLS = nb.SKINNY_MAX_COLS, -1
    try:
        return nb.matmul(a, b, out=out)
    finally:
        nb.SKINNY_MAX_COLS = saved


def dense_section(rounds: int) -> list[str]:
    """Microseconds per product of the MLP and autoencoder steps: the backend now, its previous
    path (tile_gemm: 4-row tiles, whole K), OpenBLAS on 1 thread and torch on 1 and 2 (on a
    shared machine torch's 2 spinning threads can take milliseconds: see the load line)."""
    rows = ["| product | M x K @ K x N | backend (path) | before: tile | OpenBLAS 1 thr | torch 1 thr | torch 2 thr | "
            "backend / torch 1 | backend / torch 2 | backend / before |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, a, b, col_major in _dense_products(np.random.default_rng(3)):
        (m, k), n = a.shape, b.shape[1]
        out = np.empty((n, m), np.float32, order="F").T if col_major else None
        cont = {"backend": (lambda: nb.matmul(a, b, out=out), False, {}),
                "blas1": (lambda: np.matmul(a, b), False, {})}
        old = m * n * k >= nb.TILE_MIN_MACS and nb.use_tile(m, n, k)
        if old:
            cont["tile"] = (lambda: _without_skinny(a, b, out), False, {})
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            cont["torch"] = (lambda: torch.mm(ta, tb), True, {"torch_threads": 2})
            cont["torch1"] = (lambda: torch.mm(ta, tb), False, {"torch_threads": 1})
        t = {key: v * 1e6 for key, v in interleave(cont, int(np.clip(2e7 / (m * n * k), 50, 1000)), rounds).items()}
        path = ("skinny" if old and n <= nb.SKINNY_MAX_COLS else "tile" if old else "BLAS")
        torch_t, vs_torch = ((f"{t['torch1']:.1f} | {t['torch']:.1f}", f"{t['backend'] / t['torch1']:.2f} | "
                              f"{t['backend'] / t['torch']:.2f}") if "torch" in t else ("- | -", "- | -"))
        before, vs_before = (f"{t['tile']:.1f}", f"{t['backend'] / t['tile']:.2f}") if old else ("(same)", "-")
        rows.append(f"| {label} | {m}x{k} @ {k}x{n} | {t['backend']:.1f} ({path}) | {before} | {t['blas1']:.1f} | "
                    f"{torch_t} | {vs_torch} | {vs_before} |")
    return rows + ["", f"Load average while measuring: {' '.join(f'{v:.2f}' for v in os.getloadavg())}."]


def _torch_conv(x, w, b, need_x, block=False):
    """torch's conv2d forward + backward (block: conv2d, ReLU and a 2x2 max pool)."""
    tx = torch.from_numpy(x).requires_grad_(need_x)
    tw, tbias = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
    F = torch.nn.functional

    def run():
        y = F.conv2d(tx, tw, tbias)
        if block:
            y = F.max_pool2d(F.relu(y), 2)
        y.backward(torch.ones_like(y))
        tw.grad = tbias.grad = tx.grad = None
    return run


def _row(label: str, bsz: int, t: dict[str, float], unit: float, fmt: str) -> str:
    """One table row: ours and torch at 2 and 1 threads, and torch / ours ratios."""
    def cell(k):
        return (fmt % (t[k] * unit)) if k in t else "-"

    def ratio(a, b):
        return f"{t[a] / t[b]:.2f}x" if a in t and b in t else "-"
    return (f"| {label} | {bsz} | {cell('fwd')} | {cell('fb2')} | {cell('fb1')} | {cell('torch2')} | "
            f"{cell('torch1')} | {ratio('torch2', 'fb2')} | {ratio('torch1', 'fb1')} |")


def conv_section(batches: list[int], rounds: int) -> list[str]:
    """LeNet conv and pool layers, forward + backward, ours vs torch, on 2 threads and on 1."""
    rng = np.random.default_rng(1)
    rows = ["| layer | batch | ours fwd (2 thr) | ours fwd+bwd 2 thr | ours fwd+bwd 1 thr | torch fwd+bwd 2 thr "
            "| torch fwd+bwd 1 thr | torch/ours 2 thr | torch/ours 1 thr |", "|---|---|---|---|---|---|---|---|---|"]
    two, one = {"numba_threads": 2, "torch_threads": 2}, {"numba_threads": 1, "torch_threads": 1}
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
            cont = {"fwd": (lambda: K.conv2d_forward(x, w, b, (1, 1), (0, 0)), False, two),
                    "fb2": (ours_fb, False, two), "fb1": (ours_fb, False, one)}
            if torch is not None:
                run = _torch_conv(x, w, b, need_x)
                cont["torch2"] = (run, True, two)
                cont["torch1"] = (run, True, one)
            t = interleave(cont, 10, rounds)
            rows.append(_row(f"{name} {o}x{c}x5x5", bsz, t, 1e3, "%.2f ms"))
            # the same layer with its ReLU and 2x2 pool, as nn.Sequential runs it (one fused op)
            gp = np.ones((bsz, o, (h - 4) // 2, (w_ - 4) // 2), np.float32)

            def block_fwd():
                return nb.conv2d_relu_pool_forward(x, w, b, (1, 1), (0, 0))

            def block_fb():
                _, cache = block_fwd()
                nb.conv2d_relu_pool_backward(gp, cache, need_x)
            cont = {"fwd": (block_fwd, False, two), "fb2": (block_fb, False, two), "fb1": (block_fb, False, one)}
            if torch is not None:
                run = _torch_conv(x, w, b, need_x, block=True)
                cont["torch2"] = (run, True, two)
                cont["torch1"] = (run, True, one)
            t = interleave(cont, 10, rounds)
            rows.append(_row(f"{name} + ReLU + pool (fused)", bsz, t, 1e3, "%.2f ms"))
        for name, (c, h, w_) in POOL_LAYERS:
            x = rng.standard_normal((bsz, c, h, w_)).astype(np.float32)
            g = np.ones((bsz, c, h // 2, w_ // 2), np.float32)

            def pool_fb():
                _, cache = K.max_pool2d_forward(x, (2, 2), (2, 2))
                K.max_pool2d_backward(g, cache)
            cont = {"fwd": (lambda: K.max_pool2d_forward(x, (2, 2), (2, 2)), False, two),
                    "fb2": (pool_fb, False, two), "fb1": (pool_fb, False, one)}
            if torch is not None:
                tx = torch.from_numpy(x).requires_grad_()

                def torch_pool():
                    torch.nn.functional.max_pool2d(tx, 2).backward(torch.from_numpy(g))
                    tx.grad = None
                cont["torch2"] = (torch_pool, True, two)
                cont["torch1"] = (torch_pool, True, one)
            t = interleave(cont, 10, rounds)
            rows.append(_row(f"{name} 2x2 on {c}x{h}x{w_}", bsz, t, 1e3, "%.3f ms"))
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
    kern = lambda: _pool._fwd_par(x, out, idx, 2, 2, 2, 2, False)  # noqa: E731  a numba parallel kernel
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


def models_section(quick: bool) -> list[str]:
    """Seconds per epoch (10,800 samples) of the homework models through tinygrad5 (the lead's
    Tensor/nn on top of these kernels), on 2 numba threads and on 1."""
    try:
        import tinygrad5 as tg
        from tinygrad5 import nn
    except ImportError as e:  # the framework layer is not there yet
        return [f"skipped: {e}"]
    rng = np.random.default_rng(3)
    rows = ["| model | batch | s/epoch, 2 threads | s/epoch, 1 thread | steps timed |", "|---|---|---|---|---|"]
    specs = [("MLP 1024-64-36", 32, (1024,), lambda: nn.Sequential(nn.Linear(1024, 64), nn.Sigmoid(), nn.Linear(64, 36))),
             ("LeNet ConvNet", 32, (1, 32, 32), lambda: nn.Sequential(
                 nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
                 nn.Flatten(), nn.Linear(1250, 512), nn.ReLU(), nn.Linear(512, 36)))]
    for label, bsz, shape, build in specs:
        steps = (60 if quick else 150) if "MLP" in label else (20 if quick else 60)
        x = rng.random((steps * bsz,) + shape).astype(np.float32)
        y = rng.integers(0, 36, steps * bsz)
        res = {}
        for nthr in (2, 1):
            tg.manual_seed(0)
            model = build()
            opt = tg.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

            def step(i):
                xb, yb = tg.Tensor(x[i * bsz:(i + 1) * bsz]), tg.Tensor(y[i * bsz:(i + 1) * bsz])
                loss = tg.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            with setting(numba_threads=nthr):
                for i in range(3):
                    step(i)
                ts = []
                for rep in range(3):
                    t = time.perf_counter()
                    for i in range(steps):
                        step(i)
                    ts.append((time.perf_counter() - t) / steps)
            res[nthr] = float(np.median(ts)) * 10800 / bsz
        rows.append(f"| {label} | {bsz} | {res[2]:.2f} | {res[1]:.2f} | {steps} x 3 |")
    return rows


_COMPILE_PROBE = """
import time, numpy as np
t0 = time.perf_counter()
import tinygrad5.backends.numba_backend as nb
t1 = time.perf_counter()
for dt in (np.float32, np.float64):
    x = np.random.rand(8, 20, 14, 14).astype(dt); w = np.random.rand(50, 20, 5, 5).astype(dt)
    for xs, pad in ((x, 0), (x, 1), (x[:1], 0)):  # per sample (stride-1 and generic im2col), batch-wide
        o, c = nb.conv2d_forward(xs, w, np.zeros(50, dt), (1, 1), (pad, pad)); nb.conv2d_backward(o, c)
    x1 = np.random.rand(1, 1, 32, 32).astype(dt)  # one channel, batch of 1: the implicit GEMM
    o, c = nb.conv2d_forward(x1, w[:, :1], None, (1, 1), (0, 0)); nb.conv2d_backward(o, c, need_x=False)
    for k in (2, 3):  # LeNet's 2x2 rows and the generic per-plane pool
        p, pc = nb.max_pool2d_forward(o, (k, k), (k, k)); nb.max_pool2d_backward(p, pc)
    p, pc = nb.conv2d_relu_pool_forward(x, w, np.zeros(50, dt), (1, 1), (0, 0)); nb.conv2d_relu_pool_backward(p, pc)
    l, pr = nb.softmax_cross_entropy_forward(np.random.rand(40, 36).astype(dt), np.zeros(40, np.int64))
    nb.softmax_cross_entropy_backward(pr, np.zeros(40, np.int64), l)
    a = np.random.rand(300, 300).astype(dt); nb.matmul(a, a)
    nb.matmul(np.random.rand(32, 512).astype(dt), np.asfortranarray(np.random.rand(512, 1250).astype(dt)))
    nb.linear_forward(np.random.rand(36, 32).astype(dt), np.random.rand(1024, 32).astype(dt), None, "sigmoid")
    from tinygrad5.kernels.blas_split import matmul_split; matmul_split(a, a)
    import tinygrad5.kernels as K; K.matmul(a[:20, :20], a[:20, :20])
    for shape in ((32, 64), (128, 1024)):  # a linear layer's bias + activation, serial and parallel
        h = np.random.rand(*shape).astype(dt); bvec = np.zeros(shape[1], dt)
        for act in ("sigmoid", "relu"):
            o, c = nb.bias_act_forward(h.copy(), bvec, act); nb.bias_act_backward(o, c, True)
    nb.sigmoid_backward(nb.sigmoid_forward(np.random.rand(9).astype(dt)), np.ones(9, dt))
    for n in (5000, 70000):  # ReLU serial and parallel
        r, m = nb.relu_forward(np.random.rand(n).astype(dt) - 0.5); nb.relu_backward(r, m)
    for n in (1000, 200000):  # SGD update serial and parallel, plain and momentum
        wv, dv, bv = (np.random.rand(n).astype(dt) for _ in range(3))
        nb.sgd_step(wv, dv, None, 0.1, 0.0, 0.0); nb.sgd_step(wv, dv, bv, 0.1, 0.9, 0.0)
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
    p.add_argument("--only", choices=["gemm", "conv", "switch", "dense", "models", "compile"], help="run one section")
    args = p.parse_args(argv)
    threads.ensure_policy()
    rounds = 3 if args.quick else 7
    out = ["## Kernel benchmarks (benchmarks/kernels.py)", "", f"Machine: {machine()}.", "",
           f"Threads: numba {threads.get_num_threads()}, OpenBLAS 1 under the tinygrad5 policy "
           f"(the '2 thr' column raises it for that call only); torch "
           f"{torch.get_num_threads() if torch is not None else '-'} threads.  float32, medians of "
           f"{rounds} interleaved rounds.", ""]
    sections = [("### GEMM, float32 GFLOP/s", lambda: gemm_section(args.quick, rounds)),
                ("### LeNet conv2d and max_pool2d, forward + backward", lambda: conv_section([32] if args.quick else [32, 128], rounds)),
                ("### Thread switch: OpenBLAS GEMM 32x1024@1024x64, then a numba parallel kernel (pool fwd 32x20x28x28)",
                 lambda: switch_section(50 if args.quick else 200)),
                ("### Dense steps' products (MLP b32, autoencoder b36), float32, microseconds", lambda: dense_section(rounds))]
    sections.append(("### Training epochs of the homework models (10,800 samples)", lambda: models_section(args.quick)))
    if not args.skip_compile:
        sections.append(("### Compile cost", compile_section))
    keys = ["gemm", "conv", "switch", "dense", "models", "compile"]
    if args.only:
        sections = [sec for key, sec in zip(keys, sections) if key == args.only]
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
