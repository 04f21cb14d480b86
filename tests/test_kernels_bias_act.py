"""The linear layer's fused epilogue (kernels/bias_act.py) and the backends' sigmoid / bias_act
functions, against float64 numpy references and against each other."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad5.backends import numba_backend as nb
from tinygrad5.backends import numpy_backend as npb
from tinygrad5.kernels.bias_act import bias_act_backward, bias_act_forward, transpose_add_bias

SHAPES = [(32, 64), (36, 1024), (1, 5), (128, 600), (256, 1100)]  # the last two: parallel (sigmoid, all)


def _ref_fwd(x, b, act):
    v = x.astype(np.float64) + (0 if b is None else b)
    if act == "sigmoid":
        return 1 / (1 + np.exp(-v))
    return np.maximum(v, 0) if act == "relu" else v


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", [None, "sigmoid", "relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_and_backward_match_float64_references(shape, act, dtype, with_bias):
    rng = np.random.default_rng(shape[1])
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype) if with_bias else None
    out = x.copy()
    assert bias_act_forward(out, b, act) is out
    tol = 2e-7 if dtype == np.float32 else 1e-15
    assert np.allclose(out, _ref_fwd(x, b, act), rtol=4 * tol, atol=tol)
    other = np.empty_like(x)
    assert bias_act_forward(x, b, act, out=other) is other and np.array_equal(other, out)  # x kept
    g = rng.standard_normal(shape).astype(dtype)
    g2, gb = bias_act_backward(g, out, act, want_bias=True)
    o = out.astype(np.float64)
    d = {"sigmoid": o * (1 - o), "relu": (o > 0).astype(np.float64), None: 1.0}[act]
    assert np.allclose(g2, g * d, rtol=4 * tol, atol=tol)
    assert np.allclose(gb, (g * d).sum(axis=0), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    assert bias_act_backward(g, out, act, want_bias=False)[1] is None


def test_sigmoid_extremes_nan_and_relu_gradient_semantics():
    x = np.array([[-1000.0, -90.0, -20.0, 0.0, 20.0, 1000.0, np.nan]], np.float32)
    s = x.copy()
    bias_act_forward(s, None, "sigmoid")
    assert s[0, 0] == 0 and s[0, 1] == 0 and s[0, 3] == 0.5 and s[0, 5] == 1 and np.isnan(s[0, 6])
    assert np.isclose(s[0, 2], 1 / (1 + np.exp(20.0)), rtol=1e-6)  # accurate far out, not 0
    r = np.array([[-1.0, 0.0, 2.0, np.nan]], np.float32)
    bias_act_forward(r, None, "relu")
    assert r[0, 0] == 0 and r[0, 1] == 0 and r[0, 2] == 2 and np.isnan(r[0, 3])  # NaN kept, as np.maximum
    g = np.array([[np.nan, np.inf, 3.0, 4.0]], np.float32)
    g2, _ = bias_act_backward(g, r, "relu", want_bias=False)
    assert np.isnan(g2[0, 0]) and np.isnan(g2[0, 1]) and g2[0, 2] == 3 and g2[0, 3] == 0  # g * mask


def test_declines_arrays_the_kernels_do_not_take():
    x = np.ones((4, 3), np.float32)
    ro = x.copy()
    ro.flags.writeable = False
    assert bias_act_forward(np.asfortranarray(x), None, "sigmoid") is None
    assert bias_act_forward(ro, None, "sigmoid") is None
    assert bias_act_forward(x, np.ones(3), "sigmoid") is None            # bias dtype differs
    assert bias_act_forward(x, np.ones(4, np.float32), None) is None     # bias shape differs
    assert bias_act_forward(x.astype(np.int64), None, "relu") is None
    assert bias_act_forward(x, None, None, out=np.empty((3, 4), np.float32)) is None
    assert bias_act_backward(x, None, "sigmoid", True) is None           # no saved output
    assert bias_act_backward(x, np.ones((4, 3)), "sigmoid", True) is None  # dtypes differ
    assert np.array_equal(x, np.ones((4, 3), np.float32))


@pytest.mark.parametrize("act", [None, "sigmoid", "relu"])
def test_backends_agree(act):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((36, 70)) * 3).astype(np.float32)
    b = rng.standard_normal(70).astype(np.float32)
    g = rng.standard_normal((36, 70)).astype(np.float32)
    o1, c1 = nb.bias_act_forward(x.copy(), b, act)
    o2, c2 = npb.bias_act_forward(x.copy(), b, act)
    assert np.allclose(o1, o2, rtol=1e-6, atol=1e-7)
    (g1, gb1), (g2, gb2) = nb.bias_act_backward(g, c1, True), npb.bias_act_backward(g, c2, True)
    assert np.allclose(g1, g2, rtol=1e-5, atol=1e-6) and np.allclose(gb1, gb2, rtol=1e-5, atol=1e-5)
    assert np.allclose(nb.sigmoid_forward(x), npb.sigmoid_forward(x), rtol=1e-6, atol=1e-7)
    s = npb.sigmoid_forward(x)
    assert np.allclose(nb.sigmoid_backward(s, g), npb.sigmoid_backward(s, g), rtol=1e-6, atol=1e-7)


def test_numba_backend_falls_back_for_odd_arrays():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for a in (x.T, x.astype(">f4"), np.float32(0.5) * np.ones((), np.float32)):
        assert np.allclose(nb.sigmoid_forward(a), npb.sigmoid_forward(np.asarray(a, np.float32)), atol=1e-7)
    o, cache = nb.bias_act_forward(x.copy(), np.ones(4), "relu")  # float64 bias: numpy's path
    g2, gb = nb.bias_act_backward(np.ones((3, 4), np.float32), cache, True)
    assert np.array_equal(g2, (o > 0).astype(np.float32)) and np.array_equal(gb, (o > 0).sum(0))


@pytest.mark.parametrize("act", [None, "sigmoid", "relu"])
def test_no_rows_give_a_zero_bias_gradient(act):
    for _ in range(3):  # fresh np.empty memory is often not zero: run a few times
        junk = np.full(64, 7.0, np.float32)
        del junk
        g = np.zeros((0, 3), np.float32)
        g2, gb = bias_act_backward(g, np.zeros((0, 3), np.float32), act, want_bias=True)
        assert g2.shape == (0, 3) and np.array_equal(gb, np.zeros(3, np.float32))


@pytest.mark.parametrize("shape", [(1024, 36), (37, 5), (16, 1), (3, 0), (0, 4)])  # 37: a partial 16-block
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_transpose_add_bias(shape, dtype, with_bias):
    rng = np.random.default_rng(shape[0])
    src = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[0]).astype(dtype) if with_bias else None
    got = transpose_add_bias(src, b)
    assert got.dtype == dtype and got.flags.c_contiguous and got.shape == shape[::-1]
    assert np.array_equal(got, src.T + (0 if b is None else b))  # one rounding, as numpy's


def test_transpose_add_bias_declines():
    src = np.ones((20, 3), np.float32)
    assert transpose_add_bias(np.asfortranarray(src), None) is None
    assert transpose_add_bias(src, np.ones(20)) is None                  # bias dtype differs
    assert transpose_add_bias(src, np.ones(3, np.float32)) is None       # bias shape differs
    assert transpose_add_bias(src.astype(np.int32), None) is None


@pytest.mark.parametrize("rows,inp,out", [(36, 32, 1024), (8, 100, 700), (36, 32, 64), (100, 32, 1024)])
@pytest.mark.parametrize("act", [None, "sigmoid", "relu"])
def test_linear_forward_transposed_product_matches(rows, inp, out, act):
    """The expanding-layer path (w @ x.T, transposed in the bias pass) against numpy's x @ w.T."""
    rng = np.random.default_rng(rows + inp)
    x = rng.standard_normal((rows, inp)).astype(np.float32)
    w = rng.standard_normal((out, inp)).astype(np.float32)
    b = rng.standard_normal(out).astype(np.float32)
    got, cache = nb.linear_forward(x, w, b, act)
    want, want_cache = npb.linear_forward(x, w, b, act)
    assert got.flags.c_contiguous and got.shape == (rows, out)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    g = rng.standard_normal((rows, out)).astype(np.float32)
    for a, c in zip(nb.bias_act_backward(g, cache, True), npb.bias_act_backward(g, want_cache, True)):
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-4)  # the cache serves the backward as before
