"""nmt8.lab.reproduce.run end to end on a toy model: every section, key and figure.

Runs with our own sentences (never corpus text) written in the Multi30k
layout, and once without any data, so no test needs the corpus.
"""

import json

import pytest

from nmt8.lab.report.report import HEADINGS
from nmt8.lab.reproduce import run as rp
from nmt8.lab.reproduce.records import SpeedResult
from nmt8.lab.reproduce.results import Results
from nmt8.lab.reproduce.systems import (
    NMT8_FP32,
    NMT8_INT4,
    NMT8_INT8,
    NMT8_INT16,
    TORCH_FP32,
    TORCH_INT8,
    System,
)
from nmt8.model.model import random_model
from nmt8.testing import PAIRS as OUR_PAIRS
from nmt8.testing import toy_model, write_multi30k

PAIRS = OUR_PAIRS[:6]

TINY = {"speed_sentences": 2, "runs": 1, "beams": (2,), "sweep_beams": (1, 2),
        "sweep_sentences": 1, "sweep_runs": 1, "throughput_runs": 1,
        "profile_sentences": 1, "examples": 2, "example_runs": 1,
        "paper_size": (12, 16, 200, 200), "batch_sizes": (1, 3),
        "batch_sentences": 5, "batch_runs": 1, "invariance_batch": 4,
        "dask_workers": (1, 2), "dask_lines": 40, "dask_runs": 1,
        "kernel_P": (1, 5), "kernel_repeats": 1,
        "kernel_target_P": (4, 8), "kernel_target_shapes": ((12, 48), (20, 30)),
        "memory_systems": (NMT8_FP32, NMT8_INT16, NMT8_INT8, NMT8_INT4),
        "bootstrap_samples": 50}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    model = toy_model(root / "model", PAIRS, vocab_size=60)
    data = write_multi30k(root / "data", {"val": PAIRS, "test_2016_flickr": PAIRS})
    return root, model, data


def test_reproduce_writes_every_section(toy):
    root, model, data = toy
    out = root / "out"
    second = random_model(8, 8, model.cfg.n_words_src, model.cfg.n_words, seed=1)
    qat8 = toy_model(root / "qat8", PAIRS, vocab_size=60, seed=3)
    res = rp.reproduce(out, data=data, model=model, progress=False,
                       ensemble=second, settings=rp.Settings(**TINY),
                       qat8=qat8)
    assert isinstance(res, Results)
    report = (out / "report.md").read_text(encoding="utf-8")
    for h in HEADINGS:
        assert f"\n## {h}\n" in report
    assert "Quinn & Ballesteros 2018, their hardware/models" in report
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for key in ("command", "machine", "settings", "workloads", "profile",
                "cross_check", "speed", "beam_sweep", "throughput", "quality",
                "differences", "targets", "paper", "plots", "seconds",
                "total_seconds"):
        assert key in saved, key
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["cpu"]
    for name in saved["plots"]:
        assert (out / name).stat().st_size > 0
    assert {"beam_sweep.png", "profile_0.png", "speed_0.png"} <= set(saved["plots"])
    # both workloads: the toy model on text, the "paper-size" one on ids;
    # every workload x beam x system once
    assert [w.paper_size for w in res.workloads] == [False, True]
    keys = [(r.workload, r.beam, r.system) for r in res.speed]
    assert len(set(keys)) == len(keys)
    assert {w for w, _, _ in keys} == {w.name for w in res.workloads}
    assert {b for _, b, _ in keys} == set(TINY["beams"])
    assert saved["speed"][0]["system"]["label"] == res.speed[0].system.label
    # every timed rung of the ladder is in the speed table, every rung in
    # Table 6, with a speed-up against each named baseline
    from nmt8.lab.reproduce.systems import BASELINES
    from nmt8.lab.speed.speed import ladder_systems

    assert {r.system for r in res.speed if r.system.engine == "nmt8"} == \
        set(ladder_systems(timed=True))
    assert [r.system for r in res.quality.systems][:len(ladder_systems())] == \
        ladder_systems()
    assert all(f"speed-up vs {b.name}" in report for b in BASELINES)
    q = res.quality
    assert q.sentences == len(PAIRS) == saved["quality"]["sentences"]
    variants = [r.system.variant for r in q.systems]
    assert variants[0] == "fp32" and "2x fp32" in variants and "2x fp32" in report
    assert q.systems[0].bleu_signature
    assert q.systems[0].identical_to_fp32 == len(PAIRS)
    # the speed runs time single models: ensemble rows show no speed-run WPCS
    if "2x int8 per-tensor" in variants:
        row = next(line for line in report.splitlines()
                   if line.startswith("| De-En | 2x int8 per-tensor |"))
        assert row.split("|")[5].strip() == "-"
    _check_other_directions(res, saved, report)
    d = res.differences
    if d is not None:
        assert d.systems == (NMT8_FP32, NMT8_INT8)
        assert d.sentences == len(PAIRS)
        assert len(d.examples) == min(2, len(PAIRS) - d.identical)
        assert d.flip_summary.n == d.flip_sentences == len(PAIRS) - d.identical
        for e in d.examples:
            assert "**" in e.marked[0] + e.marked[1]
            assert e.text[0] != e.text[1]
    assert res.total_seconds > 0 and saved["total_seconds"] > 0
    _check_batch_section(res, saved, report)
    _check_memory_section(res, saved, report)
    _check_quantized_training(res, saved, report)


