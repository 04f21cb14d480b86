"""Every differentiable op in OP_TABLE: analytic gradients match central differences in float64.

GRAD_CASES maps op name -> hypothesis strategy of (function, inputs, gradcheck kwargs). Inputs are
random shapes of 0-4 dims, broadcastable pairs, and often non-contiguous views, with values kept away
from kinks and ties. The ops that go through a backend are checked under both backends.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad5 as tg
from tinygrad5.ops import OP_TABLE
from tests.strategies import arrays, broadcastable_shapes, distinct, shapes

F = tg.ops
BACKEND_OPS = {"matmul", "linear", "conv2d", "max_pool2d", "relu_max_pool2d", "conv2d_relu_max_pool2d",
               "cross_entropy", "relu"}


def T(a: np.ndarray) -> tg.Tensor:
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@st.composite
def grid_arrays(draw, shape, offset=0.0):
    """Values on a 0.5 grid (+offset) with tiny jitter: two grids 0.25 apart never tie or cross."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(-4, 5, size=shape) * 0.5 + offset + rng.uniform(-0.02, 0.02, size=shape)


def unary(fn, low=-2.0, high=2.0, away_from=None, min_dims=0):
    return arrays(shapes(min_dims=min_dims), low=low, high=high, away_from=away_from).map(
        lambda a: (fn, [T(a)], {}))


@st.composite
def binary(draw, fn, low=-2.0, high=2.0, b_low=None, b_high=None):
    sa, sb = draw(broadcastable_shapes(2))
    a = draw(arrays(sa, low=low, high=high))
    b = draw(arrays(sb, low=b_low if b_low is not None else low, high=b_high if b_high is not None else high))
    return fn, [T(a), T(b)], {}


@st.composite
def separated_pair(draw, fn):
    sa, sb = draw(broadcastable_shapes(2))
    return fn, [T(draw(grid_arrays(sa))), T(draw(grid_arrays(sb, 0.25)))], {}


@st.composite
def reduction(draw, fn, ties_free=False, min_count=1):
    shape = draw(shapes(min_dims=1, min_side=min_count))
    a = draw(arrays(shape))
    if ties_free:
        a = distinct(a, 0.05)
    ndim = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)))
    keep = draw(st.booleans())
    axes = range(ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    if int(np.prod([shape[i] for i in axes])) < min_count:
        axis = None
    return (lambda x: fn(x, axis, keep)), [T(a)], {}


@st.composite
def matmul_case(draw):
    kind = draw(st.sampled_from(["1x1", "1x2", "2x1", "2x2", "batched", "broadcast"]))
    n, k, m, b = (draw(st.integers(1, 4)) for _ in range(4))
    sa, sb = {"1x1": ((k,), (k,)), "1x2": ((k,), (k, m)), "2x1": ((n, k), (k,)), "2x2": ((n, k), (k, m)),
              "batched": ((b, n, k), (b, k, m)), "broadcast": ((b, 1, n, k), (2, k, m))}[kind]
    return F.matmul, [T(draw(arrays(sa))), T(draw(arrays(sb)))], {}


@st.composite
def linear_case(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    din, dout = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ins = [T(draw(arrays(lead + (din,)))), T(draw(arrays((dout, din))))]
    if draw(st.booleans()):
        ins.append(T(draw(arrays((dout,)))))
    act = draw(st.sampled_from([None, "sigmoid", "relu"]))  # the fused activations (nn.Sequential)
    if act == "relu":  # keep the pre-activation away from ReLU's kink at 0
        z = F.linear(*[tg.Tensor(t.data) for t in ins]).data
        if np.abs(z).min() < 1e-3:
            act = None
    return (lambda *a: F.linear(*a, activation=act)), ins, {}


@st.composite
def movement(draw, name):
    shape = draw(shapes(min_dims=1))
    a = T(draw(arrays(shape)))
    nd = len(shape)
    if name == "reshape":
        return (lambda x: F.reshape(x, (-1,) + shape[::-1][1:])), [a], {}
    if name == "flatten":
        s = draw(st.integers(0, nd - 1))
        e = draw(st.integers(s, nd - 1))
        return (lambda x: F.flatten(x, s, e)), [a], {}
    if name == "transpose":
        i, j = draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))
        return (lambda x: F.transpose(x, i, j)), [a], {}
    if name == "permute":
        order = draw(st.permutations(range(nd)))
        return (lambda x: F.permute(x, *order)), [a], {}
    if name == "expand":
        target = tuple(n if n != 1 else draw(st.integers(1, 3)) for n in shape)
        lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
        return (lambda x: F.expand(x, lead + target)), [a], {}
    if name == "squeeze":
        dim = draw(st.one_of(st.none(), st.integers(-nd, nd - 1)))
        return (lambda x: F.squeeze(x, dim)), [a], {}
    if name == "unsqueeze":
        dim = draw(st.integers(-nd - 1, nd))
        return (lambda x: F.unsqueeze(x, dim)), [a], {}
    if name == "getitem":
        if draw(st.booleans()):  # basic: slices and an int
            idx = tuple(slice(draw(st.integers(0, n - 1)), None, draw(st.integers(1, 2))) for n in shape)
            if draw(st.booleans()):
                idx = (draw(st.integers(-shape[0], shape[0] - 1)),) + idx[1:]
        else:  # integer arrays, with repeats, along the first dim
            idx = np.array(draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6)))
        return (lambda x: x[idx]), [a], {}
    raise KeyError(name)


