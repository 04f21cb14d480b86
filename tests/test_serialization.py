"""Checkpoints: bit-exact round trips, atomic writes, and clear errors for bad files and mismatches."""
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib

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


def test_torchs_load_arguments(tmp_path):
    """torch.load(path, map_location=..., weights_only=...) as scripts write it: the CPU only."""
    save({"w": np.arange(3.0)}, tmp_path / "m.pt")
    for where in ("cpu", tg.device("cpu"), "cpu:0"):
        np.testing.assert_array_equal(load(tmp_path / "m.pt", map_location=where, weights_only=True)["w"],
                                      np.arange(3.0))
    assert load(tmp_path / "m.pt", weights_only=False)["w"].dtype == np.float64
    with pytest.raises(RuntimeError, match="no 'cuda' device: it computes on the CPU only"):
        load(tmp_path / "m.pt", map_location="cuda")
    with pytest.raises(TypeError, match="only a device is accepted here"):
        load(tmp_path / "m.pt", map_location=lambda storage, loc: storage)


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


# ---- hardening (issue 21): keys, temporary files, crafted files, kill -9 --------------------------
def test_keys_a_zip_name_cannot_hold_are_refused_by_name(tmp_path):
    target = tmp_path / "k.npz"
    with pytest.raises(CheckpointError, match=r"key 'a\\x00b' at model contains a NUL character"):
        save({"model": {"a\x00b": np.ones(2)}}, target)
    with pytest.raises(CheckpointError, match=r"key 'x\\x00' at <root> contains a NUL"):
        save({"x\x00": 1, "x\x00y": 2}, target)  # NUL refused even where no array member is made
    long = "k" * 70_000
    with pytest.raises(CheckpointError, match=r"key 'k{40}'...'k{40}' \(70000 characters\) at <root> is "
                                              r"70000 bytes long; zip member names hold at most 65531"):
        save({long: np.ones(1)}, target)
    with pytest.raises(CheckpointError, match=r"key '\\ud800' at <root> is not valid Unicode text"):
        save({"\ud800": 1}, target)
    loop: list = []
    loop.append(loop)
    with pytest.raises(CheckpointError, match="nests deeper than 64 levels"):
        save({"loop": loop}, target)
    assert os.listdir(tmp_path) == []  # nothing written, no temporary file
    ok = {"k" * 1000: np.arange(3), "é/漢": {"deep": [[[[np.ones(1)]]]]},
          "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "big_endian": np.arange(4, dtype=">f4")}
    save(ok, target)
    assert_tree_equal(ok, load(target))


def test_empty_path_and_folders_are_refused(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(ValueError, match=r"save needs a file name, got ''"):
        save({"a": 1}, "")
    with pytest.raises(ValueError, match=r"save needs a file name, got 'sub/'"):
        save({"a": 1}, "sub/")
    with pytest.raises(IsADirectoryError, match=r"cannot save to '.*work' : it is a folder".replace(" :", ":")):
        save({"a": 1}, str(work))
    with pytest.raises(IsADirectoryError, match="cannot load .* it is a folder"):
        load(work)
    assert sorted(os.listdir(tmp_path)) == ["work"] and os.listdir(work) == []


def test_stale_temporary_files_of_the_same_target_are_removed(tmp_path):
    dead = 2 ** 22 + 12345  # above Linux's largest pid: no such process
    names = {
        f".m.npz.{dead}.abcd1234.tmp": b"PK\x03\x04 half",   # ours, for m.npz, writer dead: removed
        f".m.npz.{dead}.zzzz_999.tmp": b"",                # ours, empty (killed before writing): removed
        f".other.npz.{dead}.abcd1234.tmp": b"PK\x03\x04",  # another target's: kept
        f".m.npz.{os.getppid()}.abcd1234.tmp": b"PK",      # a live writer's: kept
        f".m.npz.{dead}.abcd1234.tmp.bak": b"PK",          # not our pattern: kept
        f".m.npz.{dead}.notes123.tmp": b"my notes",        # our pattern but not a zip: kept
        ".m.npz.tmp": b"PK",
    }
    for n, b in names.items():
        (tmp_path / n).write_bytes(b)
    save({"w": np.ones(3)}, tmp_path / "m.npz")
    removed = {f".m.npz.{dead}.abcd1234.tmp", f".m.npz.{dead}.zzzz_999.tmp"}
    assert sorted(os.listdir(tmp_path)) == sorted(set(names) - removed | {"m.npz"})


def _zip_bytes(entries: list[dict]) -> bytes:
    """A zip archive written by hand, so its fields can lie: each entry has name (str or bytes),
    data (the stored or raw-deflated bytes), and optional method, crc, size (the inflated size
    claimed), flags."""
    local, central = b"", b""
    for e in entries:
        name = e["name"] if isinstance(e["name"], bytes) else e["name"].encode()
        data, method = e["data"], e.get("method", 0)
        crc = e.get("crc", zlib.crc32(data) if method == 0 else 0)
        size, flags = e.get("size", len(data)), e.get("flags", 0)
        fields = struct.pack("<HHHHHIII", 20, flags, method, 0, 0x21, crc, len(data), size)
        offset = len(local)
        local += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + data
        central += (b"PK\x01\x02" + struct.pack("<H", 20) + fields
                    + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset) + name)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(local), 0)
    return local + central + end


