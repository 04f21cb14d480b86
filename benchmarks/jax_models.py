"""JAX CPU twins of the homework models: the same step (forward, loss, gradients, SGD with torch's
momentum rule) compiled whole by `jax.jit`, loaded with tinygrad5's initial weights.

Optional: `pip install -e ".[jax]"`; without jax the contender is skipped. jax is imported lazily.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def available() -> bool:
    """True when jax imports."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def _forward(model: str, p: dict[str, Any], x: Any) -> Any:
    import jax
    import jax.numpy as jnp

    def lin(h: Any, i: int) -> Any:
        return h @ p[f"{i}.weight"].T + p[f"{i}.bias"]
    if model == "mlp":
        return lin(jax.nn.sigmoid(lin(x, 0)), 2)
    if model == "autoencoder":
        h = jax.nn.relu(lin(x, 0))
        h = jax.nn.relu(lin(h, 2))
        h = jax.nn.relu(lin(h, 4))
        return jax.nn.sigmoid(lin(h, 6))

    def conv_relu_pool(h: Any, i: int) -> Any:
        h = jax.lax.conv_general_dilated(h, p[f"{i}.weight"], (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = jax.nn.relu(h + p[f"{i}.bias"][None, :, None, None])
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    h = conv_relu_pool(conv_relu_pool(x, 0), 3).reshape(x.shape[0], -1)
    return lin(jax.nn.relu(lin(h, 7)), 9)


class Trainer:
    """`step(x, y) -> float`: one jitted SGD step on numpy arrays, the loss read as a Python number."""

    def __init__(self, model: str, weights: dict[str, np.ndarray], lr: float, momentum: float, loss: str) -> None:
        import jax
        import jax.numpy as jnp
        self.params = {k: jnp.asarray(np.array(v, dtype=np.float32)) for k, v in weights.items()}
        self.bufs = {k: jnp.zeros_like(v) for k, v in self.params.items()}
        self.first = True

        def loss_fn(params: dict[str, Any], x: Any, y: Any) -> Any:
            out = _forward(model, params, x)
            if loss == "sse":
                return jnp.sum((out - x) ** 2)
            logp = jax.nn.log_softmax(out, axis=1)
            nll = -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
            return jnp.sum(nll) if loss == "ce_sum" else jnp.mean(nll)

        def step(params: dict[str, Any], bufs: dict[str, Any], x: Any, y: Any, first: bool) -> Any:
            value, grads = jax.value_and_grad(loss_fn)(params, x, y)
            # torch's momentum: the first buffer is the gradient itself
            bufs = {k: grads[k] if first else momentum * bufs[k] + grads[k] for k in params}
            step_dir = bufs if momentum else grads
            return {k: params[k] - lr * step_dir[k] for k in params}, bufs, value
        self._step = jax.jit(step, static_argnums=4)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One SGD step; returns the loss."""
        self.params, self.bufs, value = self._step(self.params, self.bufs, x, y.astype(np.int32), self.first)
        self.first = False
        return float(value)
