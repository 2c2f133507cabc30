"""nmt8.lab.outputs.diff: the bold word diff of Tables 8/9, and where beam decisions
flip and the paired bootstrap (nmt8.lab.outputs.flips, nmt8.lab.outputs.significance, which
diff re-exports)."""

import numpy as np
import pytest

import nmt8
from nmt8.lab.outputs import diff, flips, significance
from nmt8.model.config import EOS
from nmt8.testing import toy_model


@pytest.mark.parametrize("a, b, want_a, want_b", [
    ("A dog runs across the green meadow",
     "A dog is running across the meadow",
     "A dog **runs** across the **green** meadow",
     "A dog **is running** across the meadow"),
    ("the cat sleeps", "the black cat sleeps",
     "the cat sleeps", "the **black** cat sleeps"),
    ("Two men play chess .", "Two men play chess .",
     "Two men play chess .", "Two men play chess ."),
    ("a red ball", "one blue kite",
     "**a red ball**", "**one blue kite**"),
    ("", "new words", "", "**new words**"),
])
def test_word_diff(a, b, want_a, want_b):
    assert diff.word_diff(a, b) == (want_a, want_b)


def test_word_diff_escapes_markdown():
    assert diff.md_escape("a*b_c|d") == "a\\*b\\_c\\|d"
    got_a, got_b = diff.word_diff("x *y* z", "x w z")
    assert got_a == "x **\\*y\\*** z" and got_b == "x **w** z"
    assert diff.word_diff("x *y*", "x z", escape=False)[0] == "x ***y***"


def test_changed_words():
    assert diff.changed_words("a b c", "a b c") == 0
    assert diff.changed_words("a b c", "a x c") == 2
    assert diff.changed_words("a b", "a b c d") == 2


def test_first_difference():
    assert flips.first_difference([5, 6, 7], [5, 6, 7]) is None
    assert flips.first_difference([5, 6, 7], [5, 8]) == 1
    assert flips.first_difference([5, 6], [5, 6, 7]) == 2  # </s> against 7
    assert flips.first_difference([], [4]) == 0


@pytest.fixture(scope="module")
def two_systems(tmp_path_factory):
    """Two greedy systems that disagree: the same toy shapes, other weights."""
    folder = tmp_path_factory.mktemp("toy")
    a = nmt8.Translator(toy_model(folder, seed=0), beam=1)
    b = nmt8.Translator(toy_model(folder, seed=1), beam=1)
    return a, b


def test_flip_greedy_margins(two_systems):
    a, b = two_systems
    rng = np.random.default_rng(0)
    found = 0
    for n in range(3, 9):
        src = rng.integers(2, 60, size=n).tolist()
        (ya,), (yb,) = a.translate_ids([src]), b.translate_ids([src])
        f = flips.flip(a, b, src, ya, yb, names=("A", "B"))
        if ya == yb:
            assert f is None
            continue
        found += 1
        t = flips.first_difference(ya, yb)
        assert f.t == t and f.prefix == (ya + [EOS])[:t] == (yb + [EOS])[:t]
        assert f.a_token == (ya + [EOS])[t] and f.b_token == (yb + [EOS])[t]
        # greedy search takes the argmax after the shared prefix, so each
        # system prefers its own token at t
        assert f.step["A"]["margin"] >= 0 >= f.step["B"]["margin"]
        # the step log-probs are the forced-decoding scores at position t
        assert f.step["A"]["a"] == pytest.approx(a.score(src, ya + [EOS])[t])
        assert f.step["B"]["b"] == pytest.approx(b.score(src, yb + [EOS])[t])
        whole = float(np.sum(a.score(src, ya + [EOS]))) / (len(ya) + 1)
        assert f.seq["A"]["a"] == pytest.approx(whole, rel=1e-5)
        assert "position" in f.explain(a.tgt_bpe)
        assert f.to_dict()["names"] == ("A", "B")
    assert found > 0


