"""16-bit products: the rung between float32 and the paper's int8.

Quinn & Ballesteros 2018 go from float32 to 8 bits; the 16-bit products
of Devlin (2017, "Sharp Models on Dull Hardware") and Marian's int16 are
the step between.  The same linear, symmetric quantization as
``nmt8.quant.int8`` and the same kernel shape (``csrc/nmt8_int16*.c``:
weights transposed, 4 rows at a time, narrow X quantized row by row):

    Y[p, o] = (sum_k Xq[p, k] * Wq[o, k]) * x_step[p] * step[o] + b[o]

Exactness, by design (``csrc/nmt8_int16.h``):

- activations: ``Xq = rint(X * 32767 / max|X[p]|)`` in [-32767, 32767];
- weights: ``Wq = rint(W * 8191 / max|W|)`` in [-8191, 8191], stored as
  int16 (14 bits used);
- one ``pmaddwd`` / ``vpdpwssd`` adds ``x0 w0 + x1 w1`` to each int32 lane,
  at most ``2 * 32767 * 8191``; 4 of them fit (``4 * 2 * 32767 * 8191 =
  2 147 221 512 < 2**31 - 1``), after which the lanes are widened into
  int64.  The int64 sums are exact while ``K * 32767 * 8191 < 2**63``:
  ``MAX_IN_FEATURES16``.

So every kernel (``ref``, ``sse4``, ``avx2``, ``vnni``) returns the same
int64 sums as a numpy int64 product, and the same float32 results, bit for
bit: every int16 kernel gives the same translation.  The sums are scaled
in float64 (``((float64)acc * x_step) * step``), rounded to float32, and
the float32 bias added.  Rounding is in float64, to nearest even, so
tiny rows need no special case.

Does not: use full 16-bit weights (they would leave room for one pair per
int32 lane), saturate (Marian's int16 could overflow int32 in theory; this
cannot), pack weights, or quantize biases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmt8.quant.checks import QuantizedFields, freeze_steps, row_maxima, weight_matrix
from nmt8.quant.checks import frozen as _frozen
from nmt8.quant.int8 import check_scheme

__all__ = [
    "MAX_IN_FEATURES16",
    "W_MAX",
    "X_MAX",
    "QuantizedMatrix16",
    "check_inner",
    "dequantize16",
    "quantize16",
    "quantize_activations16",
]

X_MAX = 2**15 - 1       # activations
W_MAX = 2**13 - 1       # weights
# the largest inner size whose int64 sums stay exact
MAX_IN_FEATURES16 = (2**63 - 1) // (X_MAX * W_MAX)

_F32_MAX = np.finfo(np.float32).max
_I16 = np.dtype(np.int16)


@dataclass(frozen=True, eq=False)
class QuantizedMatrix16(QuantizedFields):
    """An int16 weight matrix with its scales, like ``QuantizedMatrix``.

    - ``Wq``: (out, in) int16, C-contiguous, values in [-8191, 8191]; the
      transpose of the (in, out) float matrix.
    - ``scale``: (out,) float32, ``8191 / max|W|`` (saturated at the
      largest float32 for tiny rows; 1 for a zero row): floats to int16.
    - ``step``: (out,) float32, ``max|W| / 8191``: int16 back to floats.
    - ``scheme``: ``"per_tensor"`` or ``"per_row"``.

    Read-only private copies; pickles and copies through the constructor.
    """

    Wq: np.ndarray
    scale: np.ndarray
    step: np.ndarray
    scheme: str = "per_tensor"

    def __post_init__(self):
        Wq = self.Wq
        if not (isinstance(Wq, np.ndarray) and Wq.dtype == _I16
                and Wq.ndim == 2):
            raise ValueError("Wq must be a 2-D int16 array")
        N, K = Wq.shape
        check_inner(K)
        if Wq.size and (Wq.min() < -W_MAX or Wq.max() > W_MAX):
            raise ValueError(f"Wq values must lie in [-{W_MAX}, {W_MAX}]")
        object.__setattr__(self, "Wq", _frozen(Wq))
        freeze_steps(self, N)
        object.__setattr__(self, "scheme", check_scheme(self.scheme))

    @property
    def nbytes(self) -> int:
        """Bytes held: the int16 weights (2 per weight), scales, steps."""
        return sum(a.nbytes for a in (self.Wq, self.scale, self.step))

    def __repr__(self) -> str:
        return (f"QuantizedMatrix16(in_features={self.in_features}, "
                f"out_features={self.out_features}, scheme={self.scheme!r})")


def check_inner(K: int):
    if K > MAX_IN_FEATURES16:
        raise ValueError(f"in_features {K} > {MAX_IN_FEATURES16}: int64 "
                         "accumulation would no longer be exact")


def _round(rows: np.ndarray, absmax: np.ndarray, top: int) -> np.ndarray:
    """rint(rows * top / absmax) as int16, in float64; zero rows stay 0.
    rows (n, K) float; absmax (n,) float32."""
    m = absmax.astype(np.float64)
    s = np.where(m > 0, top / np.where(m > 0, m, 1.0), 0.0)        # (n,)
    out = np.empty(rows.shape, np.int16)                           # (n, K)
    # a block of rows at a time: the float64 temporaries stay small (a
    # 40k x 620 matrix at once would need three of 200 MB each)
    step = max(1, (1 << 20) // max(rows.shape[1], 1))
    for i in range(0, rows.shape[0], step):
        q = rows[i:i + step].astype(np.float64)
        q *= s[i:i + step, None]
        np.rint(q, out=q)
        np.clip(q, -top, top, out=q)
        out[i:i + step] = q
    return out


def quantize16(W: np.ndarray, scheme: str = "per_tensor") -> QuantizedMatrix16:
    """Quantize a float weight matrix W (in, out) to int16 in [-8191, 8191].

    ``scheme``: ``"per_tensor"`` (one scale) or ``"per_row"`` (one per
    output), as ``quantize``.  W is first rounded to float32.
    """
    scheme = check_scheme(scheme)
    W = weight_matrix(W)
    K, N = W.shape                                   # (in, out)
    check_inner(K)
    with np.errstate(over="ignore"):   # beyond float32: inf, refused below
        WT = np.ascontiguousarray(W.T, dtype=np.float32)          # (out, in)
    absmax = np.abs(WT).max(1) if K else np.zeros(N, np.float32)  # (out,)
    if not np.isfinite(absmax).all():
        raise ValueError("W contains NaN or inf")
    if scheme == "per_tensor":
        absmax[:] = absmax.max(initial=0)
    m = absmax.astype(np.float64)
    with np.errstate(over="ignore", divide="ignore"):
        scale = np.where(m > 0, W_MAX / np.where(m > 0, m, 1.0), 1.0)
    scale = np.minimum(scale, _F32_MAX).astype(np.float32)        # (out,)
    step = (m / W_MAX).astype(np.float32)                         # (out,)
    return QuantizedMatrix16(Wq=_round(WT, absmax, W_MAX), scale=scale,
                             step=step, scheme=scheme)


def dequantize16(qW: QuantizedMatrix16) -> np.ndarray:
    """The float32 matrix (in, out) that ``qW`` stands for: ``Wq * step``."""
    W = qW.Wq.astype(np.float32) * qW.step[:, None]                # (out, in)
    return np.ascontiguousarray(W.T)


def quantize_activations16(X) -> tuple[np.ndarray, np.ndarray]:
    """Quantize each row of X (P, in) to int16: the numpy reference of the
    C routine the kernels run (same float64 operations, same result).

    Returns ``(Xq, x_step)``: Xq (P, in) int16 in [-32767, 32767], and
    x_step (P,) float32 = ``max|X[p]| / 32767`` (0 for a zero row).
    """
    X, m = row_maxima(X)                                      # m: (P,)
    x_step = (m.astype(np.float64) / X_MAX).astype(np.float32)    # (P,)
    return _round(X, m, X_MAX), x_step