@st.composite
def joined(draw, fn):
    shape = draw(shapes(min_dims=1, max_dims=3))
    axis = draw(st.integers(0, len(shape) - 1))
    count = draw(st.integers(1, 3))
    ins = []
    for _ in range(count):
        s = list(shape)
        if fn is F.cat:
            s[axis] = draw(st.integers(1, 3))
        ins.append(T(draw(arrays(tuple(s)))))
    return (lambda *xs: fn(list(xs), axis)), ins, {}


@st.composite
def pad_case(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    widths = [draw(st.integers(0, 2)) for _ in range(2 * draw(st.integers(1, len(shape))))]
    return (lambda x: F.pad(x, widths, value=0.5)), [T(draw(arrays(shape)))], {}


@st.composite
def where_case(draw):
    sc, sa, sb = draw(broadcastable_shapes(3))
    cond = draw(arrays(sc)) > 0
    return (lambda a, b: F.where(cond, a, b)), [T(draw(arrays(sa))), T(draw(arrays(sb)))], {}


@st.composite
def softmax_case(draw, fn):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return (lambda x: fn(x, axis)), [T(draw(arrays(shape, low=-5, high=5)))], {}


@st.composite
def cross_entropy_case(draw):
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    logits = T(draw(arrays((n, c), low=-4, high=4)))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    red = draw(st.sampled_from(["mean", "sum", "none"]))
    kind = draw(st.sampled_from(["index", "onehot", "soft"]))
    if kind == "onehot":
        target = np.eye(c)[labels]
    elif kind == "soft":
        p = draw(arrays((n, c), low=0.1, high=1.0))
        target = p / p.sum(axis=1, keepdims=True)
    else:
        target = labels
    return (lambda x: F.cross_entropy(x, target, red)), [logits], {}


@st.composite
def mse_case(draw):
    shape = draw(shapes())
    red = draw(st.sampled_from(["mean", "sum", "none"]))
    return (lambda a, b: F.mse_loss(a, b, red)), [T(draw(arrays(shape))), T(draw(arrays(shape)))], {}


@st.composite
def conv_case(draw):
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(max(kh - 2 * padding, 1), 6)), draw(st.integers(max(kw - 2 * padding, 1), 6))
    ins = [T(draw(arrays((n, c, h, w)))), T(draw(arrays((o, c, kh, kw))))]
    if draw(st.booleans()):
        ins.append(T(draw(arrays((o,)))))
    return (lambda x, wt, b=None: F.conv2d(x, wt, b, stride, padding)), ins, {}


