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
  AVX-512 VNNI (``csrc/nmt8_gemm_avx2.c``).

``"auto"`` is the fastest this CPU runs (vnni > avx2 > sse4 > ref), and,
per call, the blocked kernel of the same ISA when X has many rows:
``gemm`` instead of ``vnni`` from ``GEMM_MIN_ROWS`` rows, ``gemm_avx2``
instead of ``avx2`` from ``GEMM_AVX2_MIN_ROWS`` (crossovers measured by
``nmt8 bench kernels --sweep-rows``); the environment variable
``NMT8_KERNEL`` overrides it.  It is read by
``default_kernel()``, whose answer ``"auto"`` then keeps (reading the
environment costs more than a small product).  The C library asks the
CPU once, when it is loaded, which kernels it can run.

Every call runs on one thread (cffi releases the GIL during it); several
threads may use one QuantizedMatrix at once.  The C view of a matrix (its
``nmt8_weights`` struct) is cached beside the matrix rather than in it
(``nmt8.native.calls``, which also checks every other operand), so matrices
and the models holding them pickle and copy; ``nmt8.native.clib`` loads the
library and names its kernels and error codes.  This module chooses the
kernel and calls it.

Does not: quantize weights (``nmt8.quant``), pack them for VNNI
(``nmt8.quant.vnni``), run one product on several threads, or produce int8
outputs (the paper keeps outputs in float32).
"""

from __future__ import annotations

import os

import numpy as np

from nmt8.native.calls import handle as _handle
from nmt8.native.calls import int8_matrix as _int8_matrix
from nmt8.native.calls import result as _result
from nmt8.native.calls import rows_quantized as _rows_quantized
from nmt8.native.calls import target as _target
from nmt8.native.clib import AVAILABLE, KERNELS
from nmt8.native.clib import FLOATS as _FLOATS
from nmt8.native.clib import I8 as _I8
from nmt8.native.clib import INT8S as _INT8S
from nmt8.native.clib import INT32S as _INT32S
from nmt8.native.clib import KERNEL_IDS as _ID
from nmt8.native.clib import check_name as _check_name
from nmt8.native.clib import ffi as _ffi
from nmt8.native.clib import lib as _lib
from nmt8.native.clib import raise_error as _raise
from nmt8.native.tuning import apply_auto as _apply_auto
from nmt8.quant.checks import x_matrix as _x_matrix
from nmt8.quant.int8 import QuantizedMatrix

__all__ = [
    "GEMM_AVX2_MIN_ROWS",
    "GEMM_MIN_ROWS",
    "STREAM",
    "auto_kernel",
    "available_kernels",
    "default_kernel",
    "int8_accumulate",
    "int8_matmul",
    "int8_matmul_q",
]

_AUTO_ORDER = ("vnni", "avx2", "sse4", "ref")  # fastest first; not maddubs

# the decoding kernels' weight stream for this CPU (nmt8 tune's cached
# choice, else the built-in one of its family), resolved once, at load
STREAM = _apply_auto()
_VNNI, _GEMM, _AVX2 = _ID["vnni"], _ID["gemm"], _ID["avx2"]

# "auto" runs gemm rather than vnni from this many rows of X on: the
# crossover measured, not guessed, by
#     nmt8 bench kernels --sweep-rows \
#         --P 1,2,3,4,5,6,8,12,16,24,32,64,128,256,512,1024 --repeats 7
# (bench.crossover: from P = 3 on, gemm is faster on the geometric mean of
# 1000x3000, 2000x3000 and 620x40000 and within 5% or faster on each; at
# P = 1, 2 vnni is 2-8% faster on the cached shapes).  AMD EPYC (Zen 4),
# one core, 2026-11-30, load average ~6 on 2 cores from training runs
# (thread CPU time); an earlier run without P = 3 gave 4.
GEMM_MIN_ROWS = 3

# ... and gemm_avx2 rather than avx2 (CPUs with AVX2, without VNNI) from
# this many rows on: the crossover of the same sweep for that pair,
#     nmt8 bench kernels --sweep-rows --kernels avx2,gemm_avx2 \
#         --P 1,2,3,4,5,6,8,12,16,24,32,48,64,128,256 --repeats 7
# (two runs: from P = 2 on gemm_avx2 is faster on the geometric mean and
# within 5% or faster on each shape; at P = 1 avx2 is 8-17% faster on the
# cached 1000x3000 and 2000x3000).  Same machine, 2026-11-30, load average
# 2.6-4.4 on 2 cores; an earlier kernel (chunks of 4 + 1 rows for P = 5)
# gave 8.
GEMM_AVX2_MIN_ROWS = 2

# the naive kernel "auto" may resolve to -> (its blocked kernel, from rows)
_BLOCKED = {_VNNI: ("gemm", _GEMM, GEMM_MIN_ROWS),
            _AVX2: ("gemm_avx2", _ID["gemm_avx2"], GEMM_AVX2_MIN_ROWS)}


def _cpu_supports(name: str) -> bool:
    """Whether this CPU (and OS) can run kernel ``name``, asked of the C
    library (``__builtin_cpu_supports``)."""
    return bool(_lib.nmt8_cpu_supports(_ID[name]))


_AVAILABLE = frozenset(AVAILABLE)  # read at each call (tests narrow it)


def available_kernels() -> list[str]:
    """The kernels this CPU supports, in the order of ``KERNELS``."""
    return [k for k in KERNELS if k in _AVAILABLE]


_auto: list[str | None] = [None]  # what "auto" resolves to, once known
_auto_env = [False]                # ... and whether $NMT8_KERNEL chose it


def default_kernel() -> str:
    """The kernel ``"auto"`` means: ``$NMT8_KERNEL`` if set, else the
    fastest available (vnni > avx2 > sse4 > ref; for P >= GEMM_MIN_ROWS
    rows the products run gemm in place of vnni, for P >=
    GEMM_AVX2_MIN_ROWS gemm_avx2 in place of avx2: ``auto_kernel(P)``).

    Reads the environment at each call and updates what ``"auto"`` means
    for the products (which otherwise resolve it once).
    """
    env = os.environ.get("NMT8_KERNEL", "")
    if env and env != "auto":
        _check_kernel(env, "NMT8_KERNEL=")
        name = env
    else:
        name = next(k for k in _AUTO_ORDER if k in _AVAILABLE)
    _auto[0], _auto_env[0] = name, bool(env and env != "auto")
    return name


def _check_kernel(name, what=""):
    _check_name(name, KERNELS, available_kernels(), what)


def _kernel_id(kernel) -> int:
    if kernel.__class__ is not str:   # a list is unhashable: check first
        _check_kernel(kernel)
    if kernel == "auto":
        kernel = _auto[0] or default_kernel()
    if kernel not in _AVAILABLE:  # unknown names are not in it either
        _check_kernel(kernel)
    return _ID[kernel]


def _for_rows(kid: int, kernel, P: int) -> int:
    """``kid`` for a call with P rows of X: what ``"auto"`` resolved to
    (vnni, avx2) swapped for its blocked kernel (gemm, gemm_avx2) from
    ``GEMM_MIN_ROWS`` (``GEMM_AVX2_MIN_ROWS``) rows on, unless
    ``$NMT8_KERNEL`` chose it."""
    if kernel != "auto" or _auto_env[0]:     # the fast way out, P = 1 too
        return kid
    blocked = _BLOCKED.get(kid)
    if blocked is not None and P >= blocked[2] and blocked[0] in _AVAILABLE:
        return blocked[1]
    return kid


def _rows_kernel(qW, kid: int, h, kernel, P: int):
    """``(kid, h)`` for a call with P rows: :func:`_for_rows`, and the
    handle of the blocked kernel when it switches (it may need the
    packing)."""
    k = _for_rows(kid, kernel, P)
    return (kid, h) if k == kid else (k, _handle(qW, k))


def auto_kernel(P: int) -> str:
    """The kernel ``"auto"`` runs for a product with P rows of X."""
    return KERNELS[_for_rows(_kernel_id("auto"), "auto", P)]


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
    kid = _kernel_id(kernel)
    h = _handle(qW, kid)
    X = _x_matrix(X, h.K)
    P = X.shape[0]
    Y, b = _target(out, P, h.N, bias)                       # (P, out)
    if b is None:
        return Y
    kid, h = _rows_kernel(qW, kid, h, kernel, P)
    rc = _lib.nmt8_matmul_f32(kid, _ffi.from_buffer(_FLOATS, Y), h.w,
                              _ffi.from_buffer(_FLOATS, X), b, P)
    return _result(rc, Y, out)


def int8_matmul_q(qW: QuantizedMatrix, Xq: np.ndarray, x_step: np.ndarray,
                  kernel: str = "auto", bias: np.ndarray | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
    """``int8_matmul`` for an X already quantized: Xq (P, in) int8 in
    [-127, 127] and x_step (P,) the float step of each row (as returned by
    ``quant.quantize_activations``).  Returns float32 (P, out)."""
    kid = _kernel_id(kernel)
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
    kid, h = _rows_kernel(qW, kid, h, kernel, P)
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
    kid = _kernel_id(kernel)
    h = _handle(qW, kid)
    Xq = _int8_matrix(Xq, h.K)
    P = Xq.shape[0]
    acc = np.empty((P, h.N), np.int32)                       # (P, out)
    if P == 0:
        return acc
    kid, h = _rows_kernel(qW, kid, h, kernel, P)
    rc = _lib.nmt8_accumulate(kid, _ffi.from_buffer(_INT32S, acc), h.w,
                              _ffi.from_buffer(_INT8S, Xq), P)
    if rc:
        _raise(rc)
    return acc


def _quantize_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The C activation quantizer alone, for tests: ``(Xq, x_step)`` like
    ``quant.quantize_activations(X)``, which must agree bit for bit."""
    return _rows_quantized(_lib.nmt8_quantize_rows, np.int8, X)
