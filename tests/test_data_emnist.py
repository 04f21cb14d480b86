"""EMNIST / MNIST loaders: IDX (gzip'd and raw) and .mat files written here, in NIST36's conventions."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tinygrad5.data import CLASSES, DatasetFileError, carve_valid, load_emnist, load_mnist
from tinygrad5.data.emnist import SPLIT_CHARS, class_table, fit_to_nist, read_idx


def glyph_l(n: int) -> np.ndarray:
    """n upright 28x28 uint8 images (ink 255 on 0) of an 'L' inside rows 4..24, columns 9..19."""
    img = np.zeros((n, 28, 28), np.uint8)
    img[:, 4:24, 9:12] = 255      # the stem, on the left
    img[:, 21:24, 9:19] = 255     # the foot, at the bottom
    return img


def idx_bytes(arr: np.ndarray) -> bytes:
    """An unsigned-byte IDX file of `arr`."""
    header = (0x800 + arr.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool) -> Path:
    data = idx_bytes(arr)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_emnist_idx(folder: Path, split: str, subset: str, upright: np.ndarray, labels: np.ndarray,
                     gz: bool = True) -> None:
    """EMNIST's IDX layout: each image stored transposed."""
    write_idx(folder / f"emnist-{split}-{subset}-images-idx3-ubyte", upright.transpose(0, 2, 1), gz)
    write_idx(folder / f"emnist-{split}-{subset}-labels-idx1-ubyte", labels, gz)


def write_emnist_mat(path: Path, split: str, upright: np.ndarray, labels: np.ndarray) -> None:
    """EMNIST's .mat layout: dataset.{train,test}.{images (N, 784) row-major of the transpose, labels}, mapping."""
    chars = SPLIT_CHARS[split]
    if split == "letters":
        mapping = np.array([[i, ord(c), ord(c.lower())] for i, c in enumerate(chars) if i > 0])
    else:
        mapping = np.array([[i, ord(c)] for i, c in enumerate(chars)])
    rows = upright.transpose(0, 2, 1).reshape(len(upright), 784)
    part = {"images": rows, "labels": labels.reshape(-1, 1).astype(np.float64), "writers": np.zeros((len(rows), 1))}
    scipy.io.savemat(str(path), {"dataset": {"train": part, "test": part, "mapping": mapping}})


def labels_for(split: str) -> np.ndarray:
    """Every label of the split once (letters: 1..26)."""
    return np.arange(1 if split == "letters" else 0, len(SPLIT_CHARS[split]), dtype=np.uint8)


# ----------------------------------------------------------------------------- shapes, orientation, values

@pytest.mark.parametrize("gz", [True, False])
def test_idx_shapes_orientation_values(tmp_path, gz):
    write_emnist_idx(tmp_path, "digits", "train", glyph_l(10), np.arange(10), gz=gz)
    x, y = load_emnist(tmp_path, "digits")
    assert x.shape == (10, 1024) and x.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == list(range(26, 36))
    img = x[0].reshape(32, 32)
    # Upright 'L': the stem on the left from top to bottom, the foot along the bottom, paper top right.
    assert img[6:26, 10].max() < 0.1 and img[27, 10:19].max() < 0.1
    assert img[6, 20] > 0.99 and img[15, 20] > 0.99
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.min() < 0.01 and np.median(x) > 0.99  # white paper, dark ink


def test_resize_gives_nist_margin():
    """The character's longer side spans 32 - 2 * 3.5 = 25 px, centred; the shorter keeps the aspect."""
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 4:24, 9:19] = 255                      # a 20 x 10 block
    cell = fit_to_nist(img)[0].reshape(32, 32)
    ink_rows = (cell < 0.5).any(axis=1)
    ink_cols = (cell < 0.5).any(axis=0)
    assert np.flatnonzero(ink_rows)[[0, -1]].tolist() == [4, 27]     # 3.5 .. 28.5
    assert np.flatnonzero(ink_cols)[[0, -1]].tolist() == [10, 21]    # 16 -/+ 6.25
    assert cell[4:28, 11:21].max() < 1e-6 and cell[:3].min() == 1.0 and cell[29:].min() == 1.0
    np.testing.assert_allclose(cell[3, 12], 0.5, atol=1e-6)          # half a pixel of ink at the edge
    assert (cell < 0.5).sum() == 24 * 12
    # A blank image stays blank paper; a shape check names what it got.
    assert (fit_to_nist(np.zeros((2, 28, 28), np.uint8)) == 1.0).all()
    with pytest.raises(ValueError, match=r"\(N, H, W\) uint8 images, got shape \(28, 28\)"):
        fit_to_nist(np.zeros((28, 28), np.uint8))


