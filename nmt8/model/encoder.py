"""The encoder of Section 2: a bidirectional GRU over the source, eq. (1).

``h_i = [fwd_i ; bwd_i]`` (Nematus order: forward half first); the initial
decoder state ``s_0 = tanh(mean_i(h_i) W_s + b_s)`` (Nematus ``ff_state``);
and ``pctx = h W_c_att + b_att``, the part of attention eq. (6) that every
decoder step reuses. :class:`Encoded` holds the three for one sentence.

B sentences run together, longest first, so at every position the
sentences still running are a prefix of the rows: no padding enters a
recurrence, and each sentence's numbers are those of encoding it alone.

Does not: hold weights or choose their precision (``nmt8.model.model``), or run
the decoder (``nmt8.model.decoder``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nmt8.model.config import EOS
from nmt8.model.gru import gru_step
from nmt8.model.ops import linear, tanh


@dataclasses.dataclass
class Encoded:
    """What the decoder needs of one source sentence."""

    h: np.ndarray  # (S, 2H) annotations h_i, eq. (1)
    pctx: np.ndarray  # (S, 2H) h W_c_att + b_att, reused by every step
    s0: np.ndarray  # (1, H) initial decoder state


def encode_batch(model, srcs) -> list[Encoded]:
    """Eq. (1) for B sentences of ids (each INCLUDING its final </s>),
    with ``model``'s weights (a ``nmt8.model.model.Model``).

    One :class:`Encoded` per sentence, in the order given. The sources
    run sorted longest first, so at every position the sentences still
    running are a prefix of the rows: no padding enters a recurrence,
    and each sentence's numbers are those of encoding it alone (int8:
    bit for bit; fp32: up to BLAS's rounding for another row count).
    """
    B, H = len(srcs), model.cfg.dim
    if B == 0:
        return []
    L = np.array([len(s) for s in srcs])  # (B,)
    if L.min() < 1:
        raise ValueError("every source must hold at least one id (</s>)")
    order = np.argsort(-L, kind="stable")  # longest first
    Ls = L[order]  # (B,) descending
    S = int(Ls[0])
    ids = np.full((B, S), EOS, np.int64)  # (B, S), padded
    for row, b in enumerate(order):
        ids[row, :Ls[row]] = srcs[b]
    if ids.min() < 0 or ids.max() >= model.cfg.n_words_src:
        raise ValueError(f"source id out of range [0, {model.cfg.n_words_src})")
    x = model.Wemb.lookup_rows(ids.reshape(-1))  # (B*S, E), or int8 rows
    x_proj = linear(x, model.W["enc_x"], model.b["enc_x"], mm=True)
    x_proj = x_proj.reshape(B, S, 6 * H)  # (B, S, 6H)
    h = np.zeros((B, S, 2 * H), np.float32)  # (B, S, 2H)
    fwd = np.zeros((B, H), np.float32)
    bwd = np.zeros((B, H), np.float32)
    for i in range(S):
        n = int((Ls > i).sum())  # sentences still running: rows [0, n)
        fwd[:n] = gru_step(x_proj[:n, i, :3 * H], fwd[:n], model.W["enc_U"])
        h[:n, i, :H] = fwd[:n]
        rows, j = np.arange(n), Ls[:n] - 1 - i  # each own backward position
        bwd[:n] = gru_step(x_proj[rows, j, 3 * H:], bwd[:n],
                           model.W["enc_r_U"])
        h[rows, j, H:] = bwd[:n]
    # s_0 from each sentence's own mean (no padded row in the sum)
    mean = np.concatenate([np.ascontiguousarray(h[r, :Ls[r]]).mean(
        0, keepdims=True) for r in range(B)])  # (B, 2H)
    s0 = tanh(linear(mean, model.W["ff_state"], model.b["ff_state"]))  # (B, H)
    pctx = linear(h.reshape(B * S, 2 * H), model.W["Wc_att"],
                  model.b["Wc_att"], mm=True).reshape(B, S, 2 * H)
    out: list[Encoded] = [None] * B  # type: ignore[list-item]
    for r, b in enumerate(order):
        n = int(Ls[r])
        out[b] = Encoded(h=np.ascontiguousarray(h[r, :n]),
                         pctx=np.ascontiguousarray(pctx[r, :n]),
                         s0=s0[r:r + 1].copy())
    return out
