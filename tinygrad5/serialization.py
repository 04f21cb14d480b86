"""Checkpoints: `save(obj, path)` / `load(path)` for nested state dicts, as a pickle-free .npz.

Layout: every array is one .npz member named after its place in the tree ("model/fc1.weight",
"optim/state/0/exp_avg"); the tree itself (dicts, lists, tuples, numbers, strings, bools, None, and
references to the array members) is JSON stored as a uint8 array under `INDEX_KEY`. Loading uses
no pickle (object dtypes are refused), so a checkpoint can never run code. The write goes to a
temporary file in the same folder (`.<name>.<pid>.<random>.tmp`), fsynced, moved over the target with
os.replace, and the folder fsynced, so a crash leaves the old file intact; the next save to the same
target removes the temporary files that crashed writers left for it.

Loading reads the archive itself rather than through np.load: every member must be a .npy array
whose header's shape and dtype match the member's real size (checked before anything is
allocated), the total inflated size is capped (`max_bytes`), and the index nests at most
`MAX_DEPTH` levels, so a crafted file ends in CheckpointError, never a MemoryError or RecursionError.
"""
from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import threading
import zipfile
import zlib
from typing import Any

import numpy as np

from .device import check as check_device
from .tensor import Tensor

INDEX_KEY = "__tinygrad5_index__"
FORMAT = "tinygrad5-checkpoint"
VERSION = 1
# Dicts/lists nested deeper than this are refused at save and at load (state dicts nest ~4 deep).
MAX_DEPTH = 64
# A zip member name is at most 65535 bytes; ".npy" takes 4 of them.
MAX_NAME_BYTES = 65535 - 4
# Without max_bytes a file may inflate to at most max(this, INFLATE_RATIO x its size on disk): our
# own (stored, uncompressed) checkpoints never come near it, a deflate bomb does.
DEFAULT_MIN_MAX_BYTES = 1 << 28
INFLATE_RATIO = 64


class CheckpointError(ValueError):
    """A file is missing pieces, corrupt, or not a tinygrad5 checkpoint."""


# ---- save ------------------------------------------------------------------------------------------
class _Encoder:
    """Turns a nested object into a JSON tree plus a dict of named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _array(self, arr: np.ndarray, path: list[str], scalar: bool) -> dict[str, Any]:
        if arr.dtype.kind not in "biufc" or arr.dtype.fields is not None:
            raise TypeError(f"save: {'/'.join(path) or '<root>'} is an array of dtype {arr.dtype}; only "
                            "numeric and bool arrays can be saved")
        name = "/".join(path) or "root"
        key, n = name, 1
        while key in self.arrays or key == INDEX_KEY:  # two paths can join to the same name
            key, n = f"{name}#{n}", n + 1
        if len(key.encode("utf-8")) > MAX_NAME_BYTES:
            raise CheckpointError(f"save: the array at {_short(name)} has a name of {len(key.encode('utf-8'))} "
                                  f"bytes; zip member names hold at most {MAX_NAME_BYTES}")
        self.arrays[key] = arr
        return {"t": "scalar" if scalar else "array", "key": key}

    def encode(self, obj: Any, path: list[str]) -> dict[str, Any]:
        if len(path) > MAX_DEPTH:
            raise CheckpointError(f"save: {_short('/'.join(path[:8]))}/... nests deeper than {MAX_DEPTH} levels "
                                  "(a list or dict that contains itself?)")
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": bool(obj)}
        if isinstance(obj, np.generic):  # keep numpy scalars' exact dtype
            return self._array(np.asarray(obj), path, scalar=True)
        if isinstance(obj, int):
            return {"t": "int", "v": obj}
        if isinstance(obj, float):
            return {"t": "float", "v": obj}  # json writes repr(), which round-trips exactly
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, Tensor):
            return self._array(obj.data, path, scalar=False)
        if isinstance(obj, np.ndarray):
            return self._array(obj, path, scalar=False)
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    raise TypeError(f"save: key {k!r} at {'/'.join(path) or '<root>'} must be a str or int")
                if isinstance(k, str):
                    _check_key(k, path)
                items.append([k, self.encode(v, path + [str(k)])])
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            return {"t": "list" if isinstance(obj, list) else "tuple",
                    "items": [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        raise TypeError(f"save: {'/'.join(path) or '<root>'} is a {type(obj).__name__}; checkpoints are "
                        "pickle-free and hold dicts, lists, tuples, arrays, Tensors, numbers, strings, bools and "
                        "None (save model.state_dict() or optimizer.state_dict(), not the object)")


def _short(text: str, keep: int = 40) -> str:
    """repr of text, cut in the middle when long (a 70,000-character key in a message helps nobody)."""
    return repr(text) if len(text) <= 2 * keep else f"{text[:keep]!r}...{text[-keep:]!r} ({len(text)} characters)"


def _check_key(k: str, path: list[str]) -> None:
    """Refuse dict keys that a zip member name cannot carry back unchanged."""
    where = "/".join(path) or "<root>"
    if "\x00" in k:
        raise CheckpointError(f"save: key {_short(k)} at {where} contains a NUL character, which zip member "
                              "names cut off (the file could never be loaded)")
    try:
        n = len(k.encode("utf-8"))
    except UnicodeEncodeError:
        raise CheckpointError(f"save: key {_short(k)} at {where} is not valid Unicode text "
                              "(a lone surrogate)") from None
    if n > MAX_NAME_BYTES:
        raise CheckpointError(f"save: key {_short(k)} at {where} is {n} bytes long; zip member names "
                              f"hold at most {MAX_NAME_BYTES}")


def _tmp_pattern(base: str) -> re.Pattern:
    """Names of save's temporary files for target `base`: .<base>.<pid>.<mkstemp's 8 chars>.tmp"""
    return re.compile(re.escape(f".{base}.") + r"(\d+)\.[a-z0-9_]{8}\.tmp")


_active: set[str] = set()  # this process's temporary files still being written
_active_lock = threading.Lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists (another user's) or cannot tell: leave its files alone
    return True


def _remove_stale(folder: str, base: str) -> None:
    """Delete temporary files an interrupted save to `base` left behind: only names of our pattern
    for this target, whose writer is dead (or is this process and no longer writing them), and whose
    content is empty or a zip's start."""
    pat, me = _tmp_pattern(base), os.getpid()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = pat.fullmatch(name)
        if m is None:
            continue
        full = os.path.join(folder, name)
        pid = int(m.group(1))
        with _active_lock:
            if (pid == me and full in _active) or (pid != me and _pid_alive(pid)):
                continue
        try:
            with open(full, "rb") as f:
                if f.read(2) not in (b"", b"PK"):
                    continue
            os.unlink(full)
        except OSError:
            pass


