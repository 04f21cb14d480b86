"""tinygrad5.jit: replays give eager's bits, every fallback reason warns once, dropout draws anew."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn

from .memory import assert_memory_flat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import models  # noqa: E402

OPTIMIZERS = {"adam": lambda ps: tg.optim.Adam(ps, lr=1e-3),
              "sgd_momentum": lambda ps: tg.optim.SGD(ps, lr=1e-2, momentum=0.9)}


def _batches(arch: str, n: int, batch: int = 8) -> list[tuple[tg.Tensor, tg.Tensor]]:
    rng = np.random.default_rng(7)
    shape = (batch, 1, 32, 32) if arch == "convnet" else (batch, 1024)
    return [(tg.Tensor(rng.random(shape, dtype=np.float32)), tg.Tensor(rng.integers(0, 36, batch)))
            for _ in range(n)]


def _trainer(arch: str, opt_name: str):
    tg.manual_seed(3)
    model = models.BUILDERS[arch]()
    opt = OPTIMIZERS[opt_name](model.parameters())

    def step(x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
        out = model(x)
        loss = tg.mse_loss(out, x) if arch == "autoencoder" else tg.cross_entropy(out, y, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return model, step


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("arch", ["mlp", "convnet", "autoencoder"])
def test_replay_is_bit_identical_to_eager(arch: str, opt_name: str) -> None:
    batches = _batches(arch, 20)
    ref_model, ref_step = _trainer(arch, opt_name)
    model, step = _trainer(arch, opt_name)
    jitted = tg.jit(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", tg.JitWarning)
        for i, (x, y) in enumerate(batches):
            want, got = ref_step(x, y), jitted(x, y)
            assert _same(want.data, got.data), f"step {i}: loss {got.item()} != eager {want.item()}"
            for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
                assert _same(p.data, q.data), f"step {i}: parameter {name} differs from eager"
                assert _same(p.grad.data, q.grad.data), f"step {i}: gradient of {name} differs from eager"
                # the layout too: a column-major weight's gradient in C order sends SGD's update and its
                # momentum buffers to numpy's slow path for good (the ConvNet's step ran 3x slower)
                assert p.grad.data.strides == q.grad.data.strides, f"step {i}: layout of {name}'s gradient"
    assert jitted.replays == 18  # two recorded calls, then every call replays


def _mlp_step(model: nn.Module, opt: tg.optim.Optimizer):
    def step(x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
        loss = tg.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _small() -> tuple[nn.Module, tg.optim.Optimizer]:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    return model, tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _xy(n: int = 6, seed: int = 0) -> tuple[tg.Tensor, tg.Tensor]:
    rng = np.random.default_rng(seed)
    return tg.Tensor(rng.standard_normal((n, 16), dtype=np.float32)), tg.Tensor(rng.integers(0, 4, n))


def _reasons(record: list) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, tg.JitWarning)]


def _run(fn, calls: int, *args) -> list[str]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(calls):
            fn(*args)
    return _reasons(record)


def test_new_shapes_run_eagerly_and_warn_once() -> None:
    model, opt = _small()
    step = tg.jit(_mlp_step(model, opt))
    assert _run(step, 3, *_xy()) == []
    assert step.replays == 1
    small = _xy(3, seed=1)
    msgs = _run(step, 3, *small)
    assert len(msgs) == 1 and "new argument shapes" in msgs[0] and "(3, 16)" in msgs[0]
    assert step.replays == 1
    _run(step, 1, *_xy())
    assert step.replays == 2  # the captured shapes still replay


def test_backend_threads_grad_mode_and_train_mode_warn_once_each() -> None:
    model, opt = _small()
    forward = tg.jit(lambda x: model(x))
    x = _xy()[0]
    _run(forward, 3, x)
    assert forward.replays == 1
    other = "numpy" if tg.get_backend() == "numba" else "numba"
    with tg.backend(other):
        msgs = _run(forward, 2, x)
    assert len(msgs) == 1 and "backend" in msgs[0]
    with tg.no_grad():
        msgs = _run(forward, 2, x)
    assert len(msgs) == 1 and "grad mode" in msgs[0]
    model.eval()
    msgs = _run(forward, 2, x)
    assert len(msgs) == 1 and "eval mode" in msgs[0]
    model.train()
    if tg.threads.max_threads() > 1:
        before = tg.get_num_threads()
        tg.set_num_threads(1 if before > 1 else 2)
        try:
            msgs = _run(forward, 2, x)
        finally:
            tg.set_num_threads(before)
        assert len(msgs) == 1 and "threads" in msgs[0]
    assert forward.replays == 1
    _run(forward, 1, x)
    assert forward.replays == 2


@pytest.mark.parametrize("body, words", [
    (lambda loss, model: loss.item(), "item"),
    (lambda loss, model: float(loss.data), ".data"),
    (lambda loss, model: bool(loss > 0), "__bool__"),
    (lambda loss, model: model[0].bias.add_(1.0), "in place"),
])
def test_value_reads_and_in_place_writes_give_up_with_one_warning(body, words: str) -> None:
    model, opt = _small()
    ref_model, ref_opt = _small()

    def make(m, o):
        def step(x, y):
            loss = tg.cross_entropy(m(x), y)
            with tg.no_grad():
                body(loss, m)
            o.zero_grad()
            loss.backward()
            o.step()
            return loss
        return step
    step, ref = tg.jit(make(model, opt)), make(ref_model, ref_opt)
    x, y = _xy()
    msgs = _run(step, 4, x, y)
    for _ in range(4):
        ref(x, y)
    assert len(msgs) == 1 and words in msgs[0], msgs
    assert step.replays == 0
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert _same(p.data, q.data)  # eager all along


def test_python_state_that_changes_and_arrays_made_outside_ops_give_up() -> None:
    model, opt = _small()
    count = [0]

    def scaled(x, y):
        count[0] += 1
        return tg.cross_entropy(model(x), y) * (1.0 / count[0])
    step = tg.jit(scaled)
    msgs = _run(step, 4, *_xy())
    assert len(msgs) == 1 and "different work" in msgs[0] and step.replays == 0

    def noisy(x):
        return model(x * tg.Tensor(np.random.default_rng().random(x.shape, dtype=np.float32)))
    step = tg.jit(noisy)
    msgs = _run(step, 4, _xy()[0])
    assert len(msgs) == 1 and "no recorded op made" in msgs[0] and step.replays == 0

    def explicit(x):
        out = model(x)
        out.backward(tg.ones_like(out))
        return out
    step = tg.jit(explicit)
    msgs = _run(step, 3, _xy()[0])
    assert len(msgs) == 1 and "explicit gradient" in msgs[0]


def test_dropout_draws_fresh_masks_on_every_replay_and_matches_eager() -> None:
    def build():
        tg.manual_seed(5)
        m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))
        return m, tg.optim.SGD(m.parameters(), lr=0.1)
    (model, opt), (ref_model, ref_opt) = build(), build()
    step, ref = tg.jit(_mlp_step(model, opt)), _mlp_step(ref_model, ref_opt)
    x, y = _xy()
    head = model[:3]
    hidden = tg.jit(lambda x: head(x))
    outs = [hidden(x).data.copy() for _ in range(5)]
    assert hidden.replays == 3
    assert all(not np.array_equal(outs[i], outs[j]) for i in range(2, 5) for j in range(i))
    tg.manual_seed(11)
    got = [step(x, y).data.copy() for _ in range(6)]
    tg.manual_seed(11)
    want = [ref(x, y).data.copy() for _ in range(6)]
    assert step.replays == 4
    assert all(_same(a, b) for a, b in zip(got, want))


def test_captured_step_keeps_working_after_load_state_dict() -> None:
    model, opt = _small()
    ref_model, ref_opt = _small()
    step, ref = tg.jit(_mlp_step(model, opt)), _mlp_step(ref_model, ref_opt)
    x, y = _xy()
    _run(step, 4, x, y)
    _run(ref, 4, x, y)
    tg.manual_seed(99)
    other = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4)).state_dict()
    for m, o in ((model, opt), (ref_model, ref_opt)):
        m.load_state_dict(other)
        o.load_state_dict(o.state_dict())
    msgs = _run(step, 5, x, y)
    for _ in range(5):
        ref(x, y)
    assert len(msgs) == 1 and "new array" in msgs[0]
    assert step.replays == 2 + 3  # two before the load, then two recordings and three replays
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert _same(p.data, q.data)


def test_memory_stays_flat_over_5000_replays() -> None:
    model, opt = _small()
    step = tg.jit(_mlp_step(model, opt))
    x, y = _xy()

    def run(n: int) -> None:
        for _ in range(n):
            step(x, y)
    assert_memory_flat(run, 5000)
    assert step.replays > 10000


def test_products_replay_as_backend_calls_and_losses_as_ops() -> None:
    """The MLP's tape: its linear layers replay as backend calls, the loss (numpy of its own) whole."""
    model, step = _trainer("mlp", "sgd_momentum")
    jitted = tg.jit(step)
    for x, y in _batches("mlp", 3):
        jitted(x, y)
    tape = next(iter(jitted._captures.values())).tape
    calls = [s[0].__name__ for run in tape if run.kind == "calls" for s in run.steps]
    assert calls.count("linear_forward") == 2 and calls.count("matmul") >= 2
    assert sorted(run.name for run in tape if run.kind == "op") == ["CrossEntropy.backward", "CrossEntropy.forward"]


