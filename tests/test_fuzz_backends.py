"""The numba backend against the numpy reference, function by function, under hypothesis.

Every backend function (tinygrad5/backend.py: matmul on each dispatch path, linear and its bias +
activation pass, sigmoid, ReLU, conv2d direct and Winograd-shaped, the fused conv-ReLU-pool,
max_pool2d with and without ReLU, softmax-cross-entropy, the SGD updates) runs on the same inputs in
both backends: random shapes, float32/float64, C / Fortran / sliced / negative-stride layouts, NaN
and inf injected at random places, and extreme magnitudes.  Results must agree in shape and dtype,
in where they are NaN or infinite, and elsewhere within a bound scaled by the inputs' magnitudes.
Sizes follow the hypothesis profile (`ci`: 25 examples; HYPOTHESIS_PROFILE=thorough: 500).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad5.backends import numba_backend as NB
from tinygrad5.backends import numpy_backend as NP

# NaN and inf inputs are the point here: numpy's warnings about them are expected
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = st.sampled_from([np.float32, np.float64])
TOL = {np.float32: 2e-5, np.float64: 1e-12}


@st.composite
def laid_out(draw, shape: tuple[int, ...], dtype, scale: float = 1.0, specials: bool = True,
             low: float = -1.0) -> np.ndarray:
    """Random values of `shape` in one of several memory layouts, maybe with NaN/inf injected."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = (rng.uniform(low, 1.0, size=shape) * scale).astype(dtype)
    if specials and base.size and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            base.reshape(-1)[rng.integers(base.size)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    kind = draw(st.sampled_from(["C", "F", "sliced", "reversed"]))
    if kind == "F":
        return np.asfortranarray(base)
    if kind == "sliced" and base.ndim:  # every other element of a wider array
        wide = np.empty(shape[:-1] + (2 * shape[-1],), dtype)
        wide[..., ::2] = base
        return wide[..., ::2]
    if kind == "reversed" and base.ndim:  # negative strides on every axis
        flipped = np.ascontiguousarray(base[(slice(None, None, -1),) * base.ndim])
        return flipped[(slice(None, None, -1),) * base.ndim]
    return base


SCALES = st.sampled_from([1.0, 1e-30, 1e15])  # ordinary, tiny (denormal products), huge but no overflow


def agree(got: np.ndarray, want: np.ndarray, bound: np.ndarray | float = 1.0, tol: float = 1e-5) -> None:
    """Same shape and dtype, NaN and inf in the same places, finite values within tol * bound."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    fin = np.isfinite(want)
    bound = np.broadcast_to(np.nan_to_num(np.asarray(bound, np.float64), nan=0.0, posinf=0.0), want.shape)
    err = np.abs(got[fin].astype(np.float64) - want[fin])
    limit = tol * bound[fin] + np.finfo(want.dtype).tiny * 4
    assert (err <= limit).all(), f"max error {err.max()} over bound {limit[err.argmax()]}"


def abs_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a| @ |b| in float64: the scale of each product's rounding error."""
    return np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))


# ---- matmul: small (BLAS), tile_gemm, split and packed-GEMM sizes, batched -------------------------
SIDES = st.sampled_from([1, 2, 5, 16, 33, 64, 130, 300])


@given(st.data(), DTYPES, SIDES, SIDES, SIDES, st.sampled_from([(), (3,), (2, 1)]), SCALES)
def test_matmul(data, dtype, m, k, n, batch, scale):
    a = data.draw(laid_out(batch + (m, k), dtype, scale))
    b = data.draw(laid_out((k, n) if data.draw(st.booleans()) else batch + (k, n), dtype, 1.0))
    want = NP.matmul(a, b)
    agree(NB.matmul(a, b), want, abs_matmul(a, b), TOL[dtype] * 4)
    if a.ndim == b.ndim == 2:
        out = np.empty((m, n), dtype)
        assert NB.matmul(a, b, out=out) is out
        agree(out, want, abs_matmul(a, b), TOL[dtype] * 4)


@given(st.data(), DTYPES, SIDES, st.sampled_from([1, 3, 32, 64, 300]), st.sampled_from([1, 10, 36, 64, 1024]),
       st.sampled_from([None, "sigmoid", "relu"]), st.booleans(), SCALES)
