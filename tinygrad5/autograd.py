"""`tinygrad5.autograd`: torch's legacy `Variable` (a Tensor) and `grad` with respect to leaf tensors."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .tensor import Tensor, _to_array


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:  # noqa: N802
    """torch's old wrapper: today just a Tensor sharing data's array, with requires_grad as given."""
    if volatile:
        raise ValueError("Variable(volatile=True) was removed from torch; use tinygrad5.no_grad()")
    t = Tensor._make(data.data) if isinstance(data, Tensor) else Tensor(data)
    return t.requires_grad_(requires_grad) if requires_grad else t


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor], grad_outputs: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False, allow_unused: bool | None = None,
         ) -> tuple[Tensor | None, ...]:
    """d(sum of outputs)/d(inputs) for leaf inputs, returned rather than accumulated into `.grad`
    (which is left as it was). Intermediate tensors as inputs and create_graph are not supported."""
    if create_graph:
        raise NotImplementedError("grad(create_graph=True): tinygrad5 has no higher-order gradients")
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for t in ins:
        if not isinstance(t, Tensor) or t._ctx is not None or not t.requires_grad:
            raise RuntimeError("grad(): every input must be a leaf tensor that requires grad (tinygrad5 keeps "
                               "no gradients of intermediate tensors)")
    gouts = [None] * len(outs) if grad_outputs is None else (
        [grad_outputs] if isinstance(grad_outputs, (Tensor, np.ndarray)) else list(grad_outputs))
    if len(gouts) != len(outs):
        raise ValueError(f"grad(): {len(gouts)} grad_outputs for {len(outs)} outputs")
    leaves = {id(t): t for t in ins}
    leaves.update(_leaves(outs))  # backward() accumulates into every leaf: all are put back afterwards
    saved = {k: t.grad for k, t in leaves.items()}
    try:
        for t in leaves.values():
            t.grad = None
        for i, (o, g) in enumerate(zip(outs, gouts)):
            keep = bool(retain_graph) or i < len(outs) - 1
            o.backward(None if g is None else _to_array(g), retain_graph=keep)
        result = tuple(t.grad for t in ins)
    finally:
        for k, t in leaves.items():
            t.grad = saved[k]
    if not allow_unused and any(r is None for r in result):
        raise RuntimeError("grad(): an input was not used to compute the outputs; pass allow_unused=True")
    return result


def _leaves(outs: list[Tensor]) -> dict[int, Tensor]:
    """The leaf tensors requiring grad that the outputs' graphs reach."""
    found: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack = [o for o in outs if o._ctx is not None]
    while stack:
        ctx = stack.pop()._ctx
        if id(ctx) in seen or ctx.parents is None:
            continue
        seen.add(id(ctx))
        for p in ctx.parents:
            if p._ctx is not None:
                stack.append(p)
            elif p.requires_grad:
                found[id(p)] = p
    return found
