"""Vectorisable elementary functions for the kernels: exp of non-positive arguments, sigmoid.

numba has no vector exp here (no SVML), so a loop that calls math.exp runs one scalar libm call per
element (~4.6 ns).  These are plain arithmetic that LLVM vectorises inside the callers' loops.
Each is overloaded on the float type: float32 gets the polynomial, float64 libm's exp (float64 is
the checking dtype, not the fast path).
"""
from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import int_bits_as_float32, njit

# exp for float32 arguments <= 0 (softmax's z - max, the sigmoid's -|x|) in plain arithmetic, so
# that LLVM vectorises the caller's loop: with a scalar expf call per logit the MLP's 32 x 36
# softmax took 5.7 us, with this ~3 us.  Cephes' expf: x = n ln2 + r with
# |r| <= ln2/2, e^r by a degree-7 polynomial, 2^n by writing n into the exponent bits; max
# relative error 6e-8 (1 ulp).  Below ln(FLT_MIN) = -87.34 the result would be subnormal: 0.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_EXP_MIN = np.float32(-87.33654)
_P = tuple(np.float32(v) for v in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                    4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))


@njit(inline="always", fastmath={"contract"})
def _expf_nonpos(x):
    """e^x for float32 x <= 0 (NaN stays NaN), vectorisable."""
    xc = x if x > _EXP_MIN else _EXP_MIN
    n = np.floor(xc * _LOG2E + np.float32(0.5))  # float32 (math.floor would give an int64)
    r = xc - n * _LN2_HI - n * _LN2_LO
    p = ((((_P[0] * r + _P[1]) * r + _P[2]) * r + _P[3]) * r + _P[4]) * r + _P[5]
    e = (p * r * r + r + np.float32(1.0)) * int_bits_as_float32((np.int32(n) + 127) << 23)
    return e if x >= _EXP_MIN else (np.float32(0.0) if x < _EXP_MIN else x)


def exp_nonpos(x):
    """e^x for x <= 0: the polynomial above for float32, libm's exp for float64."""
    return math.exp(x)


@overload(exp_nonpos, inline="always")
def _exp_nonpos_impl(x):
    if x == types.float32:
        return lambda x: _expf_nonpos(x)
    return lambda x: math.exp(x)


def one(x):
    """1 in x's own float type (a bare 1 or 1.0 would promote float32 arithmetic to float64)."""
    return 1.0


@overload(one, inline="always")
def _one_impl(x):
    if x == types.float32:
        return lambda x: np.float32(1.0)
    return lambda x: 1.0


@njit(inline="always")
def reciprocal(s):
    """1 / s in s's own float type."""
    return one(s) / s


@njit(inline="always", fastmath={"contract"})
def sigmoid(x):
    """1 / (1 + e^-x) from e = e^-|x| (never overflows): 1/(1+e) for x >= 0, e/(1+e) below; NaN stays NaN."""
    e = exp_nonpos(-abs(x))
    r = reciprocal(e + one(e))
    return r if x >= 0 else e * r
