"""nmt8.lab.outputs.human: the blind test of Section 4.2, its simulated rater and Table 7."""

import numpy as np
import pytest
import sacrebleu

from nmt8.lab.outputs import human

SYSTEMS = ["32-bit", "8-bit"]


def test_caption_pairs_are_fixed_unique_and_complete():
    pairs = human.caption_pairs()
    n = len(human.SUBJECTS) * len(human.ACTIONS) * len(human.PLACES)
    assert len(pairs) == n == len(set(pairs))
    assert pairs == human.caption_pairs()  # the same order every call
    assert pairs != human.caption_pairs(seed=1)
    # each German caption and its English reference come from the same pieces
    (sd, se), (ad, ae), (pd, pe) = (human.SUBJECTS[2], human.ACTIONS[3],
                                    human.PLACES[4])
    assert (f"{sd} {ad} {pd}.", f"{se} {ae} {pe}.") in pairs
    assert all(de.endswith(".") and en.endswith(".") for de, en in pairs)


def test_blind_key_is_a_shuffle_of_every_item():
    key = human.blind_key(5, SYSTEMS, seed=3)
    want = [human.Item(i, s) for i in range(5) for s in SYSTEMS]
    assert sorted(key) == sorted(want) and len(key) == 10
    assert key != want  # shuffled
    assert key == human.blind_key(5, SYSTEMS, seed=3)
    assert key != human.blind_key(5, SYSTEMS, seed=4)


@pytest.mark.parametrize("n, systems", [(0, SYSTEMS), (2.0, SYSTEMS),
                                        (3, ["a"]), (3, ["a", "a"])])
def test_blind_key_refuses(n, systems):
    with pytest.raises(ValueError, match="n_sentences|systems"):
        human.blind_key(n, systems, seed=0)


@pytest.mark.parametrize("scores, match", [
    ({0: 6}, "scores are integers 0-5"), ({0: -1}, "0-5"), ({0: 2.5}, "0-5"),
    ({0: True}, "0-5"), ({4: 3}, "position 4"), ({-1: 3}, "position"),
    ({"0": 3}, "position")])
def test_check_scores_refuses(scores, match):
    key = human.blind_key(2, SYSTEMS, seed=0)
    with pytest.raises(ValueError, match=match):
        human.check_scores(scores, key)
    with pytest.raises(TypeError, match="mapping"):
        human.check_scores([3, 4], key)


def test_check_scores_accepts_numpy_ints():
    key = human.blind_key(2, SYSTEMS, seed=0)
    got = human.check_scores({np.int64(1): np.int64(4)}, key)
    assert got == {1: 4} and type(got[1]) is int


def test_simulated_score_maps_chrf_to_the_scale():
    ref = "A man with a red hat is repairing an old bicycle."
    assert human.simulated_score(ref, ref) == 5  # chrF 100
    assert human.simulated_score("zzz qqq", ref) == 0
    hyp = "A man in a red hat repairs a bicycle."
    chrf = sacrebleu.sentence_chrf(hyp, [ref]).score
    assert human.simulated_score(hyp, ref) == round(chrf / 20)
    assert 0 < human.simulated_score(hyp, ref) < 5


def test_simulated_scores_read_the_key():
    key = human.blind_key(2, SYSTEMS, seed=1)
    refs = ["A dog sleeps.", "A cat runs."]
    outputs = {"32-bit": refs, "8-bit": ["zzz", "A cat runs."]}
    got = human.simulated_scores(key, outputs, refs)
    want = {p: 0 if (it.system, it.sentence) == ("8-bit", 0) else 5
            for p, it in enumerate(key)}
    assert got == want


def test_tally_by_hand():
    key = human.blind_key(3, SYSTEMS, seed=2)
    # sentence -> (32-bit score, 8-bit score); sentence 2's 8-bit unscored
    given = {0: (3, 5), 1: (4, 4), 2: (2, None)}
    scores = {}
    for p, it in enumerate(key):
        s = given[it.sentence][SYSTEMS.index(it.system)]
        if s is not None:
            scores[p] = s
    t = human.tally(key, scores, "you", simulated=False)
    assert t.systems == ("32-bit", "8-bit") and t.rater == "you"
    assert t.mean == {"32-bit": pytest.approx(3.0), "8-bit": pytest.approx(4.5)}
    assert t.n == {"32-bit": 3, "8-bit": 2}
    assert t.se["32-bit"] == pytest.approx(np.std([3, 4, 2], ddof=1) / np.sqrt(3))
    assert (t.a_better, t.same, t.b_better) == (0, 1, 1)  # sentence 2 unpaired
    assert t.mean_difference == pytest.approx(1.0)  # (2 + 0) / 2
    assert t.se_difference == pytest.approx(np.std([2, 0], ddof=1) / np.sqrt(2))
    assert not t.simulated
    with pytest.raises(ValueError, match="no item"):
        human.tally(key, {}, "you", simulated=False)
