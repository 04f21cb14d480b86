"""batch_norm: normalise each channel (axis 1) by batch or running statistics, then scale and shift.

Like torch.nn.functional.batch_norm: in training mode the batch's mean and biased variance
normalise x (the gradient flows through them) and the running statistics, when given, are updated
in place with the unbiased variance; otherwise the running statistics normalise x as constants.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Function, Tensor, as_tensor


class BatchNorm(Function):
    def forward(self, x, *wb, mean=None, var=None, has_w=False, has_b=False, batch_stats=True, eps=1e-5):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        invstd = 1.0 / np.sqrt(var.reshape(shape) + np.asarray(eps, x.dtype))
        xhat = (x - mean.reshape(shape)) * invstd
        w = wb[0].reshape(shape) if has_w else None
        out = xhat * w if has_w else xhat.copy()
        if has_b:
            out += wb[-1].reshape(shape)
        self.xhat, self.invstd, self.w, self.axes = xhat, invstd, w, axes
        self.has_w, self.has_b, self.batch_stats = has_w, has_b, batch_stats
        return out

    def backward(self, g):
        xhat, axes = self.xhat, self.axes
        gxhat = g * self.w if self.has_w else g
        if self.batch_stats:  # through the batch mean and variance as well
            m = gxhat.mean(axis=axes, keepdims=True)
            mx = (gxhat * xhat).mean(axis=axes, keepdims=True)
            gx = (gxhat - m - xhat * mx) * self.invstd
        else:
            gx = gxhat * self.invstd
        grads = [gx]
        if self.has_w:
            grads.append((g * xhat).sum(axis=axes) if self.parents[1].requires_grad else None)
        if self.has_b:
            grads.append(g.sum(axis=axes) if self.parents[-1].requires_grad else None)
        return tuple(grads)


def _array(t: Any) -> np.ndarray | None:
    return None if t is None else (t.data if isinstance(t, Tensor) else np.asarray(t))


def batch_norm(input: Tensor, running_mean: Any = None, running_var: Any = None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, ...) per channel; torch.nn.functional.batch_norm's arguments and numbers.

    momentum is the weight of the batch in the running update (nn.BatchNorm*(momentum=None) passes
    1/num_batches_tracked here for a cumulative average).
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs input of shape (N, C, ...), got {x.shape}")
    c = x.shape[1]
    rm, rv = _array(running_mean), _array(running_var)
    for name, a in (("running_mean", rm), ("running_var", rv)):
        if a is not None and a.shape != (c,):
            raise ValueError(f"batch_norm: {name} has shape {a.shape}, input {x.shape} has {c} channels")
    operands, flags = [x], {}
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            t = as_tensor(t)
            if t.shape != (c,):
                raise ValueError(f"batch_norm: {name} has shape {t.shape}, input {x.shape} has {c} channels")
            operands.append(t)
        flags["has_w" if name == "weight" else "has_b"] = t is not None
    if x.data.dtype.kind != "f":
        raise TypeError(f"batch_norm needs a float input, got dtype {x.dtype}")
    if not training:
        if rm is None or rv is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        dt = x.data.dtype
        return BatchNorm.apply(*operands, mean=rm.astype(dt, copy=False), var=rv.astype(dt, copy=False),
                               batch_stats=False, eps=eps, **flags)
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.data.size // max(c, 1)
    if count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
    mean = x.data.mean(axis=axes)
    var = x.data.var(axis=axes)  # biased, as torch normalises with
    if rm is not None and rv is not None:
        if momentum is None:
            raise ValueError("batch_norm: momentum must be a number (nn.BatchNorm* turns momentum=None "
                             "into 1/num_batches_tracked)")
        m = float(momentum)
        rm *= 1 - m
        rm += (m * mean).astype(rm.dtype, copy=False)
        rv *= 1 - m
        rv += (m * var * (count / (count - 1))).astype(rv.dtype, copy=False)
    return BatchNorm.apply(*operands, mean=mean, var=var, batch_stats=True, eps=eps, **flags)
