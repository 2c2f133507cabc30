"""Beam search over one model or an ensemble (Section 3: P = k hypotheses).

The k live hypotheses of a sentence are stacked as the rows of one narrow
matrix, so every weight product of a step is (in x out) times P = k columns:
the matrix-"narrow matrix" products the paper's int8 kernel is built for.
Greedy search is beam size 1. An ensemble of K models (the paper's "En-De 2x")
averages the K log-probability vectors at every step.

Scores are sums of log-probabilities; with ``normalize`` they are divided by
the hypothesis length (``</s>`` included) to the power ``length_exponent``
before the final ranking (1 is Nematus' normalisation; a model's options file
may carry a value chosen on the validation set). It is not called ``alpha``:
that is the attention weights of eq. (5)-(6).

The beam is at most ``MAX_BEAM`` = 64 hypotheses: every step costs beam x V
scores and keeps beam histories, so a beam of 1000 takes minutes a sentence
and one of 100000 tens of GB, while the paper uses 5 (and BLEU stops growing
long before 64).

Several sentences can be searched together (:func:`beam_search_batch`, the
paper's future work): their hypotheses share the matrix, and each
sentence's search is its own :class:`SentenceSearch`, so a sentence's
output does not depend on its neighbours. One sentence is a batch of one.

Does not: tokenise, or plan batches (``nmt8.batch``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from .ops import log_softmax, row_logsumexp
from .text import EOS
from .timers import TIMERS

MAX_BEAM = 64  # largest beam accepted (see the module docstring)


@dataclasses.dataclass
class Hypothesis:
    ids: list[int]  # target ids, ending in </s> unless cut at max_len
    logprob: float  # sum of log p(y_t | ...)
    score: float  # logprob, divided by len(ids) when normalising
    alignment: np.ndarray | None = None  # (len(ids), S) attention weights


def check_beam(beam) -> int:
    """``beam`` as an int in 1..MAX_BEAM, or a clear TypeError/ValueError."""
    if isinstance(beam, bool) or not isinstance(beam, numbers.Integral):
        raise TypeError(f"beam must be an int, got {type(beam).__name__} {beam!r}")
    if not 1 <= beam <= MAX_BEAM:
        raise ValueError(f"beam must be between 1 and {MAX_BEAM}, got {beam}")
    return int(beam)


def check_length_exponent(x) -> float:
    """The length normalisation exponent as a finite float >= 0, or an error."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError("length_exponent must be a number, got "
                        f"{type(x).__name__} {x!r}")
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"length_exponent must be finite and >= 0, got {x}")
    return float(x)


def default_max_len(src_len: int, ratio: float = 2.0) -> int:
    """Longest output considered: ``ratio`` x source length, plus 10."""
    return int(ratio * src_len) + 10


class SentenceSearch:
    """The beam of one sentence: its live hypotheses and its finished ones.

    ``extend`` takes the best one-word extensions :func:`select` chose for
    the sentence's live rows and keeps them (or finishes them at ``</s>``).
    A sentence decoded alone or in a batch goes through exactly these steps.
    Scores are float64 sums of log-probabilities.
    """

    def __init__(self, beam: int, max_len: int, exponent: float,
                 alignment: bool):
        self.beam, self.max_len, self.exponent = beam, max_len, exponent
        self.alignment = alignment
        self.scores = np.zeros(1)  # (n,) float64
        self.history: list[list[int]] = [[]]
        self.align_hist: list[list[np.ndarray]] = [[]]
        self.finished: list[Hypothesis] = []
        self.done = max_len <= 0
        if self.done:  # nothing may be decoded: the empty hypothesis
            self.finished.append(_hyp([], 0.0, exponent, []))

    @property
    def live(self) -> int:
        return 0 if self.done else len(self.history)

    @property
    def wants(self) -> int:
        """How many extensions the next step keeps: the beam less the
        hypotheses already finished."""
        return self.beam - len(self.finished)

    def extend(self, rows, words, scores, alpha: np.ndarray, t: int):
        """Keep the extensions (row r + word w, with its score) chosen at
        step t, best first. Returns the surviving local rows and their
        words (int64 arrays)."""
        keep_rows, keep_words, keep_scores, new_hist, new_align = \
            [], [], [], [], []
        for r, w, sc in zip(rows.tolist(), words.tolist(), scores.tolist()):
            ids = self.history[r] + [w]
            al = self.align_hist[r] + [alpha[r]] if self.alignment else []
            if w == EOS:
                self.finished.append(_hyp(ids, sc, self.exponent, al))
            else:
                keep_rows.append(r)
                keep_words.append(w)
                keep_scores.append(sc)
                new_hist.append(ids)
                new_align.append(al)
        self.scores = np.array(keep_scores)
        self.history, self.align_hist = new_hist, new_align
        if not keep_rows:
            self.done = True
        elif t + 1 >= self.max_len:  # the live hypotheses end here, no </s>
            for ids, sc, al in zip(self.history, self.scores.tolist(),
                                   self.align_hist):
                self.finished.append(_hyp(ids, sc, self.exponent, al))
            self.done = True
        return np.array(keep_rows, np.int64), np.array(keep_words, np.int64)

    def best(self, n_best: int) -> list[Hypothesis]:
        self.finished.sort(key=lambda h: -h.score)
        return self.finished[:n_best]


