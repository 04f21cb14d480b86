"""load_labelled: .npz and NIST .mat files, both layouts, index and one-hot labels, and every bad file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tinygrad5.data import CLASSES
from tinygrad5.data.labelled import LabelledFileError, load_labelled

DEV = Path(__file__).resolve().parents[2] / "shared" / "real" / "nist26_dev.npz"


def _images(n: int, seed: int = 0) -> np.ndarray:
    """Upright rows whose images are not symmetric, so a wrong transpose shows."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.14, 1.12, (n, 1024)).astype(np.float32)


def _nist(x: np.ndarray) -> np.ndarray:
    """Upright rows stored column-major, written out by hand (independent of the loader)."""
    return np.stack([img.reshape(32, 32).T.reshape(-1) for img in x])


@pytest.mark.parametrize("layout", ["nist", "upright"])
def test_npz_index_labels_both_layouts(tmp_path, layout):
    x, y = _images(7), np.array([0, 3, 25, 26, 35, 3, 0])
    path = tmp_path / "d.npz"
    np.savez(path, x=_nist(x) if layout == "nist" else x, y=y)
    xl, yl = load_labelled(path, layout)
    assert xl.dtype == np.float32 and xl.shape == (7, 1024) and yl.dtype == np.int64
    np.testing.assert_array_equal(xl, x)
    np.testing.assert_array_equal(yl, y)


def test_wrong_layout_gives_the_transpose(tmp_path):
    x = _images(3)
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(3, np.int64))
    xl, _ = load_labelled(tmp_path / "d.npz", "nist")
    np.testing.assert_array_equal(xl, _nist(x))
    assert not np.array_equal(xl, x)


def test_npz_one_hot_with_fewer_columns_and_classes_map(tmp_path):
    x, y = _images(4), np.array([2, 0, 25, 1])
    np.savez(tmp_path / "oh.npz", x=x, y=np.eye(26, dtype=np.float32)[y])
    np.testing.assert_array_equal(load_labelled(tmp_path / "oh.npz", "upright")[1], y)
    # A file of digits that numbers its own classes 0..9 through a `classes` array.
    np.savez(tmp_path / "digits.npz", x=x, y=np.array([0, 9, 1, 1]), classes=np.array(list("0123456789")))
    np.testing.assert_array_equal(load_labelled(tmp_path / "digits.npz", "upright")[1],
                                  [CLASSES.index(c) for c in "0911"])


@pytest.mark.parametrize("labels", ["onehot", "column", "row"])
@pytest.mark.parametrize("layout", ["nist", "upright"])
def test_mat_split_from_keys(tmp_path, labels, layout):
    x, y = _images(5, seed=1), np.array([4, 0, 35, 12, 4])
    lab = {"onehot": np.eye(36)[y], "column": y[:, None].astype(np.float64), "row": y[None, :].astype(np.uint8)}
    path = tmp_path / "nist36_test.mat"
    scipy.io.savemat(path, {"test_data": _nist(x) if layout == "nist" else x, "test_labels": lab[labels]})
    xl, yl = load_labelled(path, layout)
    np.testing.assert_allclose(xl, x)
    np.testing.assert_array_equal(yl, y)


def _bad_npz(tmp_path: Path, name: str, **arrays: np.ndarray) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