def _check_quantized_training(res, saved, report):
    """Training quantized models: int4's group chosen on val, then int8
    and int4 after training (Table 6's outputs), int4 QAT (the shipped
    de-en-qat4) and int8 QAT (the model given) against fp32; its targets."""
    from nmt8.lab.kernels.machine import int8_available
    from nmt8.lab.outputs.answer import INT4_POST, INT4_QAT, INT8_POST, INT8_QAT
    from nmt8.lab.report.answer import QAT
    from nmt8.lab.reproduce.records import QuantizedTraining

    a = res.quantized_training
    assert QuantizedTraining.from_json(saved["quantized_training"]) == a
    section = report.split(f"\n## {QAT}\n")[1]
    if not int8_available():
        assert not a.rows and "not compiled" in section
        return
    g = a.group
    assert (g.split, g.sentences) == ("val", len(PAIRS))
    assert list(g.bleu) == ["group32", "group64"]
    best = max(g.bleu.values())
    # the best on val; a tie goes to the larger group (fewer steps stored)
    assert g.chosen == [k for k, v in g.bleu.items() if v == best][-1]
    t6 = {r.system: r for r in res.quality.systems}
    assert (a.fp32_bleu, a.sentences, a.n_samples) == (
        t6[NMT8_FP32].bleu, len(PAIRS), TINY["bootstrap_samples"])
    assert [r.name for r in a.rows] == [INT8_POST, INT4_POST, INT4_QAT,
                                        INT8_QAT]
    post8, post4, qat4, qat8 = a.rows
    assert post8.system == NMT8_INT8 and post8.bleu == t6[NMT8_INT8].bleu
    assert post8.changed == len(PAIRS) - t6[NMT8_INT8].identical_to_fp32
    assert post4.system == System(precision="int4", scheme=g.chosen)
    if g.chosen == NMT8_INT4.scheme:  # Table 6 has it: the same outputs
        assert post4.bleu == t6[NMT8_INT4].bleu
        assert post4.changed == len(PAIRS) - t6[NMT8_INT4].identical_to_fp32
    assert qat4.model.startswith("de-en-qat4 E=256")
    assert qat4.system == System(precision="int4", scheme="group64")
    assert qat8.model.startswith("qat8 E=8") and qat8.system == NMT8_INT8
    for r, post in ((post8, None), (post4, None), (qat4, post4), (qat8, post8)):
        d = r.vs_fp32
        assert d.delta == pytest.approx(r.bleu - a.fp32_bleu)
        assert d.low <= d.high and 0 <= d.p_value <= 1
        assert 0 <= r.changed <= len(PAIRS)
        assert (r.vs_post is None) == (post is None)
        if post is not None:
            assert r.vs_post.delta == pytest.approx(r.bleu - post.bleu)
        assert f"| {r.name} ({r.system.variant}) | {r.model} | {r.bleu:.2f} | " \
            f"{d.delta:+.2f} | {d.low:+.2f} to {d.high:+.2f} |" in section
    assert f"{g.chosen}**" in section and "The answer, per precision:" in section
    assert "No int8 QAT model was given" not in section
    (t,) = [t for t in res.targets if "within 0.5 BLEU of fp32" in t.target]
    assert t.target.startswith("de-en-qat4 in int4 (group64)")
    assert (t.value, t.met, t.unit) == (qat4.vs_fp32.delta,
                                        qat4.vs_fp32.delta >= -0.5, " BLEU")
    # the speed runs had no beam 1: no int4 speed target; memory has both
    assert not any(t.target.startswith("nmt8 int4") for t in res.targets)
    assert [t.target for t in res.targets if "int4/int8" in t.target] == [
        "int4/int8 resident after loading <= 0.65x"]


def _check_memory_section(res, saved, report):
    """Memory: every workload's model x system, in results.json too; int8
    and int16 hold fewer bytes than fp32 (the resident sets of a toy model
    are too small to order: the benchmark compares them)."""
    from nmt8.lab.reproduce.records import MemoryUse
    from nmt8.lab.speed.speed import runnable

    systems = [s for s in TINY["memory_systems"] if runnable(s)]
    assert [(r.model, r.system) for r in res.memory] == [
        (w.name, s) for w in res.workloads for s in systems]
    assert [MemoryUse.from_json(r) for r in saved["memory"]] == res.memory
    for w in res.workloads:
        held = {r.system: r.nbytes for r in res.memory if r.model == w.name}
        assert all(held[s] < held[NMT8_FP32] for s in held if s != NMT8_FP32)
        assert f"\n**{w.name}**\n" in report.split("## Memory")[1]
    for r in res.memory:
        assert 0 < r.start < r.loaded <= r.peak and r.translated <= r.peak
    assert "| nmt8 fp32 | fp32 |" in report


def _check_other_directions(res, saved, report):
    """Table 6's En-De rows: the shipped en-de model on the test set read
    English -> German (our sentences), fp32 and int8; 2x exactly when a
    second En-De model is shipped."""
    from nmt8.lab.kernels.machine import int8_available
    from nmt8.lab.outputs import quality
    from nmt8.lab.report.markdown import THEIRS

    assert res.quality.lang == "De-En"
    (d,) = res.directions
    assert (d.lang, d.sentences) == ("En-De", len(PAIRS))
    assert d.model.startswith("en-de E=")
    single = [NMT8_FP32] + ([NMT8_INT8] if int8_available() else [])
    two = quality.shipped(quality.SHIPPED["en", "de"][1])
    assert [r.system for r in d.systems] == single + (
        [System(precision=s.precision, models=2) for s in single] if two else [])
    assert d.systems[0].identical_to_fp32 == len(PAIRS)
    assert saved["directions"][0]["lang"] == "En-De"
    rows = [line for line in report.splitlines() if line.startswith("| En-De |")]
    assert [row.split("|")[2].strip() for row in rows] == \
        [r.system.variant for r in d.systems]
    # each direction's rows, then the paper's rows of that direction
    table6 = report.split("## Table 6")[1]
    assert table6.index(rows[-1]) < table6.index(f"| {THEIRS}: En-De")
    assert ("no En-De 2x row" in report) != two


def _check_batch_section(res, saved, report):
    """Batch decoding: every system x batch size x workload, the invariance
    count, Dask 1 and 2 workers, kernel GOP/s against P."""
    from nmt8.lab.kernels.machine import has_dask, has_torch, int8_available
    from nmt8.lab.reproduce.batch_records import BatchDecoding

    b = res.batch
    assert "## Batch decoding (the paper's future work)" in report
    assert {"speed", "invariance", "dask", "kernels", "notes"} <= set(saved["batch"])
    systems = [NMT8_FP32] + ([NMT8_INT8] if int8_available() else [])
    systems += [TORCH_FP32, TORCH_INT8] if has_torch() else []
    keys = [(r.workload, r.system, r.batch) for r in b.speed]
    assert sorted(keys, key=str) == sorted(
        [(w.name, s, n) for w in res.workloads for s in systems
         for n in TINY["batch_sizes"]], key=str)
    for r in b.speed:
        assert 0 < r.wpcs_min <= r.wpcs_median <= r.wpcs_max
        assert len(r.runs) == TINY["batch_runs"] and r.beam == 5
    assert "| PyTorch fp32 / batch 1 |" in report or not has_torch()
    assert [i.system for i in b.invariance] == systems
    inv = {i.system: i for i in b.invariance}
    assert all(i.batch == TINY["invariance_batch"] for i in b.invariance)
    if int8_available():  # nmt8 int8: no neighbour changes a bit
        assert (inv[NMT8_INT8].translations_differ, inv[NMT8_INT8].scores_differ) \
            == (0, 0)
    if has_dask():
        d = b.dask
        assert [r.workers for r in d.by_workers] == list(TINY["dask_workers"])
        assert d.lines == TINY["dask_lines"] and d.ratio > 0
        assert "### Dask on this machine" in report
    if int8_available():
        k = b.kernels
        H = TINY["paper_size"][1]
        assert k.shape == (H, 3 * H)
        assert {p.P for p in k.points} == set(TINY["kernel_P"])
        assert {"numpy-fp32", "int8-ref"} <= {p.method for p in k.points}
        assert all(p.gops > 0 for p in k.points)
        assert "### Kernels against P" in report
        assert ("blocked kernel is not built yet" in report) == (k.blocked is None)
        _check_kernel_targets(res, report)
    # the whole section comes back from results.json
    assert BatchDecoding.from_json(saved["batch"]) == b