def test_layout_and_onehot(tmp_path):
    write_emnist_idx(tmp_path, "digits", "test", glyph_l(3), np.array([0, 1, 2]))
    x, y = load_emnist(tmp_path, "digits", "test")
    xn, yn = load_emnist(tmp_path, "digits", "test", layout="nist", onehot=True)
    np.testing.assert_array_equal(xn.reshape(3, 32, 32), x.reshape(3, 32, 32).transpose(0, 2, 1))
    assert yn.shape == (3, 36) and yn.dtype == np.float32 and (yn.argmax(1) == y).all()


def test_mnist_not_transposed(tmp_path):
    img = glyph_l(4)
    write_idx(tmp_path / "train-images-idx3-ubyte", img, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([7, 0, 9, 3]), gz=False)
    x, y = load_mnist(tmp_path)
    assert y.tolist() == [CLASSES.index(c) for c in "7093"]
    cell = x[2].reshape(32, 32)
    assert cell[6:26, 10].max() < 0.1 and cell[27, 10:19].max() < 0.1 and cell[6, 20] > 0.99
    raw = tmp_path / "MNIST" / "raw"      # torchvision's folder, uncompressed
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte", img[:2], gz=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([1, 2]), gz=False)
    np.testing.assert_array_equal(load_mnist(tmp_path, "test")[0], x[:2])


# ----------------------------------------------------------------------------- label mapping of each split

@pytest.mark.parametrize("split", ["balanced", "bymerge", "byclass", "letters", "digits", "mnist"])
def test_label_mapping_each_split(tmp_path, split):
    labels = labels_for(split)
    write_emnist_idx(tmp_path, split, "train", glyph_l(len(labels)), labels)
    _, y = load_emnist(tmp_path, split)
    chars = SPLIT_CHARS[split]
    upper = [i for i in labels if not chars[i].islower()]
    assert "".join(CLASSES[i] for i in y) == "".join(chars[i] for i in upper)
    _, ym = load_emnist(tmp_path, split, case="merge")
    assert "".join(CLASSES[i] for i in ym) == "".join(chars[i] for i in labels).upper()


def test_split_tables_as_published():
    assert "".join(CLASSES[i] for i in class_table(SPLIT_CHARS["balanced"])[:36]) == "0123456789" + CLASSES[:26]
    assert SPLIT_CHARS["balanced"][36:] == "abdefghnqrt" and len(SPLIT_CHARS["byclass"]) == 62
    t = class_table(SPLIT_CHARS["byclass"], case="merge")
    assert t[36] == CLASSES.index("A") and t[61] == CLASSES.index("Z")
    assert (class_table(SPLIT_CHARS["byclass"])[36:] == -1).all()
    assert class_table(SPLIT_CHARS["letters"])[0] == -2 and class_table(SPLIT_CHARS["letters"])[26] == 25
    with pytest.raises(ValueError, match="case must be 'drop' or 'merge', got 'upper'"):
        class_table("ab", "upper")


@pytest.mark.parametrize("split", ["balanced", "letters", "byclass"])
def test_mat_matches_idx(tmp_path, split):
    labels = labels_for(split)
    rng = np.random.default_rng(1)
    images = glyph_l(len(labels))
    images[:, 0, :] = rng.integers(0, 255, (len(labels), 28))        # make each image distinct
    idx_dir, mat_dir = tmp_path / "idx", tmp_path / "matlab"
    idx_dir.mkdir(), mat_dir.mkdir()
    write_emnist_idx(idx_dir, split, "train", images, labels)
    write_emnist_mat(mat_dir / f"emnist-{split}.mat", split, images, labels)
    x1, y1 = load_emnist(idx_dir, split, case="merge")
    x2, y2 = load_emnist(tmp_path, split, case="merge")                  # found in matlab/
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_mapping_txt_is_used(tmp_path):
    """With emnist-{split}-mapping.txt beside the IDX files, its characters decide the classes."""
    write_emnist_idx(tmp_path, "digits", "train", glyph_l(2), np.array([0, 1]))
    (tmp_path / "emnist-digits-mapping.txt").write_text("0 65\n1 98\n")   # 'A' and 'b'
    _, y = load_emnist(tmp_path, "digits")
    assert y.tolist() == [0]
    (tmp_path / "emnist-digits-mapping.txt").write_text("0 sixty-five\n")
    with pytest.raises(DatasetFileError, match=r"emnist-digits-mapping.txt, line 1"):
        load_emnist(tmp_path, "digits")


