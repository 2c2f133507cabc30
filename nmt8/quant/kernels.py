"""The int8 matrix products of Section 3 of Quinn & Ballesteros 2018.

A thin wrapper over the private compiled module ``nmt8.quant._kernels`` (C in
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
  (``csrc/nmt8_gemm.c``).  Same exact sums as ``vnni``.

``"auto"`` is the fastest this CPU runs (vnni > avx2 > sse4 > ref), and,
per call, ``gemm`` instead of ``vnni`` when X has at least
``GEMM_MIN_ROWS`` rows (a crossover measured by ``nmt8 bench kernels``);
the environment variable ``NMT8_KERNEL`` overrides it.  It is read by
``default_kernel()``, whose answer ``"auto"`` then keeps (reading the
environment costs more than a small product).  The C library asks the
CPU once, when it is loaded, which kernels it can run.

Every call runs on one thread (cffi releases the GIL during it); several
threads may use one QuantizedMatrix at once.  The C view of a matrix (its
``nmt8_weights`` struct) is cached here, beside the matrix rather than in
it, so matrices and the models holding them pickle and copy.

Does not: quantize weights (``nmt8.quant``), pack them for VNNI
(``nmt8.quant.vnni``), run one product on several threads, or produce int8
outputs (the paper keeps outputs in float32).
"""

from __future__ import annotations

import os
import threading
import weakref

import numpy as np

from .int8 import QuantizedMatrix

try:
    from ._kernels import ffi as _ffi
    from ._kernels import lib as _lib
except ImportError as err:  # pragma: no cover - depends on the build
    raise ImportError(
        "nmt8's C kernels are not compiled; run `pip install -e .` in the "
        "repository (it builds nmt8/quant/_kernels through cffi)") from err

from . import vnni as _vnni
from ._checks import float_matrix as _float_matrix
from ._checks import x_matrix as _x_matrix

if (_vnni.ROWS, _vnni.DEPTH, _vnni.ALIGN) != (
        _lib.NMT8_VNNI_ROWS, _lib.NMT8_VNNI_DEPTH, _lib.NMT8_VNNI_ALIGN):
    raise ImportError("nmt8.quant.vnni's tile sizes differ from the compiled "
                      "library's: rebuild with `pip install -e .`")

__all__ = [
    "GEMM_MIN_ROWS",
    "KERNELS",
    "auto_kernel",
    "available_kernels",
    "default_kernel",
    "int8_accumulate",
    "int8_matmul",
    "int8_matmul_q",
]

KERNELS = ("ref", "sse4", "avx2", "vnni", "maddubs", "gemm")
_AUTO_ORDER = ("vnni", "avx2", "sse4", "ref")  # fastest first; not maddubs
_ID = {name: getattr(_lib, "NMT8_KERNEL_" + name.upper()) for name in KERNELS}
_VNNI, _GEMM = _ID["vnni"], _ID["gemm"]
_PACKED = frozenset((_VNNI, _GEMM))   # the kernels that read w->Wp

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

_F32, _I8 = np.dtype(np.float32), np.dtype(np.int8)
_FLOATS = _ffi.typeof("float[]")
_INT8S = _ffi.typeof("int8_t[]")
_INT32S = _ffi.typeof("int32_t[]")
_NULL = _ffi.NULL


def _cpu_supports(name: str) -> bool:
    """Whether this CPU (and OS) can run kernel ``name``, asked of the C
    library (``__builtin_cpu_supports``)."""
    return bool(_lib.nmt8_cpu_supports(_ID[name]))


_AVAILABLE = frozenset(k for k in KERNELS if _cpu_supports(k))


def available_kernels() -> list[str]:
    """The kernels this CPU supports, in the order of ``KERNELS``."""
    return [k for k in KERNELS if k in _AVAILABLE]


_auto: list[str | None] = [None]  # what "auto" resolves to, once known
_auto_env = [False]                # ... and whether $NMT8_KERNEL chose it


def default_kernel() -> str:
    """The kernel ``"auto"`` means: ``$NMT8_KERNEL`` if set, else the
    fastest available (vnni > avx2 > sse4 > ref; for P >= GEMM_MIN_ROWS
    rows the products run gemm in place of vnni: ``auto_kernel(P)``).

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


def _check_name(name, known, available, what=""):
    """Raise the error for a kernel name that cannot be used: TypeError if
    not a string, ValueError if not in ``known`` (nor "auto") or not in
    ``available``.  Shared with the fp32 and int16 wrappers."""
    if not isinstance(name, str):
        raise TypeError(f"kernel {what}must be a string, one of {known} or "
                        f"'auto'; got {type(name).__name__} {name!r}")
    if name not in known and name != "auto":
        raise ValueError(f"unknown kernel {what}{name!r}; choose from "
                         f"{known} or 'auto'")
    if name not in available and name != "auto":
        raise ValueError(f"kernel {what}{name!r} is not supported by this CPU; "
                         f"available: {list(available)}")


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
    (vnni) swapped for gemm from ``GEMM_MIN_ROWS`` rows on, unless
    ``$NMT8_KERNEL`` chose it."""
    if kid == _VNNI and P >= GEMM_MIN_ROWS and kernel == "auto" \
            and not _auto_env[0] and "gemm" in _AVAILABLE:
        return _GEMM
    return kid


