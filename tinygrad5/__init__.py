"""tinygrad5: a readable deep-learning framework with reverse-mode autodiff and numba kernels.

    import tinygrad5 as tg
    x = tg.randn(32, 1024)
    w = tg.randn(1024, 64, requires_grad=True)
    loss = (x @ w).sigmoid().sum()
    loss.backward()        # w.grad now holds d loss / d w
"""
from . import nn, ops, optim, utils
from .backend import backend, get_backend, set_backend
from .factories import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor,
                        ShortTensor, arange, as_tensor, eye, from_numpy, full, ones, ones_like, rand, randn,
                        tensor, zeros, zeros_like)
from .gradcheck import GradcheckError, gradcheck
from .jit import Jit, JitWarning, jit
from .ops import (abs, amax, amin, argmax, argmin, cat, clone, conv2d, cross_entropy, eq, exp, flatten, ge, gt,
                  le, log, log_softmax, lt, matmul, max, max_pool2d, maximum, mean, min, minimum, mse_loss, ne,
                  pad, permute, relu, reshape, sigmoid, softmax, sqrt, squeeze, stack, std, sum, tanh, topk,
                  transpose, unsqueeze, var, where)
from .random import manual_seed
from .serialization import CheckpointError, load, save
from .threads import get_num_threads, set_num_threads
from .tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import accelerator, autograd, cuda, distributed, dtypes
from .device import device
from .dtypes import DType as dtype
from .dtypes import bool_ as bool  # noqa: A001 (torch's names, shadowing builtins inside this module only)
from .dtypes import (double, float, float32, float64, int, int8, int16, int32, int64, long, short,  # noqa: A001
                     uint8)
from .torch_compat import allclose, clamp, equal, is_tensor, numel_of as numel

clip = clamp
__version__ = "0.1.0"
