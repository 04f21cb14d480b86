"""examples/evaluate.py: scores of tiny checkpoints on tiny files, checked against numpy, and every bad input."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
DEV = ROOT.parent / "shared" / "real" / "nist26_dev.npz"

import common  # noqa: E402
import evaluate  # noqa: E402
import models  # noqa: E402

import tinygrad5 as tg  # noqa: E402
from tinygrad5.data import CLASSES  # noqa: E402

CLASSIFIER_LINE = re.compile(r"^evaluate: n=(\d+) accuracy=(\d\.\d{4}) letters_accuracy=(\d\.\d{4})$")
PSNR_LINE = re.compile(r"^evaluate: n=(\d+) psnr=(-?\d+\.\d{4})$")


@pytest.fixture(autouse=True)
def _agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


# ----------------------------------------------------------------------------- fixtures

def _sd(model: tg.nn.Module) -> dict[str, np.ndarray]:
    return {k: np.asarray(getattr(v, "data", v), dtype=np.float64) for k, v in model.state_dict().items()}


def _mlp_checkpoint(path: Path, layout: str = "upright") -> dict[str, np.ndarray]:
    """A seeded MLP whose outputs vary from image to image and favour a few letters; its weights."""
    tg.manual_seed(3)
    model = models.mlp()
    model[2].weight.data *= 8.0
    # Centre each output over noise images (else one class wins everywhere), then favour A-F and the digits.
    centre = _mlp_logits(_sd(model), _images(200, seed=99).astype(np.float64)).mean(axis=0)
    prefer = np.where(np.arange(36) < 6, 0.8, 0.0) + np.where(np.arange(36) >= 26, 0.5, 0.0)
    model[2].bias.data[:] -= (centre - prefer).astype(np.float32)
    common.save_model(path, model, "mlp", layout=layout)
    return _sd(model)


def _mlp_logits(sd: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The MLP's forward in plain numpy, float64."""
    h = 1.0 / (1.0 + np.exp(-(x @ sd["0.weight"].T + sd["0.bias"])))
    return h @ sd["2.weight"].T + sd["2.bias"]


def _images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.14, 1.12, (n, 1024)).astype(np.float32)