@st.composite
def pool_case(draw):
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(k, 7)), draw(st.integers(k, 7)))
    return (lambda x: F.max_pool2d(x, k, s)), [T(distinct(draw(arrays(shape)), 0.05))], {}


@st.composite
def relu_pool_case(draw):
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(k, 7)), draw(st.integers(k, 7)))
    a = distinct(draw(arrays(shape)), 0.05)
    a = a + np.where(a >= 0, 0.1, -0.1)  # no ties, and no value near ReLU's kink (order is kept)
    return (lambda x: F.relu_max_pool2d(x, k, s)), [T(a)], {}


@st.composite
def conv_relu_pool_case(draw):
    # Even conv outputs and 2+ samples: the numba backend's fused per-sample path (with 2 threads);
    # odd ones run conv2d, then the ReLU-pool, one by one.  Random real weights keep the conv
    # outputs off ReLU's kink and off ties.
    n, c, o, k, padding = (draw(st.integers(lo, hi)) for lo, hi in ((1, 3), (1, 2), (1, 3), (1, 3), (0, 1)))
    oh, ow = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    padding = min(padding, (oh + k - 2) // 2, (ow + k - 2) // 2)  # the input keeps a side >= 1
    h, w = oh + k - 1 - 2 * padding, ow + k - 1 - 2 * padding
    ins = [T(draw(arrays((n, c, h, w)))), T(draw(arrays((o, c, k, k))))]
    if draw(st.booleans()):
        ins.append(T(draw(arrays((o,)))))
    return (lambda x, wt, b=None: F.conv2d_relu_max_pool2d(x, wt, b, 1, padding)), ins, {}


@st.composite
def clip_case(draw):
    shape = draw(shapes())
    lo, hi = draw(st.sampled_from([(-0.5, 0.5), (None, 0.5), (-0.5, None)]))
    return (lambda x: F.clip(x, lo, hi)), [T(draw(grid_arrays(shape, 0.25)))], {}


@st.composite
def max_min_case(draw, fn):
    """torch's max/min: the full reduction, (values, indices) along a dim, or the pair form."""
    mode = draw(st.sampled_from(["full", "dim", "pair"]))
    if mode == "pair":
        return draw(separated_pair(fn))
    shape = draw(shapes(min_dims=1))
    a = T(distinct(draw(arrays(shape)), 0.05))
    if mode == "full":
        return fn, [a], {}
    dim, keep = draw(st.integers(-len(shape), len(shape) - 1)), draw(st.booleans())
    return (lambda x: fn(x, dim, keep).values), [a], {}


@st.composite
def topk_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    k, largest = draw(st.integers(0, shape[dim])), draw(st.booleans())
    return (lambda x: F.topk(x, k, dim, largest).values), [T(distinct(draw(arrays(shape)), 0.05))], {}


@st.composite
def batch_norm_case(draw):
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) + tuple(
        draw(st.lists(st.integers(1, 3), max_size=2)))
    if shape[0] * int(np.prod(shape[2:])) < 2:  # training needs 2+ values per channel
        shape = (shape[0] + 1,) + shape[1:]
    c = shape[1]
    training, affine, bias = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    rm, rv = draw(arrays((c,))), draw(arrays((c,), low=0.5, high=2.0))
    ins = [T(draw(arrays(shape)))] + ([T(draw(arrays((c,), low=0.5, high=2.0)))] if affine else [])
    if bias:
        ins.append(T(draw(arrays((c,)))))

    def fn(x, *wb):
        w, b = (wb[0] if affine else None), (wb[-1] if bias else None)
        # copies: the running statistics update in place, and gradcheck calls fn many times
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training, 0.1, 1e-3)
    return fn, ins, {}