def _check_kernel_targets(res, report):
    """Numpy fp32, one int8 kernel and FBGEMM (with torch) on every target
    shape at every target P; two targets each (one without torch)."""
    from nmt8.lab.kernels.machine import has_torch
    from nmt8.lab.reproduce import targets as batch_targets

    shapes = res.batch.kernel_shapes
    assert [k.shape for k in shapes] == list(TINY["kernel_target_shapes"])
    for k in shapes:
        assert {p.P for p in k.points} == set(TINY["kernel_target_P"])
        methods = {p.method for p in k.points}
        int8 = {m for m in methods if m.startswith("int8-")}  # not torch's
        assert "numpy-fp32" in methods and len(int8) == 1
        assert ("torch-fbgemm" in methods) == has_torch()
        assert batch_targets.int8_method(k.points) == int8.pop()
    assert "### Kernel targets" in report
    assert "% of true peak" in report
    assert any(p["gops"]["max"] > 0 for g, p in res.batch.peaks.items()
               if g.startswith("int8"))
    assert res.batch.peaks["read"]["gbps"]["max"] > 0
    kernel = [t for t in res.targets if t.target.startswith("kernel ")]
    assert len(kernel) == len(shapes) * len(TINY["kernel_target_P"]) * (
        2 if has_torch() else 1)
    assert "kernel 12x48, P=4: " in kernel[0].target
    # batch 32 was not measured: no end-to-end batch targets
    assert not any("batch 32" in t.target for t in res.targets)


def test_reproduce_without_data(toy, monkeypatch):
    root, model, _ = toy
    monkeypatch.delenv("NMT8_DATA", raising=False)
    out = root / "out-nodata"
    res = rp.reproduce(out, data=root / "missing", model=model, progress=False,
                       settings=rp.Settings(**{**TINY, "peer": False,
                                               "jobs": 1, "dask": False,
                                               "memory": False}))
    report = (out / "report.md").read_text(encoding="utf-8")
    for h in HEADINGS:
        assert f"\n## {h}\n" in report
    assert "Multi30k not found" in report and "Skipped" in report
    assert "> Skipped (settings.memory is off)." in report and not res.memory
    assert res.quality is None and not res.data.found
    assert res.quantized_training is None
    assert report.split("## Training quantized models")[1].count("Skipped") == 1
    assert not any(r.system.engine == "PyTorch" for r in res.speed)
    # the batch section runs on our own sentences
    assert res.batch.speed and res.batch.dask is None
    assert not any(r.system.engine == "PyTorch" for r in res.batch.speed)


def test_main_reports_a_missing_model(tmp_path, capsys):
    from nmt8 import cli

    assert cli.main(["reproduce", "--out", str(tmp_path), "--model",
                    str(tmp_path / "nope"), "--no-progress"]) == 2
    assert "not found" in capsys.readouterr().err


def test_settings_quick_is_smaller():
    full, quick = rp.Settings(), rp.Settings.quick()
    assert quick.speed_sentences < full.speed_sentences
    assert full.batch_sizes == (1, 4, 16, 32, 64) and full.invariance_batch == 32
    # the kernel targets: the paper's three shapes at P = 64 and 256
    assert full.kernel_target_P == (64, 256)
    assert full.kernel_target_shapes == quick.kernel_target_shapes == (
        (1000, 3000), (2000, 3000), (620, 40000))
    assert 0 < len(quick.kernel_target_P) < len(full.kernel_target_P)
    assert full.dask_workers == (1, 2) and full.dask_lines >= 2000
    assert quick.batch_sentences < full.batch_sentences
    assert quick.dask_lines < full.dask_lines
    assert max(quick.batch_sizes) <= quick.batch_sentences
    assert quick.runs < full.runs == 9  # the paper's median of 9
    assert quick.paper_size == full.paper_size == (620, 1000, 40000, 40000)


# -- systems -----------------------------------------------------------------------
@pytest.mark.parametrize("system, label, variant", [
    (NMT8_FP32, "nmt8 fp32", "fp32"),
    (NMT8_INT8, "nmt8 int8", "int8 per-tensor"),
    (System(precision="int8", scheme="per_row"), "nmt8 int8 per-row",
     "int8 per-row"),
    (System(models=2), "2x nmt8 fp32", "2x fp32"),
    (System(precision="int8", models=2), "2x nmt8 int8", "2x int8 per-tensor"),
    (TORCH_INT8, "PyTorch int8", "PyTorch int8 per-tensor"),
    (System(precision="int8", kernel="ref"), "nmt8 int8 (ref)",
     "int8 per-tensor (ref)"),
    (System(kernel="auto"), "nmt8 fp32 (C)", "fp32 (C)"),
    (System(kernel="avx2"), "nmt8 fp32 (C avx2)", "fp32 (C avx2)"),
    (System(precision="int16"), "nmt8 int16", "int16 per-tensor"),
    (System(precision="msfp12"), "nmt8 msfp12", "msfp12"),
    (NMT8_INT4, "nmt8 int4 group64", "int4 group64"),
    (System(precision="int4", scheme="group32"), "nmt8 int4 group32",
     "int4 group32"),
])
def test_system_labels(system, label, variant):
    assert (system.label, system.variant) == (label, variant)


def test_systems_are_equal_by_their_fields_not_by_spelling():
    assert System(precision="int8", scheme="per_tensor") == NMT8_INT8
    assert System(precision="int4", scheme="group64") == NMT8_INT4  # default
    assert System(scheme="per_tensor") == NMT8_FP32  # fp32 has no scheme
    assert hash(System(precision="int8")) == hash(NMT8_INT8)
    assert System("PyTorch", "int8") != NMT8_INT8  # same label words, other engine
    assert len({NMT8_FP32, NMT8_INT8, TORCH_INT8, System(models=2)}) == 4


@pytest.mark.parametrize("kw, match", [
    ({"engine": "torch"}, "engine"),
    ({"precision": "int2"}, "precision"),
    ({"precision": "int4", "scheme": "per_row"}, "int4 scheme"),
    ({"precision": "int4", "scheme": "group16"}, "int4 scheme"),
    ({"engine": "PyTorch", "precision": "int4"}, "PyTorch"),
    ({"precision": "int8", "scheme": "per_col"}, "scheme"),
    ({"scheme": "per_row"}, "fp32 has no"),
    ({"precision": "msfp12", "kernel": "avx2"}, "no kernel"),
    ({"precision": "msfp16", "scheme": "per_row"}, "msfp16 has no"),
    ({"engine": "PyTorch", "precision": "int16"}, "PyTorch"),
    ({"engine": "PyTorch", "precision": "int8", "scheme": "per_row"}, "PyTorch"),
    ({"models": 0}, "models"),
])
def test_system_rejects_what_it_cannot_be(kw, match):
    with pytest.raises(ValueError, match=match):
        System(**kw)


