"""optim.swa_utils: AveragedModel and the SWA/EMA averaging functions, against torch's bits and by hand."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.optim import swa_utils

K = 5  # updates per run


def _ours() -> nn.Module:
    # 300 inputs: nn.Linear stores such a weight column-major, so the tests also see that layout kept
    return nn.Sequential(nn.Linear(300, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _theirs():
    import torch
    return torch.nn.Sequential(torch.nn.Linear(300, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 3))


def _snapshots(seed: int = 0, k: int = K) -> list[dict[str, np.ndarray]]:
    """k random states of _ours() (weights with a spread of magnitudes, positive variances, a growing count)."""
    rng = np.random.default_rng(seed)
    shapes = {name: a.shape for name, a in _ours().state_dict().items()}
    snaps = []
    for i in range(k):
        s = {n: (rng.normal(size=sh) * rng.choice([1e-3, 1.0, 30.0])).astype(np.float32) for n, sh in shapes.items()}
        s["1.running_var"] = np.abs(s["1.running_var"]) + np.float32(0.1)
        s["1.num_batches_tracked"] = np.array(2 * (i + 1), np.int64)
        snaps.append(s)
    return snaps


def _run_ours(snaps, **kwargs) -> swa_utils.AveragedModel:
    model = _ours()
    avg = swa_utils.AveragedModel(model, **kwargs)
    for s in snaps:
        model.load_state_dict(s)
        avg.update_parameters(model)
    return avg


def _run_theirs(snaps, fns: dict | None = None, **kwargs):
    import torch
    from torch.optim import swa_utils as tsw
    model = _theirs()
    avg = tsw.AveragedModel(model, **{k: getattr(tsw, v[0])(*v[1:]) for k, v in (fns or {}).items()}, **kwargs)
    for s in snaps:
        model.load_state_dict({n: torch.from_numpy(a.copy()) for n, a in s.items()})
        avg.update_parameters(model)
    return avg


def _assert_states_equal(ours, theirs) -> None:
    a, b = ours.state_dict(), {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k]), (k, np.abs(a[k].astype(np.float64) - b[k]).max())


@pytest.mark.parametrize("use_buffers", [False, True])
def test_default_average_is_torchs_bits(use_buffers):
    pytest.importorskip("torch")
    snaps = _snapshots(1)
    _assert_states_equal(_run_ours(snaps, use_buffers=use_buffers), _run_theirs(snaps, use_buffers=use_buffers))


def test_ema_avg_fn_is_torchs_bits():
    pytest.importorskip("torch")
    snaps = _snapshots(2)
    ours = _run_ours(snaps, avg_fn=swa_utils.get_ema_avg_fn(0.9), use_buffers=True)
    _assert_states_equal(ours, _run_theirs(snaps, {"avg_fn": ("get_ema_avg_fn", 0.9)}, use_buffers=True))


@pytest.mark.parametrize("fn", [("get_ema_multi_avg_fn", 0.9), ("get_ema_multi_avg_fn", 0.3),
                                ("get_swa_multi_avg_fn",)])
def test_multi_avg_fns_match_torchs_lerp(fn):
    """torch's _foreach_lerp_ is one fused multiply-add per element on CPUs that have it (a plain multiply and
    add otherwise); ours rounds the exact float64 product-sum once to float32, so the two agree to the bit except
    where fma is absent or a float64 sum lands on a float32 tie: at most 1 ulp apart is what is asserted."""
    pytest.importorskip("torch")
    snaps = _snapshots(3)
    ours = _run_ours(snaps, multi_avg_fn=getattr(swa_utils, fn[0])(*fn[1:]))
    theirs = {k: v.numpy() for k, v in _run_theirs(snaps, {"multi_avg_fn": fn}).state_dict().items()}
    mine = ours.state_dict()
    assert list(mine) == list(theirs)
    for k, a in mine.items():
        if a.dtype == np.float32:
            np.testing.assert_array_max_ulp(a, theirs[k], maxulp=1)
        else:
            assert np.array_equal(a, theirs[k]), k


def test_default_average_is_the_mean_by_hand():
    snaps = _snapshots(4, k=7)
    avg = _run_ours(snaps, use_buffers=True)
    for name, got in avg.module.state_dict().items():
        stack = np.stack([s[name].astype(np.float64) for s in snaps])
        if name.endswith("num_batches_tracked"):  # integer state: each step's quotient truncated, as torch
            n = snaps[0][name].item()
            for j, s in enumerate(snaps[1:], start=1):
                n = int(n + (s[name].item() - n) / (j + 1))
            assert got.item() == n
            continue
        mean = stack.mean(axis=0)
        # each of the 6 running steps rounds once or twice in float32, relative to the snapshots' magnitude
        tol = 4 * len(snaps) * np.finfo(np.float32).eps * np.abs(stack).max(axis=0)
        assert np.all(np.abs(got - mean) <= tol), name
    assert avg.n_averaged.item() == 7


def test_update_keeps_parameter_objects_and_layout():
    model = _ours()
    avg = swa_utils.AveragedModel(model)
    params = list(avg.module.parameters())
    arrays = [p.data for p in params]
    w = avg.module[0].weight.data
    layout = (w.flags.f_contiguous, w.flags.c_contiguous, w.strides)
    for s in _snapshots(5):
        model.load_state_dict(s)
        avg.update_parameters(model)
    assert all(p is q for p, q in zip(params, avg.module.parameters()))
    assert all(p.data is a for p, a in zip(params, arrays))
    assert (w.flags.f_contiguous, w.flags.c_contiguous, w.strides) == layout
    assert all(p is not q for p, q in zip(avg.module.parameters(), model.parameters()))


def test_ema_fns_by_hand():
    snaps = _snapshots(6)
    for kw in ({"avg_fn": swa_utils.get_ema_avg_fn(0.75)}, {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.75)}):
        avg = _run_ours(snaps, **kw)
        ema = snaps[0]["0.weight"].astype(np.float64)
        for s in snaps[1:]:
            ema = 0.75 * ema + 0.25 * s["0.weight"]
        scale = max(np.abs(s["0.weight"]).max() for s in snaps)
        np.testing.assert_allclose(avg.module[0].weight.data, ema, rtol=0, atol=8 * K * 6e-8 * scale)


def test_avg_fn_gets_tensors_and_the_count():
    seen = []

    def avg_fn(a, b, n):
        seen.append((type(a), type(b), type(n), n.item()))
        return a * 0.5 + b * 0.5

    _run_ours(_snapshots(7, k=3), avg_fn=avg_fn)
    assert {t[:3] for t in seen} == {(tg.Tensor, tg.Tensor, tg.Tensor)}
    assert sorted({t[3] for t in seen}) == [1, 2]


@pytest.mark.parametrize("use_buffers", [False, True])
def test_buffers_follow_or_are_averaged(use_buffers):
    snaps = _snapshots(8, k=4)
    avg = _run_ours(snaps, use_buffers=use_buffers)
    bn, last = avg.module[1], snaps[-1]
    mean = np.mean([s["1.running_mean"].astype(np.float64) for s in snaps], axis=0)
    if use_buffers:
        np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-5, atol=1e-6)
        assert bn.num_batches_tracked.item() == 5  # 2; 2+(4-2)/2=3; 3+(6-3)/3=4; 4+(8-4)/4=5 (torch: 5)
    else:
        assert np.array_equal(bn.running_mean.data, last["1.running_mean"])
        assert np.array_equal(bn.running_var.data, last["1.running_var"])
        assert bn.num_batches_tracked.item() == 8


def test_state_dict_keys_and_round_trip():
    snaps = _snapshots(9)
    avg = _run_ours(snaps[:3])
    sd = avg.state_dict()
    assert list(sd) == ["n_averaged"] + ["module." + k for k in _ours().state_dict()]
    assert sd["n_averaged"].dtype == np.int64 and sd["n_averaged"].shape == () and sd["n_averaged"].item() == 3
    fresh = swa_utils.AveragedModel(_ours())
    fresh.load_state_dict(sd)
    assert fresh.n_averaged.item() == 3
    assert all(np.array_equal(a, b) for a, b in zip(fresh.state_dict().values(), sd.values()))
    model = _ours()
    for s in snaps[3:]:  # both continue the same average
        model.load_state_dict(s)
        avg.update_parameters(model)
        fresh.update_parameters(model)
    assert all(np.array_equal(a, b) for a, b in zip(fresh.state_dict().values(), avg.state_dict().values()))


def test_forward_is_the_modules():
    avg = _run_ours(_snapshots(10, k=2)).eval()
    x = tg.Tensor(np.random.default_rng(0).normal(size=(4, 300)).astype(np.float32))
    with tg.no_grad():
        assert np.array_equal(avg(x).data, avg.module(x).data)


def test_device_cpu_only():
    assert isinstance(swa_utils.AveragedModel(_ours(), device="cpu").module, nn.Sequential)
    assert swa_utils.AveragedModel(_ours(), device=tg.device("cpu")).n_averaged.item() == 0
    with pytest.raises(RuntimeError, match="cuda"):
        swa_utils.AveragedModel(_ours(), device="cuda")


def test_errors():
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(_ours(), avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for fn in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        for decay in (-0.1, 1.5):
            with pytest.raises(ValueError, match=r"Invalid decay value .* \[0,1\] range"):
                fn(decay)
        fn(0.0), fn(1.0)
    avg = swa_utils.AveragedModel(_ours())
    wide = nn.Sequential(nn.Linear(300, 9), nn.BatchNorm1d(9), nn.ReLU(), nn.Linear(9, 3))
    before = [p.data.copy() for p in avg.module.parameters()]
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(8, 300\) .* shape \(9, 300\)"):
        avg.update_parameters(wide)
    with pytest.raises(ValueError, match="4 parameters"):
        avg.update_parameters(nn.Sequential(nn.Linear(300, 8), nn.Linear(8, 3)))
    assert avg.n_averaged.item() == 0
    assert all(np.array_equal(a, p.data) for a, p in zip(before, avg.module.parameters()))
    ints = swa_utils.AveragedModel(_ours(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn(), use_buffers=True)
    model = _ours()
    ints.update_parameters(model)
    with pytest.raises(RuntimeError, match="int64"):
        ints.update_parameters(model)
    for name in ("SWALR", "update_bn"):  # out of scope: absent, so asking for them fails loudly
        with pytest.raises(AttributeError):
            getattr(swa_utils, name)


def test_exported_like_torch():
    import tinygrad5 as torch
    assert torch.optim.swa_utils.AveragedModel is swa_utils.AveragedModel
    assert "swa_utils" in torch.optim.__all__