def _fsync_folder(folder: str) -> None:
    """Make the rename durable; some systems (Windows) cannot open a folder, and lose nothing by it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write a nested state dict to `path` (exactly that name) atomically, without pickle."""
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    base = os.path.basename(path)
    if not base:
        raise ValueError(f"save needs a file name, got {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a folder")
    enc = _Encoder()
    tree = enc.encode(obj, [])
    index = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}, allow_nan=True)
    members = {**enc.arrays, INDEX_KEY: np.frombuffer(index.encode("utf-8"), dtype=np.uint8)}
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {path!r}: folder {folder!r} does not exist")
    _remove_stale(folder, base)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.{os.getpid()}.", suffix=".tmp")
    with _active_lock:
        _active.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        with _active_lock:
            _active.discard(tmp)
    _fsync_folder(folder)


# ---- load ------------------------------------------------------------------------------------------
# What a crafted archive can raise from zipfile, zlib and the .npy header parser.
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error, RuntimeError,
                NotImplementedError, OverflowError, SyntaxError, KeyError, TypeError)
_CHUNK = 1 << 24


class _Archive:
    """The members of a checkpoint archive, each read only when asked for, after its header is checked."""

    def __init__(self, zf: zipfile.ZipFile, path: str, limit: int) -> None:
        self.zf, self.path, self.infos = zf, path, {}
        total = 0
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".npy") or info.is_dir():
                raise CheckpointError(f"{path}: member {_short(name)} is not a .npy array; a tinygrad5 "
                                      "checkpoint holds only .npy members")
            key = name[:-4]
            if key in self.infos:
                raise CheckpointError(f"{path}: member {_short(name)} appears twice")
            self.infos[key] = info
            total += info.file_size
        if total > limit:
            raise CheckpointError(f"{path}: the members would inflate to {total} bytes, over the limit of "
                                  f"{limit} (pass load(..., max_bytes=) to allow more)")

    @property
    def files(self) -> list[str]:
        return list(self.infos)

    def read(self, key: str) -> np.ndarray:
        """The array stored as member `key`, its header checked against the member's size first."""
        info = self.infos[key]
        try:
            with self.zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise CheckpointError(f"{self.path}: array {key!r} has .npy format {version}; "
                                          "expected 1.0 or 2.0")
                if dtype.kind not in "biufc" or dtype.hasobject or dtype.fields is not None:
                    raise CheckpointError(f"{self.path}: array {key!r} has dtype {dtype}; checkpoints hold "
                                          "only numeric and bool arrays (never objects or pickles)")
                count = 1
                for d in shape:
                    count *= d
                want, have = count * dtype.itemsize, info.file_size - f.tell()
                if want != have:
                    raise CheckpointError(f"{self.path}: array {key!r} claims shape {shape} dtype {dtype} "
                                          f"({want} bytes) but its member holds {have} bytes")
                arr = np.empty(count, dtype)
                buf, pos = memoryview(arr).cast("B"), 0
                while pos < want:
                    chunk = f.read(min(_CHUNK, want - pos))
                    if not chunk:
                        raise EOFError(f"member ends after {pos} of {want} bytes")
                    buf[pos:pos + len(chunk)] = chunk
                    pos += len(chunk)
                if f.read(1):  # also makes zipfile check the CRC when the last read did not
                    raise ValueError("member is longer than its header says")
        except CheckpointError:
            raise
        except _READ_ERRORS as e:
            raise CheckpointError(f"{self.path}: array {key!r} is corrupt ({type(e).__name__}: {e})") from None
        return arr.reshape(shape, order="F" if fortran else "C")


