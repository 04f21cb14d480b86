"""tinygrad5.utils.data: samplers, torch's collate rules, DataLoader semantics, datasets, random_split,
and the same results as torch.utils.data where torch is installed."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                                  Sampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset,
                                  WeightedRandomSampler, default_collate, default_convert, random_split)

Point = namedtuple("Point", "x label")


def _xy(n=10):
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n, dtype=np.int64) * 10


class Squares(Dataset):
    """A map-style dataset of dict samples (no batch gather: read one by one)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": np.full(2, i, np.float32), "y": i * i, "w": float(i) / 2}


class Stream(IterableDataset):
    def __init__(self, n, sized=True):
        self.n, self.sized = n, sized

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.sized:
            raise TypeError("no len")
        return self.n


def _values(batch):
    """Nested batch -> nested plain Python/numpy values, for comparing with torch's."""
    if hasattr(batch, "detach"):
        return batch.detach().numpy()
    if isinstance(batch, tg.Tensor):
        return batch.data
    if isinstance(batch, dict):
        return {k: _values(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_values(v) for v in batch)
    return batch


def _assert_same(ours, ref):
    assert type(ours) is type(ref) or (isinstance(ours, np.ndarray) and isinstance(ref, np.ndarray)), \
        (type(ours), type(ref))
    if isinstance(ref, np.ndarray):
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
    elif isinstance(ref, dict):
        assert list(ours) == list(ref)
        for k in ref:
            _assert_same(ours[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _assert_same(a, b)
    else:
        assert ours == ref


# ---- samplers --------------------------------------------------------------------------------------
def test_sequential_random_subset_and_batch_samplers():
    data = list(range(7))
    assert list(SequentialSampler(data)) == list(range(7)) and len(SequentialSampler(data)) == 7
    tg.manual_seed(3)
    perm = list(RandomSampler(data))
    assert sorted(perm) == data and all(isinstance(i, int) for i in perm)
    tg.manual_seed(3)
    assert list(RandomSampler(data)) == perm  # the global generator repeats after manual_seed
    drawn = list(RandomSampler(data, replacement=True, num_samples=50, generator=np.random.default_rng(0)))
    assert len(drawn) == 50 and set(drawn) <= set(data) and len(set(drawn)) < 50
    longer = list(RandomSampler(data, num_samples=10, generator=0))  # more than n: whole permutations
    assert len(longer) == 10 and sorted(longer[:7]) == data
    sub = list(SubsetRandomSampler([5, 1, 3], generator=1))
    assert sorted(sub) == [1, 3, 5]
    assert list(BatchSampler(SequentialSampler(data), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(data, 3, False)) == 3 and len(BatchSampler(data, 3, True)) == 2
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], num_samples=40, generator=2))
    assert set(w) == {1, 3} and w.count(3) > w.count(1)


def test_sampler_errors_are_clear():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, "yes")
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="generator must be None, an int seed, a numpy Generator"):
        RandomSampler(range(3), generator="seed")
    with pytest.raises(TypeError, match="RandomSampler needs a dataset with __len__, got a Stream"):
        list(RandomSampler(Stream(3, sized=False)))
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement from 2 non-zero weights"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)


