"""RMSprop, AdamW, Adagrad, Adadelta (and Adam's new options) and the lr schedulers against torch over
20 steps from the same weights and gradients; their state dicts through tg.save / tg.load."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn, optim
from tinygrad5.optim import lr_scheduler as sched

SHAPES = [(5, 3), (4,), (2, 2, 3)]

# name -> list of (kwargs for the first group, extra kwargs for a second group)
CONFIGS = {
    "RMSprop": [dict(), dict(lr=1e-3, alpha=0.9, eps=1e-6), dict(momentum=0.9, weight_decay=0.1),
                dict(centered=True, lr=3e-3), dict(centered=True, momentum=0.5, weight_decay=1e-2, maximize=True)],
    "AdamW": [dict(), dict(lr=1e-2, weight_decay=0.1, betas=(0.8, 0.9)), dict(amsgrad=True, lr=5e-3),
              dict(amsgrad=True, weight_decay=0.0, eps=1e-6, maximize=True)],
    "Adam": [dict(amsgrad=True, lr=1e-2, weight_decay=1e-2), dict(maximize=True, lr=1e-2),
             dict(decoupled_weight_decay=True, weight_decay=0.1, lr=1e-2)],
    "Adagrad": [dict(), dict(lr=0.1, lr_decay=0.05), dict(weight_decay=0.1, initial_accumulator_value=0.5),
                dict(eps=1e-6, lr_decay=1e-3, maximize=True)],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.95), dict(weight_decay=0.1, eps=1e-4),
                 dict(rho=0.5, maximize=True)],
}
CASES = [(name, i) for name, cfgs in CONFIGS.items() for i in range(len(cfgs))]


def _weights_and_grads(seed: int, dtype):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[(rng.normal(size=s) * rng.choice([0.01, 1.0, 10.0])).astype(dtype) for s in SHAPES]
             for _ in range(20)]
    return w0, grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,i", CASES)
def test_optimizer_matches_torch_over_20_steps(name, i, dtype):
    torch = pytest.importorskip("torch")
    kw = CONFIGS[name][i]
    w0, grads = _weights_and_grads(100 + i, dtype)
    ours = [nn.Parameter(w.copy()) for w in w0]
    theirs = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
    # two groups: the second overrides the lr, as a param group may
    lr2 = kw.get("lr", 1.0) * 0.5
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], "lr": lr2}], **kw)
    ref = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": lr2}], **kw)
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    for step, gs in enumerate(grads):
        for p, q, g in zip(ours, theirs, gs):
            p.grad = tg.Tensor(g.copy())
            q.grad = torch.from_numpy(g.copy())
        opt.step()
        ref.step()
        for k, (p, q) in enumerate(zip(ours, theirs)):
            assert p.data.dtype == dtype
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=rtol * 1e-2,
                                       err_msg=f"{name}{kw} step {step} parameter {k}")
    # the saved state has torch's names and values
    ours_sd, ref_sd = opt.state_dict(), ref.state_dict()
    assert sorted(ours_sd["state"]) == sorted(ref_sd["state"])
    for k, st in ref_sd["state"].items():
        assert set(ours_sd["state"][k]) == set(st), f"{name}: state names {set(ours_sd['state'][k])} vs {set(st)}"
        for key, v in st.items():
            np.testing.assert_allclose(np.asarray(ours_sd["state"][k][key]), np.asarray(v), rtol=rtol * 10,
                                       atol=1e-12)
    for g_ours, g_ref in zip(ours_sd["param_groups"], ref_sd["param_groups"]):
        for key in ("lr", "eps", "weight_decay", "maximize", "amsgrad", "alpha", "momentum", "centered",
                    "lr_decay", "initial_accumulator_value", "rho", "betas"):
            if key in g_ref and key in g_ours:
                assert g_ours[key] == (list(g_ref[key]) if isinstance(g_ref[key], tuple) else g_ref[key]), key


def test_torch_defaults():
    torch = pytest.importorskip("torch")
    p = nn.Parameter(np.zeros(2))
    q = torch.nn.Parameter(torch.zeros(2))
    for name in ("RMSprop", "AdamW", "Adagrad", "Adadelta", "Adam"):
        ours = getattr(optim, name)([p]).param_groups[0]
        ref = getattr(torch.optim, name)([q]).param_groups[0]
        for k, v in ours.items():
            if k in ref and k != "params":
                assert v == ref[k], f"{name} default {k}: {v} vs torch {ref[k]}"


SCHEDULES = {
    "StepLR": dict(step_size=3, gamma=0.5),
    "MultiStepLR": dict(milestones=[2, 5, 5, 11], gamma=0.3),
    "ExponentialLR": dict(gamma=0.9),
    "CosineAnnealingLR": dict(T_max=7, eta_min=1e-3),
}
SCHEDULE_CASES = list(SCHEDULES.items()) + [("CosineAnnealingLR", dict(T_max=4)),
                                            ("MultiStepLR", dict(milestones=[8, 3]))]


@pytest.mark.parametrize("name,kw", SCHEDULE_CASES)
def test_scheduler_matches_torch_over_30_epochs(name, kw):
    torch = pytest.importorskip("torch")
    ours_opt = optim.SGD([{"params": [nn.Parameter(np.zeros(1))]},
                          {"params": [nn.Parameter(np.zeros(1))], "lr": 0.05}], lr=0.2, momentum=0.9)
    ref_opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))]},
                               {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.05}], lr=0.2, momentum=0.9)
    ours, ref = getattr(sched, name)(ours_opt, **kw), getattr(torch.optim.lr_scheduler, name)(ref_opt, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "scheduler before optimizer.step()" warning
        for epoch in range(30):
            np.testing.assert_allclose(ours.get_last_lr(), ref.get_last_lr(), rtol=1e-12, err_msg=f"epoch {epoch}")
            assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx(ref.get_last_lr(), rel=1e-12)
            ref_opt.step()
            ours.step()
            ref.step()
        # torch's deprecated step(epoch) jumps by the closed form
        for epoch in (3, 17, 4, 0, 25):
            ours.step(epoch)
            ref.step(epoch)
            np.testing.assert_allclose(ours.get_last_lr(), ref.get_last_lr(), rtol=1e-12, err_msg=f"step({epoch})")


def test_cosine_resumed_with_last_epoch_matches_torch():
    torch = pytest.importorskip("torch")
    ours_opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for g in ours_opt.param_groups + ref_opt.param_groups:
        g["initial_lr"] = 1.0
    ours = sched.CosineAnnealingLR(ours_opt, T_max=10, last_epoch=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=10, last_epoch=4)
        for _ in range(12):
            np.testing.assert_allclose(ours.get_last_lr(), ref.get_last_lr(), rtol=1e-12)
            ref_opt.step()
            ours.step()
            ref.step()
    with pytest.raises(KeyError, match="no 'initial_lr'"):
        sched.ExponentialLR(optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1), gamma=0.5, last_epoch=3)


# ---- checkpoints (no torch needed) -----------------------------------------------------------------
MAKERS = {
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.9, centered=True, weight_decay=1e-3),
    "AdamW": lambda ps: optim.AdamW(ps, lr=1e-2, amsgrad=True),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    "Adadelta": lambda ps: optim.Adadelta(ps, weight_decay=1e-3),
}
SCHEDS = {
    "MultiStepLR": lambda o: sched.MultiStepLR(o, milestones=[2, 4, 4], gamma=0.5),
    "ExponentialLR": lambda o: sched.ExponentialLR(o, gamma=0.8),
    "CosineAnnealingLR": lambda o: sched.CosineAnnealingLR(o, T_max=3, eta_min=1e-4),
}


def _net():
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def _epochs(net, opt, sch, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        for _ in range(2):
            x, y = tg.Tensor(rng.normal(size=(8, 4)).astype(np.float32)), rng.integers(0, 3, 8)
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        sch.step()


@pytest.mark.parametrize("opt_name,sched_name", [("RMSprop", "MultiStepLR"), ("AdamW", "CosineAnnealingLR"),
                                                 ("Adagrad", "ExponentialLR"), ("Adadelta", "CosineAnnealingLR")])
def test_state_dicts_round_trip_through_save_and_load(tmp_path, opt_name, sched_name):
    tg.manual_seed(0)
    net = _net()
    opt = MAKERS[opt_name](net.parameters())
    sch = SCHEDS[sched_name](opt)
    _epochs(net, opt, sch, 3, seed=1)
    path = tmp_path / "ckpt.npz"
    tg.save({"model": net.state_dict(), "optim": opt.state_dict(), "sched": sch.state_dict()}, path)
    _epochs(net, opt, sch, 3, seed=2)

    ck = tg.load(path)
    twin = _net()
    twin.load_state_dict(ck["model"])
    twin_opt = MAKERS[opt_name](twin.parameters())
    twin_sch = SCHEDS[sched_name](twin_opt)
    twin_opt.load_state_dict(ck["optim"])
    twin_sch.load_state_dict(ck["sched"])
    assert twin_sch.last_epoch == 3 and twin_opt.param_groups[0]["lr"] == ck["sched"]["_last_lr"][0]
    _epochs(twin, twin_opt, twin_sch, 3, seed=2)
    assert twin_sch.get_last_lr() == sch.get_last_lr()
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.RMSprop(p, alpha=-0.1), "invalid alpha -0.1"),
    (lambda p: optim.RMSprop(p, momentum=-1), "invalid momentum -1"),
    (lambda p: optim.AdamW(p, betas=(0.9, 1.5)), r"AdamW betas must be in \[0, 1\)"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "invalid lr_decay -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "invalid initial_accumulator_value"),
    (lambda p: optim.Adadelta(p, rho=1.5), r"invalid rho 1.5 \(must be in \[0, 1\]\)"),
    (lambda p: optim.Adadelta(p, lr=-1), "invalid learning rate -1"),
])
def test_invalid_hyperparameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(np.zeros(2))])


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="T_max must be a positive int"):
        sched.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="milestones must be ints"):
        sched.MultiStepLR(opt, milestones=[1.5])
    with pytest.raises(TypeError, match="needs an Optimizer, got list"):
        sched.ExponentialLR([], gamma=0.5)
