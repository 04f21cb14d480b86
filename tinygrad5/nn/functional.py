"""Functional forms: every op of tinygrad5.ops under its table name, plus `linear` and `dropout`.

Like torch.nn.functional, these take all weights as arguments; the layer classes call them.
"""
from __future__ import annotations

import numpy as np

from ..ops import (abs, add, argmax, broadcast_to, cast, cat, clip, conv2d, conv2d_relu_max_pool2d,
                   cross_entropy, div, eq, exp,
                   expand, flatten, ge, getitem, gt, le, leaky_relu, linear, log, log_softmax, lt, matmul,
                   max, max_pool2d, maximum, mean, min, minimum, mse_loss, mul, ne, neg, pad, permute, pow,
                   relu, relu_max_pool2d, reshape, sigmoid, softmax, sqrt, squeeze, stack, sub, sum, tanh,
                   transpose, unsqueeze, var, view, where)
from ..random import get_rng
from ..tensor import Tensor, as_tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

    Identity when not training or p == 0; the mask comes from the global generator.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * Tensor._make(np.zeros(x.data.shape, x.data.dtype))
    keep = get_rng().random(x.data.shape) >= p
    mask = keep.astype(x.data.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * Tensor._make(mask)


__all__ = [
    "abs", "add", "argmax", "broadcast_to", "cast", "cat", "clip", "conv2d", "conv2d_relu_max_pool2d",
    "cross_entropy", "div", "dropout",
    "eq", "exp", "expand", "flatten", "ge", "getitem", "gt", "le", "leaky_relu", "linear", "log", "log_softmax",
    "lt", "matmul", "max", "max_pool2d", "maximum", "mean", "min", "minimum", "mse_loss", "mul", "ne", "neg",
    "pad", "permute", "pow", "relu", "relu_max_pool2d", "reshape", "sigmoid", "softmax", "sqrt", "squeeze",
    "stack", "sub", "sum", "tanh", "transpose", "unsqueeze", "var", "view", "where",
]
