"""The same random expressions in tinygrad5 and PyTorch give the same values and gradients."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad5 as tg

torch = pytest.importorskip("torch")

def _expressions():
    """name -> (tinygrad5 expression, torch expression) over a (3,4), b (4,), c (4,5), all float64."""
    F = torch.nn.functional
    return {
        "arith": (lambda a, b, c: ((a * b - b / (a.abs() + 1)) ** 2).sum(),
                  lambda a, b, c: ((a * b - b / (a.abs() + 1)) ** 2).sum()),
        "matmul_act": (lambda a, b, c: (a @ c).tanh().sigmoid().mean() + (b @ c).sum(),
                       lambda a, b, c: (a @ c).tanh().sigmoid().mean() + (b @ c).sum()),
        "softmax": (lambda a, b, c: (a.softmax(1) * a.log_softmax(1)).sum(),
                    lambda a, b, c: (a.softmax(1) * a.log_softmax(1)).sum()),
        "reduce": (lambda a, b, c: a.amax(1).sum() + a.amin(0).sum() + a.var(1).sum() + c.mean(0, True).sum(),
                   lambda a, b, c: a.amax(1).sum() + a.amin(0).sum() + a.var(1).sum() + c.mean(0, True).sum()),
        "movement": (lambda a, b, c: (a.T[1:, ::2].reshape(-1) * 2).exp().sum() + c.permute(1, 0)[0].sum(),
                     lambda a, b, c: (a.T[1:, ::2].reshape(-1) * 2).exp().sum() + c.permute(1, 0)[0].sum()),
        "cat_pad": (lambda a, b, c: tg.cat([a, b[None]], 0).relu().sum() + tg.pad(a, (1, 1)).sqrt().sum(),
                    lambda a, b, c: torch.cat([a, b[None]], 0).relu().sum() + F.pad(a, (1, 1)).sqrt().sum()),
        "losses": (lambda a, b, c: tg.cross_entropy(a @ c, np.array([0, 4, 2])) + tg.mse_loss(a, a.exp()),
                   lambda a, b, c: F.cross_entropy(a @ c, torch.tensor([0, 4, 2])) + F.mse_loss(a, a.exp())),
    }


@pytest.mark.parametrize("name", sorted(_expressions()))
@given(seed=st.integers(0, 2**31))
def test_values_and_gradients_match_torch(name, seed):
    ours, theirs = _expressions()[name]
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(0.1, 2.0, s) for s in [(3, 4), (4,), (4, 5)]]
    ts = [tg.Tensor(x, requires_grad=True) for x in arrays]
    ps = [torch.tensor(x, requires_grad=True) for x in arrays]
    out, ref = ours(*ts), theirs(*ps)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-10)
    for t, p in zip(ts, ps):
        if p.grad is None:
            assert t.grad is None
        else:
            np.testing.assert_allclose(t.grad.data, p.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_conv_and_pool_match_torch(stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    ts = [tg.Tensor(v, requires_grad=True) for v in (x, w, b)]
    ps = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    out = tg.max_pool2d(tg.conv2d(*ts, stride=stride, padding=padding), 2)
    ref = torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(*ps, stride=stride, padding=padding), 2)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for t, p in zip(ts, ps):
        np.testing.assert_allclose(t.grad.data, p.grad.numpy(), rtol=1e-8, atol=1e-10)
