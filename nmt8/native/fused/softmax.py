"""The row log-sum-exp of beam search in C (``csrc/nmt8_softmax.c``).

``lse[p] = m[p] + log(sum_v exp(x[p, v] - m[p]))``, ``m[p] = max_v x[p, v]``:
what log-softmax subtracts from a row of logits. numpy needs four passes
over the (P, V) logits (maximum, difference, exp, sum) and a temporary;
the C kernel reads each row twice (its maximum, then exp and sum, with
nmt8's own float32 exp, summed in double in a fixed order). The same bits
on every instruction set; each row alone, so a row's value does not
depend on the other rows (batch invariance).

Does not: select the best extensions (``nmt8.search.select``).
"""

from __future__ import annotations

import numpy as np

from nmt8.native.clib import F32, FLOATS, ffi, lib, raise_error
from nmt8.native.dispatch import isa_code

_DOUBLES = ffi.typeof("double[]")


def row_logsumexp(x, isa: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(lse (P,) float64, m (P,) float32) of x (P, V) float32.

    A row holding a NaN gets NaN; a row whose maximum is +-inf (all -inf,
    or V = 0) gets lse = m. x is converted to C-contiguous float32 first
    (the logits already are: no copy).
    """
    code = isa_code(isa)
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind != "f":
        raise ValueError(f"x must be a 2-D float array, got {x.dtype} with "
                         f"shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=F32)
    P, V = x.shape
    lse, m = np.empty(P), np.empty(P, F32)
    if P == 0:
        return lse, m
    rc = lib.nmt8_row_logsumexp(ffi.from_buffer(_DOUBLES, lse),
                                ffi.from_buffer(FLOATS, m),
                                ffi.from_buffer(FLOATS, x), V, P, V, code)
    if rc:
        raise_error(rc)
    return lse, m
