"""Regression tests for issue 21's defects (items 2, 7 and 8; checkpoints are in test_serialization.py).

Each test runs under both backends and asserts the exact behaviour: values, dtypes, message text.
"""
import contextlib
import warnings

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.data.nist36 import DATA_DIR_ENV, load_nist36
from tinygrad5.ops.conv import as_pair


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    with tg.backend(request.param):
        yield request.param


def _ref_xent(z: np.ndarray, label: int) -> float:
    """logsumexp(z) - z[label] in float64 from the (rounded) logits."""
    z = z.astype(np.float64)
    m = z.max()
    return float(np.log(np.exp(z - m).sum()) - (z[label] - m))


# ---- item 2: cross-entropy of large logits --------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_keeps_the_loss_of_large_logits(backend, dtype):
    z = np.array([[3e38, 3e38, -3e38]], dtype)
    assert tg.cross_entropy(tg.Tensor(z), [1]).item() == pytest.approx(np.log(2), rel=1e-7)
    for scale in (1e3, 1e6, 1e7, 1e20):
        z = np.array([[scale, scale - scale * 2**-20, 0.0], [0.0, -scale, scale]], dtype)
        got = tg.cross_entropy(tg.Tensor(z), [1, 2], reduction="none").data
        want = [_ref_xent(z[0], 1), _ref_xent(z[1], 2)]
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-7)


def test_cross_entropy_of_large_logits_matches_torch(backend):
    torch = pytest.importorskip("torch")
    z = np.array([[3e38, 3e38, -3e38], [1e7, 1e7 - 1, 0], [1e6, 1e6 + 0.5, -1e6], [1e3, 999.0, 0]], np.float32)
    want = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor([1, 1, 1, 1]), reduction="none")
    np.testing.assert_allclose(tg.cross_entropy(tg.Tensor(z), [1, 1, 1, 1], reduction="none").data,
                               want.numpy(), rtol=1e-6)


# ---- item 7: empty batches ------------------------------------------------------------------------
def _run(f, *shapes, dtype=np.float32):
    """f on random tensors of shapes; backward of the sum; -> (output, input gradients)."""
    rng = np.random.default_rng(0)
    xs = [tg.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    out = f(*xs)
    out.sum().backward()
    return out, [x.grad for x in xs]


def test_flatten_and_a_lenet_take_an_empty_batch(backend):
    out, (g,) = _run(nn.Flatten(), (0, 50, 5, 5))
    assert out.shape == (0, 1250) and g.shape == (0, 50, 5, 5)
    tg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 10))
    x = tg.zeros(0, 1, 32, 32)
    loss = tg.cross_entropy(net(x), np.zeros(0, np.int64), reduction="sum")
    loss.backward()
    assert loss.item() == 0.0
    for p in net.parameters():
        assert p.grad.shape == p.shape and not p.grad.data.any()


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((5, 0), -1), ((5, 0), 0), ((0, 5), -1), ((0,), 0)])
def test_softmax_of_empty_tensors(backend, fn, shape, axis):
    out, (g,) = _run(lambda x: getattr(x, fn)(axis=axis), shape)
    assert out.shape == shape and out.dtype == np.float32 and g.shape == shape


@pytest.mark.parametrize("case", ["conv", "conv_no_in_channels", "conv_no_out_channels", "pool", "relu_pool",
                                  "conv_relu_pool", "linear", "linear_relu", "linear_3d", "matmul", "sigmoid",
                                  "relu", "tanh", "leaky_relu", "dropout"])
