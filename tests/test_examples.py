"""Smoke tests: each homework example runs with --quick and writes its figures, checkpoint and summary."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

SUMMARY = re.compile(r"^(\w+): epochs=\d+( \w+=[-\d.]+)+$", re.M)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD5_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def _figures(out: Path, names: list[str]) -> None:
    for name in names:
        assert (out / name).stat().st_size > 1000, f"{name} missing or empty"


def test_mlp_quick_via_command_line(tmp_path):
    out = tmp_path / "mlp"
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "mlp_nist36.py"), "--quick", "--sweep",
                          "--no-progress", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    m = SUMMARY.search(res.stdout)
    assert m and m.group(1) == "mlp", res.stdout
    acc = float(re.search(r"valid_acc=([\d.]+)", res.stdout).group(1))
    assert 0.0 <= acc <= 1.0
    assert "most confused pairs" in res.stdout
    _figures(out, ["curves.png", "weights_init.png", "weights_trained.png", "confusion.png", "lr_sweep.png"])
    assert (out / "model.npz").exists() and (out / "history.json").exists()


def test_autoencoder_quick(tmp_path, capsys):
    import autoencoder_nist36
    autoencoder_nist36.main(["--quick", "--no-progress", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    psnr = float(re.search(r"valid_psnr=([\d.]+)", text).group(1))
    assert 5.0 < psnr < 40.0
    _figures(tmp_path, ["loss.png", "reconstructions.png"])


def test_convnet_quick_and_checkpoint_reloads(tmp_path, capsys):
    import convnet_nist36
    import models
    convnet_nist36.main(["--quick", "--no-progress", "--out", str(tmp_path)])
    assert SUMMARY.search(capsys.readouterr().out)
    _figures(tmp_path, ["curves.png", "confusion.png", "compare.png"])
    model, meta = models.load_model(tmp_path / "model.npz")
    assert meta["arch"] == "convnet" and meta["classes"] == "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    import tinygrad5 as tg
    assert model(tg.zeros(2, 1, 32, 32)).shape == (2, 36)


def test_psnr_matches_definition():
    from autoencoder_nist36 import psnr
    x = np.full((2, 1024), 0.5, np.float32)
    r = x + np.array([[0.1], [0.01]], np.float32)
    np.testing.assert_allclose(psnr(x, r), [20.0, 40.0], rtol=1e-4)


def test_nist36_flag_needs_a_folder(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "mlp_nist36.py"), "--data", "nist36",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode != 0 and "--data-dir" in res.stderr


def test_data_seed_draws_another_training_set_and_keeps_valid_and_test(tmp_path, capsys):
    import common
    from tinygrad5.data import load_synthetic
    base = ["--quick", "--out", str(tmp_path)]
    first = common.load_splits(common.parse_args("t", "t", 1, 32, 3e-3, argv=base))
    other = common.load_splits(common.parse_args("t", "t", 1, 32, 3e-3, argv=base + ["--data-seed", "7"]))
    assert first["train"][0].shape == other["train"][0].shape
    assert not np.array_equal(first["train"][0], other["train"][0])
    np.testing.assert_array_equal(other["train"][0], load_synthetic("train", n_per_class=len(other["train"][1]) // 36,
                                                                    seed=7)[0])
    for split in ("valid", "test"):
        np.testing.assert_array_equal(first[split][0], other[split][0])
    with pytest.raises(SystemExit):
        common.parse_args("t", "t", 1, 32, 3e-3, argv=["--data", "nist36", "--data-dir", str(tmp_path),
                                                      "--data-seed", "1", "--out", str(tmp_path)])
    assert "--data-seed draws another generated training set" in capsys.readouterr().err


def _plain_mlp_loop(splits: dict, epochs: int, seed: int = 0) -> dict:
    """The homework's MLP loop written out, without augmentation: what the example ran before --augment."""
    import models
    import tinygrad5 as tg
    from tinygrad5.data import DataLoader
    tg.manual_seed(seed)
    model = models.mlp()
    opt = tg.optim.SGD(model.parameters(), lr=3e-3)
    loader = DataLoader(*splits["train"], batch_size=32, shuffle=True, seed=seed)
    for _ in range(epochs):
        for xb, yb in loader:
            loss = tg.cross_entropy(model(xb), yb, reduction="sum")
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: np.asarray(getattr(v, "data", v)) for k, v in model.state_dict().items()}


def test_augment_none_is_the_plain_loop_and_medium_changes_the_weights(tmp_path, capsys):
    import common
    import mlp_nist36
    import tinygrad5 as tg
    for augment in ("none", "medium"):
        mlp_nist36.main(["--quick", "--epochs", "1", "--no-progress", "--augment", augment,
                         "--out", str(tmp_path / augment)])
    text = capsys.readouterr().out
    assert "; augment none" in text and "; augment medium" in text  # the header lines name it
    args = common.parse_args("t", "t", 1, 32, 3e-3, argv=["--quick", "--out", str(tmp_path / "ref")])
    ref = _plain_mlp_loop(common.load_splits(args), epochs=1)
    none, medium = (tg.load(tmp_path / a / "model.npz")["model"] for a in ("none", "medium"))
    assert none.keys() == ref.keys() == medium.keys()
    for k in ref:
        np.testing.assert_array_equal(none[k], ref[k], err_msg=k)  # bit for bit
    # one epoch on augmented batches moves the weights elsewhere (not a rounding-level change)
    assert max(float(np.abs(medium[k] - ref[k]).max()) for k in ref) > 1e-3
    assert tg.load(tmp_path / "medium" / "model.npz")["meta"]["augment"] == "medium"


