"""Every op in one table, and the Tensor methods and operators built from it.

`OP_TABLE` maps each public op name to its functional form and whether it has a gradient; the
gradient tests iterate it, and fail for any differentiable op without a gradient case.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from ..tensor import Tensor
from . import activation, conv, elementwise, loss, matmul, movement, reduce, select
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .conv import conv2d, conv2d_relu_max_pool2d, max_pool2d, relu_max_pool2d
from .elementwise import (abs, add, cast, clip, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne,
                          neg, pow, sqrt, sub, where)
from .loss import cross_entropy, mse_loss
from .matmul import linear, matmul
from .movement import (broadcast_to, cat, clone, expand, flatten, getitem, pad, permute, reshape, squeeze, stack,
                       transpose, unsqueeze, view)
from .nll import nll_loss
from .normalization import batch_norm
from .pool import avg_pool2d
from .reduce import amax, amin, argmax, argmin, mean, std, sum, var
from .select import max, min, topk


class OpInfo(NamedTuple):
    fn: Callable[..., Tensor]
    differentiable: bool = True


OP_TABLE: dict[str, OpInfo] = {name: OpInfo(fn) for name, fn in {
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg,
    "matmul": matmul, "linear": linear, "exp": exp, "log": log, "sqrt": sqrt, "abs": abs,
    "maximum": maximum, "minimum": minimum, "clip": clip, "where": where,
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin, "var": var, "std": std,
    "topk": topk, "clone": clone,
    "reshape": reshape, "flatten": flatten, "transpose": transpose, "permute": permute,
    "expand": expand, "squeeze": squeeze, "unsqueeze": unsqueeze, "getitem": getitem,
    "cat": cat, "stack": stack, "pad": pad, "cast": cast,
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "softmax": softmax, "log_softmax": log_softmax,
    "cross_entropy": cross_entropy, "mse_loss": mse_loss,
    "conv2d": conv2d, "max_pool2d": max_pool2d, "relu_max_pool2d": relu_max_pool2d,
    "conv2d_relu_max_pool2d": conv2d_relu_max_pool2d,
}.items()}
OP_TABLE.update({name: OpInfo(fn) for name, fn in {
    "batch_norm": batch_norm, "avg_pool2d": avg_pool2d, "nll_loss": nll_loss}.items()})
OP_TABLE.update({name: OpInfo(fn, False) for name, fn in {
    "lt": lt, "le": le, "gt": gt, "ge": ge, "eq": eq, "ne": ne, "argmax": argmax,
    "argmin": argmin}.items()})


def _rev(fn: Callable) -> Callable:
    return lambda self, other: fn(other, self)


_METHODS: dict[str, Callable] = {
    "__add__": add, "__radd__": _rev(add), "__sub__": sub, "__rsub__": _rev(sub),
    "__mul__": mul, "__rmul__": _rev(mul), "__truediv__": div, "__rtruediv__": _rev(div),
    "__pow__": pow, "__rpow__": _rev(pow), "__neg__": neg, "__matmul__": matmul, "__rmatmul__": _rev(matmul),
    "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge, "__eq__": eq, "__ne__": ne,
    "__getitem__": getitem, "__abs__": abs,
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "matmul": matmul,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "maximum": maximum, "minimum": minimum,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    # reductions take torch's dim/keepdim (positional too) or numpy's axis=/keepdims=
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin, "var": var, "std": std,
    "argmax": argmax, "argmin": argmin, "topk": topk, "clone": clone,
    "reshape": reshape, "view": view, "flatten": flatten, "transpose": transpose, "permute": permute,
    "expand": expand, "broadcast_to": broadcast_to, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "pad": pad, "astype": cast, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "softmax": softmax, "log_softmax": log_softmax,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))), doc="All dims reversed.")
# clamp/clip, dtype conversions and the other torch conveniences: tinygrad5/torch_compat.py
