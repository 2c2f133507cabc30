"""Beam search's selection in C (``csrc/nmt8_select.c``,
``nmt8.native.fused.select``) against its numpy reference
(``nmt8.search.select.select_numpy``): the same rows, words and scores, to
the bit, on every instruction set; and bad input."""

import numpy as np
import pytest

from nmt8.native.dispatch import AVAILABLE_ISAS
from nmt8.native.fused import select as C
from nmt8.search.select import select, select_numpy


def same(a, b):
    assert len(a) == len(b)
    for (r1, w1, s1), (r2, w2, s2) in zip(a, b):
        assert r1.tolist() == r2.tolist() and w1.tolist() == w2.tolist()
        assert np.array_equal(np.asarray(s1, np.float64).view(np.int64),
                              np.asarray(s2, np.float64).view(np.int64))


def case(rng, counts, V, spread=0.5, ties=False, neg_inf=False):
    P = sum(counts)
    logp = (rng.standard_normal((P, V)) * 3).astype(np.float32)
    if ties:  # few distinct values: many exact ties
        logp = np.round(logp).astype(np.float32)
    if neg_inf:
        logp[:, 0] = -np.inf
    offset = rng.standard_normal(P) * spread - 10.0
    return logp, offset


@pytest.mark.parametrize("seed", range(12))
def test_same_choice_as_numpy(seed):
    rng = np.random.default_rng(seed)
    G = int(rng.integers(1, 8))
    counts = rng.integers(1, 7, G).tolist()
    wants = [int(rng.integers(1, 8)) for _ in counts]
    V = int(rng.choice([1, 3, 17, 100, 8000]))
    logp, offset = case(rng, counts, V, spread=float(rng.choice([0.0, 0.5, 5])),
                        ties=seed % 3 == 0, neg_inf=seed % 4 == 1)
    want = select_numpy(logp, offset, counts, wants)
    for isa in AVAILABLE_ISAS:
        same(C.select(logp, offset, counts, wants, isa=isa), want)
        same(C.select(logp, offset, counts, wants, logp.max(axis=1), isa), want)
    same(select(logp, offset, counts, wants), want)


def test_first_step_and_small_vocabularies():
    """Fewer rows than wanted (the first step), and a sentence with no more
    entries than it wants (every entry kept)."""
    rng = np.random.default_rng(5)
    for counts, wants, V in [([1], [5], 8000), ([1, 2], [5, 64], 40),
                             ([2], [6], 3), ([1], [1], 1), ([3, 1], [64, 2], 9)]:
        logp, offset = case(rng, counts, V)
        same(C.select(logp, offset, counts, wants),
             select_numpy(logp, offset, counts, wants))


def test_all_ties_go_by_row_then_word():
    logp = np.zeros((3, 50), np.float32)
    out = C.select(logp, np.zeros(3), [3], [7])
    rows, words, _scores = out[0]
    assert rows.tolist() == [0] * 7 and words.tolist() == list(range(7))
    same(out, select_numpy(logp, np.zeros(3), [3], [7]))


def test_bad_input():
    logp = np.zeros((4, 10), np.float32)
    with pytest.raises(ValueError, match="float32"):
        C.select(logp.astype(np.float64), np.zeros(4), [4], [2])
    with pytest.raises(ValueError, match="counts summing"):
        C.select(logp, np.zeros(4), [3], [2])
    with pytest.raises(ValueError, match="counts summing"):
        C.select(logp, np.zeros(3), [4], [2])
    with pytest.raises(ValueError, match="want in"):
        C.select(logp, np.zeros(4), [4], [65])
    with pytest.raises(ValueError, match="want in"):
        C.select(logp, np.zeros(4), [4], [0])
    with pytest.raises(ValueError, match="row_max"):
        C.select(logp, np.zeros(4), [4], [2], np.zeros(3))
    with pytest.raises(ValueError, match="instruction set"):
        C.select(logp, np.zeros(4), [4], [2], isa="mmx")
