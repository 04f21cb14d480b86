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


# ---- many parameters at once: SGDPlan behind numba_backend.sgd_steps ------------------------------

def _params(specs, seed=0):
    """(ws, ds, bufs) for (shape, dtype, order) specs, random values."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype, order in specs:
        out.append([np.array(rng.standard_normal(shape), dtype=dtype, order=order) for _ in range(3)])
    return [a[0] for a in out], [a[1] for a in out], [a[2] for a in out]


SPECS = [((32, 1024), np.float32, "F"), ((32,), np.float32, "C"), ((5, 3, 2), np.float64, "C"),
         ((400, 400), np.float32, "C"), ((1,), np.float32, "C")] + [((3, 4), np.float32, "C")] * 9


@pytest.mark.parametrize("mu,damp", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.3)])
@pytest.mark.parametrize("threads", [1, 2])
def test_many_parameters_update_bit_identically_to_numpy_one_by_one(mu, damp, threads):
    from tinygrad5 import threads as th
    ws, ds, bufs = _params(SPECS)  # two dtypes, more than GROUP small ones, one parallel-sized
    ws2, bufs2 = [w.copy(order="K") for w in ws], [b.copy(order="K") for b in bufs]
    prev = th.get_num_threads()
    th.set_num_threads(min(threads, th.max_threads()))
    try:
        cache: dict = {}
        for _ in range(3):  # the plan is built on the first step and reused after
            nb.sgd_steps(ws, ds, bufs if mu else None, 0.01, mu, damp, cache)
            npb.sgd_steps(ws2, ds, bufs2 if mu else None, 0.01, mu, damp, {})
    finally:
        th.set_num_threads(prev)
    assert isinstance(cache["sgd_plan"], sgd.SGDPlan) and cache["sgd_plan"].fit
    for a, b in zip(ws + bufs, ws2 + bufs2):
        assert np.array_equal(a, b) and a.flags.f_contiguous == b.flags.f_contiguous


def test_a_plan_is_rebuilt_for_other_arrays_and_refuses_gradients_that_do_not_pair():
    ws, ds, bufs = _params(SPECS[:3])
    cache: dict = {}
    nb.sgd_steps(ws, ds, bufs, 0.1, 0.9, 0.0, cache)
    plan = cache["sgd_plan"]
    assert plan.same(ws, bufs) and not plan.same(ws, None) and not plan.same(ws[:2], bufs[:2])
    ws[1] = ws[1].copy()  # a parameter's array was replaced (load_state_dict): a new plan
    assert not plan.same(ws, bufs)
    nb.sgd_steps(ws, ds, bufs, 0.1, 0.9, 0.0, cache)
    assert cache["sgd_plan"] is not plan and cache["sgd_plan"].same(ws, bufs)
    plan = cache["sgd_plan"]
    ro = ds[1].copy()
    ro.flags.writeable = False
    for bad in (np.ascontiguousarray(ds[0]), ds[0].astype(np.float64), ro):  # layout, dtype,
        # read-only: the plan touches nothing and the step goes one by one
        dd = list(ds)
        dd[0 if bad is not ro else 1] = bad
        snap = [a.copy() for a in ws + bufs]
        assert not plan.step(dd, 0.1, 0.9, 0.0)
        assert all(np.array_equal(a, b) for a, b in zip(ws + bufs, snap))
        w2, b2 = [w.copy(order="K") for w in ws], [b.copy(order="K") for b in bufs]
        dd2 = [d.copy(order="K") for d in dd]
        nb.sgd_steps(ws, dd, bufs, 0.1, 0.9, 0.0, cache)
        npb.sgd_steps(w2, dd2, b2, 0.1, 0.9, 0.0, {})
        assert all(np.array_equal(a, b) for a, b in zip(ws + bufs, w2 + b2))


def test_a_gradient_partly_overlapping_its_parameter_is_refused_by_the_plan():
    base = np.arange(1, 1001, dtype=np.float32)
    ws, ds = [base[1:], np.zeros(3, np.float32)], [base[:-1], np.ones(3, np.float32)]
    want = base.copy()
    npb.sgd_steps([want[1:], np.zeros(3, np.float32)], [want[:-1], ds[1]], None, 0.5, 0.0, 0.0, {})
    cache: dict = {}
    nb.sgd_steps(ws, ds, None, 0.5, 0.0, 0.0, cache)
    assert cache["sgd_plan"].fit and not cache["sgd_plan"].step(ds, 0.5, 0.0, 0.0)
    np.testing.assert_array_equal(base, want)
    np.testing.assert_array_equal(ws[1], np.full(3, -0.5, np.float32))


def test_a_plan_over_parameters_the_kernels_cannot_take_steps_through_numpy():
    ws = [np.arange(6, dtype=">f4"), np.zeros(4, np.float32)]
    ds = [np.ones(6, dtype=">f4"), np.ones(4, np.float32)]
    cache: dict = {}
    nb.sgd_steps(ws, ds, None, 0.5, 0.0, 0.0, cache)
    assert not cache["sgd_plan"].fit
    np.testing.assert_array_equal(ws[0], np.arange(6) - 0.5)
    np.testing.assert_array_equal(ws[1], np.full(4, -0.5, np.float32))