def test_system_translator_kwargs(toy):
    _, model, _ = toy
    assert NMT8_FP32.translator_kwargs("m", 3) == {
        "model_or_models": "m", "precision": "fp32", "beam": 3}
    assert System(precision="int8", scheme="per_row").translator_kwargs("m") == {
        "model_or_models": "m", "precision": "int8", "beam": 5,
        "scheme": "per_row"}
    assert System(kernel="auto").translator_kwargs("m")["kernel"] == "auto"
    with pytest.raises(ValueError, match="not an nmt8.Translator"):
        TORCH_INT8.translator_kwargs(model)


def test_system_builds_its_decoder(toy):
    _, model, _ = toy
    tr = System(precision="int8", scheme="per_row").build(model, beam=2)
    assert (tr.precision, tr.scheme, tr.beam) == ("int8", "per_row", 2)
    tr = NMT8_FP32.build([model, model], beam=3)
    assert (tr.precision, len(tr.models), tr.beam) == ("fp32", 2, 3)


# -- the report reads fields -------------------------------------------------------
def _speed(workload, beam, system, wpcs):
    return SpeedResult(workload=workload, beam=beam, system=system, sentences=2,
                       words=10, runs=[1.0], seconds=10 / wpcs, wps=wpcs,
                       wpcs=wpcs, cores=1, mean_latency_ms=5.0)


@pytest.fixture
def made_up(toy):
    """A Results with made-up figures, built by hand: no measurement."""
    from nmt8.lab.kernels.machine import machine_info
    from nmt8.lab.reproduce.records import (
        DataStats,
        Quality,
        QualityResult,
        WorkloadInfo,
    )

    _, model, _ = toy
    res = Results(command="by hand", quick=False, settings=rp.Settings(),
                  machine=machine_info(), model="toy", config=model.cfg,
                  ensemble=None, paper={})
    res.data = DataStats(found=True, dir="d", split="test_2016_flickr",
                         sentences=3, src_len=4.0, tgt_len=5.0,
                         lang="De-En")
    res.workloads = [WorkloadInfo("toy", 2, 10, False, None),
                     WorkloadInfo("big", 2, 10, True, 22)]
    res.speed = [_speed("toy", 5, NMT8_FP32, 10.0), _speed("toy", 5, NMT8_INT8, 30.0),
                 _speed("big", 5, NMT8_FP32, 2.0), _speed("big", 5, NMT8_INT8, 11.0),
                 _speed("big", 5, TORCH_INT8, 10.0),
                 _speed("big", 1, NMT8_FP32, 4.0), _speed("big", 1, NMT8_INT8, 12.0)]
    res.beam_sweep = [_speed("big", b, s, w) for s, w0 in ((NMT8_FP32, 2.0),
                                                           (NMT8_INT8, 9.0))
                      for b, w in ((1, 2 * w0), (5, w0))]

    def q(system, bleu):
        return QualityResult(system, bleu, 50.0, "BLEU sig", "chrF sig", 7.0, 3,
                             ["a", "b", "c"])
    res.quality = Quality(3, 12, [q(NMT8_FP32, 31.25), q(NMT8_INT8, 30.75),
                                  q(System(models=2), 33.0)])
    res.targets = rp.targets(res)
    return res


def test_targets_compare_systems_of_the_paper_size_workload(made_up):
    got = {t.target: round(t.value, 3) for t in made_up.targets}
    assert got == {"int8/fp32 WPCS >= 5.0x, beam 5": 5.5,
                   "nmt8 int8 / PyTorch int8 WPCS >= 1.2x, beam 5": 1.1,
                   "int8/fp32 WPCS >= 3.5x, beam 1": 3.0}
    assert [t.met for t in made_up.targets] == [True, False, False]


def test_report_rows_come_from_the_fields(made_up):
    from nmt8.lab.report.report import render

    lines = render(made_up).splitlines()
    assert "| toy, beam 5 | 10.0 | 30.0 | 3.00x |" in lines
    assert "| big, beam 5 | 2.0 | 11.0 | 5.50x |" in lines
    assert "| big, beam 1 | 4.0 | 12.0 | 3.00x |" in lines
    assert "| big | beam 5 | PyTorch int8 | 10.0 | 10.0 | 5 |" in lines
    # Table 6 takes the speed-run WPCS of the same System on the first
    # workload, beam 5; the ensemble has none
    assert "| De-En | fp32 | 31.2 | 50.0 | 10.0 | 1.00x | - | 7.0 | 3 |" in lines
    assert ("| De-En | int8 per-tensor | 30.8 | 50.0 | 30.0 | 3.00x | - | 7.0 | "
            "3 |") in lines
    assert "| De-En | 2x fp32 | 33.0 | 50.0 | - | - | - | 7.0 | 3 |" in lines
    assert "| nmt8 int8 / PyTorch int8 WPCS >= 1.2x, beam 5 | 1.10x | NO |" in lines
    assert "| system | beam 1 | beam 5 |" in lines
    assert "| nmt8 int8 | 18.0 | 9.0 |" in lines
    assert "| Multi30k test_2016_flickr (De-En) | 3 | 4.0 | 5.0 |" in lines
    assert "| big | 2 | 10 | 22 |" in lines


def _batch_speed(system, batch, wpcs):
    from nmt8.lab.reproduce.batch_records import BatchSpeedResult

    return BatchSpeedResult(workload="big", system=system, batch=batch, beam=5,
                            sentences=8, words=80, runs=[80 / wpcs] * 3,
                            wpcs_min=wpcs - 1, wpcs_median=wpcs,
                            wpcs_max=wpcs + 1)


def test_report_batch_section_reads_the_fields(made_up):
    from nmt8.lab.report.report import render
    from nmt8.lab.reproduce.batch_records import (
        BatchDecoding,
        BatchInvariance,
        DaskRun,
        DaskScaling,
        KernelPoint,
        KernelScaling,
    )

    made_up.batch = BatchDecoding(
        speed=[_batch_speed(s, n, w * n) for s, w in ((NMT8_INT8, 10.0),
                                                     (TORCH_FP32, 4.0))
               for n in (1, 4)],
        invariance=[BatchInvariance("toy", NMT8_INT8, 32, 40, 0, 0),
                    BatchInvariance("toy", TORCH_INT8, 32, 40, 3, 17)],
        dask=DaskScaling("toy", NMT8_INT8, 3000, 1,
                         [DaskRun(1, [30.0], 100.0, 100.0, 100.0),
                          DaskRun(2, [16.0], 180.0, 187.5, 190.0)], 1.875),
        kernels=KernelScaling((1000, 3000), [
            KernelPoint("numpy-fp32", 1, 1e-3, 6.0),
            KernelPoint("int8-avx2", 1, 2e-4, 30.0),
            KernelPoint("int8-avx2", 5, 5e-4, 60.0)], crossover=None,
            blocked=None, naive=None),
        notes=["made up"])
    lines = render(made_up).splitlines()
    assert "## Batch decoding (the paper's future work)" in lines
    assert "| nmt8 int8 | 10.0 (9.0-11.0) | 40.0 (39.0-41.0) |" in lines
    assert "| PyTorch fp32 / batch 1 | 1.00x | 4.00x |" in lines
    assert "| nmt8 int8 / PyTorch fp32, same batch | 2.50x | 2.50x |" in lines
    assert "| PyTorch int8 | toy | 40 | 32 | 3 | 17 |" in lines
    assert "| 2 | 180.0 | 187.5 | 190.0 |" in lines
    assert "Most workers / one worker: 1.88x." in lines
    assert "| int8-avx2 | 30.0 | 60.0 |" in lines
    assert "| numpy-fp32 | 6.0 | - |" in lines
    assert "> Note: made up" in lines
    assert "the blocked kernel is not built yet" in render(made_up)
    k = made_up.batch.kernels
    k.blocked, k.naive = "int8-gemm", "int8-vnni"
    assert "(int8-gemm) does not overtake the naive one (int8-vnni)" in \
        render(made_up)
    k.crossover = 20
    assert ("Crossover: the blocked kernel (int8-gemm) has more GOP/s than the "
            "naive one (int8-vnni) from P = 20 on, in this run.") in \
        render(made_up).splitlines()


