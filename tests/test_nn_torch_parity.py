"""The same weights and inputs give torch's outputs, gradients, optimizer trajectories and lr schedule."""
import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn, optim
from tinygrad5.optim.lr_scheduler import StepLR

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RNG = np.random.default_rng(0)


def tt(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def copy_params(ours, theirs):
    """Load our module's parameters into a torch module with the same parameter names."""
    with torch.no_grad():
        for name, p in ours.named_parameters():
            dict(theirs.named_parameters())[name].copy_(torch.from_numpy(p.data.copy()))


def run_both(ours, theirs, x, tol=1e-5):
    """Forward both, backward a random output gradient, compare outputs and every gradient."""
    copy_params(ours, theirs)
    xo, xt = tg.Tensor(x, requires_grad=True), tt(x, grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=tol, atol=tol)
    g = RNG.normal(size=yo.shape).astype(x.dtype)
    yo.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=tol, atol=tol)
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, named_t[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    run_both(nn.Linear(7, 5, bias=bias), torch.nn.Linear(7, 5, bias=bias), RNG.normal(size=(6, 7)).astype(np.float32))


@pytest.mark.parametrize("stride,padding,bias", [(1, 0, True), (2, 1, True), ((2, 1), (0, 2), False), (3, 2, True)])
def test_conv2d(stride, padding, bias):
    ours = nn.Conv2d(3, 4, (3, 2), stride=stride, padding=padding, bias=bias)
    theirs = torch.nn.Conv2d(3, 4, (3, 2), stride=stride, padding=padding, bias=bias)
    run_both(ours, theirs, RNG.normal(size=(2, 3, 9, 8)).astype(np.float32))


@pytest.mark.parametrize("k,s", [(2, None), (3, 2), (2, 1)])
def test_maxpool2d(k, s):
    x = RNG.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(np.float32)  # no ties
    run_both(nn.MaxPool2d(k, s), torch.nn.MaxPool2d(k, s), x)


def test_small_convnet_end_to_end():
    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                            m.Linear(4 * 4 * 4, 8), m.Tanh(), m.Linear(8, 3), m.Softmax(dim=1))
    run_both(build(nn), build(torch.nn), RNG.normal(size=(3, 1, 8, 8)).astype(np.float32))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("onehot", [False, True])
def test_cross_entropy(reduction, onehot):
    logits = RNG.normal(size=(8, 5)).astype(np.float32) * 3
    y = RNG.integers(0, 5, 8)
    target = np.eye(5, dtype=np.float32)[y] if onehot else y
    lo, lt = tg.Tensor(logits, requires_grad=True), tt(logits, grad=True)
    ours = nn.CrossEntropyLoss(reduction)(lo, target)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction)(lt, tt(target))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(lo.grad.data, lt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(reduction):
    a, b = RNG.normal(size=(4, 6)).astype(np.float32), RNG.normal(size=(4, 6)).astype(np.float32)
    ao, at = tg.Tensor(a, requires_grad=True), tt(a, grad=True)
    ours, theirs = nn.MSELoss(reduction)(ao, b), torch.nn.MSELoss(reduction=reduction)(at, tt(b))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ao.grad.data, at.grad.numpy(), rtol=1e-5, atol=1e-6)


def ten_steps(make_ours, make_theirs):
    """Train the same 2-layer net for ten steps with each library; return both parameter lists."""
    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    copy_params(ours, theirs)
    oo, ot = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    rng = np.random.default_rng(1)
    for _ in range(10):
        x, y = rng.normal(size=(4, 5)).astype(np.float32), rng.integers(0, 3, 4)
        oo.zero_grad()
        nn.CrossEntropyLoss()(ours(tg.Tensor(x)), y).backward()
        oo.step()
        ot.zero_grad()
        torch.nn.CrossEntropyLoss()(theirs(tt(x)), tt(y)).backward()
        ot.step()
    return [p.data for p in ours.parameters()], [p.detach().numpy() for p in theirs.parameters()]


SGD_CASES = [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3),
             dict(momentum=0.8, nesterov=True), dict(momentum=0.9, weight_decay=0.05),
             dict(momentum=0.5, dampening=0.5, weight_decay=0.1), dict(momentum=0.9, nesterov=True, weight_decay=0.01),
             dict(weight_decay=0.2)]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_ten_steps(kw):
    ours, theirs = ten_steps(lambda ps: optim.SGD(ps, lr=0.1, **kw), lambda ps: torch.optim.SGD(ps, lr=0.1, **kw))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.05), dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)])
def test_adam_ten_steps(kw):
    ours, theirs = ten_steps(lambda ps: optim.Adam(ps, lr=0.01, **kw), lambda ps: torch.optim.Adam(ps, lr=0.01, **kw))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_step_lr_schedule():
    ours = StepLR(optim.SGD([nn.Parameter(np.zeros(1))], lr=0.3), step_size=4, gamma=0.7)
    theirs = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3),
                                             step_size=4, gamma=0.7)
    for _ in range(15):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()
