"""Argument checks and matrix plumbing shared by the int8, int16 and fp32
wrappers of ``nmt8.quant`` (and the shape of ``MSFPMatrix``).

Pure numpy: no compiled code, so ``nmt8.quant.int8`` (which the compiled
wrapper imports) can use it too.  What it holds: read-only private copies
for the matrices' constructors, the checks of their scale and step arrays,
their shape properties and pickling through the constructor, and the
checks of W (a 2-D float array) and of X (a C-contiguous, aligned float32
matrix of the right width).

Does not: call C, raise for C error codes, or check kernel names and
biases (``nmt8.native.kernels`` does, for all three wrappers).
"""

from __future__ import annotations

import numpy as np

_F32 = np.dtype(np.float32)


def frozen(a: np.ndarray) -> np.ndarray:
    """A private, read-only, C-contiguous copy of ``a``.

    A view of a read-only copy: nobody else holds the memory, and the view's
    ``writeable`` flag cannot be turned back on (its base is read-only).
    """
    owner = np.array(a, order="C", copy=True)
    owner.flags.writeable = False
    return owner.view()


def freeze_steps(matrix, N: int):
    """Check ``matrix.scale`` and ``matrix.step``, (N,) float32, finite and
    >= 0, and replace them (in a frozen dataclass) by frozen copies."""
    for name in ("scale", "step"):
        a = getattr(matrix, name)
        if not (isinstance(a, np.ndarray) and a.dtype == np.float32
                and a.shape == (N,)):
            raise ValueError(f"{name} must be a ({N},) float32 array")
        if not np.isfinite(a).all() or (a < 0).any():
            raise ValueError(f"{name} must be finite and >= 0")
        object.__setattr__(matrix, name, frozen(a))


class OutShape:
    """``out_features`` and ``shape`` (in, out) of a matrix stored (out,
    ...) in the field named by ``_ROWS``; ``in_features`` comes from the
    subclass."""

    _ROWS = "Wq"

    @property
    def out_features(self) -> int:
        return getattr(self, self._ROWS).shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(in, out), the shape of the float matrix this stands for."""
        return (self.in_features, self.out_features)


class Transposed(OutShape):
    """A weight matrix stored transposed, (out, in), in field ``_ROWS``."""

    @property
    def in_features(self) -> int:
        return getattr(self, self._ROWS).shape[1]


class QuantizedFields(Transposed):
    """``Wq``, ``scale``, ``step``, ``scheme``: pickles and copies through
    the constructor, so copies come back read-only and nothing derived
    (packed copy, the kernels' C handle) travels."""

    def __reduce__(self):
        return (type(self), (self.Wq, self.scale, self.step, self.scheme))


def weight_matrix(W) -> np.ndarray:
    """W (in, out) as an array, or ValueError if not a 2-D float array."""
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (in, out), got shape {W.shape}")
    if not np.issubdtype(W.dtype, np.floating):
        raise ValueError(f"W must be a float array, got {W.dtype}")
    return W


def row_maxima(X) -> tuple[np.ndarray, np.ndarray]:
    """``(X, m)``: X (P, in) as float32 and m (P,) = ``max|X[p]|`` (0 for
    no columns), or ValueError if X is not 2-D or holds NaN or inf (after
    the conversion).  The numpy references of the activation quantizers
    start here."""
    with np.errstate(over="ignore"):  # too large for float32: inf, refused
        X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (P, in), got shape {X.shape}")
    P, K = X.shape
    m = np.abs(X).max(axis=1) if K else np.zeros(P, np.float32)   # (P,)
    if not np.isfinite(m).all():   # a NaN or inf anywhere shows in the max
        raise ValueError("X contains NaN or inf")
    return X, m


def float_matrix(X) -> np.ndarray:
    """X as an aligned C-contiguous 2-D float32 array, or ValueError."""
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (P, in), got shape {X.shape}")
    if X.dtype.kind != "f":
        raise ValueError(f"X must be float32 (or float64), got {X.dtype}")
    with np.errstate(over="ignore"):  # too large for float32: inf, refused
        X = np.ascontiguousarray(X, dtype=np.float32)
    return X if X.flags.aligned else X.copy()


def x_matrix(X, in_features: int) -> np.ndarray:
    """X for a product with ``in_features`` inputs: ``float_matrix(X)``
    (X itself if already fit), with ``in_features`` columns."""
    if not (type(X) is np.ndarray and X.dtype is _F32 and X.ndim == 2
            and X.flags.c_contiguous and X.flags.aligned):
        X = float_matrix(X)
    K = X.shape[1]
    if K != in_features:
        raise ValueError(f"X has {K} columns, the matrix has "
                         f"in_features={in_features}")
    return X