def test_results_json_carries_the_batch_records(made_up):
    from nmt8.lab.reproduce.batch_records import BatchDecoding
    from nmt8.lab.reproduce.results import to_json

    made_up.batch = BatchDecoding(speed=[_batch_speed(NMT8_INT8, 4, 10.0)])
    saved = json.loads(json.dumps(to_json(made_up)))
    row = saved["batch"]["speed"][0]
    assert row["system"]["label"] == "nmt8 int8" and row["batch"] == 4
    assert row["wpcs_median"] == 10.0 and saved["batch"]["dask"] is None


# -- the batch-decoding targets: batch 32, Dask, kernels on the paper's shapes -----------
def _speeds(workload, system, by_batch):
    """BatchSpeedResults of one system: {batch: median WPCS}."""
    from nmt8.lab.reproduce.batch_records import BatchSpeedResult

    return [BatchSpeedResult(workload=workload, system=system, batch=n, beam=5,
                             sentences=8, words=80, runs=[80 / w, 80 / w],
                             wpcs_min=w / 2, wpcs_median=w, wpcs_max=w * 2)
            for n, w in by_batch.items()]


def _kernel_shape(shape, gops_by_method, P=64):
    """A KernelScaling of one shape at one P: {method: GOP/s}."""
    from nmt8.lab.reproduce.batch_records import KernelPoint, KernelScaling

    return KernelScaling(shape, [KernelPoint(m, P, 2 * P * shape[0] * shape[1]
                                             / g / 1e9, g)
                                 for m, g in gops_by_method.items()], None)


def _batch_section(e):
    """A made-up batch section whose every batch-target ratio is e x its
    threshold ("toy" is the shipped workload, "big" the paper-size one)."""
    from nmt8.lab.reproduce.batch_records import BatchDecoding, DaskRun, DaskScaling

    return BatchDecoding(
        speed=(_speeds("toy", NMT8_INT8, {1: 100.0, 32: 250.0 * e})
               + _speeds("toy", TORCH_FP32, {1: 20.0, 32: 50.0})
               + _speeds("big", NMT8_FP32, {1: 30.0, 32: 100.0})
               + _speeds("big", NMT8_INT8, {1: 90.0, 32: 300.0 * e})),
        dask=DaskScaling("toy", NMT8_INT8, 3000, 1,
                         [DaskRun(1, [30.0], 100.0, 100.0, 100.0),
                          DaskRun(2, [20.0], 150.0, 160.0 * e, 170.0)],
                         1.6 * e),
        kernel_shapes=[_kernel_shape((620, 40000), {
            "numpy-fp32": 100.0, "int8-vnni": 900.0,  # faster, not blocked
            "int8-gemm": 350.0 * e, "torch-fbgemm": 350.0 / 1.2})])


@pytest.mark.parametrize("e, met", [(1.01, True), (0.99, False)])
def test_batch_targets_are_met_from_their_threshold_on(made_up, e, met):
    before = {t.target for t in rp.targets(made_up)}  # no batch section
    made_up.batch = _batch_section(e)
    got = {t.target: (round(t.value, 6), t.met) for t in rp.targets(made_up)
           if t.target not in before}
    assert got == {
        "nmt8 int8 batch 32 / nmt8 int8 batch 1 median WPCS >= 2.5x, beam 5, "
        "toy": (round(2.5 * e, 6), met),
        "nmt8 int8 / PyTorch fp32 median WPCS >= 5.0x, both batch 32, beam 5, "
        "toy": (round(5 * e, 6), met),
        "nmt8 int8 / nmt8 fp32 (numpy) median WPCS >= 3.0x, both batch 32, "
        "beam 5, big": (round(3 * e, 6), met),
        "Dask, nmt8 int8: 2 workers / 1 worker median lines/s >= 1.6x, 3000 "
        "lines": (round(1.6 * e, 6), met),
        "kernel 620x40000, P=64: int8-gemm / numpy-fp32 GOP/s >= 3.5x":
            (round(3.5 * e, 6), met),
        "kernel 620x40000, P=64: int8-gemm / torch-fbgemm GOP/s >= 1.2x":
            (round(1.2 * e, 6), met)}


def test_batch_targets_need_their_measurements(made_up):
    from nmt8.lab.reproduce import targets as batch_targets

    b = _batch_section(1.01)
    b.speed = [r for r in b.speed if r.system != TORCH_FP32]  # no PyTorch
    b.dask.ratio = None  # one worker size only
    b.kernel_shapes = [_kernel_shape((1000, 3000), {"int8-gemm": 400.0})]
    names = [t.target for t in batch_targets.targets(b, "big")]
    assert len(names) == 2 and "PyTorch" not in " ".join(names)
    # without batch 32, or with the paper-size model first (no BPE): no
    # shipped-model rows
    b.speed = [r for r in b.speed if r.batch != 32]
    assert batch_targets.targets(b, "big") == []
    b = _batch_section(1.01)
    b.speed += _speeds("toy", NMT8_FP32, {32: 100.0})
    wpcs = [t.target for t in batch_targets.targets(b, "toy")
            if "WPCS" in t.target]
    assert wpcs == [("nmt8 int8 / nmt8 fp32 (numpy) median WPCS >= 3.0x, both "
                     "batch 32, beam 5, toy")]
    assert batch_targets.targets(None, "big") == []


