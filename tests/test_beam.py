"""Beam search: greedy, n-best order, ensembles, fixed-length decoding."""

import numpy as np
import pytest

import nmt8
from nmt8.model.config import EOS
from nmt8.model.ops import log_softmax
from nmt8.search.sentence import MAX_BEAM


def greedy(model, src, max_len):
    """Independent greedy decoder written against Model.step only."""
    enc = model.encode(list(src) + [EOS])
    s, y, out, total = enc.s0, np.array([-1]), [], 0.0
    for _ in range(max_len):
        logits, s, _ = model.step(enc, s, y)
        lp = log_softmax(logits)[0]
        w = int(lp.argmax())
        out.append(w)
        total += lp[w]
        if w == EOS:
            break
        y = np.array([w])
    return out, total


@pytest.mark.parametrize("src", [[3, 4, 5], [7], [1, 9, 9, 2, 30, 11]])
def test_beam_1_is_greedy(tiny, src):
    (h,) = nmt8.beam_search(tiny, src, beam=1, max_len=12)
    ids, total = greedy(tiny, src, 12)
    assert h.ids == ids
    assert h.logprob == pytest.approx(total, abs=1e-4)


def test_nbest_sorted_and_counted(tiny):
    hyps = nmt8.beam_search(tiny, [5, 6, 7, 8], beam=5, max_len=10, n_best=5)
    assert len(hyps) == 5
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert len({tuple(h.ids) for h in hyps}) == 5
    for h in hyps:  # normalised score = logprob / length
        assert h.score == pytest.approx(h.logprob / len(h.ids))


def test_nbest_logprob_matches_forced_scoring(tiny):
    for h in nmt8.beam_search(tiny, [5, 6, 7], beam=4, max_len=8, n_best=4):
        forced = nmt8.score_ids(tiny, [5, 6, 7], h.ids)
        assert forced.sum() == pytest.approx(h.logprob, abs=1e-4)


def test_ensemble_with_itself_equals_model(tiny):
    src = [2, 3, 5, 7, 11]
    a = nmt8.beam_search(tiny, src, beam=3, max_len=10, n_best=3)
    b = nmt8.beam_search([tiny, tiny], src, beam=3, max_len=10, n_best=3)
    assert [h.ids for h in a] == [h.ids for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)


def test_random_model_decodes_exactly_max_len(tiny):
    tr = nmt8.Translator(tiny, beam=3)
    (out,) = tr.translate_ids([[4, 5, 6]], max_len=9)
    assert len(out) == 9 and EOS not in out


def test_bad_beam_arguments(tiny):
    with pytest.raises(ValueError):
        nmt8.beam_search(tiny, [3], beam=0)
    with pytest.raises(ValueError):
        nmt8.beam_search(tiny, [3], beam=2, n_best=3)


def test_alignment_shape(tiny):
    (h,) = nmt8.Translator(tiny, beam=2).translate_ids([[4, 5, 6]], alignment=True)
    best = h[0]
    assert best.alignment.shape == (len(best.ids), 4)  # 3 words + </s>
    np.testing.assert_allclose(best.alignment.sum(1), 1.0, atol=1e-5)


def test_empty_source_gives_empty_output(tiny):
    assert nmt8.Translator(tiny).translate_ids([[], [3]], max_len=4)[0] == []


@pytest.mark.parametrize("P,V,k", [(1, 50, 5), (5, 50, 5), (7, 40, 3), (3, 4, 12),
                                   (5, 1000, 1)])
def test_top_k_matches_full_sort(rng, P, V, k):
    from nmt8.search.select import top_k

    for _ in range(20):
        cand = rng.normal(size=(P, V)).astype(np.float32)
        cand[0, :3] = cand.max()  # ties are broken by index
        expect = np.lexsort((np.arange(P * V), -cand.ravel()))[:k]
        np.testing.assert_array_equal(top_k(cand, k), expect)


def test_length_exponent_zero_ranks_by_raw_logprob(tiny):
    hyps = nmt8.beam_search(tiny, [5, 6, 7], beam=4, max_len=8, n_best=4,
                            length_exponent=0.0)
    assert [h.score for h in hyps] == [h.logprob for h in hyps]
    half = nmt8.beam_search(tiny, [5, 6, 7], beam=4, max_len=8, n_best=4,
                            length_exponent=0.5)
    for h in half:
        assert h.score == pytest.approx(h.logprob / len(h.ids) ** 0.5)


@pytest.mark.parametrize("beam,error", [
    (MAX_BEAM + 1, ValueError), (100_000, ValueError), (-1, ValueError),
    ("5", TypeError), (2.5, TypeError), (True, TypeError), (None, TypeError)])
def test_beam_is_checked_before_decoding(tiny, monkeypatch, beam, error):
    # a beam of 100000 once ran until it held 21.7 GB: refuse it up front
    monkeypatch.setattr(tiny, "encode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(error, match="beam"):
        nmt8.beam_search(tiny, [3], beam=beam)


def test_max_beam_is_accepted(tiny):
    (h,) = nmt8.beam_search(tiny, [3, 4], beam=MAX_BEAM, max_len=3)
    assert 1 <= len(h.ids) <= 3


@pytest.mark.parametrize("x,error", [(float("nan"), ValueError),
                                     (float("inf"), ValueError),
                                     (-0.5, ValueError), ("1", TypeError)])
def test_bad_length_exponent(tiny, x, error):
    with pytest.raises(error, match="length_exponent"):
        nmt8.beam_search(tiny, [3], beam=2, length_exponent=x)