def test_carve_valid_fixed_and_disjoint():
    x = np.arange(100, dtype=np.float32)[:, None]
    y = np.arange(100)
    (xt, yt), (xv, yv) = carve_valid(x, y, 20, seed=0)
    assert len(yv) == 20 and len(yt) == 80 and not set(yt) & set(yv)
    assert (np.diff(yt) > 0).all() and (xv[:, 0] == yv).all()
    assert carve_valid(x, y, 20, seed=0)[1][1].tolist() == yv.tolist()
    assert carve_valid(x, y, 20, seed=1)[1][1].tolist() != yv.tolist()
    with pytest.raises(ValueError, match=r"n_valid must lie in \[1, 99\] for 100 samples, got 100"):
        carve_valid(x, y, 100)


# ----------------------------------------------------------------------------- errors

def test_bad_magic(tmp_path):
    write_emnist_idx(tmp_path, "digits", "train", glyph_l(2), np.array([0, 1]))
    bad = tmp_path / "emnist-digits-train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 1), np.uint8))))   # an idx2 file
    with pytest.raises(DatasetFileError, match=r"labels-idx1-ubyte.gz: bad IDX magic number 0x00000802; "
                                               r"labels \(idx1\) of unsigned bytes start with 0x00000801"):
        load_emnist(tmp_path, "digits")


def test_wrong_counts_and_dims(tmp_path):
    write_emnist_idx(tmp_path, "digits", "train", glyph_l(3), np.array([0, 1]))
    with pytest.raises(DatasetFileError, match=r"labels-idx1-ubyte.gz holds 2 labels but .*images-idx3-ubyte.gz "
                                               r"holds 3 images"):
        load_emnist(tmp_path, "digits")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 32, 32), np.uint8), gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1]), gz=False)
    with pytest.raises(DatasetFileError, match=r"train-images-idx3-ubyte: images are 32x32, expected 28x28"):
        load_mnist(tmp_path)


def test_label_out_of_range(tmp_path):
    write_emnist_idx(tmp_path, "letters", "train", glyph_l(2), np.array([3, 0]))
    with pytest.raises(DatasetFileError, match=r"label 0 \(sample 1\) is not a class of the 'letters' split"):
        load_emnist(tmp_path, "letters")
    write_emnist_idx(tmp_path, "digits", "train", glyph_l(2), np.array([3, 10]))
    with pytest.raises(DatasetFileError, match=r"label 10 \(sample 1\) is not a class of the 'digits' split"):
        load_emnist(tmp_path, "digits")


@pytest.mark.parametrize("gz", [True, False])
def test_truncated(tmp_path, gz):
    data = idx_bytes(glyph_l(3))
    path = tmp_path / "img"
    if gz:
        path.write_bytes(gzip.compress(data)[:-30])       # a cut gzip stream
        with pytest.raises(DatasetFileError, match=r"img: broken or truncated gzip data"):
            read_idx(path, 3)
    else:
        path.write_bytes(data[:-100])
        with pytest.raises(DatasetFileError, match=r"img: truncated: header says 3 x 28 x 28 = 2352 bytes of data, "
                                                   r"the file holds 2252"):
            read_idx(path, 3)
    path.write_bytes(data + b"\0")
    with pytest.raises(DatasetFileError, match="longer than its header says"):
        read_idx(path, 3)
    path.write_bytes(data[:9])
    with pytest.raises(DatasetFileError, match="9 bytes is too short for an IDX header with 3 dimension"):
        read_idx(path, 3)


def test_missing_files_name_them_and_the_source(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_emnist(tmp_path, "balanced", "test")
    msg = str(err.value)
    for part in ("emnist-balanced-test-images-idx3-ubyte.gz", "emnist-balanced-test-labels-idx1-ubyte.gz",
                 "emnist-balanced.mat", str(tmp_path), "https://www.nist.gov/itl/products-and-services/emnist-dataset",
                 "gzip.zip", "matlab.zip", "Nothing is downloaded"):
        assert part in msg, part
    write_idx(tmp_path / "emnist-balanced-test-images-idx3-ubyte", glyph_l(1), gz=False)
    with pytest.raises(FileNotFoundError, match="found only emnist-balanced-test-images-idx3-ubyte"):
        load_emnist(tmp_path, "balanced", "test")
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz .*"
                                                r"http://yann.lecun.com/exdb/mnist/"):
        load_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="data folder .*nowhere does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(TypeError, match="data_dir must be the path of a folder holding the files, got None"):
        load_emnist(None)


