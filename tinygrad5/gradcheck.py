"""Numerical gradient checking by central differences in float64."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree."""


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, full_jacobian_max: int = 64, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Compare fn's analytic gradients with central differences, in float64.

    Inputs that are float Tensors with requires_grad are checked. When they hold at most
    `full_jacobian_max` elements in all, every Jacobian entry is compared; otherwise a random
    projection uᵀJv is, for random directions u and v. On mismatch it raises (or returns False)
    naming the worst element with its analytic and numeric values.
    """
    # float64 inputs are used as they are (views stay views, so non-contiguous layouts are checked)
    xs = [Tensor(x.data.astype(np.float64, copy=False), requires_grad=x.requires_grad)
          if isinstance(x, Tensor) and x.dtype.kind == "f" else x for x in inputs]
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck needs at least one float Tensor input with requires_grad=True")
    rng = np.random.default_rng(seed)

    def run() -> np.ndarray:
        with no_grad():
            return np.array(fn(*xs).data, dtype=np.float64)

    out = fn(*xs)
    if not out.requires_grad:
        raise ValueError("gradcheck: the function's output does not depend on the checked inputs")
    n_in = sum(xs[i].data.size for i in checked)
    if n_in <= full_jacobian_max:
        return _full(xs, checked, out, run, eps, atol, rtol, raise_exception)
    return _projected(xs, checked, out, run, rng, eps, atol, rtol, raise_exception)


def _report(what: str, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float,
            raise_exception: bool) -> bool:
    err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if analytic.shape != numeric.shape or not np.all(np.isfinite(analytic)):
        worst = None
    elif err.size == 0 or err.max() <= 0:
        return True
    else:
        worst = np.unravel_index(np.argmax(err), err.shape)
    msg = (f"gradcheck failed for {what}: " + ("non-finite or misshaped analytic gradient" if worst is None
           else f"worst element {tuple(int(i) for i in worst)}: analytic {analytic[worst]:.8g} "
                f"vs numeric {numeric[worst]:.8g}"))
    if raise_exception:
        raise GradcheckError(msg)
    return False


def _full(xs, checked, out, run, eps, atol, rtol, raise_exception) -> bool:
    """Every Jacobian entry: rows by backward with one-hot output gradients, columns by differences."""
    y0 = out.data
    for i in checked:
        x = xs[i]
        analytic = np.zeros((y0.size, x.data.size))
        for k in range(y0.size):
            x.grad = None
            onehot = np.zeros(y0.size)
            onehot[k] = 1.0
            out.backward(onehot.reshape(y0.shape), retain_graph=True)
            if x.grad is not None:
                analytic[k] = x.grad.data.ravel()
        numeric = np.zeros_like(analytic)
        for j in range(x.data.size):
            at = np.unravel_index(j, x.shape)  # perturb in place, whatever the memory layout
            orig = x.data[at]
            x.data[at] = orig + eps
            up = run()
            x.data[at] = orig - eps
            down = run()
            x.data[at] = orig
            numeric[:, j] = ((up - down) / (2 * eps)).ravel()
        x.grad = None
        if not _report(f"input {i} (Jacobian row=output, col=input)", analytic, numeric, atol, rtol,
                       raise_exception):
            return False
    return True


def _projected(xs, checked, out, run, rng, eps, atol, rtol, raise_exception) -> bool:
    """uᵀJv for one random output direction u and, per input, a random input direction v."""
    u = rng.standard_normal(out.shape)
    for i in checked:
        xs[i].grad = None
    out.backward(u, retain_graph=True)
    for i in checked:
        x = xs[i]
        v = rng.standard_normal(x.shape)
        analytic = np.array([0.0 if x.grad is None else float((x.grad.data * v).sum())])
        base = x.data.copy()
        x.data[...] = base + eps * v
        up = float((run() * u).sum())
        x.data[...] = base - eps * v
        down = float((run() * u).sum())
        x.data[...] = base
        numeric = np.array([(up - down) / (2 * eps)])
        scale = max(1.0, float(np.abs(u).sum()))
        if not _report(f"input {i} (projection uᵀJv)", analytic, numeric, atol * scale, rtol, raise_exception):
            return False
        x.grad = None
    return True
