"""The decoder's elementary operations: the ONE weight-product function
:func:`linear`, and tanh, sigmoid and (log-)softmax.

Every product of an activation with a weight matrix in nmt8 goes through
:func:`linear`: a float32 ndarray (in, out) is multiplied by numpy
(``X @ W``, BLAS: the fp32 system of Section 2); any other weight is one of
the types of ``nmt8.model.products`` (fp32 C kernel, int16, int8 of Section 3,
simulated MSFP), bound to the kernel that multiplies it.

tanh, sigmoid and softmax stay in float, as in the paper (Table 2 shows
they cost < 7% after the int8 conversion).

Each function reports its time to ``nmt8.timers.TIMERS`` when profiling is
on, under ``product fp32 (matrix-vector)`` / ``(matrix-matrix)`` (numpy),
the weight type's own category (``product int8``, ...), ``tanh``,
``sigmoid`` or ``softmax``. ``nmt8.lab.speed.measure.cross_check`` finds
``_linear``, ``tanh``, ``sigmoid`` and ``log_softmax`` in THIS file by
name for cProfile: keep them here.

Does not: hold the weight or embedding types (``nmt8.model.products``,
``nmt8.model.embedding``), quantize weights (``nmt8.quant``), implement kernels
(``nmt8.native.kernels``, ``fp32``, ``int16``), or choose a precision's
kernel (``nmt8.model.precision``).
"""

from __future__ import annotations

import time

import numpy as np

from nmt8.model.products import (
    dense,
)
from nmt8.native.fused.softmax import row_logsumexp as _c_row_logsumexp
from nmt8.timers import TIMERS

__all__ = [
    "linear",
    "log_softmax",
    "row_logsumexp",
    "sigmoid",
    "softmax",
    "tanh",
]

_clock = time.perf_counter


def linear(X, W, b: np.ndarray | None = None, mm: bool = False) -> np.ndarray:
    """``X @ W + b`` for X (P, in) float32 (or ``Rows8``); W a float32
    ndarray (in, out) or a weight type of ``nmt8.model.products``.

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
        return dense(X, W, b)
    return W.matmul(X, b)


def _timed(category: str, f, *args):
    """``f(*args)``, its time added to ``TIMERS`` under ``category``."""
    t0 = _clock()
    y = f(*args)
    TIMERS.add(category, _clock() - t0)
    return y


def tanh(x: np.ndarray) -> np.ndarray:
    if TIMERS.enabled:
        return _timed("tanh", np.tanh, x)
    return np.tanh(x)


def _sigmoid(x):
    # one transcendental instead of exp + divide: sigma(x) = (1 + tanh(x/2)) / 2
    y = np.tanh(x * 0.5)
    y += 1.0
    y *= 0.5
    return y


def sigmoid(x: np.ndarray) -> np.ndarray:
    if TIMERS.enabled:
        return _timed("sigmoid", _sigmoid, x)
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
        return _timed("softmax", _log_softmax, x, out)
    return _log_softmax(x, out)


def row_logsumexp(x: np.ndarray, with_max: bool = False):
    """``log(sum(exp(x), axis=1))`` of x (P, V), float64 (P,), stable;
    with ``with_max`` also each row's maximum, float32 (P,).

    What log-softmax subtracts, without writing the (P, V) result: beam
    search adds it to each hypothesis' score instead. In C
    (``nmt8.native.fused.softmax``: two passes over each row, summed in double);
    each row's value is computed alone, so it does not depend on the
    other rows.
    """
    if TIMERS.enabled:
        lse, m = _timed("softmax", _c_row_logsumexp, x)
    else:
        lse, m = _c_row_logsumexp(x)
    return (lse, m) if with_max else lse


def softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(x))
