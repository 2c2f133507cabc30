"""4-bit weights with one step per group of inputs: the rung below Section 3
of Quinn & Ballesteros 2018 ("Pieces of Eight"), in numpy.

The paper quantizes weights and activations to 8 bits.  This format goes
one step lower on the weights only; the activations stay int8, one step
per row, exactly as ``nmt8.quant.int8.quantize_activations`` makes them.
Four bits leave 15 values, too few for one step per row, so each output
row o is cut into groups of G consecutive inputs (G = 32 or 64; the last
group of a row is zero padded) and every group g gets its own step:

    step[o, g] = max_{k in g} |W[k, o]| / 7                (float32)
    Wq[o, k]   = clip(rint(W[k, o] / step[o, g]), -7, 7)    (to nearest even)

so ``W[k, o] ~ Wq[o, k] * step[o, g]``.  An all-zero group gets step 0
and Wq 0; so does a group so tiny that its step rounds to 0 in float32
(``max < 3.5 * 2**-149``, the smallest denormals).  Dividing by the step
(rather than multiplying by ``7 / max``, as int8's scale does) never
overflows, so no group needs int8's float64 detour for tiny values.

The product, in the exact float order every C kernel follows
(``csrc/nmt8_int4.h``; :func:`matmul4_reference` repeats it in numpy):

    acc[p, o, g] = sum_{k in g} Xq[p, k] * Wq[o, k]       exact, int32
    S[p, o]      = sum over g, in order, of float32(acc[p, o, g]) * step[o, g]
    Y[p, o]      = x_step[p] * S[p, o]  (+ b[o])

each float32 multiply and add rounded on its own (no fused multiply-add).

Stored weights: the C kernels read them packed, two per byte with their
steps interleaved (``nmt8.native.int4``); ``QuantizedMatrix4.nbytes`` is
that packed size, about 9/16 (G = 64) or 5/8 (G = 32) of int8's.

Does not: pack (the C library does, ``nmt8.native.int4``), multiply fast,
quantize activations (``nmt8.quant.int8``), use zero points (the grid is
symmetric, -8 unused), or choose the group size of a model
(``nmt8.model.precision``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmt8.quant.checks import Transposed, weight_matrix
from nmt8.quant.checks import frozen as _frozen

__all__ = [
    "GROUPS",
    "W_MAX",
    "QuantizedMatrix4",
    "dequantize4",
    "group_sums4",
    "matmul4_reference",
    "packed_nbytes4",
    "quantize4",
]

GROUPS = (32, 64)  # the group sizes the C kernels have
W_MAX = 7          # Wq in [-7, 7]
ROWS, LINE = 16, 64  # the packed layout: blocks of 16 outputs, 64-byte lines

_ROW_CHUNK = 1024  # output rows quantized at a time: bounds the temporaries


def check_group(group) -> int:
    """``group`` as an int of ``GROUPS``, or ValueError."""
    if isinstance(group, bool) or group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    return int(group)


def n_groups(K: int, group: int) -> int:
    """Groups per row: ``ceil(K / group)``."""
    return -(-K // group)


def packed_nbytes4(N: int, K: int, group: int) -> int:
    """Bytes of the packed (N outputs, K inputs) matrix the kernels read:
    per 16 outputs and group, ``group / 2`` bytes of nibbles per output and
    16 float32 steps (``ceil(N/16) * NG * (G/8 + 1) * 64``)."""
    return -(-N // ROWS) * n_groups(K, group) * (group // 8 + 1) * LINE


@dataclass(frozen=True, eq=False)
class QuantizedMatrix4(Transposed):
    """4-bit weights with their group steps, as numpy arrays.

    Fields (read-only private copies of what the constructor is given):

    - ``Wq``: (out, in) int8, C-contiguous, values in [-7, 7]; the
      transpose of the (in, out) float matrix.
    - ``steps``: (out, n_groups) float32, finite and >= 0: the step of
      each group of ``group`` consecutive inputs of each output row.
    - ``group``: 32 or 64.

    ``nbytes`` is the size the C kernels hold it in (packed, see the
    module docstring), not the size of these numpy arrays.
    """

    Wq: np.ndarray
    steps: np.ndarray
    group: int = 64

    def __post_init__(self):
        object.__setattr__(self, "group", check_group(self.group))
        Wq = self.Wq
        if not (isinstance(Wq, np.ndarray) and Wq.dtype == np.int8
                and Wq.ndim == 2):
            raise ValueError("Wq must be a 2-D int8 array")
        if Wq.size and (Wq.min() < -W_MAX or Wq.max() > W_MAX):
            raise ValueError(f"Wq values must lie in [-{W_MAX}, {W_MAX}]")
        N, K = Wq.shape
        NG = n_groups(K, self.group)
        s = self.steps
        if not (isinstance(s, np.ndarray) and s.dtype == np.float32
                and s.shape == (N, NG)):
            raise ValueError(f"steps must be a ({N}, {NG}) float32 array")
        if not np.isfinite(s).all() or (s < 0).any():
            raise ValueError("steps must be finite and >= 0")
        object.__setattr__(self, "Wq", _frozen(Wq))
        object.__setattr__(self, "steps", _frozen(s))

    @property
    def n_groups(self) -> int:
        return self.steps.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes of the packed form the kernels hold (nibbles and steps)."""
        return packed_nbytes4(self.out_features, self.in_features, self.group)

    def __reduce__(self):
        return (type(self), (self.Wq, self.steps, self.group))

    def __repr__(self) -> str:
        return (f"QuantizedMatrix4(in_features={self.in_features}, "
                f"out_features={self.out_features}, group={self.group})")


