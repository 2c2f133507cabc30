"""nmt8.testing: the one home of our own sentences and toy fixtures."""

import pytest

import nmt8
from nmt8 import testing
from nmt8.data import read_lines


def test_one_list_of_our_own_pairs():
    german = [de for de, _ in testing.PAIRS]
    assert len(set(german)) == len(german)  # no sentence twice
    for de, en in testing.PAIRS:
        assert de.strip() == de and en.strip() == en and de != en
        assert de[-1] in ".!?" and en[-1] in ".!?"
    # every named list is a slice of PAIRS, not a list of its own
    assert all(p in testing.PAIRS for p in testing.GOLDEN_PAIRS)
    assert all(p in testing.PAIRS for p in testing.COURSE_PAIRS)
    assert set(testing.DEMO_SENTENCES + testing.GERMAN) <= set(german)
    assert not set(testing.DEMO_SENTENCES) & set(testing.GERMAN)


def test_grammar_pairs_are_every_combination_once():
    pairs = testing.grammar_pairs()
    n = len(testing.SUBJECTS) * len(testing.VERBS) * len(testing.PLACES)
    assert len(pairs) == len(set(pairs)) == n == 60
    assert pairs[0] == ("Ein Hund läuft im Park.", "A dog runs in the park.")
    splits = testing.grammar_splits()
    assert splits["train"] == pairs
    assert not set(splits["val"]) & set(splits["test_2016_flickr"])


def test_write_multi30k_is_read_back_by_nmt8_data(tmp_path):
    splits = {"val": testing.GOLDEN_PAIRS, "test_2016_flickr": testing.PAIRS[5:8]}
    folder = testing.write_multi30k(tmp_path / "m30k", splits)
    for split, pairs in splits.items():
        assert read_lines(split, "de", folder) == [de for de, _ in pairs]
        assert read_lines(split, "en", folder) == [en for _, en in pairs]


def test_write_multi30k_default_and_direction(tmp_path):
    folder = testing.write_multi30k(tmp_path / "en-de", src="en", tgt="de")
    # the first side of each pair goes to the src language's file
    assert read_lines("train", "en", folder)[0] == "Ein Hund läuft im Park."
    assert len(read_lines("val", "de", folder)) == 10


def test_write_multi30k_wants_named_splits(tmp_path):
    with pytest.raises(TypeError, match="splits must be a dict"):
        testing.write_multi30k(tmp_path, testing.PAIRS)


def test_toy_model_reads_and_writes_text(tmp_path):
    m = testing.toy_model(tmp_path / "toy", seed=2)
    tr = nmt8.Translator(m, beam=2)
    assert len(tr.src_bpe) == m.cfg.n_words_src
    assert len(tr.tgt_bpe) == m.cfg.n_words
    (out,) = tr.translate(testing.GERMAN[:1])
    assert isinstance(out, str)
    again = testing.toy_model(tmp_path / "toy2", seed=2)
    assert (again.params["Wemb"] == m.params["Wemb"]).all()  # fixed seed