def test_summarize_flips_counts():
    def mk(ma, mb, sa, sb):
        return flips.Flip(t=1, prefix=[7], a_token=3, b_token=4,
                         step={"A": {"a": 0, "b": 0, "margin": ma},
                               "B": {"a": 0, "b": 0, "margin": mb}},
                         seq={"A": {"a": 0, "b": 0, "margin": sa},
                              "B": {"a": 0, "b": 0, "margin": sb}},
                         names=("A", "B"))
    s = flips.summarize_flips([mk(0.1, -0.2, 0.5, -0.1), mk(2.0, 1.0, -0.3, 0.2),
                              None])
    assert (s.n, s.names) == (2, ("A", "B"))
    assert s.step_tie == 1
    assert s.preference_changed == 1
    assert s.a_prefers_own_output == 1 and s.b_prefers_own_output == 1
    assert s.median_t == 1.0
    assert s.median_abs_step_margin_a == pytest.approx((0.1 + 2.0) / 2)
    assert s.median_abs_step_margin_b == pytest.approx((0.2 + 1.0) / 2)
    assert flips.summarize_flips([None]) == flips.FlipSummary(n=0)


def test_verdict_names_the_cause():
    def mk(ma, mb, sa, sb):
        return flips.Flip(t=2, prefix=[7, 8], a_token=3, b_token=4,
                         step={"A": {"a": -1.0, "b": -1.0 - ma, "margin": ma},
                               "B": {"a": -1.0, "b": -1.0 - mb, "margin": mb}},
                         seq={"A": {"a": -1.0, "b": -1.0 - sa, "margin": sa},
                              "B": {"a": -1.0, "b": -1.0 - sb, "margin": sb}},
                         names=("A", "B"))
    assert "changed the model's choice" in mk(0.3, -0.2, 0.1, -0.1).verdict()
    v = mk(0.9, 0.9, -0.1, -0.1).verdict()
    assert "both prefer A's token" in v and "A itself scores B's output higher" in v
    assert "search error" not in mk(0.3, -0.2, 0.1, -0.1).verdict()
    assert mk(0.3, -0.2, 0.1, -0.1).explain().splitlines()[-1].startswith("=> ")


class _Exponent:
    """A system that has ``length_exponent`` but no ``length_alpha`` (as
    ``nmt8.Translator`` will once the old name goes): the other system's
    scores, normalised with the given exponent."""

    def __init__(self, tr, exponent):
        self.tr, self.length_exponent, self.normalize = tr, exponent, True

    def score(self, src, tgt):
        return self.tr.score(src, tgt)


@pytest.mark.parametrize("exponent", [0.0, 0.6, 2.0])
def test_flip_normalises_with_length_exponent(two_systems, exponent):
    a, b = two_systems
    rng = np.random.default_rng(1)
    for n in range(3, 12):
        src = rng.integers(2, 60, size=n).tolist()
        (ya,), (yb,) = a.translate_ids([src]), b.translate_ids([src])
        if ya != yb:
            break
    else:
        pytest.fail("no source with different outputs")
    f = flips.flip(_Exponent(a, exponent), b, src, ya, yb, names=("A", "B"))
    la = float(np.sum(a.score(src, ya + [EOS])))
    lb = float(np.sum(a.score(src, yb + [EOS])))
    assert f.seq["A"]["a"] == pytest.approx(la / (len(ya) + 1) ** exponent)
    assert f.seq["A"]["b"] == pytest.approx(lb / (len(yb) + 1) ** exponent)


def test_length_exponent_of_follows_the_beam():
    import inspect

    from nmt8.search.beam import beam_search

    default = inspect.signature(beam_search).parameters["length_exponent"].default
    assert flips.BEAM_DEFAULT_EXPONENT == default

    class Bare:  # no attributes: the beam's defaults
        pass

    class Off:
        normalize, length_exponent = False, 0.6

    tr = nmt8.Translator(nmt8.random_model(4, 4, 10, 10), length_exponent=0.3)
    assert flips.length_exponent_of(tr) == 0.3
    assert flips.length_exponent_of(Bare()) == default
    assert flips.length_exponent_of(Off()) == 0.0


def test_find_differences_stops_at_want(two_systems):
    a, b = two_systems
    sentences = ["Ein Hund läuft über eine grüne Wiese.",
                 "Zwei Kinder spielen am Strand mit einem roten Ball.",
                 "Eine Frau in einem blauen Kleid liest ein Buch.",
                 "Der alte Mann verkauft Obst auf dem Markt.",
                 "Ein Radfahrer fährt bei Regen durch die Stadt."]
    every = diff.find_differences(a, b, sentences, want=len(sentences))
    assert every.searched == len(sentences)
    assert every.identical == len(sentences) - len(every.found)
    assert every.found, "two random toy models agreed on every sentence"
    for d in every.found:
        (ids,) = a.tokenize([sentences[d.index]])
        assert d.source == sentences[d.index] and d.src_ids == ids
        (ya,), (yb,) = a.translate_ids([ids]), b.translate_ids([ids])
        assert d.ids == (ya, yb) and ya != yb
        assert d.text == (a.detokenize(ya), b.detokenize(yb))
    one = diff.find_differences(a, b, sentences, want=1)
    assert [d.index for d in one.found] == [every.found[0].index]
    assert one.searched == every.found[0].index + 1  # stopped at the first
    assert diff.find_differences(a, b, sentences, want=5, limit=1).searched == 1


