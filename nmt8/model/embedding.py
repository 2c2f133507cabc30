"""Embedding tables stored as fp32, fp16 or int8 rows.

Embeddings are lookups, not products: :class:`Embedding` stores a table
(``Wemb`` or ``Wemb_dec``, (V, dim)) as fp32, fp16 or int8 rows (one step
per row) and always looks rows up exactly as its dequantized table. An
int8 table hands its rows to an int8 product as they are
(``nmt8.model.products.Rows8``): they are exactly what ``int8_matmul`` would
compute from the dequantized rows, so nothing is rounded twice.

Does not: choose a model's table precision (``nmt8.model.precision``: fp32 for
fp32 and msfp, fp16 for the others unless asked) or multiply
(``nmt8.model.ops.linear``).
"""

from __future__ import annotations

import numpy as np

from nmt8.model.products import Rows8

EMBEDDINGS = ("fp32", "fp16", "int8")
_ROWS = 4096  # table rows converted at a time: bounds the temporaries


class Embedding:
    """A lookup table E (V, dim) stored as ``"fp32"``, ``"fp16"`` or
    ``"int8"`` rows.

    ``int8``: each row quantized as the int8 products quantize an
    activation row (``nmt8.quant.quantize_activations``: ``q = rint(E[v] *
    127 / max|E[v]|)``, ``step = max|E[v]| / 127``); ``fp16``: each value
    rounded to float16. :meth:`lookup` returns float32 rows equal, bit for
    bit, to the same rows of :meth:`dequantize`.
    """

    __slots__ = ("dtype", "q", "step", "table")

    def __init__(self, E: np.ndarray, dtype: str = "fp32"):
        if dtype not in EMBEDDINGS:
            raise ValueError(f"unknown embeddings {dtype!r}; choices: "
                             f"{', '.join(EMBEDDINGS)}")
        self.dtype, self.q, self.step, self.table = dtype, None, None, None
        if dtype == "fp32":
            self.table = np.ascontiguousarray(E, dtype=np.float32)  # (V, dim)
        elif dtype == "fp16":
            self.table = np.empty(E.shape, np.float16)  # (V, dim)
            for r in range(0, len(E), _ROWS):
                self.table[r:r + _ROWS] = E[r:r + _ROWS]
        else:
            from nmt8.quant.int8 import quantize_activations

            self.q = np.empty(E.shape, np.int8)  # (V, dim)
            self.step = np.empty(len(E), np.float32)  # (V,)
            for r in range(0, len(E), _ROWS):
                self.q[r:r + _ROWS], self.step[r:r + _ROWS] = \
                    quantize_activations(E[r:r + _ROWS])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.q if self.table is None else self.table).shape

    def arrays(self) -> list[np.ndarray]:
        return [a for a in (self.table, self.q, self.step) if a is not None]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())

    def lookup(self, ids) -> np.ndarray:
        """Rows ``ids`` (n,) as float32 (n, dim)."""
        if self.dtype == "int8":
            return self.q[ids].astype(np.float32) * self.step[ids][:, None]
        if self.dtype == "fp16":
            return self.table[ids].astype(np.float32)  # exact: fp16 in fp32
        return self.table[ids]

    def lookup_rows(self, ids):
        """Rows ``ids`` for a product: :class:`Rows8` for an int8 table (its
        rows as stored), else float32 as :meth:`lookup`."""
        if self.dtype == "int8":
            return Rows8(self.q[ids], self.step[ids])
        return self.lookup(ids)

    def dequantize(self) -> np.ndarray:
        """The whole table as float32 (V, dim)."""
        return self.lookup(np.arange(self.shape[0]))

    def __repr__(self) -> str:
        return f"Embedding({self.shape}, {self.dtype!r})"
