"""Matrix product with numpy's rules for 1-D, 2-D and batched operands."""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..tensor import Function, Tensor, as_tensor
from .movement import reshape

# Activations `linear` can apply inside its node (nn.Sequential uses this for Linear + Sigmoid/ReLU).
ACTIVATIONS = (None, "sigmoid", "relu")


class MatMul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.be = _backend.current()
        return self.be.matmul(a, b)

    def backward(self, g):
        pa, pb = self.parents
        mm = self.be.matmul
        # batched dims broadcast: the engine sums gradients over them
        ga = mm(g, np.swapaxes(self.b, -1, -2)) if pa.requires_grad else None
        gb = mm(np.swapaxes(self.a, -1, -2), g) if pb.requires_grad else None
        return ga, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b: 1-D operands are promoted to a row / column and the added dim removed after."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs operands with at least 1 dim, got shapes {a.shape} and {b.shape}")
    sa, sb = a.shape, b.shape
    ka, kb = sa[-1], (sb[0] if b.ndim == 1 else sb[-2])
    if ka != kb:
        raise ValueError(f"matmul shapes {sa} and {sb} do not align: {ka} != {kb}")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul batch dims of {sa} and {sb} do not broadcast") from None
    if (a.data.dtype.kind == "f") != (b.data.dtype.kind == "f"):  # torch refuses; numpy would widen to float64
        raise TypeError(f"matmul of dtypes {a.data.dtype} {sa} and {b.data.dtype} {sb}: convert the integer "
                        "operand with .float() (or .double()) first")
    a2 = reshape(a, 1, ka) if a.ndim == 1 else a
    b2 = reshape(b, kb, 1) if b.ndim == 1 else b
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        out = reshape(out, out.shape[:-1])
    return out


class Linear(Function):
    """x @ w.T + b in one node: the layer every model here runs each batch.

    With activation="sigmoid" or "relu" the node also applies it, in place on the fresh product
    (nobody else can see the pre-activation): one node and one array fewer than two ops.
    """

    def forward(self, x, w, b=None, activation=None):
        self.be = _backend.current()
        # (..., in) inputs run as one (rows, in) product; plain 2-D ones skip the reshapes
        self.x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        self.w, self.shape = w, x.shape
        out, self.cache = self.be.linear_forward(self.x2, w, b, activation)
        return out if x.ndim == 2 else out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        want_bias = len(self.parents) == 3 and self.parents[2].requires_grad
        g2, gb = self.be.bias_act_backward(g2, self.cache, want_bias)
        px, pw = self.parents[0], self.parents[1]
        mm = self.be.matmul
        gx = None
        if px.requires_grad:
            gx = mm(g2, self.w)
            gx = gx if len(self.shape) == 2 else gx.reshape(self.shape)
        gw = None
        if pw.requires_grad:
            w = self.w
            wf = w.flags
            if wf.f_contiguous and not wf.c_contiguous and self.x2.dtype == g2.dtype == w.dtype:
                # A column-major weight (nn.Linear stores wide-input ones so) gets a column-major
                # gradient, written as the row-major x.T @ g: the optimizer then updates like with
                # like, and the engine hands the fresh array to the leaf without a copy.
                gw = np.empty(w.shape, w.dtype, order="F")
                mm(self.x2.T, g2, out=gw.T)
            else:
                gw = mm(g2.T, self.x2)
        return (gx, gw) if len(self.parents) == 2 else (gx, gw, gb)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None) -> Tensor:
    """x @ weight.T + bias with weight (out, in), as torch.nn.functional.linear; x may be (..., in).

    activation="sigmoid" or "relu" applies it in the same node (same values as calling it after).
    """
    x, w = as_tensor(x), as_tensor(weight)
    xs, ws = x.data.shape, w.data.shape  # checked on the arrays: this runs for every layer, every step
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        raise ValueError(f"linear: input {xs} does not fit weight {ws} (out, in)")
    if x.data.dtype.kind != "f":  # numpy would make the product, and then the whole model, float64
        raise TypeError(f"linear: input dtype {x.data.dtype} does not match weight dtype {w.data.dtype}; "
                        "convert the input with .float() (or .double()) first")
    if activation not in ACTIVATIONS:
        raise ValueError(f"linear: activation must be one of {ACTIVATIONS}, got {activation!r}")
    if bias is None:
        return Linear.apply(x, w, activation=activation)
    b = as_tensor(bias)
    if b.data.shape != (ws[0],):
        raise ValueError(f"linear: bias shape {b.data.shape} should be ({ws[0]},)")
    return Linear.apply(x, w, b, activation=activation)