def _grouped(A: np.ndarray, group: int) -> np.ndarray:
    """A (n, K) zero padded to whole groups, as (n, NG, group)."""
    n, K = A.shape
    NG = n_groups(K, group)
    if NG * group != K:
        A = np.concatenate([A, np.zeros((n, NG * group - K), A.dtype)], 1)
    return A.reshape(n, NG, group)


def quantize4(W: np.ndarray, group: int = 64) -> QuantizedMatrix4:
    """Quantize a float weight matrix W (in, out) to 4 bits, one step per
    ``group`` consecutive inputs of each output (see the module docstring).

    W is first rounded to float32; NaN or inf raise ValueError.
    """
    group = check_group(group)
    W = weight_matrix(W)
    K, N = W.shape                                    # (in, out)
    NG = n_groups(K, group)
    WT = W.T                                          # (out, in) view
    Wq = np.empty((N, K), np.int8)                    # (out, in)
    steps = np.empty((N, NG), np.float32)             # (out, NG)
    for o in range(0, N, _ROW_CHUNK):
        c = slice(o, o + _ROW_CHUNK)
        with np.errstate(over="ignore"):  # beyond float32: inf, refused
            rows = _grouped(WT[c].astype(np.float32), group)  # (n, NG, G)
        absmax = np.abs(rows).max(axis=2)               # (n, NG)
        if not np.isfinite(absmax).all():
            raise ValueError("W contains NaN or inf")
        step = (absmax / np.float32(W_MAX)).astype(np.float32)  # (n, NG)
        q = np.zeros(rows.shape, np.float32)                     # (n, NG, G)
        live = step > 0
        np.divide(rows, step[:, :, None], out=q, where=live[:, :, None])
        np.rint(q, out=q)
        np.clip(q, -W_MAX, W_MAX, out=q)
        Wq[c] = q.reshape(q.shape[0], -1)[:, :K].astype(np.int8)
        steps[c] = step
    return QuantizedMatrix4(Wq=Wq, steps=steps, group=group)


def dequantize4(qW: QuantizedMatrix4) -> np.ndarray:
    """The float32 matrix (in, out) that ``qW`` stands for:
    ``Wq[o, k] * step[o, g]`` (float32)."""
    N, K = qW.Wq.shape
    q = _grouped(qW.Wq.astype(np.float32), qW.group)      # (out, NG, G)
    W = (q * qW.steps[:, :, None]).reshape(N, -1)[:, :K]  # (out, in)
    return np.ascontiguousarray(W.T)                      # (in, out)


def group_sums4(Wq: np.ndarray, Xq: np.ndarray, group: int) -> np.ndarray:
    """The exact sums ``acc[p, o, g] = sum_{k in g} Xq[p, k] * Wq[o, k]``
    in int64, (P, out, NG): the integer reference of the kernels'
    ``nmt8_int4_accumulate``.  Wq (out, in), Xq (P, in), integers."""
    group = check_group(group)
    Xg = _grouped(np.asarray(Xq).astype(np.int64), group)   # (P, NG, G)
    Wg = _grouped(np.asarray(Wq).astype(np.int64), group)   # (out, NG, G)
    return np.einsum("pgk,ogk->pog", Xg, Wg)                # (P, out, NG)


def matmul4_reference(qW: QuantizedMatrix4, Xq: np.ndarray,
                      x_step: np.ndarray,
                      bias: np.ndarray | None = None) -> np.ndarray:
    """The int4 product in numpy, in the kernels' exact float order: the
    same bits as every C kernel (for tests).

    Xq (P, in) int8 and x_step (P,) float32, as
    ``quantize_activations`` returns them; bias (out,) float32 or None.
    Returns float32 (P, out).
    """
    acc = group_sums4(qW.Wq, Xq, qW.group)                  # (P, out, NG)
    P, N, NG = acc.shape
    S = np.zeros((P, N), np.float32)                        # (P, out)
    for g in range(NG):                                     # in order of g
        S = S + acc[:, :, g].astype(np.float32) * qW.steps[:, g]
    Y = np.asarray(x_step, np.float32)[:, None] * S         # (P, out)
    if bias is not None:
        Y = Y + np.asarray(bias, np.float32)
    return Y
