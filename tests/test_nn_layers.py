"""Layers and losses: forward values against numpy formulas and float64 gradient checks (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.nn import functional as F
from tinygrad5.nn import functional_call
from tinygrad5.ops import OP_TABLE

from .strategies import arrays, distinct


def T(a, grad=True):
    return tg.Tensor(np.asarray(a, np.float64), requires_grad=grad)


def check_module(layer, x, names=("weight", "bias")):
    """gradcheck the layer's output w.r.t. its input and the named parameters, in float64."""
    params = [T(getattr(layer, n).data) for n in names if getattr(layer, n) is not None]
    keys = [n for n in names if getattr(layer, n) is not None]
    fn = lambda x, *ps: functional_call(layer, dict(zip(keys, ps)), x)  # noqa: E731
    assert tg.gradcheck(fn, T(x), *params)


@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.booleans(), st.data())
def test_linear_values_and_gradients(n, fin, fout, bias, data):
    tg.manual_seed(data.draw(st.integers(0, 1000)))
    layer = nn.Linear(fin, fout, bias=bias)
    if bias:
        layer.bias.data[...] = data.draw(arrays((fout,), np.float32))
    x = data.draw(arrays((n, fin), np.float32))
    want = x @ layer.weight.data.T + (layer.bias.data if bias else 0)
    np.testing.assert_allclose(layer(tg.Tensor(x)).data, want, rtol=1e-5, atol=1e-6)
    check_module(layer, x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_linear_wide_input_weight_is_column_major_and_computes_the_same(backend):
    tg.manual_seed(0)
    wide, narrow = nn.Linear(40, 8), nn.Linear(8, 40)
    assert wide.weight.data.flags.f_contiguous and not wide.weight.data.flags.c_contiguous
    assert narrow.weight.data.flags.c_contiguous
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 40)).astype(np.float32)
    g = rng.standard_normal((5, 8)).astype(np.float32)
    w, b = np.ascontiguousarray(wide.weight.data), wide.bias.data.copy()
    xt = tg.Tensor(x, requires_grad=True)
    with tg.backend(backend):
        out = wide(xt)
        out.backward(g)
    np.testing.assert_allclose(out.data, x @ w.T + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide.weight.grad.data, g.T @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad.data, g @ w, rtol=1e-5, atol=1e-5)
    # the gradient comes in the weight's layout, so the optimizer updates like with like
    assert wide.weight.grad.data.flags.f_contiguous
    # loading (row-major arrays) and casting keep the layout
    wide.load_state_dict({"weight": w * 2, "bias": b})
    assert wide.weight.data.flags.f_contiguous
    np.testing.assert_array_equal(wide.weight.data, w * 2)
    assert wide.to(np.float64).weight.data.flags.f_contiguous


def _assert_fusion_exact(net: nn.Sequential, x: tg.Tensor, backend: str) -> None:
    """The Sequential's output and parameter gradients equal, bit for bit, a module-by-module run
    (as before fusion existed)."""
    runs = []
    with tg.backend(backend):
        for fused in (True, False):
            out = net(x)
            if not fused:
                out = x
                for m in net:
                    out = m(out)
            out.sum().backward()
            runs.append((out.data.copy(), [p.grad.data.copy() for p in net.parameters()]))
            net.zero_grad()
    (a, ga), (b, gb) = runs
    np.testing.assert_array_equal(a, b)
    assert all(np.array_equal(u, v) for u, v in zip(ga, gb))


def _unfusable(cls: type) -> type:
    """A subclass of the module class cls whose forward doubles cls's output: Sequential must run it
    as itself, never fused with its neighbours (fusion checks the exact class and its forward)."""
    return type(f"My{cls.__name__}", (cls,), {"forward": lambda self, x: cls.forward(self, x) * 2.0})

@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sequential_fuses_linear_with_a_following_sigmoid_or_relu_exactly(backend):
    MyLinear = _unfusable(nn.Linear)
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 8), nn.Sigmoid(), nn.Linear(8, 70), nn.ReLU(), nn.Linear(70, 64),
                        nn.ReLU(), MyLinear(64, 3), nn.Sigmoid())
    x = tg.Tensor(np.random.default_rng(0).standard_normal((100, 20)).astype(np.float32))
    _assert_fusion_exact(net, x, backend)  # 70*100 elements: ReLU's kernel path
    out = net[:2](x)
    assert type(out._ctx).__name__ == "Linear"  # Linear + Sigmoid became one node
    assert type(nn.Sequential(MyLinear(4, 2), nn.ReLU())(tg.Tensor(np.ones((1, 4))))._ctx).__name__ == "ReLU"
    with pytest.raises(ValueError, match="activation must be one of"):
        F.linear(x, net[0].weight, activation="tanh")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_linear_float64_input_into_float32_wide_weight_at_gemm_size(backend):
    # 784 -> 128 at batch 64 is 6.4 M multiply-adds: the numba backend's own GEMM computes the
    # weight gradient, which must not be asked to write float64 results into the float32 buffer
    tg.manual_seed(0)
    layer = nn.Linear(784, 128)
    x = np.random.default_rng(0).standard_normal((64, 784))
    with tg.backend(backend):
        layer(tg.Tensor(x)).sum().backward()
    g = layer.weight.grad.data
    assert g.dtype == np.float32 and g.shape == (128, 784)
    np.testing.assert_allclose(g, np.ones((64, 128)).T @ x, rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 1), st.booleans(), st.data())
