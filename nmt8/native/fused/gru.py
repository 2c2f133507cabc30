"""The non-linear part of a GRU step in C (``csrc/nmt8_gru.c``).

Given both projections, ``nmt8.model.gru.gru_gates`` is six numpy operations
on (P, H)-sized arrays, each a pass through memory with a temporary; the
C kernel does them in one pass per row, in numpy's order, with nmt8's own
float32 tanh (``nmt8.native.fused.attention.tanh32``): the same bits on every
instruction set, each row alone (batch invariance).

Does not: compute the projections (``nmt8.model.gru``, the products).
"""

from __future__ import annotations

import numpy as np

from nmt8.native.clib import F32, FLOATS, ffi, lib, raise_error
from nmt8.native.dispatch import isa_code


def _rows(a, width: int, name: str):
    """a (P, width) as a C-contiguous float32 array (a copy of a column
    slice: cheaper here than passing its stride)."""
    if not (isinstance(a, np.ndarray) and a.ndim == 2 and a.shape[1] == width
            and a.dtype.kind == "f"):
        raise ValueError(f"{name} must be a 2-D float array with {width} "
                         "columns")
    return ffi.from_buffer(FLOATS, np.ascontiguousarray(a, dtype=F32))


def gates(x_proj, h_proj, h_prev, isa: str = "auto") -> np.ndarray:
    """h (P, H) float32 from x_proj, h_proj (P, 3H) and h_prev (P, H):
    ``nmt8.model.gru.gru_gates`` with nmt8's tanh."""
    code = isa_code(isa)
    h_prev = np.asarray(h_prev)
    if h_prev.ndim != 2:
        raise ValueError(f"h_prev must be 2-D (P, H), got {h_prev.shape}")
    P, H = h_prev.shape
    if np.shape(x_proj)[:1] != (P,) or np.shape(h_proj)[:1] != (P,):
        raise ValueError(f"x_proj and h_proj need the {P} rows of h_prev")
    x = _rows(x_proj, 3 * H, "x_proj")
    hh = _rows(h_proj, 3 * H, "h_proj")
    hp = _rows(h_prev, H, "h_prev")
    out = np.empty((P, H), F32)
    rc = lib.nmt8_gru_gates(ffi.from_buffer(FLOATS, out), x, 3 * H, hh, 3 * H,
                            hp, H, P, H, code)
    if rc:
        raise_error(rc)
    return out
