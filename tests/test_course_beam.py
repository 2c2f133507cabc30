"""Chapter 2's build-it exercise (``nmt8.course.beam``): the worked
solution passes, known-wrong beam steps get their hints, a stub is "not
done yet"."""

import heapq

import numpy as np
import pytest

from nmt8.course.beam import check_beam_step
from tests.notebook_solutions import define, solution_cell, stub_source

NB, ID, NAME = "02_beam_search.ipynb", "ex-02-beam-step", "my_beam_step"


def by_next_word_only(scores, logp, k):
    V = logp.shape[1]
    best = heapq.nlargest(k, range(logp.size),
                          key=lambda f: (logp.flat[f], -f))
    rows = np.array([f // V for f in best])
    words = np.array([f % V for f in best])
    return rows, words, scores[rows] + logp[rows, words]


def each_hypothesis_once(scores, logp, k):
    total = scores[:, None] + logp
    w = np.argmax(total, axis=1)
    best = total[np.arange(len(total)), w]
    rows = sorted(range(len(total)), key=lambda i: -best[i])[:k]
    rows = np.array(rows)
    return rows, w[rows], best[rows]


def row_and_word_mixed_up(scores, logp, k):
    total = (scores[:, None] + logp).ravel()
    flat = np.argsort(-total, kind="stable")[:k]
    return flat % len(scores), flat // len(scores), total[flat]


def ties_from_the_end(scores, logp, k):
    total = (scores[:, None] + logp).ravel()
    order = np.argsort(total, kind="mergesort")
    flat = order[len(order) - k:][::-1]
    V = logp.shape[1]
    return flat // V, flat % V, total[flat]


def logp_alone(scores, logp, k):
    """A reviewer's version: ranks and returns logp, scores never added."""
    flat = np.argsort(-logp, axis=None, kind="stable")[:k]
    rows, words = np.divmod(flat, logp.shape[1])
    return rows, words, logp[rows, words]


def unstable_reversed(scores, logp, k):
    total = scores[:, None] + logp
    flat = np.argsort(total, axis=None)[::-1][:k]
    rows, words = np.divmod(flat, total.shape[1])
    return rows, words, total[rows, words]


def test_the_worked_solution_passes():
    fn = define(solution_cell(NB, ID).source, NAME, np=np)
    v = check_beam_step(fn)
    assert v.ok, v.message


@pytest.mark.parametrize(("wrong", "hint"), [
    (by_next_word_only, "by the next word's log-probability alone"),
    (logp_alone, "is the sum of the log-probabilities of all its words"),
    (unstable_reversed, "equal scores come out in the wrong order"),
    (each_hypothesis_once, "only each hypothesis' best word"),
    (row_and_word_mixed_up, "hypothesis and word are swapped"),
    (ties_from_the_end, "equal scores come out in the wrong order"),
])
def test_known_mistakes_get_their_hint(wrong, hint):
    v = check_beam_step(wrong)
    assert not v.ok and v.done
    assert hint in v.message


def test_the_learners_stub_is_not_done_yet():
    src = stub_source(solution_cell(NB, ID))
    v = check_beam_step(define(src, NAME, np=np))
    assert not v.ok and not v.done
