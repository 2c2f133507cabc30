"""The precisions a model can be built in, and the weight each one builds.

Section 3 of Quinn & Ballesteros 2018 runs the same model in int8 beside
fp32; this module names every precision nmt8 offers around that pair,
checks a precision's settings once (``check_options``: one clear error per
bad setting, before anything is built) and turns one fused float32 matrix
into the weight type its precision multiplies with (``nmt8.model.ops``).

Precisions (``PRECISIONS``; ``Model.prepare``/``copy``, ``load_model``):

=========  =======================================  ======================
precision  weights                                  kernels (default first)
=========  =======================================  ======================
fp32       float32                                  numpy; auto, ref, avx2,
                                                    avx512 (C, ``quant.fp32``)
int16      int16, one scale per matrix or per row   auto, ref, sse4, avx2,
           (``quant.int16``, Devlin 2017)           vnni
int8       int8, as Section 3                       auto, or a name of
                                                    ``quant.kernels.KERNELS``
int4       4 bits, one step per group of 32 or 64   auto, ref, avx2, vnni
           inputs (``quant.int4``), packed; int8
           activations
msfp16/12  block floating point (``quant.msfp``),   numpy
           SIMULATED: rounded at load, kept and
           multiplied in float32 (quality only)
=========  =======================================  ======================

``"auto"`` is the process's choice of kernels, made once in C
(``nmt8.native.dispatch``: the fastest this CPU runs, unless a test or
benchmark narrowed it); fp32, int16 and int4 resolve it to their kernel
when the model is prepared, int8 keeps it and packs its weights then if the
choice may read them packed: the int8 kernel depends on the rows of X of
each product (vnni, or gemm from ``GEMM_MIN_ROWS`` rows on), a switch C
makes per call. Embeddings are lookups,
not products, and stored as ``embeddings="fp32"``, ``"fp16"`` or ``"int8"``
(``nmt8.model.ops.Embedding``); by default fp32 for fp32 and msfp, fp16 for
int16, and int8 rows for int8 and int4: the int8 and int4 products quantize
every looked-up row with exactly that formula before its first use, so int8
embeddings change no bit of their output and hold a quarter of the bytes.

int4 quantizes exactly the products int8 quantizes (every fused matrix),
to 4 bits all but ``U_att`` (``INT4_KEEPS_INT8``: eq. (6)'s v, 2H weights
of one output, stays int8 per tensor, so attention runs fused in C as for
int8); its ``scheme`` is the group size, ``"group32"`` or ``"group64"``
(``DEFAULT_GROUP``, chosen on the val split: see its comment).  An int4
model holds each matrix packed (``nmt8.native.int4.PackedMatrix4``) and
nothing else of it: no int8 or float32 copy.
(int16 quantizes rows to 16 bits, which an int8 table would coarsen:
fp16 keeps 11 significant bits at half the bytes.)

Does not: read tensors or assemble fused matrices (``nmt8.model.weights``),
quantize (``nmt8.quant``) or run the network (``nmt8.model.model``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nmt8.model.embedding import EMBEDDINGS
from nmt8.model.products import (
    F32Weight,
    Int4Weight,
    Int8Weight,
    Int16Weight,
    MSFPWeight,
)

__all__ = ["DEFAULT", "DEFAULT_GROUP", "GROUP_SCHEMES", "PRECISIONS",
           "SCHEMES", "Options", "check_options", "kernel_choices"]

PRECISIONS = ("fp32", "int16", "int8", "int4", "msfp16", "msfp12")
SCHEMES = ("per_tensor", "per_row")
GROUP_SCHEMES = ("group32", "group64")  # int4's schemes: the group size
# int4's default group size, chosen on Multi30k val (never test):
#     nmt8 evaluate --split val --precision int4 --scheme groupNN --beam 5
# de-en, 1014 sentences: group64 42.19 BLEU, group32 41.67 (fp32 42.03,
# int8 42.03); group64 also holds 10% fewer bytes.  AMD EPYC, 2026-12-06.
DEFAULT_GROUP = "group64"
DEFAULT = "default"  # kernel/scheme/embeddings: the precision's default


def kernel_choices(precision: str) -> tuple[str, ...]:
    """The kernel names ``precision`` accepts, its default first."""
    if precision == "fp32":
        from nmt8.native.fp32 import FP32_KERNELS

        return ("numpy", "auto", *FP32_KERNELS)
    if precision == "int16":
        from nmt8.native.int16 import INT16_KERNELS

        return ("auto", *INT16_KERNELS)
    if precision == "int8":
        from nmt8.native.clib import KERNELS

        return ("auto", *KERNELS)
    if precision == "int4":
        from nmt8.native.int4 import INT4_KERNELS

        return ("auto", *INT4_KERNELS)
    return ("numpy",)  # msfp: simulated in numpy


def _available(precision: str) -> list[str]:
    from nmt8.native import kernels as K  # read at call time (tests patch it)

    if precision == "fp32":
        from nmt8.native.fp32 import available_fp32_kernels

        return ["numpy", *available_fp32_kernels()]
    if precision == "int16":
        from nmt8.native.int16 import available_int16_kernels

        return available_int16_kernels()
    if precision == "int8":
        return K.available_kernels()
    if precision == "int4":
        from nmt8.native.int4 import available_int4_kernels

        return available_int4_kernels()
    return ["numpy"]


def _auto(precision: str) -> str:
    """The kernel "auto" means for ``precision`` (fp32, int16, int4) now."""
    from nmt8.native import dispatch

    return {"fp32": dispatch.FP32, "int16": dispatch.INT16,
            "int4": dispatch.INT4}[precision].resolve()


@dataclasses.dataclass(frozen=True)
class Options:
    """A checked precision: kernel resolved (int8 keeps "auto"), scheme
    and embeddings spelt out (scheme None where the precision has none)."""

    precision: str
    kernel: str
    scheme: str | None
    embeddings: str


def check_options(precision="fp32", kernel=DEFAULT, scheme=DEFAULT,
                  embeddings=DEFAULT) -> Options:
    """Check a precision and its settings; one clear error for each bad one.

    TypeError for a setting that is not a string; ValueError for an unknown
    precision, a kernel that does not exist for it ("unknown kernel 'x'
    for precision 'int16'; choices: ...") or that this CPU cannot run, a
    scheme given to a precision without one (fp32, msfp), an unknown
    scheme or embeddings type. ``"default"`` means the precision's default.
    """
    for what, v in (("precision", precision), ("kernel", kernel),
                    ("scheme", scheme), ("embeddings", embeddings)):
        if not isinstance(v, str):
            raise TypeError(f"{what} must be a string, got "
                            f"{type(v).__name__} {v!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choices: "
                         f"{', '.join(PRECISIONS)}")
    choices = kernel_choices(precision)
    kernel = choices[0] if kernel == DEFAULT else kernel
    if kernel not in choices:
        raise ValueError(f"unknown kernel {kernel!r} for precision "
                         f"{precision!r}; choices: {', '.join(choices)}")
    if kernel == "auto" and precision != "int8":
        kernel = _auto(precision)
    # int8 keeps "auto": C picks per product by its rows of X (vnni, or gemm
    # from GEMM_MIN_ROWS rows on: nmt8.native.dispatch)
    if kernel != "auto" and kernel not in _available(precision):
        raise ValueError(f"kernel {kernel!r} is not available on this CPU; "
                         f"available for {precision}: "
                         f"{', '.join(_available(precision))}")
    if precision in ("int8", "int16"):
        scheme = "per_tensor" if scheme == DEFAULT else scheme.replace("-", "_")
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; choices: "
                             f"{', '.join(SCHEMES)}")
    elif precision == "int4":
        scheme = DEFAULT_GROUP if scheme == DEFAULT else scheme
        if scheme not in GROUP_SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r} for precision "
                             f"'int4'; choices: {', '.join(GROUP_SCHEMES)}")
    elif scheme in GROUP_SCHEMES:
        raise ValueError(f"scheme={scheme!r} applies to precision 'int4' "
                         f"only, not {precision!r}")
    elif scheme != DEFAULT:
        raise ValueError(f"scheme={scheme!r} applies to precision 'int8' and "
                         f"'int16' only, not {precision!r}")
    else:
        scheme = None
    if embeddings == DEFAULT:
        embeddings = {"int8": "int8", "int4": "int8",
                      "int16": "fp16"}.get(precision, "fp32")
    if embeddings not in EMBEDDINGS:
        raise ValueError(f"unknown embeddings {embeddings!r}; choices: "
                         f"{', '.join(EMBEDDINGS)}")
    return Options(precision, kernel, scheme, embeddings)


# int4 keeps this fused matrix in int8: eq. (6)'s v, (2H, 1), one output
# (2H weights), multiplied inside the fused C attention, which has no int4
# path (nmt8.native.fused.attention)
INT4_KEEPS_INT8 = ("U_att",)


def make_weight(W: np.ndarray, opt: Options, name: str | None = None):
    """The fused float32 matrix W (in, out) in the precision of ``opt``
    (``name``: its name in ``nmt8.model.weights.FUSED``)."""
    p, k = opt.precision, opt.kernel
    if p == "int4" and name in INT4_KEEPS_INT8:
        from nmt8.quant.int8 import quantize

        return Int8Weight(quantize(W), k)  # k: ref, avx2, vnni are int8's too
    if p == "fp32":
        if k == "numpy":
            return W
        from nmt8.native.fp32 import pack_fp32

        return F32Weight(pack_fp32(W), k)
    if p == "int8":
        from nmt8.native.dispatch import PACKED_KERNELS, auto_packs
        from nmt8.quant.int8 import quantize

        w = Int8Weight(quantize(W, scheme=opt.scheme), k)
        # the kernels that read the packed copy (auto: vnni, or the blocked
        # kernel it switches to for many rows, gemm, gemm_avx2 or amx)
        if k in PACKED_KERNELS or (k == "auto" and auto_packs()):
            w.q.packed  # noqa: B018 - pack now: its temporaries freed at load
        return w
    if p == "int4":
        from nmt8.native.int4 import pack4
        from nmt8.quant.int4 import quantize4

        # packed at once; the numpy Wq and steps are dropped here
        return Int4Weight(pack4(quantize4(W, int(opt.scheme[5:]))), k)
    if p == "int16":
        from nmt8.quant.int16 import quantize16

        return Int16Weight(quantize16(W, scheme=opt.scheme), k)
    from nmt8.quant.msfp import simulate_msfp

    return MSFPWeight(simulate_msfp(W, p), p)
