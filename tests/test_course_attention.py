"""Chapter 4's build-it exercise (``nmt8.course.attention``): the worked
solution passes, known-wrong attentions get their hints, a stub is "not
done yet"."""

import numpy as np
import pytest

from nmt8.course.attention import check_attention
from tests.notebook_solutions import define, solution_cell, stub_source

NB, ID, NAME = "04_attentional_model.ipynb", "ex-04-attention", "my_attention"


def _alpha_prime(pctx, s_prime, W_comb_att, U_att, c_tt, f=np.tanh):
    P, S = len(s_prime), len(pctx)
    out = np.empty((P, S))
    for p in range(P):
        for i in range(S):
            out[p, i] = (f(pctx[i] + s_prime[p] @ W_comb_att) @ U_att[:, 0]
                         + c_tt[0])
    return out


def softmax_down_the_columns(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    a = _alpha_prime(pctx, s_prime, W_comb_att, U_att, c_tt)
    a = np.exp(a - a.max(axis=0))
    alpha = a / a.sum(axis=0)
    return alpha @ h, alpha


def plain_exp(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    e = np.exp(_alpha_prime(pctx, s_prime, W_comb_att, U_att, c_tt))
    alpha = e / e.sum(axis=1)[:, None]
    return alpha @ h, alpha


def without_tanh(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    a = _alpha_prime(pctx, s_prime, W_comb_att, U_att, c_tt, f=lambda z: z)
    a = np.exp(a - a.max(axis=1, keepdims=True))
    alpha = a / a.sum(axis=1, keepdims=True)
    return alpha @ h, alpha


def context_of_projections(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    a = _alpha_prime(pctx, s_prime, W_comb_att, U_att, c_tt)
    a = np.exp(a - a.max(axis=1, keepdims=True))
    alpha = a / a.sum(axis=1, keepdims=True)
    return np.einsum("ps,sc->pc", alpha, pctx), alpha


def one_max_for_all(h, pctx, s_prime, W_comb_att, U_att, c_tt):
    a = _alpha_prime(pctx, s_prime, W_comb_att, U_att, c_tt)
    a = np.exp(a - a.max())  # the global max, not each row's
    alpha = a / a.sum(axis=1, keepdims=True)
    return alpha @ h, alpha


def test_the_worked_solution_passes():
    fn = define(solution_cell(NB, ID).source, NAME, np=np)
    v = check_attention(fn)
    assert v.ok, v.message


@pytest.mark.parametrize(("wrong", "hint"), [
    (softmax_down_the_columns, "sum to one over the hypotheses"),
    (plain_exp, "np.exp overflows to inf"),
    (without_tanh, "you left out the tanh"),
    (context_of_projections, "your context averages pctx"),
    (one_max_for_all, "Subtract each row's own maximum"),
])
def test_known_mistakes_get_their_hint(wrong, hint):
    with np.errstate(over="ignore", invalid="ignore"):
        v = check_attention(wrong)
    assert not v.ok and v.done
    assert hint in v.message


def test_the_learners_stub_is_not_done_yet():
    src = stub_source(solution_cell(NB, ID))
    v = check_attention(define(src, NAME, np=np))
    assert not v.ok and not v.done
