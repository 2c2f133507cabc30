"""``nmt8 reproduce``: every measurement of the paper, in one report.

Runs, on this machine, the experiments behind Tables 1-9 of Quinn &
Ballesteros (2018) and writes ``report.md`` (one section per table),
``results.json`` (every figure) and PNG plots into an output folder:

1. the machine (``nmt8.lab.kernels.machine``);
2. profiles, fp32 and int8 (Tables 1 and 2), cross-checked with cProfile;
   speed in WPS and WPCS, median of 9 runs, beam 1 and 5, one sentence at a
   time per core (Tables 3 and 6), a beam sweep, multi-core throughput and
   a PyTorch peer (``nmt8.lab.speed.speed``);
3. BLEU and chrF, fp32 vs int8 with per-tensor and per-row scales (Table 6),
   optionally a 2-model ensemble, and how the outputs differ (Section 5,
   Tables 8 and 9); Table 6's rows of the other direction's shipped models
   (En-De 1x, and 2x once its second seed is shipped) (``nmt8.lab.outputs.quality``);
4. beyond the paper, its future work (Section 7): batch decoding - words
   per core second against batch size for nmt8 and the PyTorch peer, the
   batch-invariance count, Dask scaling on this machine, kernel GOP/s
   against P and on the paper's shapes at the target P (``nmt8.lab.speed.bulk``),
   and the batch-decoding targets (``nmt8.lab.reproduce.targets``);
5. beyond the paper, the other half of 8 bits: resident memory of every
   timed precision after loading, after translating and at its peak, each
   in a fresh process (``nmt8.lab.speed.resident``);
6. beyond the paper, its future work "training quantized models": int8
   and int4 after training and after quantization-aware fine-tuning
   against fp32 on the test set, int4's group size chosen on val
   (``nmt8.lab.outputs.answer``), and issue 23's int4 targets
   (:func:`int4_targets`);
7. the paper's own numbers beside ours, labelled as theirs
   (``nmt8.lab.figures.paper``, ``nmt8.lab.report.report``).

This module only runs the parts in order and writes the files (the figures
are ``nmt8.lab.report.charts``); every part returns records of
``nmt8.lab.reproduce.results``, and ``results.json`` is ``results.to_json`` of the
:class:`~nmt8.lab.reproduce.results.Results` it returns.

Does not: measure, score or format by itself, tune anything on the test set
(no choice is made from it), or train models (``nmt8 train``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from nmt8.lab.figures import paper
from nmt8.lab.kernels.machine import has_dask, has_torch, int8_available, machine_info
from nmt8.lab.outputs.answer import INT4_QAT, answer
from nmt8.lab.outputs.quality import (
    data_stats,
    differences,
    lang,
    load_test,
    other_directions,
    quality,
)
from nmt8.lab.report.charts import plots
from nmt8.lab.report.report import write_report
from nmt8.lab.reproduce import targets as batch_targets
from nmt8.lab.reproduce.batch_records import BatchDecoding
from nmt8.lab.reproduce.records import Target
from nmt8.lab.reproduce.results import Results, to_json
from nmt8.lab.reproduce.settings import Settings
from nmt8.lab.reproduce.systems import (
    NMT8_FP32,
    NMT8_INT4,
    NMT8_INT8,
    TORCH_FP32,
    TORCH_INT8,
)
from nmt8.lab.speed import batch, measure, resident
from nmt8.lab.speed.speed import (
    beam_sweep,
    model_label,
    nmt8_systems,
    peer_check,
    profiles,
    speed_sentences,
    speeds,
    throughputs,
    workloads,
)
from nmt8.model.model import Model, load_model
from nmt8.serve.threads import blas_threads


def reproduce(out_dir, quick: bool = False, data=None, model="de-en",
              progress: bool = True, ensemble=None,
              settings: Settings | None = None, command: str | None = None,
              qat8=None) -> Results:
    """Run every part and write report.md, results.json and PNGs to out_dir.

    model: a shipped name, a path or a Model (with BPE models beside it).
    data: the Multi30k folder (default ``$NMT8_DATA``); without it the
    quality and difference parts are skipped with a note, and speed runs on
    our own example sentences. qat8: an int8 quantization-aware fine-tuned
    model of the same direction (name, path or Model), for the int8 QAT
    row of "training quantized models" (None: the row is left out, with a
    note). Returns the results (also in results.json).
    """
    with blas_threads(1):  # one core per sentence, as measured
        return _reproduce(out_dir, quick, data, model, progress, ensemble,
                          settings, command, qat8)


def _reproduce(out_dir, quick, data, model, progress, ensemble, settings,
               command, qat8=None) -> Results:
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = settings or (Settings.quick() if quick else Settings())
    m = model if isinstance(model, Model) else load_model(model)
    ref = model if not isinstance(model, Model) else m
    ens = None
    if ensemble is not None:
        ens = ensemble if isinstance(ensemble, Model) else load_model(ensemble)
    res = Results(
        command=command or _call_repr(out_dir, quick, data, model, ensemble,
                                      qat8),
        quick=quick, settings=settings, machine=machine_info(),
        model=model_label(m), config=m.cfg,
        ensemble=model_label(ens) if ens is not None else None,
        paper=paper.as_dict())
    if not int8_available():
        res.notes.append("nmt8's int8 kernels are not compiled: int8 parts "
                         "were skipped (run `pip install -e .`).")
    if settings.peer and not has_torch():
        res.notes.append("PyTorch is not installed: no PyTorch peer.")
    src_lang, tgt_lang = m.cfg.src_lang, m.cfg.tgt_lang
    test = load_test(data, settings.quality_sentences, src_lang, tgt_lang)
    if test is None:
        res.notes.append("Multi30k not found (set NMT8_DATA or --data): "
                         "quality and output differences were skipped; "
                         "speed runs on our own example sentences.")
    res.data = data_stats(data, test, lang(src_lang, tgt_lang))

    def part(name, fn):
        t0 = time.perf_counter()
        if progress:
            print(f"[nmt8 reproduce] {name} ...", file=sys.stderr, flush=True)
        r = fn()
        res.seconds[name] = time.perf_counter() - t0
        return r

    tr0 = NMT8_FP32.build(m)
    lines = speed_sentences(test[0] if test else None, settings.speed_sentences)
    loads = part("workloads", lambda: workloads(m, ref, lines, settings, tr0))
    res.workloads = [w.info(paper_size=w is loads[-1]) for w in loads]
    res.profile, res.cross_check = part(
        "profile", lambda: profiles(loads, settings, progress))
    res.speed = part("speed", lambda: speeds(loads, settings, progress))
    if settings.peer and has_torch():
        res.peer_check = part("peer check",
                              lambda: [peer_check(w) for w in loads])
    res.beam_sweep = part("beam sweep",
                          lambda: beam_sweep(loads[-1], settings, progress))
    res.throughput = part("throughput",
                          lambda: throughputs(loads, settings, progress))
    if settings.memory:
        res.memory = part("memory", lambda: resident.memory_use(
            loads, settings, progress))
    q = None
    if test is not None and tr0.src_bpe is not None:
        src, refs = test
        q = part("quality", lambda: quality(m, src, refs, ens, progress))
        res.quality = q.quality
        res.differences = part("differences", lambda: differences(
            q, src, settings, progress=progress))
        if settings.directions:
            res.directions = part("other directions", lambda: other_directions(
                m, data, settings.quality_sentences, progress))
        if settings.qat:
            res.quantized_training = part(
                "quantized training", lambda: answer(
                    q, m, src, refs, settings, data, qat8, progress))
    if settings.batch:
        res.batch = part("batch decoding", lambda: batch_decoding(
            m, ref, test[0] if test else None, loads, tr0, settings, progress))
    res.targets = targets(res)
    res.machine.loadavg_end = list(os.getloadavg())
    res.plots = part("plots", lambda: plots(res, out_dir, q,
                                            test[0] if test else None))
    res.total_seconds = time.perf_counter() - t_start
    (out_dir / "results.json").write_text(
        json.dumps(to_json(res), indent=1) + "\n", encoding="utf-8")
    write_report(res, out_dir)
    return res


def batch_decoding(model: Model, ref, test_src, loads, translator,
                   settings: Settings, progress=True) -> BatchDecoding:
    """The "Batch decoding" section: ``settings.batch_sentences`` sentences
    (test sources, else our own) on both models; nmt8 and the PyTorch peer
    at every batch size; the invariance count on the first workload; Dask
    and the kernels when this machine has them."""
    out = BatchDecoding()
    lines = (speed_sentences(test_src, settings.batch_sentences) if test_src
             else batch.our_lines(settings.batch_sentences))
    loads = workloads(model, ref, lines, settings, translator, reuse=loads[-1])
    systems = nmt8_systems()
    if settings.peer and has_torch():
        systems += [TORCH_FP32, TORCH_INT8]
    out.speed = batch.batch_speeds(loads, systems, settings, progress)
    out.invariance = batch.batch_invariance(loads[0], systems, settings)
    if settings.dask and not has_dask():
        out.notes.append("Dask is not installed (pip install 'nmt8[dask]'): "
                         "no Dask scaling.")
    elif settings.dask and loads[0].max_lens is not None:
        out.notes.append("The model has no BPE models: the Dask run "
                         "translates text, so it was skipped.")
    elif settings.dask:
        fastest = nmt8_systems()[-1]  # int8 when compiled
        out.dask = batch.dask_scaling(loads[0], fastest, settings, progress)
    if int8_available():
        out.kernels = batch.kernel_scaling(settings, progress)
        out.kernel_shapes = batch.kernel_shapes(settings, progress)
        if out.kernel_shapes:  # what the kernel targets' GOP/s are a share of
            from nmt8.native.peak import measure_peaks

            out.peaks = measure_peaks(quick=True)
    else:
        out.notes.append("nmt8's int8 kernels are not compiled: no kernel "
                         "GOP/s.")
    return out


def targets(res: Results) -> list[Target]:
    """The issues' speed and memory targets, checked on the paper-size
    workload; then those of batch decoding (``nmt8.lab.reproduce.targets``:
    batch 32 on both workloads, Dask, kernels on the paper's shapes)."""
    out = []
    for beam, need in ((5, 5.0), (1, 3.5)):
        wpcs = {r.system: r.wpcs for r in res.speed
                if r.workload == res.paper_workload and r.beam == beam}
        if NMT8_INT8 in wpcs and NMT8_FP32 in wpcs:
            r = wpcs[NMT8_INT8] / wpcs[NMT8_FP32]
            out.append(Target(f"int8/fp32 WPCS >= {need}x, beam {beam}", r,
                              r >= need))
        if NMT8_INT8 in wpcs and TORCH_INT8 in wpcs:
            r = wpcs[NMT8_INT8] / wpcs[TORCH_INT8]
            out.append(Target(f"nmt8 int8 / PyTorch int8 WPCS >= 1.2x, "
                              f"beam {beam}", r, r >= 1.2))
    return (out + int4_targets(res)
            + resident.targets(res.memory, res.paper_workload)
            + batch_targets.targets(res.batch, res.paper_workload))


INT4_VS_INT8 = 1.3  # int4 / int8 WPCS, beam 1, paper size (issue 23)
INT4_BEAM = 1
QAT_WITHIN = 0.5  # int4 QAT at most this many BLEU below fp32 (issue 23)


def int4_targets(res: Results) -> list[Target]:
    """Issue 23's speed and quality targets for int4: int4 / int8 words
    per core second at beam 1 on the paper-size workload, taken round by
    round over the interleaved speed runs (min / median / max, the median
    checked; and ``measure.speedup_interval``'s 95% bootstrap interval of
    the ratio of medians); the int4 QAT model at most :data:`QAT_WITHIN`
    BLEU below fp32 on the test set (the paired bootstrap's interval).
    A target whose measurements are missing gives no row."""
    out = []
    runs = {r.system: r.runs for r in res.speed
            if r.workload == res.paper_workload and r.beam == INT4_BEAM}
    if NMT8_INT4 in runs and NMT8_INT8 in runs:
        # the same round, the same words: WPCS ratio = int8 s / int4 s
        x = sorted(a / b for a, b in zip(runs[NMT8_INT8], runs[NMT8_INT4]))
        spread = {"min": x[0], "median": statistics.median(x), "max": x[-1]}
        iv = measure.speedup_interval(runs[NMT8_INT8], runs[NMT8_INT4])
        out.append(Target(
            f"{NMT8_INT4.label} / {NMT8_INT8.label} WPCS >= {INT4_VS_INT8}x, "
            f"beam {INT4_BEAM}, {res.paper_workload} (median of the "
            "round-by-round ratios)", spread["median"],
            spread["median"] >= INT4_VS_INT8, spread=spread,
            interval=(iv.low, iv.high)))
    a = res.quantized_training
    r = a.row(INT4_QAT) if a is not None else None
    if r is not None:
        d = r.vs_fp32
        out.append(Target(
            f"{r.model.split()[0]} in int4 ({r.system.scheme}) within "
            f"{QAT_WITHIN} BLEU of fp32 (BLEU - fp32's >= -{QAT_WITHIN}), "
            f"test, beam 5", d.delta, d.delta >= -QAT_WITHIN, unit=" BLEU",
            interval=(d.low, d.high)))
    return out


def _call_repr(out_dir, quick, data, model, ensemble, qat8=None) -> str:
    """How reproduce() was called from Python (Models shown by their label)."""
    def show(x):
        return f"<{model_label(x)}>" if isinstance(x, Model) else repr(str(x))

    args = [repr(str(out_dir)), f"quick={quick}"]
    args += [f"data={show(data)}"] if data else []
    args += [f"model={show(model)}"]
    args += [f"ensemble={show(ensemble)}"] if ensemble is not None else []
    args += [f"qat8={show(qat8)}"] if qat8 is not None else []
    return f"nmt8.lab.reproduce.run.reproduce({', '.join(args)})"


DESCRIPTION = ("Measure Tables 1-9 of Quinn & Ballesteros (2018) on this "
               "machine; write report.md, results.json and PNGs.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``nmt8 reproduce``."""
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quick", action="store_true",
                   help="fewer sentences and runs (about 3 minutes)")
    p.add_argument("--data", default=None,
                   help="Multi30k folder (default: $NMT8_DATA)")
    p.add_argument("--model", default="de-en", help="model name or path "
                   "(default: de-en)")
    p.add_argument("--ensemble", default=None,
                   help="a second model: adds the 2-model ensemble to Table 6")
    p.add_argument("--qat8-model", default=None, metavar="DIR",
                   help="an int8 quantization-aware fine-tuned model of the "
                        "same direction (nmt8 train --qat int8, then "
                        "--export-from): adds the int8 QAT row to 'Training "
                        "quantized models' (default: none, the row is left "
                        "out)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for the multi-core run (default: cores)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars on stderr")


def run(a: argparse.Namespace) -> int:
    """``nmt8 reproduce`` with parsed options."""
    argv = sys.argv[1:]
    settings = Settings.quick(jobs=a.jobs) if a.quick else Settings(jobs=a.jobs)
    try:
        res = reproduce(a.out, a.quick, a.data, a.model, not a.no_progress,
                        a.ensemble, settings,
                        command="nmt8 " + " ".join(argv), qat8=a.qat8_model)
    except (FileNotFoundError, ValueError) as err:
        print(f"nmt8 reproduce: {err}", file=sys.stderr)
        return 2
    print(f"wrote {Path(a.out) / 'report.md'} ({res.total_seconds:.0f} s)")
    return 0

