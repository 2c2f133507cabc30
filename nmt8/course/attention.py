"""Chapter 4's build-it exercise: MLP attention, eq. (5)-(6) of Quinn &
Ballesteros (2018), Section 2 (Bahdanau et al., 2014), with the Nematus
names of ``nmt8.model.attention``::

    alpha'_t = tanh(pctx + s' W_comb_att) U_att + c_tt    (P, S)  eq. (6)
    alpha_t  = softmax(alpha'_t) over the source positions
    H_t      = alpha_t h                                  (P, 2H) eq. (5)

where ``pctx = h W_c_att + b_att`` (S, 2H) is the annotations' projection
(the paper's w(h_i)), computed once per sentence.

:func:`check_attention` runs the learner's
``my_attention(h, pctx, s_prime, W_comb_att, U_att, c_tt) -> (H_t, alpha)``
against the library's ``nmt8.model.attention.attend`` (fed
``s' W_comb_att`` from ``nmt8.model.ops.linear``, as the decoder computes
it) on random and edge cases (one hypothesis, one source position, sizes
that are not multiples of 4, scores large enough to overflow exp), and
recognises the usual mistakes: the softmax over the wrong axis, a
softmax that overflows, the tanh left out, the average taken over pctx.

Does not: check the C path of int8 models (``nmt8.native.fused.attention``), or
the decoder around attention (``nmt8.model.decoder``).
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.model.attention import attend
from nmt8.model.ops import linear


def reference(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    """The library's (H_t (P, 2H), alpha (P, S))."""
    s_proj = linear(s_prime, W_comb_att)  # (P, 2H): u(s')
    return attend(pctx, s_proj, h, U_att, c_tt)


def _scores(pctx, s_prime, W_comb_att, U_att, c_tt, act=np.tanh):
    e = act(pctx[None, :, :] + (s_prime @ W_comb_att)[:, None, :])  # (P,S,2H)
    return (e @ U_att)[..., 0] + c_tt  # (P, S)


def _softmax(a, axis):
    z = np.exp(a - a.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _wrong_axis(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    alpha = _softmax(_scores(pctx, s_prime, W_comb_att, U_att, c_tt), 0)
    return alpha @ h, alpha


def _overflowing(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    z = np.exp(_scores(pctx, s_prime, W_comb_att, U_att, c_tt))
    alpha = z / z.sum(axis=1, keepdims=True)
    return alpha @ h, alpha


def _global_max(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    a = _scores(pctx, s_prime, W_comb_att, U_att, c_tt)  # (P, S)
    z = np.exp(a - a.max())                  # one max for all hypotheses
    alpha = z / z.sum(axis=1, keepdims=True)
    return alpha @ h, alpha


def _no_tanh(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    alpha = _softmax(_scores(pctx, s_prime, W_comb_att, U_att, c_tt,
                             act=lambda z: z), 1)
    return alpha @ h, alpha


def _average_of_pctx(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    alpha = _softmax(_scores(pctx, s_prime, W_comb_att, U_att, c_tt), 1)
    return alpha @ pctx, alpha


MISTAKES = [
    Mistake(_wrong_axis,
            "your weights sum to one over the hypotheses (axis 0), not over "
            "the source positions: each row of alpha, one hypothesis, must "
            "sum to one (softmax along axis=1)."),
    Mistake(_overflowing,
            "with large scores np.exp overflows to inf, and inf / inf is "
            "nan: subtract each row's maximum before exp (the softmax does "
            "not change)."),
    Mistake(_global_max,
            "you subtracted the largest score of ALL hypotheses: when one "
            "hypothesis' scores are far (more than about 88) below "
            "another's, every exp of its row underflows to 0 and 0 / 0 is "
            "nan. Subtract each row's own maximum: a.max(axis=1, "
            "keepdims=True)."),
    Mistake(_no_tanh,
            "you left out the tanh: the score is U_att applied to "
            "tanh(pctx + s' W_comb_att), a one-layer network, not a linear "
            "function of the states."),
    Mistake(_average_of_pctx,
            "your context averages pctx, the projections; H_t is the "
            "weighted average of the annotations h themselves, alpha @ h."),
]


def make_case(P: int, S: int, H: int, seed: int, scale: float = 0.3):
    """Random float32 arguments of ``my_attention``: (h, pctx, s_prime,
    W_comb_att, U_att, c_tt), with P hypotheses, S source positions and
    annotations of size 2H."""
    rng = np.random.default_rng(seed)

    def f(*shape, s=1.0):
        return (s * rng.standard_normal(shape)).astype(np.float32)

    h = f(S, 2 * H)  # (S, 2H) annotations
    pctx = h @ f(2 * H, 2 * H, s=scale) + f(2 * H, s=scale)  # (S, 2H)
    return (h, pctx, f(P, H), f(H, 2 * H, s=scale), f(2 * H, 1, s=scale * 3),
            f(1))


def cases() -> list[tuple[str, tuple]]:
    """Random cases (fixed seeds) and edge cases."""
    # saturated: tanh is exactly +-1, so the scores are multiples of 2000
    # (plus c_tt): np.exp overflows alike in float32 and float64
    big = list(make_case(3, 6, 5, seed=36))
    big[1] = np.where(big[1] > 0, 50.0, -50.0).astype(np.float32)  # pctx
    big[4] = np.full_like(big[4], 1000.0)  # U_att
    # two hypotheses 800 apart: tanh saturates to exactly +-1 (|z| >= 50),
    # so the scores are exact multiples of 200, row 0's in {0, 400, 800},
    # row 1's in {-800, -400, 0}; a shift by the maximum of both rows leaves
    # exp(<= -800) = 0 for all of row 1, in float32 and in float64 alike
    signs = np.array([[1, -1, 1, 1], [-1, 1, 1, -1], [1, 1, -1, -1],
                      [-1, -1, -1, 1], [1, -1, 1, 1]], np.float32)  # (S, 4)
    apart = (make_case(2, 5, 2, seed=37)[0],                  # h (5, 4)
             50 * signs,                                      # pctx
             np.array([[100.0, 0.0], [-100.0, 0.0]], np.float32),  # s'
             np.array([[1, 1, 0, 0], [0, 0, 0, 0]], np.float32),   # W_comb
             np.full((4, 1), 200.0, np.float32),              # U_att
             np.zeros(1, np.float32))                         # c_tt
    return [
        ("one hypothesis, 7 source positions, 2H=6",
         make_case(1, 7, 3, seed=31)),
        ("5 hypotheses, 11 positions, 2H=10", make_case(5, 11, 5, seed=32)),
        ("2 hypotheses, 13 positions, 2H=34", make_case(2, 13, 17, seed=33)),
        ("one source position (only </s>)", make_case(3, 1, 4, seed=34)),
        ("scores in the thousands (exp overflows)", tuple(big)),
        ("two hypotheses whose scores lie 800 apart", apart),
    ]


@graded
def check_attention(my_attention) -> Verdict:
    """Check ``my_attention(h, pctx, s_prime, W_comb_att, U_att, c_tt) ->
    (H_t, alpha)`` against ``nmt8.model.attention.attend``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return run_check(my_attention, cases(), reference, MISTAKES,
                         names=("H_t", "alpha"),
                         what="my_attention",
                         success="my_attention agrees with "
                                 "nmt8.model.attention.attend on all cases, "
                                 "large scores included.")
