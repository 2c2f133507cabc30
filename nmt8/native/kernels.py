"""The int8 matrix products of Section 3 of Quinn & Ballesteros 2018.

A thin wrapper over the private compiled module ``nmt8.native._kernels`` (C in
``csrc/``): it checks every argument, so the C code only ever sees valid,
contiguous buffers of the right sizes, and turns C error codes into Python
exceptions.  The products approximate ``X @ W (+ b)`` for a float32 X of
P rows (beam hypotheses) and a weight matrix quantized by ``nmt8.quant``:

    Y[p, o] = (sum_k Xq[p, k] * Wq[o, k]) * (x_step[p] * step[o]) + b[o]

with exact int32 sums and a float32 result, as in the paper ("the results
being placed into a 32-bit floating point result").  ``step`` and
``x_step`` are steps (max / 127, int8 back to floats), as everywhere in
``nmt8.quant``.

Kernels, all computing the same exact sums except ``maddubs``:

- ``ref``: plain portable C, the reference the others are tested against;
- ``sse4``: the paper's kernel, naive, 4 weight rows at a time, SSE4.1;
- ``avx2``: the same at 256 bits;
- ``vnni``: AVX-512 VNNI ``vpdpbusd`` on a packed weight layout;
- ``maddubs``: AVX2 ``vpmaddubsw``, which saturates int16 pair sums and so
  is NOT exact: a teaching variant, never chosen by ``"auto"``;
- ``gemm``: the vnni instructions and layout, blocked for many rows of X
  (batched decoding; Goto & van de Geijn 2008): each sliver of weights is
  read from memory once and used by all P rows from L2
  (``csrc/nmt8_gemm.c``).  Same exact sums as ``vnni``;
- ``gemm_avx2``: the same blocking with AVX2 only (int8 widened to int16,
  ``vpmaddwd``: exact), on the vnni packed layout, for CPUs without
  AVX-512 VNNI (``csrc/nmt8_gemm_avx2.c``);
- ``amx``: Intel AMX tiles (``tdpbusd``, 16 x 64 by 64 x 16 bytes in one
  instruction) reading the same packed layout, for many rows of X where
  the core has AMX and the OS grants the tiles (``csrc/nmt8_amx.c``).
  Same exact sums.

``"auto"`` is the process's choice, made once in C when the library is
loaded (``nmt8.native.dispatch``): the fastest kernel this CPU runs (vnni >
avx2 > sse4 > ref), and, for a call with many rows of X, the blocked kernel
of the same instruction set: ``gemm`` instead of ``vnni`` from
``GEMM_MIN_ROWS`` rows, ``gemm_avx2`` instead of ``avx2`` from
``GEMM_AVX2_MIN_ROWS``, and on a core with AMX (Sapphire Rapids and later
Xeons) ``amx`` instead of ``vnni`` from ``AMX_MIN_ROWS`` (crossovers
measured; see ``csrc/nmt8_dispatch.h``). C makes that switch by P;
Python passes "auto" on as it is. ``$NMT8_KERNEL`` (read once, at import)
holds the products to one kernel at every P; ``nmt8.native.dispatch.forced``
does the same, or narrows the instruction set, for tests and benchmarks.

Every call runs on one thread (cffi releases the GIL during it); several
threads may use one QuantizedMatrix at once.  The C view of a matrix (its
``nmt8_weights`` struct) is cached beside the matrix rather than in it
(``nmt8.native.calls``, which also checks every other operand), so matrices
and the models holding them pickle and copy; ``nmt8.native.clib`` loads the
library and names its kernels and error codes.  This module checks the
kernel's name and calls it (for "auto", C chooses).

Does not: quantize weights (``nmt8.quant``), pack them for VNNI
(``nmt8.quant.vnni``), run one product on several threads, or produce int8
outputs (the paper keeps outputs in float32).
"""

from __future__ import annotations

import numpy as np

from nmt8.native import tuning as _tuning  # noqa: F401 (its import sets this CPU's parameters)
from nmt8.native.calls import handle as _handle
from nmt8.native.calls import int8_matrix as _int8_matrix
from nmt8.native.calls import result as _result
from nmt8.native.calls import rows_quantized as _rows_quantized
from nmt8.native.calls import target as _target
from nmt8.native.clib import FLOATS as _FLOATS
from nmt8.native.clib import I8 as _I8
from nmt8.native.clib import INT8S as _INT8S
from nmt8.native.clib import INT32S as _INT32S
from nmt8.native.clib import ffi as _ffi
from nmt8.native.clib import lib as _lib
from nmt8.native.clib import raise_error as _raise
from nmt8.native.dispatch import INT8 as _INT8
from nmt8.native.dispatch import current as _current
from nmt8.quant.checks import x_matrix as _x_matrix
from nmt8.quant.int8 import QuantizedMatrix

__all__ = [
    "AMX_MIN_ROWS",
    "GEMM_AVX2_MIN_ROWS",
    "GEMM_MIN_ROWS",
    "auto_kernel",
    "available_kernels",
    "default_kernel",
    "int8_accumulate",
    "int8_matmul",
    "int8_matmul_q",
]

# "auto" runs gemm rather than vnni from this many rows of X on, and
# gemm_avx2 rather than avx2 from GEMM_AVX2_MIN_ROWS: the crossovers C
# switches at, measured (csrc/nmt8_dispatch.h says how)
GEMM_MIN_ROWS = _lib.NMT8_GEMM_MIN_ROWS
GEMM_AVX2_MIN_ROWS = _lib.NMT8_GEMM_AVX2_MIN_ROWS
# and, where the core has AMX, amx rather than vnni from this many rows on
AMX_MIN_ROWS = _lib.NMT8_AMX_MIN_ROWS


