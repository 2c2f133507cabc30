"""nmt8.lab.reproduce end to end on a toy model: every section, key and figure.

Runs with our own sentences (never corpus text) written in the Multi30k
layout, and once without any data, so no test needs the corpus.
"""

import json

import pytest

from nmt8 import random_model
from nmt8.lab import reproduce as rp
from nmt8.lab.report import HEADINGS

PAIRS = [  # our own sentences
    ("Ein Hund läuft über eine grüne Wiese.", "A dog runs across a green meadow."),
    ("Zwei Kinder spielen am Strand.", "Two children play on the beach."),
    ("Eine Frau liest ein Buch.", "A woman reads a book."),
    ("Der alte Mann verkauft Obst.", "The old man sells fruit."),
    ("Ein Radfahrer fährt durch die Stadt.", "A cyclist rides through the city."),
    ("Drei Musiker spielen auf der Straße.", "Three musicians play in the street."),
]

TINY = {"speed_sentences": 2, "runs": 1, "beams": (1, 2), "sweep_beams": (1, 2),
        "sweep_sentences": 1, "sweep_runs": 1, "throughput_runs": 1,
        "profile_sentences": 1, "examples": 2, "example_runs": 1,
        "paper_size": (12, 16, 200, 200)}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    model = rp.toy_model(root / "model", PAIRS, vocab_size=60)
    data = rp.write_multi30k(root / "data", PAIRS)
    return root, model, data


def test_reproduce_writes_every_section(toy):
    root, model, data = toy
    out = root / "out"
    second = random_model(8, 8, model.cfg.n_words_src, model.cfg.n_words, seed=1)
    res = rp.reproduce(out, data=data, model=model, progress=False,
                       ensemble=second, settings=rp.Settings(**TINY))
    report = (out / "report.md").read_text(encoding="utf-8")
    for h in HEADINGS:
        assert f"\n## {h}\n" in report
    assert "Quinn & Ballesteros 2018, their hardware/models" in report
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for key in ("command", "machine", "settings", "workloads", "profile",
                "speed", "beam_sweep", "throughput", "quality", "differences",
                "targets", "paper", "plots", "seconds"):
        assert key in saved, key
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["cpu"]
    for name in saved["plots"]:
        assert (out / name).stat().st_size > 0
    assert {"beam_sweep.png", "profile_0.png", "speed_0.png"} <= set(saved["plots"])
    # both workloads: the toy model on text, the "paper-size" one on ids
    assert len(saved["speed"]) == 2
    q = saved["quality"]
    assert q["sentences"] == len(PAIRS)
    assert "fp32" in q["systems"] and q["systems"]["fp32"]["bleu_signature"]
    assert "2x fp32" in q["systems"] and "2x fp32" in report
    # the speed runs time single models: ensemble rows show no speed-run WPCS
    row = next(line for line in report.splitlines()
               if line.startswith("| 2x int8 per-tensor |"))
    assert row.split("|")[4].strip() == "-"
    d = saved["differences"]
    if "skipped" not in d:
        assert d["sentences"] == len(PAIRS)
        assert len(d["examples"]) == min(2, len(PAIRS) - d["identical"])
        for e in d["examples"]:
            assert "**" in e["marked"]["fp32"] + e["marked"]["int8 per-tensor"]
    assert res["seconds"]["total"] > 0


def test_reproduce_without_data(toy, monkeypatch):
    root, model, _ = toy
    monkeypatch.delenv("NMT8_DATA", raising=False)
    out = root / "out-nodata"
    res = rp.reproduce(out, data=root / "missing", model=model, progress=False,
                       settings=rp.Settings(**{**TINY, "peer": False,
                                               "jobs": 1}))
    report = (out / "report.md").read_text(encoding="utf-8")
    for h in HEADINGS:
        assert f"\n## {h}\n" in report
    assert "Multi30k not found" in report and "Skipped" in report
    assert "quality" not in res and res["data"] == {"found": False}


def test_main_reports_a_missing_model(tmp_path, capsys):
    assert rp.main(["--out", str(tmp_path), "--model",
                    str(tmp_path / "nope"), "--no-progress"]) == 2
    assert "not found" in capsys.readouterr().err


def test_settings_quick_is_smaller():
    full, quick = rp.Settings(), rp.Settings.quick()
    assert quick.speed_sentences < full.speed_sentences
    assert quick.runs < full.runs == 9  # the paper's median of 9
    assert quick.paper_size == full.paper_size == (620, 1000, 40000, 40000)
