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

Does not: tokenise, or batch several sentences (one sentence at a time per
core, as the paper measures).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from .ops import log_softmax
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


def beam_search(models, src_ids, beam: int = 5, max_len: int | None = None,
                normalize: bool = True, n_best: int = 1, min_len: int = 0,
                alignment: bool = False,
                length_exponent: float = 1.0) -> list[Hypothesis]:
    """Translate one sentence of ids (without ``</s>``); best first.

    models: a Model or a list of Models sharing the target vocabulary.
    min_len: ``</s>`` is forbidden before this many steps (speed studies with
    random models set it to max_len so every run decodes the same steps).
    """
    models = models if isinstance(models, (list, tuple)) else [models]
    beam = check_beam(beam)
    # the exponent the final ranking uses; 0: raw log-probabilities
    lx = check_length_exponent(length_exponent) if normalize else 0.0
    if n_best < 1 or n_best > beam:
        raise ValueError(f"need 1 <= n_best <= beam, got n_best={n_best}, beam={beam}")
    src = list(src_ids) + [EOS]
    if max_len is None:
        max_len = default_max_len(len(src_ids))
    encs = [m.encode(src) for m in models]
    states = [e.s0 for e in encs]  # each (P, H), P = live hypotheses
    y_prev = np.array([-1])
    scores = np.zeros(1, np.float32)  # (P,)
    history: list[list[int]] = [[]]
    align_hist: list[list[np.ndarray]] = [[]]
    finished: list[Hypothesis] = []
    V = models[0].cfg.n_words

    for t in range(max_len):
        logp, new_states, alpha = None, [], None
        for m, enc, s in zip(models, encs, states):
            logits, s_t, alpha_m = m.step(enc, s, y_prev)
            lp = log_softmax(logits, out=logits)  # the logits are ours
            if logp is None:
                logp = lp
            else:
                logp += lp
            new_states.append(s_t)
            alpha = alpha_m if alpha is None else alpha + alpha_m
        with TIMERS.section("beam bookkeeping"):
            if len(models) > 1:
                logp /= len(models)
                alpha /= len(models)
            if t < min_len:
                logp[:, EOS] = -np.inf
            logp += scores[:, None]
            cand = logp  # (P, V): scores of every one-word extension
            best = top_k(cand, beam - len(finished))
            rows, words = np.divmod(best, V)
            keep_rows, keep_words, keep_scores = [], [], []
            new_hist, new_align = [], []
            for r, w, sc in zip(rows, words, cand.ravel()[best]):
                ids = history[r] + [int(w)]
                al = align_hist[r] + [alpha[r]] if alignment else []
                if w == EOS:
                    finished.append(_hyp(ids, float(sc), lx, al))
                else:
                    keep_rows.append(r)
                    keep_words.append(w)
                    keep_scores.append(sc)
                    new_hist.append(ids)
                    new_align.append(al)
            if not keep_rows:
                break
            keep = np.array(keep_rows)
            states = [s_t[keep] for s_t in new_states]
            y_prev = np.array(keep_words)
            scores = np.array(keep_scores, np.float32)
            history, align_hist = new_hist, new_align
    else:  # max_len reached: the live hypotheses end here, without </s>
        for ids, sc, al in zip(history, scores, align_hist):
            finished.append(_hyp(ids, float(sc), lx, al))
    finished.sort(key=lambda h: -h.score)
    return finished[:n_best]


def top_k(cand: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k largest entries of cand (P, V), best first.

    A full partition of P x V candidates (P=5, V=40k: 200k floats) costs more
    than a whole int8 decoder step, so we first bound the k-th best from
    below: each row's maximum is a candidate, so the k-th largest of the row
    maxima (when P >= k) is <= the k-th largest overall; only the few entries
    above it need sorting. Ties are broken by flat index, deterministically.
    """
    flat = cand.ravel()
    if k >= flat.size:
        idx = np.arange(flat.size)
    elif cand.shape[0] >= k:
        row_max = cand.max(axis=1)  # (P,)
        bound = np.partition(row_max, row_max.size - k)[row_max.size - k]
        idx = np.flatnonzero(flat >= bound)
    else:  # first step: one live hypothesis, no bound yet
        idx = np.argpartition(-flat, k - 1)[:k]
    order = np.lexsort((idx, -flat[idx]))  # by score, then index
    return idx[order[:k]]


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
