"""The decoder's elementary operations, the ONE weight-product function,
and the weight and embedding types of each precision.

Every product of an activation with a weight matrix in nmt8 goes through
:func:`linear`, which dispatches on the weight's type, one per rung of the
precision ladder:

==============  ==============================  =============================
precision       weight type                     product
==============  ==============================  =============================
fp32 (numpy)    float32 ndarray (in, out)       ``X @ W`` (BLAS), Section 2
fp32 (C)        :class:`F32Weight`              ``nmt8.quant.fp32_matmul``
int16           :class:`Int16Weight`            ``nmt8.quant.int16_matmul``
int8            :class:`Int8Weight`             ``int8_matmul``, Section 3
msfp16, msfp12  :class:`MSFPWeight`             ``X @ W_hat`` in fp32: SIMULATED
==============  ==============================  =============================

tanh, sigmoid and softmax stay in float, as in the paper (Table 2 shows
they cost < 7% after the int8 conversion).

Embeddings are lookups, not products: :class:`Embedding` stores a table
as fp32, fp16 or int8 rows (one step per row) and always looks rows up
exactly as its dequantized table. An int8 table hands its rows to an int8
product as they are (:class:`Rows8`): they are exactly what
``int8_matmul`` would compute from the dequantized rows, so nothing is
rounded twice.

Each function reports its time to ``nmt8.timers.TIMERS`` when profiling is
on, under ``product fp32 (matrix-vector)`` / ``(matrix-matrix)`` (numpy),
``product fp32 (C kernel)``, ``product int16``, ``product int8`` or
``product msfp16`` / ``msfp12 (simulated in fp32)``.

Does not: quantize weights (``nmt8.quant``), implement kernels
(``nmt8.quant.kernels``, ``fp32``, ``int16``), or choose a precision's
kernel (``nmt8.model``).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from .timers import TIMERS

_clock = time.perf_counter


class Rows8(NamedTuple):
    """Activation rows already quantized to int8, one step per row (as
    ``nmt8.quant.quantize_activations`` returns them): ``X ~ q * step``."""

    q: np.ndarray  # (P, in) int8 in [-127, 127]
    step: np.ndarray  # (P,) float32

    def dequantize(self) -> np.ndarray:
        return self.q.astype(np.float32) * self.step[:, None]  # (P, in)


def linear(X, W, b: np.ndarray | None = None, mm: bool = False) -> np.ndarray:
    """``X @ W + b`` for X (P, in) float32 (or :class:`Rows8`); W a float32
    ndarray (in, out) or one of the weight types of this module.

    ``mm`` marks the encoder's products over all source positions (the
    paper's "matrix multiply" line of Table 1); only the profile uses it.
    """
    if TIMERS.enabled:
        t0 = _clock()
        Y = _linear(X, W, b)
        if isinstance(W, np.ndarray):
            big = mm or X.shape[0] > 16
            kind = "matrix-matrix" if big else "matrix-vector"
            TIMERS.add(f"product fp32 ({kind})", _clock() - t0)
        else:
            TIMERS.add(W.category, _clock() - t0)
        return Y
    return _linear(X, W, b)


def _linear(X, W, b):
    if isinstance(W, np.ndarray):
        if isinstance(X, Rows8):
            X = X.dequantize()
        Y = X @ W
        if b is not None:
            Y += b
        return Y
    return W.matmul(X, b)


class _Weight:
    """A weight matrix bound to the kernel that multiplies it."""

    __slots__ = ("kernel", "q")
    category = "product"

    def __init__(self, q, kernel: str = "auto"):
        self.q, self.kernel = q, kernel

    @property
    def shape(self) -> tuple[int, int]:
        """(in, out), the shape of the float matrix this stands for."""
        return self.q.shape

    @property
    def nbytes(self) -> int:
        return self.q.nbytes

    def arrays(self) -> list[np.ndarray]:
        """Every array this weight holds (for memory accounting)."""
        out = [getattr(self.q, f) for f in ("Wq", "scale", "step", "row_sums",
                                            "WT") if hasattr(self.q, f)]
        packed = getattr(self.q, "__dict__", {}).get("packed")
        return out + ([packed] if packed is not None else [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.q!r}, kernel={self.kernel!r})"


class Int8Weight(_Weight):
    """A quantized weight bound to the kernel that multiplies it.

    ``linear(X, Int8Weight(quantize(W), "sse4"), b)`` approximates
    ``X @ W + b`` with the int8 kernel of Section 3.
    """

    __slots__ = ()
    category = "product int8"

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        from .quant.kernels import int8_matmul, int8_matmul_q

        if isinstance(X, Rows8):  # already quantized: use the rows as they are
            return int8_matmul_q(self.q, X.q, X.step, kernel=self.kernel,
                                 bias=b)
        return int8_matmul(self.q, X, kernel=self.kernel, bias=b)


class Int16Weight(_Weight):
    """``quantize16(W)`` bound to an int16 kernel (Devlin 2017)."""

    __slots__ = ()
    category = "product int16"

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        from .quant.int16 import int16_matmul

        if isinstance(X, Rows8):
            X = X.dequantize()
        return int16_matmul(self.q, X, kernel=self.kernel, bias=b)


class F32Weight(_Weight):
    """``pack_fp32(W)`` bound to a C fp32 kernel: the paper's "similar
    optimized floating point implementation"."""

    __slots__ = ()
    category = "product fp32 (C kernel)"

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        from .quant.fp32 import fp32_matmul

        if isinstance(X, Rows8):
            X = X.dequantize()
        return fp32_matmul(self.q, X, kernel=self.kernel, bias=b)