def test_linear_and_its_bias_activation_pass(data, dtype, rows, k, n, act, with_bias, scale):
    x = data.draw(laid_out((rows, k), dtype, scale))
    w = data.draw(laid_out((n, k), dtype, 1.0, specials=False))
    bias = data.draw(laid_out((n,), dtype, 1.0, specials=False)) if with_bias else None
    got, cache_nb = NB.linear_forward(x, w, bias, act)
    want, cache_np = NP.linear_forward(x, w, bias, act)
    bound = abs_matmul(x, w.T) + (0 if bias is None else np.abs(bias))
    if act == "sigmoid":  # values in [0, 1]: their rounding error is absolute
        bound = np.maximum(bound, 1.0)
    agree(got, want, bound, TOL[dtype] * 4)
    g = data.draw(laid_out((rows, n), dtype, 1.0, specials=False))
    # where the pre-activation rounds differently, sigmoid's slope and ReLU's mask may differ: skip those
    safe = np.abs(want) > 1e-3 if act == "relu" else np.ones(want.shape, bool)
    g_nb, gb_nb = NB.bias_act_backward(g.copy(), cache_nb, with_bias)
    g_np, gb_np = NP.bias_act_backward(g.copy(), cache_np, with_bias)
    agree(np.where(safe, g_nb, 0).astype(dtype), np.where(safe, g_np, 0).astype(dtype), np.abs(g), 1e-3)
    if with_bias and safe.all():
        agree(gb_nb, gb_np, np.abs(g).sum(axis=0), 1e-3)


# ---- elementwise: sigmoid, ReLU ----------------------------------------------------------------------
ELEMS = st.sampled_from([(0,), (7,), (3, 5), (64, 70), (2, 3, 4, 5), (5000,)])


@given(st.data(), DTYPES, ELEMS, st.sampled_from([1.0, 1e-30, 1e30, 100.0]))
def test_sigmoid(data, dtype, shape, scale):
    a = data.draw(laid_out(shape, dtype, scale))
    out = NP.sigmoid_forward(a)
    agree(NB.sigmoid_forward(a), out, 1.0, 1e-6)
    g = data.draw(laid_out(shape, dtype, 1.0))
    agree(NB.sigmoid_backward(out, g), NP.sigmoid_backward(out, g), np.abs(g), 1e-6)


@given(st.data(), DTYPES, ELEMS, st.sampled_from([1.0, 1e-30, 1e30]))
def test_relu(data, dtype, shape, scale):
    a = data.draw(laid_out(shape, dtype, scale))
    out_nb, mask_nb = NB.relu_forward(a)
    out_np, mask_np = NP.relu_forward(a)
    agree(out_nb, out_np, 0.0, 0.0)
    np.testing.assert_array_equal(np.asarray(mask_nb, bool), np.asarray(mask_np, bool))
    g = data.draw(laid_out(shape, dtype, 1.0))
    agree(NB.relu_backward(g, mask_nb), NP.relu_backward(g, mask_np), 0.0, 0.0)


