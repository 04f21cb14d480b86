"""Checkpoints: bit-exact round trips, atomic writes, and clear errors for bad files and mismatches."""
import os
import zipfile

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5 import nn, optim
from tinygrad5.serialization import INDEX_KEY, CheckpointError, load, save


def same_bits(a, b):
    assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_tree_equal(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, (np.ndarray, np.generic)):
        same_bits(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_tree_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_tree_equal(u, v)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_nested_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    odd = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-310, np.float32(1) / 3], np.float32)
    obj = {
        "model": {"fc1.weight": rng.normal(size=(3, 4)).astype(np.float32), "fc1.bias": odd},
        "f64": rng.normal(size=(2, 2, 2)), "ints": np.arange(-5, 5, dtype=np.int64).reshape(2, 5),
        "u8": np.arange(7, dtype=np.uint8), "mask": np.array([True, False]), "empty": np.zeros((0, 3)),
        "view": rng.normal(size=(4, 6))[:, ::2].T,  # non-contiguous
        "epoch": 3, "big": 2 ** 70, "lr": 0.1 + 0.2, "nan": float("nan"), "ok": True, "none": None,
        "meta": {"classes": "ABCÉ/漢", "sizes": [1, 2.5, -3], "betas": (0.9, 0.999), "empty": {}},
        "np_scalar": np.float32(1.25), "np_int": np.int16(-3),
        7: "int key", "a/b": {"c": np.ones(1)}, "a": {"b/c": np.zeros(1)},  # names that join alike
    }
    path = tmp_path / "ckpt.npz"
    save(obj, path)
    assert_tree_equal(obj, load(path))


def test_model_and_optimizer_checkpoint_resumes_exactly(tmp_path):
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    opt = optim.Adam(net.parameters(), lr=0.01)
    x, y = tg.randn(6, 4), np.array([0, 1, 2, 0, 1, 2])
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    save({"model": net.state_dict(), "optim": opt.state_dict(), "epoch": 3, "meta": {"classes": "ABC"}},
         tmp_path / "c.npz")
    ck = load(str(tmp_path / "c.npz"))
    assert ck["epoch"] == 3 and ck["meta"] == {"classes": "ABC"}
    twin = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    twin.load_state_dict(ck["model"])
    twin_opt = optim.Adam(twin.parameters(), lr=0.5)
    twin_opt.load_state_dict(ck["optim"])
    assert twin_opt.param_groups[0]["lr"] == 0.01 and twin_opt.param_groups[0]["betas"] == (0.9, 0.999)
    for o, m in ((opt, net), (twin_opt, twin)):
        o.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()
    for a, b in zip(net.parameters(), twin.parameters()):
        same_bits(a.data, b.data)


def test_write_is_atomic_when_the_writer_fails(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"w": np.arange(3.0)}, path)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")  # a partial write, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.arange(100.0)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    monkeypatch.undo()
    np.testing.assert_array_equal(load(path)["w"], np.arange(3.0))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*nope.npz"):
        load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="folder .*no_such_dir.* does not exist"):
        save({"a": 1}, tmp_path / "no_such_dir" / "x.npz")


@pytest.mark.parametrize("cut", [0, 10, 0.5, -30])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "t.npz"
    save({"w": np.random.default_rng(0).normal(size=(50, 50))}, path)
    data = path.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(data) + cut)
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match="t.npz"):
        load(path)


def test_corrupted_bytes_in_an_array(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": np.zeros((100, 100))}, path)
    data = bytearray(path.read_bytes())
    data[5000:5008] = b"\xff" * 8  # inside w's payload: the zip CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"c.npz: array 'w' is corrupt"):
        load(path)


def test_files_of_another_kind(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a checkpoint\n")
    with pytest.raises(CheckpointError, match="notes.txt is not a tinygrad5 checkpoint"):
        load(text)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(3))
    with pytest.raises(CheckpointError, match=r"foreign.npz is a .npz archive but not a tinygrad5 checkpoint"):
        load(foreign)
    npy = tmp_path / "one.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(CheckpointError, match="one.npy is a single .npy array"):
        load(npy)
    bad_index = tmp_path / "bad.npz"
    np.savez(bad_index, **{INDEX_KEY: np.frombuffer(b"{not json", np.uint8)})
    with pytest.raises(CheckpointError, match="bad.npz: the checkpoint index is corrupt"):
        load(bad_index)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{INDEX_KEY: np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="pickled.npz"):
        load(pickled)


def test_index_pointing_at_a_missing_array(tmp_path):
    path = tmp_path / "m.npz"
    save({"w": np.ones(2), "v": np.ones(3)}, path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist() if n != "v.npy"}
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(CheckpointError, match="m.npz: the index refers to array 'v', which the file lacks"):
        load(path)


def test_unsupported_values_name_their_place(tmp_path):
    with pytest.raises(TypeError, match="meta/when is a set"):
        save({"meta": {"when": {1, 2}}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="model/w is an array of dtype object"):
        save({"model": {"w": np.array([None])}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key 1.5 at meta must be a str or int"):
        save({"meta": {1.5: 1}}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


def test_loading_into_another_architecture_names_key_and_shapes(tmp_path):
    save({"model": nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 3)).state_dict()}, tmp_path / "a.npz")
    state = load(tmp_path / "a.npz")["model"]
    with pytest.raises(ValueError, match=r"'1.weight' has shape \(3, 5\) .* parameter has shape \(2, 5\)"):
        nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 2)).load_state_dict(state)
    with pytest.raises(KeyError, match=r"missing keys \['2.weight', '2.bias'\]"):
        nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 3), nn.Linear(3, 3)).load_state_dict(state)
