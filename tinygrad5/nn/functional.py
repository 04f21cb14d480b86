"""Functional forms: every op of tinygrad5.ops under its table name, plus `linear` and the dropouts.

Like torch.nn.functional, these take all weights as arguments; the layer classes call them.
"""
from __future__ import annotations

from ..ops import (abs, add, amax, amin, argmax, argmin, avg_pool2d, batch_norm, broadcast_to, cast, cat, clip,
                   clone, conv2d, conv2d_relu_max_pool2d, cross_entropy, div, eq, exp,
                   expand, flatten, ge, getitem, gt, le, leaky_relu, linear, log, log_softmax, lt, matmul,
                   max, max_pool2d, maximum, mean, min, minimum, mse_loss, mul, ne, neg, nll_loss, pad, permute,
                   pow, relu, relu_max_pool2d, reshape, sigmoid, softmax, sqrt, squeeze, stack, std, sub, sum, tanh,
                   topk, transpose, unsqueeze, var, view, where)
from ..ops.dropout import Dropout
from ..tensor import Tensor, as_tensor


def _masked(x: Tensor, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p, mask_shape=mask_shape)  # the mask is drawn in forward (tinygrad5.jit)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

    Identity when not training or p == 0; the mask comes from the global generator. `inplace` is
    accepted for torch's signature; the result is always a new tensor.
    """
    return _masked(x, p, training)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout: zero whole channels of (N, C, H, W) or (C, H, W) with probability p, scale the rest."""
    x = as_tensor(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d needs input of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    return _masked(x, p, training, x.shape[:-2] + (1, 1))


__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "avg_pool2d", "batch_norm", "broadcast_to", "cast", "cat",
    "clip", "clone", "conv2d", "conv2d_relu_max_pool2d", "cross_entropy", "div", "dropout", "dropout2d",
    "eq", "exp", "expand", "flatten", "ge", "getitem", "gt", "le", "leaky_relu", "linear", "log", "log_softmax",
    "lt", "matmul", "max", "max_pool2d", "maximum", "mean", "min", "minimum", "mse_loss", "mul", "ne", "neg",
    "nll_loss", "pad", "permute", "pow", "relu", "relu_max_pool2d", "reshape", "sigmoid", "softmax", "sqrt",
    "squeeze", "stack", "std", "sub", "sum", "tanh", "topk", "transpose", "unsqueeze", "var", "view", "where",
]
