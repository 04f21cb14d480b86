"""tinygrad5.utils.data.EMNIST / MNIST: torchvision's constructor shape over files written here."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_data_emnist import SPLIT_CHARS, glyph_l, write_emnist_idx, write_idx
from tinygrad5 import Tensor
from tinygrad5.data import CLASSES, load_emnist, load_mnist
from tinygrad5.utils.data import EMNIST, MNIST, DataLoader, Dataset


@pytest.fixture
def root(tmp_path):
    """torchvision's layout: root/EMNIST/raw (uncompressed) and root/MNIST/raw (gzip'd)."""
    emnist, mnist = tmp_path / "EMNIST" / "raw", tmp_path / "MNIST" / "raw"
    emnist.mkdir(parents=True), mnist.mkdir(parents=True)
    n = len(SPLIT_CHARS["letters"]) - 1
    images = glyph_l(n)
    for i in range(n):
        images[i] = np.roll(images[i], i % 4, axis=0)          # distinct samples
    write_emnist_idx(emnist, "letters", "train", images, np.arange(1, n + 1), gz=False)
    write_emnist_idx(emnist, "letters", "test", images[:5], np.arange(1, 6), gz=False)
    write_idx(mnist / "train-images-idx3-ubyte", glyph_l(10), gz=True)
    write_idx(mnist / "train-labels-idx1-ubyte", np.arange(10)[::-1], gz=True)
    write_idx(mnist / "t10k-images-idx3-ubyte", glyph_l(3), gz=True)
    write_idx(mnist / "t10k-labels-idx1-ubyte", np.array([4, 5, 6]), gz=True)
    return tmp_path


def test_emnist_samples_match_the_loader(root):
    ds = EMNIST(root, split="letters", train=True)
    x, y = load_emnist(root, "letters", "train")
    assert isinstance(ds, Dataset) and len(ds) == 26 and ds.classes == list(CLASSES)
    img, target = ds[3]
    assert isinstance(img, Tensor) and img.shape == (1, 32, 32) and img.dtype == np.float32
    np.testing.assert_array_equal(img.numpy().reshape(-1), x[3])
    assert target == 3 and isinstance(target, int) and ds.classes[target] == "D"
    assert ds[-1][1] == 25 and ds.class_to_idx["Z"] == 25
    assert len(EMNIST(root, "letters", train=False)) == 5
    assert "Split: letters (Train)" in repr(ds) and "Number of datapoints: 26" in repr(ds)


def test_mnist_and_transforms(root):
    ds = MNIST(root, train=True, transform=lambda t: t * 2.0, target_transform=lambda c: CLASSES[c])
    x, y = load_mnist(root, "train")
    img, target = ds[0]
    np.testing.assert_allclose(img.numpy().reshape(-1), 2.0 * x[0])
    assert target == "9" and [MNIST(root, train=False)[i][1] for i in range(3)] == [30, 31, 32]


def test_dataloader_batches_gathered_or_per_sample(root):
    ds = EMNIST(root, "letters")
    batches = list(DataLoader(ds, batch_size=8))
    xb, yb = batches[0]
    assert xb.shape == (8, 1, 32, 32) and yb.dtype == np.int64 and yb.numpy().tolist() == list(range(8))
    assert [b[1].shape[0] for b in batches] == [8, 8, 8, 2]
    slow = EMNIST(root, "letters", transform=lambda t: t)       # transform: read sample by sample
    assert slow._gather(np.arange(3)) is None
    xs, ys = next(iter(DataLoader(slow, batch_size=8)))
    np.testing.assert_array_equal(xs.numpy(), xb.numpy())
    np.testing.assert_array_equal(ys.numpy(), yb.numpy())


def test_errors(root, tmp_path):
    with pytest.raises(ValueError, match=r"EMNIST\(download=True\): tinygrad5 does not download; .*emnist-dataset"):
        EMNIST(root, "letters", download=True)
    with pytest.raises(ValueError, match=r"MNIST\(download=True\): .*yann.lecun.com"):
        MNIST(root, download=True)
    with pytest.raises(FileNotFoundError, match="emnist-digits-train-images-idx3-ubyte.gz"):
        EMNIST(root, "digits")
    with pytest.raises(TypeError, match="transform must be callable or None, got int"):
        MNIST(root, transform=3)
    ds = MNIST(root, train=False)
    with pytest.raises(IndexError, match="MNIST index 3 is out of range for 3 samples"):
        ds[3]
    with pytest.raises(TypeError, match="MNIST indices must be integers, got str"):
        ds["0"]
