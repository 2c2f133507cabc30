"""Chapter 13's build-it exercises: training for low precision (the open
question of Section 7 of Quinn & Ballesteros 2018).

(a) Fake quantization to 4 bits with one step per group of G inputs, the
    forward pass of quantization-aware training (``nmt8.quant.int4``):

        step[o, g] = max_{k in g} |W[k, o]| / 7
        W_hat[k, o] = clip(rint(W[k, o] / step[o, g]), -7, 7) * step[o, g]

    the last group of a row zero padded, an all-zero group giving zeros.
    The reference is ``dequantize4(quantize4(W, G))``; the check names
    the known mistakes: a step from max instead of max|w|, 8 instead of 7,
    one step for the whole row, groups over the outputs, truncation, an
    all-zero group dividing by zero.

(b) The gradient the straight-through estimator passes back through
    ``fq(x) = step * clip(rint(x / step), -qmax, qmax)``: ``grad_out``
    where the rounded value ``rint(x / step)`` lies in [-qmax, qmax]
    (clipping did not act), 0 where clipping changed it; a zero step
    (an all-zero group) gives the value 0, inside the range.  The
    reference is :func:`ste_reference`, numpy, written here because the
    library's own (``nmt8.train.qat.fake_quant``, an autograd function)
    needs PyTorch; ``tests/test_course_qat.py`` checks the two agree.
    Known mistakes: the gradient passed everywhere (no clipping), zero
    everywhere (the true derivative of rint), the range tested before
    rounding, the range tested on x instead of x / step.

Does not: train, or cover int8 fake quantization (``fake_quant`` of
``nmt8.train.qat``; chapter 6's check covers int8's grid).
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.quant.int4 import dequantize4, quantize4

__all__ = ["FQ_MISTAKES", "STE_MISTAKES", "check_fake_quant_int4",
           "check_ste_grad", "fq_cases", "fq_reference", "ste_cases",
           "ste_reference"]


# ------------------------------------------------ (a) fake quantization

def fq_reference(W: np.ndarray, G: int) -> np.ndarray:
    """W (in, out) as int4 decoding sees it, float32 (in, out): the
    library's ``dequantize4(quantize4(W, G))``."""
    return dequantize4(quantize4(W, G))


def fq_cases() -> list[tuple[str, tuple]]:
    """(name, (W, G)) pairs: random matrices and the edge cases."""
    rng = np.random.default_rng(13)
    out = []
    for G in (32, 64):
        for K, N in ((G, 3), (2 * G, 5), (3 * G + 7, 4), (200, 6)):
            W = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
            out.append((f"a random {K}x{N} matrix, G = {G}", (W, G)))
    neg = (rng.standard_normal((96, 3)) * 0.05).astype(np.float32)
    neg[5, :] = -0.9         # group 0 of every row: its largest is negative
    neg[70, 1] = 0.4         # and one positive outlier in a later group
    ties = np.zeros((64, 2), np.float32)
    ties[0] = 7.0            # max|w| = 7: step 1, so w / step is w itself
    ties[1:9, 0] = [0.5, 1.5, 2.5, -0.5, -2.5, 3.5, 6.5, -6.5]
    ties[1:9, 1] = [4.5, -4.5, 5.5, -1.5, 0.25, 2.75, -3.5, 1.0]
    zero = (rng.standard_normal((128, 3)) * 0.1).astype(np.float32)
    zero[32:64, :] = 0.0     # the second group of 32 of every row
    out += [
        ("a matrix whose largest magnitudes are negative, G = 32", (neg, 32)),
        ("exact ties (x.5 after dividing by the step), G = 64", (ties, 64)),
        ("an all-zero group, G = 32", (zero, 32)),
        ("fewer inputs than one group, G = 64",
         ((rng.standard_normal((10, 4)) * 0.3).astype(np.float32), 64)),
    ]
    return out


