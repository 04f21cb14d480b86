"""The homework examples under `mpiexec -n 2 ... --distributed --quick`, and the loader that splits their batches.

ShardedLoader's tests pretend to be rank r of 2 (no MPI needed). The example runs need mpi4py and
mpiexec: rank 0 and rank 1 start in different folders with a relative --out, so anything rank 1
wrote would show up in its own folder.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

import convnet_nist36  # noqa: E402
import distributed  # noqa: E402  (examples/distributed.py)

import tinygrad5 as tg  # noqa: E402
from tinygrad5.data import DataLoader  # noqa: E402
from tests.test_distributed import MPIEXEC, needs_mpi  # noqa: E402
SUMMARY = re.compile(r"^(\w+): epochs=\d+((?: \w+=[-\d.]+)+)$", re.M)


# ----------------------------------------------------------------------------- the loader, as rank r of 2

@pytest.fixture
def as_rank(monkeypatch):
    """Make examples/distributed.py believe it is rank `rank` of `world`."""
    return lambda rank, world: monkeypatch.setattr(distributed, "rank_and_world", lambda: (rank, world))


def _epochs(loader, n: int) -> list[list[np.ndarray]]:
    return [[np.asarray(t.data) for t in batch] for _ in range(n) for batch in loader]


@pytest.mark.parametrize("n", [22, 21])  # 22: batches 8, 8, 6 split evenly; 21: the last (5) is padded
def test_ranks_take_their_share_of_the_single_process_batches(as_rank, n):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    single = _epochs(DataLoader(x, y, batch_size=8, shuffle=True, seed=4), 3)
    parts = []
    for rank in range(2):
        as_rank(rank, 2)
        loader = distributed.loader(x, y, batch_size=8, seed=4)
        assert isinstance(loader, distributed.ShardedLoader) and len(loader) == 3
        parts.append(_epochs(loader, 3))
    assert len(parts[0]) == len(parts[1]) == len(single) == 9
    for (ex, ey), (x0, y0), (x1, y1) in zip(single, *parts):
        assert len(y0) == len(y1)  # equal shares, so DDP's average of mean losses is the batch's mean
        padded = np.resize(ey, len(y0) + len(y1))  # the head repeated, as torch's sampler pads
        np.testing.assert_array_equal(np.concatenate([y0, y1]), padded)
        np.testing.assert_array_equal(np.concatenate([x0, x1]), x[padded])


def test_one_rank_gets_the_plain_data_loader(as_rank):
    as_rank(0, 1)
    assert type(distributed.loader(np.zeros((4, 2)), batch_size=2, seed=0)) is DataLoader


def test_a_global_batch_that_does_not_split_is_refused(as_rank):
    as_rank(1, 3)
    with pytest.raises(ValueError, match="global batch 32 does not split evenly over 3 ranks"):
        distributed.ShardedLoader(np.zeros((40, 2)), batch_size=32, seed=0)


def test_each_rank_draws_its_own_seeded_augmentation(as_rank):
    def noise(batch, rng):  # a transform whose output is only its random numbers
        return batch + rng.random(batch.shape, dtype=np.float32)
    x, y = np.zeros((24, 4), np.float32), np.arange(24)
    runs = {}
    for rank in (0, 1, 0):
        as_rank(rank, 2)
        got = _epochs(distributed.ShardedLoader(x, y, batch_size=8, seed=3, transform=noise), 2)
        if rank in runs:  # the same seed and rank repeat bit for bit
            for a, b in zip(runs[rank], got):
                np.testing.assert_array_equal(a[0], b[0])
        runs[rank] = got
    first0, first1 = runs[0][0][0], runs[1][0][0]
    assert first0.min() > 0 and not np.allclose(first0, first1)  # transformed, with other draws per rank
    # the labels are untouched and still those of the shared batches
    single = _epochs(DataLoader(x, y, batch_size=8, shuffle=True, seed=3), 2)
    for (_, ey), (_, y0), (_, y1) in zip(single, runs[0], runs[1]):
        np.testing.assert_array_equal(np.concatenate([y0, y1]), ey)


# ----------------------------------------------------------------------------- the examples under mpiexec

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One data cache for the module's runs (the first run generates the quick splits)."""
    cache = tmp_path_factory.mktemp("cache")
    return dict(os.environ, TINYGRAD5_CACHE=str(cache), MPLBACKEND="Agg")