# ---- convolution: direct, Winograd-shaped (float32 5x5, 8+ channels, 32 samples), fused with pool ------
@st.composite
def conv_case(draw):
    dtype = draw(DTYPES)
    if draw(st.booleans()):  # shapes the Winograd path takes (for float32)
        n, c, o, kh, kw, h, w, stride, pad = 32, 8, draw(st.sampled_from([8, 16])), 5, 5, 12, 12, (1, 1), (0, 0)
    else:
        n, c, o = draw(st.integers(0, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
        kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        stride, pad = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        h, w = draw(st.integers(max(1, kh - 2 * pad[0]), 10)), draw(st.integers(max(1, kw - 2 * pad[1]), 10))
    scale = draw(SCALES)
    x = draw(laid_out((n, c, h, w), dtype, scale))
    wt = draw(laid_out((o, c, kh, kw), dtype, 1.0, specials=False))
    b = draw(laid_out((o,), dtype, 1.0, specials=False)) if draw(st.booleans()) else None
    return x, wt, b, stride, pad


def _conv_bound(x, w, stride, pad):
    """conv of |x| with |w| in float64, NaN and inf as 0: the scale of each finite output's rounding
    error (a pool may pick a finite value beside a window that saw an inf)."""
    ax = np.abs(np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0))
    return NP.conv2d_forward(ax, np.abs(w.astype(np.float64)), None, stride, pad)[0]


@given(st.data(), conv_case())
def test_conv2d_forward_and_backward(data, case):
    x, w, b, stride, pad = case
    want, cache_np = NP.conv2d_forward(x, w, b, stride, pad)
    got, cache_nb = NB.conv2d_forward(x, w, b, stride, pad)
    bound = _conv_bound(x, w, stride, pad) + (0 if b is None else np.abs(b)[:, None, None])
    tol = TOL[x.dtype.type] * 20  # Winograd: within a few times the direct form's error
    agree(got, want, bound, tol)
    if not np.isfinite(x).all():
        return  # gradients of NaN inputs: NaN wherever both backends touch them, compared above enough
    g = data.draw(laid_out(want.shape, x.dtype, 1.0, specials=False))
    gx_nb, gw_nb, gb_nb = NB.conv2d_backward(g, cache_nb, need_x=True)
    gx_np, gw_np, gb_np = NP.conv2d_backward(g, cache_np, need_x=True)
    agree(np.ascontiguousarray(gx_nb), np.ascontiguousarray(gx_np),
          NP.conv2d_backward(np.abs(g), (NP.conv2d_forward(x, np.abs(w), None, stride, pad)[1]), True)[0], tol)
    gw_bound = NP.conv2d_backward(np.abs(g.astype(np.float64)),
                                  NP.conv2d_forward(np.abs(x.astype(np.float64)), w.astype(np.float64), None,
                                                    stride, pad)[1], need_x=False)[1]
    agree(gw_nb, gw_np, gw_bound, tol)
    if b is not None:
        agree(gb_nb, gb_np, np.abs(g).sum(axis=(0, 2, 3)), tol)


@given(st.data(), conv_case())
def test_fused_conv_relu_pool(data, case):
    x, w, b, stride, pad = case
    conv_out = NP.conv2d_forward(x, w, b, stride, pad)[0]
    if conv_out.shape[2] < 2 or conv_out.shape[3] < 2:
        return
    want, _ = NP.conv2d_relu_pool_forward(x, w, b, stride, pad)
    got, cache_nb = NB.conv2d_relu_pool_forward(x, w, b, stride, pad)
    bound = _conv_bound(x, w, stride, pad)[:, :, :want.shape[2] * 2, :want.shape[3] * 2]
    bound = bound.reshape(bound.shape[:2] + (want.shape[2], 2, want.shape[3], 2)).max(axis=(3, 5))
    agree(got, want, bound + (0 if b is None else np.abs(b)[:, None, None]), TOL[x.dtype.type] * 20)
    if np.isfinite(x).all() and got.size:  # the backward runs and keeps shapes and dtypes
        gx, gw, gb = NB.conv2d_relu_pool_backward(np.ones_like(got), cache_nb, need_x=True)
        assert gx.shape == x.shape and gw.shape == w.shape and gx.dtype == x.dtype


# ---- pooling ----------------------------------------------------------------------------------------------
@given(st.data(), DTYPES, st.integers(0, 3), st.integers(1, 4), st.integers(2, 9), st.integers(2, 9),
       st.sampled_from([(2, 2), (3, 3), (2, 3), (1, 1)]), st.sampled_from([None, (1, 1), (2, 1), (3, 2)]),
       st.booleans(), st.sampled_from([1.0, 1e30, 1e-30]))
def test_max_pool2d(data, dtype, n, c, h, w, kernel, stride, relu, scale):
    if kernel[0] > h or kernel[1] > w:
        return
    stride = stride or kernel
    x = data.draw(laid_out((n, c, h, w), dtype, scale))
    want, cache_np = NP.max_pool2d_forward(x, kernel, stride, relu)
    got, cache_nb = NB.max_pool2d_forward(x, kernel, stride, relu)
    agree(got, want, 0.0, 0.0)
    if np.isnan(x).any():
        return  # which NaN a window picks is the kernel's choice; the values above already agree
    g = data.draw(laid_out(want.shape, dtype, 1.0, specials=False))
    exact = np.unique(x.reshape(-1)).size == x.size  # with ties the two may route to different copies
    if exact:
        agree(NB.max_pool2d_backward(g, cache_nb), NP.max_pool2d_backward(g, cache_np), np.abs(g).sum(), 1e-6)


# ---- softmax-cross-entropy -------------------------------------------------------------------------------
@given(st.data(), DTYPES, st.integers(0, 40), st.integers(1, 40), st.sampled_from([1.0, 1e3, 1e7, 1e30, 3e38]))
def test_softmax_cross_entropy(data, dtype, n, c, scale):
    z = data.draw(laid_out((n, c), dtype, scale))
    labels = np.asarray(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), np.int64)
    loss_np, p_np = NP.softmax_cross_entropy_forward(z, labels)
    loss_nb, p_nb = NB.softmax_cross_entropy_forward(z, labels)
    # the loss is logsumexp(z) - z[label]: its error scales with the row's spread, never with its max
    spread = np.nan_to_num(np.abs(z.astype(np.float64) - np.nanmax(z, axis=1, keepdims=True, initial=-np.inf)
                                  if n else z), nan=0.0, posinf=0.0).max(axis=1, initial=0.0) + 1.0
    agree(loss_nb, loss_np, spread, TOL[dtype] * 10)
    agree(p_nb, p_np, 1.0, TOL[dtype] * 10)
    for gloss in (np.ones(1, dtype), data.draw(laid_out((n,), dtype, 1.0, specials=False))):
        agree(NB.softmax_cross_entropy_backward(p_np, labels, gloss),
              NP.softmax_cross_entropy_backward(p_np, labels, gloss), 1.0, TOL[dtype] * 10)


