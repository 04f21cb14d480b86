"""Smoke tests: the benchmark scripts run end to end in their --quick modes and write their tables.

They time nothing that is asserted (speed is reported in BENCHMARKS.md, never tested); they catch a
script broken by a change elsewhere, such as a kernel's new argument.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args: list[str], tmp_path: Path) -> str:
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def test_kernel_benchmark_quick_conv_section(tmp_path):
    report = tmp_path / "kernels.md"
    _run([str(ROOT / "benchmarks" / "kernels.py"), "--quick", "--only", "conv", "--write", str(report)], tmp_path)
    text = report.read_text()
    assert "LeNet conv2d and max_pool2d" in text
    rows = [line for line in text.splitlines() if line.startswith(("| conv", "| pool"))]
    assert len(rows) >= 4 and all(re.search(r"\d+\.\d+ ms", row) for row in rows)


def test_training_benchmark_quick(tmp_path):
    contenders = ["tg-numba", "tg-numpy", "hand-numpy"]
    if importlib.util.find_spec("torch") is not None:
        contenders.append("torch-1t")
    report = tmp_path / "train.md"
    _run([str(ROOT / "benchmarks" / "train.py"), "--quick", "--models", "mlp,convnet", "--convnet-batches", "32",
          "--contenders", ",".join(contenders), "--write", str(report)], tmp_path)
    text = report.read_text()
    for name in ("**mlp b32**", "**convnet b32**", "**Targets**", "**Framework overhead**"):
        assert name in text
    for contender in contenders:
        assert re.search(rf"^\| {contender} \| \d+\.\d+ \|", text, re.M), contender


def test_jit_parts_benchmark_runs_and_splits_a_replay(tmp_path):
    out = _run([str(ROOT / "benchmarks" / "jit_parts.py"), "--models", "mlp", "--steps", "20", "--rounds", "1"],
               tmp_path)
    row = next(line for line in out.splitlines() if line.startswith("| mlp b32 | ") and "µs" not in line
               and line.count("|") == 9)
    assert all(float(v) >= 0 for v in row.strip("|").split("|")[1:])
    assert re.search(r"mlp b32: tape of \d+ entries: \d+ kernel-level", out)
