"""MLP attention, eq. (5)-(6) (Bahdanau et al., 2014; Nematus ``gru_cond``).

For encoder states ``h`` (S, 2H) with their precomputed projection
``pctx = h W_c_att + b_att`` (the paper's ``w(h_i)``), and the intermediate
decoder state ``s'`` of each hypothesis (the paper's ``u(s')``)::

    alpha'_t = tanh(pctx + s' W_comb_att) U_att + c_tt     eq. (6), v = U_att
    alpha_t  = softmax(alpha'_t)
    H_t      = sum_i alpha_{t,i} h_i                        eq. (5)

With an int8 or C fp32 ``U_att`` (``nmt8.model.products``), all three lines run
in C (``nmt8.native.fused.attention.context``), for the rows of every sentence
of a batch in one call: each row of tanh stays in L1 and meets U_att at
once, with nmt8's own float32 tanh and exp (as accurate as numpy's), and
every row's numbers are its own, whatever the batch. numpy's fp32 computes
them as written above, one sentence at a time.

Does not: compute ``s' W_comb_att`` (the decoder fuses it with another product
of ``s'``).
"""

from __future__ import annotations

import numpy as np

from nmt8.model.ops import linear, softmax, tanh
from nmt8.model.products import in_c
from nmt8.native.fused.attention import context
from nmt8.timers import TIMERS


def fused(U_att) -> bool:
    """Whether attention with this ``U_att`` runs in C (:func:`attend_all`)."""
    return in_c(U_att)


def attend_all(encs, counts, s_proj: np.ndarray, U_att, c_tt):
    """:func:`attend` for the rows of several sentences, in one C call
    (``fused(U_att)`` must hold): ``encs[g]`` (``nmt8.model.encoder.Encoded``)
    owns the next ``counts[g]`` rows of s_proj (P, 2H). Returns H_t
    (P, 2H) and one alpha (counts[g], S_g) per sentence."""
    with TIMERS.section("attention (fused C)"):
        H_t, alpha = context([e.pctx for e in encs], [e.h for e in encs],
                             counts, s_proj, U_att.q, c_tt)
    rows = np.cumsum([0] + list(counts))
    return H_t, [alpha[a:b, :len(e.h)] for a, b, e in zip(rows, rows[1:], encs)]


def attend(pctx: np.ndarray, s_proj: np.ndarray, h: np.ndarray, U_att,
           c_tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Context vectors H_t (P, 2H) and weights alpha (P, S).

    pctx: (S, 2H); s_proj = s' W_comb_att: (P, 2H); h: (S, 2H);
    U_att: (2H, 1) weight; c_tt: (1,).
    """
    P, S, C = s_proj.shape[0], pctx.shape[0], pctx.shape[1]
    if fused(U_att):
        with TIMERS.section("attention (fused C)"):
            return context([pctx], [h], [P], s_proj, U_att.q, c_tt)
    e = tanh(pctx[None, :, :] + s_proj[:, None, :])  # (P, S, 2H)
    alpha_prime = linear(e.reshape(P * S, C), U_att, c_tt)  # (P*S, 1)
    alpha = softmax(alpha_prime.reshape(P, S))  # (P, S)
    with TIMERS.section("attention (weighted sum)"):
        H_t = alpha @ h  # (P, 2H)
    return H_t, alpha
