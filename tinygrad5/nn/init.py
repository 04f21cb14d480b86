"""Weight initialisation in place on a Tensor's array, drawing from the global generator.

Fans follow PyTorch: for a weight of shape (out, in) fan_in = in and fan_out = out; for a conv
weight (O, C, KH, KW) fan_in = C*KH*KW and fan_out = O*KH*KW. Xavier is symmetric in the two fans,
so it gives the same distribution for the homework's (in, out) layout.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np

from ..random import get_rng
from ..tensor import Tensor

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 0.75}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch's table; leaky_relu uses slope `param`)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope * slope))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose one of {sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of 2 or more dims: (out, in, *kernel)."""
    shape = tensor.data.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a weight of at least 2 dims, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


_skipping = False  # True inside nn.utils.skip_init: initialisers leave tensors and the generator alone


@contextlib.contextmanager
def skipped() -> Iterator[None]:
    """Inside this block every initialiser is a no-op that draws no random numbers."""
    global _skipping
    prev, _skipping = _skipping, True
    try:
        yield
    finally:
        _skipping = prev


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    # in place, so anything holding the array (an optimizer, a view) sees the new values
    tensor.data[...] = values
    return tensor


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return get_rng() if generator is None else generator


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Tensor:
    """Fill with U(a, b)."""
    if _skipping:
        return tensor
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.data.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Tensor:
    """Fill with N(mean, std²)."""
    if _skipping:
        return tensor
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.data.shape))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    if not _skipping:
        tensor.data[...] = 0
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    if not _skipping:
        tensor.data[...] = 1
    return tensor


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with one value."""
    if not _skipping:
        tensor.data[...] = value
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot uniform: U(±gain·√(6/(fan_in+fan_out)))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot normal: N(0, gain²·2/(fan_in+fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He uniform: U(±gain·√(3/fan)); a=√5 gives torch's default U(±1/√fan_in)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He normal: N(0, gain²/fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)