def auto_kernel(P: int) -> str:
    """The kernel ``"auto"`` runs for a product with P rows of X."""
    return KERNELS[_for_rows(_kernel_id("auto"), "auto", P)]


class _Ladder:
    """The kernels of one other rung of the precision ladder (fp32, int16):
    their C ids (``prefix`` + NAME), those this CPU runs, in the order of
    ``names``, and the one ``"auto"`` means (the first of ``auto_order``
    available)."""

    def __init__(self, names, prefix: str, supports, auto_order):
        self.names = names
        self.ids = {name: getattr(_lib, prefix + name.upper()) for name in names}
        self.available = tuple(k for k in names if supports(self.ids[k]))
        self.auto = next(k for k in auto_order if k in self.available)

    def kernel_id(self, kernel) -> int:
        """The C id of ``kernel`` (a name or "auto"), or the error of
        ``_check_name``."""
        if kernel.__class__ is not str or kernel not in self.available:
            if kernel == "auto":
                return self.ids[self.auto]
            _check_name(kernel, self.names, self.available)
        return self.ids[kernel]


# ---------------------------------------------------------------- weights

class _Handle:
    """The C view of a QuantizedMatrix: an ``nmt8_weights`` struct whose
    pointers stay valid as long as ``keep`` holds their buffers."""

    __slots__ = ("K", "N", "keep", "packed", "w")

    def __init__(self, qW: QuantizedMatrix):
        Wq, step, sums = qW.Wq, qW.step, qW.row_sums
        N, K = Wq.shape
        # QuantizedMatrix checked these at construction; the C code relies
        # on them, so check again (once per matrix)
        if not (Wq.dtype == _I8 and Wq.flags.c_contiguous
                and step.dtype == _F32 and step.shape == (N,)
                and step.flags.c_contiguous and step.flags.aligned
                and sums.shape == (N,)):
            raise ValueError(f"malformed QuantizedMatrix: {qW!r}")
        # 128 * sum_k Wq[o, k], wrapping to int32 like the C sums do
        wsum = (sums.astype(np.int64) * _lib.NMT8_X_SHIFT).astype(np.int32)
        bufs = [_ffi.from_buffer(_INT8S, Wq),
                _ffi.from_buffer(_FLOATS, step),
                _ffi.from_buffer(_INT32S, wsum)]                  # (out,)
        self.w = w = _ffi.new("nmt8_weights *")
        w.Wq, w.w_step, w.wsum = bufs
        w.Wp, w.N, w.K = _NULL, N, K
        self.keep, self.N, self.K, self.packed = bufs, N, K, False

    def add_packed(self, qW: QuantizedMatrix):
        from .vnni import packed_shape

        Wp = qW.packed
        if Wp.dtype != _I8 or Wp.shape != packed_shape(self.N, self.K) \
                or not Wp.flags.c_contiguous:
            raise ValueError(f"malformed packed weights: {qW!r}")
        buf = _ffi.from_buffer(_INT8S, Wp)
        self.keep.append(buf)
        self.w.Wp = buf
        self.packed = True


# the C view of each live QuantizedMatrix, dropped with the matrix; kept
# out of the matrix itself, which therefore pickles and deep-copies
_HANDLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HANDLES_LOCK = threading.Lock()


def _handle(qW, kid: int) -> _Handle:
    """The cached C view of ``qW``, packed for VNNI if ``kid`` needs it."""
    try:
        h = _HANDLES[qW]
    except (KeyError, TypeError):
        if not isinstance(qW, QuantizedMatrix):
            raise TypeError("expected a QuantizedMatrix (see nmt8.quant."
                            f"quantize), got {type(qW).__name__}") from None
        with _HANDLES_LOCK:   # one handle per matrix, even from two threads
            h = _HANDLES.get(qW)
            if h is None:
                h = _HANDLES[qW] = _Handle(qW)
    if kid in _PACKED and not h.packed:
        with _HANDLES_LOCK:
            if not h.packed:
                h.add_packed(qW)
    return h


# ------------------------------------------------------------- activations
# The C code reads float32 only from 4-byte aligned memory: a misaligned
# array (a view one byte into a buffer, say) is copied first, and a
# misaligned ``out`` is written through an aligned temporary.

def _int8_matrix(Xq, K: int) -> np.ndarray:
    if not isinstance(Xq, np.ndarray) or Xq.dtype != _I8 or Xq.ndim != 2:
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
    if not (isinstance(out, np.ndarray) and out.dtype == _F32
            and out.shape == (P, N) and out.flags.c_contiguous
            and out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous ({P}, {N}) "
                         "float32 array")
    return out if out.flags.aligned else np.empty((P, N), np.float32)


