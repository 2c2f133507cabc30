"""Chapter 6's build-it exercise (a): symmetric int8 quantization of a
weight matrix, Section 3 of Quinn & Ballesteros 2018 ("Pieces of Eight"):

    scale = 127 / max|W|,  Wq = clamp(rint(W * scale), -127, 127),
    step = max|W| / 127,

per tensor (one scale, the paper's) or per row (one per output, a column
of W (in, out)), with Wq stored transposed, (out, in), as the kernels
read it.  The reference is ``nmt8.quant.int8.quantize``; the check runs
the learner's ``my_quantize(W, scheme)`` on random and edge matrices and
names the known mistakes: a scale from max instead of max|W|, truncation
instead of rounding, no clipping, 128 instead of 127, the wrong axis for
per-row scales, an all-zero column left dividing by zero, Wq not
transposed.

Does not: cover the tiny-weight case (max|W| below about 3.7e-37, where
the library rounds in float64), activations (``quantize_activations``),
or the product (``nmt8.course.accumulate``).
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.quant.int8 import quantize

__all__ = ["MISTAKES", "cases", "check_quantize", "reference"]


def reference(W: np.ndarray, scheme: str):
    """The library's ``(Wq, scale, step)``: Wq (out, in) int8, scale and
    step (out,) float32."""
    q = quantize(W, scheme)
    return q.Wq, q.scale, q.step


def cases() -> list[tuple[str, tuple]]:
    """(name, (W, scheme)) pairs: random matrices and the edge cases."""
    rng = np.random.default_rng(6)
    out = []
    for scheme in ("per_tensor", "per_row"):
        for K, N in ((6, 6), (3, 4), (17, 13), (64, 5)):  # square first:
            # a per-row max over the wrong axis keeps its shape there
            W = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
            out.append((f"a random {K}x{N} matrix, {scheme}", (W, scheme)))
    neg = np.array([[0.5, -1.27, 0.02], [-0.9, 0.3, 1.0]], np.float32)
    ties = np.array([[127.0, 2.5, -3.5, 0.5], [-1.5, 4.5, 0.0, 6.5]],
                    np.float32)  # max|W| = 127: scale 1, exact ties
    zero_col = (rng.standard_normal((5, 4)) * 0.2).astype(np.float32)
    zero_col[:, 2] = 0.0
    out += [
        ("a matrix whose largest magnitude is negative, per_tensor",
         (neg, "per_tensor")),
        ("a matrix whose largest magnitudes are negative, per_row",
         (neg, "per_row")),
        ("exact ties (x.5 after scaling), per_tensor", (ties, "per_tensor")),
        ("a single weight", (np.array([[-0.25]], np.float32), "per_tensor")),
        ("one input row", (rng.standard_normal((1, 6)).astype(np.float32),
                           "per_row")),
        ("an all-zero column, per_row", (zero_col, "per_row")),
        ("an all-zero matrix", (np.zeros((3, 2), np.float32), "per_tensor")),
    ]
    return out


def _absmax(W, scheme, f=np.abs):
    m = f(W).max(axis=0).astype(np.float32)              # (out,)
    return np.full_like(m, m.max()) if scheme == "per_tensor" else m


def _finish(W, m, scheme, top=127, rnd=np.rint, clip=True, transpose=True):
    """A quantizer built from the pieces a mistake changes."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        safe = np.where(m == 0, np.float32(1), m)
        scale = np.where(m == 0, np.float32(1),
                         np.float32(top) / safe).astype(np.float32)  # (out,)
        q = rnd(W * scale)                                     # (in, out)
        if clip:
            q = np.clip(q, -127, 127)
        Wq = q.astype(np.int64).astype(np.int8)                # wraps
    step = (m / np.float32(127)).astype(np.float32)
    return (Wq.T if transpose else Wq), scale, step


def _max_not_absmax(W, scheme):
    return _finish(W, _absmax(W, scheme, lambda a: a), scheme)


def _max_not_absmax_no_clip(W, scheme):
    return _finish(W, _absmax(W, scheme, lambda a: a), scheme, clip=False)