@pytest.mark.parametrize("kw, err", [
    ({"want": 0}, ValueError), ({"want": 1.0}, ValueError),
    ({"want": 1, "limit": 0}, ValueError), ({"want": True}, ValueError)])
def test_find_differences_refuses_bad_counts(two_systems, kw, err):
    a, b = two_systems
    with pytest.raises(err, match="want|limit"):
        diff.find_differences(a, b, ["Ein Hund."], **kw)
    with pytest.raises(TypeError, match="list of sentences"):
        diff.find_differences(a, b, "Ein Hund.", want=1)


# our own hypotheses and references: a better system b and a worse one
REFS = ["A dog runs across a green meadow .", "Two children play on the beach .",
        "A woman is reading a book .", "The old man sells fruit at the market .",
        "A cyclist rides through the city in the rain .",
        "A cat watches the birds in the tree ."] * 5
WORSE = ["A dog runs over a meadow .", "Children are playing at a beach .",
         "A lady reads .", "The man sells fruit .", "A man rides in rain .",
         "A cat looks at birds ."] * 5


def test_paired_bleu_is_sacrebleus_paired_bootstrap():
    import sacrebleu
    from sacrebleu.significance import PairedTest

    pb = significance.paired_bleu(WORSE, REFS, REFS, n_samples=300)
    # the scores are sacrebleu's corpus BLEU
    assert pb.a == pytest.approx(sacrebleu.corpus_bleu(WORSE, [REFS]).score)
    assert pb.b == pytest.approx(100.0)
    assert pb.delta == pytest.approx(pb.b - pb.a) and pb.delta > 0
    # the p-value is PairedTest's own
    _, res = PairedTest([("a", WORSE), ("b", REFS)],
                        {"BLEU": sacrebleu.metrics.BLEU()}, [REFS],
                        test_type="bs", n_samples=300)()
    assert pb.p_value == res["BLEU"][1].p_value
    # and the differences are the resamples behind that p-value (paired:
    # the same sentences for both systems), so they give it back
    # (the p-value of Moses and multeval: (1 + #{|d| - mean|d| > |delta|})
    # / (1 + n))
    d = np.abs(pb.deltas)
    assert pb.deltas.shape == (300,)
    c = int(np.sum(d - d.mean() > abs(pb.delta)))
    assert (c + 1) / (300 + 1) == pb.p_value
    # a clear difference: the interval excludes 0 and holds the observed one
    assert 0 < pb.low <= pb.delta <= pb.high
    assert "bs:300" in pb.signature


def test_paired_bleu_resamples_are_the_paired_tests():
    """Against a system that scores 0 on every resample, the differences
    are system b's resampled scores: their mean and interval are the
    paired test's own for b, to the bit (public sacrebleu API only)."""
    import sacrebleu
    from sacrebleu.significance import PairedTest, estimate_ci

    zero = ["xq"] * len(REFS)
    pb = significance.paired_bleu(zero, WORSE, REFS, n_samples=200)
    _, res = PairedTest([("a", zero), ("b", WORSE)],
                        {"BLEU": sacrebleu.metrics.BLEU()}, [REFS],
                        test_type="bs", n_samples=200)()
    b = res["BLEU"][1]
    assert pb.a == 0 and estimate_ci(pb.deltas) == (b.mean, b.ci)
    assert pb.p_value == b.p_value


def test_paired_bleu_of_a_system_with_itself_is_zero():
    pb = significance.paired_bleu(WORSE, WORSE, REFS, n_samples=100)
    assert pb.delta == 0 and pb.low == pb.high == 0.0
    assert np.all(pb.deltas == 0)


@pytest.mark.parametrize("args, match", [
    ((["a"], ["a", "b"], ["a", "b"]), "hypotheses"),
    (([], [], []), "at least one"),
])
def test_paired_bleu_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        significance.paired_bleu(*args)
    with pytest.raises(ValueError, match="n_samples"):
        significance.paired_bleu(["a"], ["a"], ["a"], n_samples=0)
