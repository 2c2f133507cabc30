"""The weight types of the precision ladder, each bound to the kernel that
multiplies it, and the int8 activation rows they accept.

One weight type per rung (``nmt8.model.ops.linear`` dispatches on it):

==============  ==============================  =============================
precision       weight type                     product
==============  ==============================  =============================
fp32 (numpy)    float32 ndarray (in, out)       ``X @ W`` (BLAS), Section 2
fp32 (C)        :class:`F32Weight`              ``nmt8.quant.fp32_matmul``
int16           :class:`Int16Weight`            ``nmt8.quant.int16_matmul``
int8            :class:`Int8Weight`             ``int8_matmul``, Section 3
int4            :class:`Int4Weight`             ``int4_matmul``, 4-bit weights
msfp16, msfp12  :class:`MSFPWeight`             ``X @ W_hat`` in fp32: SIMULATED
==============  ==============================  =============================

:class:`Rows8` are activation rows already quantized to int8 (an int8
embedding table's rows, ``nmt8.model.embedding``): the int8 and int4
products take them as they are, every other product dequantizes them first.

Each type's ``category`` names its line of the profile (``nmt8.timers``):
``product int8``, ``product int4``, ``product int16``, ``product fp32 (C kernel)``,
``product msfp16 (simulated in fp32)``.

Does not: time products or pick the numpy fp32 path (``nmt8.model.ops.linear``),
quantize weights (``nmt8.quant``), implement kernels (``nmt8.native.kernels``,
``fp32``, ``int16``), or choose a precision's kernel (``nmt8.model.precision``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Rows8(NamedTuple):
    """Activation rows already quantized to int8, one step per row (as
    ``nmt8.quant.quantize_activations`` returns them): ``X ~ q * step``."""

    q: np.ndarray  # (P, in) int8 in [-127, 127]
    step: np.ndarray  # (P,) float32

    def dequantize(self) -> np.ndarray:
        return self.q.astype(np.float32) * self.step[:, None]  # (P, in)


def floats(X) -> np.ndarray:
    """X (P, in) as float32: :class:`Rows8` dequantized, else X itself."""
    return X.dequantize() if isinstance(X, Rows8) else X


def dense(X, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``X @ W + b`` in numpy fp32 (BLAS), W a float32 ndarray (in, out)."""
    Y = floats(X) @ W  # (P, out)
    if b is not None:
        Y += b
    return Y


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
        from nmt8.native.kernels import int8_matmul, int8_matmul_q

        if isinstance(X, Rows8):  # already quantized: use the rows as they are
            return int8_matmul_q(self.q, X.q, X.step, kernel=self.kernel,
                                 bias=b)
        return int8_matmul(self.q, X, kernel=self.kernel, bias=b)


class Int4Weight(_Weight):
    """4-bit weights, packed (``nmt8.native.int4.pack4(quantize4(W))``),
    bound to an int4 kernel: the rung below Section 3 (int8 activations).
    Holds the packed buffer alone."""

    __slots__ = ()
    category = "product int4"

    def arrays(self) -> list[np.ndarray]:
        return [self.q.Wp]

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        from nmt8.native.int4 import int4_matmul, int4_matmul_q

        if isinstance(X, Rows8):  # already quantized: use the rows as they are
            return int4_matmul_q(self.q, X.q, X.step, kernel=self.kernel,
                                 bias=b)
        return int4_matmul(self.q, X, kernel=self.kernel, bias=b)


class Int16Weight(_Weight):
    """``quantize16(W)`` bound to an int16 kernel (Devlin 2017)."""

    __slots__ = ()
    category = "product int16"

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        from nmt8.native.int16 import int16_matmul

        return int16_matmul(self.q, floats(X), kernel=self.kernel, bias=b)


class F32Weight(_Weight):
    """``pack_fp32(W)`` bound to a C fp32 kernel: the paper's "similar
    optimized floating point implementation"."""

    __slots__ = ()
    category = "product fp32 (C kernel)"

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        from nmt8.native.fp32 import fp32_matmul

        return fp32_matmul(self.q, floats(X), kernel=self.kernel, bias=b)


class MSFPWeight(_Weight):
    """A weight rounded to block floating point (``nmt8.quant.msfp``) and
    kept dequantized in float32: SIMULATED, multiplied by numpy in fp32
    (quality only, no speed or memory claim)."""

    __slots__ = ("fmt",)

    def __init__(self, W: np.ndarray, fmt: str):
        super().__init__(W, "numpy")  # W (in, out) float32, on the MSFP grid
        self.fmt = fmt

    @property
    def W(self) -> np.ndarray:
        return self.q

    @property
    def category(self) -> str:
        return f"product {self.fmt} (simulated in fp32)"

    def arrays(self) -> list[np.ndarray]:
        return [self.q]

    def matmul(self, X, b: np.ndarray | None) -> np.ndarray:
        return dense(X, self.q, b)

    def __repr__(self) -> str:
        return f"MSFPWeight({self.shape}, fmt={self.fmt!r}, simulated)"


def in_c(W) -> bool:
    """Whether a model with this weight runs the work beside its products
    in C too (attention, the GRU's gates: ``nmt8.native.fused.attention``,
    ``nmt8.native.fused.gru``): int8, int4 and C fp32. numpy fp32 stays the
    textbook numpy; int16 and the simulated formats keep numpy's as well."""
    return isinstance(W, (Int8Weight, Int4Weight, F32Weight))