_LEAVES = {"none": lambda n: None, "bool": lambda n: bool(n["v"]), "int": lambda n: int(n["v"]),
           "float": lambda n: float(n["v"]), "str": lambda n: str(n["v"])}


def _decode(node: Any, arc: _Archive, path: str, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{path}: the checkpoint index nests deeper than {MAX_DEPTH} levels")
    t = node.get("t") if isinstance(node, dict) else None
    if t in _LEAVES:
        return _LEAVES[t](node)
    if t in ("array", "scalar"):
        key = node["key"]
        if not isinstance(key, str) or key not in arc.infos:
            raise CheckpointError(f"{path}: the index refers to array {key!r}, which the file lacks")
        arr = arc.read(key)
        return arr[()] if t == "scalar" else arr
    if t == "dict":
        out = {}
        for k, v in node["items"]:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise CheckpointError(f"{path}: the index has a dict key {str(k)[:80]!r}, not a str or int")
            out[k] = _decode(v, arc, path, depth + 1)
        return out
    if t in ("list", "tuple"):
        items = [_decode(v, arc, path, depth + 1) for v in node["items"]]
        return items if t == "list" else tuple(items)
    raise CheckpointError(f"{path}: unknown entry {str(node)[:80]!r} in the checkpoint index")


def load(path: str | os.PathLike, map_location: Any = None, *, weights_only: bool | None = None,
         max_bytes: int | None = None) -> Any:
    """Read a checkpoint written by `save`; arrays come back with their exact dtype and bits.

    max_bytes caps the total inflated size of the archive's members (default: the larger of 256 MiB
    and 64 times the file's size on disk, which no uncompressed checkpoint reaches and a deflate
    bomb does); anything crafted or corrupt raises CheckpointError naming the file. torch's
    map_location may name the CPU (anything else is refused by name); weights_only is accepted for
    torch's scripts and changes nothing, since loading never unpickles.
    """
    if map_location is not None:
        if callable(map_location) or isinstance(map_location, dict):
            raise TypeError(f"load(map_location={map_location!r}): only a device is accepted here; checkpoints "
                            "hold CPU arrays, so pass 'cpu' or leave map_location out")
        check_device(map_location)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot load {path!r}: it is a folder, not a checkpoint file")
    if max_bytes is None:
        max_bytes = max(DEFAULT_MIN_MAX_BYTES, INFLATE_RATIO * os.path.getsize(path))
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise CheckpointError(f"{path} is a single .npy array, not a tinygrad5 checkpoint")
    try:
        zf = zipfile.ZipFile(path)
    except _READ_ERRORS as e:
        raise CheckpointError(f"{path} is not a tinygrad5 checkpoint (not a readable .npz archive: {e})") from None
    with zf:
        try:
            arc = _Archive(zf, path, max_bytes)
        except CheckpointError:
            raise
        except _READ_ERRORS as e:
            raise CheckpointError(f"{path} is not a tinygrad5 checkpoint (a damaged .npz archive: {e})") from None
        if INDEX_KEY not in arc.infos:
            raise CheckpointError(f"{path} is a .npz archive but not a tinygrad5 checkpoint (no {INDEX_KEY!r} "
                                  f"index; members: {arc.files[:5]})")
        try:
            raw = arc.read(INDEX_KEY)
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise ValueError(f"the index is a {raw.dtype} array of shape {raw.shape}, not uint8 text")
            index = json.loads(raw.tobytes().decode("utf-8"))
            fmt, version, tree = index["format"], index["version"], index["tree"]
        except CheckpointError as e:
            raise CheckpointError(f"{path}: the checkpoint index is corrupt ({e})") from None
        except (RecursionError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: the checkpoint index is corrupt ({type(e).__name__}: "
                                  f"{str(e)[:200]})") from None
        if fmt != FORMAT or version != VERSION:
            raise CheckpointError(f"{path}: format {str(fmt)[:80]!r} version {str(version)[:20]!r}; this "
                                  f"tinygrad5 reads {FORMAT!r} version {VERSION}")
        try:
            return _decode(tree, arc, path)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as e:
            raise CheckpointError(f"{path}: the checkpoint index is corrupt ({type(e).__name__}: "
                                  f"{str(e)[:200]})") from None
