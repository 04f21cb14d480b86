"""BatchNorm1d/2d: torch's outputs, gradients and running statistics over several train steps, then eval."""
import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn

from .torch_oracle import forward_backward_like_torch

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _pair(cls_name, c, **kw):
    ours, theirs = getattr(nn, cls_name)(c, **kw), getattr(torch.nn, cls_name)(c, **kw)
    rng = np.random.default_rng(3)
    if ours.affine:
        w, b = rng.uniform(0.5, 1.5, c).astype(np.float32), rng.normal(size=c).astype(np.float32)
        ours.weight.data[...], ours.bias.data[...] = w, b
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(w))
            theirs.bias.copy_(torch.from_numpy(b))
    return ours, theirs


@pytest.mark.parametrize("cls_name,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                            ("BatchNorm2d", (4, 3, 5, 6))])
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
                                {"track_running_stats": False}])
def test_batchnorm_matches_torch_in_train_and_eval(cls_name, shape, kw):
    ours, theirs = _pair(cls_name, shape[1], **kw)
    rng = np.random.default_rng(0)
    for step in range(4):
        x = (rng.normal(size=shape) * (1 + step) + step).astype(np.float32)
        forward_backward_like_torch(ours, theirs, x, rng, rtol=1e-4, atol=1e-5)
        if ours.affine:
            np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
            ours.zero_grad()
            theirs.zero_grad()
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for k, v in theirs_state.items():
        np.testing.assert_allclose(ours_state[k], v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    ours.eval(), theirs.eval()
    x = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(ours(tg.Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    if ours.track_running_stats:
        assert int(ours.num_batches_tracked.item()) == 4


def test_batchnorm_state_dict_round_trip_and_errors():
    bn = nn.BatchNorm2d(2)
    bn(tg.randn(3, 2, 4, 4))
    fresh = nn.BatchNorm2d(2)
    fresh.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(fresh.running_mean.data, bn.running_mean.data)
    assert fresh.num_batches_tracked.data.dtype == np.int64 and int(fresh.num_batches_tracked.item()) == 1
    with pytest.raises(ValueError, match="expects input of 4 dims, got shape \\(3, 2\\)"):
        bn(tg.randn(3, 2))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(2\) got input \(3, 5, 4, 4\) with 5 channels"):
        bn(tg.randn(3, 5, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2)(tg.randn(1, 2))
    nn.BatchNorm1d(2).eval()(tg.randn(1, 2))  # eval mode: one sample is fine
    assert repr(nn.BatchNorm1d(4)) == "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"


def test_batchnorm_float64_via_to_and_no_grad_update():
    bn = nn.BatchNorm1d(3).to(tg.float64)
    assert bn.running_var.data.dtype == np.float64 and bn.num_batches_tracked.data.dtype == np.int64
    with tg.no_grad():
        out = bn(tg.Tensor(np.arange(12.0).reshape(4, 3)))
    assert out.dtype == np.float64 and not out.requires_grad
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * np.array([4.5, 5.5, 6.5]))
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * np.full(3, 15.0))  # unbiased: 45 / 3
