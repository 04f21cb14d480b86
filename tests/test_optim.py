"""SGD and Adam update rules by hand, state_dict resume, validation, StepLR, and flat memory."""

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn, optim
from tinygrad5.optim.lr_scheduler import StepLR
from tests.memory import assert_memory_flat


def param(values):
    return nn.Parameter(np.array(values, np.float64))


def set_grad(p, g):
    p.grad = tg.Tensor(np.array(g, np.float64))


def test_sgd_plain_momentum_dampening_nesterov_weight_decay_by_hand():
    p = param([1.0, -2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 0.25])
    w = p.data.copy()
    set_grad(p, g1)
    opt.step()
    d1 = g1 + 0.01 * w
    w1 = w - 0.1 * d1  # first step: buffer = d, no dampening
    np.testing.assert_allclose(p.data, w1)
    set_grad(p, g2)
    opt.step()
    b2 = 0.9 * d1 + 0.5 * (g2 + 0.01 * w1)
    np.testing.assert_allclose(p.data, w1 - 0.1 * b2)

    q = param([1.0, -2.0])
    opt = optim.SGD([q], lr=0.1, momentum=0.9, nesterov=True)
    for g in (g1, g2):
        set_grad(q, g)
        opt.step()
    b1 = g1
    after1 = np.array([1.0, -2.0]) - 0.1 * (g1 + 0.9 * b1)
    b2 = 0.9 * b1 + g2
    np.testing.assert_allclose(q.data, after1 - 0.1 * (g2 + 0.9 * b2))

    # a group edited (or loaded) past the constructor's check still applies its dampening, as torch does
    r = param([1.0, -2.0])
    opt = optim.SGD([r], lr=0.1, momentum=0.9, nesterov=True)
    opt.param_groups[0]["dampening"] = 0.5
    for g in (g1, g2):
        set_grad(r, g)
        opt.step()
    b2 = 0.9 * b1 + 0.5 * g2
    np.testing.assert_allclose(r.data, after1 - 0.1 * (g2 + 0.9 * b2))


def test_homework_momentum_form_equals_sgd_momentum():
    tg.manual_seed(0)
    w0 = np.random.default_rng(0).normal(size=(3, 2))
    grads = np.random.default_rng(1).normal(size=(6, 3, 2))
    p = param(w0)
    opt = optim.SGD([p], lr=0.05, momentum=0.9)
    W, M = w0.copy(), np.zeros_like(w0)
    for g in grads:
        M = 0.9 * M - 0.05 * g  # the homework's Q5 update
        W = W + M
        set_grad(p, g)
        opt.step()
    np.testing.assert_allclose(p.data, W, rtol=1e-12)


def test_adam_by_hand_with_weight_decay():
    p = param([0.5, -1.5, 2.0])
    opt = optim.Adam([p], lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)
    w, m, v = p.data.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate([np.array([0.1, -0.2, 0.3]), np.array([1.0, 0.0, -2.0]), np.array([0.0, 0.5, 0.5])], 1):
        set_grad(p, g)
        opt.step()
        g = g + 0.1 * w
        m, v = 0.8 * m + 0.2 * g, 0.9 * v + 0.1 * g * g
        w = w - 0.01 / (1 - 0.8 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.9 ** t) + 1e-6)
        np.testing.assert_allclose(p.data, w, rtol=1e-12)
    assert opt.state[p]["step"] == 3


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
                                  lambda ps: optim.Adam(ps, weight_decay=0.1)])
def test_step_is_in_place_no_graph_and_leaves_shared_grads_alone(make):
    a, b = param([1.0, 2.0]), param([3.0, 4.0])
    shared = tg.Tensor(np.array([0.5, -0.5]))
    a.grad = b.grad = shared  # two parameters sharing one gradient buffer
    arr_a = a.data
    opt = make([a, b])
    opt.step()
    opt.step()
    np.testing.assert_array_equal(shared.data, [0.5, -0.5])
    assert a.data is arr_a and a.is_leaf and a.requires_grad
    c = param([9.0])  # no grad: untouched
    make([c]).step()
    assert c.data[0] == 9.0


