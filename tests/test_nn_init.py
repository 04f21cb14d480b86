"""Initialisers: bounds, variances (statistically), fans for conv weights, in-place, reproducible."""
import math

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.nn import init


@pytest.fixture(autouse=True)
def _seeded():
    tg.manual_seed(1234)  # statistical checks below are then deterministic


def P(*shape):
    return nn.Parameter(np.zeros(shape, np.float32))


def test_fans_like_torch():
    assert init.calculate_fan_in_and_fan_out(P(64, 1024)) == (1024, 64)
    assert init.calculate_fan_in_and_fan_out(P(50, 20, 5, 5)) == (20 * 25, 50 * 25)
    with pytest.raises(ValueError, match=r"at least 2 dims, got shape \(7,\)"):
        init.calculate_fan_in_and_fan_out(P(7))


def test_gains():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_xavier_uniform_bound_and_variance():
    t = P(300, 500)
    arr = t.data
    assert init.xavier_uniform_(t) is t and t.data is arr  # in place
    bound = math.sqrt(6 / 800)
    assert np.abs(arr).max() <= bound and np.abs(arr).max() > 0.99 * bound
    assert arr.var() == pytest.approx(bound ** 2 / 3, rel=0.02)


def test_xavier_normal_and_kaiming_std():
    t = P(200, 300, 1, 1)
    init.xavier_normal_(t)
    assert t.data.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    init.kaiming_normal_(t, nonlinearity="relu")
    assert t.data.std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert t.data.std() == pytest.approx(math.sqrt(2 / 200), rel=0.02)
    init.kaiming_uniform_(t, nonlinearity="relu")
    assert np.abs(t.data).max() <= math.sqrt(6 / 300) and t.data.std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_uniform_(t, mode="fan")


def test_constant_fills_and_uniform_normal():
    t = P(3, 4)
    assert np.all(init.ones_(t).data == 1) and np.all(init.zeros_(t).data == 0)
    assert np.all(init.constant_(t, 2.5).data == 2.5)
    init.uniform_(t, -0.1, 0.3)
    assert t.data.min() >= -0.1 and t.data.max() < 0.3
    big = P(100_000)
    init.normal_(big, 1.0, 0.5)
    assert big.data.mean() == pytest.approx(1.0, abs=0.01) and big.data.std() == pytest.approx(0.5, rel=0.02)


def test_manual_seed_makes_init_repeat_and_generator_overrides():
    tg.manual_seed(3)
    a = nn.Linear(5, 4).weight.data.copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(5, 4).weight.data, a)
    t1, t2 = P(4, 4), P(4, 4)
    init.xavier_uniform_(t1, generator=np.random.default_rng(1))
    init.xavier_uniform_(t2, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(t1.data, t2.data)


def test_linear_default_init_is_torch_kaiming_uniform_a_sqrt5():
    tg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.data, lin.bias.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.03)
    assert np.abs(b).max() <= bound and b.var() == pytest.approx(bound ** 2 / 3, rel=0.3)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32


def test_skip_init_draws_nothing_so_explicit_xavier_repeats_the_old_default():
    tg.manual_seed(0)
    lin = nn.utils.skip_init(nn.Linear, 30, 20)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    tg.manual_seed(0)
    ref = tg.random.get_rng().uniform(-math.sqrt(6 / 50), math.sqrt(6 / 50), (20, 30))
    np.testing.assert_array_equal(lin.weight.data, ref.astype(np.float32))
    assert np.all(lin.bias.data == 0)


def test_conv2d_default_init_is_torch_kaiming_uniform_a_sqrt5():
    tg.manual_seed(0)
    conv = nn.Conv2d(20, 50, 5)
    bound = 1 / math.sqrt(20 * 25)
    w, b = conv.weight.data, conv.bias.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.03)
    assert np.abs(b).max() <= bound and np.any(b != 0)