def test_conv2d_gradients(n, cin, cout, k, stride, pad, bias, data):
    layer = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=bias)
    h = data.draw(st.integers(max(k - 2 * pad, 1), 5))
    x = data.draw(arrays((n, cin, h, h + 1), np.float64))
    assert layer(tg.Tensor(x.astype(np.float32))).shape == (
        n, cout, (h + 2 * pad - k) // stride + 1, (h + 1 + 2 * pad - k) // stride + 1)
    check_module(layer, x)


@settings(max_examples=20)
@given(st.integers(1, 3), st.sampled_from([(2, None), (2, 1), (3, 2)]), st.data())
def test_maxpool2d_values_and_gradients(c, ks, data):
    k, s = ks
    x = distinct(data.draw(arrays((2, c, 5, 4), np.float64)))
    out = nn.MaxPool2d(k, s)(tg.Tensor(x)).data
    s = k if s is None else s
    assert out[1, c - 1, 0, 0] == x[1, c - 1, :k, :k].max()
    assert out[0, 0, -1, -1] == x[0, 0, s * (out.shape[2] - 1):s * (out.shape[2] - 1) + k,
                                  s * (out.shape[3] - 1):s * (out.shape[3] - 1) + k].max()
    assert tg.gradcheck(nn.MaxPool2d(k, s), T(x))


@given(st.sampled_from([nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(), nn.Softmax(dim=0), nn.LeakyReLU(0.2),
                        nn.Flatten(), nn.Flatten(0, 1)]), st.data())
def test_activation_and_shape_layers_gradients(layer, data):
    x = data.draw(arrays((3, 2, 2), np.float64, away_from=0.0))
    assert tg.gradcheck(layer, T(x))


def test_activation_values():
    x = np.array([[-1000.0, -1.0, 0.5, 1000.0]])
    np.testing.assert_array_equal(nn.Sigmoid()(tg.Tensor(x)).data[0, [0, 3]], [0.0, 1.0])
    np.testing.assert_allclose(nn.ReLU()(tg.Tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(tg.Tensor(x)).data, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nn.Tanh()(tg.Tensor(x[:, 1:3])).data, np.tanh(x[:, 1:3]))
    sm = nn.Softmax(dim=1)(tg.Tensor(x)).data
    np.testing.assert_allclose(sm.sum(1), 1.0)
    assert sm[0, 3] == 1.0 and np.isfinite(sm).all()


@given(st.integers(1, 4), st.integers(2, 5), st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.data())
def test_cross_entropy_loss_values_and_gradients(n, c, reduction, onehot, data):
    logits = data.draw(arrays((n, c), np.float64, low=-4, high=4))
    labels = np.asarray(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    target = np.eye(c)[labels] if onehot else labels
    loss = nn.CrossEntropyLoss(reduction)
    z = logits - logits.max(1, keepdims=True)
    per_row = np.log(np.exp(z).sum(1)) - z[np.arange(n), labels]
    want = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    np.testing.assert_allclose(loss(tg.Tensor(logits), target).data, want, rtol=1e-10)
    assert tg.gradcheck(lambda lg: loss(lg, target), T(logits))


def test_cross_entropy_gradient_is_probs_minus_onehot_when_summed():
    logits, y = tg.Tensor(np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]]), requires_grad=True), np.array([2, 0])
    nn.CrossEntropyLoss("sum")(logits, y).backward()
    p = np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True)
    np.testing.assert_allclose(logits.grad.data, p - np.eye(3)[y])