def test_zero_grad_and_param_groups():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    set_grad(a, [3.0])
    grad = a.grad
    opt.zero_grad(set_to_none=False)  # torch: zeros written into the same gradient, missing ones stay None
    assert a.grad is grad and a.grad.data.tolist() == [0.0] and b.grad is None


def test_validation_errors():
    p = param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="invalid learning rate -1"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="betas must be in"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="appears in more than one place"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(2,\)\) must be a leaf"):
        optim.SGD([tg.Tensor([1.0, 2.0])], lr=0.1)


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = tg.Tensor(rng.normal(size=(8, 4)).astype(np.float32)), rng.integers(0, 3, 8)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1),
                                  lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3)])
def test_state_dict_resume_matches_uninterrupted_training(make):
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    opt = make(net.parameters())
    _train(net, opt, 5, seed=1)
    msd, osd = net.state_dict(), opt.state_dict()
    assert set(osd) == {"state", "param_groups"} and osd["param_groups"][0]["params"] == [0, 1, 2, 3]
    _train(net, opt, 5, seed=2)
    twin = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    twin.load_state_dict(msd)
    twin_opt = make(twin.parameters())
    twin_opt.load_state_dict(osd)
    _train(twin, twin_opt, 5, seed=2)
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_keeps_updating_the_arrays_a_model_and_optimizer_hold_after_loading(momentum):
    # the numba backend keeps checked views of the parameters and buffers between steps: after
    # load_state_dict (new buffers) or a parameter whose array is replaced, it must use the new ones
    tg.manual_seed(0)
    net, twin = (nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)) for _ in range(2))
    twin.load_state_dict(net.state_dict())
    opt, twin_opt = (optim.SGD(m.parameters(), lr=0.1, momentum=momentum) for m in (net, twin))
    _train(net, opt, 3, seed=1)
    _train(twin, twin_opt, 3, seed=1)
    opt.load_state_dict(opt.state_dict())
    w = net[0].weight
    w.data = w.data.copy()  # the same values in a new array
    before = w.data.copy()
    _train(net, opt, 3, seed=2)
    _train(twin, twin_opt, 3, seed=2)
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(w.data, before)  # the new array is the one that trained


def test_optimizer_load_state_dict_mismatches():
    opt = optim.Adam([param([1.0, 2.0]), param([3.0])])
    for p in opt._all_params():
        set_grad(p, np.ones(p.shape))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="group 0 has 2 parameters, this optimizer's has 1"):
        optim.Adam([param([1.0, 2.0])]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(2,\) but the parameter has shape \(3,\)"):
        optim.Adam([param([1.0, 2.0, 3.0]), param([3.0])]).load_state_dict(sd)


def test_step_lr_schedule_and_state():
    opt = optim.SGD([param([1.0])], lr=1.0)
    sched = StepLR(opt, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(8):
        lrs.append(sched.get_last_lr()[0])
        sched.step()
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert opt.param_groups[0]["lr"] == 0.25 and sched.last_epoch == 8
    again = StepLR(optim.SGD([param([1.0])], lr=1.0), step_size=3, gamma=0.5)
    again.load_state_dict(sched.state_dict())
    assert again.last_epoch == 8 and again.get_last_lr() == [0.25]
    with pytest.raises(ValueError, match="step_size must be a positive int"):
        StepLR(opt, step_size=0)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-4),
                                  lambda ps: optim.Adam(ps, lr=1e-3, weight_decay=1e-4)])
def test_memory_stays_flat_over_2000_steps(make):
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = make(net.parameters())
    x = tg.Tensor(np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32))
    y = np.arange(8) % 4

    def steps(n):
        for _ in range(n):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    assert_memory_flat(steps, 1000)
