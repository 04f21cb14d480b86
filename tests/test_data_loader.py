"""DataLoader: each epoch a random partition, aligned rows, reproducible seeding, clear errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad5 as tg
from tinygrad5.data.loader import DataLoader


def ids_of(loader):
    return [b[0] for b in loader]


@given(st.integers(1, 40), st.integers(1, 12), st.booleans(), st.booleans())
def test_epoch_is_a_partition_with_aligned_rows(n, bs, drop_last, shuffle):
    x = np.arange(n, dtype=np.int64)
    y = np.stack([x * 10, -x], 1).astype(np.float32)
    loader = DataLoader(x, y, batch_size=bs, drop_last=drop_last, shuffle=shuffle, seed=0, as_tensor=False)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop_last else -(-n // bs))
    seen = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0, np.int64)
    assert len(seen) == len(set(seen.tolist()))  # no sample twice
    assert len(seen) == (n - n % bs if drop_last else n)
    tail = [n % bs] if n % bs and not drop_last else []
    assert [len(b[0]) for b in batches] == [bs] * (n // bs) + tail
    for bx, by in batches:
        np.testing.assert_array_equal(by[:, 0], bx * 10)
        np.testing.assert_array_equal(by[:, 1], -bx)
    if not shuffle:
        np.testing.assert_array_equal(seen, x[:len(seen)])


def test_fresh_order_each_epoch():
    loader = DataLoader(np.arange(100), batch_size=10, seed=3, as_tensor=False)
    first, second = [np.concatenate([b[0] for b in loader]) for _ in range(2)]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))


def test_global_generator_drives_unseeded_loader():
    x = np.arange(30)
    tg.manual_seed(5)
    a = [b[0].data.copy() for b in DataLoader(x, batch_size=7)]
    tg.manual_seed(5)
    b = [b[0].data.copy() for b in DataLoader(x, batch_size=7)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_own_seed_ignores_global_generator():
    x = np.arange(30)
    tg.manual_seed(1)
    a = np.concatenate(ids_of(DataLoader(x, batch_size=7, seed=9, as_tensor=False)))
    tg.manual_seed(2)
    b = np.concatenate(ids_of(DataLoader(x, batch_size=7, seed=9, as_tensor=False)))
    np.testing.assert_array_equal(a, b)


def test_order_is_fixed_at_iter_time():
    x = np.arange(20)
    loader = DataLoader(x, batch_size=4)
    tg.manual_seed(0)
    it = iter(loader)
    tg.manual_seed(99)  # drawing later must not matter: the permutation was taken by iter()
    got = np.concatenate([b[0].data for b in it])
    tg.manual_seed(0)
    np.testing.assert_array_equal(got, np.concatenate([b[0].data for b in loader]))


def test_yields_tensors_or_arrays_and_keeps_dtypes():
    x, y = np.ones((6, 2), np.float32), np.arange(6)
    bx, by = next(iter(DataLoader(x, y, batch_size=4)))
    assert isinstance(bx, tg.Tensor) and bx.dtype == np.float32 and by.dtype == np.int64 and not bx.requires_grad
    ax, ay = next(iter(DataLoader(x, y, batch_size=4, as_tensor=False)))
    assert isinstance(ax, np.ndarray) and ax.shape == (4, 2) and ay.dtype == y.dtype
    tx, = next(iter(DataLoader(tg.Tensor(x), batch_size=6)))  # Tensors are accepted as sources
    assert tx.shape == (6, 2)


def test_errors_name_lengths_and_arguments():
    with pytest.raises(ValueError, match=r"equal lengths, got lengths \[5, 4\]"):
        DataLoader(np.zeros(5), np.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(np.zeros(5), batch_size=0)
    with pytest.raises(ValueError, match="array 0 is 0-d"):
        DataLoader(np.float32(3), batch_size=1)
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader(batch_size=1)


@pytest.mark.parametrize("bad, error, shown", [
    (None, TypeError, "None of type NoneType"), (True, TypeError, "True of type bool"),
    ("32", TypeError, "'32' of type str"), ([4], TypeError, r"\[4\] of type list"),
    (float("nan"), ValueError, "nan"), (float("inf"), ValueError, "inf"), (1.5, ValueError, "1.5"),
    (0, ValueError, "0"), (-3, ValueError, "-3"), (np.float32(2.5), ValueError, r"(np\.float32\()?2\.5"),
])
def test_bad_batch_size_is_named(bad, error, shown):
    with pytest.raises(error, match=f"batch_size must be a positive int, got {shown}"):
        DataLoader(np.zeros(5), batch_size=bad)


def test_integral_batch_sizes_of_any_numeric_type():
    for good in (2, np.int64(2), np.uint8(2), 2.0):
        loader = DataLoader(np.arange(5), batch_size=good, as_tensor=False, shuffle=False)
        assert loader.batch_size == 2 and type(loader.batch_size) is int and len(loader) == 3