@given(st.sampled_from(["mean", "sum"]), st.data())
def test_mse_loss_values_and_gradients(reduction, data):
    a = data.draw(arrays((2, 3), np.float64))
    b = data.draw(arrays((2, 3), np.float64))
    loss = nn.MSELoss(reduction)
    sq = (a - b) ** 2
    np.testing.assert_allclose(loss(tg.Tensor(a), b).item(), sq.mean() if reduction == "mean" else sq.sum())
    assert tg.gradcheck(loss, T(a), T(b))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_mse_loss_sums_like_numpy_for_integers_and_long_float32(dtype):
    # integers (squares that fit their dtype) sum widened like numpy, not wrapped by a dot in their
    # own dtype; long float32 sums (one dot up to 2^20 elements, pairwise beyond) stay near float64
    rng = np.random.default_rng(0)
    n = 1000 if dtype != np.float32 else (1 << 20) + 3
    a = rng.integers(0, 16, n).astype(dtype) if dtype != np.float32 else rng.random(n, dtype=dtype)
    b = np.zeros(n, dtype)
    want = float(((a.astype(np.float64) - b) ** 2).sum())
    for m in (n // 2, n):  # below and above the dot threshold for float32
        got = tg.mse_loss(tg.Tensor(a[:m]), tg.Tensor(b[:m]), reduction="sum").item()
        ref = float(((a[:m].astype(np.float64)) ** 2).sum())
        np.testing.assert_allclose(got, ref, rtol=1e-5)
    assert tg.mse_loss(tg.Tensor(a), tg.Tensor(b), reduction="mean").item() == pytest.approx(want / n, rel=1e-5)


def test_loss_reduction_is_validated():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.CrossEntropyLoss("avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("max")


@given(st.sampled_from([0.0, 0.2, 0.5, 0.9]), st.data())
def test_dropout_gradient_with_fixed_mask(p, data):
    x = data.draw(arrays((3, 4), np.float64))

    def fn(x):
        tg.manual_seed(7)  # the same mask on every call, so differences see a fixed function
        return nn.Dropout(p)(x)

    assert tg.gradcheck(fn, T(x))


def test_dropout_statistics_scaling_and_eval_identity():
    tg.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = np.ones((200, 500), np.float32)
    out = drop(tg.Tensor(x)).data
    assert out.dtype == np.float32
    assert abs((out == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, rtol=1e-6)
    tg.manual_seed(0)
    np.testing.assert_array_equal(drop(tg.Tensor(x)).data, out)  # the global generator drives it
    drop.eval()
    np.testing.assert_array_equal(drop(tg.Tensor(x)).data, x)
    np.testing.assert_array_equal(nn.Dropout(1.0)(tg.Tensor(x)).data, 0 * x)
    with pytest.raises(ValueError, match="in \\[0, 1\\], got 1.5"):
        nn.Dropout(1.5)


def test_inplace_flags_are_accepted_and_compute_out_of_place():
    """torch scripts write nn.ReLU(inplace=True): the same values, the input left as it was."""
    x = tg.Tensor(np.array([[-1.0, 2.0]], np.float32))
    for layer in (nn.ReLU(inplace=True), nn.LeakyReLU(0.5, inplace=True), nn.Dropout(0.5, inplace=True)):
        layer(x)
    x4 = x.view(1, 2, 1, 1)
    nn.Dropout2d(0.5, inplace=True)(x4)
    assert x.data.tolist() == [[-1.0, 2.0]] and x4.data.tolist() == [[[[-1.0]], [[2.0]]]]
    assert nn.ReLU(inplace=True)(x).tolist() == [[0.0, 2.0]] and nn.LeakyReLU(0.5, True)(x).tolist() == [[-0.5, 2.0]]
    with pytest.raises(ValueError, match="dropout probability must be in"):
        nn.Dropout2d(-0.1)


def test_functional_reexports_every_op_and_adds_linear_dropout():
    for name, info in OP_TABLE.items():
        assert getattr(F, name) is info.fn, name
    x, w, b = tg.randn(4, 3), tg.randn(2, 3), tg.randn(2)
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data, rtol=1e-6)
    assert F.dropout(x, 0.5, training=False) is x


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sequential_runs_relu_then_max_pool_as_one_exact_op(backend):
    MyPool = _unfusable(nn.MaxPool2d)
    tg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 4, 3), nn.ReLU(), MyPool(2))
    x = tg.Tensor(np.random.default_rng(1).standard_normal((8, 2, 14, 14)).astype(np.float32))
    _assert_fusion_exact(net, x, backend)
    h = net[0](x)
    assert type(net[1:3](h)._ctx).__name__ == "MaxPool2d"  # ReLU + MaxPool2d: one node
    assert type(net[:2](x)._ctx).__name__ == "ReLU"  # a trailing ReLU stays itself
    assert net[3:](net[:3](x))._ctx.parents[0]._ctx is not None  # MyPool (a subclass) is not fused


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("batch", [1, 8])  # 1: fewer samples than threads, the ops run one by one
def test_sequential_runs_conv_relu_max_pool_as_one_exact_op(backend, batch):
    MyReLU = _unfusable(nn.ReLU)
    tg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 3, 2, padding=1), MyReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 2, 1, bias=False),
                        nn.ReLU(), nn.MaxPool2d(2, 1))
    x = tg.Tensor(np.random.default_rng(1).standard_normal((batch, 2, 22, 22)).astype(np.float32))
    _assert_fusion_exact(net, x, backend)
    assert type(net[:3](x)._ctx).__name__ == "ConvReluPool"  # conv 20x20 -> 10x10: one node
    assert type(net[:6](x)._ctx).__name__ == "ConvReluPool"  # conv 8x8 -> 4x4, then a 5x5 conv output
    assert type(net[:9](x)._ctx).__name__ == "MaxPool2d"  # MyReLU (a subclass) keeps its own node
    assert type(net(x)._ctx).__name__ == "MaxPool2d"  # a stride-1 pool: ReLU + MaxPool2d only


def test_conv_net_of_the_homework_shapes():
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1250, 512), nn.ReLU(), nn.Linear(512, 36))
    out = net(tg.randn(2, 1, 32, 32))
    assert out.shape == (2, 36) and out.dtype == np.float32
