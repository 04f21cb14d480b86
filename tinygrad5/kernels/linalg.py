"""Python entry points of our GEMM (tinygrad5.kernels.matmul, gemm3): shape/dtype checks, batch broadcasting, blocking and threading.

`matmul(a, b)` follows numpy.matmul for a.ndim >= 2 and b.ndim >= 2.  `gemm3(...)` is the
lower-level batched form the conv kernels use (broadcast operands, batch reduction, fused bias).
Both are lean on purpose: at the MLP shapes a whole GEMM takes a few microseconds.
"""
from __future__ import annotations

import numpy as np

from .. import threads
from ._jit import MR, NR, c_array
from . import gemm as _g

# Cache blocking, measured on Zen 4 (1 MiB L2, 32 KiB L1d) at 2 threads: KC x NR panels of B
# (32 KiB f32) are swept down MC-row blocks of A (288 KiB, in L2).  (KC, MC) = (512, 144) against
# (256, 72): 1024^3 11.1 vs 11.8 ms, LeNet conv2 forward 1.14 vs 1.21 ms; others within 3%.
KC = 512
MC = 144

# Below this many multiply-adds a parallel launch (waking the OpenMP workers) costs more than the
# second core saves, so the GEMM runs on the calling thread.  Measured: see BENCHMARKS.md.
PARALLEL_MIN_MACS = 1 << 20

_ZERO = {np.dtype(np.float32): np.zeros(1, np.float32), np.dtype(np.float64): np.zeros(1, np.float64)}


