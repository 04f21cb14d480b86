"""ReLU kernels (tinygrad5.kernels.relu) against numpy, NaN/inf/zero included, serial and parallel."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad5.backends import numba_backend as nb
from tinygrad5.backends import numpy_backend as npb
from tinygrad5.kernels import relu


@pytest.mark.parametrize("shape", [(7, 5), (3, 20, 28, 28), (70_001,)])  # serial x2, parallel with a tail
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_match_numpy(shape, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    flat[:5] = [np.nan, 0.0, -0.0, np.inf, -np.inf]
    gflat[5:7] = [np.nan, np.inf]
    out, mask = relu.relu_forward(a)
    want_out, want_mask = npb.relu_forward(a)
    np.testing.assert_array_equal(out, want_out)  # NaN stays NaN, as np.maximum keeps it
    np.testing.assert_array_equal(mask, want_mask)
    assert out.dtype == dtype and mask.dtype == np.bool_
    np.testing.assert_array_equal(relu.relu_backward(g, mask), npb.relu_backward(g, mask))


def test_relu_kernels_decline_what_they_do_not_handle_and_the_backend_falls_back():
    a = np.random.default_rng(1).standard_normal((64, 128)).astype(np.float32)
    assert relu.relu_forward(a.T) is None and relu.relu_forward(a.astype(np.int64)) is None
    out, mask = nb.relu_forward(a.T)  # non-contiguous: numpy's path, same numbers
    np.testing.assert_array_equal(out, np.maximum(a.T, 0))
    assert relu.relu_backward(a, mask) is None  # shape mismatch
    np.testing.assert_array_equal(nb.relu_backward(a.T, mask), a.T * mask)


def test_big_endian_and_read_only_inputs_take_numpy_s_path():
    a = np.linspace(-1, 1, 8192).astype(">f4").reshape(64, 128)
    assert relu.relu_forward(a) is None
    out, mask = nb.relu_forward(a)
    np.testing.assert_array_equal(out, np.maximum(a, 0))
    ro = np.ascontiguousarray(a, dtype=np.float32)
    ro.flags.writeable = False
    assert relu.relu_forward(ro) is None


def test_relu_op_through_autograd_at_kernel_size():
    import tinygrad5 as tg
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 128)).astype(np.float32)  # 8192 elements: the kernel path
    g = rng.standard_normal((64, 128)).astype(np.float32)
    for backend in ("numba", "numpy"):
        t = tg.Tensor(x, requires_grad=True)
        with tg.backend(backend):
            y = tg.relu(t)
            y.backward(g)
        np.testing.assert_array_equal(y.data, np.maximum(x, 0))
        np.testing.assert_array_equal(t.grad.data, g * (x > 0))
