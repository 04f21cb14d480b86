"""kernels.tile_gemm: the register-tile float32 GEMM against float64 numpy, its edges and declines."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad5 import threads
from tinygrad5.kernels import tile_gemm


def _operands(m: int, k: int, n: int, a_order: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = np.asarray(rng.standard_normal((m, k)), np.float32, order=a_order)
    return a, rng.standard_normal((k, n)).astype(np.float32)


@settings(deadline=None)
@given(m=st.integers(tile_gemm.MIN_ROWS, 80), k=st.integers(0, 70), n=st.integers(1, 150),
       a_order=st.sampled_from("CF"), seed=st.integers(0, 2**31))
def test_matches_numpy_on_every_tile_shape(m, k, n, a_order, seed):
    # n covers 1-4 vectors per tile with masked last lanes; m every overlapped last row tile
    a, b = _operands(m, k, n, a_order, seed)
    got = tile_gemm.matmul(a, b)
    want = a.astype(np.float64) @ b
    assert got.shape == (m, n) and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1, k))
    for parts in (2, 3):  # whatever the split, each element is the same chain of FMAs
        assert np.array_equal(tile_gemm.matmul(a, b, parts=parts), got)


@pytest.mark.parametrize("m,k,n", [(32, 1024, 64), (1024, 32, 64), (36, 1024, 32), (50, 500, 100), (9, 3, 200)])
def test_homework_shapes_and_out(m, k, n):
    a, b = _operands(m, k, n, "C", 0)
    buf = np.full((m + 2, n), 7.0, np.float32)  # a row of sentinels on each side of `out`
    out = buf[1:-1]
    assert tile_gemm.matmul(a, b, out=out, parts=threads.get_num_threads()) is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5 * k)
    assert (buf[0] == 7).all() and (buf[-1] == 7).all()  # masked stores stay inside their rows


def test_k_zero_gives_zeros_and_nan_inf_propagate():
    a, b = _operands(8, 0, 20, "C", 1)
    assert np.array_equal(tile_gemm.matmul(a, b), np.zeros((8, 20), np.float32))
    a, b = _operands(12, 5, 40, "C", 2)
    a[3, 2], b[1, 30] = np.nan, np.inf
    got = tile_gemm.matmul(a, b)
    assert np.isnan(got[3]).all()              # a NaN in row 3 reaches all of that row
    assert np.isinf(got[np.arange(12) != 3, 30]).all()
    assert np.isfinite(np.delete(np.delete(got, 3, 0), 30, 1)).all()


def test_declines_what_it_cannot_run():
    a, b = _operands(16, 8, 8, "C", 3)
    assert tile_gemm.matmul(a.astype(np.float64), b.astype(np.float64)) is None  # float32 only
    assert tile_gemm.matmul(a, np.asfortranarray(b)) is None                     # b's rows must be vectors
    assert tile_gemm.matmul(a[:7], b) is None                                    # fewer rows than a tile
    assert tile_gemm.matmul(a[:, ::2], b[::2]) is None                           # a strided view
    assert tile_gemm.matmul(a, b[:5]) is None                                    # k does not align
    assert tile_gemm.matmul(a, b, out=np.empty((16, 8), np.float64)) is None
    sq = np.ones((16, 16), np.float32)
    assert tile_gemm.matmul(sq, sq, out=sq) is None and (sq == 1).all()          # out overlapping an operand
