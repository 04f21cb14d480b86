"""Data-parallel training over MPI: 2 ranks launched with mpiexec from the test, on scripts written to
tmp_path, compared with one process; the sampler's shards; faults; the post-accumulate-grad hook."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5.distributed import find_mpiexec, local_world_size
from tinygrad5.utils.data.distributed import DistributedSampler

ROOT = Path(tg.__file__).resolve().parents[1]
MPIEXEC = find_mpiexec()
try:
    import mpi4py  # noqa: F401
    HAVE_MPI4PY = True
except ImportError:
    HAVE_MPI4PY = False
needs_mpi = pytest.mark.skipif(not (HAVE_MPI4PY and MPIEXEC),
                               reason="needs mpi4py and mpiexec (pip install mpi4py mpich)")


def _run(tmp_path: Path, name: str, body: str, ranks: int | None = 2, timeout: float = 120,
         check: bool = True) -> subprocess.CompletedProcess:
    """Write `body` to tmp_path/name and run it under `mpiexec -n ranks` (plain python if ranks is None)."""
    script = tmp_path / name
    script.write_text(textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, str(script)]
    if ranks is not None:
        cmd = [MPIEXEC, "-n", str(ranks)] + cmd
    # the timeout guards against a hang (a test failure), it does not time anything
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"{cmd} failed:\n{res.stdout}\n{res.stderr}"
    return res


TRAIN = """
    import sys
    import numpy as np
    import tinygrad5 as tg
    import tinygrad5.distributed as dist
    from tinygrad5 import nn
    from tinygrad5.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    tg.manual_seed(100 + rank)  # different seeds: the wrapper must copy rank 0's weights
    # 20 > 12 inputs: a column-major weight; a conv: 4-d weights
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 12), nn.Sigmoid(),
                          nn.Linear(12, 20), nn.Sigmoid(), nn.Linear(20, 5))
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.002)  # several buckets
    opt = tg.optim.SGD(ddp.parameters(), lr=0.5, momentum=0.9)
    rng = np.random.default_rng(0)
    batch = 16
    for step in range(20):
        x = rng.standard_normal((batch, 1, 6, 6)).astype(np.float32)
        y = rng.integers(0, 5, batch)
        lo, hi = rank * batch // world, (rank + 1) * batch // world  # this rank's half of the batch
        loss = tg.cross_entropy(ddp(tg.Tensor(x[lo:hi])), y[lo:hi], reduction="mean")
        opt.zero_grad()
        loss.backward()
        opt.step()
    flat = np.concatenate([p.data.ravel() for p in model.parameters()])
    ref = flat.copy()
    dist.broadcast(ref, src=0)
    assert np.array_equal(flat, ref), f"rank {rank} ended with other weights than rank 0"
    if rank == 0:  # only rank 0 writes the checkpoint
        tg.save({"model": ddp.state_dict()}, sys.argv[1] if len(sys.argv) > 1 else f"ckpt_world{world}.npz")
    tg.threads.ensure_policy()  # what the numba backend does at first use (the numpy backend never does)
    print(f"rank {rank} of {world} threads {tg.get_num_threads()} buckets {len(ddp._buckets)}")
