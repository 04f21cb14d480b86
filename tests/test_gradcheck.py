"""gradcheck itself: it passes correct gradients and catches wrong ones, in both modes."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad5 as tg
from tinygrad5.tensor import Function


class WrongSquare(Function):
    """x**2 with a deliberately wrong gradient (x instead of 2x)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return g * self.a


@pytest.mark.parametrize("n", [3, 100])  # full Jacobian, then the projected check
def test_catches_a_wrong_gradient(n):
    x = tg.Tensor(np.linspace(0.5, 1.5, n), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"analytic .* vs numeric"):
        tg.gradcheck(lambda t: WrongSquare.apply(t), x)
    assert tg.gradcheck(lambda t: WrongSquare.apply(t), x, raise_exception=False) is False
    assert tg.gradcheck(lambda t: t * t, x)


def test_checks_float32_inputs_in_float64():
    x = tg.Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    w = tg.Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    assert tg.gradcheck(lambda a, b, c: (a @ b).sigmoid() * c, x, w, 2.0)


def test_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        tg.gradcheck(lambda t: t * 2, tg.Tensor([1.0]))
