"""torch.utils.data's default_collate and default_convert: samples in, batched Tensors out.

default_collate stacks along a new first dim: Tensors and numpy arrays keep their dtype, Python ints
become int64, floats float64 and bools bool (as torch does); strings stay a list; dicts, named
tuples, tuples and lists are collated field by field (a tuple comes back as a list, like torch's).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...tensor import Tensor

_NOT_NUMERIC = "SUOV"  # numpy kinds of strings, objects and raw bytes: torch refuses them too


def _refuse(what: Any) -> TypeError:
    return TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                     f"found {what}")


def _stack(batch: Sequence[Any]) -> Tensor:
    arrays = [b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
    for i, a in enumerate(arrays):
        if a.dtype.kind in _NOT_NUMERIC:
            raise _refuse(f"an array of dtype {a.dtype} at entry {i}")
        if a.shape != arrays[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(arrays[0].shape)} at "
                               f"entry 0 and {list(a.shape)} at entry {i}")
    if any(isinstance(b, Tensor) and b.requires_grad for b in batch):
        from ...ops import stack  # keeps the graph, as torch.stack does
        return stack([b if isinstance(b, Tensor) else Tensor(b) for b in batch], 0)
    return Tensor(np.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch with torch's rules (see the module docstring)."""
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)):
        batch = list(batch)
    if not batch:
        raise ValueError("default_collate got an empty batch")
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray)):
        return _stack(batch)
    if isinstance(elem, (str, bytes)):  # numpy's str_ and bytes_ too
        return list(batch)
    if isinstance(elem, np.generic):
        if np.asarray(elem).dtype.kind in _NOT_NUMERIC:
            raise _refuse(type(elem))
        return Tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        arr = np.asarray(batch)  # torch.tensor(batch): int64, or float32 when floats are mixed in
        return Tensor(arr.astype(np.int64 if arr.dtype.kind in "iub" else np.float32))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, Mapping):
        out = {}
        for key in elem:
            for i, d in enumerate(batch):
                if key not in d:
                    raise KeyError(f"default_collate: sample {i} has no key {key!r} (sample 0 has {list(elem)})")
            out[key] = default_collate([d[key] for d in batch])
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # named tuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        sizes = [len(s) for s in batch]
        if any(n != sizes[0] for n in sizes):
            raise RuntimeError(f"each element in list of batch should be of equal size, got sizes {sizes}")
        fields = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # torch returns tuples as lists
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise _refuse(type(elem))


def default_convert(data: Any) -> Any:
    """Numpy arrays and scalars in `data` become Tensors (recursively); everything else is kept."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        return data if np.asarray(data).dtype.kind in _NOT_NUMERIC else Tensor(data)
    if isinstance(data, Mapping):
        out = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
