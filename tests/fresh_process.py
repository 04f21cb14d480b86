"""Run a snippet in a fresh Python process: for what a process decides once (thread pools, policy)."""
from __future__ import annotations

import os
import subprocess
import sys


def run_fresh(code: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = (),
              timeout: int = 300) -> str:
    """Run code with this environment minus `drop`, plus `env`; assert it exits 0; return its stdout."""
    full = {k: v for k, v in os.environ.items() if k not in drop}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         env={**full, **(env or {})})
    assert res.returncode == 0, res.stderr
    return res.stdout
