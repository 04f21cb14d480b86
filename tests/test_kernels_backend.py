"""The numba backend's interface and dispatch, and the threading policy (tinygrad5.threads)."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from tinygrad5 import threads
from tinygrad5.backends import numba_backend as nb
from tinygrad5.backends import numpy_backend as npb

from .fresh_process import run_fresh


def test_interface_names():
    assert nb.NAME == "numba"
    for name in ["matmul", "conv2d_forward", "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward",
                 "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "sigmoid_forward",
                 "sigmoid_backward", "bias_act_forward", "bias_act_backward", "linear_forward", "relu_forward",
                 "relu_backward", "sgd_step"]:
        assert callable(getattr(nb, name)) and callable(getattr(npb, name))


@pytest.mark.parametrize("shape_a,shape_b", [((32, 1024), (1024, 64)), ((32, 64), (64, 36)),
                                             ((300, 200), (200, 160)), ((64, 1250), (1250, 512)),
                                             ((4, 96, 100), (100, 64)),
                                             ((3, 40, 50), (3, 50, 70)), ((5,) * 2, (5, 5))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_both_paths_match_numpy(shape_a, shape_b, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    got = nb.matmul(a, b)
    assert got.dtype == dtype and np.allclose(got, a.astype(np.float64) @ b, rtol=tol, atol=tol * shape_a[-1])
    got_t = nb.matmul(np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2), b)  # transposed view, as backward passes
    assert np.allclose(got_t, got, rtol=tol, atol=tol * shape_a[-1])
    out = np.empty_like(got)
    assert nb.matmul(a, b, out=out) is out and np.array_equal(out, got)  # same path, same numbers


def test_matmul_unusual_dtypes_follow_numpy():
    a32, b64 = np.ones((3, 4), np.float32), np.ones((4, 2))
    assert nb.matmul(a32, b64).dtype == np.float64
    assert nb.matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64)).dtype == np.int64


def test_dispatch_rule():
    if threads.get_num_threads() < 2:
        pytest.skip("our GEMM is only chosen with more than one thread")
    assert nb.use_ours(1024, 1024, 1024)
    assert nb.use_ours(256, 256, 256)
    assert not nb.use_ours(32, 36, 64)      # tiny: a parallel launch costs more than the product
    assert not nb.use_ours(25088, 20, 25)   # N = 20 fills 20/32 of the 16-wide tiles
    assert nb.use_split(32, 512, 1250) and nb.use_split(1250, 512, 128)  # fully connected layers
    assert not nb.use_split(32, 64, 1024)   # an MLP step: waking the second core costs more
    assert not nb.use_split(1024, 1024, 1024)


def _spy_on_split(monkeypatch) -> list[tuple[int, ...]]:
    """The shapes of the left operands the split is called with, from now on (skips on 1 thread)."""
    if threads.get_num_threads() < 2:
        pytest.skip("the split needs more than one thread")
    calls: list[tuple[int, ...]] = []
    real = nb._split.matmul_split
    monkeypatch.setattr(nb._split, "matmul_split", lambda a, b, out=None: calls.append(a.shape) or real(a, b, out))
    return calls


def test_mid_sized_products_run_split(monkeypatch):
    calls = _spy_on_split(monkeypatch)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((64, 1250)), rng.standard_normal((1250, 512))  # float64: float32 runs tiles
    assert np.allclose(nb.matmul(a, b), a @ b) and calls == [(64, 1250)]
    bad = nb.matmul(a[:, ::2], b[::2])  # a strided view: the split declines, numpy runs it
    assert calls == [(64, 1250), (64, 625)] and np.allclose(bad, a[:, ::2] @ b[::2])


def test_float32_products_run_tiles(monkeypatch):
    calls: list[tuple[str, tuple[int, ...], int]] = []
    real, real_skinny = nb._tile.matmul, nb._skinny.matmul
    monkeypatch.setattr(nb._tile, "matmul", lambda a, b, out=None, parts=1: calls.append(("tile", a.shape, parts))
                        or real(a, b, out, parts))
    monkeypatch.setattr(nb._skinny, "matmul", lambda a, b, out=None, parts=1, *args, **kw:
                        calls.append(("skinny", a.shape, parts)) or real_skinny(a, b, out, parts, *args, **kw))
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((32, 1024)).astype(np.float32), rng.standard_normal((64, 1024)).astype(np.float32)
    wf = np.asfortranarray(w)  # the MLP's first layer, as Linear keeps it: x @ w.T reads w.T's rows
    np.testing.assert_allclose(nb.matmul(x, wf.T), x.astype(np.float64) @ w.T, rtol=1e-4, atol=1e-3)
    assert calls == [("skinny", (32, 1024), 1)]  # 2 M multiply-adds, 64 columns: on the calling thread
    h = rng.standard_normal((36, 64)).astype(np.float32)
    np.testing.assert_allclose(nb.matmul(w.T, h.T), w.T.astype(np.float64) @ h.T, rtol=1e-4, atol=1e-3)
    assert calls[-1] == ("skinny", (1024, 64), 1)  # a column-major b no larger than a is copied first
    nb.matmul(x, w.T)  # a column-major b larger than a: OpenBLAS
    assert len(calls) == 2
    big = rng.standard_normal((1024, 512)).astype(np.float32)
    nb.matmul(x, big)  # wider than 64 columns: tile_gemm
    assert calls[-1] == ("tile", (32, 1024), threads.get_num_threads())
    nb.matmul(x[:, :64], x[:, :64].T.copy())  # 65 k multiply-adds: below the tiles' threshold
    assert len(calls) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_rows_times_a_column_major_matrix_runs_transposed(monkeypatch, dtype):
    calls = _spy_on_split(monkeypatch)
    rng = np.random.default_rng(2)
    g = rng.standard_normal((32, 512)).astype(dtype)
    w = np.asfortranarray(rng.standard_normal((512, 1250)).astype(dtype))  # fc1's weight, as Linear keeps it
    got = nb.matmul(g, w)
    assert calls == [(1250, 512)]  # w.T @ g.T, then transposed
    assert got.flags.c_contiguous and got.dtype == dtype
    np.testing.assert_allclose(got, g.astype(np.float64) @ w, rtol=1e-4, atol=1e-3)
    out = np.empty((32, 1250), dtype)
    assert nb.matmul(g, w, out=out) is out and calls[-1] == (32, 512)  # into `out`: the plain split
    np.testing.assert_allclose(out, got, rtol=1e-5, atol=1e-4)


def test_softmax_accepts_int32_labels():
    loss, probs = nb.softmax_cross_entropy_forward(np.zeros((2, 4), np.float32), np.array([1, 3], np.int32))
    assert np.allclose(loss, np.log(4)) and probs.dtype == np.float32
    g = nb.softmax_cross_entropy_backward(probs, np.array([1, 3], np.int32), np.ones(2, np.float32))
    assert np.allclose(g.sum(1), 0, atol=1e-7)


def test_policy_limits_blas_after_first_use():
    nb.matmul(np.ones((2, 2)), np.ones((2, 2)))
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"
            and "numpy" in p["filepath"]]
    assert blas and all(t == 1 for t in blas)


def test_policy_covers_every_blas_the_kernels_load():
    # a fresh process: numba binds scipy's own OpenBLAS when it loads compiled kernels
    code = ("import numpy as np\nfrom threadpoolctl import threadpool_info\n"
            "from tinygrad5.backends import numba_backend as nb\n"
            "x = np.ones((2, 3, 8, 8), np.float32); w = np.ones((4, 3, 3, 3), np.float32)\n"
            "nb.conv2d_forward(x, w, None, (1, 1), (0, 0))\n"
            "print([(p['filepath'], p['num_threads']) for p in threadpool_info() if p['user_api'] == 'blas'])")
    libs = eval(run_fresh(code))  # noqa: S307 - our own printed list
    assert libs and all(n == 1 for _, n in libs), libs


def test_set_num_threads_validates_and_round_trips():
    n = threads.get_num_threads()
    with pytest.raises(ValueError, match="set_num_threads"):
        threads.set_num_threads(0)
    with pytest.raises(ValueError, match="set_num_threads"):
        threads.set_num_threads(threads.max_threads() + 1)
    threads.set_num_threads(1)
    try:
        assert threads.get_num_threads() == 1
        a = np.random.default_rng(0).standard_normal((300, 300))
        assert np.allclose(nb.matmul(a, a), a @ a)  # serial paths only
    finally:
        threads.set_num_threads(n)
    assert threads.get_num_threads() == n


def test_import_compiles_nothing_and_leaves_blas_alone():
    code = ("import numba, tinygrad5.backends.numba_backend as nb, tinygrad5.kernels as k\n"
            "from tinygrad5.kernels import gemm, conv, pool, softmax_xent, reduce, blas_split\n"
            "from numba.core.registry import CPUDispatcher\n"
            "ds = [v for m in (gemm, conv, pool, softmax_xent, reduce, blas_split) for v in vars(m).values()"
            " if isinstance(v, CPUDispatcher)]\n"
            "assert ds and all(not d.signatures for d in ds), [d for d in ds if d.signatures]\n"
            "from tinygrad5 import threads\n"
            "assert not threads._state['applied'] and not blas_split._provider\n")
    run_fresh(code)


@pytest.mark.parametrize("user_env,want", [({}, ("PASSIVE", "1000")),
                                           ({"OMP_WAIT_POLICY": "ACTIVE"}, ("ACTIVE", None)),
                                           ({"GOMP_SPINCOUNT": "50"}, (None, "50"))])
def test_policy_sets_brief_spinning_unless_the_user_chose(user_env, want):
    code = ("import os\nfrom tinygrad5 import threads\nthreads.ensure_policy()\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))")
    out = run_fresh(code, env=user_env, drop=("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    assert out.split() == [str(w) for w in want]


def test_read_only_inputs_reuse_the_compiled_kernels():
    from tinygrad5.kernels import gemm
    a = np.ones((30, 40), np.float32)
    a.flags.writeable = False
    b = np.broadcast_to(np.ones((40, 1), np.float32), (40, 50))  # read-only, 0-stride view
    before = len(gemm.gemm_serial.signatures) + len(gemm.gemm_parallel.signatures)
    from tinygrad5.kernels import matmul
    assert np.allclose(matmul(a, b), 40.0)
    x = np.ones((2, 1, 8, 8), np.float32)
    x.flags.writeable = False
    out, cache = nb.max_pool2d_forward(x, (2, 2), (2, 2))
    assert np.all(out == 1) and nb.max_pool2d_backward(out, cache).shape == x.shape
    after = len(gemm.gemm_serial.signatures) + len(gemm.gemm_parallel.signatures)
    assert after - before <= 1  # at most the float32 serial kernel itself, never a read-only variant
    from tinygrad5.kernels import pool
    for disp in (gemm.gemm_serial, gemm.gemm_parallel, pool._fwd_ser, pool._fwd_par):
        assert not any(getattr(t, "readonly", False) for sig in disp.signatures for t in sig)


def test_big_endian_and_mixed_out_dtypes_follow_numpy():
    a = np.arange(256 * 256, dtype=">f4").reshape(256, 256) / 65536
    want = a.astype(np.float32) @ a.astype(np.float32)
    np.testing.assert_allclose(nb.matmul(a, a), want, rtol=1e-5)
    out = np.empty((256, 256), np.float32)
    b = a.astype(np.float64)
    assert nb.matmul(b, b, out=out) is out  # float64 product cast into a float32 out, like numpy
    np.testing.assert_allclose(out, want, rtol=1e-5)
    logits = np.array([[1.0, 2.0, 0.5]], ">f4")
    loss, probs = nb.softmax_cross_entropy_forward(logits, np.array([1]))
    np.testing.assert_allclose(loss, np.log(np.exp([1.0, 2.0, 0.5]).sum()) - 2.0, rtol=1e-6)