def _launch(script: str, flags: list[str], tmp_path: Path, env: dict,
            ranks: int = 2) -> tuple[subprocess.CompletedProcess, list[Path]]:
    """`mpiexec` with one block per rank, each in its own folder, all writing to the relative --out."""
    cmd, dirs = [MPIEXEC], []
    for rank in range(ranks):
        d = tmp_path / f"rank{rank}"
        d.mkdir()
        dirs.append(d)
        cmd += (["-n", "1", "-wdir", str(d), sys.executable, str(EXAMPLES / f"{script}.py"), "--distributed",
                 "--quick", "--no-progress", "--out", "out"] + flags + ([":"] if rank < ranks - 1 else []))
    # the timeout guards against a hang (a failure), it times nothing
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300), dirs


def _summary(stdout: str, name: str) -> dict[str, float]:
    found = SUMMARY.findall(stdout)
    assert len(found) == 1 and found[0][0] == name, f"expected one {name} summary line (rank 0's):\n{stdout}"
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.]+)", found[0][1])}


def _only_rank0_wrote(dirs: list[Path], names: list[str]) -> None:
    for name in names:
        assert (dirs[0] / "out" / name).stat().st_size > 0, f"rank 0 did not write {name}"
    for d in dirs[1:]:
        assert not any(d.iterdir()), f"rank {dirs.index(d)} wrote {sorted(p.name for p in d.rglob('*'))}"


@needs_mpi
def test_mlp_two_ranks_match_one_process(tmp_path, env):
    one = subprocess.run([sys.executable, str(EXAMPLES / "mlp_nist36.py"), "--quick", "--no-progress",
                          "--augment", "none", "--out", str(tmp_path / "single")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two, dirs = _launch("mlp_nist36", ["--augment", "none"], tmp_path, env)
    assert two.returncode == 0, two.stdout + two.stderr
    assert two.stdout.count("data: synthetic") == 1 and "augment none; 2 ranks, 16 of each batch of 32" in two.stdout
    _only_rank0_wrote(dirs, ["model.npz", "history.json", "curves.png", "confusion.png"])
    # Both runs see the same global batches (the ranks share the single process's permutations), so
    # the only difference is float32 summation order: the batch gradient is two half-batch sums
    # added by the allreduce. Weights then agree to ~1e-6 relative, and an accuracy may differ by a
    # sample at most, where a prediction sits within rounding of a tie: 1/288 (the quick valid and
    # test splits; 1/720 for train) plus the summary's 4-decimal rounding.
    a, b = _summary(one.stdout, "mlp"), _summary(two.stdout, "mlp")
    for k in ("train_acc", "valid_acc", "test_acc"):
        assert abs(a[k] - b[k]) <= 1 / 288 + 1e-4, (k, a[k], b[k])
    ha = json.loads((tmp_path / "single" / "history.json").read_text())
    hb = json.loads((dirs[0] / "out" / "history.json").read_text())
    np.testing.assert_allclose(hb["train_loss"], ha["train_loss"], rtol=1e-5)
    wa = tg.load(tmp_path / "single" / "model.npz")["model"]
    wb = tg.load(dirs[0] / "out" / "model.npz")["model"]
    for k in wa:
        np.testing.assert_allclose(wb[k], wa[k], rtol=1e-4, atol=1e-6, err_msg=k)


@needs_mpi
def test_convnet_two_ranks_with_its_default_augmentation(tmp_path, env):
    # No cross-check of the figures: two quick ConvNet epochs (SGD, momentum 0.9) amplify float32
    # rounding, so even the numpy and numba backends end with weights 40% apart.
    res, dirs = _launch("convnet_nist36", [], tmp_path, env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"augment {convnet_nist36.AUGMENT}; 2 ranks" in res.stdout
    figures = _summary(res.stdout, "convnet")
    assert 0.0 <= figures["valid_acc"] <= 1.0
    _only_rank0_wrote(dirs, ["model.npz", "history.json", "curves.png", "confusion.png", "compare.png"])
    meta = tg.load(dirs[0] / "out" / "model.npz")["meta"]
    assert meta["arch"] == "convnet" and meta["augment"] == convnet_nist36.AUGMENT


@needs_mpi
def test_autoencoder_two_ranks_on_augmented_batches(tmp_path, env):
    res, dirs = _launch("autoencoder_nist36", ["--augment", "light"], tmp_path, env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "augment light; 2 ranks, 6 of each batch of 12" in res.stdout
    assert 5.0 < _summary(res.stdout, "autoencoder")["valid_psnr"] < 40.0
    _only_rank0_wrote(dirs, ["model.npz", "loss.png", "reconstructions.png"])


@needs_mpi
def test_a_batch_that_does_not_split_over_the_ranks_is_refused(tmp_path, env):
    res, _ = _launch("mlp_nist36", ["--batch-size", "33"], tmp_path, env)
    assert res.returncode != 0
    assert "the global batch 33 does not split evenly over 2 ranks" in res.stderr
    assert "Traceback" not in res.stderr
