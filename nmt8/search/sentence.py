"""The beam of one sentence: its hypotheses, live and finished, and the
checks of the search's settings.

:class:`SentenceSearch` holds the k live hypotheses of one sentence (their
float64 scores and word histories) and the finished ones; each step it
keeps the extensions candidate selection chose (``nmt8.search.select``) or
finishes them at ``</s>``. A sentence decoded alone or in a batch goes
through exactly these steps, so its output does not depend on its
neighbours. A finished :class:`Hypothesis` carries its score: the sum of
log-probabilities, divided by its length (``</s>`` included) to the power
``length_exponent`` when normalising (1 is Nematus' normalisation). It is
not called ``alpha``: that is the attention weights of eq. (5)-(6).

The beam is at most ``MAX_BEAM`` = 64 hypotheses: every step costs beam x V
scores and keeps beam histories, so a beam of 1000 takes minutes a sentence
and one of 100000 tens of GB, while the paper uses 5 (and BLEU stops growing
long before 64).

Does not: run a model or choose extensions (``nmt8.search.beam``,
``nmt8.search.select``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from nmt8.model.config import EOS

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


def _hyp(ids, logprob, length_exponent, align) -> Hypothesis:
    score = logprob / max(len(ids), 1) ** length_exponent if length_exponent \
        else logprob
    return Hypothesis(ids=ids, logprob=logprob, score=score,
                      alignment=np.stack(align) if align else None)
