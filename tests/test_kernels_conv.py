"""conv2d kernels against a float64 numpy reference, on both paths: per sample (conv_per_sample: im2col
into a thread's buffer + BLAS) and batch-wide (im2col/col2im + GEMM, direct 1-channel path).

Tolerance: relative to the sum of |products| of each output (see test_kernels_gemm): 1e-5 for
float32 scaled by sqrt(K/64) for long reductions (K = C*KH*KW forward, N*OH*OW for gW), 1e-10 for
float64.
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad5 import threads
from tinygrad5.kernels import conv2d as conv_module
from tinygrad5.kernels import conv2d_backward, conv2d_forward

# What conv2d._per_sample_parts answers under each forced path (per-sample: every thread, even past N).
PATHS = {"per-sample": lambda x, w: threads.get_num_threads(), "batch-wide": lambda x, w: 0}


def forced(path: str):
    """A context that sends conv2d down one path."""
    return mock.patch.object(conv_module, "_per_sample_parts", PATHS[path])


def _ref_forward(x, w, b, s, p):
    """Cross-correlation by explicit loops over kernel taps (float64)."""
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    kh, kw = w.shape[2:]
    oh = (xp.shape[2] - kh) // s[0] + 1
    ow = (xp.shape[3] - kw) // s[1] + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky:ky + s[0] * (oh - 1) + 1:s[0], kx:kx + s[1] * (ow - 1) + 1:s[1]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, ky, kx])
    return out + (0 if b is None else b[None, :, None, None])


def _ref_backward(x, w, g, s, p):
    """(gx, gw, gb) by the adjoint of _ref_forward, plus their |.| scales for the tolerance."""
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh, ow = g.shape[2:]
    gw, gws = np.zeros_like(w), np.zeros_like(w)
    gxp, gxs = np.zeros_like(xp), np.zeros_like(xp)
    for ky in range(w.shape[2]):
        for kx in range(w.shape[3]):
            sl = (slice(None), slice(None), slice(ky, ky + s[0] * (oh - 1) + 1, s[0]),
                  slice(kx, kx + s[1] * (ow - 1) + 1, s[1]))
            gw[:, :, ky, kx] = np.einsum("nohw,nchw->oc", g, xp[sl])
            gws[:, :, ky, kx] = np.einsum("nohw,nchw->oc", np.abs(g), np.abs(xp[sl]))
            gxp[sl] += np.einsum("nohw,oc->nchw", g, w[:, :, ky, kx])
            gxs[sl] += np.einsum("nohw,oc->nchw", np.abs(g), np.abs(w[:, :, ky, kx]))
    crop = (slice(None), slice(None), slice(p[0], p[0] + x.shape[2]), slice(p[1], p[1] + x.shape[3]))
    return gxp[crop], gxs[crop], gw, gws


def _close(got, want, scale, dtype, k):
    tol = 1e-10 if dtype == np.float64 else 1e-5 * max(1.0, np.sqrt(k / 64))
    assert got.shape == want.shape and got.dtype == dtype
    err = np.max(np.abs(got - want) / (scale + 1e-30), initial=0.0)
    assert err <= tol, f"relative error {err:.3g} > {tol:.3g}"


@st.composite
def conv_cases(draw):
    n = draw(st.integers(1, 3))
    c = draw(st.sampled_from([1, 1, 2, 3]))
    o = draw(st.sampled_from([1, 2, 3, 7]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, kh - 2 * p[0]), 9))
    w = draw(st.integers(max(1, kw - 2 * p[1]), 9))
    return n, c, h, w, o, kh, kw, s, p


@settings(deadline=None)
@given(case=conv_cases(), dtype=st.sampled_from([np.float32, np.float64]), bias=st.booleans(),
       need_x=st.booleans(), seed=st.integers(0, 2**31), path=st.sampled_from(sorted(PATHS)))
def test_conv2d_matches_reference(case, dtype, bias, need_x, seed, path):
    n, c, h, wd, o, kh, kw, s, p = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, wd)).astype(dtype)
    w = rng.standard_normal((o, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    with forced(path):
        out, cache = conv2d_forward(x, w, b, s, p)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    want = _ref_forward(x64, w64, None if b is None else b.astype(np.float64), s, p)
    scale = _ref_forward(np.abs(x64), np.abs(w64), None if b is None else np.abs(b.astype(np.float64)), s, p)
    _close(out, want, scale, dtype, c * kh * kw)

    g = rng.standard_normal(out.shape).astype(dtype)
    with forced(path):
        gx, gw, gb = conv2d_backward(g, cache, need_x=need_x)
    gx_r, gx_s, gw_r, gw_s = _ref_backward(x64, w64, g.astype(np.float64), s, p)
    _close(gw, gw_r, gw_s, dtype, n * out.shape[2] * out.shape[3])
    if need_x:
        _close(gx, gx_r, gx_s, dtype, o * kh * kw)
    else:
        assert gx is None
    if bias:
        _close(gb, g.astype(np.float64).sum((0, 2, 3)), np.abs(g.astype(np.float64)).sum((0, 2, 3)), dtype,
               g.size // o)
    else:
        assert gb is None


@settings(deadline=None, max_examples=30)
@given(n=st.integers(1, 3), o=st.sampled_from([1, 5, 7, 20]), h=st.integers(3, 20), w=st.integers(14, 40),
       k=st.integers(1, 5), sh=st.integers(1, 2), p=st.integers(0, 2), dtype=st.sampled_from([np.float32, np.float64]),
       bias=st.booleans(), seed=st.integers(0, 2**31))
def test_conv2d_one_channel_implicit_gemm(n, o, h, w, k, sh, p, dtype, bias, seed):
    # One input channel and output rows >= 12 wide take the implicit-GEMM forward (no im2col).
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, max(h, k), w)).astype(dtype)
    wt = rng.standard_normal((o, 1, k, k)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    with forced("batch-wide"):  # the per-sample path, when it applies, comes first
        out, cache = conv2d_forward(x, wt, b, (sh, 1), (p, p))
    x64, w64 = x.astype(np.float64), wt.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    _close(out, _ref_forward(x64, w64, b64, (sh, 1), (p, p)),
           _ref_forward(np.abs(x64), np.abs(w64), None if b is None else np.abs(b64), (sh, 1), (p, p)), dtype, k * k)
    g = rng.standard_normal(out.shape).astype(dtype)
    with forced("batch-wide"):
        gx, gw, _ = conv2d_backward(g, cache)
    gx_r, gx_s, gw_r, gw_s = _ref_backward(x64, w64, g.astype(np.float64), (sh, 1), (p, p))
    _close(gw, gw_r, gw_s, dtype, g.size // o)
    _close(gx, gx_r, gx_s, dtype, o * k * k)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c,o,hw", [(1, 20, 32), (20, 50, 14)])
def test_conv2d_lenet_layers_parallel(dtype, c, o, hw, path, monkeypatch):
    # LeNet-sized layers take the parallel paths (per sample: threads over samples; batch-wide:
    # im2col, GEMM tasks, col2im, direct 1-channel).
    monkeypatch.setattr(conv_module, "_per_sample_parts", PATHS[path])
    rng = np.random.default_rng(c)
    x = rng.standard_normal((8, c, hw, hw)).astype(dtype)
    w = rng.standard_normal((o, c, 5, 5)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    out, cache = conv2d_forward(x, w, b, (1, 1), (0, 0))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    _close(out, _ref_forward(x64, w64, b.astype(np.float64), (1, 1), (0, 0)),
           _ref_forward(np.abs(x64), np.abs(w64), np.abs(b.astype(np.float64)), (1, 1), (0, 0)), dtype, c * 25)
    g = rng.standard_normal(out.shape).astype(dtype)
    gx, gw, gb = conv2d_backward(g, cache)
    gx_r, gx_s, gw_r, gw_s = _ref_backward(x64, w64, g.astype(np.float64), (1, 1), (0, 0))
    _close(gw, gw_r, gw_s, dtype, g.size // o)
    _close(gx, gx_r, gx_s, dtype, o * 25)


def test_conv2d_accepts_non_contiguous_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 5, 2, 3)).transpose(2, 3, 0, 1)  # (2, 3, 5, 5) view
    w = rng.standard_normal((4, 3, 3, 3))
    out, _ = conv2d_forward(x, w, None, (1, 1), (1, 1))
    assert np.allclose(out, _ref_forward(x, w, None, (1, 1), (1, 1)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x,w,b,msg", [
    (np.ones((1, 2, 5, 5)), np.ones((3, 1, 3, 3)), None, "channel"),
    (np.ones((1, 1, 5, 5), np.float32), np.ones((3, 1, 3, 3)), None, "dtype"),
    (np.ones((1, 1, 2, 2)), np.ones((3, 1, 3, 3)), None, "larger"),
    (np.ones((1, 1, 5, 5)), np.ones((3, 1, 3, 3)), np.ones(2), "bias"),
    (np.ones((1, 5, 5)), np.ones((3, 1, 3, 3)), None, r"\(N,C,H,W\)"),
])
def test_conv2d_rejects_bad_input(x, w, b, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        conv2d_forward(x, w, b, (1, 1), (0, 0))


def test_conv2d_backward_checks_gout_shape():
    _, cache = conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), None, (1, 1), (0, 0))
    with pytest.raises(ValueError, match="gout"):
        conv2d_backward(np.ones((1, 2, 4, 4)), cache)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_split_blas_path_matches_our_gemm(monkeypatch, dtype, bias):
    from tinygrad5 import threads
    from tinygrad5.kernels import conv2d as k
    if threads.get_num_threads() < 2:
        pytest.skip("the split path needs two threads")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5, 9, 9)).astype(dtype)
    w = rng.standard_normal((7, 5, 3, 3)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype) if bias else None
    g = rng.standard_normal((6, 7, 7, 7)).astype(dtype)
    monkeypatch.setattr(k, "_per_sample_parts", PATHS["batch-wide"])
    results = []
    for threshold in (1 << 62, 0):  # our GEMM, then one BLAS call per core for every product
        monkeypatch.setattr(k, "SPLIT_MIN_MACS", threshold)
        out, cache = conv2d_forward(x, w, b, 1, 0)
        results.append((out,) + conv2d_backward(g, cache))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for ours, split in zip(*results):
        if ours is None:
            assert split is None
        else:
            assert split.dtype == dtype and np.allclose(ours, split, rtol=tol, atol=tol)


def test_gemm_column_blocks_checks_and_declines():
    from tinygrad5.kernels.blas_split import gemm_column_blocks
    a, b = np.ones((3, 4), np.float32), np.ones((4, 10), np.float32)
    with pytest.raises(ValueError, match="does not give"):
        gemm_column_blocks(a, b, np.empty((3, 3, 5), np.float32))
    assert not gemm_column_blocks(a, b.astype(np.float64), np.empty((2, 3, 5), np.float32))
    assert not gemm_column_blocks(a, np.asfortranarray(b), np.empty((2, 3, 5), np.float32))
    out = np.empty((2, 3, 5), np.float32)
    assert gemm_column_blocks(a, b, out, np.arange(3, dtype=np.float32))
    assert np.array_equal(out, np.broadcast_to((4 + np.arange(3, dtype=np.float32))[None, :, None], (2, 3, 5)))
    z = np.empty((2, 3, 5), np.float32)
    assert gemm_column_blocks(np.ones((3, 0), np.float32), np.ones((0, 10), np.float32), z, np.ones(3, np.float32))
    assert np.array_equal(z, np.ones((2, 3, 5), np.float32))


def test_conv2d_batch_smaller_than_the_threads_keeps_our_gemm(monkeypatch):
    from tinygrad5 import threads
    from tinygrad5.kernels import blas_split, conv2d as k
    monkeypatch.setattr(k, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(k, "_per_sample_parts", PATHS["batch-wide"])
    calls = []
    monkeypatch.setattr(blas_split, "gemm_column_blocks", lambda *a, **kw: calls.append(1) or False)
    x = np.ones((1, 3, 6, 6), np.float32)
    out, _ = conv2d_forward(x, np.ones((4, 3, 3, 3), np.float32), None, 1, 0)
    assert np.allclose(out, 27.0) and calls == []
    if threads.get_num_threads() > 1:
        conv2d_forward(np.ones((4, 3, 6, 6), np.float32), np.ones((4, 3, 3, 3), np.float32), None, 1, 0)
        assert calls == [1]


def test_conv2d_takes_the_per_sample_path_when_the_batch_fills_the_threads(monkeypatch):
    from tinygrad5.kernels import conv_per_sample
    calls = []
    real = conv_per_sample.conv2d_forward
    monkeypatch.setattr(conv_per_sample, "conv2d_forward", lambda *a: calls.append(a[0].shape[0]) or real(*a))
    w = np.ones((4, 3, 3, 3), np.float32)
    nthr = threads.get_num_threads()
    conv2d_forward(np.ones((nthr, 3, 6, 6), np.float32), w, None, 1, 0)
    assert calls == [nthr]
    if nthr > 1:  # fewer samples than threads: batch-wide, where the products are split instead
        conv2d_forward(np.ones((nthr - 1, 3, 6, 6), np.float32), w, None, 1, 0)
        assert calls == [nthr]


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_per_sample_conv_sums_weight_gradients_over_any_thread_count(parts):
    # More parts than samples leaves threads without a sample: their partial sums must be zeros.
    from tinygrad5.kernels import conv_per_sample
    rng = np.random.default_rng(parts)
    x = rng.standard_normal((3, 2, 7, 6))
    w = rng.standard_normal((5, 2, 3, 2))
    b = rng.standard_normal(5)
    assert conv_per_sample.usable(x, w)
    out = conv_per_sample.conv2d_forward(x, w, b, (2, 1), (1, 0), 4, 5, parts)
    assert np.allclose(out, _ref_forward(x, w, b, (2, 1), (1, 0)), atol=1e-12)
    g = rng.standard_normal(out.shape)
    gx, gw = conv_per_sample.conv2d_backward(x, w, g, True, (2, 1), (1, 0), 4, 5, parts)
    gx_r, _, gw_r, _ = _ref_backward(x, w, g, (2, 1), (1, 0))
    assert np.allclose(gx, gx_r, atol=1e-12) and np.allclose(gw, gw_r, atol=1e-12)
    gx, gw2 = conv_per_sample.conv2d_backward(x, w, g, False, (2, 1), (1, 0), 4, 5, parts)
    assert gx is None and np.allclose(gw2, gw_r, atol=1e-12)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 12), w=st.integers(1, 40),
       kh=st.integers(1, 5), kw=st.integers(1, 5), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**31))
def test_wide_copy_im2col_matches_the_generic_one(n, c, h, w, kh, kw, dtype, seed):
    # The per-sample stride-1 im2col copies 16 wide into rows with slack (runs of 1-40 values,
    # samples at the end of x where a wide load would leave it); the slack is never read.
    from tinygrad5.kernels import conv as generic, conv_per_sample
    kh, kw = min(kh, h), min(kw, w)
    oh, ow = h - kh + 1, w - kw + 1
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)
    pitch = oh * ow + conv_per_sample.SLACK
    for s in range(n):
        want = np.empty((c * kh * kw, oh * ow), dtype)
        generic._im2col_one(x, s, want, 0, kh, kw, 1, 1, 0, 0, oh, ow)
        got = np.full((c * kh * kw, pitch), np.nan, dtype)
        conv_per_sample._im2col_s1(x, s, got.reshape(-1), pitch, kh, kw, oh, ow)
        assert np.array_equal(got[:, :oh * ow], want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_16_lane_add_touches_exactly_n_values(dtype):
    # col2im's wide add: n of 16 lanes, at the very end of an array (the masked lanes never load
    # or store, so running past the end is safe) and with NaN/inf in the lanes it leaves alone.
    from numba import njit
    from tinygrad5.kernels._jit import add_into16

    @njit
    def add(dst, doff, src, soff, n):
        add_into16(dst, doff, src, soff, n)

    for n in range(17):
        dst = np.arange(20, dtype=dtype)
        src = np.full(24, np.nan, dtype)
        src[3:3 + n] = 100 + np.arange(n)
        want = dst.copy()
        want[20 - n:] += 100 + np.arange(n)
        add(dst, 20 - n, src, 3, n)
        assert np.array_equal(dst, want), n


@pytest.mark.parametrize("parts", [1, 2, 3])  # 3 threads for 2 samples: one thread has none
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c,o,hw,k,stride,pad", [(2, 1, 20, 32, 5, 1, 0), (5, 20, 50, 14, 5, 1, 0),
                                                   (4, 3, 4, 11, 3, 2, 1)])
def test_conv_relu_pool_is_conv_then_relu_pool_bit_for_bit(monkeypatch, parts, dtype, n, c, o, hw, k, stride, pad):
    from tinygrad5.kernels import conv_relu_pool, max_pool2d_backward, max_pool2d_forward
    monkeypatch.setattr(conv_module, "_per_sample_parts", lambda x, w: parts)
    rng = np.random.default_rng(parts + c)
    x = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    w = (rng.standard_normal((o, c, k, k)) * 0.3).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    for bias, need_x in ((b, True), (None, False)):
        out, cache = conv_relu_pool.forward(x, w, bias, (stride, stride), (pad, pad))
        y, conv_cache = conv2d_forward(x, w, bias, (stride, stride), (pad, pad))
        want, pool_cache = max_pool2d_forward(y, (2, 2), (2, 2), relu=True)
        assert np.array_equal(out, want) and np.array_equal(cache[1].idx, pool_cache.idx)
        g = rng.standard_normal(out.shape).astype(dtype)
        got = conv_relu_pool.backward(g, cache, need_x)
        ref = conv2d_backward(max_pool2d_backward(g, pool_cache), conv_cache, need_x)
        for a, r in zip(got, ref):
            assert (a is None and r is None) or np.array_equal(a, r)
    with pytest.raises(ValueError, match="gout"):
        conv_relu_pool.backward(g[:1], cache, True)


def test_conv_relu_pool_declines_odd_outputs_and_the_batch_wide_path(monkeypatch):
    from tinygrad5.kernels import conv_relu_pool
    x, w = np.ones((4, 1, 8, 8), np.float32), np.ones((2, 1, 2, 2), np.float32)  # 7x7 output: odd
    assert conv_relu_pool.forward(x, w, None, (1, 1), (0, 0)) is None
    monkeypatch.setattr(conv_module, "_per_sample_parts", PATHS["batch-wide"])
    assert conv_relu_pool.forward(x[:, :, :7, :7], w, None, (1, 1), (0, 0)) is None  # 6x6, batch-wide


@settings(deadline=None)
@given(c=st.integers(1, 9), h=st.integers(1, 20), w=st.integers(1, 40), kh=st.integers(1, 5), kw=st.integers(1, 5),
       ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 2**31))
def test_col2im_gather_gives_the_scatters_bits(c, h, w, kh, kw, ph, pw, seed):
    # every channel-group remainder (4 at a time), rows wider than 16 lanes, padding, and inputs
    # smaller than the kernel; the second sample checks the column offset
    from tinygrad5.kernels.col2im_gather import col2im_gather
    from tinygrad5.kernels.conv import _col2im_scatter
    oh, ow = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
    if oh <= 0 or ow <= 0:
        return
    gcols = np.random.default_rng(seed).standard_normal((c * kh * kw, 2 * oh * ow)).astype(np.float32)
    gathered, scattered = np.full((2, c, h, w), np.nan, np.float32), np.zeros((2, c, h, w), np.float32)
    for n in range(2):
        col2im_gather(gcols, n, gathered, n * oh * ow, kh, kw, ph, pw, oh, ow)
        _col2im_scatter(gcols, n, scattered, n * oh * ow, kh, kw, 1, 1, ph, pw, oh, ow)
    assert np.array_equal(gathered, scattered)  # every value written (no NaN left), same order of adds
