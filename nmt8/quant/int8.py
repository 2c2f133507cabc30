"""8-bit quantization of weights and activations (Section 3 of Quinn &
Ballesteros 2018, "Pieces of Eight").

Implements the paper's linear, symmetric quantization to int8 values in
[-127, 127].  Two words, used the same way everywhere in ``nmt8.quant``
and ``csrc/``:

- the **scale** takes floats to int8: ``scale = 127 / max|W|``,
  ``Wq = clamp(round(W * scale), -127, 127)``;
- the **step** takes int8 back to floats: ``step = max|W| / 127``,
  ``W ~ Wq * step`` (the size of one int8 unit; the kernels multiply their
  int32 sums by steps only).

Rounding is to nearest even.  Weights get either one scale for the whole
matrix (``"per_tensor"``, as in the paper) or one per output column of
``W`` (``"per_row"``: a row of the transposed matrix the kernels read).
Activations are quantized the same way, one scale per row of X (one beam
hypothesis), on the fly at every product; ``quantize_activations`` is the
numpy reference of the C routine the kernels use, bit for bit.

Tiny values: when ``max|W| < 127 / FLT_MAX`` (about 3.7e-37, e.g. denormal
weights) ``127 / max`` overflows float32, so those rows are rounded with
the scale in float64 and their stored ``scale`` saturates at the largest
float32 (``step`` stays exact up to float32 rounding; ``dequantize`` uses
it there).  Rows below ``127 * 2**-150`` (about 8.9e-44) have step 0 and
multiply as zero, as any float32 product of them would nearly do.

Weights are stored the way the paper's kernel reads them: transposed,
``Wq`` of shape (out, in), so each output is one contiguous dot product.
``quantize`` takes ``W`` in the orientation of the fp32 product ``X @ W``,
(in, out), and ``dequantize`` gives it back in that orientation.

Does not: multiply (``nmt8.native.kernels``), pack for VNNI
(``nmt8.quant.vnni``), quantize biases (they stay float32 and are added to
the float32 result, as the paper keeps the product's output in float), use
zero points, or calibrate activation ranges offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from nmt8.quant.checks import QuantizedFields, freeze_steps, row_maxima, weight_matrix
from nmt8.quant.checks import frozen as _frozen

__all__ = [
    "MAX_IN_FEATURES",
    "SCHEMES",
    "QuantizedMatrix",
    "dequantize",
    "quantize",
    "quantize_activations",
]

SCHEMES = ("per_tensor", "per_row")

# the largest inner size for which an int32 sum of 127 * 127 products is
# exact: 127 * 127 * K < 2**31
MAX_IN_FEATURES = (2**31 - 1) // (127 * 127)

_F32_MAX = np.finfo(np.float32).max

_ROW_CHUNK = 2048  # output rows quantized at a time: bounds the temporaries


def check_scheme(scheme: str) -> str:
    s = str(scheme).replace("-", "_")
    if s not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    return s


@dataclass(frozen=True, eq=False)
class QuantizedMatrix(QuantizedFields):
    """An int8 weight matrix with its scales, ready for ``nmt8.native.kernels``.

    Fields (read-only copies of what the constructor is given, so later
    writes to the caller's arrays cannot change the matrix, nor leave a
    stale packed copy behind):

    - ``Wq``: (out, in) int8, C-contiguous, values in [-127, 127]; the
      transpose of the (in, out) float matrix.
    - ``scale``: (out,) float32, the paper's ``127 / max|W|`` (over the
      matrix for ``"per_tensor"``, where all entries are equal, or over
      output row o for ``"per_row"``): floats to int8.  An all-zero row
      gets scale 1 (its Wq is zero anyway); it saturates at the largest
      float32 for tiny rows (see the module docstring).
    - ``step``: (out,) float32, ``max|W| / 127``: int8 back to floats,
      the multiplier the kernel applies to row o's int32 sums (0 for an
      all-zero row).
    - ``scheme``: ``"per_tensor"`` or ``"per_row"``.
    - ``row_sums``: (out,) int32, ``sum_k Wq[o, k]``, computed here: the
      VNNI kernel's correction for its +128 shift of X.

    ``packed`` (computed on first use by the ``vnni`` kernel) is the same
    weights in the VNNI layout (``nmt8.quant.vnni``).  Pickling and
    copying keep the four fields and rebuild the rest on use.
    """

    Wq: np.ndarray
    scale: np.ndarray
    step: np.ndarray
    scheme: str = "per_tensor"
    row_sums: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        Wq = self.Wq
        if not (isinstance(Wq, np.ndarray) and Wq.dtype == np.int8
                and Wq.ndim == 2):
            raise ValueError("Wq must be a 2-D int8 array")
        N, K = Wq.shape
        if K > MAX_IN_FEATURES:
            raise ValueError(f"in_features {K} > {MAX_IN_FEATURES}: int32 "
                             "accumulation would no longer be exact")
        if Wq.size and Wq.min() < -127:
            raise ValueError("Wq values must lie in [-127, 127]")
        object.__setattr__(self, "Wq", _frozen(Wq))
        freeze_steps(self, N)
        object.__setattr__(self, "scheme", check_scheme(self.scheme))
        row_sums = self.Wq.sum(axis=1, dtype=np.int64).astype(np.int32)
        object.__setattr__(self, "row_sums", _frozen(row_sums))  # (out,)

    @cached_property
    def packed(self) -> np.ndarray:
        """The VNNI layout, read-only, 64-byte aligned:
        ``packed[b, g, i, j] = Wq[16 b + i, 4 g + j]``, zero padded, of
        shape (ceil(out/16), ceil(in/4), 16, 4) (``nmt8.quant.vnni``).

        One 64-byte line is 4 consecutive k of 16 output rows, the operand
        of one ``vpdpbusd``.
        """
        from nmt8.quant.vnni import pack

        return pack(self.Wq)

    @property
    def nbytes(self) -> int:
        """Bytes held: the int8 weights, scales, sums, and the packed copy
        if it has been made."""
        n = sum(a.nbytes for a in (self.Wq, self.scale, self.step,
                                   self.row_sums))
        if "packed" in self.__dict__:
            n += self.__dict__["packed"].nbytes
        return n

    def __repr__(self) -> str:
        return (f"QuantizedMatrix(in_features={self.in_features}, "
                f"out_features={self.out_features}, scheme={self.scheme!r})")


def _scale_and_step(absmax: np.ndarray):
    """``(scale, step, tiny)`` for row maxima absmax (out,) float32: scale
    127 / max (1 for a zero row, saturated for a tiny one), step max / 127,
    and the rows whose scale overflows float32."""
    zero = absmax == 0
    safe = np.where(zero, np.float32(1), absmax)
    with np.errstate(over="ignore"):  # tiny rows: inf, handled by the caller
        scale = (np.float32(127) / safe).astype(np.float32)       # (out,)
    tiny = np.isinf(scale)
    scale[tiny] = _F32_MAX
    scale[zero] = 1  # nothing to scale: Wq is zero whatever the scale
    step = (absmax / np.float32(127)).astype(np.float32)          # (out,)
    return scale, step, tiny


def _round_rows(rows: np.ndarray, scale: np.ndarray, absmax: np.ndarray,
                tiny: np.ndarray) -> np.ndarray:
    """clamp(rint(rows * scale), -127, 127) as int8, row by row; rows whose
    float32 scale overflows (``tiny``) are scaled in float64.
    rows (n, K) float32; scale, absmax, tiny (n,)."""
    q = rows * scale[:, None]                                     # (n, K)
    if tiny.any():
        s64 = 127.0 / absmax[tiny].astype(np.float64)             # finite
        q[tiny] = np.rint(rows[tiny].astype(np.float64) * s64[:, None])
    np.rint(q, out=q)
    np.clip(q, -127, 127, out=q)
    return q.astype(np.int8)


def quantize(W: np.ndarray, scheme: str = "per_tensor") -> QuantizedMatrix:
    """Quantize a float weight matrix W (in, out) to int8, Section 3.

    ``scheme``: ``"per_tensor"`` (one scale, the paper's) or ``"per_row"``
    (one per output, i.e. per column of W); ``"per-tensor"`` and
    ``"per-row"`` are accepted too.  W is first rounded to float32.
    """
    scheme = check_scheme(scheme)
    W = weight_matrix(W)
    K, N = W.shape                                   # (in, out)
    if K > MAX_IN_FEATURES:
        raise ValueError(f"in_features {K} > {MAX_IN_FEATURES}: int32 "
                         "accumulation would no longer be exact")
    WT = W.T                                         # (out, in) view
    absmax = np.zeros(N, np.float32)                 # (out,)
    if K > 0 and N > 0:
        with np.errstate(over="ignore"):  # beyond float32: inf, refused below
            for o in range(0, N, _ROW_CHUNK):
                absmax[o:o + _ROW_CHUNK] = np.abs(WT[o:o + _ROW_CHUNK]).max(1)
    if not np.isfinite(absmax).all():
        raise ValueError("W contains NaN or inf")
    if scheme == "per_tensor":
        absmax[:] = absmax.max(initial=0)
    scale, step, tiny = _scale_and_step(absmax)
    Wq = np.empty((N, K), np.int8)                   # (out, in)
    for o in range(0, N, _ROW_CHUNK):
        c = slice(o, o + _ROW_CHUNK)
        rows = WT[c].astype(np.float32)              # (chunk, in)
        Wq[c] = _round_rows(rows, scale[c], absmax[c], tiny[c])
    return QuantizedMatrix(Wq=Wq, scale=scale, step=step, scheme=scheme)


def dequantize(qW: QuantizedMatrix) -> np.ndarray:
    """The float32 matrix (in, out) that ``qW`` stands for: ``Wq / scale``
    (``Wq * step`` on rows whose scale saturated)."""
    Wq = qW.Wq.astype(np.float32)                      # (out, in)
    W = Wq / qW.scale[:, None]                         # (out, in)
    tiny = qW.scale == _F32_MAX
    if tiny.any():
        W[tiny] = Wq[tiny] * qW.step[tiny, None]
    return np.ascontiguousarray(W.T)                   # (in, out)


def quantize_activations(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantize each row of X (P, in) to int8: the numpy reference of the C
    routine the kernels run (same float32 operations, same result).

    Returns ``(Xq, x_step)``: Xq (P, in) int8 in [-127, 127] and x_step
    (P,) float32, the step of each row, ``max|X[p]| / 127``, so
    ``X ~ Xq * x_step[:, None]``.  Row p is scaled by ``127 / max|X[p]|``
    (in float64 where that overflows float32) and rounded to nearest even;
    an all-zero row gives step 0 and zeros.
    """
    X, m = row_maxima(X)                                      # m: (P,)
    scale, x_step, tiny = _scale_and_step(m)                       # (P,)
    return _round_rows(X, scale, m, tiny), x_step                  # (P, in)
