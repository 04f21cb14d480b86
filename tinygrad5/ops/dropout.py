"""Dropout as one op: the mask is drawn inside forward, so a replayed step (tinygrad5.jit) draws anew."""
from __future__ import annotations

import numpy as np

from ..random import get_rng
from ..tensor import Function


class Dropout(Function):
    """x times a mask of 0 and 1/(1-p) (shaped mask_shape, broadcast over x), from the global generator.

    The same values, gradients and generator draws as multiplying by the mask as a second tensor.
    """

    def forward(self, x, p=0.5, mask_shape=None):
        shape = x.shape if mask_shape is None else mask_shape
        if p == 1.0:
            mask = np.zeros(shape, x.dtype)
        else:
            mask = (get_rng().random(shape) >= p).astype(x.dtype)
            mask *= 1.0 / (1.0 - p)
        self.mask = mask
        return x * mask

    def backward(self, g):
        return g * self.mask
