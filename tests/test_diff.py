"""nmt8.lab.diff: the bold word diff of Tables 8/9 and where beam decisions flip."""

import numpy as np
import pytest

import nmt8
from nmt8.lab import diff
from nmt8.testing import toy_model
from nmt8.text import EOS


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
    assert diff.first_difference([5, 6, 7], [5, 6, 7]) is None
    assert diff.first_difference([5, 6, 7], [5, 8]) == 1
    assert diff.first_difference([5, 6], [5, 6, 7]) == 2  # </s> against 7
    assert diff.first_difference([], [4]) == 0


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
        f = diff.flip(a, b, src, ya, yb, names=("A", "B"))
        if ya == yb:
            assert f is None
            continue
        found += 1
        t = diff.first_difference(ya, yb)
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
        return diff.Flip(t=1, prefix=[7], a_token=3, b_token=4,
                         step={"A": {"a": 0, "b": 0, "margin": ma},
                               "B": {"a": 0, "b": 0, "margin": mb}},
                         seq={"A": {"a": 0, "b": 0, "margin": sa},
                              "B": {"a": 0, "b": 0, "margin": sb}},
                         names=("A", "B"))
    s = diff.summarize_flips([mk(0.1, -0.2, 0.5, -0.1), mk(2.0, 1.0, -0.3, 0.2),
                              None])
    assert (s.n, s.names) == (2, ("A", "B"))
    assert s.step_tie == 1
    assert s.preference_changed == 1
    assert s.a_prefers_own_output == 1 and s.b_prefers_own_output == 1
    assert s.median_t == 1.0
    assert s.median_abs_step_margin_a == pytest.approx((0.1 + 2.0) / 2)
    assert s.median_abs_step_margin_b == pytest.approx((0.2 + 1.0) / 2)
    assert diff.summarize_flips([None]) == diff.FlipSummary(n=0)


def test_verdict_names_the_cause():
    def mk(ma, mb, sa, sb):
        return diff.Flip(t=2, prefix=[7, 8], a_token=3, b_token=4,
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