def test_layers_and_ops_take_empty_inputs(backend, case):
    f = tg.nn.functional
    cases = {
        "conv": (lambda x, w, b: f.conv2d(x, w, b), [(0, 3, 8, 8), (4, 3, 3, 3), (4,)], (0, 4, 6, 6)),
        "conv_no_in_channels": (lambda x, w, b: f.conv2d(x, w, b), [(2, 0, 8, 8), (4, 0, 3, 3), (4,)], (2, 4, 6, 6)),
        "conv_no_out_channels": (lambda x, w: f.conv2d(x, w), [(2, 3, 8, 8), (0, 3, 3, 3)], (2, 0, 6, 6)),
        "pool": (lambda x: f.max_pool2d(x, 2), [(0, 3, 8, 8)], (0, 3, 4, 4)),
        "relu_pool": (lambda x: tg.ops.relu_max_pool2d(x, 2), [(0, 3, 8, 8)], (0, 3, 4, 4)),
        "conv_relu_pool": (lambda x, w: tg.ops.conv2d_relu_max_pool2d(x, w), [(0, 8, 12, 12), (16, 8, 5, 5)],
                           (0, 16, 4, 4)),
        "linear": (lambda x, w, b: f.linear(x, w, b), [(0, 3), (4, 3), (4,)], (0, 4)),
        "linear_relu": (lambda x, w, b: f.linear(x, w, b, activation="relu"), [(0, 3), (4, 3), (4,)], (0, 4)),
        "linear_3d": (lambda x, w: f.linear(x, w), [(0, 5, 3), (4, 3)], (0, 5, 4)),
        "matmul": (lambda a, b: a @ b, [(0, 3), (3, 4)], (0, 4)),
        "sigmoid": (lambda x: x.sigmoid(), [(0, 5)], (0, 5)),
        "relu": (lambda x: x.relu(), [(0, 5000)], (0, 5000)),
        "tanh": (lambda x: x.tanh(), [(0, 5)], (0, 5)),
        "leaky_relu": (lambda x: f.leaky_relu(x), [(0, 5)], (0, 5)),
        "dropout": (lambda x: nn.Dropout()(x), [(0, 5)], (0, 5)),
    }
    fn, shapes, out_shape = cases[case]
    out, grads = _run(fn, *shapes)
    assert out.shape == out_shape and out.dtype == np.float32
    assert [g.shape for g in grads] == [tuple(s) for s in shapes]
    if case == "conv_no_in_channels":  # torch: the bias alone, the same over every position
        np.testing.assert_array_equal(out.data, np.broadcast_to(out.data[:, :, :1, :1], out.shape))


