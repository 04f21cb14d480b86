"""LLVM-IR plumbing shared by the kernels' intrinsics (pool2x2, tile_gemm, col2im_gather).

An intrinsic's code generator gets its arguments as LLVM values; `IRArgs` reads them as int64
values or as array data pointers, declares LLVM's own intrinsics (masked loads, fma, prefetch) and
splats a scalar into every lane.  Only code generators use it, while numba compiles.  numba's disk
cache keys a kernel on its own source file, so after editing this file delete the kernels'
`__pycache__/*.nbi` and `*.nbc` (docs/CONVENTIONS.md).
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils

LANES = 16
F32, I32, I64, I1 = ir.FloatType(), ir.IntType(32), ir.IntType(64), ir.IntType(1)
VF, VI, VB = ir.VectorType(F32, LANES), ir.VectorType(I32, LANES), ir.VectorType(I1, LANES)
ALIGN = ir.Constant(I32, 4)  # float32 / int32 elements: 4-byte alignment, no more


class IRArgs:  # pragma: no cover  (runs while numba compiles: see setup.cfg)
    """One intrinsic call's arguments, with the helpers every code generator here needs."""

    def __init__(self, context, builder: ir.IRBuilder, signature, args) -> None:
        self.context, self.b, self.tys, self.args = context, builder, signature.args, args

    def int64(self, i: int) -> ir.Value:
        """Argument i as an int64."""
        return self.context.cast(self.b, self.args[i], self.tys[i], types.int64)

    def data(self, i: int) -> ir.Value:
        """A pointer to the first element of array argument i."""
        return self.context.make_array(self.tys[i])(self.context, self.b, self.args[i]).data

    def declare(self, name: str, ret: ir.Type, params: list[ir.Type]) -> ir.Function:
        """The LLVM function `name` (e.g. llvm.fma.v16f32), declared once per module."""
        return cgutils.get_or_insert_function(self.b.module, ir.FunctionType(ret, params), name)

    def splat(self, value: ir.Value, vty: ir.VectorType = VI) -> ir.Value:
        """A vector of type vty with value (of its element type) in every lane."""
        v = self.b.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(I32, 0))
        return self.b.shuffle_vector(v, ir.Constant(vty, ir.Undefined), ir.Constant(VI, [0] * vty.count))
