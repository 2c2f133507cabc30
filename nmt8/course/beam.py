"""Chapter 2's build-it exercise: one step of beam search (Quinn &
Ballesteros 2018, Section 3: the k hypotheses of a beam are the P rows of
every product).  Given the k live hypotheses' scores (k,) and the next
word's log-probabilities (k, V), keep the k best one-word extensions over
hypotheses x vocabulary::

    cand[i, w] = scores[i] + logp[i, w]          (k, V)
    the k largest, best first, ties by (hypothesis, word)

:func:`check_beam_step` runs the learner's ``my_beam_step(scores, logp, k)
-> (rows, words, new_scores)`` against the library's selection,
``nmt8.search.select.select`` (the same bits as ``select_numpy``), on
random and edge cases (one hypothesis, ties, a forbidden word at -inf,
vocabularies that are not multiples of 4 or 16), and recognises the usual
mistakes: ranking by the word alone, one word per hypothesis, the k worst,
hypothesis and word swapped, ties in the wrong order.

Does not: finish hypotheses at ``</s>``, normalise by length or batch
several sentences (``nmt8.search.sentence``, ``nmt8.search.beam``).
"""

from __future__ import annotations

import numpy as np

from nmt8.course.verdict import Mistake, Verdict, graded, run_check
from nmt8.search.select import select


def reference(scores, logp, k):
    """The library's choice: (rows, words, new_scores) of the k best
    extensions, best first, ties by (row, word)."""
    logp = np.asarray(logp, np.float32)  # (k, V)
    rows, words, new = select(logp, np.asarray(scores, np.float64),
                              [len(logp)], [k])[0]
    return rows, words, new


def _candidates(scores, logp):
    return np.asarray(scores, np.float64)[:, None] + logp  # (k, V)


def _word_only(scores, logp, k):
    flat = np.argsort(-logp, axis=None, kind="stable")[:k]
    rows, words = np.divmod(flat, logp.shape[1])
    return rows, words, _candidates(scores, logp)[rows, words]


def _word_only_logp(scores, logp, k):
    rows, words, _ = _word_only(scores, logp, k)
    return rows, words, logp[rows, words]


def _scores_not_added(scores, logp, k):
    rows, words, _ = reference(scores, logp, k)
    return rows, words, logp[rows, words]


def _best_word_per_row(scores, logp, k):
    cand = _candidates(scores, logp)
    words = cand.argmax(axis=1)  # (k,)
    rows = np.argsort(-cand.max(axis=1), kind="stable")[:k]
    return rows, words[rows], cand[rows, words[rows]]


def _worst(scores, logp, k):
    cand = _candidates(scores, logp)
    flat = np.argsort(cand, axis=None, kind="stable")[:k]
    rows, words = np.divmod(flat, logp.shape[1])
    return rows, words, cand[rows, words]


def _swapped(scores, logp, k):
    cand = _candidates(scores, logp)
    flat = np.argsort(-cand, axis=None, kind="stable")[:k]
    words, rows = np.divmod(flat, logp.shape[0])
    return rows, words, cand.ravel()[flat]


def _ties_reversed(scores, logp, k, kind="stable"):
    cand = _candidates(scores, logp)
    flat = np.argsort(cand, axis=None, kind=kind)[::-1][:k]
    rows, words = np.divmod(flat, logp.shape[1])
    return rows, words, cand[rows, words]


def _ties_reversed_quicksort(scores, logp, k):
    return _ties_reversed(scores, logp, k, kind="quicksort")


_NO_SCORES = ("you ranked the extensions by the next word's log-probability "
              "alone, and returned it as the new score: a hypothesis' score "
              "is the sum of the log-probabilities of all its words. Add "
              "each hypothesis' score first, cand = scores[:, None] + logp, "
              "rank cand, and return cand's values.")

MISTAKES = [
    Mistake(_word_only_logp, _NO_SCORES),
    Mistake(_scores_not_added,
            "you chose the right extensions, but your new_scores are the "
            "words' log-probabilities alone: the new score of an extension "
            "is the hypothesis' score plus the word's, scores[row] + "
            "logp[row, word]."),
    Mistake(_word_only,
            "you ranked the extensions by the next word's log-probability "
            "alone: add each hypothesis' score first, scores[:, None] + "
            "logp, so that a likely hypothesis' second word can beat an "
            "unlikely hypothesis' best word."),
    Mistake(_best_word_per_row,
            "you kept only each hypothesis' best word; the k best "
            "extensions can include several words of the same hypothesis: "
            "rank all k x V candidates together."),
    Mistake(_worst,
            "you kept the k lowest scores: log-probabilities are negative, "
            "and the best extension has the largest score (the one closest "
            "to 0). Sort -cand, or take the end of an ascending sort."),
    Mistake(_swapped,
            "hypothesis and word are swapped: in the flattened (k, V) array, "
            "entry f belongs to hypothesis f // V and word f % V "
            "(np.divmod(f, V))."),
    Mistake(_ties_reversed,
            "equal scores come out in the wrong order: the library breaks "
            "ties by hypothesis, then word, the smaller index first. "
            "Reversing an ascending sort puts the larger index first; "
            "sort -cand with kind=\"stable\" instead."),
    Mistake(_ties_reversed_quicksort,
            "equal scores come out in the wrong order: the library breaks "
            "ties by hypothesis, then word, the smaller index first. "
            "Reversing an ascending sort (and numpy's default sort, which "
            "is not stable) puts them in another order; sort -cand with "
            "kind=\"stable\" instead."),
]


def _random(k, V, seed, first=False):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((k, V)).astype(np.float32) * 3  # logits
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # (k, V)
    scores = -np.sort(rng.uniform(0, 6, k))  # best hypothesis first
    if first:
        scores[:] = 0.0
    return scores, logp.astype(np.float32)


def cases() -> list[tuple[str, tuple]]:
    """Random cases (fixed seeds) and edge cases."""
    tie_scores, tie_logp = np.array([-1.0, -1.0, -2.0]), np.full(
        (3, 6), np.log(1 / 6), np.float32)  # every extension of a row tied
    s_inf, l_inf = _random(4, 9, seed=14)
    l_inf[:, 0] = -np.inf  # </s> forbidden, as before min_len
    s_close, l_close = _random(3, 10, seed=15)
    s_close[:] = [-0.5, -0.6, -9.0]  # the first two rows both strong
    return [
        ("3 hypotheses, 10 words", (*_random(3, 10, seed=11), 3)),
        ("the first step: one hypothesis, k=4, V=7",
         (*_random(1, 7, seed=12, first=True), 4)),
        ("5 hypotheses, V=37 (not a multiple of 4 or 16)",
         (*_random(5, 37, seed=13), 5)),
        ("two strong hypotheses and a weak one", (s_close, l_close, 3)),
        ("k=1 (greedy search)", (*_random(1, 13, seed=16), 1)),
        ("ties: equal scores and equal log-probabilities",
         (tie_scores, tie_logp, 3)),
        ("a forbidden word at -inf", (s_inf, l_inf, 4)),
    ]


@graded
def check_beam_step(my_beam_step) -> Verdict:
    """Check ``my_beam_step(scores, logp, k) -> (rows, words, new_scores)``
    against ``nmt8.search.select.select``."""
    with np.errstate(invalid="ignore"):  # -inf - -inf in a learner's sort
        return run_check(my_beam_step, cases(), reference, MISTAKES,
                         names=("rows", "words", "new_scores"),
                         what="my_beam_step",
                         success="my_beam_step keeps the same k extensions "
                                 "as nmt8's beam search, in the same order, "
                                 "ties included.")