def _npy(arr: np.ndarray, header: dict | None = None, version: tuple = (1, 0)) -> bytes:
    """arr as .npy bytes, optionally with a forged header dict."""
    buf = io.BytesIO()
    np.save(buf, arr)
    if header is None and version == (1, 0):
        return buf.getvalue()
    h = repr(header if header is not None else np.lib.format.header_data_from_array_1_0(arr)).encode()
    h += b" " * (-(len(h) + 1 + (10 if version == (1, 0) else 12)) % 64) + b"\n"  # aligned as numpy does
    return b"\x93NUMPY" + bytes(version) + struct.pack("<H" if version == (1, 0) else "<I", len(h)) + h + \
        arr.tobytes()


def _index(tree: dict | str) -> bytes:
    """An index member holding `tree` (a dict, or its JSON text)."""
    text = tree if isinstance(tree, str) else json.dumps(tree)
    return _npy(np.frombuffer(f'{{"format": "tinygrad5-checkpoint", "version": 1, "tree": {text}}}'.encode(),
                              np.uint8))


W_TREE = {"t": "dict", "items": [["w", {"t": "array", "key": "w"}]]}
IDX = INDEX_KEY + ".npy"


def _bomb(inflated: int) -> list[dict]:
    """A w.npy member of `inflated` zero bytes (float32), deflated to about 1/230 of that."""
    head = _npy(np.zeros(0, np.float32), {"descr": "<f4", "fortran_order": False, "shape": (inflated // 4,)})
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    raw = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = 1 << 24
    piece = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every block
    raw += piece * (inflated // block) + c.flush()
    crc = zlib.crc32(head)
    for _ in range(inflated // block):
        crc = zlib.crc32(bytes(block), crc)
    return [{"name": "w.npy", "data": raw, "method": 8, "crc": crc, "size": len(head) + inflated},
            {"name": IDX, "data": _index(W_TREE)}]


def crafted_checkpoints() -> dict[str, bytes]:
    """Files that must each end in CheckpointError (truncations and flips are tested separately)."""
    good = _npy(np.arange(6.0))
    nested = '{"t": "list", "items": [' * 3000 + '{"t": "none"}' + "]}" * 3000
    shallow = {"t": "int", "v": 1}
    for _ in range(66):
        shallow = {"t": "list", "items": [shallow]}
    return {
        "empty file": b"",
        "deflate bomb, 320 MiB from ~1.4 MB": _zip_bytes(_bomb(320 << 20)),
        "central directory claims 4 GiB": _zip_bytes([{"name": "w.npy", "data": good, "size": 0xFFFFFFF0},
                                                      {"name": IDX, "data": _index(W_TREE)}]),
        "header claims 2**40 floats": _zip_bytes([
            {"name": "w.npy", "data": _npy(np.zeros(4), {"descr": "<f4", "fortran_order": False,
                                                         "shape": (2 ** 40,)})},
            {"name": IDX, "data": _index(W_TREE)}]),
        "header claims a negative shape": _zip_bytes([
            {"name": "w.npy", "data": _npy(np.zeros(4), {"descr": "<f8", "fortran_order": False, "shape": (-4,)})},
            {"name": IDX, "data": _index(W_TREE)}]),
        "object dtype member": _zip_bytes([
            {"name": "w.npy", "data": _npy(np.zeros(1), {"descr": "|O", "fortran_order": False, "shape": (1,)})},
            {"name": IDX, "data": _index(W_TREE)}]),
        ".npy format 3.0": _zip_bytes([{"name": "w.npy", "data": _npy(np.arange(6.0), version=(3, 0))},
                                       {"name": IDX, "data": _index(W_TREE)}]),
        "index nested 3000 deep": _zip_bytes([{"name": IDX, "data": _index(nested)}]),
        "index nested 66 deep": _zip_bytes([{"name": IDX, "data": _index(shallow)}]),
        "a member that is not .npy": _zip_bytes([{"name": "w.npy", "data": good},
                                                 {"name": "payload.pkl", "data": b"\x80\x04K\x01."},
                                                 {"name": IDX, "data": _index(W_TREE)}]),
        "a duplicated member": _zip_bytes([{"name": "w.npy", "data": good}, {"name": "w.npy", "data": good},
                                           {"name": IDX, "data": _index(W_TREE)}]),
        "a NUL in a member name": _zip_bytes([{"name": b"w\x00.npy", "data": good},
                                              {"name": IDX, "data": _index(W_TREE)}]),
        "an encrypted member": _zip_bytes([{"name": "w.npy", "data": good, "flags": 1},
                                           {"name": IDX, "data": _index(W_TREE)}]),
        "an unknown compression method": _zip_bytes([{"name": "w.npy", "data": good, "method": 99},
                                                     {"name": IDX, "data": _index(W_TREE)}]),
        "a wrong CRC": _zip_bytes([{"name": "w.npy", "data": good, "crc": 1234},
                                   {"name": IDX, "data": _index(W_TREE)}]),
        "an index that is not uint8": _zip_bytes([{"name": IDX, "data": _npy(np.zeros(3))}]),
        "an index key that is not a string": _zip_bytes([
            {"name": IDX, "data": _index({"t": "array", "key": 5})}]),
        "an index dict key that is a list": _zip_bytes([
            {"name": IDX, "data": _index({"t": "dict", "items": [[[1], {"t": "none"}]]})}]),
        "an index int of 5000 digits": _zip_bytes([{"name": IDX, "data": _index({"t": "int", "v": "9" * 5000})}]),
        "an index of another format": _zip_bytes([{"name": IDX, "data": _npy(np.frombuffer(
            b'{"format": "x", "version": [1], "tree": null}', np.uint8))}]),
        "an index of bad UTF-8": _zip_bytes([{"name": IDX, "data": _npy(np.frombuffer(b"\xff\xfe{}", np.uint8))}]),
    }


_CORPUS: dict[str, bytes] = {}


def _cached_corpus() -> dict[str, bytes]:
    if not _CORPUS:
        _CORPUS.update(crafted_checkpoints())
    return _CORPUS


@pytest.mark.parametrize("case", sorted(_cached_corpus()))
def test_crafted_checkpoints_end_in_checkpoint_error(tmp_path, case):
    path = tmp_path / "crafted.npz"
    path.write_bytes(_cached_corpus()[case])
    with pytest.raises(CheckpointError, match="crafted.npz"):
        load(path)


def test_inflated_size_cap_names_the_numbers(tmp_path):
    path = tmp_path / "b.npz"
    path.write_bytes(_cached_corpus()["deflate bomb, 320 MiB from ~1.4 MB"])
    size = path.stat().st_size
    assert size < 2 << 20
    with pytest.raises(CheckpointError, match=rf"b.npz: the members would inflate to {(320 << 20) + 128 + len(_index(W_TREE))} "
                                              rf"bytes, over the limit of {1 << 28} \(pass load\(..., max_bytes=\)"):
        load(path)
    with pytest.raises(CheckpointError, match="over the limit of 1000"):
        load(path, max_bytes=1000)
    good = tmp_path / "g.npz"
    save({"w": np.arange(100.0)}, good)
    with pytest.raises(CheckpointError, match="over the limit of 100 "):
        load(good, max_bytes=100)
    np.testing.assert_array_equal(load(good, max_bytes=10_000)["w"], np.arange(100.0))
    deflated = tmp_path / "d.npz"  # the same checkpoint re-zipped with deflate reads the same
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for n in src.namelist():
            dst.writestr(n, src.read(n))
    assert deflated.stat().st_size < good.stat().st_size
    np.testing.assert_array_equal(load(deflated)["w"], np.arange(100.0))


def test_lying_header_is_caught_before_allocating(tmp_path):
    path = tmp_path / "h.npz"
    path.write_bytes(_cached_corpus()["header claims 2**40 floats"])
    with pytest.raises(CheckpointError, match=r"h.npz: array 'w' claims shape \(1099511627776,\) dtype float32 "
                                              r"\(4398046511104 bytes\) but its member holds 32 bytes"):
        load(path)
    path.write_bytes(_cached_corpus()["a member that is not .npy"])
    with pytest.raises(CheckpointError, match="h.npz: member 'payload.pkl' is not a .npy array"):
        load(path)


def test_every_truncation_and_flipped_byte_is_an_error_or_harmless(tmp_path):
    path = tmp_path / "f.npz"
    obj = {"model": {"w": np.arange(40.0).reshape(5, 8), "b": np.ones(3, np.float32)}, "step": 7}
    save(obj, path)
    data = path.read_bytes()
    cuts = sorted(set(range(0, len(data), max(1, len(data) // 60))) | {len(data) - 1, len(data) - 22})
    for n in cuts:
        path.write_bytes(data[:n])
        with pytest.raises(CheckpointError, match="f.npz"):
            load(path)
    rng = np.random.default_rng(0)
    errors = 0
    for pos in rng.choice(len(data), size=150, replace=False):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(flipped))
        try:
            got = load(path)
        except CheckpointError:
            errors += 1
            continue
        assert_tree_equal(obj, got)  # a flip in a field nobody reads (a timestamp, say) changes nothing
    assert errors >= 100  # almost every byte matters (payload CRCs, headers, names, the index)


_KILL_CHILD = """
import sys, numpy as np
from tinygrad5.serialization import save
path, k = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
while True:
    save({"w": np.full(750_000, k, np.float32), "k": k}, path)  # 3 MB a checkpoint
    k += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_kill_9_during_saves_leaves_a_whole_checkpoint_and_no_temp_files_after_the_next_save(tmp_path):
    target = tmp_path / "ckpt.npz"
    save({"w": np.full(750_000, 0, np.float32), "k": 0}, target)
    root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rng = np.random.default_rng(0)
    seen, left = set(), 0
    for round_ in range(16):  # six kills, more while none has yet landed inside a save (a loaded machine)
        if round_ >= 6 and left and len(seen) >= 2:
            break
        child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(target), str(1000 * (round_ + 1))],
                                 stdout=subprocess.PIPE, env=env)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(float(rng.uniform(0.05, 0.25)))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        ck = load(target)  # always a complete checkpoint: the old one or one of the new ones
        assert ck["w"].shape == (750_000,) and ck["w"].dtype == np.float32
        assert (ck["w"] == ck["k"]).all()
        seen.add(ck["k"])
        left += sum(n.endswith(".tmp") for n in os.listdir(tmp_path))
    assert left >= 1  # the kills did land inside saves (each orphans a temporary file)
    assert len(seen) >= 2  # and the children did replace the target
    save({"w": np.ones(2)}, target)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
