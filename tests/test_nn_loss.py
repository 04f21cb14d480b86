"""NLLLoss / F.nll_loss and LogSoftmax against torch; Dropout2d's channel masks."""
import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.nn import functional as F

from .torch_oracle import forward_backward_like_torch

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 4, 3, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [-100, 2])
def test_nll_loss_matches_torch(shape, reduction, weighted, ignore):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    target = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    target.reshape(-1)[0] = ignore
    weight = rng.uniform(0.5, 2.0, shape[1]) if weighted else None
    ours = nn.NLLLoss(weight, ignore_index=ignore, reduction=reduction)
    theirs = torch.nn.NLLLoss(None if weight is None else torch.from_numpy(weight), ignore_index=ignore,
                              reduction=reduction)
    forward_backward_like_torch(lambda xo: ours(F.log_softmax(xo, dim=1), tg.Tensor(target)),
                                lambda xt: theirs(torch.log_softmax(xt, dim=1), torch.from_numpy(target)),
                                x, rng, rtol=1e-12, atol=1e-12)


def test_nll_of_log_softmax_is_cross_entropy_and_errors():
    x, y = tg.randn(5, 7), np.array([0, 6, 3, 3, 1])
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, dim=1), y).data, F.cross_entropy(x, y).data, rtol=1e-6)
    assert float(F.nll_loss(tg.Tensor([-1.0, -2.0]), np.array(1)).item()) == 2.0  # one sample (C,)
    with pytest.raises(ValueError, match="target 7 is out of range for 7 classes"):
        F.nll_loss(x, np.array([0, 7, 3, 3, 1]))
    with pytest.raises(ValueError, match=r"needs a target of shape \(5,\), got \(4,\)"):
        F.nll_loss(x, y[:4])
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, y.astype(np.float32))
    assert np.isnan(F.nll_loss(x, np.full(5, -100)).item())  # nothing counted: NaN, like torch
    assert "weight" in nn.NLLLoss(weight=np.ones(3, np.float32)).state_dict()  # a buffer, as in torch


def test_log_softmax_module_and_implicit_dim():
    x = np.random.default_rng(2).normal(size=(2, 3, 4)).astype(np.float32)
    for dim in (None, 1, -1):
        ref = torch.nn.LogSoftmax(dim)(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(nn.LogSoftmax(dim)(tg.Tensor(x)).data, ref, rtol=1e-6, atol=1e-6)


def test_dropout2d_zeroes_whole_channels_and_scales():
    tg.manual_seed(0)
    x = np.ones((64, 32, 3, 3), np.float32)
    drop = nn.Dropout2d(0.25)
    out = drop(tg.Tensor(x)).data
    per_channel = out.reshape(64, 32, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == np.float32(1 / 0.75)).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.25) < 0.03
    xt = tg.Tensor(x[:2], requires_grad=True)
    F.dropout2d(xt, 0.5).sum().backward()
    assert set(np.unique(xt.grad.data)) <= {0.0, 2.0}
    drop.eval()
    assert drop(tg.Tensor(x)).data is x or np.array_equal(drop(tg.Tensor(x)).data, x)
    assert F.dropout(tg.Tensor(x), 0.5, training=False).data is x
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\)"):
        F.dropout2d(tg.Tensor(x[0, 0, 0]), 0.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_label_smoothing_matches_torch(reduction: str, target_kind: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    z = (rng.normal(size=(7, 5)) * 4).astype(np.float32)
    z[0, 2] = 60.0  # a row whose other probabilities underflow: the smoothed loss must stay finite
    y = rng.integers(0, 5, 7)
    target = y if target_kind == "indices" else rng.dirichlet(np.ones(5), 7).astype(np.float32)
    ours = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.2)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.2)
    forward_backward_like_torch(lambda t: ours(t, target), lambda t: theirs(t, torch.from_numpy(target)), z, rng,
                                rtol=1e-5, atol=1e-5)