def test_the_kernel_targets_use_the_blocked_int8_kernel():
    from nmt8.lab.reproduce.targets import int8_method

    def points(*methods):
        return _kernel_shape((8, 8), dict(zip(methods, (1.0, 9.0, 5.0, 3.0)))
                             ).points

    assert int8_method(points("int8-gemm_avx2", "int8-vnni", "int8-gemm")) == \
        "int8-gemm"
    # on a core with AMX, the kernel "auto" runs at the targets' P
    assert int8_method(points("int8-gemm", "int8-amx", "int8-vnni")) == \
        "int8-amx"
    assert int8_method(points("int8-gemm_avx2", "int8-vnni")) == "int8-gemm_avx2"
    assert int8_method(points("int8-avx2", "int8-vnni", "torch-fbgemm")) == \
        "int8-vnni"  # no blocked kernel: the fastest int8 one
    assert int8_method(points("numpy-fp32", "torch-fbgemm")) is None


def test_report_shows_the_kernel_targets(made_up):
    from nmt8.lab.report.report import render

    made_up.batch = _batch_section(1.0)
    made_up.batch.kernel_shapes = [
        _kernel_shape((1000, 3000), {"numpy-fp32": 100.0, "int8-gemm": 400.0,
                                     "torch-fbgemm": 320.0}, P=P)
        for P in (64, 256)] + [_kernel_shape((620, 40000), {
            "numpy-fp32": 90.0, "int8-vnni": 300.0})]
    made_up.targets = rp.targets(made_up)
    text = render(made_up)
    lines = text.splitlines()
    assert "### Kernel targets" in lines
    assert "| 1000 x 3000 | 64 | int8-gemm | 100.0 | 400.0 | 320.0 | 4.00x | " \
        "1.25x |" in lines
    assert "| 1000 x 3000 | 256 | int8-gemm | 100.0 | 400.0 | 320.0 | 4.00x | " \
        "1.25x |" in lines
    assert "| 620 x 40000 | 64 | int8-vnni | 90.0 | 300.0 | - | 3.33x | - |" \
        in lines
    # ... and every target among the report's targets
    assert ("| kernel 620x40000, P=64: int8-vnni / numpy-fp32 GOP/s >= 3.5x | "
            "3.33x | NO |") in lines
    assert ("| nmt8 int8 / PyTorch fp32 median WPCS >= 5.0x, both batch 32, "
            "beam 5, toy | 5.00x | yes |") in lines
    # with this core's measured peak: each kernel's share of it
    made_up.batch.peaks = {"int8_vnni": {
        "gops": {"min": 450.0, "median": 480.0, "max": 500.0},
        "kind": "vnni_zmm_12", "by_kind": {"vnni_zmm_12": 500.0}}}
    lines = render(made_up).splitlines()
    assert "| 1000 x 3000 | 64 | int8-gemm | 100.0 | 400.0 | 320.0 | 4.00x | " \
        "1.25x | 80% | 64% |" in lines
    assert "| 620 x 40000 | 64 | int8-vnni | 90.0 | 300.0 | - | 3.33x | - | " \
        "60% | - |" in lines
    assert any("true int8 peak: 500 GOP/s" in x and "vnni_zmm_12" in x
               for x in lines)
    # a core with AMX: the machine's peak is AMX's; beside it each kernel's
    # share of the peak of its own instructions (amx: AMX; FBGEMM: VNNI)
    made_up.batch.kernel_shapes = [_kernel_shape((1000, 3000), {
        "numpy-fp32": 100.0, "int8-amx": 2000.0, "int8-gemm": 400.0,
        "torch-fbgemm": 320.0})]
    made_up.batch.peaks["int8_amx"] = {
        "gops": {"min": 3000.0, "median": 3900.0, "max": 4000.0},
        "kind": "amx_int8_4", "by_kind": {"amx_int8_4": 4000.0}}
    lines = render(made_up).splitlines()
    assert "| 1000 x 3000 | 64 | int8-amx | 100.0 | 2,000.0 | 320.0 | 20.00x " \
        "| 6.25x | 50% | 8% | 50% | 64% |" in lines
    assert any("the `amx` kernel uses it" in x for x in lines)
    made_up.batch.kernel_shapes = []
    assert "### Kernel targets" not in render(made_up)


def test_the_batch_section_round_trips_through_results_json(made_up):
    from nmt8.lab.reproduce.batch_records import (
        BatchDecoding,
        BatchInvariance,
        KernelPoint,
        KernelScaling,
    )
    from nmt8.lab.reproduce.results import to_json

    b = _batch_section(1.0)
    b.invariance = [BatchInvariance("toy", TORCH_INT8, 32, 40, 3, 17)]
    b.kernels = KernelScaling((1000, 3000), [KernelPoint("int8-gemm", 5, 1e-4,
                                                         60.0)], 5,
                              "int8-gemm", "int8-vnni")
    b.notes = ["made up"]
    b.peaks = {"int8_vnni": {"gops": {"min": 400.0, "median": 410.0,
                                      "max": 414.0}, "kind": "vnni_zmm_12",
                             "by_kind": {"vnni_zmm_12": 414.0}}}
    b.kernel_shapes[0].points[0].rounds = [1e-4, 2e-4, 1.5e-4]
    made_up.batch = b
    saved = json.loads(json.dumps(to_json(made_up)))
    assert saved["batch"]["kernel_shapes"][0]["shape"] == [620, 40000]
    assert BatchDecoding.from_json(saved["batch"]) == b
    assert BatchDecoding.from_json(json.loads(json.dumps(to_json(
        BatchDecoding())))) == BatchDecoding()


def test_ladder_rungs_without_speed_are_only_in_table_6(monkeypatch):
    from nmt8.lab.outputs import quality
    from nmt8.lab.reproduce.systems import Rung
    from nmt8.lab.speed import speed

    simulated = System(precision="int8", kernel="ref")  # stands for msfp12
    monkeypatch.setattr(speed, "LADDER", (Rung(NMT8_FP32),
                                          Rung(simulated, timed=False)))
    monkeypatch.setattr(speed, "int8_available", lambda: True)
    assert speed.ladder_systems() == [NMT8_FP32, simulated]
    assert speed.ladder_systems(timed=True) == [NMT8_FP32]
    assert quality.quality_systems(ensemble=False) == [NMT8_FP32, simulated]
    monkeypatch.setattr(speed, "int8_available", lambda: False)
    assert speed.ladder_systems() == [NMT8_FP32]  # int8 not compiled


def test_the_ladder_has_every_precision_and_both_baselines():
    from nmt8.lab.reproduce.systems import BASELINES, LADDER, NMT8_FP32_C

    assert [r.system.variant for r in LADDER] == [
        "fp32", "fp32 (C)", "int16 per-tensor", "int8 per-tensor",
        "int8 per-row", "int4 group64", "msfp16", "msfp12"]
    assert [r.system.precision for r in LADDER if not r.timed] == \
        ["msfp16", "msfp12"]
    assert [(b.system, b.name) for b in BASELINES] == [
        (NMT8_FP32, "numpy fp32"), (NMT8_FP32_C, "C fp32")]


def test_every_runnable_rung_builds_its_translator(toy):
    from nmt8.lab.speed.speed import ladder_systems

    _, model, _ = toy
    for system in ladder_systems():
        tr = system.build(model, beam=2)
        assert tr.precision == system.precision, system
        assert len(tr.translate_ids([[3, 4, 5]])) == 1


