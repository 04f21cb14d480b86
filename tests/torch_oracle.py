"""One forward-and-backward comparison against torch, shared by the nn tests that use torch as an oracle."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import tinygrad5 as tg


def forward_backward_like_torch(ours: Callable, theirs: Callable, x: np.ndarray, rng: np.random.Generator,
                                rtol: float, atol: float) -> tuple[tg.Tensor, Any]:
    """Run ours on a Tensor and theirs on a torch tensor of x, compare the outputs, backpropagate one
    random output gradient (drawn from rng) through both and compare the input gradients.

    Returns the two inputs so a test can compare more (parameter gradients, running statistics).
    """
    import torch

    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert yo.shape == tuple(yt.shape)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    g = np.asarray(rng.normal(size=yo.shape)).astype(x.dtype)
    yo.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=rtol, atol=atol)
    return xo, xt
