"""kernels.skinny_gemm: the narrow-result float32 GEMM against float64 numpy and tile_gemm, its K
blocks and thread splits, the dense steps' products through the backend, and its declines."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinygrad5.backends import numba_backend as nb
from tinygrad5.kernels import skinny_gemm, tile_gemm


def _operands(m: int, k: int, n: int, a_order: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = np.asarray(rng.standard_normal((m, k)), np.float32, order=a_order)
    return a, rng.standard_normal((k, n)).astype(np.float32)


@given(m=st.integers(skinny_gemm.MIN_ROWS, 90), k=st.integers(0, 300), n=st.integers(1, 150),
       a_order=st.sampled_from("CF"), kc=st.sampled_from([0, 1, 16, 128]), bw=st.sampled_from([16, 32, 64]),
       seed=st.integers(0, 2**31))
def test_matches_numpy_and_tile_gemm_on_every_tile_shape(m, k, n, a_order, kc, bw, seed):
    # n covers 1-4 vectors per tile with masked last lanes and several column blocks; m every
    # tile height's exact fit and overlapped last tile; kc K blocks of every length
    a, b = _operands(m, k, n, a_order, seed)
    got = skinny_gemm.matmul(a, b, kc=kc, bw=bw)
    assert got.shape == (m, n) and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5 * max(1, k))
    # each element is the same k-ordered chain of FMAs as tile_gemm's (MIN_ROWS covers tile_gemm's)
    assert np.array_equal(got, tile_gemm.matmul(a, b))
    for parts in (2, 3):  # row ranges: still the same chains
        assert np.array_equal(skinny_gemm.matmul(a, b, parts=parts, kc=kc, bw=bw), got)
        # K ranges summed after: another order of the same sum
        by_k = skinny_gemm.matmul(a, b, parts=parts, kc=kc, bw=bw, by_k=True)
        np.testing.assert_allclose(by_k, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5 * max(1, k))


@pytest.mark.parametrize("m,k,n", [(32, 1024, 64), (1024, 32, 64), (36, 1024, 32), (1024, 36, 32),
                                   (1024, 32, 36), (13, 700, 17)])
@pytest.mark.parametrize("parts,by_k", [(1, False), (2, False), (2, True)])
def test_dense_step_shapes_into_out(m, k, n, parts, by_k):
    a, b = _operands(m, k, n, "C", 0)
    buf = np.full((m + 2, n), 7.0, np.float32)  # a row of sentinels on each side of `out`
    out = buf[1:-1]
    assert skinny_gemm.matmul(a, b, out=out, parts=parts, kc=128, by_k=by_k) is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5 * k)
    assert (buf[0] == 7).all() and (buf[-1] == 7).all()  # masked stores stay inside their rows


def _step_products() -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """(a, b, column-major result) as the MLP and autoencoder steps pass them (benchmarks/kernels.py)."""
    rng = np.random.default_rng(5)

    def r(*shape, order="C"):
        return np.asarray(rng.standard_normal(shape), np.float32, order=order)
    x, w1, g1, xe, e1, ge, d4, he, gd = (r(32, 1024), r(64, 1024, order="F"), r(32, 64), r(36, 1024),
                                         r(32, 1024, order="F"), r(36, 32), r(1024, 32), r(36, 32), r(36, 1024))
    return [(x, w1.T, False), (x.T, g1, True), (xe, e1.T, False), (xe.T, ge, True), (d4, he.T, False),
            (gd, d4, False), (gd.T, he, False), (x[:, ::2], w1.T[::2], False), (x.T[3:40], g1[:, :50], False)]


@pytest.mark.parametrize("case", range(9))
def test_backend_matmul_on_the_dense_steps_products(case):
    a, b, col_major = _step_products()[case]
    want = a.astype(np.float64) @ b
    if col_major:  # the weight gradient: x.T @ g written into a column-major (out, in) buffer
        gw = np.full((b.shape[1], a.shape[0]), np.nan, np.float32, order="F")
        assert nb.matmul(a, b, out=gw.T) is not None
        got = gw.T
    else:
        got = nb.matmul(a, b)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * a.shape[1])


def test_k_zero_gives_zeros_and_nan_inf_propagate():
    a, b = _operands(12, 0, 20, "C", 1)
    assert np.array_equal(skinny_gemm.matmul(a, b, kc=16), np.zeros((12, 20), np.float32))
    a, b = _operands(40, 300, 40, "F", 2)
    a[3, 200], b[250, 30] = np.nan, np.inf
    for kc in (0, 64):
        got = skinny_gemm.matmul(a, b, kc=kc)
        assert np.isnan(got[3]).all()  # a NaN in row 3 reaches all of that row, across K blocks
        assert np.isinf(got[np.arange(40) != 3, 30]).all()
        assert np.isfinite(np.delete(np.delete(got, 3, 0), 30, 1)).all()


def test_declines_what_it_cannot_run():
    a, b = _operands(16, 8, 8, "C", 3)
    assert skinny_gemm.matmul(a.astype(np.float64), b.astype(np.float64)) is None  # float32 only
    assert skinny_gemm.matmul(a, np.asfortranarray(b)) is None                     # b's rows must be vectors
    assert skinny_gemm.matmul(a[:11], b) is None                                   # fewer rows than a tile
    assert skinny_gemm.matmul(a[:, ::2], b[::2]) is None                           # a strided view
    assert skinny_gemm.matmul(a, b[:5]) is None                                    # k does not align
    assert skinny_gemm.matmul(a, b, out=np.empty((16, 8), np.float64)) is None
    assert skinny_gemm.matmul(a, b, out=np.empty((8, 16), np.float32).T) is None   # out must be row-major
    buf = np.zeros(16 * 8 + 16 * 8, np.float32)
    aa = buf[:128].reshape(16, 8)
    aa[:] = a
    assert skinny_gemm.matmul(aa, b, out=buf[64:192].reshape(16, 8)) is None       # out overlaps a