def _memory(system, nbytes, loaded, translated, peak, start=30):
    """A MemoryUse of the made-up "big" workload, figures in MiB."""
    from nmt8.lab.reproduce.records import MemoryUse

    MiB = 2**20
    return MemoryUse("big", system, system.precision, nbytes * MiB, start * MiB,
                     loaded * MiB, translated * MiB, peak * MiB)


def test_memory_section_and_targets_read_the_records(made_up):
    from nmt8.lab.report.report import render

    made_up.memory = [_memory(NMT8_FP32, 400, 430, 440, 500),
                      _memory(NMT8_INT16, 200, 250, 260, 520),
                      _memory(NMT8_INT8, 100, 130, 140, 450)]
    lines = render(made_up).splitlines()
    assert "## Memory: resident set per precision" in lines and "**big**" in lines
    assert ("| nmt8 fp32 | fp32 | 400.0 | 30.0 | 430.0 | 440.0 | 500.0 | "
            "1.00x | 1.00x | 1.00x | 1.00x |") in lines
    assert ("| nmt8 int16 | int16 | 200.0 | 30.0 | 250.0 | 260.0 | 520.0 | "
            "0.58x | 0.59x | 1.04x | 0.55x |") in lines
    assert ("| nmt8 int8 | int8 | 100.0 | 30.0 | 130.0 | 140.0 | 450.0 | "
            "0.30x | 0.32x | 0.90x | 0.25x |") in lines
    got = {t.target: (round(t.value, 3), t.met) for t in rp.targets(made_up)}
    assert got["int8/fp32 resident after loading <= 0.45x"] == (0.302, True)
    assert got["int16/fp32 resident after loading <= 0.65x"] == (0.581, True)
    made_up.memory[1] = _memory(NMT8_INT16, 200, 300, 310, 520)
    got = {t.target: t.met for t in rp.targets(made_up)}
    assert got["int16/fp32 resident after loading <= 0.65x"] is False
    # int4 against int8 (issue 23), not against fp32
    assert not any("int4" in t for t in got)
    for loaded, met in ((84, True), (85, False)):  # 0.646x, 0.654x of 130
        made_up.memory.append(_memory(NMT8_INT4, 50, loaded, 90, 300))
        got = {t.target: (round(t.value, 3), t.met)
               for t in rp.targets(made_up)}
        assert got["int4/int8 resident after loading <= 0.65x"] == (
            round(loaded / 130, 3), met)
        made_up.memory.pop()


def _runs(workload, beam, system, runs):
    """A SpeedResult with these run seconds (10 words)."""
    import statistics

    med = statistics.median(runs)
    return SpeedResult(workload=workload, beam=beam, system=system,
                       sentences=2, words=10, runs=list(runs), seconds=med,
                       wps=10 / med, wpcs=10 / med, cores=1,
                       mean_latency_ms=5.0)


@pytest.mark.parametrize("int4_runs, spread, met", [
    # int8 seconds / int4 seconds, round by round: 2.0, 1.0, 1.5
    ((0.5, 2.0, 2.0), (1.0, 1.5, 2.0), True),
    # 1.25, 1.5, 1.2: the median round is below 1.3
    ((0.8, 1.333333, 2.5), (1.2, 1.25, 1.5), False),
])
def test_int4_speed_target_is_taken_round_by_round(made_up, int4_runs, spread,
                                                   met):
    from nmt8.lab.report.report import render

    int8_runs = (1.0, 2.0, 3.0)
    made_up.speed += [_runs("big", 1, NMT8_INT4, int4_runs),
                      _runs("big", 1, TORCH_INT8, (9.0, 9.0, 9.0))]
    made_up.speed = [r for r in made_up.speed
                     if (r.workload, r.beam, r.system) != ("big", 1, NMT8_INT8)]
    made_up.speed.append(_runs("big", 1, NMT8_INT8, int8_runs))
    # and the shipped workload's beam 1 is not the paper size: no row
    made_up.speed += [_runs("toy", 1, NMT8_INT4, (0.1,) * 3),
                      _runs("toy", 1, NMT8_INT8, (1.0,) * 3)]
    made_up.targets = rp.targets(made_up)
    (t,) = [t for t in made_up.targets if "int4" in t.target]
    assert t.target == ("nmt8 int4 group64 / nmt8 int8 WPCS >= 1.3x, beam 1, "
                        "big (median of the round-by-round ratios)")
    got = tuple(t.spread[k] for k in ("min", "median", "max"))
    assert got == pytest.approx(spread, abs=1e-5)
    assert (t.value, t.met) == (pytest.approx(spread[1], abs=1e-5), met)
    lo, hi = t.interval
    assert 0 < lo <= hi
    cell = next(line for line in render(made_up).splitlines()
                if line.startswith(f"| {t.target} |"))
    assert f"{t.value:.2f}x (rounds: {spread[0]:.2f}/{spread[1]:.2f}/" \
        f"{spread[2]:.2f}) [95%: {lo:.2f} to {hi:.2f}]" in cell
    assert cell.endswith(f"| {'yes' if met else 'NO'} |")


def test_int4_targets_need_both_systems_at_beam_1(made_up):
    made_up.speed.append(_runs("big", 5, NMT8_INT4, (0.1, 0.1, 0.1)))
    assert not any("int4" in t.target for t in rp.targets(made_up))


def test_the_qat_target_and_section_read_the_answer_records(made_up):
    from nmt8.lab.outputs.answer import INT4_POST, INT4_QAT, INT8_POST
    from nmt8.lab.report.report import render
    from nmt8.lab.reproduce.records import (
        AnswerRow,
        GroupChoice,
        Paired,
        QuantizedTraining,
    )
    from nmt8.lab.reproduce.results import to_json

    int4 = System(precision="int4", scheme="group64")
    rows = [AnswerRow(INT8_POST, "toy", NMT8_INT8, 31.0,
                      Paired(-0.25, -0.5, 0.1, 0.2), 40),
            AnswerRow(INT4_POST, "toy", int4, 30.5,
                      Paired(-0.75, -1.2, -0.3, 0.01), 200),
            AnswerRow(INT4_QAT, "de-en-qat4 E=8", int4, 30.7,
                      Paired(-0.55, -0.9, -0.1, 0.03), 210,
                      Paired(0.2, -0.1, 0.5, 0.15))]
    made_up.quantized_training = QuantizedTraining(
        3, 31.25, 1000, GroupChoice("val", 9, {"group32": 30.0,
                                               "group64": 30.5}, "group64"),
        rows)
    (t,) = [t for t in rp.targets(made_up) if "BLEU" in t.target]
    assert (t.value, t.met, t.unit, t.interval) == (-0.55, False, " BLEU",
                                                    (-0.9, -0.1))
    rows[2].vs_fp32 = Paired(-0.5, -0.9, -0.1, 0.03)  # exactly 0.5 below
    made_up.targets = rp.targets(made_up)
    (t,) = [t for t in made_up.targets if "BLEU" in t.target]
    assert t.met
    lines = render(made_up).splitlines()
    assert ("| de-en-qat4 in int4 (group64) within 0.5 BLEU of fp32 (BLEU - "
            "fp32's >= -0.5), test, beam 5 | -0.50 BLEU [95%: -0.90 to -0.10] "
            "| yes |") in lines
    assert ("| int4 QAT (int4 group64) | de-en-qat4 E=8 | 30.70 | -0.50 | "
            "-0.90 to -0.10 | 0.030 | 210 | +0.20 | -0.10 to +0.50 | 0.150 |"
            ) in lines
    assert "| fp32 | toy | 31.25 |" in "\n".join(lines)
    assert ("int4's group size, chosen on val (9 sentences, beam 5): group32 "
            "30.00, group64 30.50 BLEU -> **group64**.") in lines
    assert any(line.startswith("- int4: on this run, the quantization-aware "
                               "model (30.70 BLEU) is within noise of") for line in lines)
    back = QuantizedTraining.from_json(to_json(made_up.quantized_training))
    assert back == made_up.quantized_training