def test_bad_arguments_and_mat(tmp_path):
    with pytest.raises(ValueError, match="split must be one of .*'balanced'.*got 'bybalance'"):
        load_emnist(tmp_path, "bybalance")
    with pytest.raises(ValueError, match=r"subset must be one of \('train', 'test'\), got 'valid'"):
        load_mnist(tmp_path, "valid")
    with pytest.raises(ValueError, match="layout must be 'upright' or 'nist'"):
        load_emnist(tmp_path, layout="columns")
    (tmp_path / "emnist-digits.mat").write_bytes(b"MATLAB junk")
    with pytest.raises(DatasetFileError, match=r"emnist-digits.mat: not readable as a MATLAB .mat file"):
        load_emnist(tmp_path, "digits")
    scipy.io.savemat(str(tmp_path / "emnist-digits.mat"), {"images": np.zeros((2, 784))})
    with pytest.raises(DatasetFileError,
                       match=r"emnist-digits.mat: expected EMNIST's layout, .*found keys \['images'\]"):
        load_emnist(tmp_path, "digits")


# ----------------------------------------------------------------------------- the examples' --data flags

def _examples():
    import sys
    root = Path(__file__).resolve().parents[1] / "examples"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import common
    return common


def balanced_folder(folder: Path, per_class: int = 2) -> Path:
    """EMNIST balanced train (47 classes x per_class) and test (47) files, each glyph shifted by its index."""
    chars = SPLIT_CHARS["balanced"]
    folder.mkdir(parents=True, exist_ok=True)
    for subset, k in (("train", per_class), ("test", 1)):
        labels = np.tile(np.arange(len(chars)), k).astype(np.uint8)
        images = glyph_l(len(labels))
        for i in range(len(labels)):
            images[i] = np.roll(images[i], i % 5, axis=1)
        write_emnist_idx(folder, "balanced", subset, images, labels)
    return folder


def test_examples_load_emnist_and_mnist_splits(tmp_path):
    common = _examples()
    balanced_folder(tmp_path, per_class=2)                      # 94 train, 47 test; 36 + 36 upper-case kept
    args = common.parse_args("t", "test", 1, 8, 0.1, argv=["--data", "emnist", "--data-dir", str(tmp_path),
                                                           "--out", str(tmp_path / "out")])
    assert args.emnist_split == "balanced"
    splits = common.load_splits(args)
    assert [len(splits[s][1]) for s in ("train", "valid", "test")] == [60, 12, 36]
    assert set(splits["train"][1]) | set(splits["valid"][1]) == set(range(36))
    again = common.load_splits(args)
    np.testing.assert_array_equal(again["valid"][0], splits["valid"][0])   # a fixed carve
    write_idx(tmp_path / "train-images-idx3-ubyte", glyph_l(12), gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(12) % 10, gz=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", glyph_l(5), gz=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(5), gz=True)
    args = common.parse_args("t", "test", 1, 8, 0.1, argv=["--data", "mnist", "--data-dir", str(tmp_path),
                                                           "--out", str(tmp_path / "out")])
    splits = common.load_splits(args)
    assert [len(splits[s][1]) for s in ("train", "valid", "test")] == [10, 2, 5]
    assert splits["test"][1].tolist() == list(range(26, 31))


def test_examples_data_errors_exit_cleanly(tmp_path, capsys):
    common = _examples()
    with pytest.raises(SystemExit) as exc:
        common.parse_args("t", "test", 1, 8, 0.1, argv=["--data", "mnist", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "--data mnist needs --data-dir DIR" in capsys.readouterr().err
    args = common.parse_args("t", "test", 1, 8, 0.1, argv=["--data", "emnist", "--emnist-split", "letters",
                                                           "--data-dir", str(tmp_path), "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        common.load_splits(args)
    assert "emnist-letters-train-images-idx3-ubyte.gz" in str(exc.value.code)
    assert "https://www.nist.gov/itl/products-and-services/emnist-dataset" in str(exc.value.code)


def test_mlp_example_runs_on_emnist(tmp_path, capsys):
    _examples()
    import mlp_nist36
    balanced_folder(tmp_path / "emnist", per_class=2)
    mlp_nist36.main(["--data", "emnist", "--data-dir", str(tmp_path / "emnist"), "--quick", "--no-progress",
                     "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert "data: emnist, train 60 / valid 12 / test 36 images" in out
    assert "mlp: epochs=2 " in out and (tmp_path / "run" / "model.npz").is_file()
