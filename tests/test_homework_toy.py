"""The homework's Q2 checks on its toy problem (4 Gaussian blobs, 40 points, a 2→25→4 net), run with
the training API: Xavier statistics, untrained loss/accuracy, gradient check, 500 epochs of SGD, and
flat memory over a whole training loop."""
import math

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn, optim
from tinygrad5.data.loader import DataLoader
from tinygrad5.nn import functional_call
from tests.memory import assert_memory_flat


def toy_data():
    """4 classes, 10 points each, Gaussian blobs (sd 0.5) at the corners of a 2x2 square."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 2.0]])
    x = np.concatenate([rng.normal(c, 0.5, (10, 2)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(4), 10)


def toy_net():
    """2 -> 25 sigmoid -> 4 with the homework's init, Xavier-uniform weights and zero biases (nn.Linear's
    own default is torch's, which the Xavier statistics below would not fit)."""
    layers = [nn.utils.skip_init(nn.Linear, 2, 25), nn.Sigmoid(), nn.utils.skip_init(nn.Linear, 25, 4)]
    for lin in layers[::2]:
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
    return nn.Sequential(*layers)


LOSS = nn.CrossEntropyLoss(reduction="sum")  # the homework sums the loss over the batch


def evaluate(net, x, y):
    with tg.no_grad():
        out = net(tg.Tensor(x))
        return LOSS(out, y).item(), float((out.data.argmax(1) == y).mean())


def test_xavier_init_of_the_homework_layers():
    tg.manual_seed(0)
    net = toy_net()
    for lin in (net[0], net[2]):
        assert 0.05 <= lin.weight.data.var() <= 0.12, lin
        assert lin.bias.data.sum() == 0


def test_untrained_net_is_at_chance():
    x, y = toy_data()
    losses, accs = [], []
    for seed in range(20):  # one init can be unlucky; the median one is what "untrained" means
        tg.manual_seed(seed)
        loss, acc = evaluate(toy_net(), x, y)
        losses.append(loss)
        accs.append(acc)
    # summed CE of a near-uniform prediction over 40 points: 40 ln 4 ≈ 55.45, a bit more when not uniform
    assert 40 * math.log(4) - 3 < np.median(losses) < 70, losses
    assert 0.15 <= np.mean(accs) <= 0.35, accs


def test_gradient_check_of_every_parameter():
    """Q2's check: central differences on every parameter of the whole net, in float64."""
    x, y = toy_data()
    tg.manual_seed(0)
    net = toy_net()
    names = [n for n, _ in net.named_parameters()]
    params = [tg.Tensor(p.data.astype(np.float64), requires_grad=True) for p in net.parameters()]

    def loss(*ps):
        return LOSS(functional_call(net, dict(zip(names, ps)), tg.Tensor(x[::4].astype(np.float64))), y[::4])

    assert tg.gradcheck(loss, *params, eps=1e-6, atol=1e-6, rtol=1e-4, full_jacobian_max=200)


def train(net, x, y, epochs):
    opt = optim.SGD(net.parameters(), lr=1e-3)
    loader = DataLoader(x, y, batch_size=5)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            LOSS(net(xb), yb).backward()
            opt.step()


def test_500_epochs_of_sgd_learn_the_blobs():
    x, y = toy_data()
    tg.manual_seed(0)
    net = toy_net()
    loss0, _ = evaluate(net, x, y)
    train(net, x, y, 500)
    loss, acc = evaluate(net, x, y)
    assert loss < 35 and loss < loss0 / 2, (loss0, loss)
    assert acc > 0.75


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=1e-3)])
def test_training_loop_memory_is_flat(make):
    x, y = toy_data()
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 25), nn.Sigmoid(), nn.Dropout(0.1), nn.Linear(25, 4))
    opt = make(net.parameters())
    loader = DataLoader(x, y, batch_size=5)

    def epochs(n):
        for _ in range(n):
            for xb, yb in loader:
                opt.zero_grad()
                LOSS(net(xb), yb).backward()
                opt.step()

    assert_memory_flat(epochs, 125)  # 1000 steps per block