def beam_search(models, src_ids, beam: int = 5, max_len: int | None = None,
                normalize: bool = True, n_best: int = 1, min_len: int = 0,
                alignment: bool = False,
                length_exponent: float = 1.0) -> list[Hypothesis]:
    """Translate one sentence of ids (without ``</s>``); best first.

    models: a Model or a list of Models sharing the target vocabulary.
    min_len: ``</s>`` is forbidden before this many steps (speed studies with
    random models set it to max_len so every run decodes the same steps).
    The paper's setting: a batch of one sentence.
    """
    return beam_search_batch(models, [src_ids], beam, None if max_len is None
                             else [max_len], normalize, n_best, min_len,
                             alignment, length_exponent)[0]


def beam_search_batch(models, srcs, beam: int = 5, max_lens=None,
                      normalize: bool = True, n_best: int = 1,
                      min_len: int = 0, alignment: bool = False,
                      length_exponent: float = 1.0) -> list[list[Hypothesis]]:
    """Translate B sentences of ids (each without ``</s>``) together.

    Their live hypotheses are the rows of one matrix (P = sum of live rows)
    for every weight product; finished sentences leave the batch. Returns,
    per sentence in the order given, its n_best hypotheses, best first: in
    int8 bit for bit what each sentence gets alone. ``max_lens``: one per
    sentence (default ``default_max_len``).
    """
    models = models if isinstance(models, (list, tuple)) else [models]
    beam = check_beam(beam)
    # the exponent the final ranking uses; 0: raw log-probabilities
    lx = check_length_exponent(length_exponent) if normalize else 0.0
    if n_best < 1 or n_best > beam:
        raise ValueError(f"need 1 <= n_best <= beam, got n_best={n_best}, beam={beam}")
    srcs = [list(s) for s in srcs]
    if max_lens is None:
        max_lens = [default_max_len(len(s)) for s in srcs]
    searches = [SentenceSearch(beam, ml, lx, alignment) for ml in max_lens]
    active = [g for g, s in enumerate(searches) if not s.done]
    encs = [m.encode_batch([srcs[g] + [EOS] for g in active]) for m in models]
    encs = [dict(zip(active, e)) for e in encs]  # sentence -> Encoded
    states = [np.concatenate([e[g].s0 for g in active]) if active else None
              for e in encs]  # each (P, H), P = live rows of all sentences
    y_prev = np.full(len(active), -1, np.int64)  # (P,)
    t = 0
    while active:
        counts = [searches[g].live for g in active]
        logits, new_states, alphas = [], [], None
        for m, enc, s in zip(models, encs, states):
            z, s_t, al_m = m.step_batch([enc[g] for g in active], counts, s,
                                        y_prev)
            logits.append(z)
            new_states.append(s_t)
            alphas = al_m if alphas is None else [a + b for a, b in
                                                  zip(alphas, al_m)]
        scores = np.concatenate([searches[g].scores for g in active])  # (P,)
        if len(models) == 1:
            # log p = z - logsumexp(z), never written out: the row's
            # log-sum-exp joins its score as one offset per row
            logp = logits[0]
            offset = scores - row_logsumexp(logp)
        else:  # the mean of the K models' log-probabilities
            logp = log_softmax(logits[0], out=logits[0])  # the logits are ours
            for z in logits[1:]:
                logp += log_softmax(z, out=z)
            logp /= len(models)
            alphas = [a / len(models) for a in alphas]
            offset = scores
        with TIMERS.section("beam bookkeeping"):
            if t < min_len:
                logp[:, EOS] = -np.inf
            chosen = select(logp, offset, counts,
                            [searches[g].wants for g in active])
            keep, words, still, r = [], [], [], 0
            for g, n, al, best in zip(active, counts, alphas, chosen):
                rows, w = searches[g].extend(*best, al, t)
                if not searches[g].done:
                    keep.append(rows + r)
                    words.append(w)
                    still.append(g)
                r += n
            active = still
            if active:
                keep = np.concatenate(keep)
                states = [s_t[keep] for s_t in new_states]
                y_prev = np.concatenate(words)
        t += 1
    return [s.best(n_best) for s in searches]