def _bias(bias, N: int):
    if not (isinstance(bias, np.ndarray) and bias.dtype == _F32
            and bias.shape == (N,)):
        got = (f"{bias.dtype} {bias.shape}" if isinstance(bias, np.ndarray)
               else type(bias).__name__)
        raise ValueError(f"bias must be a float32 array of shape ({N},), "
                         f"got {got}")
    bias = np.ascontiguousarray(bias)
    return _ffi.from_buffer(_FLOATS, bias if bias.flags.aligned
                            else bias.copy())


def _no_rows(bias, N: int):
    """The checks a call with P = 0 still makes (C is not called then)."""
    if bias is not None:
        _bias(bias, N)
        if not np.isfinite(bias).all():
            _raise(_lib.NMT8_ENONFINITE_BIAS)


def _raise(rc: int, what: str = "X"):
    if rc == _lib.NMT8_ENONFINITE:
        raise ValueError(f"{what} contains NaN or inf (after conversion to "
                         "float32)")
    if rc == _lib.NMT8_ENONFINITE_BIAS:
        raise ValueError("bias contains NaN or inf")
    if rc == _lib.NMT8_ENOMEM:
        raise MemoryError("nmt8 kernel could not allocate its scratch buffer")
    if rc == _lib.NMT8_EUNSUPPORTED:
        raise ValueError("kernel not supported by this CPU; available: "
                         f"{available_kernels()}")
    raise ValueError(f"nmt8 kernel rejected its arguments (code {rc})")


def _target(out, P: int, N: int, bias):
    """``(Y, b)`` for a product of P rows and N outputs: where the C code
    writes (``_output``) and the C bias (NULL for None); b is None when
    P == 0, after the checks such a call still makes (C is not called)."""
    Y = _output(out, P, N)                                  # (P, out)
    if P == 0:
        _no_rows(bias, N)
        return Y, None
    return Y, (_NULL if bias is None else _bias(bias, N))


def _operands(W, cls, made_by: str, X, out, bias):
    """``(X, Y, b)`` for a product with W, which must be a ``cls`` (made by
    ``nmt8.quant.<made_by>``): X checked (``_x_matrix``), and ``_target``."""
    if not isinstance(W, cls):
        raise TypeError(f"expected a {cls.__name__} (see nmt8.quant."
                        f"{made_by}), got {type(W).__name__}")
    X = _x_matrix(X, W.in_features)
    return (X, *_target(out, X.shape[0], W.out_features, bias))


def _result(rc: int, Y: np.ndarray, out) -> np.ndarray:
    """What a product returns once C has written Y (code ``rc``): the
    error, or Y, or out with Y copied in (Y a stand-in for out)."""
    if rc:
        _raise(rc)
    if out is not None and Y is not out:
        out[...] = Y                           # misaligned or overlapping out
        return out
    return Y


def _rows_quantized(quantize_rows, dtype, X) -> tuple[np.ndarray, np.ndarray]:
    """``(Xq, x_step)`` from a C activation quantizer ``quantize_rows``
    writing ``dtype`` values (int8 or int16), for tests."""
    X = _float_matrix(X)
    P, K = X.shape
    Xq = np.empty((P, K), dtype)                            # (P, in)
    x_step = np.empty(P, np.float32)                        # (P,)
    if P:
        ctype = _ffi.typeof(f"int{8 * np.dtype(dtype).itemsize}_t[]")
        rc = quantize_rows(_ffi.from_buffer(ctype, Xq),
                           _ffi.from_buffer(_FLOATS, x_step),
                           _ffi.from_buffer(_FLOATS, X), P, K)
        if rc:
            _raise(rc)
    return Xq, x_step


# ------------------------------------------------------------------ products

def int8_matmul(qW: QuantizedMatrix, X: np.ndarray, kernel: str = "auto",
                bias: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """Approximate ``X @ W + bias`` with the int8 kernel of Section 3.

    qW: ``quantize(W)`` for W (in, out).  X: (P, in) float32 (float64 is
    converted; any strides accepted, copied if not C-contiguous).  Each row
    of X is quantized on the fly (``quant.quantize_activations``, in C).
    bias: float32 (out,) or None.  out: optional float32 (P, out) array to
    write into (it may overlap X, not bias).  kernel: a name of ``KERNELS``
    or ``"auto"``.  Returns float32 (P, out).

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
    kid = _for_rows(kid, kernel, P)
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
    kid = _for_rows(kid, kernel, P)
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
    kid = _for_rows(kid, kernel, P)
    rc = _lib.nmt8_accumulate(kid, _ffi.from_buffer(_INT32S, acc), h.w,
                              _ffi.from_buffer(_INT8S, Xq), P)
    if rc:
        _raise(rc)
    return acc


def _quantize_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The C activation quantizer alone, for tests: ``(Xq, x_step)`` like
    ``quant.quantize_activations(X)``, which must agree bit for bit."""
    return _rows_quantized(_lib.nmt8_quantize_rows, np.int8, X)
