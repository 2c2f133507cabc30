"""Block floating point in the manner of Microsoft's MSFP (Darvish Rouhani
et al., 2020): a rung of the precision ladder beyond Quinn & Ballesteros
2018, SIMULATED.

A weight matrix W (in, out) is cut, in each output column, into blocks of
``BLOCK = 16`` consecutive inputs (along K, the direction of the dot
product, so a block's values are summed together).  A block stores:

- one shared 8-bit exponent ``e = floor(log2(max|block|))`` (exact: read
  from ``frexp``, not from a rounded logarithm), clamped to
  ``[E_MIN, E_MAX] = [-126, 127]``, the normal exponents of float32;
  a block of zeros gets ``E_MIN``;
- per value, a sign and an m-bit magnitude on the grid
  ``step = 2**(e + 1 - m)``:

      q = clamp(round_half_even(w / step), -(2**m - 1), 2**m - 1)
      w_hat = q * step

  ``msfp16``: m = 7 (8 bits a value + 8/16 for the exponent: 8.5 bits);
  ``msfp12``: m = 3 (4.5 bits).

Error bounds, per block: ``|w - w_hat| <= step / 2``, except where the
largest magnitudes round up to ``2**m`` steps and saturate at
``2**m - 1``: there ``|w - w_hat| < step`` (only values above
``(2**m - 1/2) * step``).  Blocks whose maximum is below ``2**E_MIN``
(float32 denormals) use ``e = E_MIN``: their values are rounded on the
grid ``2**(E_MIN + 1 - m)``, so the tiniest flush to zero.  Every
``w_hat`` is exactly representable in float32 (at most 8 significant
bits, exponents within float32's range); values already on a block's
grid come back unchanged (``simulate`` is idempotent).  NaN and inf are
refused with a ValueError.

SIMULATED: ``nmt8.model.model`` quantizes each fused weight matrix at load and
keeps ``dequantize_msfp(...)`` in float32; products run in numpy fp32.
This measures what the format does to translations (quality), never its
speed or memory: the model holds float32 weights.

Does not: quantize activations (MSFP hardware does, with its own blocks),
multiply in integer arithmetic, or pack mantissas into fewer than 8 bits
(``MSFPMatrix`` keeps one int8 per mantissa; ``bits_per_value`` gives the
format's true size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmt8.quant.checks import OutShape, weight_matrix

__all__ = [
    "BLOCK",
    "E_MAX",
    "E_MIN",
    "MSFP_FORMATS",
    "MSFPMatrix",
    "bits_per_value",
    "dequantize_msfp",
    "quantize_msfp",
    "simulate_msfp",
]

BLOCK = 16  # values sharing one exponent, along the input dimension K
E_MIN, E_MAX = -126, 127  # shared exponent range: float32's normal exponents
MSFP_FORMATS = {"msfp16": 7, "msfp12": 3}  # name -> magnitude bits m
_COLUMNS = 4096  # output columns rounded at a time: bounds the temporaries


def _mantissa_bits(fmt: str) -> int:
    if not isinstance(fmt, str) or fmt not in MSFP_FORMATS:
        raise ValueError(f"unknown MSFP format {fmt!r}; choices: "
                         f"{', '.join(MSFP_FORMATS)}")
    return MSFP_FORMATS[fmt]


def bits_per_value(fmt: str) -> float:
    """The format's size: sign + m bits, plus the exponent shared by 16."""
    return 1 + _mantissa_bits(fmt) + 8 / BLOCK


@dataclass(frozen=True, eq=False)
class MSFPMatrix(OutShape):
    """A weight matrix in block floating point.

    - ``q``: (out, K_pad) int8 signed magnitudes in [-(2**m - 1), 2**m - 1],
      the transpose of W zero padded to a multiple of ``BLOCK`` inputs;
    - ``e``: (out, K_pad / BLOCK) int8 shared exponents in [E_MIN, E_MAX];
    - ``fmt``: ``"msfp16"`` or ``"msfp12"``; ``in_features``: K.
    """

    q: np.ndarray
    e: np.ndarray
    fmt: str
    in_features: int
    _ROWS = "q"

    def __repr__(self) -> str:
        return (f"MSFPMatrix(in_features={self.in_features}, out_features="
                f"{self.out_features}, fmt={self.fmt!r}, simulated)")


def _round_columns(WT: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(q, e) of columns WT (n, K_pad) float32, K_pad a multiple of BLOCK."""
    n, K = WT.shape
    blocks = WT.reshape(n, K // BLOCK, BLOCK).astype(np.float64)  # (n, G, 16)
    absmax = np.abs(blocks).max(axis=2)                           # (n, G)
    _, ex = np.frexp(absmax)  # absmax = f * 2**ex, f in [0.5, 1): e = ex - 1
    e = np.clip(ex - 1, E_MIN, E_MAX)
    e[absmax == 0] = E_MIN
    # w / step by a power of two: exact in float64, then ties to even
    q = np.rint(np.ldexp(blocks, (m - 1 - e)[:, :, None]))
    top = 2**m - 1
    np.clip(q, -top, top, out=q)                                  # saturation
    return q.astype(np.int8).reshape(n, K), e.astype(np.int8)


def quantize_msfp(W: np.ndarray, fmt: str = "msfp16") -> MSFPMatrix:
    """W (in, out) in block floating point (see the module docstring).

    Raises ValueError if W is not a 2-D float array or holds NaN or inf.
    """
    m = _mantissa_bits(fmt)
    W = weight_matrix(W)
    with np.errstate(over="ignore"):  # beyond float32: inf, refused below
        W = W.astype(np.float32, copy=False)
    K, N = W.shape                                                # (in, out)
    G = -(-K // BLOCK)
    q = np.zeros((N, G * BLOCK), np.int8)                         # (out, K_pad)
    e = np.full((N, G), E_MIN, np.int8)                           # (out, G)
    for o in range(0, N, _COLUMNS):
        cols = W[:, o:o + _COLUMNS]                               # (K, n)
        if not np.isfinite(cols).all():
            raise ValueError("W contains NaN or inf")
        WT = np.zeros((cols.shape[1], G * BLOCK), np.float32)     # (n, K_pad)
        WT[:, :K] = cols.T
        q[o:o + _COLUMNS], e[o:o + _COLUMNS] = _round_columns(WT, m)
    return MSFPMatrix(q=q, e=e, fmt=fmt, in_features=K)


def dequantize_msfp(M: MSFPMatrix) -> np.ndarray:
    """The float32 matrix (in, out) that M stands for: ``q * 2**(e+1-m)``
    (exact in float32)."""
    m = _mantissa_bits(M.fmt)
    N, K_pad = M.q.shape
    out = np.zeros((M.in_features, N), np.float32)                # (in, out)
    for o in range(0, N if K_pad else 0, _COLUMNS):
        q = M.q[o:o + _COLUMNS].reshape(-1, K_pad // BLOCK, BLOCK)
        e = M.e[o:o + _COLUMNS].astype(np.int64)
        W = np.ldexp(q.astype(np.float64), (e + 1 - m)[:, :, None])
        out[:, o:o + _COLUMNS] = W.reshape(-1, K_pad)[:, :M.in_features].T
    return out


def simulate_msfp(W: np.ndarray, fmt: str = "msfp16") -> np.ndarray:
    """``dequantize_msfp(quantize_msfp(W, fmt))``: W (in, out) rounded to
    the format, as float32 (in, out), C-contiguous."""
    return dequantize_msfp(quantize_msfp(W, fmt))
