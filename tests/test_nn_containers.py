"""ModuleList, ModuleDict, Identity and the torch-shaped Module API: traversal, buffers, to(), apply, zero_grad."""
import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn
from tinygrad5.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Identity(7, unused=True)})
        self.bn = nn.BatchNorm1d(2)

    def forward(self, x):
        for block in self.blocks:
            x = F.relu(block(x))
        return self.bn(self.heads["b"](self.heads["a"](x)))


def test_traversal_names_like_torch():
    net = Net()
    assert [n for n, _ in net.named_children()] == ["blocks", "heads", "bn"]
    assert [n for n, _ in net.named_modules()] == ["", "blocks", "blocks.0", "blocks.1", "heads", "heads.a",
                                                   "heads.b", "bn"]
    assert [n for n, _ in net.named_parameters()] == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                                      "blocks.1.bias", "heads.a.weight", "heads.a.bias",
                                                      "bn.weight", "bn.bias"]
    assert [n for n, _ in net.named_buffers()] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert len(list(net.buffers())) == 3 and len(list(net.parameters(recurse=False))) == 0
    assert list(net.state_dict())[-3:] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert net.get_submodule("heads.a") is net.heads["a"]
    assert net(tg.randn(3, 4)).shape == (3, 2)


def test_module_list_and_dict_operations():
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Tanh())
    ml.extend([nn.Sigmoid()])
    ml.insert(0, nn.Identity())
    ml += [nn.Softmax()]
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Tanh", "Sigmoid", "Softmax"]
    assert type(ml[-1]).__name__ == "Softmax" and len(ml[1:3]) == 2
    del ml[0]
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="index 9 is out of range for a ModuleList of length 4"):
        ml[9]
    with pytest.raises(NotImplementedError, match="iterate over it"):
        ml(tg.randn(2))
    md = nn.ModuleDict([("x", nn.ReLU())])
    md["y"] = nn.Tanh()
    md.update({"z": nn.Sigmoid()})
    assert list(md) == ["x", "y", "z"] and "y" in md and len(md) == 3
    assert type(md.pop("y")).__name__ == "Tanh" and list(md.keys()) == ["x", "z"]
    with pytest.raises(KeyError, match="no key 'q'"):
        md["q"]
    x = tg.randn(2, 2)
    assert nn.Identity()(x) is x


def test_to_device_and_dtype_and_refusals():
    net = Net()
    w = net.blocks[0].weight.data.copy()
    assert net.to("cpu") is net and net.to(tg.device("cpu")) is net and net.cpu() is net
    assert net.to(tg.float64) is net and net.blocks[0].weight.dtype == np.float64
    assert net.bn.running_mean.dtype == np.float64 and net.bn.num_batches_tracked.dtype == np.int64
    assert net.float().blocks[0].weight.dtype == np.float32 and net.double().heads["a"].bias.dtype == np.float64
    net.to("cpu", dtype=np.float32)
    np.testing.assert_array_equal(net.blocks[0].weight.data, w)
    for bad in (np.int64, tg.int64, "int64", bool, np.float16, np.complex64):
        with pytest.raises(TypeError, match="parameters can only be float32 or float64, not"):
            net.to(bad)
    np.testing.assert_array_equal(net.blocks[0].weight.data, w)  # nothing was touched
    assert net.blocks[0].weight.requires_grad
    for dev in ("cuda", "cuda:0", tg.device("cuda")):
        with pytest.raises(RuntimeError, match="it computes on the CPU only \\(available: cpu\\)"):
            net.to(dev)
    with pytest.raises(RuntimeError, match="no 'cuda' device"):
        net.cuda()
    with pytest.raises(TypeError, match="'gpu0' is neither a device"):
        net.to("gpu0")


def test_apply_train_eval_zero_grad():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "ModuleList", "Linear", "Identity", "ModuleDict", "BatchNorm1d", "Net"]
    net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert all(np.all(m.bias.data == 0) for m in net.modules() if isinstance(m, nn.Linear))
    assert net.eval() is net and not net.bn.training and net.train() is net and net.heads["a"].training
    net(tg.randn(3, 4)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_register_buffer_rules():
    m = nn.Module()
    m.register_buffer("steps", tg.Tensor(np.zeros(2)))
    m.register_buffer("scratch", tg.Tensor(np.ones(2)), persistent=False)
    assert list(m.state_dict()) == ["steps"] and [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    m.steps = tg.Tensor(np.ones(2))
    assert m._buffers["steps"] is m.steps
    with pytest.raises(TypeError, match="cannot assign a int to buffer 'steps'"):
        m.steps = 3
    with pytest.raises(TypeError, match="needs a Tensor or None"):
        m.register_buffer("x", np.zeros(2))


def test_clip_grad_norm_like_torch():
    torch = pytest.importorskip("torch")
    g1, g2 = np.arange(6.0).reshape(2, 3), -np.ones(4)
    ours = [tg.Tensor(np.zeros_like(g), requires_grad=True) for g in (g1, g2)]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in (g1, g2)]
    for o, t, g in zip(ours, theirs, (g1, g2)):
        o.grad, t.grad = tg.Tensor(g.copy()), torch.from_numpy(g.copy())
    n_o = nn.utils.clip_grad_norm_(ours, 1.5)
    n_t = torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert float(n_o.item()) == pytest.approx(float(n_t), rel=1e-6)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-6)
