"""Every op in one table, and the Tensor methods and operators built from it.

`OP_TABLE` maps each public op name to its functional form and whether it has a gradient; the
gradient tests iterate it, and fail for any differentiable op without a gradient case.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from ..tensor import Tensor
from . import activation, conv, elementwise, loss, matmul, movement, reduce
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .conv import conv2d, conv2d_relu_max_pool2d, max_pool2d, relu_max_pool2d
from .elementwise import (abs, add, cast, clip, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne,
                          neg, pow, sqrt, sub, where)
from .loss import cross_entropy, mse_loss
from .matmul import linear, matmul
from .movement import (broadcast_to, cat, expand, flatten, getitem, pad, permute, reshape, squeeze, stack,
                       transpose, unsqueeze, view)
from .reduce import argmax, max, mean, min, sum, var


class OpInfo(NamedTuple):
    fn: Callable[..., Tensor]
    differentiable: bool = True


OP_TABLE: dict[str, OpInfo] = {name: OpInfo(fn) for name, fn in {
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg,
    "matmul": matmul, "linear": linear, "exp": exp, "log": log, "sqrt": sqrt, "abs": abs,
    "maximum": maximum, "minimum": minimum, "clip": clip, "where": where,
    "sum": sum, "mean": mean, "max": max, "min": min, "var": var,
    "reshape": reshape, "flatten": flatten, "transpose": transpose, "permute": permute,
    "expand": expand, "squeeze": squeeze, "unsqueeze": unsqueeze, "getitem": getitem,
    "cat": cat, "stack": stack, "pad": pad, "cast": cast,
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "softmax": softmax, "log_softmax": log_softmax,
    "cross_entropy": cross_entropy, "mse_loss": mse_loss,
    "conv2d": conv2d, "max_pool2d": max_pool2d, "relu_max_pool2d": relu_max_pool2d,
    "conv2d_relu_max_pool2d": conv2d_relu_max_pool2d,
}.items()}
OP_TABLE.update({name: OpInfo(fn, False) for name, fn in {
    "lt": lt, "le": le, "gt": gt, "ge": ge, "eq": eq, "ne": ne, "argmax": argmax}.items()})


def _rev(fn: Callable) -> Callable:
    return lambda self, other: fn(other, self)


def _axis_kw(fn: Callable) -> Callable:
    """Accept torch's dim=/keepdim= spelling beside numpy's axis=/keepdims=."""
    def method(self: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: bool | None = None, **kw: Any) -> Tensor:
        return fn(self, dim if dim is not None else axis, keepdim if keepdim is not None else keepdims, **kw)
    method.__doc__ = fn.__doc__
    return method


_METHODS: dict[str, Callable] = {
    "__add__": add, "__radd__": _rev(add), "__sub__": sub, "__rsub__": _rev(sub),
    "__mul__": mul, "__rmul__": _rev(mul), "__truediv__": div, "__rtruediv__": _rev(div),
    "__pow__": pow, "__rpow__": _rev(pow), "__neg__": neg, "__matmul__": matmul, "__rmatmul__": _rev(matmul),
    "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge, "__eq__": eq, "__ne__": ne,
    "__getitem__": getitem, "__abs__": abs,
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "matmul": matmul,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "maximum": maximum, "minimum": minimum,
    "clip": clip, "clamp": clip, "sum": _axis_kw(sum), "mean": _axis_kw(mean), "max": _axis_kw(max),
    "min": _axis_kw(min), "var": _axis_kw(var), "argmax": _axis_kw(argmax),
    "reshape": reshape, "view": view, "flatten": flatten, "transpose": transpose, "permute": permute,
    "expand": expand, "broadcast_to": broadcast_to, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "pad": pad, "astype": cast, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
    "softmax": softmax, "log_softmax": log_softmax,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))), doc="All dims reversed.")
Tensor.float = lambda self: cast(self, "float32")
Tensor.double = lambda self: cast(self, "float64")
