"""numba kernels on numpy arrays (they know nothing of Tensor).

Nothing compiles at import: each kernel compiles on its first call (one signature per dtype,
float32/float64) and is cached on disk (numba cache=True), so a second process starts warm.
"""
from .conv2d import conv2d_backward, conv2d_forward
from .gemm_nt import matmul_nt
from .linalg import gemm3, matmul
from .pool import max_pool2d_backward, max_pool2d_forward
from .softmax_xent import softmax_cross_entropy_backward, softmax_cross_entropy_forward

__all__ = ["matmul", "gemm3", "matmul_nt", "conv2d_forward", "conv2d_backward", "max_pool2d_forward",
           "max_pool2d_backward", "softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]
