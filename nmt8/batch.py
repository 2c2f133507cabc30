"""Batched decoding: the paper's future work (Section 7), bit for bit.

The paper decodes one sentence per core; its conclusion names batch decoding
as future work. Here B sentences are decoded together: their live
hypotheses (k per sentence) are stacked as the rows of ONE matrix, so every
weight product of a step has P = sum of live rows instead of k, and the
output layer (the largest matrix) streams its weights once for the whole
batch instead of once per sentence.

**Batch invariance.** A sentence's numbers do not depend on its neighbours,
in int8 bit for bit:

* every int8 product quantizes each row of X on its own (one scale per row)
  and sums exactly in int32, so a row's result is the same in any batch;
* the encoder runs over B sources sorted by length, longest first, so at
  every position the sentences still running are a prefix of the rows: no
  padding enters a recurrence, and no mask is needed;
* attention, the initial state's mean and the softmax are computed per
  sentence over exactly its own source positions (no padded position enters
  a sum, whose rounding would depend on the padding);
* the search keeps each sentence's hypotheses, finished list and bound
  exactly as one-sentence search does (:class:`SentenceSearch`).

In fp32 the BLAS library picks its kernels by the number of rows, so a row's
float sums can round differently in another batch: fp32 output is usually
but not always identical, and nmt8 does not claim it.

Does not: tokenise (``nmt8.translator``), or run several processes
(``nmt8.parallel``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .attention import attend
from .gru import gru_gates, gru_step
from .ops import linear, log_softmax, tanh
from .text import EOS
from .timers import TIMERS


@dataclasses.dataclass
class Encoded:
    """What the decoder needs of one source sentence."""

    h: np.ndarray  # (S, 2H) annotations h_i, eq. (1)
    pctx: np.ndarray  # (S, 2H) h W_c_att + b_att, reused by every step
    s0: np.ndarray  # (1, H) initial decoder state


def encode_batch(model, srcs: list[list[int]]) -> list[Encoded]:
    """Eq. (1) for B sentences of ids (each INCLUDING its final ``</s>``).

    Returns one :class:`Encoded` per sentence, in the order given, each
    equal (int8: bit for bit) to encoding the sentence alone.
    """
    B, H = len(srcs), model.cfg.dim
    L = np.array([len(s) for s in srcs])  # (B,)
    if B == 0:
        return []
    if L.min() < 1:
        raise ValueError("every source must hold at least one id (</s>)")
    order = np.argsort(-L, kind="stable")  # longest first
    Ls = L[order]  # (B,) descending
    S = int(Ls[0])
    ids = np.full((B, S), EOS, np.int64)
    for row, b in enumerate(order):
        ids[row, :Ls[row]] = srcs[b]
    if ids.min() < 0 or ids.max() >= model.cfg.n_words_src:
        raise ValueError(f"source id out of range [0, {model.cfg.n_words_src})")
    x = model.params["Wemb"][ids.reshape(-1)]  # (B*S, E)
    x_proj = linear(x, model.W["enc_x"], model.b["enc_x"], mm=True)
    x_proj = x_proj.reshape(B, S, 6 * H)  # (B, S, 6H)
    h = np.zeros((B, S, 2 * H), np.float32)  # (B, S, 2H)
    fwd = np.zeros((B, H), np.float32)
    bwd = np.zeros((B, H), np.float32)
    for i in range(S):
        n = int((Ls > i).sum())  # sentences still running: rows [0, n)
        fwd[:n] = gru_step(x_proj[:n, i, :3 * H], fwd[:n], model.W["enc_U"])
        h[:n, i, :H] = fwd[:n]
        j = Ls[:n] - 1 - i  # (n,) each sentence's own backward position
        rows = np.arange(n)
        bwd[:n] = gru_step(x_proj[rows, j, 3 * H:], bwd[:n], model.W["enc_r_U"])
        h[rows, j, H:] = bwd[:n]
    # s_0 from each sentence's own mean, as one (B, 2H) product
    mean = np.concatenate([np.ascontiguousarray(h[r, :Ls[r]]).mean(0, keepdims=True)
                           for r in range(B)])  # (B, 2H)
    s0 = tanh(linear(mean, model.W["ff_state"], model.b["ff_state"]))  # (B, H)
    pctx = linear(h.reshape(B * S, 2 * H), model.W["Wc_att"], model.b["Wc_att"],
                  mm=True).reshape(B, S, 2 * H)  # (B, S, 2H)
    out: list[Encoded] = [None] * B  # type: ignore[list-item]
    for r, b in enumerate(order):
        n = int(Ls[r])
        out[b] = Encoded(h=np.ascontiguousarray(h[r, :n]),
                         pctx=np.ascontiguousarray(pctx[r, :n]),
                         s0=s0[r:r + 1].copy())
    return out


def step(model, encs: list[Encoded], counts: list[int], s_prev: np.ndarray,
         y_prev: np.ndarray):
    """One decoder step, eq. (2)-(6), for the live rows of several sentences.

    ``encs[g]`` owns the next ``counts[g]`` rows of s_prev (P, H) and y_prev
    (P,) (-1 = no previous word). Returns logits (P, Vt), s_t (P, H) and the
    attention weights, one (counts[g], S_g) array per sentence.
    """
    H, C = model.cfg.dim, 2 * model.cfg.dim
    W, b = model.W, model.b
    y_proj = linear(model.embed_prev(y_prev), W["dec_y"], b["dec_y"])  # (P, 3H+E)
    s1 = gru_step(y_proj[:, :3 * H], s_prev, W["dec_U"])  # s'_t, eq. (3)
    s1_proj = linear(s1, W["dec_s1"], b["dec_s1"])  # (P, C + 3H)
    H_t = np.empty((s1.shape[0], C), np.float32)  # (P, 2H)
    alphas, r = [], 0
    for enc, n in zip(encs, counts):  # eq. (5)-(6), over each own source
        H_t[r:r + n], a = attend(enc.pctx, s1_proj[r:r + n, :C], enc.h,
                                 W["U_att"], b["U_att"])
        alphas.append(a)
        r += n
    c_proj = linear(H_t, W["dec_ctx"], b["dec_ctx"])  # (P, 3H + E)
    s_t = gru_gates(c_proj[:, :3 * H], s1_proj[:, C:], s1)  # eq. (4)
    t = tanh(linear(s_t, W["logit_lstm"], b["logit_lstm"])
             + y_proj[:, 3 * H:] + c_proj[:, 3 * H:])  # (P, E), eq. (2)
    logits = linear(t, W["logit"], b["logit"])  # (P, Vt)
    return logits, s_t, alphas


class SentenceSearch:
    """The beam of one sentence: its live hypotheses and finished ones.

    Exactly the bookkeeping of one-sentence beam search: ``advance`` takes
    the (n, V) log-probabilities of its n live rows and returns which rows
    live on, with which next words.
    """

    def __init__(self, beam: int, max_len: int, exponent, alignment: bool):
        self.beam, self.max_len, self.exponent = beam, max_len, exponent
        self.alignment = alignment
        self.scores = np.zeros(1, np.float32)  # (n,)
        self.history: list[list[int]] = [[]]
        self.align_hist: list[list[np.ndarray]] = [[]]
        self.finished: list = []
        self.done = False

    @property
    def live(self) -> int:
        return 0 if self.done else len(self.history)

    def advance(self, logp: np.ndarray, alpha: np.ndarray, t: int):
        """Extend by one word; logp (n, V) is overwritten. Returns the kept
        local rows (array) and their words (array)."""
        from .beam import _hyp, top_k

        V = logp.shape[1]
        logp += self.scores[:, None]
        best = top_k(logp, self.beam - len(self.finished))
        rows, words = np.divmod(best, V)
        keep_rows, keep_words, keep_scores, new_hist, new_align = [], [], [], [], []
        for r, w, sc in zip(rows, words, logp.ravel()[best]):
            ids = self.history[r] + [int(w)]
            al = self.align_hist[r] + [alpha[r]] if self.alignment else []
            if w == EOS:
                self.finished.append(_hyp(ids, float(sc), self.exponent, al))
            else:
                keep_rows.append(r)
                keep_words.append(w)
                keep_scores.append(sc)
                new_hist.append(ids)
                new_align.append(al)
        self.scores = np.array(keep_scores, np.float32)
        self.history, self.align_hist = new_hist, new_align
        if not keep_rows:
            self.done = True
        elif t + 1 >= self.max_len:  # the live hypotheses end here, no </s>
            for ids, sc, al in zip(self.history, self.scores, self.align_hist):
                self.finished.append(_hyp(ids, float(sc), self.exponent, al))
            self.done = True
        return np.array(keep_rows, np.int64), np.array(keep_words, np.int64)

    def best(self, n_best: int) -> list:
        self.finished.sort(key=lambda h: -h.score)
        return self.finished[:n_best]


def beam_search_batch(models, srcs, beam: int = 5, max_lens=None,
                      normalize: bool = True, n_best: int = 1,
                      min_len: int = 0, alignment: bool = False,
                      length_exponent: float = 1.0) -> list[list]:
    """Translate B sentences of ids (each without ``</s>``) together.

    Returns, per sentence in the order given, its n_best Hypothesis objects,
    best first: the same (int8: bit for bit) as ``nmt8.beam.beam_search`` on
    each sentence alone. ``max_lens``: one per sentence (default
    ``default_max_len``). Finished sentences leave the batch.
    """
    from .beam import _hyp, default_max_len

    models = models if isinstance(models, (list, tuple)) else [models]
    if beam < 1 or n_best < 1 or n_best > beam:
        raise ValueError(f"need 1 <= n_best <= beam, got n_best={n_best}, "
                         f"beam={beam}")
    srcs = [list(s) for s in srcs]
    if max_lens is None:
        max_lens = [default_max_len(len(s)) for s in srcs]
    exponent = normalize and length_exponent
    searches = [SentenceSearch(beam, ml, exponent, alignment) for ml in max_lens]
    encs = [encode_batch(m, [s + [EOS] for s in srcs]) for m in models]
    states = [np.concatenate([e.s0 for e in enc_m]) if srcs else None
              for enc_m in encs]  # each (P, H)
    y_prev = np.full(len(srcs), -1, np.int64)  # (P,)
    active = [g for g, s in enumerate(searches) if s.max_len > 0]
    for s in searches:
        if s.max_len <= 0:  # nothing may be decoded: the empty hypothesis
            s.finished.append(_hyp([], 0.0, exponent, []))
            s.done = True
    if len(active) < len(srcs):
        keep = np.array(active, np.int64)
        states = [st[keep] for st in states]
        y_prev = y_prev[keep]
    t = 0
    while active:
        counts = [searches[g].live for g in active]
        logp, new_states, alphas = None, [], None
        for m, enc_m, s in zip(models, encs, states):
            logits, s_t, al_m = step(m, [enc_m[g] for g in active], counts, s,
                                     y_prev)
            lp = log_softmax(logits, out=logits)  # the logits are ours
            if logp is None:
                logp = lp
            else:
                logp += lp
            new_states.append(s_t)
            alphas = al_m if alphas is None else [a + b for a, b in
                                                  zip(alphas, al_m)]
        with TIMERS.section("beam bookkeeping"):
            if len(models) > 1:
                logp /= len(models)
                alphas = [a / len(models) for a in alphas]
            if t < min_len:
                logp[:, EOS] = -np.inf
            keep_all, words_all, still, r = [], [], [], 0
            for g, n, al in zip(active, counts, alphas):
                rows, words = searches[g].advance(logp[r:r + n], al, t)
                if not searches[g].done:
                    keep_all.append(rows + r)
                    words_all.append(words)
                    still.append(g)
                r += n
            active = still
            if not active:
                break
            keep = np.concatenate(keep_all)
            states = [s_t[keep] for s_t in new_states]
            y_prev = np.concatenate(words_all)
        t += 1
    return [s.best(n_best) for s in searches]


def plan(lengths, batch_size: int, window: int | None = None) -> list[list[int]]:
    """Cut sentences into batches of similar length, as Marian's maxi-batch.

    Each window of ``window`` consecutive sentences (default 16 x
    batch_size) is sorted by length and cut into batches of ``batch_size``;
    returns the batches as lists of indices into ``lengths``. Empty sources
    (length 0) are left out: they need no decoding.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    window = window or 16 * batch_size
    out = []
    for w0 in range(0, len(lengths), window):
        idx = [i for i in range(w0, min(w0 + window, len(lengths)))
               if lengths[i] > 0]
        idx.sort(key=lambda i: lengths[i])
        out += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    return out


def translate_ids(models, sentences, batch_size: int, window: int | None = None,
                  max_lens=None, **search) -> list[list]:
    """Beam search over many sentences of ids, ``batch_size`` at a time;
    results (n_best Hypothesis lists) in input order, ``[]`` for an empty
    source. ``search``: the keywords of :func:`beam_search_batch`."""
    sentences = [list(s) for s in sentences]
    out: list[list] = [[] for _ in sentences]
    for idx in plan([len(s) for s in sentences], batch_size, window):
        ml = None if max_lens is None else [max_lens[i] for i in idx]
        for i, hyps in zip(idx, beam_search_batch(
                models, [sentences[i] for i in idx], max_lens=ml, **search)):
            out[i] = hyps
    return out
