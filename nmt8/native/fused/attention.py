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

Does not: softmax or weigh the source states (``nmt8.model.attention``).
"""

from __future__ import annotations

import math

import numpy as np

from nmt8.native.clib import (
    F32,
    FLOATS,
    INT8S,
    NULL,
    ffi,
    lib,
    raise_error,
)
from nmt8.native.dispatch import isa_code
from nmt8.native.fp32 import PackedF32
from nmt8.quant.int8 import QuantizedMatrix

_INT64S = ffi.typeof("int64_t[]")
def _floats(a, name: str, ndim: int) -> np.ndarray:
    if a.__class__ is np.ndarray and a.dtype == F32 and a.ndim == ndim \
            and a.flags.c_contiguous:
        return a  # the decoder's arrays: no check costs more than this
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D float array, got "
                         f"{a.dtype} with shape {a.shape}")
    return np.ascontiguousarray(a, dtype=F32)


def tanh32(x, isa: str = "auto") -> np.ndarray:
    """nmt8's float32 tanh of x (any shape), on the instruction set
    ``isa`` ("auto", or one of ``AVAILABLE_ISAS``)."""
    code = isa_code(isa)
    x = np.ascontiguousarray(np.asarray(x, np.float32))
    y = np.empty_like(x)
    rc = lib.nmt8_tanh32(ffi.from_buffer(FLOATS, y), ffi.from_buffer(FLOATS, x),
                         x.size, code)
    if rc:
        raise_error(rc)
    return y


def _u(U):
    """(u8, uf, u_step) C arguments for the weight of ``U_att`` (C, 1)."""
    if isinstance(U, QuantizedMatrix):
        return ffi.from_buffer(INT8S, U.Wq), NULL, float(U.step[0]), U.Wq
    if isinstance(U, PackedF32):
        return NULL, ffi.from_buffer(FLOATS, U.WT), 0.0, U.WT
    raise TypeError("U must be a QuantizedMatrix or a PackedF32, got "
                    f"{type(U).__name__}")


def _bias(c_tt) -> float:
    bias = np.asarray(c_tt, np.float32).reshape(-1)
    if bias.shape != (1,) or not math.isfinite(bias[0]):
        raise ValueError("c_tt must be one finite number")
    return float(bias[0])


def _check_u(u, C, *shapes):
    if u.shape != (1, C):
        raise ValueError(f"need U (C, 1) with C = {C} (the width of "
                         f"{', '.join(map(str, shapes))}); got "
                         f"{u.shape[::-1]}")


def scores(pctx, s_proj, U, c_tt, isa: str = "auto") -> np.ndarray:
    """``tanh(pctx[None] + s_proj[:, None]) @ U + c_tt`` as (P, S) float32.

    pctx (S, C) and s_proj (P, C) float; U the weight of ``U_att`` (C, 1):
    a ``QuantizedMatrix`` (int8: each row tanh(...) quantized with its own
    step: bit for bit ``int8_matmul`` of the rows :func:`tanh32` gives)
    or a ``PackedF32`` (float32: 16 partial sums, a fixed tree); c_tt
    (1,). ValueError for bad shapes or a NaN sum.
    """
    code = isa_code(isa)
    pctx, s_proj = _floats(pctx, "pctx", 2), _floats(s_proj, "s_proj", 2)
    (S, C), P = pctx.shape, s_proj.shape[0]
    u8, uf, u_step, u = _u(U)
    if s_proj.shape[1] != C:
        raise ValueError(f"need pctx (S, C) and s_proj (P, C); got "
                         f"{pctx.shape} and {s_proj.shape}")
    _check_u(u, C, "pctx", "s_proj")
    bias = _bias(c_tt)
    out = np.empty((P, S), F32)
    rc = lib.nmt8_att_scores(ffi.from_buffer(FLOATS, out),
                             ffi.from_buffer(FLOATS, pctx),
                             ffi.from_buffer(FLOATS, s_proj), C, u8, uf,
                             u_step, bias, P, S, C, code)
    if rc:
        raise_error(rc, "pctx + s_proj")
    return out


def context(pctxs, hs, counts, s_proj, U, c_tt, isa: str = "auto"):
    """Eq. (5)-(6) for the rows of several sentences in one C call.

    Sentence g owns the next ``counts[g]`` rows of s_proj (P, C) and has
    ``pctxs[g]`` and ``hs[g]``, (S_g, C) float32 each. Returns
    ``(H_t (P, C), alpha (P, max S_g))`` float32: each row's scores as
    :func:`scores`, their softmax (alpha, zero past S_g) and the weighted
    sum of its sentence's h. Each row alone: its bits are the same in any
    batch.
    """
    code = isa_code(isa)
    s_proj = _floats(s_proj, "s_proj", 2)
    P, C = s_proj.shape
    counts = [int(n) for n in counts]
    if len(pctxs) != len(counts) or len(hs) != len(counts) \
            or sum(counts) != P or min(counts, default=0) < 0:
        raise ValueError(f"need one pctx, h and count per sentence, the "
                         f"counts summing to the {P} rows of s_proj")
    pctxs = [_floats(a, "pctx", 2) for a in pctxs]
    hs = [_floats(a, "h", 2) for a in hs]
    sizes = [a.shape[0] for a in pctxs]
    for h, a in zip(hs, pctxs):
        if a.shape[1] != C or h.shape != a.shape:
            raise ValueError(f"every pctx and h must be (S_g, {C}), alike")
    u8, uf, u_step, u = _u(U)
    _check_u(u, C, "s_proj")
    bias = _bias(c_tt)
    S_of = np.array(sizes, np.int64)
    width = max(sizes, default=0)
    H_t, alpha = np.empty((P, C), F32), np.empty((P, width), F32)
    keep = [ffi.from_buffer(FLOATS, a) for a in pctxs + hs]
    G = len(pctxs)
    rc = lib.nmt8_att_context(
        ffi.from_buffer(FLOATS, H_t), ffi.from_buffer(FLOATS, alpha), width,
        ffi.new("float *[]", keep[:G]), ffi.new("float *[]", keep[G:]),
        ffi.from_buffer(_INT64S, S_of),
        ffi.from_buffer(_INT64S, np.repeat(np.arange(G, dtype=np.int64),
                                           counts)),
        G, ffi.from_buffer(FLOATS, s_proj), C, u8, uf, u_step, bias, P, C,
        code)
    if rc:
        raise_error(rc, "pctx + s_proj")
    return H_t, alpha