class MSFPWeight:
    """A weight rounded to block floating point (``nmt8.quant.msfp``) and
    kept dequantized in float32: SIMULATED, multiplied by numpy in fp32
    (quality only, no speed or memory claim)."""

    __slots__ = ("W", "fmt")
    kernel = "numpy"

    def __init__(self, W: np.ndarray, fmt: str):
        self.W, self.fmt = W, fmt  # W (in, out) float32, on the MSFP grid

    @property
    def category(self) -> str:
        return f"product {self.fmt} (simulated in fp32)"

    @property
    def shape(self) -> tuple[int, int]:
        return self.W.shape

    @property
    def nbytes(self) -> int:
        return self.W.nbytes

    def arrays(self) -> list[np.ndarray]:
        return [self.W]

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        return _linear(X, self.W, b)

    def __repr__(self) -> str:
        return f"MSFPWeight({self.shape}, fmt={self.fmt!r}, simulated)"


# -- embeddings ---------------------------------------------------------------
EMBEDDINGS = ("fp32", "fp16", "int8")
_ROWS = 4096  # table rows converted at a time: bounds the temporaries


class Embedding:
    """A lookup table E (V, dim) stored as ``"fp32"``, ``"fp16"`` or
    ``"int8"`` rows.

    ``int8``: each row quantized as the int8 products quantize an
    activation row (``nmt8.quant.quantize_activations``: ``q = rint(E[v] *
    127 / max|E[v]|)``, ``step = max|E[v]| / 127``); ``fp16``: each value
    rounded to float16. :meth:`lookup` returns float32 rows equal, bit for
    bit, to the same rows of :meth:`dequantize`.
    """

    __slots__ = ("dtype", "q", "step", "table")

    def __init__(self, E: np.ndarray, dtype: str = "fp32"):
        if dtype not in EMBEDDINGS:
            raise ValueError(f"unknown embeddings {dtype!r}; choices: "
                             f"{', '.join(EMBEDDINGS)}")
        self.dtype, self.q, self.step, self.table = dtype, None, None, None
        if dtype == "fp32":
            self.table = np.ascontiguousarray(E, dtype=np.float32)  # (V, dim)
        elif dtype == "fp16":
            self.table = np.empty(E.shape, np.float16)  # (V, dim)
            for r in range(0, len(E), _ROWS):
                self.table[r:r + _ROWS] = E[r:r + _ROWS]
        else:
            from .quant.int8 import quantize_activations

            self.q = np.empty(E.shape, np.int8)  # (V, dim)
            self.step = np.empty(len(E), np.float32)  # (V,)
            for r in range(0, len(E), _ROWS):
                self.q[r:r + _ROWS], self.step[r:r + _ROWS] = \
                    quantize_activations(E[r:r + _ROWS])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.q if self.table is None else self.table).shape

    def arrays(self) -> list[np.ndarray]:
        return [a for a in (self.table, self.q, self.step) if a is not None]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())

    def lookup(self, ids) -> np.ndarray:
        """Rows ``ids`` (n,) as float32 (n, dim)."""
        if self.dtype == "int8":
            return self.q[ids].astype(np.float32) * self.step[ids][:, None]
        if self.dtype == "fp16":
            return self.table[ids].astype(np.float32)  # exact: fp16 in fp32
        return self.table[ids]

    def lookup_rows(self, ids):
        """Rows ``ids`` for a product: :class:`Rows8` for an int8 table (its
        rows as stored), else float32 as :meth:`lookup`."""
        if self.dtype == "int8":
            return Rows8(self.q[ids], self.step[ids])
        return self.lookup(ids)

    def dequantize(self) -> np.ndarray:
        """The whole table as float32 (V, dim)."""
        return self.lookup(np.arange(self.shape[0]))

    def __repr__(self) -> str:
        return f"Embedding({self.shape}, {self.dtype!r})"


