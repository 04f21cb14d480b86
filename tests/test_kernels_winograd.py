"""Winograd's F(2x2, 5x5) forward (tinygrad5.kernels.winograd) against the direct convolution."""
from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad5.kernels import conv2d as conv_module
from tinygrad5.kernels import conv_relu_pool, winograd


def _mat_vec(m, v):
    return [sum((a * b for a, b in zip(row, v)), Fraction(0)) for row in m]


@pytest.mark.parametrize("points,m,r", [(winograd.POINTS, 2, 5), ((0, 1, -1), 2, 3), ((0, 1, -1, 2, -2), 4, 3)])
def test_the_transforms_compute_the_correlation_exactly(points, m, r):
    at, g, bt = winograd.transforms(points, m, r)
    rng = np.random.default_rng(r)
    for _ in range(20):
        f = [Fraction(int(v)) for v in rng.integers(-9, 10, r)]
        d = [Fraction(int(v)) for v in rng.integers(-9, 10, m + r - 1)]
        got = _mat_vec(at, [a * b for a, b in zip(_mat_vec(g, f), _mat_vec(bt, d))])
        assert got == [sum(f[k] * d[i + k] for k in range(r)) for i in range(m)]


def _direct(x, w, b):
    """max_pool2d(relu(conv2d)) in float64 numpy: the values the fused op must approximate."""
    n, c, h, wd = x.shape
    oh, ow = h - 4, wd - 4
    y = np.zeros((n, w.shape[0], oh, ow))
    for i in range(5):
        for j in range(5):
            y += np.einsum("oc,nchw->nohw", w[:, :, i, j].astype(np.float64), x[:, :, i:i + oh, j:j + ow])
    if b is not None:
        y += b[None, :, None, None]
    y = np.maximum(y, 0)
    return y.reshape(n, -1, oh // 2, 2, ow // 2, 2).max(axis=(3, 5))


@settings(deadline=None, max_examples=15)
@given(n=st.integers(1, 40), c=st.integers(8, 24), o=st.integers(8, 40), oh=st.sampled_from([2, 4, 10]),
       ow=st.sampled_from([2, 6, 10, 14]), parts=st.integers(1, 3), bias=st.booleans(), seed=st.integers(0, 2**31))
def test_the_forward_matches_the_direct_convolution(n, c, o, oh, ow, parts, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, c, oh + 4, ow + 4), dtype=np.float32)
    w = (rng.standard_normal((o, c, 5, 5)) * 0.1).astype(np.float32)
    b = (rng.standard_normal(o) * 0.3).astype(np.float32) if bias else None
    pooled = np.full((n, o, oh // 2, ow // 2), np.nan, np.float32)
    pidx = np.full(pooled.shape, 99_999, np.int32)
    assert winograd.usable(x, w, (1, 1), (0, 0))
    assert winograd.forward_relu_pool(x, w, b, pooled, pidx, parts)
    want = _direct(x, w, b)
    np.testing.assert_allclose(pooled, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # the index: where the window's maximum is, coded -(i + 1) where ReLU cut it (pool2x2's rules)
    y = np.zeros((n, o, oh, ow))
    for i in range(5):
        for j in range(5):
            y += np.einsum("oc,nchw->nohw", w[:, :, i, j].astype(np.float64), x[:, :, i:i + oh, j:j + ow])
    if b is not None:
        y += b[None, :, None, None]
    win = y.reshape(n, o, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, o, oh // 2, ow // 2, 4)
    top2 = np.sort(win, axis=-1)[..., -2:]
    clear = (top2[..., 1] - top2[..., 0] > 1e-4) & (np.abs(top2[..., 1]) > 1e-4)  # no near-ties or kink
    k = win.argmax(axis=-1)
    ty, tx = np.meshgrid(np.arange(oh // 2), np.arange(ow // 2), indexing="ij")
    idx = (2 * ty + k // 2) * ow + 2 * tx + k % 2
    want_idx = np.where(win.max(axis=-1) > 0, idx, -idx - 1)
    assert np.array_equal(pidx[clear], want_idx[clear]) and clear.mean() > 0.9


def test_non_finite_inputs_are_reported_so_the_direct_path_runs():
    rng = np.random.default_rng(0)
    x = rng.random((32, 20, 14, 14), dtype=np.float32)
    w = (rng.standard_normal((50, 20, 5, 5)) * 0.1).astype(np.float32)
    x[3, 7, 5, 6] = np.inf
    pooled, pidx = np.empty((32, 50, 5, 5), np.float32), np.empty((32, 50, 5, 5), np.int32)
    assert not winograd.forward_relu_pool(x, w, None, pooled, pidx, 2)
    out, cache = conv_relu_pool.forward(x, w, None, (1, 1), (0, 0))  # the direct path's values
    with np.errstate(invalid="ignore"):
        want = _direct(x, w, None)
    assert np.isinf(out[3]).any() and not np.isnan(out).any()
    assert np.array_equal(np.isinf(out), np.isinf(want))


def test_usable_takes_only_float32_5x5_stride_1_unpadded_even_outputs_and_8_channels():
    x, w = np.zeros((32, 8, 14, 14), np.float32), np.zeros((8, 8, 5, 5), np.float32)
    assert winograd.usable(x, w, (1, 1), (0, 0))
    assert not winograd.usable(x.astype(np.float64), w.astype(np.float64), (1, 1), (0, 0))
    assert not winograd.usable(x, w[:, :, :3, :3], (1, 1), (0, 0))
    assert not winograd.usable(x, w, (2, 2), (0, 0)) and not winograd.usable(x, w, (1, 1), (1, 1))
    assert not winograd.usable(x[:, :, :13], w, (1, 1), (0, 0))  # 9 output rows
    assert not winograd.usable(x[:, :7], w[:, :7], (1, 1), (0, 0)) and not winograd.usable(x, w[:7], (1, 1), (0, 0))


@pytest.mark.parametrize("parts,n,taken", [(2, 32, True), (2, 31, False), (1, 16, True), (1, 15, False)])
def test_the_fused_op_runs_winograd_with_a_full_vector_of_samples_a_thread(monkeypatch, parts, n, taken):
    calls = []
    real = winograd.forward_relu_pool
    monkeypatch.setattr(winograd, "forward_relu_pool", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(conv_module, "_per_sample_parts", lambda x, w: parts)
    rng = np.random.default_rng(n)
    x = rng.random((n, 20, 14, 14), dtype=np.float32)
    w = (rng.standard_normal((50, 20, 5, 5)) * 0.1).astype(np.float32)
    b = rng.standard_normal(50).astype(np.float32)
    out, cache = conv_relu_pool.forward(x, w, b, (1, 1), (0, 0))
    assert bool(calls) == taken
    want = _direct(x, w, b)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    gx, gw, gb = conv_relu_pool.backward(np.ones_like(out), cache, True)  # backward reads the indices
    assert gx.shape == x.shape and gw.shape == w.shape and np.isclose(gb.sum(), (cache[1].idx >= 0).sum())


@pytest.mark.parametrize("parts,n", [(2, 32), (1, 17), (3, 50)])
def test_conv2d_forward_runs_winograd_and_matches_the_direct_products(monkeypatch, parts, n):
    from tinygrad5.kernels import conv_per_sample
    monkeypatch.setattr(conv_module, "_per_sample_parts", lambda x, w: parts)
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 12, 10, 18)).astype(np.float32)  # 7 output blocks a row: two passes
    w = (rng.standard_normal((9, 12, 5, 5)) * 0.1).astype(np.float32)
    b = rng.standard_normal(9).astype(np.float32)
    assert conv_module.use_winograd(x, w, (1, 1), (0, 0), parts)
    out, _ = conv_module.conv2d_forward(x, w, b, 1, 0)
    want = conv_per_sample.conv2d_forward(x, w, b, (1, 1), (0, 0), 6, 14, parts)  # the direct products
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=2e-6 * np.abs(want).max())
    assert not np.array_equal(out, want)  # a different algorithm: not the same bits
    x[-1, 0, 0, 0] = np.nan  # non-finite: the direct path's result
    out, _ = conv_module.conv2d_forward(x, w, b, 1, 0)
    assert np.array_equal(out, conv_per_sample.conv2d_forward(x, w, b, (1, 1), (0, 0), 6, 14, parts), equal_nan=True)


def _weight_grad_f64(x, dy):
    """conv2d's weight gradient in float64 numpy: gW[o, c, i, j] = sum of dy[n, o] * x[n, c] shifted."""
    oh, ow = dy.shape[2], dy.shape[3]
    gw = np.zeros((dy.shape[1], x.shape[1], 5, 5))
    for i in range(5):
        for j in range(5):
            gw[:, :, i, j] = np.einsum("nohw,nchw->oc", dy.astype(np.float64), x[:, :, i:i + oh, j:j + ow])
    return gw


@settings(deadline=None, max_examples=12)
@given(n=st.integers(1, 40), c=st.integers(8, 20), o=st.integers(8, 40), oh=st.sampled_from([2, 6, 10]),
       ow=st.sampled_from([2, 10, 14]), parts=st.integers(1, 3), pooled=st.booleans(), seed=st.integers(0, 2**31))
def test_the_weight_gradient_matches_the_direct_sums(n, c, o, oh, ow, parts, pooled, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, c, oh + 4, ow + 4), dtype=np.float32)
    w = (rng.standard_normal((o, c, 5, 5)) * 0.1).astype(np.float32)
    if pooled:  # the fused op's gradient: pooled values and pool2x2's indices (ReLU-cut ones negative)
        gp = rng.standard_normal((n, o, oh // 2, ow // 2)).astype(np.float32)
        ty, tx = np.meshgrid(np.arange(oh // 2), np.arange(ow // 2), indexing="ij")
        tap = rng.integers(0, 4, gp.shape)
        k = (2 * ty + tap // 2) * ow + 2 * tx + tap % 2
        idx = np.where(rng.random(gp.shape) < 0.3, -k - 1, k).astype(np.int32)
        dy = np.zeros((n, o, oh * ow))
        np.put_along_axis(dy, np.where(idx >= 0, idx, -idx - 1).reshape(n, o, -1),
                          np.where(idx >= 0, gp, 0).reshape(n, o, -1), axis=2)
        got = winograd.weight_grad(x, gp, idx, w.shape, parts)
        dy = dy.reshape(n, o, oh, ow)
    else:
        dy = rng.standard_normal((n, o, oh, ow)).astype(np.float32)
        got = winograd.weight_grad(x, dy, None, w.shape, parts)
    want = _weight_grad_f64(x, dy)
    assert got.dtype == np.float32 and got.shape == w.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=3e-6 * np.abs(want).max())


def test_a_non_finite_weight_gradient_is_refused_and_the_layers_fall_back():
    rng = np.random.default_rng(3)
    x = rng.random((32, 20, 14, 14), dtype=np.float32)
    w = (rng.standard_normal((50, 20, 5, 5)) * 0.1).astype(np.float32)
    g = rng.standard_normal((32, 50, 10, 10)).astype(np.float32)
    g[5, 3, 2, 2] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the refused attempt warns about nothing
        assert winograd.weight_grad(x, g, None, w.shape, 2) is None
    y, cache = conv_module.conv2d_forward(x, w, None, 1, 0)
    _, gw, _ = conv_module.conv2d_backward(g, cache, False)  # the direct weight gradient
    assert np.isinf(gw[3]).any() and np.isfinite(gw[:3]).all()


def test_the_fused_op_and_conv2d_then_the_pool_agree_bit_for_bit_on_the_winograd_path(monkeypatch):
    from tinygrad5.kernels import max_pool2d_backward, max_pool2d_forward
    monkeypatch.setattr(conv_module, "_per_sample_parts", lambda x, w: 2)
    rng = np.random.default_rng(1)
    x = rng.random((32, 20, 14, 14), dtype=np.float32)
    w = (rng.standard_normal((50, 20, 5, 5)) * 0.1).astype(np.float32)
    b = rng.standard_normal(50).astype(np.float32)
    assert conv_module.use_winograd(x, w, (1, 1), (0, 0), 2)
    out, cache = conv_relu_pool.forward(x, w, b, (1, 1), (0, 0))
    y, conv_cache = conv_module.conv2d_forward(x, w, b, 1, 0)
    want, pool_cache = max_pool2d_forward(y, (2, 2), (2, 2), relu=True)
    assert np.array_equal(out, want) and np.array_equal(cache[1].idx, pool_cache.idx)
    g = rng.standard_normal(out.shape).astype(np.float32)
    got = conv_relu_pool.backward(g, cache, True)
    ref = conv_module.conv2d_backward(max_pool2d_backward(g, pool_cache), conv_cache, True)
    assert all(np.array_equal(a, r) for a, r in zip(got, ref))
