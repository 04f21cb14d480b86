"""The fused SGD update (tinygrad5.kernels.sgd) against the numpy reference backend, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad5.backends import numba_backend as nb
from tinygrad5.backends import numpy_backend as npb
from tinygrad5.kernels import sgd


def _arrays(dtype, order, shape, seed=0):
    rng = np.random.default_rng(seed)
    return [np.array(rng.standard_normal(shape), dtype=dtype, order=order) for _ in range(3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("mu,damp", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.3)])
@pytest.mark.parametrize("shape", [(7, 5), (300, 457)])  # serial; parallel spans with a short last one
def test_fused_update_is_bit_identical_to_numpy(dtype, order, mu, damp, shape):
    w, d, buf = _arrays(dtype, order, shape)
    w2, buf2 = w.copy(order="K"), buf.copy(order="K")
    use = buf if mu else None
    nb.sgd_step(w, d, use, 0.01, mu, damp)
    npb.sgd_step(w2, d, buf2 if mu else None, 0.01, mu, damp)
    assert np.array_equal(w, w2) and np.array_equal(buf, buf2)
    assert w.flags.f_contiguous == (order == "F") and w.dtype == dtype


def test_mismatched_layouts_fall_back_to_numpy_and_still_pair_elements():
    w, d, buf = _arrays(np.float32, "C", (7, 5))
    dF = np.asfortranarray(d)
    want_w, want_b = w.copy(), buf.copy()
    npb.sgd_step(want_w, d, want_b, 0.1, 0.9, 0.0)
    before = w.copy()
    assert not sgd.sgd_step(w, dF, None, 0.1, 0.0, 0.0) and np.array_equal(w, before)  # refused, untouched
    nb.sgd_step(w, dF, buf, 0.1, 0.9, 0.0)
    assert np.array_equal(w, want_w) and np.array_equal(buf, want_b)
    for other in (d.astype(np.float64), d[:, :4], np.asfortranarray(buf)):
        assert not sgd.sgd_step(w, d, other, 0.1, 0.9, 0.0)
    assert not sgd.sgd_step(w[:, ::2], d[:, ::2], None, 0.1, 0.0, 0.0)  # not contiguous