def test_returned_loss_keeps_its_value_and_grad_holds_the_steps_gradient() -> None:
    batches = _batches("mlp", 6)
    ref_model, ref_step = _trainer("mlp", "adam")
    model, step = _trainer("mlp", "adam")
    jitted = tg.jit(step)
    held = []
    for x, y in batches:
        held.append((jitted(x, y), ref_step(x, y)))
        for p, q in zip(model.parameters(), ref_model.parameters()):
            assert _same(p.grad.data, q.grad.data)
    assert jitted.replays == 4
    for got, want in held:  # later replays did not write into the losses returned before
        assert _same(got.data, want.data)


def test_a_second_capture_takes_the_last_smaller_batch_without_warning() -> None:
    model, opt = _small()
    ref_model, ref_opt = _small()
    step, ref = tg.jit(_mlp_step(model, opt), captures=2), _mlp_step(ref_model, ref_opt)
    epoch = [_xy(6, seed=i) for i in range(3)] + [_xy(2, seed=9)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", tg.JitWarning)
        for _ in range(3):
            for x, y in epoch:
                assert _same(step(x, y).data, ref(x, y).data)
    assert step.replays == 12 - 4
    msgs = _run(step, 2, *_xy(4))  # a third shape: eager, one warning
    assert len(msgs) == 1 and "new argument shapes" in msgs[0]
    with pytest.raises(ValueError, match="captures"):
        tg.jit(ref, captures=0)


def test_backward_seed_is_refilled_not_the_last_nodes_gradient() -> None:
    """The seed's entry once filled whatever `g` last named (here the sum's read-only broadcast)."""
    w = tg.Tensor(np.arange(8, dtype=np.float32).reshape(2, 4), requires_grad=True)

    def f(x: tg.Tensor) -> tg.Tensor:
        loss = (x * w).sum()
        loss.backward()
        return loss
    step = tg.jit(f)
    for i in range(4):
        w.grad = None
        step(tg.Tensor(np.full((2, 4), float(i), np.float32)))
        assert _same(w.grad.data, np.full((2, 4), float(i), np.float32))
    assert step.replays == 2


@pytest.mark.parametrize("zeros", ["ZaZaZaZaZaZa", "ZZZZZaZaZa"])
def test_gradients_accumulated_over_calls_match_eager(zeros: str) -> None:
    """A step without zero_grad (gradient accumulation: zero_grad and the update outside, before
    each call marked Z): a replay's .grad must not be a static buffer that the next replay
    overwrites before adding to it. The second pattern captures with .grad None at every call."""
    model, opt = _small()
    ref_model, ref_opt = _small()

    def micro(m: nn.Module):
        def step(x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
            loss = tg.cross_entropy(m(x), y)
            loss.backward()
            return loss
        return step
    step, ref = tg.jit(micro(model)), micro(ref_model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", tg.JitWarning)
        for i, flag in enumerate(zeros):
            if flag == "Z":
                for o in (opt, ref_opt):
                    if i:
                        o.step()
                    o.zero_grad()
            x, y = _xy(seed=i)
            assert _same(step(x, y).data, ref(x, y).data), f"call {i}: loss differs"
            for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
                assert _same(p.grad.data, q.grad.data), f"call {i}: gradient of {name} differs"
    assert step.replays == len(zeros) - 2


def test_held_input_grad_keeps_its_value() -> None:
    """An input that requires grad gets its .grad each replay (the backward seed's entry must fill
    the seed, not the last node's gradient); a caller holding last call's .grad keeps its value."""
    w = tg.Tensor(np.arange(8, dtype=np.float32).reshape(2, 4))

    def f(x: tg.Tensor) -> tg.Tensor:
        loss = (x * x * w).sum()
        loss.backward()
        return loss
    step = tg.jit(f)
    held = []
    for i in range(5):
        x = tg.Tensor(np.full((2, 4), float(i), np.float32), requires_grad=True)
        step(x)
        held.append((x.grad, 2 * i * w.data))
    assert step.replays == 3
    for got, want in held:
        assert _same(got.data, want)
