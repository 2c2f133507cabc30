"""Chapter 3's build-it exercise (``nmt8.course.bleu``): the worked
solution gives sacrebleu's counts, known-wrong clipped precisions get
their hints, a stub is "not done yet"."""

from collections import Counter

import pytest

from nmt8.course.bleu import check_clipped_precision, reference
from tests.notebook_solutions import define, solution_cell, stub_source

NB, ID = "03_subwords_and_bleu.ipynb", "ex-03-clipped-precision"
NAME = "my_clipped_precision"


def grams(words, n):
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def no_clip(hyp, ref, n):
    r = grams(ref, n)
    return len([g for g in grams(hyp, n) if g in r]), len(grams(hyp, n))


def as_sets(hyp, ref, n):
    common = set(grams(hyp, n)).intersection(grams(ref, n))
    return len(common), len(grams(hyp, n))


def divides_by_the_reference(hyp, ref, n):
    h, r = Counter(grams(hyp, n)), Counter(grams(ref, n))
    return sum(min(h[g], r[g]) for g in h), len(grams(ref, n))


def counts_words(hyp, ref, n):
    h, r = Counter(grams(hyp, n)), Counter(grams(ref, n))
    return sum(min(c, r[g]) for g, c in h.items()), len(hyp)


def test_the_reference_is_sacrebleus_clipping():
    # "the" x4 against a reference with two: two matches of four
    assert reference(["the", "the", "the", "the"],
                     ["the", "cat", "is", "on", "the", "mat"], 1) == (2, 4)
    assert reference(["a"], ["a"], 2) == (0, 0)


def test_the_worked_solution_passes():
    fn = define(solution_cell(NB, ID).source, NAME, Counter=Counter)
    v = check_clipped_precision(fn)
    assert v.ok, v.message


@pytest.mark.parametrize(("wrong", "hint"), [
    (no_clip, "clip each n-gram's count"),
    (as_sets, "you counted distinct n-grams only"),
    (divides_by_the_reference, "that is recall"),
    (counts_words, "your total is the number of words"),
])
def test_known_mistakes_get_their_hint(wrong, hint):
    v = check_clipped_precision(wrong)
    assert not v.ok and v.done
    assert hint in v.message


def test_the_learners_stub_is_not_done_yet():
    src = stub_source(solution_cell(NB, ID))
    v = check_clipped_precision(define(src, NAME, Counter=Counter))
    assert not v.ok and not v.done