def available_kernels() -> list[str]:
    """The kernels this CPU supports, in the order of ``KERNELS``."""
    return list(_INT8.available)


def default_kernel() -> str:
    """The kernel ``"auto"`` means for few rows of X: the process's choice
    (``nmt8.native.dispatch``; vnni > avx2 > sse4 > ref, or
    ``$NMT8_KERNEL``). For P rows, ``auto_kernel(P)``."""
    return _current().int8


def auto_kernel(P: int) -> str:
    """The kernel ``"auto"`` runs for a product with P rows of X (C's
    choice: the naive kernel, or from its crossover on the blocked one)."""
    return _INT8.resolve(P)


# ------------------------------------------------------------------ products

def int8_matmul(qW: QuantizedMatrix, X: np.ndarray, kernel: str = "auto",
                bias: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """Approximate ``X @ W + bias`` with the int8 kernel of Section 3.

    qW: ``quantize(W)`` for W (in, out).  X: (P, in) float32 (float64 is
    converted; any strides accepted, copied if not C-contiguous).  Each row
    of X is quantized on the fly (``quant.quantize_activations``, in C).
    bias: float32 (out,) or None.  out: optional float32 (P, out) array to
    write into (it may overlap X, and the bias, which is then copied
    first).  kernel: a name of ``KERNELS`` or ``"auto"``.  Returns float32
    (P, out).

    Runs on one thread, and releases the GIL while in C.  Raises
    ValueError for a bad shape or dtype, a NaN or inf in X or in the bias,
    a bad out, an unknown kernel or one this CPU cannot run; TypeError if
    qW is not a QuantizedMatrix or kernel not a string.
    """
    kid = _INT8.kernel_id(kernel)
    h = _handle(qW, kid)
    X = _x_matrix(X, h.K)
    P = X.shape[0]
    Y, b = _target(out, P, h.N, bias)                       # (P, out)
    if b is None:
        return Y
    rc = _lib.nmt8_matmul_f32(kid, _ffi.from_buffer(_FLOATS, Y), h.w,
                              _ffi.from_buffer(_FLOATS, X), b, P)
    return _result(rc, Y, out)


def int8_matmul_q(qW: QuantizedMatrix, Xq: np.ndarray, x_step: np.ndarray,
                  kernel: str = "auto", bias: np.ndarray | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
    """``int8_matmul`` for an X already quantized: Xq (P, in) int8 in
    [-127, 127] and x_step (P,) the float step of each row (as returned by
    ``quant.quantize_activations``).  Returns float32 (P, out)."""
    kid = _INT8.kernel_id(kernel)
    h = _handle(qW, kid)
    Xq = _int8_matrix(Xq, h.K)
    P = Xq.shape[0]
    x_step = np.asarray(x_step)
    if x_step.shape != (P,) or x_step.dtype.kind != "f":
        raise ValueError(f"x_step must be a float array of shape ({P},)")
    x_step = np.array(x_step, np.float32)                   # (P,) aligned
    Y, b = _target(out, P, h.N, bias)                       # (P, out)
    if b is None:
        return Y
    rc = _lib.nmt8_matmul_q(kid, _ffi.from_buffer(_FLOATS, Y), h.w,
                            _ffi.from_buffer(_INT8S, Xq),
                            _ffi.from_buffer(_FLOATS, x_step), b, P)
    return _result(rc, Y, out)


def _as_quantized(Wq) -> QuantizedMatrix:
    """A bare int8 (out, in) matrix as a QuantizedMatrix with unit scales."""
    if isinstance(Wq, QuantizedMatrix):
        return Wq
    if not isinstance(Wq, np.ndarray) or Wq.dtype != _I8 or Wq.ndim != 2:
        raise ValueError("Wq must be a QuantizedMatrix or a 2-D int8 array "
                         "(out, in)")
    N = Wq.shape[0]
    return QuantizedMatrix(Wq=Wq, scale=np.ones(N, np.float32),
                           step=np.ones(N, np.float32), scheme="per_row")


def int8_accumulate(Wq, Xq: np.ndarray, kernel: str = "auto") -> np.ndarray:
    """The raw int32 sums ``acc[p, o] = sum_k Xq[p, k] * Wq[o, k]``.

    Wq: a QuantizedMatrix or an int8 (out, in) array; Xq: int8 (P, in);
    values in [-127, 127].  Exact for every kernel but ``maddubs``.  For
    tests and teaching: compare with an int64 numpy product.
    """
    qW = _as_quantized(Wq)
    kid = _INT8.kernel_id(kernel)
    h = _handle(qW, kid)
    Xq = _int8_matrix(Xq, h.K)
    P = Xq.shape[0]
    acc = np.empty((P, h.N), np.int32)                       # (P, out)
    if P == 0:
        return acc
    rc = _lib.nmt8_accumulate(kid, _ffi.from_buffer(_INT32S, acc), h.w,
                              _ffi.from_buffer(_INT8S, Xq), P)
    if rc:
        _raise(rc)
    return acc


def _quantize_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The C activation quantizer alone, for tests: ``(Xq, x_step)`` like
    ``quant.quantize_activations(X)``, which must agree bit for bit."""
    return _rows_quantized(_lib.nmt8_quantize_rows, np.int8, X)
