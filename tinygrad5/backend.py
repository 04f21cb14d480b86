"""Which array backend the heavy ops use: "numba" (our kernels, the default) or "numpy" (reference).

Only matmul, conv2d, max_pool2d, the fused softmax-cross-entropy, ReLU and SGD's update go through
a backend; the other elementwise ops are numpy in both. The environment variable TINYGRAD5_BACKEND sets the default.
"""
from __future__ import annotations

import contextlib
import importlib
import os
from types import ModuleType
from typing import Iterator

BACKENDS = {"numpy": "tinygrad5.backends.numpy_backend", "numba": "tinygrad5.backends.numba_backend"}

_name = os.environ.get("TINYGRAD5_BACKEND", "numba")
_module: ModuleType | None = None


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}")
    return name


def current() -> ModuleType:
    """The active backend module (imported on first use, so importing tinygrad5 compiles nothing)."""
    global _module
    if _module is None:
        _module = importlib.import_module(BACKENDS[_check(_name)])
    return _module


def get_backend() -> str:
    """Name of the active backend."""
    return _name


def set_backend(name: str) -> None:
    """Switch the backend for all following ops ("numba" or "numpy")."""
    global _name, _module
    _name, _module = _check(name), None


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    """Use a backend inside a `with` block, restoring the previous one after."""
    prev = _name
    set_backend(name)
    try:
        yield
    finally:
        set_backend(prev)
