"""AvgPool2d / F.avg_pool2d against torch: padding, ceil_mode, count_include_pad, divisor_override."""
import itertools

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.nn import functional as F

from .torch_oracle import forward_backward_like_torch

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

CASES = [(k, s, p, ceil, inc, div) for (k, s, p), ceil, inc, div in itertools.product(
    [(2, None, 0), (3, 2, 1), ((3, 2), (2, 1), (1, 0)), (2, 3, 1), (3, 3, 1)], [False, True], [True, False],
    [None, 5])]


@pytest.mark.parametrize("k,s,p,ceil,inc,div", CASES)
def test_avg_pool2d_matches_torch_values_and_gradients(k, s, p, ceil, inc, div):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 8))
    forward_backward_like_torch(lambda xo: F.avg_pool2d(xo, k, s, p, ceil, inc, div),
                                lambda xt: torch.nn.functional.avg_pool2d(xt, k, s, p, ceil, inc, div),
                                x, rng, rtol=1e-12, atol=1e-12)


def test_avg_pool2d_module_three_dim_input_float32_and_errors():
    x = np.random.default_rng(1).normal(size=(3, 6, 6)).astype(np.float32)
    out = nn.AvgPool2d(2)(tg.Tensor(x))
    assert out.shape == (3, 3, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, torch.nn.AvgPool2d(2)(torch.from_numpy(x)).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="at most half of kernel_size"):
        F.avg_pool2d(tg.Tensor(x), 2, padding=2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\), got \(6, 6\)"):
        F.avg_pool2d(tg.Tensor(x[0]), 2)
    with pytest.raises(ValueError, match="do not fit input"):
        F.avg_pool2d(tg.Tensor(x), 7)
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
