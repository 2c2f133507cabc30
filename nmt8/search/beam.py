"""Beam search over one model or an ensemble (Section 3: P = k hypotheses).

The k live hypotheses of a sentence are stacked as the rows of one narrow
matrix, so every weight product of a step is (in x out) times P = k columns:
the matrix-"narrow matrix" products the paper's int8 kernel is built for.
Greedy search is beam size 1. An ensemble of K models (the paper's "En-De 2x")
averages the K log-probability vectors at every step.

Scores are sums of log-probabilities; with ``normalize`` they are divided by
the hypothesis length (``</s>`` included) to the power ``length_exponent``
before the final ranking (1 is Nematus' normalisation; a model's options file
may carry a value chosen on the validation set). The beam is at most
``MAX_BEAM`` = 64 hypotheses (``nmt8.search.sentence`` says why).

Several sentences can be searched together (:func:`beam_search_batch`, the
paper's future work): their hypotheses share the matrix, and each
sentence's search is its own :class:`SentenceSearch`, so a sentence's
output does not depend on its neighbours. One sentence is a batch of one.

This module is the search loop and forced decoding (:func:`score_ids`). A
sentence's hypotheses and the checks of the settings: ``nmt8.search.sentence``;
choosing the best extensions: ``nmt8.search.select``.

Does not: tokenise, or plan batches (``nmt8.search.batch``).
"""

from __future__ import annotations

import numpy as np

from nmt8.model.config import EOS
from nmt8.model.ops import log_softmax, row_logsumexp
from nmt8.search.select import select
from nmt8.search.sentence import (
    Hypothesis,
    SentenceSearch,
    check_beam,
    check_length_exponent,
    default_max_len,
)
from nmt8.timers import TIMERS

__all__ = [
    "beam_search",
    "beam_search_batch",
    "score_ids",
]


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
        row_max = None
        if len(models) == 1:
            # log p = z - logsumexp(z), never written out: the row's
            # log-sum-exp joins its score as one offset per row
            logp = logits[0]
            lse, row_max = row_logsumexp(logp, with_max=True)
            offset = scores - lse
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
                row_max = None  # EOS may have been a row's maximum
            chosen = select(logp, offset, counts,
                            [searches[g].wants for g in active], row_max)
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
