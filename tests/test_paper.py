"""nmt8.lab.figures.paper: the paper's own figures, consistent with what it says."""

import json

from nmt8.lab.figures import paper


def test_table6_speedups_are_the_papers_4_to_6x():
    s = paper.table6_speedups()
    assert set(s) == {r["lang"] for r in paper.TABLE6}
    lo, hi = paper.SPEEDUP_RANGE
    assert all(lo <= v <= hi for v in s.values())  # Section 4.1: "4-6x"
    assert round(s["De-En"], 2) == round(37.5 / 7.3, 2)


def test_table3_wpcs_and_wps_agree_on_the_nmt_speed_up():
    # 646 / 131 WPS and 32.3 / 6.5 WPCS are the same 8-bit speed-up (~4.9x)
    wps = paper.TABLE3_WPS["NMT 8-bit"] / paper.TABLE3_WPS["NMT 32-bit"]
    wpcs = paper.TABLE3["NMT 8-bit"] / paper.TABLE3["NMT 32-bit"]
    assert abs(wps - wpcs) < 0.05


def test_profile_categories_sum_the_printed_rows():
    t1, t2 = paper.TABLE1, paper.TABLE2
    tanh32, tanh8 = paper.PROFILE_BY_CATEGORY["tanh"]
    assert tanh32 == round(t1["Eigen fast tanh"] + t1["NMT tanh wrapper"], 2)
    assert tanh8 == round(t2["Eigen fast tanh"] + t2["NMT tanh wrapper"], 2)
    assert sum(t1.values()) < 100 and sum(t2.values()) < 100


def test_as_dict_is_json_and_names_them_as_theirs():
    d = json.loads(json.dumps(paper.as_dict()))
    assert d["label"] == paper.LABEL and "Quinn" in d["citation"]
    assert d["identical"] == {"identical": 51, "sentences": 166}


def test_tables_8_and_9_rows_are_differing_examples_with_their_times():
    from nmt8.lab.outputs import diff

    assert paper.TABLE8_TIMES_MS == [(720, 180), (4440, 750), (6150, 1050)]
    assert paper.TABLE9_TIMES_MS == [(730, 180), (1120, 290)]
    for row in paper.TABLE8 + paper.TABLE9:
        assert set(row) == {"source", "32-bit", "8-bit", "ms"}
        # "Differences are in boldface": every example has some
        assert diff.changed_words(row["32-bit"], row["8-bit"]) > 0
        assert row["ms"][1] < row["ms"][0]  # 8-bit was faster on each
        assert "<b>" not in row["32-bit"] + row["8-bit"]
    # the paper's spelling error of Section 5 ("predictated") is kept
    assert "predictated" in paper.TABLE8[1]["32-bit"]
    d = json.loads(json.dumps(paper.as_dict()))
    assert d["table8"][0]["ms"] == [720, 180] and len(d["table9"]) == 2


def test_table6_speedups_span_what_the_docstring_says():
    from nmt8.lab.figures import paper

    ups = paper.table6_speedups().values()
    assert round(min(ups), 1) == 4.4 and round(max(ups), 1) == 5.8
    assert "4.4x to 5.8x" in paper.table6_speedups.__doc__


def test_tables_4_and_5_are_read_row_by_row_as_printed():
    """Tables 4 and 5 list the same five pairs in the paper's order; each
    direction's vocabularies and test lengths are the reverse direction's
    swapped (Nl-En's 42212 is the paper's own, kept)."""
    from nmt8.lab.figures import paper

    langs = ["En-Nl", "Nl-En", "Ru-En", "En-De", "De-En"]
    assert [r["lang"] for r in paper.TABLE4] == langs
    assert [r["lang"] for r in paper.TABLE5] == langs
    t4 = {r["lang"]: r for r in paper.TABLE4}
    t5 = {r["lang"]: r for r in paper.TABLE5}
    assert (t4["De-En"]["src_vocab"], t4["De-En"]["tgt_vocab"]) == (
        t4["En-De"]["tgt_vocab"], t4["En-De"]["src_vocab"])
    assert (t5["Nl-En"]["src_len"], t5["Nl-En"]["tgt_len"]) == (
        t5["En-Nl"]["tgt_len"], t5["En-Nl"]["src_len"])
    assert set(t4["Ru-En"]) == {"lang", "train", "src_vocab", "tgt_vocab"}
    assert set(t5["Ru-En"]) == {"lang", "sentences", "src_len", "tgt_len"}


def test_table6_has_a_32_bit_then_an_8_bit_row_per_model():
    from nmt8.lab.figures import paper

    modes = [(r["lang"], r["mode"]) for r in paper.TABLE6]
    langs = list(dict.fromkeys(lang for lang, _ in modes))
    assert modes == [(lang, m) for lang in langs for m in ("32-bit", "8-bit")]
    assert len(langs) == 6
    assert {r["lang"]: r["bleu"] for r in paper.TABLE6
            if r["mode"] == "8-bit"}["Nl-En"] == 36.3
