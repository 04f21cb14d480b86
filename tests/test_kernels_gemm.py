"""Our numba GEMM (tinygrad5.kernels.matmul / gemm3) against a float64 numpy reference.

Tolerance: |ours - exact| <= rtol * (|A| @ |B|) elementwise, the natural scale of a dot product's
rounding error; rtol = 1e-5 for float32 (times sqrt(K / 64) once K > 64, as rounding errors of a
K-long sum grow like sqrt(K)) and 1e-10 for float64.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad5.kernels import gemm3, matmul
from tinygrad5.kernels.gemm_nt import matmul_nt

ODD = st.sampled_from([1, 2, 3, 5, 6, 7, 16, 17, 33])
SIDE = st.one_of(ODD, st.integers(1, 40))


def _tol(dtype, k: int) -> float:
    return 1e-10 if dtype == np.float64 else 1e-5 * max(1.0, np.sqrt(k / 64))


def _check(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = np.matmul(a64, b64)
    scale = np.matmul(np.abs(a64), np.abs(b64)) + 1e-30
    assert c.shape == exact.shape and c.dtype == a.dtype
    err = np.max(np.abs(c - exact) / scale, initial=0.0)
    assert err <= _tol(a.dtype, a.shape[-1]), f"relative error {err:.3g} for {a.shape} @ {b.shape}"


def _layout(rng: np.random.Generator, shape: tuple[int, ...], dtype, kind: str) -> np.ndarray:
    """An array of `shape` that is C-ordered, a transposed view, or a strided slice."""
    if kind == "T":
        return rng.standard_normal(shape[::-1]).astype(dtype).T
    if kind == "slice":
        return rng.standard_normal(shape[:-1] + (2 * shape[-1],)).astype(dtype)[..., ::2]
    return rng.standard_normal(shape).astype(dtype)


@settings(deadline=None)
@given(m=SIDE, k=SIDE, n=SIDE, dtype=st.sampled_from([np.float32, np.float64]),
       la=st.sampled_from(["C", "T", "slice"]), lb=st.sampled_from(["C", "T", "slice"]),
       seed=st.integers(0, 2**31))
def test_matmul_2d_matches_numpy(m, k, n, dtype, la, lb, seed):
    rng = np.random.default_rng(seed)
    a = _layout(rng, (m, k), dtype, la)
    b = _layout(rng, (k, n), dtype, lb)
    _check(matmul(a, b), a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(67, 300, 45), (6, 513, 16), (130, 17, 129), (1, 600, 33)])
def test_matmul_parallel_and_multi_block(m, k, n, dtype):
    # K > 256 spans several cache blocks; parallel=True splits the work into tasks over threads.
    rng = np.random.default_rng(m * k * n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    for par in (True, False):
        _check(matmul(a, b, parallel=par), a, b)
    _check(matmul(a.T.copy().T, b, parallel=True), a, b)


@settings(deadline=None, max_examples=30)
@given(shapes=st.sampled_from([((4, 3, 5), (5, 2)), ((2, 1, 3, 5), (4, 5, 2)), ((3, 5), (2, 5, 4)),
                               ((2, 3, 4, 5), (2, 1, 5, 6)), ((2, 3, 4, 5), (1, 3, 5, 6)),
                               ((3, 1, 2, 3), (1, 4, 3, 2)), ((1, 7, 9), (5, 9, 1))]),
       dtype=st.sampled_from([np.float32, np.float64]), transpose_a=st.booleans(), seed=st.integers(0, 2**31))
def test_matmul_batched_broadcast(shapes, dtype, transpose_a, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes
    a = rng.standard_normal(sa).astype(dtype)
    if transpose_a:
        a = np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2)
    b = rng.standard_normal(sb).astype(dtype)
    _check(matmul(a, b), a, b)


def test_matmul_out_and_empty_and_k0():
    a = np.ones((3, 0), np.float32)
    b = np.ones((0, 4), np.float32)
    assert np.array_equal(matmul(a, b), np.zeros((3, 4), np.float32))
    assert matmul(np.ones((0, 3)), np.ones((3, 2))).shape == (0, 2)
    out = np.empty((2, 2))
    res = matmul(np.eye(2), np.arange(4.0).reshape(2, 2), out=out)
    assert res is out and np.array_equal(out, np.arange(4.0).reshape(2, 2))


def test_matmul_propagates_nan_and_inf():
    a = np.array([[np.nan, 1.0], [1.0, 1.0]], np.float32)
    b = np.array([[1.0, 0.0], [np.inf, 1.0]], np.float32)
    c = matmul(a, b)
    assert np.isnan(c[0, 0]) and np.isnan(c[0, 1]) and np.isinf(c[1, 0])


@pytest.mark.parametrize("a,b,err", [
    (np.ones((2, 3), np.float32), np.ones((3, 2), np.float64), TypeError),
    (np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), TypeError),
    (np.ones((2, 3)), np.ones((4, 2)), ValueError),
    (np.ones(3), np.ones((3, 2)), ValueError),
])
def test_matmul_rejects_bad_input(a, b, err):
    with pytest.raises(err, match=r"float|shapes|multiply"):
        matmul(a, b)


@settings(deadline=None, max_examples=30)
@given(nb=st.integers(1, 5), m=SIDE, k=SIDE, n=SIDE, dtype=st.sampled_from([np.float32, np.float64]),
       bias_mode=st.sampled_from([0, 1, 2]), share_a=st.booleans(), seed=st.integers(0, 2**31))
def test_gemm3_reduce_bias_broadcast(nb, m, k, n, dtype, bias_mode, share_a, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((1 if share_a else nb, m, k)).astype(dtype)
    b = rng.standard_normal((nb, n, k)).astype(dtype).transpose(0, 2, 1)
    bias = rng.standard_normal(m if bias_mode == 1 else n).astype(dtype)
    kw = dict(bias=bias, bias_mode=bias_mode) if bias_mode else {}
    add = 0 if not bias_mode else (bias[:, None] if bias_mode == 1 else bias[None, :])
    c = gemm3(a, b, **kw)
    exact = np.matmul(a.astype(np.float64), b.astype(np.float64)) + add
    scale = np.matmul(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64))) + np.abs(add) + 1e-30
    assert np.max(np.abs(c - exact) / scale) <= _tol(dtype, k)
    r = gemm3(a, b, reduce=True, **kw)
    exact_r = np.matmul(np.broadcast_to(a, (nb, m, k)).astype(np.float64), b.astype(np.float64)).sum(0) + add
    scale_r = np.abs(np.broadcast_to(a, (nb, m, k))).astype(np.float64) @ np.abs(b.astype(np.float64))
    assert np.max(np.abs(r - exact_r) / (scale_r.sum(0) + np.abs(add) + 1e-30)) <= _tol(dtype, k * nb)


def test_gemm3_rejects_bad_bias_and_out():
    a, b = np.ones((1, 2, 3)), np.ones((1, 3, 4))
    with pytest.raises(ValueError, match="bias"):
        gemm3(a, b, bias=np.ones(3), bias_mode=1)
    with pytest.raises(ValueError, match="out must be"):
        gemm3(a, b, out=np.empty((2, 4)))


@settings(deadline=None, max_examples=40)
@given(m=SIDE, n=SIDE, k=st.one_of(SIDE, st.integers(1, 5000)), dtype=st.sampled_from([np.float32, np.float64]),
       parallel=st.booleans(), seed=st.integers(0, 2**31))
def test_matmul_nt_matches_numpy(m, n, k, dtype, parallel, seed):
    # K up to 5000 crosses gemm_nt's 4096-long K slabs and its K % 16 tail.
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k)).astype(dtype)
    _check(matmul_nt(a, b, parallel=parallel), a, b.T)


@settings(deadline=None, max_examples=30)
@given(g=st.integers(1, 4), p=st.sampled_from([1, 3, 7, 16, 17, 33, 100]), m=SIDE, k=SIDE,
       dtype=st.sampled_from([np.float32, np.float64]), bias=st.booleans(), seed=st.integers(0, 2**31))
def test_gemm3_col_blocks_layout(g, p, m, k, dtype, bias, seed):
    # Column j = i_g*P + p of A @ B lands at out[i_g, :, p] (conv forward's (N, O, OH*OW) order).
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((1, m, k)).astype(dtype)
    b = rng.standard_normal((1, k, g * p)).astype(dtype)
    bv = rng.standard_normal(m).astype(dtype)
    kw = dict(bias=bv, bias_mode=1) if bias else {}
    out = gemm3(a, b, col_blocks=p, **kw)
    want = (a[0].astype(np.float64) @ b[0] + (bv[:, None] if bias else 0)).reshape(m, g, p).transpose(1, 0, 2)
    assert out.shape == (g, m, p)
    assert np.allclose(out, want, rtol=_tol(dtype, k) * 10, atol=_tol(dtype, k) * 10 * np.sqrt(k))
