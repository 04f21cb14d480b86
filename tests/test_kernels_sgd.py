"""The fused SGD update (tinygrad5.kernels.sgd) against the numpy reference backend, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad5.backends import numba_backend as nb
from tinygrad5.backends import numpy_backend as npb
from tinygrad5.kernels import sgd

from .fresh_process import run_fresh


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


def test_partly_overlapping_arrays_and_read_only_gradients_take_numpy_s_path():
    base = np.arange(1, 1001, dtype=np.float32)
    w, d = base[1:], base[:-1]  # d overlaps w shifted by one element
    assert not sgd.sgd_step(w, d, None, 0.5, 0.0, 0.0)
    ro = np.ones(5, np.float32)
    ro.flags.writeable = False
    assert not sgd.sgd_step(np.ones(5, np.float32), ro, None, 0.5, 0.0, 0.0)
    want = base.copy()
    npb.sgd_step(want[1:], want[:-1], None, 0.5, 0.0, 0.0)  # numpy's temporary makes this well defined
    nb.sgd_step(w, d, None, 0.5, 0.0, 0.0)
    assert np.array_equal(base, want)


def test_big_endian_parameters_update_through_numpy():
    w = np.arange(6, dtype=">f4")
    d = np.ones(6, dtype=">f4")
    assert not sgd.sgd_step(w, d, None, 0.5, 0.0, 0.0)
    nb.sgd_step(w, d, None, 0.5, 0.0, 0.0)
    np.testing.assert_array_equal(w, np.arange(6) - 0.5)


def test_a_big_parameter_update_applies_the_thread_policy_first():
    code = ("import os\nimport numpy as np\nfrom tinygrad5.backends import numba_backend as nb\n"
            "from tinygrad5 import threads\n"
            "w = np.zeros(300_000, np.float32); d = np.ones_like(w)\n"
            "nb.sgd_step(w, d, None, 0.5, 0.0, 0.0)\n"
            "print(threads._state['applied'], os.environ.get('GOMP_SPINCOUNT'), float(w[0]))")
    out = run_fresh(code, drop=("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    assert out.split() == ["True", "1000", "-0.5"]