def test_a_sampler_subclass_that_overrides_iter_is_iterated():
    class Reversed(SequentialSampler):
        def __iter__(self):
            return iter(range(len(self) - 1, -1, -1))

    x, y = _xy(5)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, sampler=Reversed(x))
    assert [b[1].data.tolist() for b in loader] == [[40, 30], [20, 10], [0]]

    class Evens(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    loader = DataLoader(TensorDataset(x, y), batch_size=2, sampler=Evens(5))
    assert [b[1].data.tolist() for b in loader] == [[0, 20], [40]] and len(loader) == 2


# ---- collate ---------------------------------------------------------------------------------------
def test_default_collate_rules():
    out = default_collate([1, 2, 3])
    assert isinstance(out, tg.Tensor) and out.dtype == np.int64 and out.data.tolist() == [1, 2, 3]
    assert default_collate([0.5, 1.5]).dtype == np.float64  # torch: Python floats become float64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float32(1), np.float32(2)]).dtype == np.float32
    t = default_collate([tg.Tensor(np.ones((2, 3), np.float32)), tg.Tensor(np.zeros((2, 3), np.float32))])
    assert t.shape == (2, 2, 3) and t.dtype == np.float32 and t.data[0].sum() == 6
    a = default_collate([np.arange(3, dtype=np.int32)] * 4)
    assert a.shape == (4, 3) and a.dtype == np.int32
    pair = default_collate([(np.zeros(2), 1), (np.ones(2), 2)])
    assert isinstance(pair, list) and pair[0].shape == (2, 2) and pair[1].data.tolist() == [1, 2]
    d = default_collate([{"a": 1.0, "b": [1, 2]}, {"a": 2.0, "b": [3, 4]}])
    assert d["a"].data.tolist() == [1.0, 2.0] and [v.data.tolist() for v in d["b"]] == [[1, 3], [2, 4]]
    p = default_collate([Point(np.zeros(2), 1), Point(np.ones(2), 0)])
    assert isinstance(p, Point) and p.label.data.tolist() == [1, 0]
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_default_collate_errors_name_the_problem():
    with pytest.raises(RuntimeError, match=r"equal size, but got \[2\] at entry 0 and \[3\] at entry 1"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match=r"equal size, got sizes \[2, 1\]"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found an array of dtype object"):
        default_collate([np.array([None]), np.array([None])])
    with pytest.raises(KeyError, match="sample 1 has no key 'b'"):
        default_collate([{"a": 1, "b": 2}, {"a": 1}])
    with pytest.raises(ValueError, match="empty batch"):
        default_collate([])


COLLATE_CASES = {
    "ints": [1, 2, 3],
    "floats": [0.25, 1.5],
    "bools": [True, False, True],
    "numpy_scalars": [np.int32(4), np.int32(5)],
    "arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 3), np.float32)],
    "tuples": [(np.zeros(2, np.float32), 3, 0.5), (np.ones(2, np.float32), 4, 1.5)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"img": np.zeros((2, 2)), "label": 1, "name": "a"}, {"img": np.ones((2, 2)), "label": 0, "name": "b"}],
    "nested": [{"pair": (1, {"z": np.float64(2)})}, {"pair": (3, {"z": np.float64(4)})}],
    "strings": ["cat", "dog"],
}


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(case):
    torch = pytest.importorskip("torch")
    batch = COLLATE_CASES[case]
    _assert_same(_values(default_collate(batch)), _values(torch.utils.data.default_collate(batch)))


def test_default_collate_of_tensors_matches_torch_and_keeps_the_graph():
    torch = pytest.importorskip("torch")
    xs = [np.random.default_rng(i).normal(size=(3,)).astype(np.float32) for i in range(4)]
    _assert_same(_values(default_collate([tg.Tensor(x) for x in xs])),
                 _values(torch.utils.data.default_collate([torch.from_numpy(x) for x in xs])))
    w = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    stacked = default_collate([w * 2, w * 3])
    stacked.sum().backward()
    np.testing.assert_allclose(w.grad.data, [5, 5, 5])


def test_default_convert():
    out = default_convert((np.zeros(2), 1, {"a": np.float32(3)}, "s"))
    assert isinstance(out, list) and isinstance(out[0], tg.Tensor) and out[1] == 1 and out[3] == "s"
    assert isinstance(out[2]["a"], tg.Tensor) and out[2]["a"].dtype == np.float32


# ---- DataLoader ------------------------------------------------------------------------------------
def test_tensor_dataset_loader_defaults_len_and_attributes():
    x, y = _xy(10)
    ds = TensorDataset(tg.Tensor(x), y)
    loader = DataLoader(ds, batch_size=4)
    assert loader.dataset is ds and loader.batch_size == 4 and len(loader) == 3 and not loader.drop_last
    batches = list(loader)
    assert [b[1].data.tolist() for b in batches] == [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]  # no shuffle
    assert all(isinstance(b, list) and b[0].dtype == np.float32 and b[1].dtype == np.int64 for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in batches]), x)
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [len(b[0]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds)) == 10 and list(DataLoader(ds))[3][1].shape == (1,)  # batch_size=1 by default
    assert len(DataLoader(ds, batch_size=5)) == 2 and len(DataLoader(ds, batch_size=11, drop_last=True)) == 0
    assert len(ds) == 10 and ds[2][1].data == 20