"""


@needs_mpi
def test_two_ranks_with_half_batches_match_one_process(tmp_path):
    two = _run(tmp_path, "train.py", TRAIN, ranks=2)
    one = _run(tmp_path, "train.py", TRAIN, ranks=None)  # not under mpiexec: a world of 1
    assert "rank 0 of 2" in two.stdout and "rank 1 of 2" in two.stdout
    assert "rank 0 of 1" in one.stdout
    threads = [int(t) for t in re.findall(r"rank \d of 2 threads (\d+)", two.stdout)]  # lines may interleave
    assert threads == [max(1, tg.threads.max_threads() // 2)] * 2  # the two ranks share the cores
    assert sorted(p.name for p in tmp_path.glob("ckpt_*.npz")) == ["ckpt_world1.npz", "ckpt_world2.npz"]
    a, b = tg.load(tmp_path / "ckpt_world2.npz")["model"], tg.load(tmp_path / "ckpt_world1.npz")["model"]
    assert list(a) == ["0.weight", "0.bias", "3.weight", "3.bias", "5.weight", "5.bias", "7.weight", "7.bias"]
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-6, err_msg=k)
    model = tg.nn.Sequential(tg.nn.Conv2d(1, 3, 3), tg.nn.ReLU(), tg.nn.Flatten(), tg.nn.Linear(48, 12),
                             tg.nn.Sigmoid(), tg.nn.Linear(12, 20), tg.nn.Sigmoid(), tg.nn.Linear(20, 5))
    model.load_state_dict(a)  # the 2-rank checkpoint resumes in one process


@needs_mpi
def test_example_helpers_split_the_global_batch(tmp_path):
    body = f"""
        import sys
        sys.path.insert(0, {str(ROOT / "examples")!r})
        import numpy as np
        import tinygrad5 as tg
        import distributed
        from argparse import Namespace
        from tinygrad5.data import DataLoader
        args = Namespace(distributed=len(sys.argv) > 1, no_progress=False)
        rank, world = distributed.setup(args)
        tg.manual_seed(3 + rank)
        model = distributed.wrap(tg.nn.Sequential(tg.nn.Linear(6, 8), tg.nn.Sigmoid(), tg.nn.Linear(8, 3)))
        opt = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
        rng = np.random.default_rng(1)
        x, y = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 3, 40)
        loss_sum = 0.0
        for epoch in range(3):
            xs, ys = distributed.shard(x, y, epoch, seed=5)
            for xb, yb in DataLoader(xs, ys, batch_size=distributed.local_batch(8), shuffle=False):
                loss = tg.cross_entropy(model(xb), yb, reduction="sum")
                opt.zero_grad()
                (loss * distributed.loss_scale("sum")).backward()
                opt.step()
                loss_sum += loss.item()
        total = distributed.all_sum(loss_sum)
        if distributed.is_main():
            tg.save({{"model": distributed.unwrap(model).state_dict()}}, f"helpers_world{{world}}.npz")
            print(f"world {{world}} no_progress {{args.no_progress}} loss {{total:.6f}}")
        elif not args.no_progress:
            raise SystemExit("rank 1 should be quiet")
    """
    two = _run(tmp_path, "helpers.py", body.replace("sys.argv) > 1", "sys.argv) > 0"), ranks=2)
    one = _run(tmp_path, "helpers.py", body, ranks=None)
    assert two.stdout.count("world 2") == 1 and "world 1 no_progress False" in one.stdout
    la, lb = float(two.stdout.split()[-1]), float(one.stdout.split()[-1])
    assert la == pytest.approx(lb, rel=1e-4)
    a, b = tg.load(tmp_path / "helpers_world2.npz")["model"], tg.load(tmp_path / "helpers_world1.npz")["model"]
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-6, err_msg=k)


@needs_mpi
def test_exception_on_one_rank_ends_the_job_with_its_traceback(tmp_path):
    res = _run(tmp_path, "fail.py", """
        import tinygrad5.distributed as dist
        dist.init_process_group("mpi")
        if dist.get_rank() == 1:
            raise ValueError("rank one broke on purpose")
        dist.barrier()  # rank 0 would wait here forever without the abort
        print("rank 0 passed the barrier")
    """, timeout=60, check=False)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "ValueError: rank one broke on purpose" in out and "fail.py" in out
    assert "rank 0 passed the barrier" not in out


@needs_mpi
def test_mismatched_models_are_refused_on_every_rank_and_collectives_work(tmp_path):
    res = _run(tmp_path, "mismatch.py", """
        import numpy as np
        import tinygrad5 as tg
        import tinygrad5.distributed as dist
        from tinygrad5 import nn
        from tinygrad5.nn.parallel import DistributedDataParallel
        dist.init_process_group("mpi")
        rank = dist.get_rank()
        t = tg.Tensor(np.array([1.0, 2.0, 3.0], np.float32) * (rank + 1))
        dist.all_reduce(t)
        assert t.data.tolist() == [3.0, 6.0, 9.0], t
        m = tg.Tensor(np.array([rank, -rank], np.int64))
        dist.all_reduce(m, op=dist.ReduceOp.MAX)
        assert m.data.tolist() == [1, 0], m
        f = np.asfortranarray(np.arange(6.0).reshape(2, 3) * (rank + 1))
        dist.broadcast(f, src=1)
        assert f.tolist() == [[0, 2, 4], [6, 8, 10]] and f.flags.f_contiguous, f
        try:
            DistributedDataParallel(nn.Sequential(nn.Linear(8, 4 + rank)))
        except ValueError as e:
            print(f"rank {rank} refused: {e}")
        dist.barrier()
        dist.destroy_process_group()
        assert not dist.is_initialized()
    """, timeout=60)
    for rank in (0, 1):
        # mpiexec may interleave the two ranks' lines, so each message is found by its ends
        found = re.search(rf"rank {rank} refused: (.*?)every rank\.", res.stdout, re.S)
        assert found, res.stdout + res.stderr
        line = found.group(1)
        assert "'0.weight'" in line and "(5, 8)" in line and "(4, 8)" in line


def test_missing_mpi4py_is_named(monkeypatch):
    import tinygrad5.distributed as dist
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    assert not dist.is_available()
    with pytest.raises(ImportError, match="mpi4py"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend"):
        dist.init_process_group("nccl")


def test_distributed_is_reachable_like_torchs():
    import importlib.util
    assert tg.distributed is sys.modules["tinygrad5.distributed"]
    assert tg.distributed.is_available() == (importlib.util.find_spec("mpi4py") is not None)


def test_local_world_size_reads_the_launcher(monkeypatch):
    for var in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"):
        monkeypatch.delenv(var, raising=False)
    assert local_world_size() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3")
    assert local_world_size() == 3


# ---- the sampler (no MPI needed) -------------------------------------------------------------------
@pytest.mark.parametrize("n,world,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (2, 3, False),
                                               (101, 2, False)])
def test_sampler_shards_are_disjoint_and_cover_the_epoch(n, world, drop_last):
    shards = [DistributedSampler(range(n), num_replicas=world, rank=r, seed=7, drop_last=drop_last)
              for r in range(world)]
    for s in shards:
        s.set_epoch(3)
    idx = [s.indices() for s in shards]
    assert len({len(i) for i in idx}) == 1 and all(len(i) == len(s) for i, s in zip(idx, shards))
    allidx = np.concatenate(idx)
    if drop_last:
        assert len(set(allidx.tolist())) == len(allidx) == (n // world) * world  # disjoint, tail dropped
    else:
        assert set(allidx.tolist()) == set(range(n))  # covers the epoch
        pad = len(allidx) - n
        assert 0 <= pad < world and len(set(allidx.tolist())) == n  # only the padding repeats
        if n >= world:
            assert len(allidx) == len(set(allidx.tolist())) + pad
    assert list(shards[0]) == idx[0].tolist()


def test_sampler_epochs_and_seeds_change_the_order_the_same_on_every_rank():
    a, b = DistributedSampler(range(50), 2, 0, seed=1), DistributedSampler(range(50), 2, 1, seed=1)
    e0 = np.concatenate([a.indices(), b.indices()])
    a.set_epoch(1), b.set_epoch(1)
    e1 = np.concatenate([a.indices(), b.indices()])
    assert sorted(e0.tolist()) == sorted(e1.tolist()) == list(range(50)) and not np.array_equal(e0, e1)
    plain = DistributedSampler(range(7), 2, 1, shuffle=False)
    assert plain.indices().tolist() == [1, 3, 5, 0]  # padded with the head, as torch does


def test_sampler_matches_torch_without_shuffle():
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for n, world, drop in [(10, 3, False), (10, 3, True), (5, 4, False), (2, 3, False)]:
        for r in range(world):
            ours = DistributedSampler(range(n), world, r, shuffle=False, drop_last=drop)
            theirs = TorchSampler(range(n), world, r, shuffle=False, drop_last=drop)
            assert ours.indices().tolist() == list(theirs) and len(ours) == len(theirs)
    del torch


def test_sampler_shards_arrays_for_the_array_loader():
    from tinygrad5.data import DataLoader
    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11)
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(x, num_replicas=2, rank=rank, seed=0)
        sampler.set_epoch(5)
        idx = sampler.indices()  # this rank's rows; the array DataLoader batches them
        for xb, yb in DataLoader(x[idx], y[idx], batch_size=4, seed=rank):
            assert np.array_equal(xb.data[:, 0], 2 * yb.data)
            seen += yb.data.tolist()
    assert sorted(set(seen)) == list(range(11)) and len(seen) == 12


def test_sampler_drives_the_map_style_data_loader():
    from tinygrad5.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(tg.Tensor(np.arange(10.0).reshape(10, 1)), tg.Tensor(np.arange(10)))
    got = []
    for rank in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=rank, seed=4)
        sampler.set_epoch(1)
        labels = [int(v) for _, yb in DataLoader(ds, batch_size=3, sampler=sampler) for v in yb.data]
        assert labels == sampler.indices().tolist()
        got += labels
    assert sorted(set(got)) == list(range(10)) and len(got) == 12


def test_sampler_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(range(5), num_replicas=2, rank=2)
    with pytest.raises(TypeError, match="__len__"):
        DistributedSampler(iter(range(5)), num_replicas=2, rank=0)
    import tinygrad5.distributed as dist
    if not dist.is_initialized():
        with pytest.raises(RuntimeError, match="init_process_group"):
            DistributedSampler(range(5))


# ---- the engine hook DistributedDataParallel relies on ----------------------------------------------
def test_post_accumulate_grad_hook_sees_the_accumulated_gradient():
    w = tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(float(t.grad.data.sum())))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [12.0, 30.0]  # after each backward, with the running sum
    handle.remove()
    handle.remove()
    (w * 3).sum().backward()
    assert seen == [12.0, 30.0]
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
