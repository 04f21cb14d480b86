"""The Tensor type and the engine: dtypes, factories, backward, accumulation, freeing, no_grad, memory."""
from __future__ import annotations

import gc
import sys

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5.tensor import Function
from tests.memory import assert_memory_flat


def test_dtype_rules():
    assert tg.Tensor(1.5).dtype == np.float32
    assert tg.Tensor([1, 2, 3]).dtype == np.float32
    assert tg.Tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert tg.Tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert tg.Tensor(np.arange(3)).dtype == np.int64
    assert tg.Tensor(np.zeros(2, np.float16)).dtype == np.float32
    assert tg.Tensor([1, 2], dtype="float64").dtype == np.float64


def test_bad_data_raises_type_error():
    with pytest.raises(TypeError, match="abc"):
        tg.Tensor("abc")
    with pytest.raises(TypeError, match="object"):
        tg.Tensor(np.array([1, "x"], dtype=object))
    with pytest.raises(TypeError, match="rectangular"):
        tg.Tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="int64"):
        tg.Tensor(np.arange(3), requires_grad=True)


def test_attributes_and_conversions():
    t = tg.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.size() == (2, 3) and len(t) == 2
    assert isinstance(t.numpy(), np.ndarray) and t.grad is None and t.is_leaf
    assert t.sum().item() == 21.0
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    d = t.detach()
    assert not d.requires_grad and d.data is t.data
    assert repr(t).startswith("Tensor([[1., 2., 3.],") and "requires_grad=True" in repr(t)
    assert "float64" in repr(tg.Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(TypeError):
        len(tg.Tensor(1.0))


def test_factories():
    tg.manual_seed(0)
    a = tg.randn(2, 3, requires_grad=True)
    tg.manual_seed(0)
    b = tg.randn((2, 3))
    assert a.requires_grad and np.array_equal(a.data, b.data) and a.dtype == np.float32
    assert tg.zeros(2, 3).data.sum() == 0 and tg.ones(4).data.sum() == 4
    assert tg.full((2, 2), 7.0).data.tolist() == [[7, 7], [7, 7]]
    assert np.array_equal(tg.eye(3).data, np.eye(3)) and tg.eye(2, dtype="float64").dtype == np.float64
    assert tg.arange(5).dtype == np.int64 and tg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert tg.arange(2, 5).tolist() == [2, 3, 4]
    r = tg.rand(1000)
    assert 0 <= r.data.min() and r.data.max() < 1


def test_backward_scalar_and_accumulation():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2, 4, 6])
    (x * 3).sum().backward()  # accumulates, like torch
    np.testing.assert_allclose(x.grad.data, [5, 7, 9])


def test_nonscalar_backward_needs_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2,\)"):
        y.backward()
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [2, 20])
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(3))


def test_backward_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor([1.0]).sum().backward()


def test_graph_freed_unless_retained():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_a_new_graph_over_freed_nodes_raises_the_same_error():
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    b, c = a * 2, a * 3
    (b + c).sum().backward()  # frees b's and c's nodes
    with pytest.raises(RuntimeError, match="second time"):
        (b * c).sum().backward()  # both freed parents wait in the queue together


def test_backward_order_follows_creation_across_shared_subgraphs():
    # d depends on b twice, once through c: b must run only after both contributions arrived
    a = tg.Tensor([0.5, -1.0], requires_grad=True)
    b = a.exp()
    c = b * b
    d = (c + b).sum()
    d.backward()
    e = np.exp(a.data)
    np.testing.assert_allclose(a.grad.data, (2 * e + 1) * e, rtol=1e-6)


def test_intermediate_grads_not_kept():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (h * h).sum().backward()
    assert h.grad is None and x.grad is not None


def test_diamond_graph_sums_paths():
    x = tg.Tensor([3.0], requires_grad=True)
    a = x * 2
    b = x * x
    (a * b).sum().backward()  # d/dx 2x^3 = 6x^2
    np.testing.assert_allclose(x.grad.data, [54.0])


def test_long_chain_has_no_recursion_limit():
    x = tg.Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(max(10_000, sys.getrecursionlimit() + 1)):
        y = y + 1.0
    y.sum().backward()
    assert x.grad.data[0] == 1.0


def test_broadcast_gradients_are_reduced():
    a = tg.Tensor(np.ones((3, 1)), requires_grad=True)
    b = tg.Tensor(np.ones((4,)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.data, 4.0)
    np.testing.assert_allclose(b.grad.data, 3.0)


def test_gradient_keeps_parameter_dtype():
    w = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    (w * tg.Tensor(np.ones(3, np.float64))).sum().backward()
    assert w.grad.dtype == np.float32


def test_no_grad_context_and_decorator():
    x = tg.Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            assert (x * 2).requires_grad
    assert not y.requires_grad and y._ctx is None and tg.is_grad_enabled()

    @tg.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad and tg.is_grad_enabled()


def test_setitem_only_outside_graph():
    x = tg.zeros(3)
    x[1] = 5.0
    assert x.tolist() == [0, 5, 0]
    w = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 1.0
    with tg.no_grad():
        w[0] = 1.0
    assert w.data[0] == 1.0


def test_custom_function():
    class Cube(Function):
        def forward(self, a):
            self.a = a
            return a ** 3

        def backward(self, g):
            return 3 * self.a ** 2 * g
    x = tg.Tensor([2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    assert x.grad.item() == 12.0


def _live_nodes() -> int:
    gc.collect()
    # type(o), not isinstance: isinstance asks a weakref proxy for its __class__, which raises once
    # its object is gone (numba leaves such proxies behind when a test's own jitted function dies)
    return sum(issubclass(type(o), Function) for o in gc.get_objects())


def test_training_loop_memory_is_flat():
    """10,000 steps of a tiny model: no graph nodes survive a step and traced memory does not grow."""
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((8, 4)))
    y = np.arange(8) % 3
    w = tg.Tensor(rng.standard_normal((4, 3)) * 0.1, requires_grad=True)
    b = tg.zeros(3, requires_grad=True)

    def step():
        loss = tg.cross_entropy((x @ w + b).tanh(), y)
        w.grad = b.grad = None
        loss.backward()
        with tg.no_grad():
            w.data -= 0.1 * w.grad.data
            b.data -= 0.1 * b.grad.data

    def steps(n):
        for _ in range(n):
            step()

    steps(100)
    base_nodes = _live_nodes()
    assert_memory_flat(steps, 5000)
    assert _live_nodes() <= base_nodes


def test_memory_check_catches_a_leak():
    """The flat-memory check fails for a loop that keeps its graphs alive."""
    x = tg.Tensor(np.ones(16), requires_grad=True)
    kept = []

    def leaky(n):
        for _ in range(n):
            kept.append((x * 2).sum())  # each output holds its graph node

    with pytest.raises(AssertionError, match="grew"):
        assert_memory_flat(leaky, 500)
