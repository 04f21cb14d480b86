"""One contender in its own process, driven by benchmarks/train.py over JSON lines on stdin/stdout.

Why a process per contender: PyTorch ships its own libgomp and numba's OpenMP layer loads the
system's, so one process holding both has two OpenMP pools (plus OpenBLAS's) that can spin against
each other on 2 cores, and whichever ran last decides what the next one inherits.  A user runs one
framework per process; so does this benchmark (`train.py --in-process` runs them side by side
for comparison).  Only one worker computes at a time (the parent waits for each reply), so the
contenders stay interleaved.

It also makes memory figures honest: VmHWM / VmRSS (from /proc/self/status) belong to this
contender alone.  `peak_mb` = VmHWM of the whole worker (libraries, data, model, training);
`delta_mb` = peak − VmRSS after imports, data and model, before the first training step (so it
includes what the first step loads, e.g. compiled kernels, plus the working set of training).

Every worker starts with the same glibc malloc thresholds that tinygrad5's thread policy sets for
itself (tinygrad5/kernels/memory.py): without them, each temporary above 128 KiB (the
autoencoder's 36x1024 float32 arrays) is a fresh mmap whose pages fault on first touch, which made
the hand-written autoencoder epoch 0.174 s instead of 0.106 s.  That is a process setting, not a
framework's merit, so every contender gets it.

Commands (one JSON object per line): {"cmd": "setup", "workload": {...}, "n": N, "seed": S} ->
{"loss0": first-step loss from the shared init}; {"cmd": "epoch", "round": r} -> {"sec", "loss"};
{"cmd": "memory"} -> {"peak_mb", "delta_mb"}; {"cmd": "micro", "repeats": k} -> {op: [fwd, fwd+bwd]};
{"cmd": "exit"}.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def tune_malloc() -> bool:
    """Apply tinygrad5's malloc thresholds here, loading only memory.py (ctypes; no numba import)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_tg5_memory", HERE.parent / "tinygrad5" / "kernels" / "memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.tune_malloc()


def status_kb(field: str) -> int:
    """A `VmXXX:` line of /proc/self/status, in kB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pools() -> str:
    """The OpenMP/BLAS pools loaded here and their sizes now, plus numba's threading layer if chosen."""
    from threadpoolctl import threadpool_info
    out = [f"{p['internal_api']} ({Path(p['filepath']).parent.parent.name}/{Path(p['filepath']).name}) "
           f"{p['num_threads']}t" for p in threadpool_info()]
    if "numba" in sys.modules:
        try:
            out.append(f"numba layer {sys.modules['numba'].threading_layer()}")
        except ValueError:  # no parallel kernel ran
            pass
    return ", ".join(out)


class Worker:
    """Holds one contender's trainer and data between commands."""

    def __init__(self, contender: str) -> None:
        import contenders as C
        self.C, self.name, self.c = C, contender, C.CONTENDERS[contender]

    def setup(self, workload: dict, n: int, seed: int) -> dict[str, Any]:
        C = self.C
        self.w, self.n, self.seed = C.Workload(**workload), n, seed
        self.x, self.y = C.make_data(n, seed)
        weights = C.initial_weights(self.w.model, seed)
        self.trainer = self.c.build(self.w, weights)
        self.rss0 = status_kb("VmRSS")
        idx = C.epoch_batches(n, self.w.batch, 0, seed)[0]   # same-work check on a throwaway copy
        with self.c.threads():
            loss0 = self.c.build(self.w, weights).step(self.x[idx].reshape(self.w.input_shape), self.y[idx])
        return {"loss0": loss0}

    def epoch(self, rnd: int) -> dict[str, float]:
        C = self.C
        batches = C.epoch_batches(self.n, self.w.batch, rnd, self.seed)
        with self.c.threads():
            t0 = time.perf_counter()
            loss = C.run_epoch(self.trainer, self.x, self.y, batches, self.w.input_shape)
            sec = time.perf_counter() - t0
        return {"sec": sec, "loss": loss}

    def memory(self) -> dict[str, Any]:
        peak = status_kb("VmHWM")
        return {"peak_mb": peak / 1024, "delta_mb": (peak - self.rss0) / 1024, "pools": pools()}

    def micro(self, repeats: int) -> dict[str, Any]:
        import micro
        if self.name.startswith("tg-"):
            with self.c.threads():
                return micro.tinygrad5_micro("numba" if "numba" in self.name else "numpy", repeats)
        if self.name.startswith("torch-"):
            import torch_models
            return torch_models.micro(int(self.name[6]), repeats)
        with self.c.threads():
            return micro.numpy_micro(repeats)


def serve() -> None:
    """Answer commands until 'exit'; library output goes to stderr so stdout stays the protocol."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, str(HERE))
    tune_malloc()
    w = Worker(sys.argv[1])
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg.pop("cmd")
        if cmd == "exit":
            break
        reply = {"setup": lambda: w.setup(**msg), "epoch": lambda: w.epoch(msg["round"]),
                 "memory": w.memory, "micro": lambda: w.micro(msg["repeats"])}[cmd]()
        proto.write(json.dumps(reply) + "\n")


class Client:
    """The parent's handle on a worker process."""

    def __init__(self, contender: str) -> None:
        self.name = contender
        self.proc = subprocess.Popen([sys.executable, str(HERE / "worker.py"), contender], cwd=HERE,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, cmd: str, **kw: Any) -> dict[str, Any]:
        """Send one command and wait for its reply."""
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died during {cmd!r} (its stderr is above)")
        return json.loads(line)

    def close(self) -> None:
        """Ask the worker to exit and reap it."""
        try:
            self.proc.stdin.write('{"cmd": "exit"}\n')
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=60)


if __name__ == "__main__":
    serve()