def test_tensor_dataset_batches_are_gathered_whole(monkeypatch):
    # the default collate on a TensorDataset (or a Subset of one) never reads a single sample
    x, y = _xy(10)
    ds = TensorDataset(x, y)
    per_sample = DataLoader(ds, batch_size=3, collate_fn=lambda samples: default_collate(samples))
    expected = [[b.data.copy() for b in batch] for batch in per_sample]

    def refuse(self, i):
        raise AssertionError("per-sample read")

    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)
    got = [[b.data for b in batch] for batch in DataLoader(ds, batch_size=3)]
    for e, g in zip(expected, got, strict=True):
        for a, b in zip(e, g):
            np.testing.assert_array_equal(a, b)
    sub = Subset(ds, [9, 2, 4])
    assert [b[1].data.tolist() for b in DataLoader(sub, batch_size=2)] == [[90, 20], [40]]
    assert DataLoader(x, batch_size=4).__iter__().__next__().shape == (4, 3)  # an array is a dataset too


def test_shuffle_repeats_with_seeds_and_differs_between_epochs():
    x, y = _xy(50)
    ds = TensorDataset(x, y)

    def order(loader):
        return np.concatenate([b[1].data for b in loader]) // 10

    tg.manual_seed(0)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    first, second = order(loader), order(loader)
    assert sorted(first.tolist()) == list(range(50)) and not np.array_equal(first, second)
    tg.manual_seed(0)
    np.testing.assert_array_equal(order(DataLoader(ds, batch_size=8, shuffle=True)), first)
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(7))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(order(a), order(b))
    # iter() alone fixes the epoch's order, as the array loader's does
    tg.manual_seed(1)
    it = iter(DataLoader(ds, batch_size=50, shuffle=True))
    tg.manual_seed(2)
    late = next(it)[1].data
    tg.manual_seed(1)
    np.testing.assert_array_equal(late, next(iter(DataLoader(ds, batch_size=50, shuffle=True)))[1].data)


def test_map_style_dataset_matches_torch_loader():
    torch = pytest.importorskip("torch")
    ds = Squares(7)
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None),
               dict(batch_size=2, sampler=[6, 0, 3, 3, 1]), dict(batch_sampler=[[1, 2], [6], [0, 5, 4]])):
        ours, ref = DataLoader(ds, **kw), torch.utils.data.DataLoader(ds, **kw)
        assert len(ours) == len(ref), kw
        for a, b in zip(ours, ref, strict=True):
            _assert_same(_values(a), _values(b))


def test_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.data.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert [b.data.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler"):
        DataLoader(Stream(3), sampler=[0, 1])
    with pytest.raises(TypeError, match="IterableDataset without __len__"):
        len(DataLoader(Stream(3, sized=False), batch_size=2))


def test_workers_are_accepted_and_run_in_process():
    x, y = _xy(9)
    seen = []
    loader = DataLoader(TensorDataset(x, y), batch_size=4, num_workers=2, pin_memory=True, worker_init_fn=seen.append,
                        persistent_workers=True, prefetch_factor=2)
    for _ in range(2):
        assert [b[1].data.tolist() for b in loader] == [[0, 10, 20, 30], [40, 50, 60, 70], [80]]
    assert seen == [0]  # persistent workers start once
    assert loader.num_workers == 2


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=2, batch_sampler=[[0]]), "batch_sampler option is mutually exclusive with batch_size"),
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(num_workers=-1), "num_workers option should be a non-negative int, got -1"),
    (dict(batch_size=0), "batch_size should be a positive int or None, got int 0"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
])
def test_loader_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(TensorDataset(*_xy(4)), **kwargs)


