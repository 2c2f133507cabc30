"""The decoder of Section 2: one step of the conditional GRU, eq. (2)-(6).

The conditional GRU of Nematus: GRU ``r`` on the previous target embedding
gives ``s'_t``, eq. (3); MLP attention (``nmt8.model.attention``) over the
source gives the context ``H_t``, eq. (5)-(6); GRU ``q`` on the context
gives ``s_t``, eq. (4); the readout ``g`` of eq. (2),
``t = tanh(s_t W1 + E[y_{t-1}] W2 + H_t W3)``, gives the logits
``t W_o + b_o``. The P rows of a step are the live hypotheses of one or
several sentences: every weight product runs once over all P rows.

Does not: hold weights (``nmt8.model.model``), encode (``nmt8.model.encoder``) or
search (``nmt8.search.beam``).
"""

from __future__ import annotations

import numpy as np

from nmt8.model.attention import attend, attend_all, fused
from nmt8.model.encoder import Encoded
from nmt8.model.gru import gru_gates, gru_step
from nmt8.model.ops import linear, tanh
from nmt8.model.products import Rows8, in_c


def embed_prev(model, y_prev) -> np.ndarray:
    """E[y_{t-1}] (P, E); id -1 means "no previous word" (zero vector)."""
    y_prev = np.asarray(y_prev)
    emb = model.Wemb_dec.lookup(np.maximum(y_prev, 0))
    emb[y_prev < 0] = 0.0
    return emb


def embed_prev_rows(model, y_prev):
    """``embed_prev`` for the product that reads it: an int8 table's
    rows as stored (``nmt8.model.products.Rows8``) when the product is int8
    or int4 (both take int8 rows)."""
    if not (model.Wemb_dec.dtype == "int8"
            and model.precision in ("int8", "int4")):
        return embed_prev(model, y_prev)
    y_prev = np.asarray(y_prev)
    q, step = model.Wemb_dec.lookup_rows(np.maximum(y_prev, 0))
    none = y_prev < 0
    q[none], step[none] = 0, 0.0
    return Rows8(q, step)


def step_batch(model, encs: list[Encoded], counts: list[int],
               s_prev: np.ndarray, y_prev):
    """One decoder step of ``model`` (a ``nmt8.model.model.Model``) for the live
    rows of several sentences.

    ``encs[g]`` owns the next ``counts[g]`` rows of s_prev (P, H) and
    y_prev (P,). Every weight product runs once over all P rows;
    attention, eq. (5)-(6), runs per sentence over its own source.
    Returns logits (P, Vt), s_t (P, H) and one alpha (counts[g], S_g)
    per sentence.
    """
    H, C = model.cfg.dim, 2 * model.cfg.dim
    W, b = model.W, model.b
    y_proj = linear(embed_prev_rows(model, y_prev), W["dec_y"],
                    b["dec_y"])  # (P, 3H + E)
    s1 = gru_step(y_proj[:, :3 * H], s_prev, W["dec_U"])  # s'_t, eq. (3)
    s1_proj = linear(s1, W["dec_s1"], b["dec_s1"])  # (P, C + 3H)
    if fused(W["U_att"]):
        H_t, alphas = attend_all(encs, counts, s1_proj[:, :C], W["U_att"],
                                 b["U_att"])  # (P, 2H)
    else:
        H_t = np.empty((s1.shape[0], C), np.float32)  # (P, 2H)
        alphas, r = [], 0
        for enc, n in zip(encs, counts):
            H_t[r:r + n], alpha = attend(enc.pctx, s1_proj[r:r + n, :C],
                                         enc.h, W["U_att"], b["U_att"])
            alphas.append(alpha)
            r += n
    c_proj = linear(H_t, W["dec_ctx"], b["dec_ctx"])  # (P, 3H + E)
    s_t = gru_gates(c_proj[:, :3 * H], s1_proj[:, C:], s1,
                    in_c(W["dec_U"]))  # eq. (4)
    t = tanh(linear(s_t, W["logit_lstm"], b["logit_lstm"])
             + y_proj[:, 3 * H:] + c_proj[:, 3 * H:])  # (P, E), eq. (2)
    logits = linear(t, W["logit"], b["logit"])  # (P, Vt)
    return logits, s_t, alphas
