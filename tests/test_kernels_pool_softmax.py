"""max_pool2d and fused softmax-cross-entropy kernels against plain numpy references."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad5.kernels import (max_pool2d_backward, max_pool2d_forward, softmax_cross_entropy_backward,
                               softmax_cross_entropy_forward)


def _ref_pool(x, k, s):
    """(out, gx-for-ones-style scatter helper): window max and first-argmax flat index per window."""
    n, c, h, w = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((n, c, oh, ow), x.dtype)
    arg = np.empty((n, c, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].reshape(n, c, -1)
            a = win.argmax(-1)  # numpy: first maximum, a NaN wins
            out[:, :, i, j] = np.take_along_axis(win, a[..., None], -1)[..., 0]
            arg[:, :, i, j] = (i * s[0] + a // k[1]) * w + j * s[1] + a % k[1]
    return out, arg


@settings(deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dtype=st.sampled_from([np.float32, np.float64]), ties=st.booleans(), nan=st.booleans(),
       seed=st.integers(0, 2**31))
def test_max_pool2d_matches_numpy(n, c, h, w, kh, kw, sh, sw, dtype, ties, nan, seed):
    kh, kw = min(kh, h), min(kw, w)
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 3, (n, c, h, w)) if ties else rng.standard_normal((n, c, h, w))).astype(dtype)
    if nan:
        x.reshape(-1)[rng.integers(0, x.size)] = np.nan
    out, cache = max_pool2d_forward(x, (kh, kw), (sh, sw))
    want, arg = _ref_pool(x, (kh, kw), (sh, sw))
    assert out.dtype == dtype and np.array_equal(out, want, equal_nan=True)
    g = rng.standard_normal(out.shape).astype(dtype)
    gx = max_pool2d_backward(g, cache)
    gx_r = np.zeros((n * c, h * w))
    np.add.at(gx_r, (np.arange(n * c)[:, None], arg.reshape(n * c, -1)), g.reshape(n * c, -1))
    tol = 1e-6 if dtype == np.float32 else 1e-12  # overlapping windows add up to 9 terms
    assert gx.dtype == dtype and np.allclose(gx, gx_r.reshape(x.shape), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_lenet_parallel(dtype):
    x = np.random.default_rng(1).standard_normal((16, 20, 28, 28)).astype(dtype)
    out, cache = max_pool2d_forward(x, (2, 2), (2, 2))
    assert np.array_equal(out, x.reshape(16, 20, 14, 2, 14, 2).max(axis=(3, 5)))
    gx = max_pool2d_backward(np.ones_like(out), cache)
    assert gx.sum() == out.size and np.array_equal(gx != 0, x == np.repeat(np.repeat(out, 2, 2), 2, 3))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0, on purpose
@settings(deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9),
       k=st.integers(1, 3), s=st.integers(1, 3), dtype=st.sampled_from([np.float32, np.float64]),
       ties=st.booleans(), special=st.booleans(), seed=st.integers(0, 2**31))
def test_max_pool2d_with_relu_is_pooling_of_relu_bit_for_bit(n, c, h, w, k, s, dtype, ties, special, seed):
    # relu=True pools x and applies ReLU to the maxima: equal to pooling relu(x), values and gradients,
    # including zeros, windows of negatives, NaN (kept, no gradient) and an inf gradient (NaN where cut).
    from tinygrad5.backends import numpy_backend as ref
    k = min(k, h, w)
    rng = np.random.default_rng(seed)
    x = (rng.integers(-2, 2, (n, c, h, w)) if ties else rng.standard_normal((n, c, h, w))).astype(dtype)
    if special:
        x.reshape(-1)[rng.integers(0, x.size, 3)] = [np.nan, 0.0, -0.0]
    relu_x, mask = ref.relu_forward(x)
    want, cache_r = max_pool2d_forward(relu_x, (k, k), (s, s))
    out, cache = max_pool2d_forward(x, (k, k), (s, s), relu=True)
    assert out.dtype == dtype and np.array_equal(out, want, equal_nan=True)
    g = rng.standard_normal(out.shape).astype(dtype)
    if special:
        g.reshape(-1)[0] = np.inf
    gx = max_pool2d_backward(g, cache)
    gx_r = ref.relu_backward(max_pool2d_backward(g, cache_r), mask)
    # A cut window's g * 0 (NaN for the inf) may land on another element of the same window when
    # it holds no positive value; everywhere else the gradients are equal bit for bit.
    same = np.nan_to_num(gx, nan=0.0) == np.nan_to_num(gx_r, nan=0.0)
    assert same.all() if (ties or special) else np.array_equal(gx, gx_r)
    ref_out, ref_cache = ref.max_pool2d_forward(x, (k, k), (s, s), relu=True)  # the reference backend too
    assert np.array_equal(ref_out, want, equal_nan=True)
    tol = 1e-6 if dtype == np.float32 else 1e-12  # overlapping windows: another order of additions
    assert np.allclose(np.nan_to_num(ref.max_pool2d_backward(g, ref_cache), nan=0.0), np.nan_to_num(gx_r, nan=0.0),
                       rtol=tol, atol=tol)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0, on purpose
@settings(deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 70),
       dtype=st.sampled_from([np.float32, np.float64]), relu=st.booleans(), ties=st.booleans(),
       special=st.booleans(), seed=st.integers(0, 2**31))
def test_max_pool2d_2x2_rows_match_the_generic_kernel_bit_for_bit(n, c, h, w, dtype, relu, ties, special, seed):
    # LeNet's 2x2, stride-2 pools run pool2x2 (16-lane rows for float32: w up to 70 gives 1-3 vector
    # steps per row, odd h and w leave a row and a column no window covers); the per-plane generic
    # kernel, checked against numpy above, is the reference.
    from tinygrad5.kernels import pool
    rng = np.random.default_rng(seed)
    x = (rng.integers(-2, 3, (n, c, h, w)) if ties else rng.standard_normal((n, c, h, w))).astype(dtype)
    if special:
        x.reshape(-1)[rng.integers(0, x.size, 3)] = [np.nan, 0.0, -0.0]
    out, cache = max_pool2d_forward(x, (2, 2), (2, 2), relu=relu)
    want, want_idx = np.empty_like(out), np.empty(out.shape, np.int32)
    pool._fwd_ser(x, want, want_idx, 2, 2, 2, 2, relu)
    assert np.array_equal(out, want, equal_nan=True) and np.array_equal(cache.idx, want_idx)
    g = rng.standard_normal(out.shape).astype(dtype)
    if special:
        g.reshape(-1)[[0, -1]] = [np.inf, -0.0]
    gx = max_pool2d_backward(g, cache)
    want_gx = np.full(x.shape, 7, dtype)  # the generic kernel zeroes the plane itself
    pool._bwd_ser(g, want_idx, want_gx)
    assert np.array_equal(gx.view(f"i{gx.itemsize}"), want_gx.view(f"i{gx.itemsize}"))  # NaN and -0.0 too


def test_max_pool2d_rejects_bad_input():
    with pytest.raises(ValueError, match="larger"):
        max_pool2d_forward(np.ones((1, 1, 2, 2)), (3, 3), (1, 1))
    with pytest.raises(ValueError, match="N,C,H,W"):
        max_pool2d_forward(np.ones((2, 2)), (1, 1), (1, 1))
    _, cache = max_pool2d_forward(np.ones((1, 1, 4, 4)), (2, 2), (2, 2))
    with pytest.raises(ValueError, match="gout"):
        max_pool2d_backward(np.ones((1, 1, 3, 3)), cache)


def _ref_xent(z, labels):
    z = z.astype(np.float64)
    m = z.max(1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(1, keepdims=True)
    return (np.log(s[:, 0]) + m[:, 0] - z[np.arange(len(z)), labels]), e / s


@settings(deadline=None)
@given(n=st.integers(1, 40), c=st.sampled_from([1, 2, 3, 17, 36, 100]),
       dtype=st.sampled_from([np.float32, np.float64]), big=st.booleans(), seed=st.integers(0, 2**31))
def test_softmax_cross_entropy_matches_numpy(n, c, dtype, big, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, c)) * (300 if big else 3)).astype(dtype)  # big: exp would overflow unshifted
    labels = rng.integers(0, c, n)
    loss, probs = softmax_cross_entropy_forward(z, labels)
    loss_r, probs_r = _ref_xent(z, labels)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    assert loss.dtype == dtype and probs.dtype == dtype
    assert np.allclose(loss, loss_r, rtol=tol, atol=tol * np.abs(z).max())
    assert np.allclose(probs, probs_r, rtol=tol, atol=tol)
    gloss = rng.standard_normal(n).astype(dtype)
    g = softmax_cross_entropy_backward(probs, labels, gloss)
    g_r = (probs.astype(np.float64) - np.eye(c)[labels]) * gloss[:, None]
    assert g.dtype == dtype and np.allclose(g, g_r, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_parallel_rows(dtype):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((2048, 40)).astype(dtype)
    labels = rng.integers(0, 40, 2048)
    loss, probs = softmax_cross_entropy_forward(z, labels)
    loss_r, probs_r = _ref_xent(z, labels)
    assert np.allclose(loss, loss_r, rtol=1e-5) and np.allclose(probs, probs_r, rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_nan_propagates_and_checks():
    loss, probs = softmax_cross_entropy_forward(np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1]))
    assert np.isnan(loss[0]) and np.all(np.isnan(probs[0])) and np.isfinite(loss[1])
    with pytest.raises(ValueError, match="labels"):
        softmax_cross_entropy_forward(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="logits"):
        softmax_cross_entropy_forward(np.zeros(3), np.array([0, 1, 2]))


def test_float32_exp_polynomial_is_within_two_ulp_and_keeps_nan():
    from tinygrad5.kernels.elementary import _expf_nonpos
    xs = np.concatenate([np.linspace(-87.3, 0, 20001), -np.logspace(-8, 1, 50), [0.0, -1e-30]]).astype(np.float32)
    got = np.array([_expf_nonpos(v) for v in xs], np.float64)
    ref = np.exp(xs.astype(np.float64))
    assert np.abs(got / ref - 1).max() < 2 * 2.0 ** -24
    for v, want in [(-87.5, 0.0), (-1000.0, 0.0), (-np.inf, 0.0)]:
        assert _expf_nonpos(np.float32(v)) == want
    assert np.isnan(_expf_nonpos(np.float32(np.nan)))


def test_softmax_rows_with_infinities_match_numpy():
    z = np.array([[np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0], [-1e30, 0.0, 1e-3]], np.float32)
    loss, probs = softmax_cross_entropy_forward(z, np.array([1, 1, 1]))
    with np.errstate(invalid="ignore"):
        ref = np.exp(z - z.max(1, keepdims=True))
        ref = ref / ref.sum(1, keepdims=True)
    assert np.all(np.isnan(probs[0])) and np.isnan(loss[0])
    assert np.allclose(probs[1:], ref[1:], rtol=1e-6, atol=0) and probs[1, 0] == 0.0
    assert np.all(np.isfinite(loss[1:]))


@pytest.mark.parametrize("rows", [3, 4096])  # serial and parallel kernels
@pytest.mark.parametrize("bad", [-1, 36, 10**12])
def test_out_of_range_labels_raise_from_the_kernel(rows, bad):
    z = np.zeros((rows, 36), np.float32)
    labels = np.zeros(rows, np.int64)
    labels[rows // 2] = bad
    with pytest.raises(ValueError, match=f"label {bad} is out of range for 36 classes"):
        softmax_cross_entropy_forward(z, labels)


def test_backward_takes_one_scale_for_every_row():
    rng = np.random.default_rng(5)
    loss, probs = softmax_cross_entropy_forward(rng.standard_normal((6, 4)).astype(np.float32), np.arange(6) % 4)
    labels = np.arange(6) % 4
    full = softmax_cross_entropy_backward(probs, labels, np.full(6, 0.25, np.float32))
    for g in (np.float32(0.25) * np.ones(()), np.array([0.25], np.float32)):
        assert np.array_equal(softmax_cross_entropy_backward(probs, labels, g), full)
    with pytest.raises(ValueError, match="gloss"):
        softmax_cross_entropy_backward(probs, labels, np.ones(5, np.float32))