def test_memory_record_round_trips_through_json():
    from nmt8.lab.reproduce.records import MemoryUse
    from nmt8.lab.reproduce.results import to_json

    r = _memory(System(precision="int8", scheme="per_row", kernel="ref"),
                100, 130, 140, 450)
    saved = json.loads(json.dumps(to_json(r)))
    assert saved["system"]["label"] == "nmt8 int8 per-row (ref)"
    assert MemoryUse.from_json(saved) == r
    assert r.own == 100 * 2**20


@pytest.fixture(scope="module")
def en_de(tmp_path_factory):
    """Two toy English -> German models saved as files (our sentences)."""
    from nmt8.lab.speed.memory import save_model

    root = tmp_path_factory.mktemp("en-de")
    out = []
    for seed in (1, 2):
        m = toy_model(root / f"toy{seed}", [(en, de) for de, en in PAIRS],
                      vocab_size=60, seed=seed)
        m.cfg.src_lang, m.cfg.tgt_lang = "en", "de"
        out.append(save_model(root / f"en-de-{seed}", m).parent)
    return out


@pytest.mark.parametrize("second", [True, False])
def test_other_directions_add_the_ensemble_once_it_is_shipped(
        toy, en_de, monkeypatch, second):
    """En-De 1x from the first model; 2x exactly when the second exists."""
    from nmt8.lab.kernels.machine import int8_available
    from nmt8.lab.outputs import quality

    _, model, data = toy
    seed2 = en_de[1] if second else en_de[1].parent / "not-shipped"
    monkeypatch.setattr(quality, "SHIPPED", {("de", "en"): ("nope", "nope"),
                                             ("en", "de"): (en_de[0], seed2)})
    (d,) = quality.other_directions(model, data, progress=False)
    single = [NMT8_FP32] + ([NMT8_INT8] if int8_available() else [])
    doubled = [System(precision=s.precision, models=2) for s in single]
    assert [r.system for r in d.systems] == single + (doubled if second else [])
    assert (d.lang, d.sentences, d.ensemble is not None) == ("En-De", len(PAIRS),
                                                             second)
    # read English -> German: references are the German side
    assert d.systems[0].identical_to_fp32 == len(PAIRS)
    # without the first model or the test data the direction is left out
    monkeypatch.setattr(quality, "SHIPPED", {("en", "de"): ("nope", "nope")})
    assert quality.other_directions(model, data, progress=False) == []
    monkeypatch.setattr(quality, "SHIPPED", {("en", "fr"): (en_de[0], "nope")})
    assert quality.other_directions(model, data, progress=False) == []


def test_table6_puts_each_direction_beside_the_papers_rows(made_up):
    from nmt8.lab.figures import paper
    from nmt8.lab.report.markdown import THEIRS
    from nmt8.lab.report.report import render
    from nmt8.lab.reproduce.records import Quality, QualityResult

    def q(system, bleu):
        return QualityResult(system, bleu, 50.0, "BLEU sig", "chrF sig", 7.0, 3,
                             ["a", "b", "c"])
    made_up.directions = [Quality(3, 12, [q(NMT8_FP32, 20.0), q(NMT8_INT8, 19.5),
                                          q(System(models=2), 21.0)],
                                  "En-De", "en", "en2")]
    text = render(made_up)
    lines = text.splitlines()
    # no speed runs of this model: no speed-run WPCS, no speed-ups
    assert "| En-De | fp32 | 20.0 | 50.0 | - | - | - | 7.0 | 3 |" in lines
    assert "| En-De | 2x fp32 | 21.0 | 50.0 | - | - | - | 7.0 | 3 |" in lines
    # ours of a direction, then the paper's of it; then the paper's others
    section = text.split("## Table 6")[1].split("\n## ")[0]
    first = [line.split("|")[1].strip().replace(f"{THEIRS}: ", "")
             for line in section.splitlines() if line.startswith("| ")][1:]
    theirs = [t["lang"] for t in paper.TABLE6]
    mine = ("De-En", "En-De")
    assert first == (["De-En"] * 3 + [t for t in theirs if t.startswith(mine[0])]
                     + ["En-De"] * 3 + [t for t in theirs if t.startswith(mine[1])]
                     + [t for t in theirs if not t.startswith(mine)])
    assert "En-De: the shipped en and en2 (2x)." in lines
    made_up.directions[0].ensemble = None
    assert "no En-De 2x row" in render(made_up)


def test_kernel_targets_give_min_median_max_over_rounds():
    """With the rounds recorded, the int8 GOP/s and both ratios are
    min/median/max, the ratios taken round by round."""
    from nmt8.lab.reproduce import targets as batch_targets
    from nmt8.lab.reproduce.batch_records import KernelPoint, KernelScaling

    ops = 2 * 64 * 1000 * 3000
    k = KernelScaling((1000, 3000), [
        KernelPoint("numpy-fp32", 64, 4.0, ops / 4.0 / 1e9, [4.0, 4.0, 8.0]),
        KernelPoint("int8-gemm", 64, 1.0, ops / 1.0 / 1e9, [1.0, 2.0, 1.0]),
        KernelPoint("torch-fbgemm", 64, 1.0, ops / 1.0 / 1e9,
                    [1.0, 1.0, 1.0])], None, "int8-gemm")
    (r,) = batch_targets.kernel_rows(k)
    assert r.vs_numpy_spread == {"min": 2.0, "median": 4.0, "max": 8.0}
    assert r.vs_fbgemm_spread == {"min": 0.5, "median": 1.0, "max": 1.0}
    assert r.int8_spread["min"] == pytest.approx(ops / 2.0 / 1e9)
    assert r.int8_spread["max"] == pytest.approx(ops / 1e9)
