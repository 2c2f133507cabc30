"""The int4 products' C kernels: ``ref``, ``avx2``, ``vnni``
(``csrc/nmt8_int4.c``), each checked and called on 4-bit weights of
``nmt8.quant.int4``; the rung below Section 3 of Quinn & Ballesteros 2018.

Every kernel returns the same int32 group sums as an int64 numpy product
and the same float32 results as ``nmt8.quant.int4.matmul4_reference``,
bit for bit: every int4 kernel gives the same translation.

The kernels read the weights packed (two per byte, the steps of each 16
outputs and group right after their nibbles: the layout drawn at the top of
``csrc/nmt8_int4.c``).  :func:`pack4` packs a ``QuantizedMatrix4`` into a
:class:`PackedMatrix4`, which holds that buffer alone: what an int4 model
keeps (no int8 or float32 copy of its weights).  Given a
``QuantizedMatrix4``, :func:`int4_matmul` packs it once and caches the
packed form beside the matrix (as ``nmt8.native.calls`` caches the int8
matrices' C views), so matrices still pickle and copy.

The activations are int8, one step per row, quantized in C by the int8
kernels' routine (``nmt8_quantize_rows``): an int4 product of X is the
int4 weights against exactly the Xq the int8 products would use.  The C
kernels take an even number of inputs; a matrix with an odd number is
packed with one more, zero, input column (X gets a zero column too, which
changes neither its max nor its steps).

Does not: quantize weights (``nmt8.quant.int4``), choose the precision or
the group size of a model (``nmt8.model.precision``), use threads, or
have an SSE4 kernel.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from nmt8.native.calls import int8_matrix, result, target
from nmt8.native.clib import FLOATS, INT8S, INT32S, ffi, lib, raise_error
from nmt8.native.dispatch import INT4 as _KERNELS
from nmt8.quant.checks import x_matrix
from nmt8.quant.int4 import (
    GROUPS,
    LINE,
    ROWS,
    W_MAX,
    QuantizedMatrix4,
    n_groups,
    packed_nbytes4,
)

__all__ = [
    "INT4_KERNELS",
    "PackedMatrix4",
    "available_int4_kernels",
    "get_stream4",
    "int4_accumulate",
    "int4_matmul",
    "int4_matmul_q",
    "pack4",
    "set_stream4",
    "unpack4",
]

INT4_KERNELS = _KERNELS.names  # ("ref", "avx2", "vnni")
# the C library and the number format agree on the layout
assert (lib.NMT8_INT4_W_MAX, lib.NMT8_INT4_ROWS, lib.NMT8_INT4_LINE) == (
    W_MAX, ROWS, LINE)
assert (lib.NMT8_INT4_G32, lib.NMT8_INT4_G64) == GROUPS

_U8S = ffi.typeof("uint8_t[]")


def available_int4_kernels() -> list[str]:
    """The int4 kernels this CPU supports, in the order of INT4_KERNELS."""
    return list(_KERNELS.available)


# ------------------------------------------------------------------ weights

@dataclass(frozen=True, eq=False)
class PackedMatrix4:
    """4-bit weights as the kernels read them: ``Wp``, read-only uint8 of
    ``packed_nbytes4(out, K, group)`` bytes (K = in, or in + 1 when odd:
    see the module docstring), 64-byte aligned, and the matrix's
    ``in_features``, ``out_features`` and ``group``.  Made by
    :func:`pack4`; :func:`unpack4` gives the numpy format back."""

    Wp: np.ndarray
    in_features: int
    out_features: int
    group: int

    @property
    def shape(self) -> tuple[int, int]:
        """(in, out), the shape of the float matrix this stands for."""
        return (self.in_features, self.out_features)

    @property
    def K(self) -> int:
        """The inputs the C kernels see (even)."""
        return self.in_features + (self.in_features & 1)

    @property
    def nbytes(self) -> int:
        return self.Wp.nbytes

    def __repr__(self) -> str:
        return (f"PackedMatrix4(in_features={self.in_features}, "
                f"out_features={self.out_features}, group={self.group})")


def _aligned_bytes(n: int) -> np.ndarray:
    """n zero bytes, 64-byte aligned (one cache line)."""
    buf = np.zeros(n + LINE, np.uint8)
    off = -buf.ctypes.data % LINE
    return buf[off:off + n]


def pack4(qW: QuantizedMatrix4) -> PackedMatrix4:
    """The packed form of ``qW`` (C's ``nmt8_int4_pack``)."""
    if not isinstance(qW, QuantizedMatrix4):
        raise TypeError("expected a QuantizedMatrix4 (see nmt8.quant.int4."
                        f"quantize4), got {type(qW).__name__}")
    N, K_in = qW.Wq.shape
    Wq, K, G = qW.Wq, K_in + (K_in & 1), qW.group
    if K != K_in:                                     # one zero input more
        Wq = np.concatenate([Wq, np.zeros((N, 1), np.int8)], 1)  # (out, K)
    n = lib.nmt8_int4_packed_bytes(N, K, G)
    if n < 0 or n != packed_nbytes4(N, K, G):
        raise ValueError(f"bad int4 matrix size ({N}, {K_in})")
    Wp = _aligned_bytes(n)
    if n:
        rc = lib.nmt8_int4_pack(ffi.from_buffer(_U8S, Wp),
                                ffi.from_buffer(INT8S, np.ascontiguousarray(Wq)),
                                ffi.from_buffer(FLOATS, qW.steps), N, K, G)
        if rc:
            raise_error(rc, "steps")
    Wp.flags.writeable = False
    return PackedMatrix4(Wp, K_in, N, G)


def unpack4(p: PackedMatrix4) -> QuantizedMatrix4:
    """The ``QuantizedMatrix4`` that ``p`` packs (C's ``nmt8_int4_unpack``)."""
    N, K, G = p.out_features, p.K, p.group
    Wq = np.zeros((N, K), np.int8)                    # (out, K)
    steps = np.zeros((N, n_groups(K, G)), np.float32)  # (out, NG)
    if p.Wp.size:
        rc = lib.nmt8_int4_unpack(ffi.from_buffer(INT8S, Wq),
                                  ffi.from_buffer(FLOATS, steps),
                                  ffi.from_buffer(_U8S, p.Wp), N, K, G)
        if rc:
            raise_error(rc)
    return QuantizedMatrix4(Wq[:, :p.in_features], steps, G)


# the packed form of each live QuantizedMatrix4, dropped with the matrix
_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PACKED_LOCK = threading.Lock()


def _packed(qW) -> PackedMatrix4:
    """``qW`` if packed, else its cached packed form (packed once)."""
    if isinstance(qW, PackedMatrix4):
        return qW
    try:
        return _PACKED[qW]
    except (KeyError, TypeError):
        if not isinstance(qW, QuantizedMatrix4):
            raise TypeError("expected a QuantizedMatrix4 or PackedMatrix4 "
                            "(see nmt8.quant.int4.quantize4), got "
                            f"{type(qW).__name__}") from None
        with _PACKED_LOCK:   # one packing per matrix, even from two threads
            p = _PACKED.get(qW)
            if p is None:
                p = _PACKED[qW] = pack4(qW)
        return p


# ----------------------------------------------------------------- products

def _call(p: PackedMatrix4, kid: int, Xq, x_step, bias, out):
    """The product of p with quantized rows Xq (P, K), x_step (P,)."""
    Y, b = target(out, Xq.shape[0], p.out_features, bias)   # (P, out)
    if b is None:
        return Y
    if out is not None and bias is not None and np.shares_memory(out, bias):
        raise ValueError("out must not overlap bias")
    rc = lib.nmt8_int4_matmul(kid, ffi.from_buffer(FLOATS, Y),
                              ffi.from_buffer(_U8S, p.Wp),
                              ffi.from_buffer(INT8S, Xq),
                              ffi.from_buffer(FLOATS, x_step), b,
                              Xq.shape[0], p.out_features, p.K, p.group)
    return result(rc, Y, out)


def int4_matmul(qW, X: np.ndarray, kernel: str = "auto",
                bias: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """Approximate ``X @ W + bias`` with 4-bit weights and int8 activations.

    qW: ``quantize4(W)`` (packed on first use, once) or ``pack4`` of it.
    X: (P, in) float32 (float64 converted, any strides); each row
    quantized to int8 in C, as ``int8_matmul`` does.  bias: float32
    (out,) or None.  out: optional float32 (P, out) array (it may overlap
    X, not bias).  kernel: a name of ``INT4_KERNELS`` or ``"auto"``.
    Returns float32 (P, out), the same bits for every kernel.

    One thread, GIL released in C.  Raises ValueError for a bad shape or
    dtype, a NaN or inf in X or bias, a bad out, an unknown kernel or one
    this CPU cannot run; TypeError for a qW of another type.
    """
    kid = _KERNELS.kernel_id(kernel)
    p = _packed(qW)
    X = x_matrix(X, p.in_features)
    P, K = X.shape
    if p.K != K:                                     # odd K: one zero column
        X = np.concatenate([X, np.zeros((P, 1), np.float32)], 1)  # (P, K+1)
    Xq = np.empty((P, p.K), np.int8)                 # (P, K)
    x_step = np.empty(P, np.float32)                 # (P,)
    if P:
        rc = lib.nmt8_quantize_rows(ffi.from_buffer(INT8S, Xq),
                                    ffi.from_buffer(FLOATS, x_step),
                                    ffi.from_buffer(FLOATS, X), P, p.K)
        if rc:
            raise_error(rc)
    return _call(p, kid, Xq, x_step, bias, out)


def _rows(p: PackedMatrix4, Xq) -> np.ndarray:
    """Xq checked (int8, in [-127, 127], ``in_features`` columns), C
    contiguous, with the zero column of an odd K."""
    Xq = int8_matrix(Xq, p.in_features)
    if p.K != p.in_features:
        Xq = np.concatenate([Xq, np.zeros((Xq.shape[0], 1), np.int8)], 1)
    return Xq


def int4_matmul_q(qW, Xq: np.ndarray, x_step: np.ndarray,
                  kernel: str = "auto", bias: np.ndarray | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
    """``int4_matmul`` for an X already quantized: Xq (P, in) int8 in
    [-127, 127] and x_step (P,) the float step of each row (as
    ``quantize_activations`` returns them).  Returns float32 (P, out)."""
    kid = _KERNELS.kernel_id(kernel)
    p = _packed(qW)
    Xq = _rows(p, Xq)
    P = Xq.shape[0]
    x_step = np.asarray(x_step)
    if x_step.shape != (P,) or x_step.dtype.kind != "f":
        raise ValueError(f"x_step must be a float array of shape ({P},)")
    x_step = np.array(x_step, np.float32)                   # (P,) aligned
    if not np.isfinite(x_step).all():
        raise ValueError("x_step contains NaN or inf")
    return _call(p, kid, Xq, x_step, bias, out)


def int4_accumulate(qW, Xq: np.ndarray, kernel: str = "auto") -> np.ndarray:
    """The exact group sums ``acc[p, o, g] = sum_{k in g} Xq[p, k] *
    Wq[o, k]``, int32 (P, out, NG).

    qW: a QuantizedMatrix4 or PackedMatrix4; Xq: int8 (P, in) in
    [-127, 127].  For tests and teaching: compare with
    ``nmt8.quant.int4.group_sums4`` (int64 numpy).
    """
    kid = _KERNELS.kernel_id(kernel)
    p = _packed(qW)
    Xq = _rows(p, Xq)
    P, N, G = Xq.shape[0], p.out_features, p.group
    acc = np.empty((P, N, n_groups(p.K, G)), np.int32)       # (P, out, NG)
    if acc.size == 0:
        return acc
    rc = lib.nmt8_int4_accumulate(kid, ffi.from_buffer(INT32S, acc),
                                  ffi.from_buffer(_U8S, p.Wp),
                                  ffi.from_buffer(INT8S, Xq), P, N, p.K, G)
    if rc:
        raise_error(rc)
    return acc


# --------------------------------------------------------------- the stream

def set_stream4(blocks: int, prefetch: bool) -> None:
    """The weight stream of the decoding case (P <= 2 rows of X): ``blocks``
    of 16 outputs read side by side (1, 2 or 4) and software ``prefetch``
    or not (``nmt8_int4_set_stream``; process-wide; changes no bit)."""
    if isinstance(blocks, bool) or blocks not in (1, 2, 4):
        raise ValueError(f"blocks must be 1, 2 or 4, got {blocks!r}")
    rc = lib.nmt8_int4_set_stream(int(blocks), int(bool(prefetch)))
    if rc:
        raise_error(rc)


def get_stream4() -> tuple[int, bool]:
    """``(blocks, prefetch)`` of the current int4 weight stream."""
    b, f = ffi.new("int *"), ffi.new("int *")
    lib.nmt8_int4_get_stream(b, f)
    return b[0], bool(f[0])

