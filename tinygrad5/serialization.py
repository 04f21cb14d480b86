"""Checkpoints: `save(obj, path)` / `load(path)` for nested state dicts, as a pickle-free .npz.

Layout: every array is one .npz member named after its place in the tree ("model/fc1.weight",
"optim/state/0/exp_avg"); the tree itself (dicts, lists, tuples, numbers, strings, bools, None, and
references to the array members) is JSON stored as a uint8 array under `INDEX_KEY`. Loading uses
`allow_pickle=False`, so a checkpoint can never run code. The write goes to a temporary file in the
same folder and is moved over the target with os.replace, so a crash leaves the old file intact.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from .tensor import Tensor

INDEX_KEY = "__tinygrad5_index__"
FORMAT = "tinygrad5-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file is missing pieces, corrupt, or not a tinygrad5 checkpoint."""


# ---- save ------------------------------------------------------------------------------------------
class _Encoder:
    """Turns a nested object into a JSON tree plus a dict of named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _array(self, arr: np.ndarray, path: list[str], scalar: bool) -> dict[str, Any]:
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: {'/'.join(path) or '<root>'} is an array of dtype {arr.dtype}; only "
                            "numeric and bool arrays can be saved")
        name = "/".join(path) or "root"
        key, n = name, 1
        while key in self.arrays or key == INDEX_KEY:  # two paths can join to the same name
            key, n = f"{name}#{n}", n + 1
        self.arrays[key] = arr
        return {"t": "scalar" if scalar else "array", "key": key}

    def encode(self, obj: Any, path: list[str]) -> dict[str, Any]:
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
                items.append([k, self.encode(v, path + [str(k)])])
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            return {"t": "list" if isinstance(obj, list) else "tuple",
                    "items": [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        raise TypeError(f"save: {'/'.join(path) or '<root>'} is a {type(obj).__name__}; checkpoints hold "
                        "dicts, lists, tuples, arrays, Tensors, numbers, strings, bools and None")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write a nested state dict to `path` (exactly that name) atomically, without pickle."""
    path = os.fspath(path)
    enc = _Encoder()
    tree = enc.encode(obj, [])
    index = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree}, allow_nan=True)
    members = {**enc.arrays, INDEX_KEY: np.frombuffer(index.encode("utf-8"), dtype=np.uint8)}
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {path!r}: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
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


# ---- load ------------------------------------------------------------------------------------------
_LEAVES = {"none": lambda n: None, "bool": lambda n: bool(n["v"]), "int": lambda n: int(n["v"]),
           "float": lambda n: float(n["v"]), "str": lambda n: str(n["v"])}


def _decode(node: Any, npz: Any, path: str) -> Any:
    t = node.get("t") if isinstance(node, dict) else None
    if t in _LEAVES:
        return _LEAVES[t](node)
    if t in ("array", "scalar"):
        key = node["key"]
        if key not in npz.files:
            raise CheckpointError(f"{path}: the index refers to array {key!r}, which the file lacks")
        try:
            arr = npz[key]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{path}: array {key!r} is corrupt ({e})") from None
        return arr[()] if t == "scalar" else arr
    if t == "dict":
        return {k: _decode(v, npz, path) for k, v in node["items"]}
    if t in ("list", "tuple"):
        items = [_decode(v, npz, path) for v in node["items"]]
        return items if t == "list" else tuple(items)
    raise CheckpointError(f"{path}: unknown entry {str(node)[:80]!r} in the checkpoint index")


def load(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by `save`; arrays come back with their exact dtype and bits."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} is not a tinygrad5 checkpoint (not a readable .npz archive: {e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{path} is a single .npy array, not a tinygrad5 checkpoint")
    with npz:
        if INDEX_KEY not in npz.files:
            raise CheckpointError(f"{path} is a .npz archive but not a tinygrad5 checkpoint (no {INDEX_KEY!r} "
                                  f"index; members: {npz.files[:5]})")
        try:
            index = json.loads(npz[INDEX_KEY].tobytes().decode("utf-8"))
            fmt, version, tree = index["format"], index["version"], index["tree"]
        except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{path}: the checkpoint index is corrupt ({type(e).__name__}: {e})") from None
        if fmt != FORMAT or version != VERSION:
            raise CheckpointError(f"{path}: format {fmt!r} version {version!r}; this tinygrad5 reads "
                                  f"{FORMAT!r} version {VERSION}")
        try:
            return _decode(tree, npz, path)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"{path}: the checkpoint index is corrupt ({type(e).__name__}: {e})") from None
