"""The operands of an int8, int16 or fp32 product as the C kernels of
Section 3 take them, and what a product returns.

The C code only ever sees valid, aligned, contiguous buffers of the right
sizes: :func:`handle` gives the cached C view of a ``QuantizedMatrix`` (its
``nmt8_weights`` struct, packed for VNNI when the kernel needs it), kept here
beside the matrix rather than in it, so matrices and the models holding them
pickle and deep-copy; :func:`int8_matrix` checks an int8 X,
:func:`target` the output and bias (float32 is read only from 4-byte
aligned memory: a misaligned array is copied first, and a misaligned
``out`` is written through an aligned temporary), :func:`operands` a float
X too, and :func:`result` turns a C return code into the exception or the
array to return.

Does not: choose a kernel or call one (``nmt8.native.kernels``, ``fp32``,
``int16``), or quantize weights (``nmt8.quant.int8``).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from nmt8.native.clib import (
    F32,
    FLOATS,
    I8,
    INT8S,
    INT32S,
    NULL,
    ffi,
    lib,
    raise_error,
)
from nmt8.native.dispatch import AUTO, INT8, PACKED_KERNELS, auto_packs
from nmt8.quant.checks import float_matrix, x_matrix
from nmt8.quant.int8 import QuantizedMatrix

# the kernels that read the packed weights w->Wp
PACKED = frozenset(INT8.ids[k] for k in PACKED_KERNELS)


# ---------------------------------------------------------------- weights

class Handle:
    """The C view of a QuantizedMatrix: an ``nmt8_weights`` struct whose
    pointers stay valid as long as ``keep`` holds their buffers."""

    __slots__ = ("K", "N", "keep", "packed", "w")

    def __init__(self, qW: QuantizedMatrix):
        Wq, step, sums = qW.Wq, qW.step, qW.row_sums
        N, K = Wq.shape
        # QuantizedMatrix checked these at construction; the C code relies
        # on them, so check again (once per matrix)
        if not (Wq.dtype == I8 and Wq.flags.c_contiguous
                and step.dtype == F32 and step.shape == (N,)
                and step.flags.c_contiguous and step.flags.aligned
                and sums.shape == (N,)):
            raise ValueError(f"malformed QuantizedMatrix: {qW!r}")
        # 128 * sum_k Wq[o, k], wrapping to int32 like the C sums do
        wsum = (sums.astype(np.int64) * lib.NMT8_X_SHIFT).astype(np.int32)
        bufs = [ffi.from_buffer(INT8S, Wq),
                ffi.from_buffer(FLOATS, step),
                ffi.from_buffer(INT32S, wsum)]                    # (out,)
        self.w = w = ffi.new("nmt8_weights *")
        w.Wq, w.w_step, w.wsum = bufs
        w.Wp, w.N, w.K = NULL, N, K
        self.keep, self.N, self.K, self.packed = bufs, N, K, False

    def add_packed(self, qW: QuantizedMatrix):
        from nmt8.quant.vnni import packed_shape

        Wp = qW.packed
        if Wp.dtype != I8 or Wp.shape != packed_shape(self.N, self.K) \
                or not Wp.flags.c_contiguous:
            raise ValueError(f"malformed packed weights: {qW!r}")
        buf = ffi.from_buffer(INT8S, Wp)
        self.keep.append(buf)
        self.w.Wp = buf
        self.packed = True


# the C view of each live QuantizedMatrix, dropped with the matrix; kept
# out of the matrix itself, which therefore pickles and deep-copies
_HANDLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HANDLES_LOCK = threading.Lock()


def handle(qW, kid: int) -> Handle:
    """The cached C view of ``qW``, packed for VNNI if ``kid`` needs it
    (``AUTO``: if the process's choice may read the packed weights)."""
    try:
        h = _HANDLES[qW]
    except (KeyError, TypeError):
        if not isinstance(qW, QuantizedMatrix):
            raise TypeError("expected a QuantizedMatrix (see nmt8.quant."
                            f"quantize), got {type(qW).__name__}") from None
        with _HANDLES_LOCK:   # one handle per matrix, even from two threads
            h = _HANDLES.get(qW)
            if h is None:
                h = _HANDLES[qW] = Handle(qW)
    if not h.packed and (kid in PACKED or (kid == AUTO and auto_packs())):
        with _HANDLES_LOCK:
            if not h.packed:
                h.add_packed(qW)
    return h


# ------------------------------------------------------------- activations

def int8_matrix(Xq, K: int) -> np.ndarray:
    """An int8 X of K columns, values in [-127, 127], C-contiguous."""
    if not isinstance(Xq, np.ndarray) or Xq.dtype != I8 or Xq.ndim != 2:
        raise ValueError("Xq must be a 2-D int8 array")
    if Xq.shape[1] != K:
        raise ValueError(f"Xq has {Xq.shape[1]} columns, the matrix has "
                         f"in_features={K}")
    if Xq.size and Xq.min() < -127:
        raise ValueError("Xq values must lie in [-127, 127]")
    return np.ascontiguousarray(Xq)


def _output(out, P: int, N: int) -> np.ndarray:
    """Where the C code writes: ``out``, or a new (P, N) float32 array when
    out is None or misaligned (the caller then copies it into out)."""
    if out is None:
        return np.empty((P, N), np.float32)
    if not (isinstance(out, np.ndarray) and out.dtype == F32
            and out.shape == (P, N) and out.flags.c_contiguous
            and out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous ({P}, {N}) "
                         "float32 array")
    return out if out.flags.aligned else np.empty((P, N), np.float32)


def _bias(bias, N: int):
    if not (isinstance(bias, np.ndarray) and bias.dtype == F32
            and bias.shape == (N,)):
        got = (f"{bias.dtype} {bias.shape}" if isinstance(bias, np.ndarray)
               else type(bias).__name__)
        raise ValueError(f"bias must be a float32 array of shape ({N},), "
                         f"got {got}")
    bias = np.ascontiguousarray(bias)
    return ffi.from_buffer(FLOATS, bias if bias.flags.aligned
                           else bias.copy())


def _no_rows(bias, N: int):
    """The checks a call with P = 0 still makes (C is not called then)."""
    if bias is not None:
        _bias(bias, N)
        if not np.isfinite(bias).all():
            raise_error(lib.NMT8_ENONFINITE_BIAS)


def target(out, P: int, N: int, bias):
    """``(Y, b)`` for a product of P rows and N outputs: where the C code
    writes (``out`` or an aligned stand-in) and the C bias (NULL for None);
    b is None when P == 0, after the checks such a call still makes (C is
    not called). A bias that shares memory with ``out`` is copied first:
    the kernels write ``out`` while they read the bias."""
    if isinstance(out, np.ndarray) and isinstance(bias, np.ndarray) \
            and np.may_share_memory(out, bias):
        bias = bias.copy()
    Y = _output(out, P, N)                                  # (P, out)
    if P == 0:
        _no_rows(bias, N)
        return Y, None
    return Y, (NULL if bias is None else _bias(bias, N))


def operands(W, cls, made_by: str, X, out, bias):
    """``(X, Y, b)`` for a product with W, which must be a ``cls`` (made by
    ``nmt8.quant.<made_by>``): X checked (``_checks.x_matrix``), and
    :func:`target`."""
    if not isinstance(W, cls):
        raise TypeError(f"expected a {cls.__name__} (see nmt8.quant."
                        f"{made_by}), got {type(W).__name__}")
    X = x_matrix(X, W.in_features)
    return (X, *target(out, X.shape[0], W.out_features, bias))


def result(rc: int, Y: np.ndarray, out) -> np.ndarray:
    """What a product returns once C has written Y (code ``rc``): the
    error, or Y, or out with Y copied in (Y a stand-in for out)."""
    if rc:
        raise_error(rc)
    if out is not None and Y is not out:
        out[...] = Y                           # misaligned or overlapping out
        return out
    return Y


def rows_quantized(quantize_rows, dtype, X) -> tuple[np.ndarray, np.ndarray]:
    """``(Xq, x_step)`` from a C activation quantizer ``quantize_rows``
    writing ``dtype`` values (int8 or int16), for tests."""
    X = float_matrix(X)
    P, K = X.shape
    Xq = np.empty((P, K), dtype)                            # (P, in)
    x_step = np.empty(P, np.float32)                        # (P,)
    if P:
        ctype = ffi.typeof(f"int{8 * np.dtype(dtype).itemsize}_t[]")
        rc = quantize_rows(ffi.from_buffer(ctype, Xq),
                           ffi.from_buffer(FLOATS, x_step),
                           ffi.from_buffer(FLOATS, X), P, K)
        if rc:
            raise_error(rc)
    return Xq, x_step