def _groups(W, G, axis_in=True):
    """W (in, out) as (out, NG, G) (zero padded), and K; or, for the
    wrong-axis mistake, the transposed roles."""
    A = W.T if axis_in else W                              # (rows, K)
    n, K = A.shape
    NG = -(-K // G)
    A = np.concatenate([A, np.zeros((n, NG * G - K), A.dtype)], 1)
    return A.reshape(n, NG, G), K


def _fq(W, G, absmax=lambda g: np.abs(g).max(axis=2), top=7, clip=True,
        rnd=np.rint, safe=True, axis_in=True, whole_row=False, lo=-7):
    """A fake quantizer built from the pieces a mistake changes."""
    g, K = _groups(W.astype(np.float32), G, axis_in)       # (n, NG, G)
    m = absmax(g).astype(np.float32)                        # (n, NG)
    if whole_row:
        m = np.repeat(np.abs(g).max(axis=(1, 2))[:, None], g.shape[1], 1)
    step = (m / np.float32(top)).astype(np.float32)         # (n, NG)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = rnd(g / step[:, :, None])
    if safe:
        q = np.where(step[:, :, None] == 0, 0, q)
    if clip:
        q = np.clip(q, lo, 7)
    Wh = (q * step[:, :, None]).astype(np.float32)
    Wh = Wh.reshape(Wh.shape[0], -1)[:, :K]
    return np.ascontiguousarray(Wh.T if axis_in else Wh)


def _signed_max(W, G):
    return _fq(W, G, absmax=lambda g: g.max(axis=2))


def _eight(W, G):
    return _fq(W, G, top=8)


def _eight_no_clip(W, G):
    return _fq(W, G, top=8, clip=False)


def _eight_asymmetric(W, G):
    return _fq(W, G, top=8, lo=-8)


def _whole_row(W, G):
    return _fq(W, G, whole_row=True)


def _outputs_grouped(W, G):
    return _fq(W, G, axis_in=False)


def _truncated(W, G):
    return _fq(W, G, rnd=np.trunc)


def _ties_up(W, G):
    return _fq(W, G, rnd=lambda v: np.floor(v + np.float32(0.5)))


def _zero_group_nan(W, G):
    return _fq(W, G, safe=False)


FQ_MISTAKES = [
    Mistake(_signed_max,
            "your step uses max, not max|w|: in a group whose largest "
            "magnitude is negative, that weight divides to below -7 and is "
            "clipped (or the step itself turns negative). A symmetric grid "
            "maps the largest MAGNITUDE to 7: step = max(abs(group)) / 7."),
    Mistake(_eight_no_clip,
            "your step divides by 8, not 7: the grid is symmetric, "
            "[-7, 7] (15 values; -8 is left unused so that w and -w round "
            "alike), so the largest magnitude must land on 7: step = "
            "max|w| / 7."),
    Mistake(_eight_asymmetric,
            "your step divides by 8 and clips to [-8, 7], int8's habit "
            "carried to 4 bits: nmt8's grid is symmetric, [-7, 7] (-8 is "
            "left unused so that w and -w round alike), so the largest "
            "magnitude must land on 7: step = max|w| / 7, clip to [-7, 7]."),
    Mistake(_eight,
            "your step divides by 8, not 7: every weight is scaled a little "
            "too large and the largest is clipped from 8 to 7. The grid is "
            "[-7, 7]: step = max|w| / 7."),
    Mistake(_whole_row,
            "you used one step for the whole row, not one per group of G "
            "inputs: a row's largest weight then sets the step of all its "
            "groups, which is what groups are there to avoid. Cut each "
            "output's K inputs into groups of G (zero pad the last) and take "
            "max|w| in each."),
    Mistake(_outputs_grouped,
            "your groups run over the outputs: W is (in, out), and a group "
            "is G consecutive INPUTS of one output (G rows of one column of "
            "W), so group along axis 0, within each column."),
    Mistake(_truncated,
            "you truncated instead of rounding: casting to int (or np.trunc) "
            "cuts toward zero, so 2.7 steps become 2. Round to the nearest "
            "with np.rint (ties to even, as the library)."),
    Mistake(_ties_up,
            "you rounded ties up (floor(x + 0.5)): on an exact tie like 2.5 "
            "the library rounds to the even neighbour (np.rint gives 2, and "
            "-2.5 gives -2)."),
    Mistake(_zero_group_nan,
            "an all-zero group has step 0, and 0 / 0 is NaN: its weights "
            "must come out 0. Divide only where the step is not zero (e.g. "
            "np.where(step == 0, 0, ...), or np.divide(..., where=...))."),
]


@graded
def check_fake_quant_int4(my_fake_quant_int4) -> Verdict:
    """Run ``my_fake_quant_int4(W, G) -> W_hat`` on random and edge
    matrices against ``dequantize4(quantize4(W, G))``."""
    cases = fq_cases()
    return run_check(my_fake_quant_int4, cases, fq_reference, FQ_MISTAKES,
                     what="my_fake_quant_int4",
                     success=f"my_fake_quant_int4 gives the library's int4 "
                             f"values on all {len(cases)} matrices: ragged "
                             "last groups, ties, negative maxima and "
                             "all-zero groups included.")


# ------------------------------------- (b) the straight-through estimator

def ste_reference(x: np.ndarray, grad_out: np.ndarray, step, qmax: int,
                  ) -> np.ndarray:
    """The gradient the STE passes back through ``step * clip(rint(x /
    step), -qmax, qmax)``: ``grad_out`` where ``|rint(x / step)| <= qmax``,
    else 0; a zero step counts as the value 0 (inside).  ``step``
    broadcasts against x; float32 out, x's shape."""
    x = np.asarray(x, np.float32)
    step = np.broadcast_to(np.asarray(step, np.float32), x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.rint(x / step)
    r = np.where(step == 0, 0, r)
    keep = np.abs(r) <= qmax
    return np.where(keep, np.asarray(grad_out, np.float32),
                    np.float32(0)).astype(np.float32)


def ste_cases() -> list[tuple[str, tuple]]:
    """(name, (x, grad_out, step, qmax)) cases."""
    rng = np.random.default_rng(31)
    out = []
    for qmax in (7, 127):
        x = rng.standard_normal((6, 40)).astype(np.float32)
        g = rng.standard_normal((6, 40)).astype(np.float32)
        step = np.float32(0.6 * np.abs(x).max() / qmax)  # clips the tails
        name = f"a random 6x40 tensor clipped at 60% of its max, qmax = {qmax}"
        out.append((name, (x, g, step, qmax)))
    x = rng.standard_normal((4, 32)).astype(np.float32)
    g = rng.standard_normal((4, 32)).astype(np.float32)
    steps = (np.array([[0.1], [0.2], [0.3], [0.05]], np.float32))  # (4, 1)
    out.append(("one step per row (a (4, 1) step), qmax = 7",
                (x, g, steps, 7)))
    # the band between qmax and qmax + 1/2 steps: rounds to qmax, kept
    step = np.float32(0.125)  # a power of two: x / step is exact
    band = np.array([6.9, 7.0, 7.25, 7.4, 7.5, 7.6, 8.0, -7.3, -7.5, -9.0,
                     0.0, 3.2], np.float32) * step
    out.append(("values just beyond qmax steps (7.25 rounds to 7: kept)",
                (band, np.arange(1, 13, dtype=np.float32), step, 7)))
    zero = np.zeros((2, 8), np.float32)
    out.append(("an all-zero group (step 0)",
                (zero, np.ones((2, 8), np.float32), np.float32(0), 7)))
    return out


def _everywhere(x, grad_out, step, qmax):
    return np.asarray(grad_out, np.float32).copy()


def _nowhere(x, grad_out, step, qmax):
    return np.zeros(np.shape(grad_out), np.float32)


def _before_rounding(x, grad_out, step, qmax):
    x = np.asarray(x, np.float32)
    step = np.broadcast_to(np.asarray(step, np.float32), x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(step == 0, 0, x / step)
    return np.where(np.abs(v) <= qmax, grad_out, 0).astype(np.float32)


def _without_step(x, grad_out, step, qmax):
    return np.where(np.abs(np.rint(x)) <= qmax, grad_out,
                    0).astype(np.float32)


def _zero_step_stopped(x, grad_out, step, qmax):
    x = np.asarray(x, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.rint(x / np.asarray(step, np.float32))  # 0 / 0: NaN, not kept
    return np.where(np.abs(r) <= qmax, grad_out, 0).astype(np.float32)


def _strict(x, grad_out, step, qmax):
    x = np.asarray(x, np.float32)
    step = np.broadcast_to(np.asarray(step, np.float32), x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(step == 0, 0, np.rint(x / step))
    return np.where(np.abs(r) < qmax, grad_out, 0).astype(np.float32)


def _inverted(x, grad_out, step, qmax):
    keep = ste_reference(x, np.ones(np.shape(x), np.float32), step, qmax)
    return np.where(keep == 0, grad_out, 0).astype(np.float32)


STE_MISTAKES = [
    Mistake(_zero_step_stopped,  # before _nowhere: on a zero step both give 0
            "your gradient is 0 where the step is 0: there x / step is 0 / 0, "
            "NaN, and |NaN| <= qmax is False, so the test stops the gradient. "
            "A zero step (an all-zero group) counts as the value 0, inside "
            "the range: e.g. np.where(step == 0, 0, np.rint(x / step))."),
    Mistake(_nowhere,
            "your gradient is zero everywhere: that is the true derivative "
            "of rint (flat between its steps), and with it nothing upstream "
            "would ever learn. The straight-through estimator pretends the "
            "rounding is the identity: pass grad_out through where "
            "clipping did not act."),
    Mistake(_everywhere,
            "you pass grad_out everywhere: that forgets the clipping. Where "
            "rint(x / step) lies outside [-qmax, qmax], clip holds the "
            "output at +-qmax steps whatever x does, so the gradient there "
            "is 0."),
    Mistake(_inverted,
            "your gradient is the wrong way round: it passes where clipping "
            "acted and stops where it did not. Keep grad_out where "
            "|rint(x / step)| <= qmax."),
    Mistake(_strict,
            "you stop the gradient at +-qmax itself (|r| < qmax): the grid "
            "includes +-qmax, and a value that rounds to qmax is not changed "
            "by clipping, so its gradient passes: keep it where "
            "|rint(x / step)| <= qmax."),
    Mistake(_before_rounding,
            "you tested the range before rounding (|x / step| <= qmax): a "
            "value 7.3 steps out rounds to 7, which clipping does not "
            "change, so its gradient passes. Test the ROUNDED value, "
            "|rint(x / step)| <= qmax."),
    Mistake(_without_step,
            "you tested x itself against qmax: the range is on the integer "
            "grid, so divide by the step first, |rint(x / step)| <= qmax."),
]


@graded
def check_ste_grad(my_ste_grad) -> Verdict:
    """Run ``my_ste_grad(x, grad_out, step, qmax) -> grad_in`` on random
    and edge cases against :func:`ste_reference`."""
    cases = ste_cases()
    return run_check(my_ste_grad, cases, ste_reference, STE_MISTAKES,
                     what="my_ste_grad",
                     success=f"my_ste_grad passes the straight-through "
                             f"gradient exactly where the library does, on "
                             f"all {len(cases)} cases: clipped tails, the "
                             "band just beyond qmax and zero steps "
                             "included.")
