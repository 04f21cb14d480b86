"""torch's Tensor and top-level surface: tensor(), dtypes, devices, max/min/topk, dim=/keepdim=, autograd,
and the Tensor protocols, each against real torch where it is installed and exact values otherwise."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad5 as tg
from tests.strategies import arrays, distinct, shapes

try:
    import torch
except ImportError:  # the parts that compare with torch skip
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def _name(dtype) -> str:
    return str(dtype).split(".")[-1]


# ---- tensor(), from_numpy, as_tensor ------------------------------------------------------------
DATA = [[1, 2], [1.0, 2], [True, False], 3, 3.5, [[1, 2], [3, 4]], np.arange(3, dtype=np.int32),
        np.zeros(2, np.float64), np.zeros(2, np.uint8), np.float64(2.0)]
EXPECTED = ["int64", "float32", "bool", "int64", "float32", "int64", "int32", "float64", "uint8", "float64"]


@pytest.mark.parametrize("data,expected", zip(DATA, EXPECTED))
def test_tensor_infers_torch_dtypes(data, expected):
    t = tg.tensor(data)
    assert _name(t.dtype) == expected and np.array_equal(t.numpy(), np.asarray(data))
    if torch is not None:
        assert _name(torch.tensor(data).dtype) == expected


def test_tensor_is_the_function_and_the_module_still_imports():
    from tinygrad5.tensor import Tensor
    assert Tensor is tg.Tensor and callable(tg.tensor)
    a = np.ones(3, np.float32)
    t = tg.tensor(a, dtype=tg.float64, requires_grad=True)
    assert t.dtype == tg.float64 and t.requires_grad
    a[0] = 5
    assert tg.tensor(a).data is not a and tg.tensor(a).data[0] == 5
    shared = tg.from_numpy(a)
    a[1] = 7
    assert shared.data[1] == 7 and shared.dtype == tg.float32
    assert tg.as_tensor(a).data is a and tg.as_tensor(shared) is shared
    assert tg.as_tensor(a, dtype=tg.float64).dtype == tg.float64 and tg.as_tensor([1, 2]).dtype == tg.long
    with pytest.raises(TypeError, match="ndarray"):
        tg.from_numpy([1, 2])
    with pytest.raises(TypeError, match="float16"):
        tg.from_numpy(np.zeros(2, np.float16))
    with pytest.raises(TypeError, match="rectangular"):
        tg.tensor([[1, 2], [3]])


# ---- dtypes -----------------------------------------------------------------------------------
def test_dtype_objects_are_interchangeable_with_numpy():
    assert tg.float32 == np.float32 and tg.float32 == np.dtype("float32") and np.dtype("float32") == tg.float32
    assert tg.long == tg.int64 == np.int64 and tg.float is tg.float32 and tg.double is tg.float64
    assert tg.int == np.int32 and tg.bool == np.bool_ and tg.float32 != tg.float64 and tg.float32 != np.int64
    assert np.dtype(tg.long) == np.int64 and np.zeros(2, tg.float64).dtype == np.float64
    assert {np.dtype("float32"): 1}[tg.float32] == 1 and repr(tg.float32) == "tinygrad5.float32"
    assert tg.float32.is_floating_point and not tg.long.is_floating_point and tg.float64.itemsize == 8
    t = tg.tensor([1.0, 2.0])
    assert t.dtype == tg.float32 and t.dtype.kind == "f" and t.dtype == "float32"
    for make in (tg.zeros, tg.ones, tg.randn, tg.rand):
        assert make(2, 3, dtype=tg.float64).dtype == tg.float64
    assert tg.full((2,), 3, dtype=tg.long).dtype == tg.long and tg.arange(3, dtype=tg.float32).dtype == tg.float32
    assert tg.Tensor([1, 2], dtype=tg.long).dtype == tg.int64 and tg.zeros_like(t, dtype=tg.long).dtype == tg.long
    with pytest.raises(TypeError, match="not a dtype"):
        tg.zeros(2, dtype="torch.nonsense")


def test_conversions_and_typed_constructors():
    t = tg.tensor([1.7, -2.2], requires_grad=True)
    assert t.long().dtype == tg.long and t.long().tolist() == [1, -2] and not t.long().requires_grad
    assert t.int().dtype == tg.int32 and t.bool().tolist() == [True, True] and t.float() is t
    d = t.double()
    assert d.dtype == tg.float64 and d.requires_grad
    d.sum().backward()
    assert t.grad.dtype == tg.float32 and t.grad.tolist() == [1.0, 1.0]
    assert t.type() == "tinygrad5.FloatTensor" and t.type(tg.long).dtype == tg.long
    assert t.type("torch.LongTensor").dtype == tg.long and t.type(tg.LongTensor).dtype == tg.long
    assert t.to(tg.float64).dtype == tg.float64 and t.to(tg.float32) is t
    lt = tg.LongTensor([1, 2])
    assert lt.dtype == tg.long and isinstance(lt, tg.LongTensor) and not isinstance(lt, tg.FloatTensor)
    ft = tg.FloatTensor(2, 3)
    assert ft.shape == (2, 3) and ft.dtype == tg.float32 and isinstance(ft, tg.FloatTensor)
    assert tg.FloatTensor([1, 2]).tolist() == [1.0, 2.0] and tg.ByteTensor([3]).dtype == tg.uint8
    with pytest.raises(TypeError, match="only float tensors"):
        tg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="only float tensors"):
        tg.ones(2, dtype=tg.long, requires_grad=True)
    with pytest.raises(TypeError, match="only float tensors"):
        tg.LongTensor([1]).requires_grad_()


# ---- devices ----------------------------------------------------------------------------------
def test_devices_are_cpu_only_with_clear_errors():
    dev = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    assert dev == tg.device("cpu") and str(dev) == "cpu" and dev.type == "cpu"
    assert str(tg.device("cuda:0")) == "cuda:0" and tg.device("cuda", 1).index == 1
    assert not tg.cuda.is_available() and tg.cuda.device_count() == 0
    assert not tg.accelerator.is_available() and tg.accelerator.current_accelerator() is None
    t = tg.ones(2, requires_grad=True)
    assert t.to(dev) is t and t.cpu() is t and t.to("cpu") is t and t.device == tg.device("cpu")
    assert not t.is_cuda and t.to(dev, tg.float64).dtype == tg.float64
    assert t.to(device=dev, dtype=tg.float64).dtype == tg.float64 and t.to(tg.zeros(1, dtype=tg.long)).dtype == tg.long
    assert tg.zeros(2, device="cpu").device == dev and tg.tensor([1], device=dev).dtype == tg.long
    for bad in (lambda: t.cuda(), lambda: t.to("cuda"), lambda: t.to(tg.device("cuda:0")),
                lambda: tg.zeros(2, device="cuda"), lambda: tg.tensor([1.0], device="mps")):
        with pytest.raises(RuntimeError, match=r"cpu"):
            bad()
    with pytest.raises(RuntimeError, match="unknown device type 'gpu'"):
        tg.device("gpu")


# ---- max / min / topk -------------------------------------------------------------------------
def test_max_over_a_dim_unpacks_values_and_indices_for_a_batch_of_two():
    out = tg.tensor([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]])
    _, pred = tg.max(out, 1)
    assert pred.tolist() == [1, 0] and pred.dtype == tg.long
    values, indices = out.max(1)
    assert values.tolist() == pytest.approx([0.7, 0.9]) and indices.tolist() == [1, 0]
    r = tg.max(out, dim=1, keepdim=True)
    assert r.values.shape == (2, 1) and r.indices.shape == (2, 1) and r[1] is r.indices
    assert (pred == tg.tensor([1, 2])).sum().item() == 1
    m = tg.min(out, 0)
    assert m.values.tolist() == pytest.approx([0.1, 0.05, 0.05]) and m.indices.tolist() == [0, 1, 1]
    assert tg.max(out).item() == pytest.approx(0.9) and out.min().item() == pytest.approx(0.05)
    assert tg.max(tg.tensor([1, 5]), tg.tensor([3, 2])).tolist() == [3, 5]
    assert out.max(axis=1).tolist() == pytest.approx([0.7, 0.9])  # numpy's spelling: values only
    if torch is not None:
        ref = torch.tensor(out.numpy())
        assert torch.max(ref, 1).indices.tolist() == pred.tolist()
        assert torch.min(ref, 0).indices.tolist() == m.indices.tolist()  # ties: the first index, as torch


@needs_torch
@pytest.mark.parametrize("which", ["max_dim", "min_dim", "max_all", "topk", "topk_smallest"])
def test_selection_values_indices_and_gradients_match_torch(which):
    x = np.array([[3.0, 1.0, 3.0, 2.0], [0.5, 4.0, 4.0, -1.0], [2.0, 2.0, 2.0, 2.0]])
    ours, theirs = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    call = {"max_dim": lambda m, t: m.max(t, 1), "min_dim": lambda m, t: m.min(t, 0),
            "max_all": lambda m, t: (m.max(t), None), "topk": lambda m, t: m.topk(t, 2),
            "topk_smallest": lambda m, t: m.topk(t, 3, dim=0, largest=False)}[which]
    (v, i), (rv, ri) = call(tg, ours), call(torch, theirs)
    np.testing.assert_array_equal(v.numpy(), rv.detach().numpy())
    if ri is not None and "topk" not in which:  # topk's order among ties is torch's implementation detail
        np.testing.assert_array_equal(i.numpy(), ri.numpy())
    g = np.arange(1.0, 1.0 + v.numel()).reshape(v.shape)
    v.backward(g)
    rv.backward(torch.tensor(g))
    if "topk" in which:  # same picks up to ties: compare the gradient sums per value instead
        np.testing.assert_allclose(ours.grad.numpy().sum(), theirs.grad.numpy().sum())
    else:
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@given(arrays(shapes(min_dims=1)), st.data())
def test_max_min_topk_agree_with_numpy(a, data):
    a = distinct(a, 1e-3)
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    t = tg.tensor(a)
    for fn, ref, arg in [(tg.max, np.max, np.argmax), (tg.min, np.min, np.argmin)]:
        v, i = fn(t, dim)
        np.testing.assert_array_equal(v.numpy(), ref(a, axis=dim))
        np.testing.assert_array_equal(i.numpy(), arg(a, axis=dim))
    k = data.draw(st.integers(0, a.shape[dim]))
    v, i = t.topk(k, dim)
    want = -np.sort(-a, axis=dim).take(np.arange(k), axis=dim)
    np.testing.assert_array_equal(v.numpy(), want)
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), dim), want)


def test_selection_errors_name_the_problem():
    t = tg.zeros(2, 3)
    with pytest.raises(ValueError, match="out of range"):
        t.topk(4)
    with pytest.raises(ValueError, match="out of range"):
        tg.max(t, 2)
    with pytest.raises(ValueError, match="empty"):
        tg.max(tg.zeros(2, 0), 1)
    with pytest.raises(TypeError, match="amax"):
        tg.max(t, (0, 1))


# ---- dim= / keepdim= on the functions ---------------------------------------------------------
FUNCS = {
    "sum": lambda m, x: m.sum(x, dim=1, keepdim=True), "mean": lambda m, x: m.mean(x, dim=(0, 2)),
    "argmax": lambda m, x: m.argmax(x, dim=2, keepdim=True), "argmin": lambda m, x: m.argmin(x, dim=-1),
    "argmax_all": lambda m, x: m.argmax(x), "amax": lambda m, x: m.amax(x, dim=(0, 1), keepdim=True),
    "cat": lambda m, x: m.cat([x, x], dim=1), "stack": lambda m, x: m.stack([x, x], dim=2),
    "softmax": lambda m, x: m.softmax(x, dim=1), "log_softmax": lambda m, x: m.log_softmax(x, dim=0),
    "var": lambda m, x: m.var(x, dim=1, keepdim=True), "var_biased": lambda m, x: m.var(x, 1, False),
    "std": lambda m, x: m.std(x, dim=2), "std_all": lambda m, x: m.std(x),
    "flatten": lambda m, x: m.flatten(x, start_dim=1), "flatten_mid": lambda m, x: m.flatten(x, 0, 1),
    "squeeze_unsqueeze": lambda m, x: m.squeeze(m.unsqueeze(x, dim=1), dim=1),
    "transpose": lambda m, x: m.transpose(x, 0, 2), "clamp": lambda m, x: m.clamp(x, min=-0.5, max=0.5),
    "eq": lambda m, x: m.eq(x, x[0]), "gt": lambda m, x: m.gt(x, 0.1), "le": lambda m, x: m.le(x, 0.1),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_module_level_functions_match_torch(name):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    ours, theirs = FUNCS[name](tg, tg.tensor(x)), FUNCS[name](torch, torch.tensor(x))
    assert tuple(ours.shape) == tuple(theirs.shape) and _name(ours.dtype) == _name(theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_reductions_follow_torch_dtypes_and_refusals():
    b = tg.tensor([True, False, True])
    assert b.sum().item() == 2 and b.sum().dtype == tg.long and tg.tensor([1, 2], dtype=tg.uint8).sum().dtype == tg.long
    with pytest.raises(TypeError, match="float"):
        tg.tensor([1, 2]).mean()
    assert b.float().mean().item() == pytest.approx(2 / 3)
    with pytest.raises(TypeError, match="both"):
        tg.sum(tg.ones(2), dim=0, axis=0)


# ---- autograd -----------------------------------------------------------------------------------
def test_variable_and_grad():
    x = tg.autograd.Variable(tg.ones(3), requires_grad=True)
    assert isinstance(x, tg.Tensor) and x.requires_grad
    assert not tg.autograd.Variable(tg.ones(2)).requires_grad
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w.grad = tg.tensor([10.0, 10.0, 10.0])
    y = (x * w * w).sum()
    gx, gw = tg.autograd.grad(y, [x, w])
    assert gx.tolist() == [1.0, 4.0, 9.0] and gw.tolist() == [2.0, 4.0, 6.0]
    assert w.grad.tolist() == [10.0, 10.0, 10.0] and x.grad is None  # untouched
    with pytest.raises(RuntimeError, match="leaf"):
        tg.autograd.grad((x * 2).sum(), [x * 2])


def test_set_grad_enabled():
    w = tg.ones(2, requires_grad=True)
    with tg.set_grad_enabled(False):
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)


# ---- Tensor protocols ---------------------------------------------------------------------------
def test_python_number_protocols():
    loss = tg.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{tg.tensor(3):>3d}" == "  3" and f"{tg.ones(2)}" == str(tg.ones(2))
    with pytest.raises(TypeError, match="0-d"):
        f"{tg.ones(2):.2f}"
    assert int(tg.tensor([2.7])) == 2 and float(tg.tensor(2)) == 2.0 and isinstance(float(loss), float)
    with pytest.raises(ValueError, match="one element"):
        int(tg.ones(2))
    assert [10, 20, 30][tg.tensor(2)] == 30 and np.arange(5)[tg.tensor(1)] == 1
    with pytest.raises(TypeError, match="integer"):
        [1, 2][tg.tensor(1.0)]
    assert bool(tg.tensor([1.0])) and not tg.tensor(0)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tg.ones(2))
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    arr = np.asarray(t)
    assert arr.dtype == np.float32 and arr.shape == (2, 2) and np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array([t[0, 0], t[1, 1]]).tolist() == [1.0, 4.0]  # 0-d results of indexing
    assert t.detach().cpu().numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]] and t[1, 0].item() == 3.0


def test_shape_helpers_and_comparisons():
    t = tg.arange(6.0).view(2, 3)
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-2) == 2 and t.numel() == 6 and tg.numel(t) == 6
    assert t.dim() == 2 and t.ndimension() == 2 and t.nelement() == 6 and t.is_floating_point()
    with pytest.raises(IndexError, match="out of range"):
        t.size(2)
    assert t.view_as(tg.zeros(3, 2)).shape == (3, 2) and t.reshape_as(tg.zeros(6)).shape == (6,)
    assert t[:1].expand_as(t).shape == (2, 3) and t.type_as(tg.zeros(1, dtype=tg.long)).dtype == tg.long
    assert t.t().tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]] and t[0].t().shape == (3,)
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dims, got shape \(1, 2, 3\)"):
        t.view(1, 2, 3).t()
    y = tg.tensor([[0, 1, 5], [3, 0, 5]], dtype=tg.float32)
    assert t.eq(y).sum().item() == 4 and t.ne(y).tolist() == [[False, False, True], [False, True, False]]
    assert t.lt(y).sum().item() == 1 and t.le(y).sum().item() == 5 and t.gt(2).sum().item() == 3
    assert t.ge(2).sum().item() == 4 and tg.eq(t, y).sum().item() == 4 and tg.equal(t, t.clone())
    assert tg.allclose(t, t + 1e-9) and tg.is_tensor(t) and not tg.is_tensor(t.numpy())
    assert t.argmin().item() == 0 and t.argmin(dim=1).tolist() == [0, 0] and t.std().item() == pytest.approx(
        np.std(np.arange(6.0), ddof=1))


def test_clamp_and_in_place_updates():
    x = tg.tensor([-2.0, 0.0, 2.0], requires_grad=True)
    y = x.clamp(min=-1, max=1)
    assert y.tolist() == [-1.0, 0.0, 1.0] and tg.clamp(x, max=0).tolist() == [-2.0, 0.0, 0.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    assert x.clamp(tg.tensor(-0.5)).tolist() == [-0.5, 0.0, 2.0]
    with pytest.raises(RuntimeError, match="no_grad"):
        x.clamp_(min=0)
    with tg.no_grad():
        x -= 0.5 * x.grad  # manual SGD: the leaf keeps its identity and its grad
        assert x.clamp_(min=-1.0) is x
    assert x.tolist() == [-1.0, -0.5, 2.0] and x.is_leaf and x.requires_grad
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    z = tg.zeros(3)
    z.fill_(2).mul_(3).add_(tg.ones(3))
    assert z.tolist() == [7.0, 7.0, 7.0] and z.copy_(tg.tensor([1.0, 2.0, 3.0])).tolist() == [1.0, 2.0, 3.0]
    acc = tg.zeros(())
    acc += (x * x).sum()  # joins the graph out of place, as torch's in-place add would
    acc.backward()
    assert x.grad.tolist() == [-2.0, -1.0, 4.0]
    with pytest.raises(RuntimeError, match="int64"):
        c = tg.tensor([1, 2])
        c += 0.5


def test_clone_copies_and_keeps_the_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.data is not x.data and c.requires_grad
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_in_place_updates_of_a_reduction_result():
    s = (tg.ones(3) * 2).sum()   # a reduction leaves a 0-d result
    s += 1
    assert s.item() == 7.0
    assert s.zero_().item() == 0.0 and s.fill_(2.5).item() == 2.5 and s.clamp_(max=1.0).item() == 1.0


def test_to_takes_a_dtype_name_and_size_refuses_dims_of_a_0d_tensor():
    assert tg.ones(2).to("float64").dtype == tg.float64 and tg.ones(2).to("cpu").dtype == tg.float32
    with pytest.raises(RuntimeError, match="available: cpu"):
        tg.ones(2).to("cuda")
    with pytest.raises(IndexError, match=r"dim 0 is out of range for shape \(\)"):
        tg.tensor(1.0).size(0)
