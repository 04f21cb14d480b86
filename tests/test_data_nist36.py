"""Loader of the real NIST36 .mat files: orientation, labels, layout/onehot options, clear errors."""
import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad5.data import CLASSES, NUM_CLASSES, dataset_source, find_nist36_dir, load_dataset, one_hot, to_layout
from tinygrad5.data.classes import class_index
from tinygrad5.data.nist36 import load_nist36


def _upright_images(n: int) -> np.ndarray:
    """Asymmetric test images: a dark top bar, a dark left column that stops halfway, a unique dot per image."""
    img = np.ones((n, 32, 32), dtype=np.float64)
    img[:, 2, 4:28] = 0.0          # horizontal bar near the top
    img[:, 2:16, 4] = 0.0          # vertical bar on the left, upper half only
    for i in range(n):
        img[i, 20 + i % 10, 10 + i % 7] = -0.14   # ink overshoot below 0 as in the real files
    img[:, 31, 31] = 1.12          # paper overshoot above 1
    return img


def _write(folder, split: str, images: np.ndarray, labels: np.ndarray, **override) -> None:
    """Write a NIST36-style .mat: column-major rows (row.reshape(32, 32).T is upright), one-hot labels."""
    n = images.shape[0]
    rows = images.transpose(0, 2, 1).reshape(n, 1024)
    mat = {f"{split}_data": rows, f"{split}_labels": np.eye(NUM_CLASSES)[labels]}
    mat.update(override)
    scipy.io.savemat(str(folder / f"nist36_{split}.mat"), mat)


@pytest.fixture
def nist_dir(tmp_path):
    """A folder with small train/valid/test files; labels cycle through all 36 classes."""
    for split, n in (("train", 40), ("valid", 12), ("test", 7)):
        _write(tmp_path, split, _upright_images(n), np.arange(n) % NUM_CLASSES)
    return tmp_path


def test_classes_order():
    assert CLASSES == "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    assert class_index("A") == 0 and class_index("Z") == 25 and class_index("0") == 26 and class_index("9") == 35
    with pytest.raises(ValueError, match="not a NIST36 class"):
        class_index("?")


def test_upright_orientation_and_values(nist_dir):
    x, y = load_nist36(nist_dir, "train")
    assert x.shape == (40, 1024) and x.dtype == np.float32
    img = x.reshape(40, 32, 32)
    np.testing.assert_allclose(img, _upright_images(40), atol=1e-6)
    # The top bar is a row (not a column) and the left bar runs down the upper half.
    assert (img[:, 2, 4:28] == 0).all() and (img[:, 2:16, 4] == 0).all() and (img[:, 20:30, 4] == 1).all()
    assert x.min() == pytest.approx(-0.14) and x.max() == pytest.approx(1.12)


def test_labels_are_int64_indices(nist_dir):
    _, y = load_nist36(nist_dir, "valid")
    assert y.dtype == np.int64 and y.shape == (12,)
    np.testing.assert_array_equal(y, np.arange(12) % 36)


def test_nist_layout_and_onehot_return_raw_rows(nist_dir):
    raw = scipy.io.loadmat(str(nist_dir / "nist36_test.mat"))
    x, y = load_nist36(nist_dir, "test", layout="nist", onehot=True)
    np.testing.assert_allclose(x, raw["test_data"], atol=1e-6)
    np.testing.assert_array_equal(y, raw["test_labels"])
    assert y.shape == (7, 36) and y.dtype == np.float32
    xu, _ = load_nist36(nist_dir, "test")
    np.testing.assert_array_equal(to_layout(xu, "nist"), x)


def test_missing_file_names_expected_files(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_nist36(tmp_path, "train")
    msg = str(err.value)
    assert "nist36_train.mat" in msg and "nist36_valid.mat" in msg and "nist36_test.mat" in msg
    assert "data_dir" in msg and str(tmp_path) in msg


def test_bad_split_and_layout(nist_dir):
    with pytest.raises(ValueError, match="split"):
        load_nist36(nist_dir, "training")
    with pytest.raises(ValueError, match="layout"):
        load_nist36(nist_dir, "train", layout="transposed")


def test_wrong_keys_named(tmp_path):
    scipy.io.savemat(str(tmp_path / "nist36_train.mat"), {"data": np.zeros((2, 1024)), "labels": np.eye(36)[:2]})
    with pytest.raises(KeyError) as err:
        load_nist36(tmp_path, "train")
    msg = str(err.value)
    assert "nist36_train.mat" in msg and "train_data" in msg and "'data'" in msg and "'labels'" in msg


def test_wrong_shapes_named(tmp_path):
    _write(tmp_path, "train", _upright_images(3), np.arange(3), train_data=np.zeros((3, 784)))
    with pytest.raises(ValueError, match=r"nist36_train.mat.*\(N, 1024\).*\(3, 784\)"):
        load_nist36(tmp_path, "train")
    _write(tmp_path, "valid", _upright_images(3), np.arange(3), valid_labels=np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"valid_labels.*\(3, 36\).*\(3, 10\)"):
        load_nist36(tmp_path, "valid")


def test_labels_not_one_hot(tmp_path):
    labels = np.eye(36)[:3]
    labels[1, 5] = 1.0
    _write(tmp_path, "test", _upright_images(3), np.arange(3), test_labels=labels)
    with pytest.raises(ValueError, match="row 1 is not one-hot"):
        load_nist36(tmp_path, "test")


def test_find_dir_and_load_dataset_prefer_real_files(nist_dir, tmp_path_factory, monkeypatch):
    monkeypatch.delenv("TINYGRAD5_NIST36", raising=False)
    assert find_nist36_dir(nist_dir) == nist_dir
    assert find_nist36_dir(tmp_path_factory.mktemp("empty")) is None
    monkeypatch.setenv("TINYGRAD5_NIST36", str(nist_dir))
    assert find_nist36_dir() == nist_dir and "NIST36 files" in dataset_source()
    x, y = load_dataset("valid")
    assert x.shape == (12, 1024) and (y == np.arange(12) % 36).all()
    with pytest.raises(FileNotFoundError):   # an explicit folder without files is an error, not a fallback
        load_dataset("valid", data_dir=tmp_path_factory.mktemp("nothing"))


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.just(1024)),
                  elements=st.floats(-1, 2, width=32)))
def test_layout_is_a_transpose_involution(x):
    nist = to_layout(x, "nist")
    np.testing.assert_array_equal(nist.reshape(-1, 32, 32), x.reshape(-1, 32, 32).transpose(0, 2, 1))
    np.testing.assert_array_equal(to_layout(nist, "nist"), x)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 35), min_size=1, max_size=50))
def test_one_hot_roundtrip(labels):
    y = np.asarray(labels, dtype=np.int64)
    oh = one_hot(y)
    assert oh.shape == (len(labels), 36) and oh.sum() == len(labels)
    np.testing.assert_array_equal(oh.argmax(1), y)


def test_one_hot_rejects_bad_labels():
    with pytest.raises(ValueError, match="range"):
        one_hot(np.array([0, 36]))
    with pytest.raises(ValueError, match="integer"):
        one_hot(np.array([0.5]))


def test_load_dataset_warns_on_empty_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD5_NIST36", str(tmp_path))
    monkeypatch.setenv("TINYGRAD5_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("tinygrad5.data.synthetic.SPLIT_SIZES", {"train": 1, "valid": 1, "test": 1})
    with pytest.warns(UserWarning, match="generated data"):
        x, y = load_dataset("test")
    assert x.shape == (36, 1024) and sorted(y.tolist()) == list(range(36))
    assert "generated" in dataset_source()