def _write(path: Path, x_upright: np.ndarray, y: np.ndarray, layout: str, labels: str = "index") -> Path:
    """A labelled file written by hand: rows in `layout`, labels as indices or one-hot."""
    x = np.stack([r.reshape(32, 32).T.reshape(-1) for r in x_upright]) if layout == "nist" else x_upright
    lab = np.eye(36, dtype=np.float32)[y] if labels == "onehot" else y
    if path.suffix == ".mat":
        scipy.io.savemat(path, {"valid_data": x, "valid_labels": lab if labels == "onehot" else y[:, None]})
    else:
        np.savez(path, x=x, y=lab)
    return path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = evaluate.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _expected(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    present = np.unique(y)
    restricted = present[logits[:, present].argmax(axis=1)]
    return float((logits.argmax(axis=1) == y).mean()), float((restricted == y).mean())


def _labels_for(logits: np.ndarray, classes: np.ndarray, seed: int) -> np.ndarray:
    """Half the labels agree with the model's choice among `classes`, half are random among them."""
    rng = np.random.default_rng(seed)
    y = classes[logits[:, classes].argmax(axis=1)]
    flip = rng.random(len(y)) < 0.5
    return np.where(flip, rng.choice(classes, len(y)), y).astype(np.int64)


def _check_line(out: str, n: int, acc: float, letters: float) -> None:
    last = out.strip().splitlines()[-1]
    m = CLASSIFIER_LINE.match(last)
    assert m, last
    assert int(m.group(1)) == n
    assert abs(float(m.group(2)) - acc) <= 5e-5 and abs(float(m.group(3)) - letters) <= 5e-5, (last, acc, letters)


# ----------------------------------------------------------------------------- classifiers

@pytest.mark.parametrize("suffix,labels", [(".npz", "index"), (".npz", "onehot"), (".mat", "onehot"),
                                           (".mat", "index")])
@pytest.mark.parametrize("layout", ["nist", "upright"])
def test_mlp_scores_match_numpy(tmp_path, capsys, suffix, labels, layout):
    sd = _mlp_checkpoint(tmp_path / "mlp.npz")
    x = _images(60, seed=1)
    logits = _mlp_logits(sd, x.astype(np.float64))
    y = _labels_for(logits, np.array([0, 1, 2, 3, 4, 5, 7, 11]), seed=2)
    acc, letters = _expected(logits, y)
    # The fixture must make the two figures differ, and reading the file transposed must change them.
    assert 0 < acc < letters < 1
    assert _expected(_mlp_logits(sd, np.stack([r.reshape(32, 32).T.reshape(-1) for r in x])), y) != (acc, letters)
    data = _write(tmp_path / f"d{suffix}", x, y, layout, labels)
    conf = tmp_path / "plots" / "confusion.png"
    code, out, err = _run([tmp_path / "mlp.npz", "--data", data, "--layout", layout, "--confusion", conf], capsys)
    assert code == 0, err
    _check_line(out, 60, acc, letters)
    assert "per-class accuracy" in out and "most confused pairs" in out
    assert conf.stat().st_size > 5000


def test_default_layout_is_nist(tmp_path, capsys):
    sd = _mlp_checkpoint(tmp_path / "mlp.npz")
    x = _images(40, seed=4)
    logits = _mlp_logits(sd, x.astype(np.float64))
    y = _labels_for(logits, np.arange(36), seed=5)
    _, out, _ = _run([tmp_path / "mlp.npz", "--data", _write(tmp_path / "d.npz", x, y, "nist")], capsys)
    _check_line(out, 40, *_expected(logits, y))


def test_checkpoint_trained_on_nist_rows_sees_them_so(tmp_path, capsys):
    sd = _mlp_checkpoint(tmp_path / "mlp.npz", layout="nist")
    x = _images(40, seed=6)
    logits = _mlp_logits(sd, np.stack([r.reshape(32, 32).T.reshape(-1) for r in x]).astype(np.float64))
    y = _labels_for(logits, np.arange(26), seed=7)
    _, out, _ = _run([tmp_path / "mlp.npz", "--data", _write(tmp_path / "d.npz", x, y, "upright"),
                      "--layout", "upright"], capsys)
    _check_line(out, 40, *_expected(logits, y))


def test_convnet_after_a_few_steps(tmp_path, capsys):
    tg.manual_seed(0)
    model = models.convnet()
    x = _images(24, seed=8)
    y = np.arange(24) % 6
    opt = tg.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    for _ in range(3):  # a tiny bit of training, so the checkpoint is a trained one
        loss = tg.cross_entropy(model(tg.Tensor(x.reshape(-1, 1, 32, 32))), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    common.save_model(tmp_path / "convnet.npz", model, "convnet")
    model.eval()
    with tg.no_grad():
        logits = model(tg.Tensor(x.reshape(-1, 1, 32, 32))).data.astype(np.float64)
    code, out, err = _run([tmp_path / "convnet.npz", "--data", _write(tmp_path / "d.mat", x, y, "nist", "onehot")],
                          capsys)
    assert code == 0, err
    _check_line(out, 24, *_expected(logits, y))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_several_classifiers_score_as_their_average_probability(tmp_path, capsys):
    sd_a = _mlp_checkpoint(tmp_path / "a.npz", layout="nist")
    sd_b = _mlp_checkpoint(tmp_path / "b.npz", layout="nist")
    # A second member that disagrees: its last layer's rows rolled by 5 classes, its logits scaled up.
    model_b = models.mlp()
    model_b.load_state_dict({k: v.astype(np.float32) for k, v in sd_b.items()})
    model_b[2].weight.data[:] = 1.5 * np.roll(model_b[2].weight.data, 5, axis=0)
    model_b[2].bias.data[:] = 1.5 * np.roll(model_b[2].bias.data, 5)
    common.save_model(tmp_path / "b.npz", model_b, "mlp", layout="nist")
    sd_b = _sd(model_b)
    x = _images(80, seed=4)
    xn = np.stack([r.reshape(32, 32).T.reshape(-1) for r in x]).astype(np.float64)  # what a nist model sees
    la, lb = _mlp_logits(sd_a, xn), _mlp_logits(sd_b, xn)
    mean = (_softmax(la) + _softmax(lb)) / 2
    y = _labels_for(mean, np.array([0, 1, 2, 3, 4, 5, 9, 13]), seed=5)
    acc, letters = _expected(mean, y)
    # The fixture must make the average differ from each member, else the test could not fail.
    assert (acc, letters) not in (_expected(la, y), _expected(lb, y))
    data = _write(tmp_path / "d.npz", x, y, "upright")
    code, out, err = _run([tmp_path / "a.npz", tmp_path / "b.npz", "--data", data, "--layout", "upright"], capsys)
    assert code == 0, err
    assert "average of 2 classifiers" in out
    _check_line(out, 80, acc, letters)
    xent = float(re.search(r"mean cross-entropy (\d+\.\d+)", out).group(1))
    assert abs(xent - float(np.mean(-np.log(mean[np.arange(80), y])))) <= 5e-4


def test_averaging_refuses_an_autoencoder_or_other_classes(tmp_path, capsys):
    _mlp_checkpoint(tmp_path / "mlp.npz")
    common.save_model(tmp_path / "ae.npz", models.autoencoder(), "autoencoder")
    common.save_model(tmp_path / "letters.npz", models.mlp(), "mlp", classes=CLASSES[::-1])  # another order
    np.savez(tmp_path / "d.npz", x=np.ones((2, 1024), np.float32), y=np.array([0, 1]))
    for other, words in (("ae.npz", "an autoencoder"), ("letters.npz", "differ from")):
        code, out, err = _run([tmp_path / "mlp.npz", tmp_path / other, "--data", tmp_path / "d.npz"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert str(tmp_path / other) in err and words in err, err


# ----------------------------------------------------------------------------- autoencoder

@pytest.mark.parametrize("layout", ["nist", "upright"])
def test_autoencoder_psnr_matches_numpy(tmp_path, capsys, layout):
    tg.manual_seed(1)
    model = models.autoencoder()
    common.save_model(tmp_path / "ae.npz", model, "autoencoder")
    sd = _sd(model)
    x = _images(20, seed=9)  # values beyond [0, 1] on both sides: the clip matters
    h = x.astype(np.float64)
    for i in (0, 2, 4):
        h = np.maximum(h @ sd[f"{i}.weight"].T + sd[f"{i}.bias"], 0.0)
    recon = 1.0 / (1.0 + np.exp(-(h @ sd["6.weight"].T + sd["6.bias"])))
    mse = ((np.clip(x, 0, 1) - np.clip(recon, 0, 1)) ** 2).mean(axis=1)
    expected = float(np.mean(10 * np.log10(1.0 / mse)))
    y = np.arange(20) % 3
    out_dir = tmp_path / "figs"
    code, out, err = _run([tmp_path / "ae.npz", "--data", _write(tmp_path / f"d{layout}.npz", x, y, layout),
                           "--layout", layout, "--out", out_dir], capsys)
    assert code == 0, err
    m = PSNR_LINE.match(out.strip().splitlines()[-1])
    assert m and int(m.group(1)) == 20 and abs(float(m.group(2)) - expected) <= 5e-4, (out, expected)
    assert (out_dir / "reconstructions.png").stat().st_size > 3000


# ----------------------------------------------------------------------------- bad input

def _ckpt_not_ours(t: Path) -> Path:
    np.savez(t / "plain.npz", w=np.zeros(3))
    return t / "plain.npz"


def _ckpt_unknown_arch(t: Path) -> Path:
    tg.save({"model": {}, "meta": {"arch": "resnet50"}}, t / "resnet.npz")
    return t / "resnet.npz"


def _ckpt_no_meta(t: Path) -> Path:
    tg.save({"model": models.mlp().state_dict()}, t / "nometa.npz")
    return t / "nometa.npz"


def _ckpt_mismatch(t: Path) -> Path:
    tg.save({"model": models.autoencoder().state_dict(), "meta": {"arch": "mlp"}}, t / "mismatch.npz")
    return t / "mismatch.npz"


BAD_CHECKPOINTS = {"not_ours": (_ckpt_not_ours, "not a tinygrad5 checkpoint"),
                   "unknown_arch": (_ckpt_unknown_arch, "unknown arch 'resnet50'"),
                   "no_meta": (_ckpt_no_meta, "not a checkpoint of the examples"),
                   "mismatch": (_ckpt_mismatch, "weights do not fit a mlp"),
                   "missing": (lambda t: t / "absent.npz", "no such checkpoint")}

BAD_DATA = {"missing_keys": (lambda t: np.savez(t / "nokeys.npz", images=np.zeros((2, 1024))), "nokeys.npz",
                             "lacks key(s) ['x', 'y']"),
            "row_length": (lambda t: np.savez(t / "rows.npz", x=np.zeros((2, 784)), y=np.zeros(2, int)), "rows.npz",
                           "(N, 1024)"),
            "out_of_range": (lambda t: np.savez(t / "range.npz", x=np.zeros((2, 1024)), y=np.array([0, 40])),
                             "range.npz", "out of range"),
            "length": (lambda t: np.savez(t / "len.npz", x=np.zeros((3, 1024)), y=np.zeros(5, int)), "len.npz",
                       "3 images but 'y' has shape (5,)"),
            "mat_keys": (lambda t: scipy.io.savemat(t / "keys.mat", {"x": np.zeros((2, 1024))}), "keys.mat",
                         "{split}_data"),
            "missing": (lambda t: None, "absent.npz", "no such file")}


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoint_exits_2_naming_it(tmp_path, capsys, case):
    make, words = BAD_CHECKPOINTS[case]
    path = make(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.ones((2, 1024), np.float32), y=np.array([0, 1]))
    code, out, err = _run([path, "--data", tmp_path / "d.npz"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and words in err and "Traceback" not in err


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_exits_2_naming_it(tmp_path, capsys, case):
    make, name, words = BAD_DATA[case]
    make(tmp_path)
    _mlp_checkpoint(tmp_path / "mlp.npz")
    code, out, err = _run([tmp_path / "mlp.npz", "--data", tmp_path / name], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(tmp_path / name) in err and words in err


def test_command_line_exit_status_and_summary(tmp_path):
    """As a user runs it: a script in its own process, a summary on success, status 2 and one line on error."""
    sd = _mlp_checkpoint(tmp_path / "mlp.npz")
    x = _images(10, seed=11)
    logits = _mlp_logits(sd, x.astype(np.float64))
    y = _labels_for(logits, np.arange(10), seed=12)
    script = str(ROOT / "examples" / "evaluate.py")
    ok = subprocess.run([sys.executable, script, str(tmp_path / "mlp.npz"), "--data",
                         str(_write(tmp_path / "d.npz", x, y, "nist"))], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    _check_line(ok.stdout, 10, *_expected(logits, y))
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 1024)))
    bad = subprocess.run([sys.executable, script, str(tmp_path / "mlp.npz"), "--data", str(tmp_path / "bad.npz")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "bad.npz" in bad.stderr


@pytest.mark.skipif(not DEV.is_file(), reason="../shared/real/ is not present")
def test_real_dev_set(tmp_path, capsys):
    sd = _mlp_checkpoint(tmp_path / "mlp.npz")
    raw = np.load(DEV)
    upright = np.stack([r.reshape(32, 32).T.reshape(-1) for r in raw["x"]]).astype(np.float64)
    logits = _mlp_logits(sd, upright)
    code, out, err = _run([tmp_path / "mlp.npz", "--data", DEV], capsys)
    assert code == 0, err
    _check_line(out, 312, *_expected(logits, raw["y"]))


# ----------------------------------------------------------------------------- EMNIST / MNIST files

def test_scores_mnist_files_from_a_folder(tmp_path, capsys):
    """--data mnist --data-dir reads the IDX files through load_mnist; the figures match a direct forward."""
    from tests.test_data_emnist import write_idx
    from tinygrad5.data import load_mnist

    rng = np.random.default_rng(5)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (40, 28, 28)), gz=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 40), gz=True)
    sd = _mlp_checkpoint(tmp_path / "mlp.npz")
    assert evaluate.main([str(tmp_path / "mlp.npz"), "--data", "mnist", "--data-dir", str(tmp_path)]) == 0
    x, y = load_mnist(tmp_path, "test")
    logits = _mlp_logits(sd, x.astype(np.float64))
    n, acc, sub = CLASSIFIER_LINE.match(capsys.readouterr().out.strip().splitlines()[-1]).groups()
    assert int(n) == 40 and float(acc) == pytest.approx((logits.argmax(1) == y).mean(), abs=6e-5)
    assert float(sub) == pytest.approx((26 + logits[:, 26:].argmax(1) == y).mean(), abs=6e-5)


def test_mnist_without_its_files_names_them(tmp_path, capsys):
    _mlp_checkpoint(tmp_path / "mlp.npz")
    assert evaluate.main([str(tmp_path / "mlp.npz"), "--data", "mnist", "--data-dir", str(tmp_path)]) == 2
    assert "t10k-images-idx3-ubyte" in capsys.readouterr().err
    assert evaluate.main([str(tmp_path / "mlp.npz"), "--data", "emnist"]) == 2
    assert "--data emnist needs --data-dir" in capsys.readouterr().err