def _truncated(W, scheme):
    return _finish(W, _absmax(W, scheme), scheme, rnd=np.trunc)


def _ties_up(W, scheme):
    return _finish(W, _absmax(W, scheme), scheme,
                   rnd=lambda v: np.floor(v + np.float32(0.5)))


def _top_128(W, scheme):
    return _finish(W, _absmax(W, scheme), scheme, top=128)


def _top_128_no_clip(W, scheme):
    return _finish(W, _absmax(W, scheme), scheme, top=128, clip=False)


def _wrong_axis(W, scheme):
    if scheme == "per_tensor":
        return reference(W, scheme)
    if W.shape[0] != W.shape[1]:
        raise ValueError("only a square W hides this mistake's shape")
    m = np.abs(W).max(axis=1).astype(np.float32)          # (in,): per input
    return _finish(W, m, scheme)


def _zero_divides(W, scheme):
    Wq, scale, step = reference(W, scheme)
    with np.errstate(divide="ignore"):
        scale = (np.float32(127) / _absmax(W, scheme)).astype(np.float32)
    return Wq, scale, step


def _not_transposed(W, scheme):
    return _finish(W, _absmax(W, scheme), scheme, transpose=False)


MISTAKES = [
    Mistake(_max_not_absmax_no_clip,
            "your scale uses max, not max|W|, and nothing clips: the most "
            "negative weight scales beyond -127 and wraps around when cast "
            "to int8 (it turns positive). Use 127 / max(abs(W)), and clip "
            "to [-127, 127] before the cast."),
    Mistake(_max_not_absmax,
            "your scale uses max, not max|W|: the most negative weight "
            "overflows (it scales beyond -127 and is clipped, or wraps). "
            "A symmetric scale maps the largest MAGNITUDE to 127: "
            "127 / max(abs(W))."),
    Mistake(_truncated,
            "you truncated instead of rounding: casting to int8 (or "
            "np.trunc) cuts toward zero, so 2.7 becomes 2. Round to the "
            "nearest integer first with np.rint (ties to even, as the "
            "library)."),
    Mistake(_ties_up,
            "you rounded ties up (floor(x + 0.5)): on an exact tie like 2.5 "
            "the library rounds to the even neighbour (np.rint gives 2, "
            "and -3.5 gives -4)."),
    Mistake(_top_128_no_clip,
            "you used 128 instead of 127, and nothing clips: the largest "
            "weight becomes 128, which does not fit in int8 and wraps to "
            "-128. The range is symmetric, [-127, 127]: scale = 127 / "
            "max|W|."),
    Mistake(_top_128,
            "you used 128 instead of 127: the largest weight scales to 128 "
            "and is clipped to 127, and every other weight is scaled too "
            "large. The range is symmetric, [-127, 127]: scale = 127 / "
            "max|W|."),
    Mistake(_wrong_axis,
            "your per-row maxima run over the wrong axis: W is (in, out) "
            "and a 'row' is one OUTPUT (a row of the transposed Wq), so "
            "take max|W| over axis 0, one value per column of W."),
    Mistake(_zero_divides,
            "an all-zero column gives 127 / 0: its scale must not be inf "
            "or NaN. The library gives such a row scale 1 (its Wq is zero "
            "anyway) and step 0."),
    Mistake(_not_transposed,
            "your Wq is (in, out), as W: the kernels read it transposed, "
            "(out, in), so that each output is one contiguous row. Return "
            "Wq.T."),
]


@graded
def check_quantize(my_quantize) -> Verdict:
    """Run ``my_quantize(W, scheme) -> (Wq, scale, step)`` on random and
    edge matrices against ``nmt8.quant.int8.quantize``."""
    return run_check(my_quantize, cases(), reference, MISTAKES, exact=False,
                     names=("Wq", "scale", "step"),
                     what="my_quantize",
                     success=f"my_quantize gives the library's Wq (bit for "
                             f"bit), scales and steps on all "
                             f"{len(cases())} matrices, per tensor and per "
                             "row, zero columns and ties included.")
