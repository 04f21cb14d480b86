"""On-disk cache of generated arrays: one atomic .npz per (name, parameters) key."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

#: Environment variable that overrides the cache folder.
CACHE_ENV: str = "TINYGRAD5_CACHE"


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the cache folder: ``cache_dir``, then $TINYGRAD5_CACHE, then $XDG_CACHE_HOME or ~/.cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tinygrad5"


def cache_key(**params: object) -> str:
    """A short stable hash of JSON-serialisable parameters (include a version to invalidate)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_arrays(name: str, params: dict, build: Callable[[], dict[str, np.ndarray]],
                  cache_dir: str | os.PathLike | None = None, use_cache: bool = True) -> dict[str, np.ndarray]:
    """Return ``build()``'s arrays, read from ``<cache>/<name>-<key>.npz`` when present, else built and saved.

    A corrupt or unreadable cache file is rebuilt; a cache folder that cannot be written only warns.
    """
    if not use_cache:
        return build()
    path = default_cache_dir(cache_dir) / f"{name}-{cache_key(**params)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError) as exc:
            warnings.warn(f"ignoring unreadable cache file {path}: {exc}", stacklevel=2)
    arrays = build()
    try:
        _save_atomic(path, arrays)
    except OSError as exc:
        warnings.warn(f"could not write cache file {path}: {exc}", stacklevel=2)
    return arrays


def _save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write to a temporary file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