@st.composite
def avg_pool_case(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    ceil, include = draw(st.booleans()), draw(st.booleans())
    lead = (draw(st.integers(1, 2)),) if draw(st.booleans()) else ()
    shape = lead + (draw(st.integers(1, 3)), draw(st.integers(k[0], 7)), draw(st.integers(k[1], 7)))
    return (lambda x: F.avg_pool2d(x, k, s, p, ceil, include)), [T(draw(arrays(shape)))], {}


@st.composite
def nll_case(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    target = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    target = np.broadcast_to(target.reshape((n,) + (1,) * len(extra)), (n,) + extra).copy()
    if draw(st.booleans()) and target.size > 1:
        target.reshape(-1)[0] = -100  # ignored
    weight = draw(arrays((c,), low=0.5, high=2.0)) if draw(st.booleans()) else None
    red = draw(st.sampled_from(["mean", "sum", "none"]))
    x = T(draw(arrays((n, c) + extra, low=-4, high=0)))
    return (lambda lp: F.nll_loss(lp, target, weight, reduction=red)), [x], {}


GRAD_CASES = {
    "add": binary(F.add), "sub": binary(F.sub), "mul": binary(F.mul),
    "div": binary(F.div, b_low=0.5, b_high=2.0),
    "pow": binary(F.pow, low=0.5, high=2.0),
    "neg": unary(F.neg), "exp": unary(F.exp), "log": unary(F.log, 0.3, 3.0),
    "sqrt": unary(F.sqrt, 0.3, 3.0), "abs": unary(F.abs, away_from=0.0),
    "maximum": separated_pair(F.maximum), "minimum": separated_pair(F.minimum),
    "clip": clip_case(), "where": where_case(), "matmul": matmul_case(), "linear": linear_case(),
    "sum": reduction(F.sum), "mean": reduction(F.mean), "max": max_min_case(F.max), "min": max_min_case(F.min),
    "amax": reduction(F.amax, ties_free=True), "amin": reduction(F.amin, ties_free=True),
    "var": reduction(lambda x, dim, keep: F.var(x, dim, keepdim=keep), min_count=2),
    "std": reduction(lambda x, dim, keep: F.std(x, dim, keepdim=keep), ties_free=True, min_count=2),
    "topk": topk_case(), "clone": unary(F.clone),
    **{name: movement(name) for name in
       ["reshape", "flatten", "transpose", "permute", "expand", "squeeze", "unsqueeze", "getitem"]},
    "cat": joined(F.cat), "stack": joined(F.stack), "pad": pad_case(),
    "cast": unary(lambda x: F.cast(F.cast(x, np.float32), np.float64) * x).map(
        lambda c: (c[0], c[1], {"eps": 1e-3, "atol": 1e-4, "rtol": 1e-3})),
    "sigmoid": unary(F.sigmoid, -6, 6), "tanh": unary(F.tanh), "relu": unary(F.relu, away_from=0.0),
    "leaky_relu": unary(lambda x: F.leaky_relu(x, 0.1), away_from=0.0),
    "softmax": softmax_case(F.softmax), "log_softmax": softmax_case(F.log_softmax),
    "cross_entropy": cross_entropy_case(), "mse_loss": mse_case(),
    "conv2d": conv_case(), "max_pool2d": pool_case(), "relu_max_pool2d": relu_pool_case(),
    "conv2d_relu_max_pool2d": conv_relu_pool_case(),
    "batch_norm": batch_norm_case(), "avg_pool2d": avg_pool_case(), "nll_loss": nll_case(),
}


def test_every_differentiable_op_has_a_gradient_case():
    differentiable = {name for name, info in OP_TABLE.items() if info.differentiable}
    assert differentiable - set(GRAD_CASES) == set(), "ops without a gradient test"
    assert set(GRAD_CASES) - differentiable == set(), "gradient cases for ops not in OP_TABLE"


# every op under the default backend, and the backend-dispatched ones under each backend
PARAMS = [(name, tg.get_backend()) for name in sorted(GRAD_CASES)] + [
    (name, other) for name in sorted(BACKEND_OPS) for other in ("numpy", "numba") if other != tg.get_backend()]


@pytest.mark.parametrize("name,backend_name", PARAMS)
@given(data=st.data())
def test_gradient_matches_central_differences(name, backend_name, data):
    fn, inputs, kwargs = data.draw(GRAD_CASES[name])
    with tg.backend(backend_name):
        assert tg.gradcheck(fn, *inputs, **{"atol": 1e-6, "rtol": 1e-4, **kwargs})
