"""The packed weight layout of the AVX-512 VNNI kernels (``csrc/nmt8_vnni.c``
and the blocked ``csrc/nmt8_gemm.c``, which reads it sliver by sliver),
a liberty beyond Section 3 of Quinn & Ballesteros 2018, whose kernel reads
the transposed weights as they are.

``vpdpbusd`` adds, in each of 16 int32 lanes, 4 products of bytes.  So that
one 64-byte load holds exactly its weight operand, the (out, in) int8 matrix
is cut into tiles of ``ROWS`` output rows by ``DEPTH`` consecutive k:

    Wp[b, g, i, j] = Wq[ROWS * b + i, DEPTH * g + j]       (zero padded)

The tile sizes are stated once on each side: ``NMT8_VNNI_ROWS``,
``NMT8_VNNI_DEPTH`` and ``NMT8_VNNI_ALIGN`` in ``csrc/nmt8_kernels.h`` and the
constants below; ``nmt8.native.kernels`` refuses to load if the compiled
library disagrees with them, so the C kernel and this packing cannot differ.
(This module imports nothing compiled, so ``nmt8.quant.int8`` can pack
without an import cycle through the package.)

Does not: multiply (``nmt8.native.kernels``) or cache the packed copy
(``QuantizedMatrix.packed`` does, on first use).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ALIGN", "DEPTH", "ROWS", "pack", "packed_shape"]

ROWS = 16   # output rows per 64-byte vector (NMT8_VNNI_ROWS)
DEPTH = 4   # consecutive k per int32 lane (NMT8_VNNI_DEPTH)
ALIGN = 64  # bytes: where the packed array starts (NMT8_VNNI_ALIGN)


def packed_shape(out_features: int, in_features: int) -> tuple[int, ...]:
    """(ceil(out / ROWS), ceil(in / DEPTH), ROWS, DEPTH)."""
    return (-(-out_features // ROWS), -(-in_features // DEPTH), ROWS, DEPTH)


def pack(Wq: np.ndarray) -> np.ndarray:
    """``Wq`` (out, in) int8 in the VNNI layout: a read-only int8 array of
    :func:`packed_shape`, starting on an ``ALIGN``-byte boundary."""
    N, K = Wq.shape
    nb, G, _, _ = shape = packed_shape(N, K)
    Wpad = np.zeros((nb * ROWS, G * DEPTH), np.int8)     # (out', in')
    Wpad[:N, :K] = Wq
    out = _aligned_empty(shape, ALIGN)                   # (nb, G, ROWS, DEPTH)
    out[...] = Wpad.reshape(nb, ROWS, G, DEPTH).transpose(0, 2, 1, 3)
    out.flags.writeable = False
    return out


def _aligned_empty(shape, align: int) -> np.ndarray:
    """An int8 array of ``shape`` whose data starts on an ``align`` boundary."""
    n = int(np.prod(shape))
    raw = np.empty(n + align, np.int8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + n].reshape(shape)