def test_loader_errors_for_array_style_calls_and_bad_datasets():
    x, y = _xy(4)
    with pytest.raises(ValueError, match=r"tinygrad5.data.DataLoader\(x, y, batch_size=...\) takes arrays"):
        DataLoader(x, y)  # the array loader's call: y lands in batch_size
    with pytest.raises(TypeError, match="needs a dataset with __getitem__ and __len__"):
        DataLoader(42)
    with pytest.raises(ValueError, match=r"Size mismatch between tensors.*\(4, 3\), \(3,\)"):
        TensorDataset(x, y[:3])
    with pytest.raises(ValueError, match="TensorDataset needs at least one tensor"):
        TensorDataset()


# ---- datasets and random_split ---------------------------------------------------------------------
def test_subset_and_concat_dataset():
    a, b = TensorDataset(*_xy(3)), Squares(4)
    cat = ConcatDataset([a, b])
    assert len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert cat[2][1].data == 20 and cat[3]["y"] == 0 and cat[-1]["y"] == 9
    assert (a + b)[4]["y"] == 1
    with pytest.raises(IndexError, match="index 7 is out of range for a ConcatDataset of length 7"):
        cat[7]
    with pytest.raises(ValueError, match="should not exceed dataset length 7"):
        cat[-8]
    with pytest.raises(TypeError, match="does not support IterableDataset"):
        ConcatDataset([a, Stream(2)])
    with pytest.raises(ValueError, match="should not be an empty iterable"):
        ConcatDataset([])
    sub = Subset(b, [3, 1])
    assert len(sub) == 2 and sub[0]["y"] == 9
    assert [d["y"].data.tolist() for d in DataLoader(sub, batch_size=2)] == [[9, 1]]


@pytest.mark.parametrize("n,lengths,sizes", [(10, [7, 3], [7, 3]), (10, [0.5, 0.3, 0.2], [5, 3, 2]),
                                             (11, [0.34, 0.33, 0.33], [4, 4, 3]), (5, [1.0], [5])])
def test_random_split_sizes_disjoint_and_repeatable(n, lengths, sizes):
    ds = Squares(n)
    parts = random_split(ds, lengths, generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == sizes
    flat = [i for p in parts for i in p.indices]
    assert sorted(flat) == list(range(n))  # disjoint and covering
    again = random_split(ds, lengths, generator=np.random.default_rng(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    assert [p.indices for p in random_split(ds, lengths, generator=5)] == \
        [p.indices for p in random_split(ds, lengths, generator=5)]
    tg.manual_seed(4)
    first = [p.indices for p in random_split(ds, lengths)]
    tg.manual_seed(4)
    assert [p.indices for p in random_split(ds, lengths)] == first


def test_random_split_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for n, lengths in [(11, [0.34, 0.33, 0.33]), (7, [0.5, 0.5]), (100, [0.7, 0.1, 0.2]), (9, [4, 5])]:
        ref = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
        assert [len(p) for p in random_split(range(n), lengths, generator=0)] == [len(p) for p in ref]


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"sum of input lengths 9 \(\[4, 5\]\) does not equal the length of the "
                                         r"input dataset \(10\)"):
        random_split(Squares(10), [4, 5])
    with pytest.raises(ValueError, match="fraction at index 0 is -0.5, not between 0 and 1"):
        random_split(Squares(10), [-0.5, 1.5])
    with pytest.warns(UserWarning, match="split at index 2 is 0"):
        random_split(Squares(3), [0.5, 0.5, 0.0])


def test_reachable_from_the_package_like_torch_utils_data():
    assert tg.utils.data.DataLoader is DataLoader and tg.utils.data.TensorDataset is TensorDataset
