"""The arguments of Module.to(...): a device, a dtype, both, or a tensor, checked and named in errors.

tinygrad5 runs on the CPU only, so a device is either the CPU (nothing to do) or an error naming
the available devices; a dtype for parameters must be float32 or float64, because casting trained
weights to integers, bool, float16 or complex would silently destroy them (or has no kernels).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..device import AVAILABLE, check, device
from ..dtypes import to_numpy
from ..tensor import Tensor

PARAM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def device_type(where: Any) -> str | None:
    """'cpu' for a CPU device (a string like "cpu" / "cpu:0" or an object with .type), None when
    `where` names no device torch knows; raises (device.check's message) for any other device."""
    name = where if isinstance(where, str) else getattr(where, "type", None)
    if not isinstance(name, str):
        return None
    try:
        d = device(name.strip().lower())
    except RuntimeError:  # not a device name: the caller tries it as a dtype
        return None
    return check(d).type


def as_numpy_dtype(dtype: Any) -> np.dtype | None:
    """numpy's dtype for a tinygrad5 dtype (tg.float64), numpy dtype, type or name; None if not a dtype."""
    if dtype is None or isinstance(dtype, bool):
        return None
    try:
        return to_numpy(dtype)
    except (TypeError, ValueError):
        return None


def param_dtype(dtype: Any, owner: str) -> np.dtype:
    """dtype as numpy's, refused by name unless float32 or float64."""
    dt = as_numpy_dtype(dtype)
    if dt is None:
        raise TypeError(f"{owner}.to(): {dtype!r} is neither a device nor a dtype")
    if dt not in PARAM_DTYPES:
        raise TypeError(f"{owner}.to({dt.name}): parameters can only be float32 or float64, not {dt.name} "
                        "(casting would destroy the weights or has no kernels here)")
    return dt


def parse_to_args(owner: str, args: tuple, kwargs: dict) -> tuple[str | None, np.dtype | None]:
    """(device type or None, parameter dtype or None) from to()'s torch-style arguments."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    kwargs.pop("memory_format", None)
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{owner}.to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, bool):
            continue  # torch's positional non_blocking
        if isinstance(a, Tensor):
            dtype = a.dtype if a.dtype.kind == "f" else dtype
        elif device_type(a) is not None:
            device = a
        elif as_numpy_dtype(a) is not None:
            dtype = a
        else:
            raise TypeError(f"{owner}.to(): {a!r} is neither a device ({', '.join(AVAILABLE)}) nor a dtype")
    dev = None if device is None else device_type(device)
    if device is not None and dev is None:
        raise TypeError(f"{owner}.to(): {device!r} is not a device (available: {', '.join(AVAILABLE)})")
    return dev, None if dtype is None else param_dtype(dtype, owner)
