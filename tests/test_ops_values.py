"""Forward values of the ops, the homework's theory as properties, and clear errors for bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad5 as tg
from tinygrad5.ops import OP_TABLE
from tests.strategies import arrays, broadcastable_shapes, shapes

F = tg.ops


# ---- the ops without a gradient: comparisons and argmax --------------------------------------
VALUE_CASES = {
    "lt": (F.lt, np.less), "le": (F.le, np.less_equal), "gt": (F.gt, np.greater),
    "ge": (F.ge, np.greater_equal), "eq": (F.eq, np.equal), "ne": (F.ne, np.not_equal),
}


def test_every_nondifferentiable_op_has_a_value_test():
    nondiff = {name for name, info in OP_TABLE.items() if not info.differentiable}
    assert nondiff - set(VALUE_CASES) - {"argmax", "argmin"} == set()


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
@given(data=st.data())
def test_comparisons_match_numpy(name, data):
    sa, sb = data.draw(broadcastable_shapes(2))
    a = np.round(data.draw(arrays(sa)))  # rounded so equality happens
    b = np.round(data.draw(arrays(sb)))
    ours, ref = VALUE_CASES[name]
    out = ours(tg.Tensor(a, requires_grad=True), tg.Tensor(b))
    assert out.dtype == bool and not out.requires_grad
    np.testing.assert_array_equal(out.data, ref(a, b))


def test_operators_use_comparisons():
    x = tg.Tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).tolist() == [False, True, True] and (x == 2).tolist() == [False, True, False]
    assert (x <= 2).tolist() == [True, True, False] and (2 < x).tolist() == [False, False, True]


@given(arrays(shapes(min_dims=1)), st.data())
def test_argmax_matches_numpy(a, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-a.ndim, a.ndim - 1)))
    out = tg.Tensor(a).argmax(axis)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.argmax(a, axis=axis))
    assert tg.Tensor(a).argmax(dim=0, keepdim=True).shape == np.argmax(a, axis=0, keepdims=True).shape
    np.testing.assert_array_equal(tg.Tensor(a).argmin(axis).data, np.argmin(a, axis=axis))


# ---- forward values against numpy -------------------------------------------------------------
@given(arrays(shapes(min_dims=1)), st.data())
def test_reductions_match_numpy(a, data):
    t = tg.Tensor(a)
    axis = data.draw(st.one_of(st.none(), st.integers(0, a.ndim - 1)))
    for ours, ref in [(t.sum, np.sum), (t.mean, np.mean), (t.amax, np.max), (t.amin, np.min)]:
        np.testing.assert_allclose(ours(axis, True).data, ref(a, axis=axis, keepdims=True), rtol=1e-12)
    if a.size > 1 and (axis is None or a.shape[axis] > 1):
        np.testing.assert_allclose(t.var(axis).data, np.var(a, axis=axis, ddof=1), rtol=1e-10)
        np.testing.assert_allclose(t.var(axis, correction=0).data, np.var(a, axis=axis), rtol=1e-10)


def test_movement_values():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = tg.Tensor(a)
    assert t.reshape(4, -1).shape == (4, 6) and t.view((6, 4)).shape == (6, 4)
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    np.testing.assert_array_equal(t.transpose(0, 2).data, a.transpose(2, 1, 0))
    np.testing.assert_array_equal(t.permute(1, 2, 0).data, a.transpose(1, 2, 0))
    np.testing.assert_array_equal(t.T.data, a.T)
    assert t[:, None].shape == (2, 1, 3, 4) and t.unsqueeze(1).shape == (2, 1, 3, 4)
    assert tg.Tensor(np.ones((1, 3, 1))).squeeze().shape == (3,)
    assert tg.Tensor(np.ones((3, 1))).expand(2, 3, 4).shape == (2, 3, 4)
    assert tg.Tensor(np.ones((3, 1))).expand(-1, 5).shape == (3, 5)
    np.testing.assert_array_equal(t[1, :, ::2].data, a[1, :, ::2])
    np.testing.assert_array_equal(t[np.array([1, 1, 0])].data, a[[1, 1, 0]])
    np.testing.assert_array_equal(t[a > 10].data, a[a > 10])
    np.testing.assert_array_equal(tg.cat([t, t], 1).data, np.concatenate([a, a], 1))
    np.testing.assert_array_equal(tg.stack([t, t], -1).data, np.stack([a, a], -1))
    np.testing.assert_array_equal(tg.pad(t, (1, 2)).data, np.pad(a, ((0, 0), (0, 0), (1, 2))))
    np.testing.assert_array_equal(tg.pad(t, [(0, 0), (1, 0), (0, 1)], value=9).data,
                                  np.pad(a, ((0, 0), (1, 0), (0, 1)), constant_values=9))


def test_matmul_follows_numpy_rules():
    rng = np.random.default_rng(0)
    for sa, sb in [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                   ((5, 1, 2, 3), (4, 3, 2))]:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        out = tg.Tensor(a) @ tg.Tensor(b)
        np.testing.assert_allclose(out.data, a @ b, rtol=1e-12)
        assert out.shape == np.matmul(a, b).shape


def test_scalar_operands_keep_float32():
    x = tg.Tensor([1.0, 2.0])
    for y in [x + 1, 1 + x, x * 2.5, x / 3, 2 - x, x ** 2, 2 ** x, -x]:
        assert y.dtype == np.float32
    np.testing.assert_allclose((2 ** x).data, [2, 4])
    np.testing.assert_allclose((np.float32(3) - x).data, [2, 1])


def test_activation_values():
    x = np.linspace(-5, 5, 11)
    t = tg.Tensor(x)
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(t.relu().data, np.maximum(x, 0))
    np.testing.assert_allclose(t.leaky_relu(0.1).data, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(t.tanh().data, np.tanh(x))
    np.testing.assert_allclose(tg.clip(t, -1, 2).data, np.clip(x, -1, 2))
    np.testing.assert_allclose(tg.where(x > 0, t, 0.0).data, np.where(x > 0, x, 0))


# ---- the homework's theory as properties ------------------------------------------------------
def test_sigmoid_is_exact_and_silent_far_out():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = tg.Tensor([-1000.0, 1000.0]).sigmoid()
        s32 = tg.Tensor(np.array([-1000.0, 1000.0], np.float32)).sigmoid()
    assert s.tolist() == [0.0, 1.0] and s32.tolist() == [0.0, 1.0]


@given(arrays(shapes(min_dims=1, max_dims=2)), st.floats(-1e4, 1e4))
def test_softmax_is_shift_invariant_without_overflow(a, c):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = tg.Tensor(a * 1e4).softmax().data
        assert np.all(np.isfinite(big))
        np.testing.assert_allclose(big.sum(axis=-1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(tg.Tensor(a + c).softmax().data, tg.Tensor(a).softmax().data, atol=1e-9)
        np.testing.assert_allclose(tg.Tensor(a).log_softmax().data, np.log(tg.Tensor(a).softmax().data),
                                   atol=1e-9)


@given(arrays(shapes(), low=-6, high=6))
def test_sigmoid_derivative_and_tanh_identity(a):
    x = tg.Tensor(a, requires_grad=True)
    s = x.sigmoid()
    s.sum().backward()
    np.testing.assert_allclose(x.grad.data, s.data * (1 - s.data), rtol=1e-12)
    assert np.all(x.grad.data <= 0.25)  # why sigmoid nets suffer vanishing gradients
    np.testing.assert_allclose(tg.Tensor(a).tanh().data, 2 * tg.Tensor(2 * a).sigmoid().data - 1, atol=1e-12)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31))
def test_stacked_linear_maps_collapse(n, d0, d1, d2, seed):
    rng = np.random.default_rng(seed)
    x, w1, b1, w2, b2 = (rng.standard_normal(s) for s in [(n, d0), (d0, d1), (d1,), (d1, d2), (d2,)])
    two = (tg.Tensor(x) @ tg.Tensor(w1) + tg.Tensor(b1)) @ tg.Tensor(w2) + tg.Tensor(b2)
    one = tg.Tensor(x) @ tg.Tensor(w1 @ w2) + tg.Tensor(b1 @ w2 + b2)
    np.testing.assert_allclose(two.data, one.data, atol=1e-10)


@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31))
def test_linear_layer_gradients(n, din, dout, seed):
    """For y = xW + b: dJ/dW = xᵀδ, dJ/dx = δWᵀ, dJ/db = Σδ (the homework's δxᵀ, Wᵀδ, δ in row form)."""
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((n, din)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((din, dout)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(dout), requires_grad=True)
    delta = rng.standard_normal((n, dout))
    (x @ w + b).backward(delta)
    np.testing.assert_allclose(w.grad.data, x.data.T @ delta, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, delta @ w.data.T, atol=1e-12)
    np.testing.assert_allclose(b.grad.data, delta.sum(0), atol=1e-12)


def test_cross_entropy_gradient_is_probs_minus_target():
    rng = np.random.default_rng(1)
    z = tg.Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    y = np.array([0, 4, 2, 2])
    tg.cross_entropy(z, y, reduction="sum").backward()
    np.testing.assert_allclose(z.grad.data, z.softmax().data - np.eye(5)[y], atol=1e-12)
    onehot = tg.cross_entropy(z, np.eye(5)[y], reduction="mean").item()
    assert onehot == pytest.approx(tg.cross_entropy(z, y).item(), rel=1e-12)
    per = tg.cross_entropy(z, y, reduction="none")
    np.testing.assert_allclose(per.data, -np.log(z.softmax().data[np.arange(4), y]), rtol=1e-12)


def test_label_smoothing_zero_is_plain_cross_entropy_and_bad_values_are_named() -> None:
    rng = np.random.default_rng(6)
    z, y = tg.Tensor(rng.normal(size=(4, 3)).astype(np.float32)), rng.integers(0, 3, 4)
    assert F.cross_entropy(z, y, label_smoothing=0.0).data.tobytes() == F.cross_entropy(z, y).data.tobytes()
    zd = z.data.astype(np.float64)
    logp = zd - zd.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    want = (0.7 * -logp[np.arange(4), y] + 0.3 * -logp.mean(1)).mean()
    zt = tg.Tensor(z.data, requires_grad=True)
    loss = F.cross_entropy(zt, y, label_smoothing=0.3)
    np.testing.assert_allclose(loss.item(), want, rtol=1e-6)
    loss.backward()  # softmax minus the smoothed target, over the batch
    target = 0.7 * np.eye(3)[y] + 0.3 / 3
    np.testing.assert_allclose(zt.grad.data, (np.exp(logp) - target) / 4, rtol=1e-5, atol=1e-7)
    for bad in (-0.1, 1.5, "0.1", True):
        with pytest.raises(ValueError, match="label_smoothing"):
            F.cross_entropy(z, y, label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            tg.nn.CrossEntropyLoss(label_smoothing=bad)


# ---- clear errors -------------------------------------------------------------------------------
def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        tg.zeros(2, 3) @ tg.zeros(4, 5)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        tg.zeros(2, 3) + tg.zeros(4)
    with pytest.raises(ValueError, match=r"cannot reshape.*\(2, 3\)"):
        tg.zeros(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="out of range"):
        tg.zeros(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(2, 2\)"):
        tg.zeros(3, 1).expand(2, 2)
    with pytest.raises(ValueError, match="differ"):
        tg.cat([tg.zeros(2, 3), tg.zeros(3, 2)], 0)
    with pytest.raises(ValueError, match=r"channels"):
        tg.conv2d(tg.zeros(1, 3, 8, 8), tg.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"input shape \(2,\) and target shape \(3,\)"):
        tg.mse_loss(tg.zeros(2), tg.zeros(3))


def test_cross_entropy_label_errors():
    with pytest.raises(ValueError, match="label 7 is out of range for 5 classes"):
        tg.cross_entropy(tg.zeros(2, 5), np.array([1, 7]))
    with pytest.raises(ValueError, match="label -1"):
        tg.cross_entropy(tg.zeros(2, 5), np.array([-1, 0]))
    with pytest.raises(ValueError, match="2 labels"):
        tg.cross_entropy(tg.zeros(3, 5), np.array([1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        tg.cross_entropy(tg.zeros(3, 5), np.array([1, 2, 0]), reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_on_empty_input_has_an_empty_gradient(reduction):
    a = tg.Tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    with np.errstate(invalid="ignore"):
        loss = tg.mse_loss(a, tg.Tensor(np.zeros((0, 3), np.float32)), reduction=reduction)
    if reduction == "mean":
        assert np.isnan(loss.item())  # torch gives nan too
    loss.sum().backward() if reduction == "none" else loss.backward()
    assert a.grad.shape == (0, 3)
