"""The float32 baseline of Section 3 of Quinn & Ballesteros 2018, in C.

The paper measures its int8 kernel against "a similar optimized floating
point implementation".  This module is that baseline, built like the int8
kernel (``csrc/nmt8_fp32*.c``): the weights transposed once, (out, in)
contiguous, read 4 rows at a time, each row's dot products with the P rows
of X summed by fused multiply-adds, a software prefetch of the rows ahead,
no blocking or packing.  So "int8 vs C fp32" measures what 8-bit weights
buy, and "C fp32 vs numpy" what the kernel shape buys.

    Y[p, o] = sum_k X[p, k] * WT[o, k]  (+ b[o])          float32

Kernels (``FP32_KERNELS``): ``ref`` (plain C loops, summed in k order),
``avx2`` (FMA3, 8 floats) and ``avx512`` (AVX-512F, 16 floats).  They sum
in different orders, so they differ in the last bits; each stays within
the standard bound ``gamma_K * sum_k |x_k w_k|``, ``gamma_K = K u / (1 - K
u)``, ``u = 2**-24`` (tests/test_fp32_kernels.py).  ``"auto"`` is the
process's choice, made once in C (``nmt8.native.dispatch``: the fastest
this CPU runs, avx512 > avx2 > ref).

Does not: quantize anything, run one product on several threads, or
replace numpy in the model (``nmt8.model.model`` chooses the precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmt8.native import tuning as _tuning  # noqa: F401 (its import sets this CPU's parameters)
from nmt8.native.calls import operands, result
from nmt8.native.clib import FLOATS, ffi, lib
from nmt8.native.dispatch import FP32 as _KERNELS
from nmt8.quant.checks import Transposed, weight_matrix
from nmt8.quant.checks import frozen as _frozen

__all__ = [
    "FP32_KERNELS",
    "PackedF32",
    "available_fp32_kernels",
    "fp32_matmul",
    "pack_fp32",
]

FP32_KERNELS = _KERNELS.names  # ("ref", "avx2", "avx512")
_F32 = np.dtype(np.float32)


def available_fp32_kernels() -> list[str]:
    """The fp32 kernels this CPU supports, in the order of FP32_KERNELS."""
    return list(_KERNELS.available)


@dataclass(frozen=True, eq=False)
class PackedF32(Transposed):
    """A float32 weight matrix prepared for the C kernels: ``WT``, the
    transpose of W (in, out), as a read-only C-contiguous (out, in) copy.

    Pickles and copies (nothing but WT is stored)."""

    WT: np.ndarray
    _ROWS = "WT"

    def __post_init__(self):
        WT = self.WT
        if not (isinstance(WT, np.ndarray) and WT.dtype == _F32
                and WT.ndim == 2):
            raise ValueError("WT must be a 2-D float32 array (out, in)")
        if not np.isfinite(WT).all():
            raise ValueError("W contains NaN or inf")
        object.__setattr__(self, "WT", _frozen(WT))

    def __reduce__(self):
        return (type(self), (self.WT,))

    @property
    def nbytes(self) -> int:
        """Bytes of weights held: 4 per weight."""
        return self.WT.nbytes

    def __repr__(self) -> str:
        return (f"PackedF32(in_features={self.in_features}, "
                f"out_features={self.out_features})")


def pack_fp32(W: np.ndarray) -> PackedF32:
    """W (in, out), as in ``X @ W``, transposed for the C kernels.

    W is rounded to float32; raises ValueError if it is not a 2-D float
    array or holds NaN or inf (after the rounding)."""
    W = weight_matrix(W)
    with np.errstate(over="ignore"):  # beyond float32: inf, refused
        WT = np.ascontiguousarray(W.T, dtype=np.float32)         # (out, in)
    return PackedF32(WT)


def fp32_matmul(pW: PackedF32, X: np.ndarray, kernel: str = "auto",
                bias: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """``X @ W + bias`` in float32 with the C kernel of this module.

    pW: ``pack_fp32(W)``.  X: (P, in) float32 (float64 is converted; any
    strides accepted).  bias: float32 (out,) or None.  out: optional
    float32 (P, out) array to write into (it may overlap X, and the bias,
    which is then copied first).  kernel: a
    name of ``FP32_KERNELS`` or ``"auto"``.  Returns float32 (P, out).

    Runs on one thread and releases the GIL while in C.  Raises
    ValueError for a bad shape or dtype, a NaN or inf in X or in the bias,
    a bad out, an unknown kernel or one this CPU cannot run; TypeError if
    pW is not a PackedF32 or kernel not a string.
    """
    kid = _KERNELS.kernel_id(kernel)
    X, Y, b = operands(pW, PackedF32, "pack_fp32", X, out, bias)
    if b is None:                                           # P == 0
        return Y if out is None else out
    P, K = X.shape
    N = pW.out_features
    if Y is out and np.may_share_memory(out, X):
        Y = np.empty((P, N), np.float32)    # the kernels read X while writing
    rc = lib.nmt8_f32_matmul(kid, ffi.from_buffer(FLOATS, Y),
                              ffi.from_buffer(FLOATS, pW.WT),
                              ffi.from_buffer(FLOATS, X), b, P, N, K)
    return result(rc, Y, out)