def tanh(x: np.ndarray) -> np.ndarray:
    if TIMERS.enabled:
        t0 = _clock()
        y = np.tanh(x)
        TIMERS.add("tanh", _clock() - t0)
        return y
    return np.tanh(x)


def _sigmoid(x):
    # one transcendental instead of exp + divide: sigma(x) = (1 + tanh(x/2)) / 2
    y = np.tanh(x * 0.5)
    y += 1.0
    y *= 0.5
    return y


def sigmoid(x: np.ndarray) -> np.ndarray:
    if TIMERS.enabled:
        t0 = _clock()
        y = _sigmoid(x)
        TIMERS.add("sigmoid", _clock() - t0)
        return y
    return _sigmoid(x)


def _log_softmax(x, out=None):
    m = x.max(axis=-1, keepdims=True)
    z = np.subtract(x, m, out=out)
    lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    z -= lse
    return z


def log_softmax(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise log-softmax, numerically stable.

    ``out=x`` overwrites x (the beam search does this with the logits it
    owns: one (P, V) array less to allocate per step).
    """
    if TIMERS.enabled:
        t0 = _clock()
        y = _log_softmax(x, out)
        TIMERS.add("softmax", _clock() - t0)
        return y
    return _log_softmax(x, out)


def _row_logsumexp(x, rows):
    m = x.max(axis=1)  # (P,)
    out = np.empty(len(m))  # (P,) float64
    for i in range(0, len(m), rows):  # a block of rows at a time, in cache
        z = x[i:i + rows] - m[i:i + rows, None]
        np.exp(z, out=z)
        out[i:i + rows] = np.log(z.sum(axis=1).astype(np.float64))
    return out + m


def row_logsumexp(x: np.ndarray, rows: int = 16) -> np.ndarray:
    """``log(sum(exp(x), axis=1))`` of x (P, V), float64 (P,), stable.

    What log-softmax subtracts, without writing the (P, V) result: beam
    search adds it to each hypothesis' score instead. Each row's value is
    computed alone, so it does not depend on the other rows.
    """
    if TIMERS.enabled:
        t0 = _clock()
        y = _row_logsumexp(x, rows)
        TIMERS.add("softmax", _clock() - t0)
        return y
    return _row_logsumexp(x, rows)


def softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(x))