BAD = {
    "missing_y": (lambda t: _bad_npz(t, "noy.npz", x=_images(2)), r"lacks key\(s\) \['y'\]"),
    "row_length": (lambda t: _bad_npz(t, "short.npz", x=np.zeros((2, 1000)), y=np.zeros(2, int)), r"\(N, 1024\)"),
    "image_cube": (lambda t: _bad_npz(t, "cube.npz", x=np.zeros((2, 32, 32)), y=np.zeros(2, int)), r"\(2, 32, 32\)"),
    "length": (lambda t: _bad_npz(t, "len.npz", x=_images(3), y=np.zeros(2, int)),
               r"3 images but 'y' has shape \(2,\)"),
    "too_big": (lambda t: _bad_npz(t, "big.npz", x=_images(2), y=np.array([1, 36])), r"out of range.*\[1, 36\]"),
    "negative": (lambda t: _bad_npz(t, "neg.npz", x=_images(2), y=np.array([-1, 3])), r"out of range"),
    "fraction": (lambda t: _bad_npz(t, "frac.npz", x=_images(2), y=np.array([0.5, 3.0])), r"non-integer"),
    "not_onehot": (lambda t: _bad_npz(t, "oh.npz", x=_images(2), y=np.array([[1, 1] + [0] * 34, [1] + [0] * 35])),
                   r"row 0 is not one-hot"),
    "wide_onehot": (lambda t: _bad_npz(t, "wide.npz", x=_images(2), y=np.eye(40)[:2]), r"40 columns"),
    "nan": (lambda t: _bad_npz(t, "nan.npz", x=np.full((2, 1024), np.nan), y=np.zeros(2, int)), r"non-finite"),
    "classes": (lambda t: _bad_npz(t, "cls.npz", x=_images(2), y=np.array([0, 2]), classes=np.array(["a", "b"])),
                r"'classes' holds"),
    "missing": (lambda t: t / "nowhere.npz", r"no such file"),
    "suffix": (lambda t: (t / "x.csv").write_text("1,2\n") and t / "x.csv", r"unsupported file type '.csv'"),
    "corrupt": (lambda t: (t / "bad.npz").write_bytes(b"not a zip") and t / "bad.npz", r"could not read"),
    "mat_keys": (lambda t: scipy.io.savemat(t / "k.mat", {"data": np.zeros((2, 1024))}) or t / "k.mat",
                 r"found no \{split\}_data/\{split\}_labels pair among keys \['data'\]"),
    "mat_two": (lambda t: scipy.io.savemat(t / "two.mat", {f"{s}_{k}": np.zeros((1, 1024 if k == "data" else 36))
                                                           for s in ("train", "valid") for k in ("data", "labels")})
                or t / "two.mat", r"several splits \['train', 'valid'\]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_name_the_file(tmp_path, case):
    make, pattern = BAD[case]
    path = make(tmp_path)
    with pytest.raises(LabelledFileError, match=pattern) as info:
        load_labelled(path, "upright")
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unknown_layout():
    with pytest.raises(ValueError, match="layout"):
        load_labelled("whatever.npz", "columns")


@pytest.mark.skipif(not DEV.is_file(), reason="../shared/real/ is not present")
def test_real_dev_set_reads_upright():
    raw = np.load(DEV)
    x, y = load_labelled(DEV, "nist")
    assert x.shape == (312, 1024) and np.bincount(y).tolist() == [12] * 26
    np.testing.assert_array_equal(x[5].reshape(32, 32), raw["x"][5].reshape(32, 32).T)


def test_preview_compare_writes_a_png(tmp_path, capsys):
    from PIL import Image

    from tinygrad5.data.__main__ import main

    rng = np.random.default_rng(0)
    x = np.ones((6, 1024), np.float32)
    x[:, 300:700] = rng.uniform(0, 0.2, (6, 400))
    np.savez(tmp_path / "real.npz", x=x, y=np.array([0, 0, 1, 1, 2, 25]))
    out = tmp_path / "cmp" / "compare.png"
    assert main(["preview", "--compare", str(tmp_path / "real.npz"), "--per-class", "2", "--out", str(out)]) == 0
    assert "4 classes" in capsys.readouterr().out
    w, h = Image.open(out).size
    assert w > 200 and h > 150 and out.stat().st_size > 3000
    with pytest.raises(SystemExit) as info:
        main(["preview", "--compare", str(tmp_path / "missing.npz"), "--out", str(out)])
    assert info.value.code == 2 and "missing.npz" in capsys.readouterr().err
