"""The int16 products' C kernels: ``ref``, ``sse4``, ``avx2``, ``vnni``
(``csrc/nmt8_int16*.c``), each checked and called on a ``QuantizedMatrix16``
of ``nmt8.quant.int16``.

Every kernel returns the same int64 sums as a numpy int64 product and the
same float32 results, bit for bit (see ``nmt8.quant.int16`` for why).

Does not: quantize weights (``nmt8.quant.int16``), or choose the precision
(``nmt8.model.precision``).
"""

from __future__ import annotations

import numpy as np

from nmt8.native import tuning as _tuning  # noqa: F401 (its import sets this CPU's parameters)
from nmt8.native.calls import operands, result, rows_quantized
from nmt8.native.clib import FLOATS, ffi, lib, raise_error
from nmt8.native.dispatch import INT16 as _KERNELS
from nmt8.quant.int16 import (
    W_MAX,
    X_MAX,
    QuantizedMatrix16,
    check_inner,
)

__all__ = [
    "INT16_KERNELS",
    "available_int16_kernels",
    "int16_accumulate",
    "int16_matmul",
]

INT16_KERNELS = _KERNELS.names  # ("ref", "sse4", "avx2", "vnni")
# the C library and the number format agree on the ranges
assert (lib.NMT8_I16_X_MAX, lib.NMT8_I16_W_MAX) == (X_MAX, W_MAX)
# the int32 lanes: NMT8_I16_FLUSH pair sums, then widened to int64
assert lib.NMT8_I16_FLUSH * 2 * X_MAX * W_MAX < 2**31

_I16 = np.dtype(np.int16)
_INT16S = ffi.typeof("int16_t[]")
_INT64S = ffi.typeof("int64_t[]")


def available_int16_kernels() -> list[str]:
    """The int16 kernels this CPU supports, in the order of INT16_KERNELS."""
    return list(_KERNELS.available)


def int16_matmul(qW: QuantizedMatrix16, X: np.ndarray, kernel: str = "auto",
                 bias: np.ndarray | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Approximate ``X @ W + bias`` with 16-bit weights and activations.

    qW: ``quantize16(W)``.  X: (P, in) float32 (float64 converted, any
    strides); each row quantized on the fly (``quantize_activations16``, in
    C).  bias: float32 (out,) or None.  out: optional float32 (P, out)
    array (it may overlap X, and the bias, which is then copied first).
    kernel: a name of ``INT16_KERNELS`` or ``"auto"``.  Returns float32
    (P, out), the same bits for every kernel.

    One thread, GIL released in C.  Raises as ``int8_matmul`` does.
    """
    kid = _KERNELS.kernel_id(kernel)
    X, Y, b = operands(qW, QuantizedMatrix16, "quantize16", X, out, bias)
    if b is None:                                           # P == 0
        return Y
    P, K = X.shape
    N = qW.out_features
    rc = lib.nmt8_i16_matmul(kid, ffi.from_buffer(FLOATS, Y),
                              ffi.from_buffer(_INT16S, qW.Wq),
                              ffi.from_buffer(FLOATS, qW.step),
                              ffi.from_buffer(FLOATS, X), b, P, N, K)
    return result(rc, Y, out)


def _int16_matrix(A, name: str, top: int, K: int | None = None) -> np.ndarray:
    if not isinstance(A, np.ndarray) or A.dtype != _I16 or A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D int16 array")
    if K is not None and A.shape[1] != K:
        raise ValueError(f"{name} has {A.shape[1]} columns, the matrix has "
                         f"in_features={K}")
    if A.size and (A.min() < -top or A.max() > top):
        raise ValueError(f"{name} values must lie in [-{top}, {top}]")
    A = np.ascontiguousarray(A)
    return A if A.flags.aligned else A.copy()


def int16_accumulate(Wq16, Xq16: np.ndarray, kernel: str = "auto") -> np.ndarray:
    """The exact sums ``acc[p, o] = sum_k Xq16[p, k] * Wq16[o, k]``, int64.

    Wq16: a QuantizedMatrix16 or an int16 (out, in) array in [-8191,
    8191]; Xq16: int16 (P, in) in [-32767, 32767].  For tests and
    teaching: compare with an int64 numpy product.
    """
    kid = _KERNELS.kernel_id(kernel)
    Wq = Wq16.Wq if isinstance(Wq16, QuantizedMatrix16) else \
        _int16_matrix(Wq16, "Wq16", W_MAX)
    N, K = Wq.shape
    check_inner(K)
    Xq = _int16_matrix(Xq16, "Xq16", X_MAX, K)
    P = Xq.shape[0]
    acc = np.empty((P, N), np.int64)                        # (P, out)
    if P == 0:
        return acc
    rc = lib.nmt8_i16_accumulate(kid, ffi.from_buffer(_INT64S, acc),
                                  ffi.from_buffer(_INT16S, Wq),
                                  ffi.from_buffer(_INT16S, Xq), P, N, K)
    if rc:
        raise_error(rc)
    return acc


def _quantize_rows16(X) -> tuple[np.ndarray, np.ndarray]:
    """The C activation quantizer alone, for tests: must agree with
    ``quantize_activations16`` bit for bit."""
    return rows_quantized(lib.nmt8_i16_quantize_rows, np.int16, X)