def test_losses_of_an_empty_batch_are_torchs(backend):
    z = tg.Tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    labels = np.zeros(0, np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = tg.cross_entropy(z, labels)
        assert np.isnan(mean.item()) and mean.dtype == np.float32
        assert tg.cross_entropy(z, labels, reduction="sum").item() == 0.0
        assert tg.cross_entropy(z, labels, reduction="none").shape == (0,)
        assert np.isnan(tg.cross_entropy(z, np.zeros((0, 3), np.float32)).item())  # probability targets
        mean.backward()
        assert z.grad.shape == (0, 3)
        a = tg.Tensor(np.zeros((0, 4), np.float32), requires_grad=True)
        mse = tg.mse_loss(a, np.zeros((0, 4), np.float32))
        assert np.isnan(mse.item())
        mse.backward()
        assert a.grad.shape == (0, 4)
        assert tg.mse_loss(a, np.zeros((0, 4), np.float32), reduction="sum").item() == 0.0


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_reductions_of_an_empty_tensor_are_torchs(backend, dim):
    """(0, 5): mean/var/std of no elements are NaN, reductions along the non-empty dim give empty
    results, and max/amax/argmax over an empty dim are refused (torch raises there too)."""
    x = tg.Tensor(np.zeros((0, 5), np.float32), requires_grad=True)
    kw = {} if dim is None else {"dim": dim}
    want_shape = {None: (), 0: (5,), 1: (0,)}[dim]
    with pytest.warns(UserWarning, match="degrees of freedom") if dim != 1 else _no_warning():
        for fn in ("mean", "var", "std"):
            out = getattr(x, fn)(**kw)
            assert out.shape == want_shape and out.dtype == np.float32 and np.isnan(out.data).all()
    if dim != 1:
        for fn in ("amax", "amin", "argmax", "argmin"):
            with pytest.raises(ValueError, match=r"over an empty dim of a tensor of shape \(0, 5\)"):
                getattr(x, fn)(**kw)
        return
    assert x.amax(1).shape == x.amin(1).shape == (0,) and x.argmax(1).dtype == np.int64
    values, indices = tg.max(x, 1)
    assert values.shape == indices.shape == (0,)
    x.mean(1).sum().backward()
    assert x.grad.shape == (0, 5)


def test_var_of_too_few_elements_is_nan_or_inf_as_torch(backend):
    with pytest.warns(UserWarning, match=r"degrees of freedom is <= 0 \(1 elements"):
        assert np.isnan(tg.Tensor(np.ones(1, np.float32)).var().item())
    with pytest.warns(UserWarning):
        assert tg.Tensor(np.array([1.0, 2.0], np.float32)).var(correction=2).item() == np.inf
    np.testing.assert_allclose(tg.Tensor(np.array([1.0, 2.0, 4.0], np.float32)).var().item(), 7 / 3, rtol=1e-6)


@contextlib.contextmanager
def _no_warning():
    """Fails on any warning inside (pytest.warns(None) is gone)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_cross_entropy_without_classes_is_refused_alike(backend):
    with pytest.raises(ValueError, match=r"^cross_entropy needs at least one class, got logits \(2, 0\)$"):
        tg.cross_entropy(tg.zeros(2, 0), np.zeros(2, np.int64))


# ---- item 8: numpy integers, int tensors, labels, files ---------------------------------------------
def test_numpy_integers_are_ints_and_floats_are_refused_by_name(backend):
    assert as_pair(np.int64(2), "stride") == (2, 2) and type(as_pair(np.int32(3), "s")[0]) is int
    assert as_pair((np.uint8(1), 2), "padding") == (1, 2) and as_pair(np.array([2, 3]), "k") == (2, 3)
    x, w = tg.ones(1, 1, 5, 5), tg.ones(1, 1, 3, 3)
    assert tg.nn.functional.conv2d(x, w, stride=np.int64(2)).shape == (1, 1, 2, 2)
    conv = nn.Conv2d(1, 2, np.int64(3), stride=np.int16(2), padding=np.int8(1))
    assert conv.stride == (2, 2) and conv(x).shape == (1, 2, 3, 3)
    assert nn.MaxPool2d(np.int64(2))(tg.ones(1, 1, 4, 4)).shape == (1, 1, 2, 2)
    for bad, shown in ((1.5, "1.5"), ((1, 2.0), r"\(1, 2.0\)"), ("2", "'2'"), (True, "True"), ((1, 2, 3), r"\(1, 2, 3\)")):
        with pytest.raises(ValueError, match=rf"^stride must be an int or a pair of ints, got {shown}$"):
            tg.nn.functional.conv2d(x, w, stride=bad)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair of ints, got 1.5"):
        nn.MaxPool2d(1.5)(tg.ones(1, 1, 4, 4))


def test_ops_on_int_tensors_promote_like_torch(backend):
    i = tg.Tensor(np.arange(3))
    f32 = np.arange(3, dtype=np.float32)
    for name, ref in (("sigmoid", 1 / (1 + np.exp(-f32))), ("tanh", np.tanh(f32)), ("exp", np.exp(f32)),
                      ("sqrt", np.sqrt(f32))):
        out = getattr(i, name)()
        assert out.dtype == np.float32, name
        np.testing.assert_allclose(out.data, ref, rtol=1e-6)
    assert i.relu().dtype == np.int64 and (-i).dtype == np.int64 and abs(i).dtype == np.int64
    assert (i + 2).dtype == np.int64 and (i + 2).tolist() == [2, 3, 4]
    assert (i * 2**40).dtype == np.int64
    assert (i + 1.5).dtype == np.float32 and (i + 1.5).tolist() == [1.5, 2.5, 3.5]
    assert ((i + 1) / (i + 1)).dtype == np.float32 and (tg.Tensor(np.array([3], np.uint8)) / 2).tolist() == [1.5]
    assert (i * tg.Tensor(np.ones(3))).dtype == np.float64  # the float side's dtype (float64 here)
    assert (i * tg.ones(3)).dtype == np.float32  # not numpy's float64
    assert tg.clip(i, 0.5, 1.5).dtype == np.float32 and tg.clip(i, 0, 1).dtype == np.int64
    assert (i ** 2).dtype == np.int64 and (i ** 0.5).dtype == np.float32
    assert (tg.Tensor(np.arange(3).reshape(1, 3)) @ tg.Tensor(np.arange(3).reshape(3, 1))).tolist() == [[5]]
    for fn, name in ((lambda t: t.softmax(), "softmax"), (lambda t: t.log_softmax(), "log_softmax"),
                     (tg.nn.functional.leaky_relu, "leaky_relu")):
        with pytest.raises(TypeError, match=rf"^{name} needs a float tensor, got dtype int64 \(convert with "
                                            r"\.float\(\) first\)$"):
            fn(i)
    with pytest.raises(TypeError, match=r"matmul of dtypes int64 \(1, 3\) and float32 \(3, 1\): convert"):
        tg.Tensor(np.arange(3).reshape(1, 3)) @ tg.ones(3, 1)


def test_linear_refuses_int_input_and_keeps_the_model_float32(backend):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(TypeError, match=r"^linear: input dtype int64 does not match weight dtype float32; "
                                        r"convert the input with \.float\(\) \(or \.double\(\)\) first$"):
        model(tg.Tensor(np.arange(6).reshape(2, 3)))
    out = model(tg.Tensor(np.arange(6).reshape(2, 3)).float())
    assert out.dtype == np.float32 and all(p.dtype == np.float32 for p in model.parameters())


def test_cross_entropy_labels_and_int_logits_fail_alike_in_both_backends(backend):
    z = tg.zeros(2, 3)
    with pytest.raises(ValueError, match=r"^cross_entropy: label 9223372036854775808 is out of range for 3 classes$"):
        tg.cross_entropy(z, np.array([0, 2**63], np.uint64))
    with pytest.raises(ValueError, match=r"^cross_entropy: label 3 is out of range for 3 classes$"):
        tg.cross_entropy(z, np.array([3, 0], np.uint8))
    with pytest.raises(ValueError, match=r"^cross_entropy: label -1 is out of range for 3 classes$"):
        tg.cross_entropy(z, np.array([0, -1]))
    assert tg.cross_entropy(tg.Tensor([[0.0, 0.0, 0.0]]), np.array([2], np.uint64)).item() == pytest.approx(np.log(3))
    with pytest.raises(TypeError, match=r"^cross_entropy: bool targets \(2,\) are neither class indices nor "):
        tg.cross_entropy(z, np.array([True, False]))
    with pytest.raises(TypeError, match=r"^cross_entropy: bool targets \(2, 3\)"):
        tg.cross_entropy(z, np.zeros((2, 3), bool))
    for logits in (np.array([[1, 2, 3]]), np.array([[1, 2, 3]], np.int32), np.array([[True, False, True]])):
        with pytest.raises(TypeError, match=rf"^cross_entropy needs float logits, got dtype {logits.dtype} "):
            tg.cross_entropy(tg.Tensor(logits), [1])
    # an int target against float logits as one-hot rows takes the logits' dtype
    soft = tg.cross_entropy(tg.Tensor(np.zeros((1, 3), np.float64)), np.array([[0, 1, 0]]))
    assert soft.dtype == np.float64 and soft.item() == pytest.approx(np.log(3))


def test_mse_with_an_int_side_takes_the_float_dtype(backend):
    a = tg.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    loss = tg.mse_loss(a, np.array([0, 0]))
    assert loss.dtype == np.float32 and loss.item() == 2.5
    loss.backward()
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [1.0, 2.0]


def test_load_nist36_errors_name_the_problem(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=rf"^load_nist36: no data_dir given and \${DATA_DIR_ENV} is not "
                                                r"set; pass the folder holding nist36_train.mat"):
        load_nist36(None, "train")
    with pytest.raises(TypeError, match=r"^data_dir must be a folder path \(str or os.PathLike\), got int: 5$"):
        load_nist36(5, "train")
    (tmp_path / "nist36_train.mat").mkdir()
    with pytest.raises(IsADirectoryError, match=r"NIST36 file .*nist36_train.mat is a folder, not a MATLAB .mat file"):
        load_nist36(tmp_path, "train")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(IsADirectoryError, match="is a folder"):  # None: the folder $TINYGRAD5_NIST36 names
        load_nist36(None, "train")
    with pytest.raises(FileNotFoundError, match="NIST36 file not found: .*nist36_valid.mat"):
        load_nist36(None, "valid")


def test_save_refuses_an_empty_path(tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    with pytest.raises(ValueError, match=r"^save needs a file name, got ''$"):
        tg.save({"w": np.ones(2)}, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd"] and not any((tmp_path / "cwd").iterdir())
