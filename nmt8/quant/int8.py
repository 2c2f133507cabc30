"""8-bit quantization of weights and activations (Section 3 of Quinn &
Ballesteros 2018, "Pieces of Eight").

Implements the paper's linear, symmetric quantization to int8 values in
[-127, 127]:

    scale = 127 / max|W|          Wq = clamp(round(W * scale), -127, 127)
                                  W  ~ Wq / scale

with round-to-nearest-even, for weights either one scale for the whole
matrix (``"per_tensor"``, as in the paper) or one per output column of
``W`` (``"per_row"``: a row of the transposed matrix the kernels read).
Activations are quantized the same way, one scale per row of X (one beam
hypothesis), on the fly at every product; ``quantize_activations`` is the
numpy reference of the C routine the kernels use, bit for bit.

Weights are stored the way the paper's kernel reads them: transposed,
``Wq`` of shape (out, in), so each output is one contiguous dot product.
``quantize`` takes ``W`` in the orientation of the fp32 product ``X @ W``,
(in, out), and ``dequantize`` gives it back in that orientation.

Does not: multiply (``nmt8.quant.kernels``), quantize biases (they stay float32
and are added to the float32 result, as the paper keeps the product's
output in float), use zero points, or calibrate activation ranges
offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

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

# the VNNI kernel's packed layout: 16 output rows x 4 consecutive k
VNNI_ROWS, VNNI_DEPTH = 16, 4

_ROW_CHUNK = 2048  # output rows quantized at a time: bounds the temporaries


def _scheme(scheme: str) -> str:
    s = str(scheme).replace("-", "_")
    if s not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    return s


@dataclass(frozen=True, eq=False)
class QuantizedMatrix:
    """An int8 weight matrix with its scales, ready for ``nmt8.quant.kernels``.

    Fields (all arrays read-only when made by :func:`quantize`):

    - ``Wq``: (out, in) int8, C-contiguous, values in [-127, 127]; the
      transpose of the (in, out) float matrix.
    - ``scale``: (out,) float32, the paper's ``127 / max|W|`` (over the
      matrix for ``"per_tensor"``, where all entries are equal, or over
      output row o for ``"per_row"``); ``W ~ Wq / scale``.  An all-zero
      row or matrix gets scale 1 (its Wq is zero anyway).
    - ``step``: (out,) float32, ``max|W| / 127``: the multiplier the kernel
      applies to row o's int32 sums (0 for an all-zero row).
    - ``scheme``: ``"per_tensor"`` or ``"per_row"``.
    - ``row_sums``: (out,) int32, ``sum_k Wq[o, k]``, computed here: the
      VNNI kernel's correction for its +128 shift of X.

    ``packed`` (computed on first use by the ``vnni`` kernel) is the same
    weights in the VNNI layout.  Treat the object as immutable.
    """

    Wq: np.ndarray
    scale: np.ndarray
    step: np.ndarray
    scheme: str = "per_tensor"
    row_sums: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        Wq = self.Wq
        if not (isinstance(Wq, np.ndarray) and Wq.dtype == np.int8
                and Wq.ndim == 2 and Wq.flags.c_contiguous):
            raise ValueError("Wq must be a C-contiguous 2-D int8 array")
        N, K = Wq.shape
        if K > MAX_IN_FEATURES:
            raise ValueError(f"in_features {K} > {MAX_IN_FEATURES}: int32 "
                             "accumulation would no longer be exact")
        if Wq.size and Wq.min() < -127:
            raise ValueError("Wq values must lie in [-127, 127]")
        for name, dtype in (("scale", np.float32), ("step", np.float32)):
            a = getattr(self, name)
            if not (isinstance(a, np.ndarray) and a.dtype == dtype
                    and a.shape == (N,) and a.flags.c_contiguous):
                raise ValueError(f"{name} must be a contiguous ({N},) "
                                 f"{np.dtype(dtype).name} array")
        object.__setattr__(self, "scheme", _scheme(self.scheme))
        row_sums = Wq.sum(axis=1, dtype=np.int64).astype(np.int32)  # (out,)
        row_sums.flags.writeable = False
        object.__setattr__(self, "row_sums", row_sums)

    @property
    def in_features(self) -> int:
        return self.Wq.shape[1]

    @property
    def out_features(self) -> int:
        return self.Wq.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(in, out), the shape of the float matrix this stands for."""
        return (self.in_features, self.out_features)

    @cached_property
    def packed(self) -> np.ndarray:
        """The VNNI layout, (ceil(out/16), ceil(in/4), 16, 4) int8, 64-byte
        aligned: ``packed[b, g, i, j] = Wq[16 b + i, 4 g + j]``, zero padded.

        One 64-byte line is 4 consecutive k of 16 output rows, the operand
        of one ``vpdpbusd``.
        """
        N, K = self.Wq.shape
        nb, G = -(-N // VNNI_ROWS), -(-K // VNNI_DEPTH)
        Wpad = np.zeros((nb * VNNI_ROWS, G * VNNI_DEPTH), np.int8)
        Wpad[:N, :K] = self.Wq
        out = _aligned_empty((nb, G, VNNI_ROWS, VNNI_DEPTH), 64)
        out[...] = Wpad.reshape(nb, VNNI_ROWS, G, VNNI_DEPTH).transpose(0, 2, 1, 3)
        out.flags.writeable = False
        return out

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


def _aligned_empty(shape, align: int) -> np.ndarray:
    """An int8 array of ``shape`` whose data starts on an ``align`` boundary."""
    n = int(np.prod(shape))
    raw = np.empty(n + align, np.int8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + n].reshape(shape)


def quantize(W: np.ndarray, scheme: str = "per_tensor") -> QuantizedMatrix:
    """Quantize a float weight matrix W (in, out) to int8, Section 3.

    ``scheme``: ``"per_tensor"`` (one scale, the paper's) or ``"per_row"``
    (one per output, i.e. per column of W); ``"per-tensor"`` and
    ``"per-row"`` are accepted too.  W is first rounded to float32.
    """
    scheme = _scheme(scheme)
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (in, out), got shape {W.shape}")
    if not np.issubdtype(W.dtype, np.floating):
        raise ValueError(f"W must be a float array, got {W.dtype}")
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
    zero = absmax == 0
    safe = np.where(zero, np.float32(1), absmax)
    scale = np.where(zero, np.float32(1), np.float32(127) / safe)
    scale = scale.astype(np.float32)                 # (out,)
    step = (absmax / np.float32(127)).astype(np.float32)  # (out,)
    Wq = np.empty((N, K), np.int8)                   # (out, in)
    for o in range(0, N, _ROW_CHUNK):
        rows = WT[o:o + _ROW_CHUNK].astype(np.float32)   # (chunk, in)
        rows *= scale[o:o + _ROW_CHUNK, None]
        np.rint(rows, out=rows)
        np.clip(rows, -127, 127, out=rows)
        Wq[o:o + _ROW_CHUNK] = rows
    for a in (Wq, scale, step):
        a.flags.writeable = False
    return QuantizedMatrix(Wq=Wq, scale=scale, step=step, scheme=scheme)


def dequantize(qW: QuantizedMatrix) -> np.ndarray:
    """The float32 matrix (in, out) that ``qW`` stands for: ``Wq / scale``."""
    W = qW.Wq.astype(np.float32) / qW.scale[:, None]   # (out, in)
    return np.ascontiguousarray(W.T)                   # (in, out)


def quantize_activations(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantize each row of X (P, in) to int8: the numpy reference of the C
    routine the kernels run (same float32 operations, same result).

    Returns ``(Xq, sx)``: Xq (P, in) int8 in [-127, 127] and sx (P,)
    float32 with ``sx[p] = max|X[p]| / 127``, so ``X ~ Xq * sx[:, None]``.
    Row p is scaled by ``127 / max|X[p]|`` and rounded to nearest even; an
    all-zero row gives ``sx = 0`` and zeros.
    """
    with np.errstate(over="ignore"):  # too large for float32: inf, refused
        X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (P, in), got shape {X.shape}")
    P, K = X.shape
    m = np.abs(X).max(axis=1) if K else np.zeros(P, np.float32)   # (P,)
    if not np.isfinite(m).all():   # a NaN or inf anywhere shows in the max
        raise ValueError("X contains NaN or inf")
    sx = (m / np.float32(127)).astype(np.float32)                  # (P,)
    s = np.float32(127) / np.where(m > 0, m, np.float32(1))        # (P,)
    Xq = np.clip(np.rint(X * s[:, None].astype(np.float32)), -127, 127)
    return Xq.astype(np.int8), sx                                  # (P, in)
