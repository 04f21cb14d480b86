"""matmul_split (one BLAS call per core) against numpy, for every operand layout, and its refusals."""
from __future__ import annotations

import numpy as np
import pytest

from .fresh_process import run_fresh
from tinygrad5.kernels.blas_split import matmul_split, provider


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(32, 1024, 64), (36, 32, 1024), (1024, 36, 32), (5, 7, 3), (1, 9, 1)])
@pytest.mark.parametrize("orders", ["CC", "CF", "FC", "FF"])
def test_matches_numpy_for_every_layout(dtype, shape, orders):
    m, k, n = shape
    rng = np.random.default_rng(m * n + k)
    a = np.asarray(rng.standard_normal((m, k)), dtype=dtype, order=orders[0])
    b = np.asarray(rng.standard_normal((k, n)), dtype=dtype, order=orders[1])
    got = matmul_split(a, b)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 * np.sqrt(k) if dtype == np.float32 else 1e-11 * np.sqrt(k)
    assert got.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
    assert np.abs(got - ref).max() < tol


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_any_number_of_parts_and_transposed_views(parts):
    rng = np.random.default_rng(parts)
    x = rng.standard_normal((32, 100)).astype(np.float32)
    g = rng.standard_normal((32, 48)).astype(np.float32)
    out = np.full((100, 48), np.nan, np.float32)
    res = matmul_split(x.T, g, out=out, parts=parts)  # x.T is a column-major view: no copy is made
    assert res is out and np.allclose(out, x.T @ g, atol=1e-4)
    wide = np.full((48, 100), np.nan, np.float32)
    matmul_split(g.T, x, out=wide, parts=parts)
    assert np.allclose(wide, g.T @ x, atol=1e-4)


def test_empty_and_zero_inner_dimension():
    assert matmul_split(np.ones((0, 3), np.float32), np.ones((3, 4), np.float32)).shape == (0, 4)
    z = matmul_split(np.ones((2, 0), np.float32), np.ones((0, 4), np.float32))
    assert z.shape == (2, 4) and not z.any()


def test_declines_what_it_cannot_run_without_copies():
    a = np.ones((8, 6), np.float32)
    b = np.ones((6, 4), np.float32)
    ro = b.copy()
    ro.flags.writeable = False
    assert matmul_split(a[:, ::2], b[:3]) is None            # strided, not contiguous
    assert matmul_split(a, ro) is None                       # read-only
    assert matmul_split(a, b.astype(np.float64)) is None     # mixed dtypes
    assert matmul_split(a.astype(np.int32), b.astype(np.int32)) is None
    assert matmul_split(a, b.astype(">f4")) is None          # non-native byte order


def test_bad_shapes_and_out_are_errors():
    a, b = np.ones((8, 6), np.float32), np.ones((6, 4), np.float32)
    with pytest.raises(ValueError, match=r"\(8, 6\) @ \(5, 4\)"):
        matmul_split(a, np.ones((5, 4), np.float32))
    with pytest.raises(ValueError, match="out must be"):
        matmul_split(a, b, out=np.empty((4, 8), np.float32))
    with pytest.raises(ValueError, match="out must be"):
        matmul_split(a, b, out=np.empty((8, 4), np.float32, order="F"))
    with pytest.raises(ValueError, match="parts"):
        matmul_split(a, b, parts=0)


def test_provider_is_a_loaded_blas():
    name = provider()
    assert "openblas" in name.lower() or name == "scipy.linalg.cython_blas"


def test_scipy_fallback_when_no_ilp64_blas_is_found():
    out = run_fresh(
        "import numpy as np\n"
        "from tinygrad5.kernels import blas_split as bs\n"
        "bs._find_ilp64_openblas = lambda: None\n"
        "print(bs.provider())\n"
        "rng = np.random.default_rng(0)\n"
        "for dt in (np.float32, np.float64):\n"
        "    a = rng.standard_normal((40, 300)).astype(dt); b = rng.standard_normal((300, 70)).astype(dt)\n"
        "    assert np.allclose(bs.matmul_split(a, np.asfortranarray(b)), a @ b, atol=1e-3)\n")
    assert out.strip() == "scipy.linalg.cython_blas"


def test_out_overlapping_an_operand_is_declined_and_the_backend_stays_right():
    from tinygrad5.backends import numba_backend as nb
    rng = np.random.default_rng(7)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    b = rng.standard_normal((256, 256)).astype(np.float32)
    want = a @ b
    a2, b2 = a.copy(), b.copy()
    assert matmul_split(a2, b, out=a2) is None and np.array_equal(a2, a)  # nothing written
    nb.matmul(a2, b, out=a2)  # 16.7M multiply-adds: the split's size range
    nb.matmul(a, b2, out=b2)
    assert np.allclose(a2, want, atol=1e-3) and np.allclose(b2, want, atol=1e-3)


def test_sizes_past_32_bit_blas_integers_are_declined(monkeypatch):
    from tinygrad5.kernels import blas_split as bs
    provider()
    monkeypatch.setitem(bs._provider, "marker", np.int32(0))
    assert bs._fits_blas_ints(5, 2 ** 31 - 1) and not bs._fits_blas_ints(5, 2 ** 31)
    monkeypatch.setitem(bs._provider, "marker", np.int64(0))
    assert bs._fits_blas_ints(2 ** 40)


def test_first_use_applies_the_thread_policy_first():
    out = run_fresh(
        "import numpy as np\n"
        "from threadpoolctl import threadpool_info\n"
        "from tinygrad5 import threads\n"
        "from tinygrad5.kernels.blas_split import matmul_split\n"
        "a = np.ones((40, 30), np.float32)\n"
        "assert np.allclose(matmul_split(a, a.T.copy()), 30.0)\n"
        "assert threads._state['applied']\n"
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))\n")
    assert out.strip() == "[1]"
