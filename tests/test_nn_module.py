"""Module registration, traversal, train/eval, state_dict round trips and errors, repr, Sequential."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.nn import Module, Parameter, Sequential, functional_call


class Net(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 5)
        self.act = nn.Sigmoid()
        self.scale = Parameter(np.ones(1, np.float32))
        self.head = Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))

    def forward(self, x):
        return self.head(self.act(self.fc1(x)) * self.scale)


def test_named_parameters_follow_registration_order_with_dotted_names():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "head.0.weight", "head.0.bias", "head.2.weight"]
    assert [p.shape for p in Net().parameters()] == [(1,), (5, 3), (5,), (4, 5), (4,), (2, 4)]


def test_parameters_are_tensors_requiring_grad_and_share_data():
    a = np.zeros((2, 2), np.float64)
    p = Parameter(a)
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.data is a and p.is_leaf
    assert repr(p).startswith("Parameter containing:\nTensor(")


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    seq = Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.modules())) == 3  # seq, lin, relu: lin once


def test_children_and_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Linear", "Sigmoid", "Sequential"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "head", "head.0", "head.1", "head.2"]


def test_train_eval_propagate_and_return_self():
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_sets_none_and_forward_backward_fills_all():
    net = Net()
    net(tg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_is_an_ordered_copy():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == [n for n, _ in net.named_parameters()]
    sd["fc1.weight"][...] = 7.0
    assert not np.any(net.fc1.weight.data == 7.0)


def test_load_state_dict_round_trip_and_dtype_cast():
    a, b = Net(), Net()
    state = {k: v.astype(np.float64) for k, v in a.state_dict().items()}
    b.load_state_dict(state)
    for (k, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert pb.dtype == np.float32, k
        np.testing.assert_array_equal(pa.data, pb.data)
    x = tg.randn(3, 3)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_missing_and_unexpected_keys():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["fc9.weight"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys \['fc1.bias'\].*unexpected keys \['fc9.weight'\]"):
        net.load_state_dict(sd)
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["fc9.weight"]


def test_load_state_dict_wrong_shape_names_key_and_both_shapes_and_loads_nothing():
    net = Net()
    before = net.state_dict()
    sd = Net().state_dict()
    sd["head.0.weight"] = np.zeros((5, 4), np.float32)
    with pytest.raises(ValueError, match=r"'head.0.weight' has shape \(5, 4\).*shape \(4, 5\)"):
        net.load_state_dict(sd)
    for k, v in net.state_dict().items():  # the good keys before the bad one were not copied
        np.testing.assert_array_equal(v, before[k])


def test_repr_matches_torch_layout():
    seq = Sequential(nn.Linear(1024, 64), nn.Sigmoid(), nn.Linear(64, 36))
    assert repr(seq) == ("Sequential(\n"
                         "  (0): Linear(in_features=1024, out_features=64, bias=True)\n"
                         "  (1): Sigmoid()\n"
                         "  (2): Linear(in_features=64, out_features=36, bias=True)\n"
                         ")")
    assert repr(Net()).splitlines()[3:5] == ["  (head): Sequential(",
                                             "    (0): Linear(in_features=5, out_features=4, bias=True)"]


def test_sequential_indexing_len_iter_slice():
    layers = [nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)]
    seq = Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2] and list(seq) == layers
    sub = seq[1:]
    assert isinstance(sub, Sequential) and list(sub) == layers[1:]
    with pytest.raises(IndexError, match="out of range for a Sequential of length 3"):
        seq[3]
    x = tg.randn(4, 2)
    np.testing.assert_allclose(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    with pytest.raises(TypeError, match="Sequential item 1 is a int"):
        Sequential(nn.ReLU(), 3)


def test_assignment_rules():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight' of Linear"):
        lin.weight = tg.Tensor(np.zeros((2, 2)))
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert lin(tg.randn(1, 2)).shape == (1, 2)

    class Forgot(Module):
        def __init__(self):
            self.w = Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\) first in Forgot"):
        Forgot()


def test_functional_call_routes_gradients_and_restores():
    lin = nn.Linear(3, 2)
    w = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    out = functional_call(lin, {"weight": w}, tg.Tensor(np.ones((1, 3))))
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.ones((2, 3)))
    assert isinstance(lin.weight, Parameter) and lin.weight is not w
    with pytest.raises(KeyError, match="no parameter 'nope.weight'"):
        functional_call(lin, {"nope.weight": w}, tg.randn(1, 3))


def test_to_float64_casts_parameters():
    net = Net().to("float64")
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net(tg.Tensor(np.ones((2, 3)))).dtype == np.float64


def test_deepcopy_of_a_parameter_keeps_data_and_layout_but_not_grad_or_hooks():
    import copy
    p = Parameter(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    calls = []

    def hook(t):  # a plain function: deepcopy would share it, so a copied hook list would show up in calls
        calls.append(t)
    p.register_post_accumulate_grad_hook(hook)
    (p * 2.0).sum().backward()
    assert len(calls) == 1 and p.grad is not None
    model = Sequential(nn.Linear(3, 2))
    model[0].weight = p
    twin = copy.deepcopy(model)
    q = twin[0].weight
    assert isinstance(q, Parameter) and q is not p and q.requires_grad
    np.testing.assert_array_equal(q.data, p.data)
    assert q.data.strides == p.data.strides and not np.shares_memory(q.data, p.data)
    assert q.grad is None  # torch's Parameter.__deepcopy__ copies the data and requires_grad only
    (twin(tg.Tensor(np.ones((1, 3), np.float32)))).sum().backward()
    assert len(calls) == 1 and q.grad is not None  # the original's hook is not carried over
    frozen = copy.deepcopy(Parameter(np.zeros(2, np.float32), requires_grad=False))
    assert not frozen.requires_grad