def select(logp: np.ndarray, offset: np.ndarray, counts, wants):
    """The best one-word extensions of several sentences at once.

    logp (P, V): the live rows' log-probabilities (or logits that ``offset``
    turns into them), sentence g owning the next ``counts[g]`` rows; offset
    (P,) float64, added to every entry of its row (the hypothesis' score,
    less the row's log-sum-exp). Returns per sentence ``(rows, words,
    scores)``: the ``wants[g]`` largest ``logp[r, w] + offset[r]`` over its
    rows (local row numbers), best first, ties by (row, word).

    A full sort of P x V candidates (P = 5, V = 40k: 200k numbers) costs more
    than a whole int8 decoder step, so each sentence first bounds its
    wants-th best from below: every row's maximum is a candidate, so the
    wants-th largest row maximum (when the sentence has that many rows; else
    the largest of its rows' wants-th entries) is at most the wants-th best.
    One pass over logp finds the few entries above the bounds, and the sum
    is formed for those only. Nothing depends on other sentences' rows.
    """
    P, V = logp.shape
    counts = np.asarray(counts, np.int64)
    G = len(counts)
    start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    seg = np.repeat(np.arange(G), counts)  # (P,) the sentence of each row
    row_best = logp.max(axis=1) + offset  # (P,) float64
    bound = np.full(G, -np.inf)  # (G,)
    for g, (n, k, r0) in enumerate(zip(counts.tolist(), wants, start.tolist())):
        if n * V <= k:
            continue  # every entry is kept
        if n >= k:
            bound[g] = np.partition(row_best[r0:r0 + n], n - k)[n - k]
        elif k <= V:  # fewer rows than wanted (the first step)
            kth = np.partition(logp[r0:r0 + n], V - k, axis=1)[:, V - k]
            bound[g] = (kth + offset[r0:r0 + n]).max()
    thr = bound[seg] - offset  # (P,) in logp's units
    # a little lower in float32, so that no candidate is lost to rounding
    thr = (thr - 1e-6 * (1.0 + np.abs(thr))).astype(logp.dtype)
    r, w = np.divmod(np.flatnonzero(logp >= thr[:, None]), V)  # (1-D: fast)
    sc = logp[r, w].astype(np.float64) + offset[r]
    g = seg[r]
    ok = sc >= bound[g]  # the exact test, in float64
    r, w, sc, g = r[ok], w[ok], sc[ok], g[ok]
    local = r - start[g]
    order = np.lexsort((w, local, -sc, g))  # by sentence, score, row, word
    local, w, sc, g = local[order], w[order], sc[order], g[order]
    first = np.searchsorted(g, np.arange(G + 1))
    return [(local[a:a + k], w[a:a + k], sc[a:a + k])
            for a, k in zip(first[:-1].tolist(),
                            np.minimum(wants, np.diff(first)).tolist())]


def top_k(cand: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k largest entries of cand (P, V), best first,
    ties by flat index: :func:`select` for one block of rows."""
    P, V = cand.shape
    rows, words, _ = select(cand, np.zeros(P), [P], [k])[0]
    return rows * V + words


def _hyp(ids, logprob, length_exponent, align) -> Hypothesis:
    score = logprob / max(len(ids), 1) ** length_exponent if length_exponent \
        else logprob
    return Hypothesis(ids=ids, logprob=logprob, score=score,
                      alignment=np.stack(align) if align else None)


def score_ids(models, src_ids, tgt_ids) -> np.ndarray:
    """Forced decoding: log p(y_t | y_<t, x) of each given target id.

    tgt_ids should end in ``</s>`` to score the end of the sentence too.
    Returns (len(tgt_ids),) float32. Used by the golden-value check and to
    explain where fp32 and int8 beams part ways.
    """
    models = models if isinstance(models, (list, tuple)) else [models]
    src = list(src_ids) + [EOS]
    out = np.zeros(len(tgt_ids), np.float32)
    for m in models:
        enc = m.encode(src)
        s, y_prev = enc.s0, np.array([-1])
        for t, y in enumerate(tgt_ids):
            logits, s, _ = m.step(enc, s, y_prev)
            out[t] += log_softmax(logits)[0, y]
            y_prev = np.array([y])
    return out / len(models)
