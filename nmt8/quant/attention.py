"""The attention scores of eq. (6) in one C pass (``csrc/nmt8_attention.c``).

``alpha'[p, s] = tanh(pctx[s] + s'[p] W_comb_att) U_att + c_tt`` costs
little arithmetic but, written in numpy, three passes over a (P, S, 2H)
array: the sum, tanh, and (int8) the quantization of each row before its
product with the one column ``U_att``. The C kernel keeps each row in L1
and does all three at once, in int8 (the row quantized with its own step,
as ``int8_matmul`` does, and summed exactly) or in float32.

Its tanh is nmt8's own (:func:`tanh32`): a polynomial below 0.625, else
``1 - 2 / (exp(2|x|) + 1)``, with the same operations (FMAs included) in
the same order on every instruction set, so the portable, AVX2+FMA and
AVX-512 paths give the same bits. Max error about 1.4 ulp, as numpy's own
tanh; the portable path is the reference the tests hold the others to.

Does not: softmax or weigh the source states (``nmt8.attention``).
"""

from __future__ import annotations

import numpy as np

from ._clib import F32, FLOATS, INT8S, ffi, lib, raise_error
from .fp32 import PackedF32
from .int8 import QuantizedMatrix

ISAS = {"auto": lib.NMT8_ISA_AUTO, "portable": lib.NMT8_ISA_PORTABLE,
        "avx2": lib.NMT8_ISA_AVX2, "avx512": lib.NMT8_ISA_AVX512}
# the instruction sets this CPU runs, "auto" aside
AVAILABLE_ISAS = tuple(k for k, v in ISAS.items()
                       if k != "auto" and lib.nmt8_att_isa_supported(v))

def _isa(isa: str) -> int:
    if not isinstance(isa, str) or isa not in ISAS:
        raise ValueError(f"unknown instruction set {isa!r}; choose from "
                         f"{list(ISAS)}")
    if isa != "auto" and isa not in AVAILABLE_ISAS:
        raise ValueError(f"instruction set {isa!r} is not supported by this "
                         f"CPU; available: {list(AVAILABLE_ISAS)}")
    return ISAS[isa]


def _floats(a, name: str, ndim: int) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D float array, got "
                         f"{a.dtype} with shape {a.shape}")
    return np.ascontiguousarray(a, dtype=F32)


def tanh32(x, isa: str = "auto") -> np.ndarray:
    """nmt8's float32 tanh of x (any shape), on the instruction set
    ``isa`` ("auto", or one of ``AVAILABLE_ISAS``)."""
    code = _isa(isa)
    x = np.ascontiguousarray(np.asarray(x, np.float32))
    y = np.empty_like(x)
    rc = lib.nmt8_tanh32(ffi.from_buffer(FLOATS, y), ffi.from_buffer(FLOATS, x),
                         x.size, code)
    if rc:
        raise_error(rc)
    return y


def scores(pctx, s_proj, U, c_tt, isa: str = "auto") -> np.ndarray:
    """``tanh(pctx[None] + s_proj[:, None]) @ U + c_tt`` as (P, S) float32.

    pctx (S, C) and s_proj (P, C) float; U the weight of ``U_att`` (C, 1):
    a ``QuantizedMatrix`` (int8: each row tanh(...) quantized with its own
    step: bit for bit ``int8_matmul`` of the rows :func:`tanh32` gives) or a ``PackedF32`` (float32: 16 partial sums, a fixed
    tree); c_tt (1,). ValueError for bad shapes or a NaN sum.
    """
    code = _isa(isa)
    pctx, s_proj = _floats(pctx, "pctx", 2), _floats(s_proj, "s_proj", 2)
    (S, C), P = pctx.shape, s_proj.shape[0]
    if isinstance(U, QuantizedMatrix):
        u, fn = U.Wq, lib.nmt8_att_scores_i8
    elif isinstance(U, PackedF32):
        u, fn = U.WT, lib.nmt8_att_scores_f32
    else:
        raise TypeError("U must be a QuantizedMatrix or a PackedF32, got "
                        f"{type(U).__name__}")
    if u.shape != (1, C) or s_proj.shape[1] != C:
        raise ValueError(f"need pctx (S, C), s_proj (P, C) and U (C, 1); got "
                         f"{pctx.shape}, {s_proj.shape} and "
                         f"{u.shape[::-1]}")
    bias = np.asarray(c_tt, np.float32).reshape(-1)
    if bias.shape != (1,) or not np.isfinite(bias).all():
        raise ValueError("c_tt must be one finite number")
    out = np.empty((P, S), F32)
    if isinstance(U, QuantizedMatrix):
        rc = fn(ffi.from_buffer(FLOATS, out), ffi.from_buffer(FLOATS, pctx),
                ffi.from_buffer(FLOATS, s_proj), C,
                ffi.from_buffer(INT8S, u), float(U.step[0]), float(bias[0]),
                P, S, C, code)
    else:
        rc = fn(ffi.from_buffer(FLOATS, out), ffi.from_buffer(FLOATS, pctx),
                ffi.from_buffer(FLOATS, s_proj), C,
                ffi.from_buffer(FLOATS, u), float(bias[0]), P, S, C, code)
    if rc:
        raise_error(rc, "pctx + s_proj")
    return out
