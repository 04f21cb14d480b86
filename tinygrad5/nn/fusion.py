"""Which neighbouring modules nn.Sequential runs as one op: the single table of fusible patterns.

Each pattern is a run of exact module classes (a subclass may change `forward`, so it is never
fused) and a function that computes the run as one op, or returns None when the modules' settings
do not fit (then the first module runs alone). Values and gradients are bit for bit those of the
modules run one by one; the fused op saves graph nodes and intermediate arrays.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..ops import conv2d_relu_max_pool2d, linear, relu_max_pool2d
from ..ops.conv import as_pair
from ..tensor import Tensor
from .activations import ReLU, Sigmoid
from .layers import Conv2d, Linear, MaxPool2d
from .module import Module

Fuser = Callable[[Sequence[Module], Tensor], Tensor | None]


def _linear_then(activation: str) -> Fuser:
    def run(mods: Sequence[Module], x: Tensor) -> Tensor:
        return linear(x, mods[0].weight, mods[0].bias, activation=activation)
    return run


def _conv_relu_pool(mods: Sequence[Module], x: Tensor) -> Tensor | None:
    # the fused kernel pools 2x2 windows at stride 2 only
    conv, pool = mods[0], mods[2]
    if as_pair(pool.kernel_size, "kernel_size") != (2, 2) or as_pair(pool.stride, "stride") != (2, 2):
        return None
    return conv2d_relu_max_pool2d(x, conv.weight, conv.bias, conv.stride, conv.padding)


def _relu_pool(mods: Sequence[Module], x: Tensor) -> Tensor:
    return relu_max_pool2d(x, mods[1].kernel_size, mods[1].stride)


# Tried in this order at each position: the longest run first.
PATTERNS: tuple[tuple[tuple[type, ...], Fuser], ...] = (
    ((Conv2d, ReLU, MaxPool2d), _conv_relu_pool),
    ((Linear, Sigmoid), _linear_then("sigmoid")),
    ((Linear, ReLU), _linear_then("relu")),
    ((ReLU, MaxPool2d), _relu_pool),
)

# first class -> its patterns, so a module that starts none costs one dict lookup per call
_BY_FIRST: dict[type, list[tuple[tuple[type, ...], Fuser]]] = {}
for _pattern in PATTERNS:
    _BY_FIRST.setdefault(_pattern[0][0], []).append(_pattern)


def run_fused(mods: Sequence[Module], i: int, x: Any) -> tuple[Any, int] | None:
    """(output, modules consumed) when mods[i] and its next neighbours match a pattern, else None."""
    candidates = _BY_FIRST.get(type(mods[i]))
    if candidates is None:
        return None
    for classes, fuse in candidates:
        k = len(classes)
        if i + k > len(mods) or any(type(mods[i + j]) is not classes[j] for j in range(1, k)):
            continue
        out = fuse(mods[i:i + k], x)
        if out is not None:
            return out, k
    return None
