"""The decoder's elementary operations, and the ONE weight-product function.

Every product of an activation with a weight matrix in nmt8 goes through
:func:`linear`. A weight is either a float32 ndarray of shape (in, out)
(the 32-bit system of Section 2) or a :class:`nmt8.quant.QuantizedMatrix`
(the 8-bit system of Section 3); switching precision is switching which of
the two the model holds. tanh, sigmoid and softmax stay in float, as in the
paper (Table 2 shows they cost < 7% after the int8 conversion).

Each function reports its time to ``nmt8.timers.TIMERS`` when profiling is on.

Does not: quantize (``nmt8.quant``) or implement kernels (``nmt8.quant.kernels``).
"""

from __future__ import annotations

import time

import numpy as np

from .timers import TIMERS

_clock = time.perf_counter


def linear(X: np.ndarray, W, b: np.ndarray | None = None,
           mm: bool = False) -> np.ndarray:
    """``X @ W + b`` for X (P, in); W fp32 (in, out) or an Int8Weight.

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
            TIMERS.add("product int8", _clock() - t0)
        return Y
    return _linear(X, W, b)


def _linear(X, W, b):
    if isinstance(W, np.ndarray):
        Y = X @ W
        if b is not None:
            Y += b
        return Y
    return W.matmul(X, b)  # Int8Weight: the int8 kernel of Section 3


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


def softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(x))


class Int8Weight:
    """A quantized weight bound to the kernel that multiplies it.

    ``linear(X, Int8Weight(quantize(W), "sse4"), b)`` approximates
    ``X @ W + b`` with the int8 kernel of Section 3.
    """

    __slots__ = ("kernel", "q")

    def __init__(self, q, kernel: str = "auto"):
        self.q, self.kernel = q, kernel

    @property
    def shape(self) -> tuple[int, int]:
        return (self.q.in_features, self.q.out_features)

    def matmul(self, X: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        from .quant.kernels import int8_matmul

        return int8_matmul(self.q, X, kernel=self.kernel, bias=b)
