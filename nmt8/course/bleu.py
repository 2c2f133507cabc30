"""Chapter 3's build-it exercise: BLEU's clipped (modified) n-gram
precision of one sentence for one order n (Papineni et al., 2002), the
quality measure of Quinn & Ballesteros (2018), Section 4.  For an output
and its reference, each a list of words::

    matched = sum over the output's n-grams g of min(count_out(g), count_ref(g))
    total   = number of n-grams in the output = max(len(output) - n + 1, 0)

:func:`check_clipped_precision` runs the learner's
``my_clipped_precision(hyp, ref, n) -> (matched, total)`` against
sacrebleu's own statistics (``sacrebleu.metrics.BLEU(tokenize="none")``,
``corpus_score(...).counts`` and ``.totals`` on a one-sentence corpus: the
words are joined by spaces and sacrebleu splits them again), for n = 1..4
on random and edge cases (repeated words, an output shorter than n, an
empty output), and recognises the usual mistakes: no clipping, distinct
n-grams only, the reference's n-grams as the total, a total that forgets
the n - 1 words at the end.

Does not: combine orders into BLEU, apply the brevity penalty, or tokenise
(``nmt8.lab.speed.measure.quality`` scores a test set with sacrebleu).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from sacrebleu.metrics import BLEU

from nmt8.course.verdict import Mistake, Verdict, graded, run_check

_BLEU = BLEU(tokenize="none")  # the words are already split


def reference(hyp, ref, n):
    """sacrebleu's (matched, total) of order n (1..4) for one sentence."""
    s = _BLEU.corpus_score([" ".join(hyp)], [[" ".join(ref)]])
    return s.counts[n - 1], s.totals[n - 1]


def _grams(words, n):
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def _unclipped(hyp, ref, n):
    r = set(_grams(ref, n))
    return sum(g in r for g in _grams(hyp, n)), max(len(hyp) - n + 1, 0)


def _distinct(hyp, ref, n):
    return (len(set(_grams(hyp, n)) & set(_grams(ref, n))),
            max(len(hyp) - n + 1, 0))


def _ref_total(hyp, ref, n):
    h, r = Counter(_grams(hyp, n)), Counter(_grams(ref, n))
    return sum((h & r).values()), max(len(ref) - n + 1, 0)


def _total_words(hyp, ref, n):
    h, r = Counter(_grams(hyp, n)), Counter(_grams(ref, n))
    return sum((h & r).values()), len(hyp)


MISTAKES = [
    Mistake(_unclipped,
            "you counted every output n-gram that occurs in the reference, "
            "however often it occurs there: clip each n-gram's count at its "
            "count in the reference, min(count in output, count in "
            "reference), or \"the the the\" scores 3 against \"the cat\"."),
    Mistake(_distinct,
            "you counted distinct n-grams only (a set): an n-gram that occurs "
            "twice in both sentences matches twice. Count with "
            "collections.Counter and clip with min."),
    Mistake(_ref_total,
            "your total counts the reference's n-grams: that is recall. "
            "Precision divides by the number of n-grams in the OUTPUT, "
            "len(hyp) - n + 1."),
    Mistake(_total_words,
            "your total is the number of words; a sentence of L words has "
            "L - n + 1 n-grams of order n (and none when L < n)."),
]

_WORDS = ["a", "the", "dog", "cat", "runs", "sits", "on", "mat", "red", "ball"]


def _random(seed, length_h, length_r):
    rng = np.random.default_rng(seed)
    return ([str(w) for w in rng.choice(_WORDS, length_h)],
            [str(w) for w in rng.choice(_WORDS, length_r)])


def cases() -> list[tuple[str, tuple]]:
    """Random sentences over a small vocabulary (so words repeat) and edge
    cases, for every order n = 1..4."""
    edge = [
        ("a word repeated in the output",
         (["the", "the", "the", "the"],
          ["the", "cat", "sits", "on", "the", "mat"])),
        ("a repeated bigram in both",
         (["the", "red", "ball", "and", "the", "red", "ball"],
          ["the", "red", "ball", "is", "the", "red", "ball"])),
        ("identical sentences", (["a", "dog", "runs"], ["a", "dog", "runs"])),
        ("an output of two words", (["red", "ball"],
                                    ["a", "red", "ball", "on", "a", "mat"])),
        ("an empty output", ([], ["a", "cat"])),
    ]
    out = []
    for seed, (lh, lr) in enumerate([(9, 8), (12, 14), (6, 6)], start=21):
        hyp, ref = _random(seed, lh, lr)
        out += [(f"random sentences (seed {seed}), n={n}", (hyp, ref, n))
                for n in range(1, 5)]
    out += [(f"{name}, n={n}", (h, r, n)) for name, (h, r) in edge
            for n in range(1, 5)]
    return out


@graded
def check_clipped_precision(my_clipped_precision) -> Verdict:
    """Check ``my_clipped_precision(hyp, ref, n) -> (matched, total)``
    against sacrebleu's counts and totals."""
    return run_check(my_clipped_precision, cases(), reference, MISTAKES,
                     exact=True, names=("matched", "total"),
                     what="my_clipped_precision",
                     success="my_clipped_precision gives sacrebleu's "
                             "matched and total n-grams on all cases, "
                             "n = 1 to 4.")
