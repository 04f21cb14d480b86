"""tinygrad5: a readable deep-learning framework with reverse-mode autodiff and numba kernels.

    import tinygrad5 as tg
    x = tg.randn(32, 1024)
    w = tg.randn(1024, 64, requires_grad=True)
    loss = (x @ w).sigmoid().sum()
    loss.backward()        # w.grad now holds d loss / d w
"""
from . import nn, ops, optim, utils
from .backend import backend, get_backend, set_backend
from .factories import arange, eye, full, ones, ones_like, rand, randn, zeros, zeros_like
from .gradcheck import GradcheckError, gradcheck
from .ops import (abs, argmax, cat, clip, conv2d, cross_entropy, exp, log, log_softmax, matmul, max, max_pool2d,
                  maximum, mean, min, minimum, mse_loss, pad, relu, sigmoid, softmax, sqrt, stack, sum, tanh,
                  var, where)
from .random import manual_seed
from .serialization import CheckpointError, load, save
from .threads import get_num_threads, set_num_threads
from .tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad

float32, float64, int64 = "float32", "float64", "int64"
__version__ = "0.1.0"