@given(st.data(), DTYPES, st.integers(1, 20), st.integers(1, 10))
def test_softmax_cross_entropy_refuses_the_same_labels(data, dtype, n, c):
    z = np.zeros((n, c), dtype)
    labels = np.zeros(n, np.int64)
    labels[data.draw(st.integers(0, n - 1))] = data.draw(st.sampled_from([-1, c, c + 5, -(2**62)]))
    errors = []
    for be in (NP, NB):
        with pytest.raises(ValueError) as e:
            be.softmax_cross_entropy_forward(z, labels)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


# ---- SGD -----------------------------------------------------------------------------------------------
@given(st.data(), DTYPES, st.sampled_from([(1,), (7,), (33, 5), (300, 40)]), st.booleans(),
       st.sampled_from([0.0, 0.9]), st.sampled_from([0.0, 0.5]))
def test_sgd_step_and_steps(data, dtype, shape, momentum, mu, damp):
    w = data.draw(laid_out(shape, dtype, 1.0, specials=False))
    d = data.draw(laid_out(shape, dtype, 1.0))
    buf = data.draw(laid_out(shape, dtype, 1.0, specials=False)) if momentum else None
    ws = [w.copy(order="K"), w.copy(order="K")]
    bufs = [None if buf is None else buf.copy(order="K") for _ in range(2)]
    NB.sgd_step(ws[0], d, bufs[0], 0.1, mu, damp)
    NP.sgd_step(ws[1], d, bufs[1], 0.1, mu, damp)
    agree(ws[0], ws[1], np.abs(w) + 1, 1e-6)
    if momentum:
        agree(bufs[0], bufs[1], np.abs(buf) + 1, 1e-6)
    many = [[np.array(w, order="C") for _ in range(3)] for _ in range(2)]  # copies: no aliasing
    grads = [np.ascontiguousarray(d) * (i + 1) for i in range(3)]
    mbufs = [None if buf is None else [np.array(buf, order="C") for _ in range(3)] for _ in range(2)]
    NB.sgd_steps(many[0], grads, mbufs[0], 0.1, mu, damp, {})
    NP.sgd_steps(many[1], grads, mbufs[1], 0.1, mu, damp, {})
    for u, v in zip(many[0], many[1]):
        agree(u, v, np.abs(w) + 3, 1e-6)
