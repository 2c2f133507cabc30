"""Beam search's choice of the best one-word extensions, in C
(``csrc/nmt8_select.c``): :func:`nmt8.search.select.select_numpy`, its
reference, to the bit, in one call for every sentence of a batch.

numpy spends most of a batch-1 step's selection on calling its functions
(about 25 of them, on a handful of numbers); the C kernel bounds each
sentence as the reference does, skips the entries below the bound with a
vector compare, and keeps the best ``wants`` of the rest in a sorted list.

Does not: compute the scores (``nmt8.search.beam``), keep hypotheses
(``nmt8.search.sentence``).
"""

from __future__ import annotations

import numpy as np

from nmt8.native.clib import F32, FLOATS, NULL, ffi, lib, raise_error
from nmt8.native.dispatch import isa_code

_I64 = ffi.typeof("int64_t[]")
_F64 = ffi.typeof("double[]")
MAX_WANTS = 64  # csrc/nmt8_select.c: a sentence keeps at most this many


def select(logp, offset, counts, wants, row_max=None, isa: str = "auto"):
    """Per sentence ``(rows, words, scores)``, as
    ``nmt8.search.select.select_numpy`` (the same arguments; see there)."""
    code = isa_code(isa)
    logp = np.asarray(logp)
    if logp.ndim != 2 or logp.dtype != F32 or logp.shape[1] < 1:
        raise ValueError(f"logp must be a 2-D float32 array with at least one "
                         f"column, got {logp.dtype} {logp.shape}")
    logp = np.ascontiguousarray(logp)
    P, V = logp.shape
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    wants = np.ascontiguousarray(wants, dtype=np.int64)
    G = len(counts)
    if offset.shape != (P,) or counts.shape != (G,) or wants.shape != (G,) \
            or counts.sum() != P or (counts < 0).any() \
            or ((wants < 1) | (wants > MAX_WANTS)).any():
        raise ValueError(f"need offset ({P},), counts summing to {P} and one "
                         f"want in [1, {MAX_WANTS}] per sentence")
    m = NULL
    if row_max is not None:
        row_max = np.ascontiguousarray(row_max, dtype=F32)
        if row_max.shape != (P,):
            raise ValueError(f"row_max must be ({P},)")
        m = ffi.from_buffer(FLOATS, row_max)
    slots = int(wants.sum())
    rows, words = np.empty(slots, np.int64), np.empty(slots, np.int64)
    scores, kept = np.empty(slots), np.empty(G, np.int64)
    rc = lib.nmt8_select(
        ffi.from_buffer(_I64, rows), ffi.from_buffer(_I64, words),
        ffi.from_buffer(_F64, scores), ffi.from_buffer(_I64, kept),
        ffi.from_buffer(FLOATS, logp), ffi.from_buffer(_F64, offset), m,
        ffi.from_buffer(_I64, counts), ffi.from_buffer(_I64, wants), G, P, V,
        code)
    if rc:
        raise_error(rc, "logp")
    out, a = [], 0
    for k, n in zip(wants.tolist(), kept.tolist()):
        out.append((rows[a:a + n], words[a:a + n], scores[a:a + n]))
        a += k
    return out