def _flat(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """(1-D view over x's memory starting at x[0,...], element strides); copies only odd layouts.

    Read-only inputs are copied: numba would compile a second signature for read-only buffers.
    """
    if not x.flags.writeable:
        x = np.ascontiguousarray(x).copy()
    st = x.strides
    item = x.itemsize
    if x.flags.c_contiguous or x.flags.f_contiguous:
        return x.ravel(order="K"), tuple(s // item for s in st)
    if any(s < 0 or s % item for s in st):
        x = np.ascontiguousarray(x)
        return x.ravel(), tuple(s // item for s in x.strides)
    span = 1 + sum(s // item * (n - 1) for s, n in zip(st, x.shape))
    buf = np.lib.stride_tricks.as_strided(x, shape=(span,), strides=(item,))
    return buf, tuple(s // item for s in st)


def _plan(tasks_b: int, m: int, n: int, macs: int, parallel: bool | None) -> tuple[bool, int, int]:
    """Choose (parallel, rows per task, columns per task)."""
    nthr = threads.get_num_threads()
    par = macs >= PARALLEL_MIN_MACS if parallel is None else parallel
    par = par and nthr > 1
    mt, nt = -(-m // MR) * MR, -(-n // NR) * NR
    if par:
        # Aim for >= 2 tasks per thread so uneven edge tiles even out: halve the longer of M, N.
        while tasks_b * (-(-m // mt)) * (-(-n // nt)) < 2 * nthr:
            if mt >= nt and mt >= 2 * MR:
                mt = -(-(mt // 2) // MR) * MR
            elif nt >= 2 * NR:
                nt = -(-(nt // 2) // NR) * NR
            elif mt >= 2 * MR:
                mt = -(-(mt // 2) // MR) * MR
            else:
                break
    return par, mt, nt


def _run(a: np.ndarray, b: np.ndarray, out: np.ndarray, nb: int, m: int, n: int, k: int,
         reduce: bool, bias: np.ndarray | None, bias_mode: int, parallel: bool | None,
         out_map: tuple[int, int, int] | None = None) -> None:
    """Launch the kernel on 3-D a (nb|1, M, K), b (nb|1, K, N) into C-contiguous out.

    out_map (ldc, cpb, cbs) places C(i, j) at i*ldc + (j // cpb)*cbs + j % cpb (default: row-major).
    """
    if k == 0:
        out[...] = 0
        if bias_mode == 1:
            out += bias[:, None]
        elif bias_mode == 2:
            out += bias
        return
    abuf, (sab, sam, sak) = _flat(a)
    bbuf, (sbb, sbk, sbn) = _flat(b)
    na, nbb = a.shape[0], b.shape[0]
    biasv = _ZERO[out.dtype] if bias_mode == 0 else c_array(bias, dtype=out.dtype)
    par, mt, nt = _plan(1 if reduce else nb, m, n, nb * m * n * k, parallel)
    fn = _g.gemm_parallel if par else _g.gemm_serial
    ldc, cpb, cbs = out_map if out_map is not None else (n, n, 0)
    fn(abuf, sab if na > 1 else 0, sam, sak, na, bbuf, sbb if nbb > 1 else 0, sbk, sbn, nbb,
       out.reshape(-1), m * n, ldc, cpb, cbs, nb, m, n, k, reduce, mt, nt, MC, KC, biasv, bias_mode)


def gemm3(a: np.ndarray, b: np.ndarray, *, reduce: bool = False, bias: np.ndarray | None = None,
          bias_mode: int = 0, out: np.ndarray | None = None, parallel: bool | None = None,
          col_blocks: int = 0) -> np.ndarray:
    """Batched GEMM on 3-D operands a (nb|1, M, K), b (nb|1, K, N) of any strides.

    Returns c (nb, M, N), or (M, N) summed over the batch when reduce=True.  bias_mode 1 adds
    bias[M] to every row i, 2 adds bias[N] to every column j.  out, if given, must be C-contiguous.
    col_blocks = P > 0 (nb = 1, N = G*P) returns c of shape (G, M, P) with c[g, i, p] = C[i, g*P + p]:
    conv forward's W @ cols written straight in (N, O, OH*OW) order.
    """
    if a.dtype != b.dtype or a.dtype not in _ZERO:
        raise TypeError(f"gemm3 needs two float32 or two float64 arrays, got {a.dtype} and {b.dtype}")
    if a.ndim != 3 or b.ndim != 3 or a.shape[2] != b.shape[1]:
        raise ValueError(f"gemm3 needs (nb,M,K) and (nb,K,N), got {a.shape} and {b.shape}")
    nb = max(a.shape[0], b.shape[0])
    if a.shape[0] not in (1, nb) or b.shape[0] not in (1, nb):
        raise ValueError(f"gemm3 batch sizes do not broadcast: {a.shape} and {b.shape}")
    m, k, n = a.shape[1], a.shape[2], b.shape[2]
    shape = (m, n) if reduce else (nb, m, n)
    out_map = None
    if col_blocks:
        if nb != 1 or reduce or n % col_blocks:
            raise ValueError(f"col_blocks={col_blocks} needs one batch and N divisible by it, got {a.shape} @ {b.shape}")
        shape = (n // col_blocks, m, col_blocks)
        out_map = (col_blocks, col_blocks, m * col_blocks)
    if out is None:
        out = np.empty(shape, a.dtype)
    elif out.shape != shape or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {a.dtype} {shape}, got {out.dtype} {out.shape}")
    if bias_mode and (bias is None or bias.shape != ((m,) if bias_mode == 1 else (n,))):
        raise ValueError(f"bias_mode {bias_mode} needs bias of shape ({m if bias_mode == 1 else n},)")
    if out.size == 0:
        return out
    if nb == 0:
        out[...] = 0
        return out
    _run(a, b, out, nb, m, n, k, reduce, bias, bias_mode, parallel, out_map)
    return out


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None,
           parallel: bool | None = None) -> np.ndarray:
    """numpy.matmul for a.ndim >= 2 and b.ndim >= 2 (batch dims broadcast) with our numba GEMM."""
    if a.dtype != b.dtype or a.dtype not in _ZERO:
        raise TypeError(f"matmul needs two float32 or two float64 arrays, got {a.dtype} and {b.dtype}")
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul cannot multiply shapes {a.shape} @ {b.shape}")
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if a.ndim == 2 and b.ndim == 2:
        full = (m, n)
    else:
        full = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (m, n)
    if out is None:
        out = np.empty(full, a.dtype)
    elif out.shape != full or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {a.dtype} {full}, got {out.dtype} {out.shape}")
    if out.size == 0:
        return out
    if a.ndim == 2 and b.ndim == 2:
        _run(a[None], b[None], out, 1, m, n, k, False, None, 0, parallel)
        return out
    if b.ndim == 2 and a.flags.c_contiguous:
        # (..., M, K) C-ordered times a 2-D B: fold the batch into M for one tall GEMM.
        _run(a.reshape(1, -1, k), b[None], out, 1, out.size // n, n, k, False, None, 0, parallel)
        return out
    bshape = full[:-2]
    nbd = len(bshape)
    a4 = a.reshape((1,) * (nbd + 2 - a.ndim) + a.shape)
    b4 = b.reshape((1,) * (nbd + 2 - b.ndim) + b.shape)
    out3 = out.reshape(-1, m, n)
    # One batch stride per operand when the broadcast batch dims merge (0 for broadcast dims).
    sa = [0 if d == 1 else s for d, s in zip(a4.shape[:-2], a4.strides[:-2])]
    sb = [0 if d == 1 else s for d, s in zip(b4.shape[:-2], b4.strides[:-2])]
    if all(st[i] == st[i + 1] * bshape[i + 1] for st in (sa, sb) for i in range(nbd - 1)):
        nb = out3.shape[0]
        av = np.lib.stride_tricks.as_strided(a4, (nb if sa[-1] else 1, m, k), (sa[-1],) + a.strides[-2:])
        bv = np.lib.stride_tricks.as_strided(b4, (nb if sb[-1] else 1, k, n), (sb[-1],) + b.strides[-2:])
        _run(av, bv, out3, nb, m, n, k, False, None, 0, parallel)
        return out
    # Rare: batch dims that cannot share one stride; loop over the batch in Python.
    for t, idx in enumerate(np.ndindex(*bshape)):
        ai = tuple(i if d != 1 else 0 for i, d in zip(idx, a4.shape[:-2]))
        bi = tuple(i if d != 1 else 0 for i, d in zip(idx, b4.shape[:-2]))
        _run(a4[ai][None], b4[bi][None], out3[t], 1, m, n, k, False, None, 0, parallel)
    return out