@pytest.mark.parametrize("script,default", [("mlp_nist36", "medium"), ("convnet_nist36", "strong"),
                                            ("autoencoder_nist36", "light")])
def test_help_explains_the_augmentation_and_its_default(script, default, capsys):
    module = __import__(script)
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "--augment {none,light,medium,strong}" in text
    assert "default_augmentation" in text and "elastic warp" in text and f"(default: {default})" in text
    assert module.AUGMENT == default


def test_captured_training_step_gives_the_numbers_of_no_jit(monkeypatch):
    import warnings

    import mlp_nist36
    import models
    import tinygrad5 as tg
    rng = np.random.default_rng(0)
    splits = {"train": (rng.random((200, 1024), dtype=np.float32), rng.integers(0, 36, 200)),
              "valid": (rng.random((40, 1024), dtype=np.float32), rng.integers(0, 36, 40))}
    made, jit = [], tg.jit
    monkeypatch.setattr(tg, "jit", lambda fn, **kw: made.append(jit(fn, **kw)) or made[-1])
    runs = []
    for use_jit in (True, False):
        tg.manual_seed(0)
        model = models.mlp()
        opt = tg.optim.SGD(model.parameters(), lr=3e-3, momentum=0.9)
        with warnings.catch_warnings():
            warnings.simplefilter("error", tg.JitWarning)  # the last, smaller batch has its own capture
            hist = mlp_nist36.train(model, opt, splits, 3, 32, 0, progress=False, jit=use_jit)
        runs.append((hist, [p.data.copy() for p in model.parameters()]))
    (h_jit, p_jit), (h_eager, p_eager) = runs
    assert len(made) == 1 and made[0].replays == 3 * 7 - 4  # 7 batches an epoch; two recordings per shape
    for k in ("train_loss", "train_acc", "valid_loss", "valid_acc"):
        assert h_jit[k] == h_eager[k], k
    for a, b in zip(p_jit, p_eager):
        np.testing.assert_array_equal(a, b)


def test_convnet_loop_ends_with_the_average_of_the_last_epochs_weights():
    import common
    import convnet_nist36
    import models
    import tinygrad5 as tg
    rng = np.random.default_rng(1)
    splits = {"train": (rng.random((96, 1024), dtype=np.float32), rng.integers(0, 36, 96)),
              "valid": (rng.random((20, 1024), dtype=np.float32), rng.integers(0, 36, 20))}

    def run(epochs: int, swa_epochs: int) -> tuple[list[np.ndarray], dict]:
        tg.manual_seed(0)
        model = models.mlp()  # the loop trains any classifier; the MLP keeps the test fast
        opt = tg.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
        hist = convnet_nist36.train(model, opt, splits, epochs, 32, 0, shape=(-1, 1024), progress=False,
                                    swa_epochs=swa_epochs)
        return [p.data.copy() for p in model.parameters()], hist

    (w2, _), (w3, _) = run(2, 0), run(3, 0)
    averaged, hist = run(3, 2)
    for a, b, got in zip(w2, w3, averaged):
        assert not np.array_equal(a, b)
        np.testing.assert_array_equal(got, a + (b - a) / np.float32(2))  # torch's running mean, in float32
    # the last validation figures are the averaged model's
    tg.manual_seed(0)
    check = models.mlp()
    check.load_state_dict(dict(zip(check.state_dict(), averaged)))
    assert hist["valid_acc"][-1] == common.evaluate(check, *splits["valid"], shape=(-1, 1024))[1]


def test_convnet_loop_mixes_each_batch_with_its_roll_and_the_labels_alike(monkeypatch):
    import convnet_nist36
    import models
    import tinygrad5 as tg
    from tinygrad5.data import DataLoader
    rng = np.random.default_rng(2)
    splits = {"train": (rng.random((64, 1024), dtype=np.float32), rng.integers(0, 36, 64)),
              "valid": (rng.random((8, 1024), dtype=np.float32), rng.integers(0, 36, 8))}
    seen = []

    def recording(fn, **kw):  # stands in for tg.jit: the step, seeing what the loop feeds it
        return lambda x, t: seen.append((x.data.copy(), t.data.copy())) or fn(x, t)
    monkeypatch.setattr(tg, "jit", recording)
    tg.manual_seed(0)
    model = models.mlp()
    convnet_nist36.train(model, tg.optim.SGD(model.parameters(), lr=1e-2), splits, 1, 32, 5, shape=(-1, 1024),
                         progress=False, mixup=0.4)
    batches = list(DataLoader(*splits["train"], batch_size=32, shuffle=True, seed=5))
    draw = np.random.default_rng([5, 0])
    assert len(seen) == len(batches) == 2
    for (x, target), (xb, yb) in zip(seen, batches):
        lam = np.float32(draw.beta(0.4, 0.4))
        hot = np.eye(36, dtype=np.float32)[yb.data]
        np.testing.assert_array_equal(x, lam * xb.data + (1 - lam) * np.roll(xb.data, 1, axis=0))
        np.testing.assert_array_equal(target, lam * hot + (1 - lam) * np.roll(hot, 1, axis=0))
        np.testing.assert_allclose(target.sum(axis=1), 1.0, rtol=1e-6)
        assert 0 < lam < 1 and not np.array_equal(x, xb.data)
