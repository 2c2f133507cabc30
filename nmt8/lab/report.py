"""The markdown report of ``nmt8 reproduce``: one section per table of the paper.

:func:`render` turns the :class:`nmt8.lab.results.Results` of
``nmt8.lab.reproduce.reproduce`` (the same run saved as ``results.json``)
into ``report.md``, reading their fields; systems print by their
``System.label`` (speed) or ``System.variant`` (Table 6). The paper's own
figures (``nmt8.lab.paper``) sit in the same tables as ours, in rows
labelled ``nmt8.lab.paper.LABEL``.

Does not: measure anything; every number comes from the results.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from . import paper
from .results import (
    BASELINES,
    NMT8_FP32,
    NMT8_INT8,
    TORCH_FP32,
    TORCH_INT8,
    Results,
)

HEADINGS = (  # the section headings, in order (tests check them)
    "Machine and versions",
    "Tables 4 and 5: models and test data",
    "Tables 1 and 2: profiles before and after 8-bit conversion",
    "Table 3: running speed",
    "Table 6: BLEU and speed",
    "Table 7: human evaluation",
    "Tables 8 and 9: 32-bit and 8-bit outputs compared",
    "Batch decoding (the paper's future work)",
)
THEIRS = f"*{paper.LABEL}*"


def _table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _f(x, nd=1) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def _x(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def render(res: Results) -> str:
    parts = [_head(res), _machine(res), _data(res), _profiles(res),
             _speed(res), _quality(res), _human(), _differences(res),
             _batch(res)]
    return "\n".join(parts)


def write_report(res: Results, out_dir) -> str:
    """Render ``res`` as markdown into out_dir/report.md."""
    text = render(res)
    (Path(out_dir) / "report.md").write_text(text, encoding="utf-8")
    return text


def _grouped(records, *keys) -> dict:
    """{(key values): [records]} in the order the records came."""
    out: dict = {}
    for r in records:
        out.setdefault(tuple(getattr(r, k) for k in keys), []).append(r)
    return out


def _head(res) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ['# nmt8 reproduction of "Pieces of Eight" (Quinn & Ballesteros, 2018)',
             "",
             f"Command: `{res.command}`  ",
             (f"Finished {when}, in {res.total_seconds:.0f} s"
              f"{' (--quick: fewer sentences and runs)' if res.quick else ''}."),
             "",
             f"Rows in *italics* are the paper's figures ({THEIRS}: a C++/Eigen "
             "decoder on Intel Xeons, news-domain models of 620/1000 dimensions "
             "and 33k-64k vocabularies). Every other figure was measured by this "
             "run, on this machine. " + paper.CITATION, ""]
    for note in res.notes:
        lines.append(f"> Note: {note}")
    return "\n".join(lines) + "\n"


def _machine(res) -> str:
    m = res.machine
    end = m.loadavg_end[0] if m.loadavg_end else 0.0
    rows = [("CPU", m.cpu), ("cores used", m.cores),
            ("ISA flags (int8-relevant)", ", ".join(m.isa_flags) or "-"),
            ("int8 kernels available", ", ".join(m.kernels) or "-"),
            ("int8 kernel chosen (auto)", m.kernel or "-"),
            ("fp32 products", f"numpy {m.numpy} with {m.blas}"),
            ("Python", m.python), ("nmt8", m.nmt8),
            ("PyTorch", m.torch or "not installed"),
            ("sacrebleu", m.sacrebleu),
            ("sentencepiece", m.sentencepiece), ("OS", m.platform),
            ("load average, start / end", f"{m.loadavg_start[0]:.2f} / {end:.2f}")]
    text = f"## {HEADINGS[0]}\n\n" + _table(("", ""), rows)
    if m.busy:
        text += ("\n> The load average shows other work on this machine during "
                 "the run: speeds are lower and noisier than on a quiet one.\n")
    text += ("\nEvery timing runs one sentence at a time with one BLAS/torch "
             "thread per process, as the paper gives each core one sentence.\n")
    return text


def _data(res) -> str:
    cfg = res.config
    rows = [(res.model, "-", cfg.n_words_src, cfg.n_words, cfg.dim_word, cfg.dim)]
    if res.ensemble:
        rows.append((res.ensemble + " (ensemble member)", "-", "", "", "", ""))
    for w in res.workloads:
        if w.paper_size:
            E, H, Vs, Vt = res.settings.paper_size
            rows.append((w.name + ", speed only", "-", Vs, Vt, E, H))
    for r in paper.TABLE4:
        rows.append((f"{THEIRS}: {r['lang']}", r["train"], r["src_vocab"],
                     r["tgt_vocab"], 620, 1000))
    text = (f"## {HEADINGS[1]}\n\n"
            + _table(("model", "training sentences", "source vocabulary",
                      "target vocabulary", "E", "H"), rows))
    d = res.data
    rows = []
    if d.found:
        rows.append((f"Multi30k {d.split} (De-En)", d.sentences,
                     _f(d.src_len), _f(d.tgt_len)))
    for r in paper.TABLE5:
        rows.append((f"{THEIRS}: {r['lang']}", r["sentences"], r["src_len"],
                     r["tgt_len"]))
    text += "\n" + _table(("test set", "sentences", "source length (words)",
                           "target length (words)"), rows)
    rows = [(w.name, w.sentences, w.words, w.steps if w.steps else "until </s>")
            for w in res.workloads]
    text += ("\nSpeed workloads (WPCS counts source words). The paper-size model "
             "has random weights: decoding speed depends on the shapes, not on "
             "trained values, so it is measured on random source ids, one per "
             "word of the same sentences, decoding a fixed "
             f"round({res.settings.tgt_ratio} x words) steps.\n\n"
             + _table(("workload", "sentences", "source words", "decoder steps"),
                      rows))
    return text


def _profiles(res) -> str:
    text = (f"## {HEADINGS[2]}\n\nShare of decoding time by function, beam 5, "
            "from nmt8's instrumented timers. \"everything else (Python)\" is the "
            "total minus every timed function: the interpreter and the glue "
            "between numpy calls, which a C++ decoder does not pay. The "
            f"*Q&B 2018* columns are {THEIRS} (Tables 1 and 2).\n")
    by_workload = _grouped(res.profile, "workload")
    for k, ((wname,), profs) in enumerate(by_workload.items()):
        cats = list(profs[0].share)
        theirs = paper.PROFILE_BY_CATEGORY
        rows = [(c, *(_f(p.share[c]) for p in profs),
                 *(_f(v, 2) for v in theirs.get(c, (None, None)))) for c in cats]
        rows.append(("total seconds", *(_f(p.total_s, 2) for p in profs),
                     "", ""))
        head = ("function", *[f"{p.system.precision} %" for p in profs],
                "*Q&B 2018 32-bit %*", "*Q&B 2018 8-bit %*")
        text += (f"\n**{wname}**\n\n" + _table(head, rows)
                 + f"\n![profile](profile_{k}.png)\n")
    rows = [(f"{THEIRS}: {k}", v, "") for k, v in paper.TABLE1.items()]
    rows += [(f"{THEIRS}: {k}", "", v) for k, v in paper.TABLE2.items()]
    text += ("\nThe paper's Tables 1 (32-bit) and 2 (8-bit) as printed (their "
             "tanh rows are summed in the columns above; their \"NMT decoder "
             "layer\" has no timer of ours):\n\n"
             + _table(("function", "32-bit %", "8-bit %"), rows))
    if res.cross_check:
        text += (f"\nCross-check of the timers against cProfile "
                 f"({res.cross_check[0].workload}, same sentences; cProfile "
                 "charges every Python call, which moves its shares toward "
                 "\"rest\"):\n\n")
    for cc in res.cross_check:
        rows = [(r.category, _f(r.timers), _f(r.cprofile)) for r in cc.rows]
        text += (f"\n{cc.system.precision}:\n\n"
                 + _table(("category", "timers %", "cProfile %"), rows))
    return text


def _speed(res) -> str:
    groups = _grouped(res.speed, "workload", "beam")
    text = (f"## {HEADINGS[3]}\n\nWords per core second (WPCS = source words / "
            f"(seconds x cores)), median of {res.settings.runs} runs, "
            "one core, one sentence at a time; all systems of one workload "
            "and beam are "
            "timed with their runs interleaved (fp32, int8, PyTorch fp32, "
            "PyTorch int8, then again in a rotated order), so machine "
            "noise reaches all of them alike.\n\n")
    rows = []
    for (wname, beam), group in groups.items():
        wpcs = {r.system: r.wpcs for r in group}
        f32, i8 = wpcs.get(NMT8_FP32), wpcs.get(NMT8_INT8)
        rows.append((f"{wname}, beam {beam}", _f(f32), _f(i8), _x(i8, f32)))
    t3 = paper.TABLE3
    rows.append((f"{THEIRS}: NMT (Section 3)", t3["NMT 32-bit"], t3["NMT 8-bit"],
                 _x(t3["NMT 8-bit"], t3["NMT 32-bit"])))
    for k in ("Phrase-based", "Syntax-based"):
        rows.append((f"{THEIRS}: {k} SMT", t3[k], "", ""))
    text += _table(("system", "32-bit WPCS", "8-bit WPCS", "speed-up"), rows)

    text += "\n### Every system, one core\n\n"
    rows = []
    for r in res.speed:
        rows.append((r.workload, f"beam {r.beam}", r.system.label, _f(r.wps),
                     _f(r.wpcs), _f(r.mean_latency_ms, 0)))
    text += (_table(("workload", "beam", "system", "WPS", "WPCS",
                     "mean latency (ms/sentence)"), rows)
             + "\nPyTorch runs the same network (nn.Linear layers built from the "
             "same fused matrices; int8 is `torch.ao.quantization."
             "quantize_dynamic`, FBGEMM) inside nmt8's own beam search, one "
             "thread." + "".join(
                 f" On {c.sentences} sentences of {c.workload} its fp32 output is "
                 f"identical to nmt8 fp32's in {c.identical} (beam {c.beam})."
                 for c in res.peer_check) + "\n\n"
             + "".join(f"![speed](speed_{k}.png)\n"
                       for k in range(len(_grouped(res.speed, "workload")))))
    if res.targets:
        rows = [(t.target, f"{t.value:.2f}x", "yes" if t.met else "NO")
                for t in res.targets]
        text += ("\nTargets (paper-size workload; meant for a quiet machine):\n\n"
                 + _table(("target", "measured", "met"), rows))

    text += "\n### Multi-core throughput\n\n"
    rows = []
    for t in res.throughput:
        for j in t.by_jobs:
            rows.append((t.workload, t.system.label, j.jobs, _f(j.wps), _f(j.wpcs),
                         _f(j.efficiency, 2)))
    text += (f"One worker process per core, median of "
             f"{res.settings.throughput_runs} runs, beam 5. Efficiency = "
             "WPS(N) / (N x WPS(1)). The paper: \"total throughput is simply the "
             "product of WPCS and the number of cores\".\n\n"
             + _table(("workload", "system", "workers", "total WPS", "WPCS",
                       "efficiency"), rows))
    sweep = _grouped(res.beam_sweep, "system")
    rows = [(system.label, *(_f(r.wpcs) for r in by))
            for (system,), by in sweep.items()]
    beams = [r.beam for r in next(iter(sweep.values()))]
    text += (f"\n### Beam size\n\nWPCS by beam size, "
             f"{res.beam_sweep[0].workload}:\n\n"
             + _table(("system", *[f"beam {b}" for b in beams]), rows)
             + "\n![beam sweep](beam_sweep.png)\n")
    return text


def _quality(res) -> str:
    text = f"## {HEADINGS[4]}\n\n"
    q = res.quality
    # the speed runs of the first workload, beam 5; they time single models
    # only, so a "2x ..." system finds no figure there
    first = res.workloads[0].name if res.workloads else None
    b5 = {r.system: r.wpcs for r in res.speed
          if r.workload == first and r.beam == 5}
    rows = []
    if q:
        for r in q.systems:
            ups = [_x(b5.get(r.system), b5.get(base.system)) for base in BASELINES]
            rows.append((r.system.variant, _f(r.bleu), _f(r.chrf),
                         _f(b5.get(r.system)), *ups, _f(r.wpcs_one_run),
                         f"{r.identical_to_fp32}"))
        text += (f"Multi30k test_2016_flickr, {q.sentences} sentences, beam 5. "
                 "WPCS (speed runs) is the median of the speed section (first "
                 "workload, beam 5), and the speed-ups are its ratios; "
                 "WPCS (test set) is this single pass. \"identical to fp32\" "
                 "counts outputs equal to the numpy fp32 system's.\n\n")
    else:
        text += "> Skipped: no test data (see the note at the top).\n\n"
    for r in paper.TABLE6:
        rows.append((f"{THEIRS}: {r['lang']} {r['mode']}", r["bleu"], "-",
                     r["wpcs"], *["-"] * len(BASELINES), "-", "-"))
    text += _table(("system", "BLEU", "chrF", "WPCS (speed runs)",
                    *[f"speed-up vs {b.name}" for b in BASELINES],
                    "WPCS (test set)", "identical to fp32"), rows)
    if q:
        sig = q.systems[0]
        text += (f"\nsacrebleu signatures: `{sig.bleu_signature}`, "
                 f"`{sig.chrf_signature}`.\n")
        if not res.ensemble:
            text += ("\nNo second model was given, so there is no 2-model "
                     "ensemble row (the paper's \"En-De 2x\"); pass "
                     "`--ensemble PATH`.\n")
    text += ("\nNothing was tuned on the test set: beam 5, both scaling schemes "
             "and the shown examples are fixed in advance.\n")
    return text


def _human() -> str:
    rows = [(f"{THEIRS}: {r['lang']}", r["32-bit"], r["8-bit"])
            for r in paper.TABLE7]
    return (f"## {HEADINGS[5]}\n\nNot reproduced: the paper's human scores "
            "(0-5, 100 sentences, one native speaker per language) need human "
            "judges.\n\n" + _table(("language", "32-bit", "8-bit"), rows))


def _differences(res) -> str:
    text = f"## {HEADINGS[6]}\n\n"
    d = res.differences
    if d is None:
        why = "int8 kernels not available" if res.quality else "no test data"
        return text + f"> Skipped: {why}.\n"
    a, b = (s.variant for s in d.systems)
    pi = paper.IDENTICAL
    rows = [(f"ours, {a} vs {b}", d.identical, d.sentences)]
    if d.sentences > pi["sentences"]:
        rows.append((f"ours, first {pi['sentences']} sentences",
                     d.identical_first_166, pi["sentences"]))
    rows.append((f"{THEIRS}: De-En", pi["identical"], pi["sentences"]))
    text += _table(("run", "identical outputs", "sentences"), rows)
    text += (f"\nFirst {len(d.examples)} differing sentences in test-set "
             f"order; differences in **bold**; times are the mean of "
             f"{res.settings.example_runs} runs.\n\n")
    for e in d.examples:
        rows = [("Source", "", e.source),
                (a, f"{e.time_ms[0]:.0f} ms", e.marked[0]),
                (b, f"{e.time_ms[1]:.0f} ms", e.marked[1])]
        text += (_table(("", "Time", f"sentence {e.index + 1}"), rows)
                 + "\n```\n" + e.explain + "\n```\n\n")
    rows = [(f"{THEIRS}: Table 8 sentence {i + 1}", f"{x} ms", f"{y} ms", _x(x, y))
            for i, (x, y) in enumerate(paper.TABLE8_TIMES_MS)]
    rows += [(f"{THEIRS}: Table 9 sentence {i + 1}", f"{x} ms", f"{y} ms", _x(x, y))
             for i, (x, y) in enumerate(paper.TABLE9_TIMES_MS)]
    text += _table(("example", "32-bit time", "8-bit time", "speed-up"), rows)
    s = d.flip_summary
    text += (f"\n### Where the beam decisions flip\n\nBeyond the paper. For each "
             f"of {d.flip_sentences} differing sentences we take the first "
             f"target position t where the outputs part and score both "
             f"continuations under both systems (forced decoding).\n\n")
    if s.n:
        rows = [("sentences analysed", s.n),
                ("median position t of the first difference", _f(s.median_t)),
                (f"median abs step margin under {a} (nats)",
                 _f(s.median_abs_step_margin_a, 3)),
                (f"median abs step margin under {b} (nats)",
                 _f(s.median_abs_step_margin_b, 3)),
                ("near ties (both abs margins < 0.5 nats)", s.step_tie),
                ("each system prefers its own token at t", s.preference_changed),
                (f"{a} scores its own output higher", s.a_prefers_own_output),
                (f"{b} scores its own output higher", s.b_prefers_own_output)]
        text += _table(("", ""), rows)
    if "attention.png" in res.plots:
        text += ("\nAttention of the first example, both systems:\n\n"
                 "![attention](attention.png)\n")
    text += ("\n> The examples above are test-set sentences: keep generated "
             "reports out of version control.\n")
    return text


def _batch(res) -> str:
    text = (f"## {HEADINGS[7]}\n\nBeyond the paper, whose conclusion names "
            "batch decoding as future work. B sentences x 5 hypotheses are the "
            "rows of one matrix at every step (`nmt8.batch`; finished "
            "sentences leave the batch), so the weights stream once per step "
            "for the whole batch. The PyTorch peer batches the same sentences "
            "the way a PyTorch user does (sources padded, masks in the "
            "encoder and the attention) inside the same search, so nmt8 and "
            "PyTorch at one batch size are like for like.\n")
    b = res.batch
    if b is None:
        return text + "\n> Skipped (settings.batch is off).\n"
    for note in b.notes:
        text += f"\n> Note: {note}\n"
    for (wname,), rows in _grouped(b.speed, "workload").items():
        sizes = sorted({r.batch for r in rows})
        by = {(r.system, r.batch): r for r in rows}
        systems = list(dict.fromkeys(r.system for r in rows))
        first = rows[0]
        table = [(s.label, *(_spread(by.get((s, n))) for n in sizes))
                 for s in systems]
        text += (f"\n**{wname}**: words per core second, median (min-max) of "
                 f"{len(first.runs)} interleaved runs, {first.sentences} "
                 f"sentences ({first.words} words), beam {first.beam}, one "
                 "core.\n\n"
                 + _table(("system", *[f"batch {n}" for n in sizes]), table))
        med = {k: r.wpcs_median for k, r in by.items()}
        ratios = [(s.label + " / batch 1", *(_x(med.get((s, n)), med.get((s, 1)))
                                            for n in sizes)) for s in systems]
        for a, z in ((NMT8_INT8, TORCH_FP32), (NMT8_INT8, TORCH_INT8),
                     (NMT8_INT8, NMT8_FP32)):
            if a in systems and z in systems:
                ratios.append((f"{a.label} / {z.label}, same batch",
                               *(_x(med.get((a, n)), med.get((z, n)))
                                 for n in sizes)))
        text += "\nRatios of the medians:\n\n" + _table(
            ("", *[f"batch {n}" for n in sizes]), ratios)
    if b.invariance:
        rows = [(i.system.label, i.workload, i.sentences, i.batch,
                 i.translations_differ, i.scores_differ) for i in b.invariance]
        text += ("\n### Batch invariance\n\nOutputs at batch B that differ "
                 "from batch 1 (beam 5): another translation, or another "
                 "score in any bit. nmt8 int8 quantizes each row on its own "
                 "and sums exactly, so a sentence cannot see its neighbours; "
                 "fp32 BLAS may round rows differently for another row count; "
                 "PyTorch's dynamic int8 takes one activation scale per "
                 "product, shared by the whole batch.\n\n"
                 + _table(("system", "workload", "sentences", "batch B",
                           "translations differ", "scores differ"), rows))
    d = b.dask
    if d is not None:
        rows = [(r.workers, _f(r.lines_per_s_min), _f(r.lines_per_s_median),
                 _f(r.lines_per_s_max)) for r in d.by_workers]
        text += (f"\n### Dask on this machine\n\n`nmt8.dask.translate_file` "
                 f"on a LocalCluster of single-threaded worker processes, "
                 f"{d.system.label}, {d.workload}, a generated file of "
                 f"{d.lines} lines of our own sentences, one sentence at a "
                 f"time per worker; {len(d.by_workers[0].runs)} runs after an "
                 f"untimed warm-up. This machine has {res.machine.cores} "
                 "core(s).\n\n"
                 + _table(("workers", "lines/s min", "lines/s median",
                           "lines/s max"), rows)
                 + (f"\nMost workers / one worker: {d.ratio:.2f}x.\n"
                    if d.ratio is not None else ""))
    k = b.kernels
    if k is not None:
        Ps = sorted({p.P for p in k.points})
        by = {(p.method, p.P): p.gops for p in k.points}
        methods = list(dict.fromkeys(p.method for p in k.points))
        rows = [(m, *(_f(by.get((m, P))) for P in Ps)) for m in methods]
        text += (f"\n### Kernels against P\n\nGOP/s of one product with the "
                 f"{k.shape[0]} x {k.shape[1]} recurrent matrix of the "
                 "paper-size model against P, the rows of X (beam x batch: "
                 "P = 5 is the paper's beam, P = 320 a batch of 64); "
                 "`nmt8.lab.bench`, one thread, weights from cache, median of "
                 "interleaved rounds.\n\n"
                 + _table(("method", *[f"P={P}" for P in Ps]), rows))
        if k.blocked is None:
            text += ("\nNo naive/blocked crossover is marked: the blocked "
                     "kernel is not built yet (or this CPU cannot run it); "
                     "the int8 kernels above are the naive ones.\n")
        elif k.crossover is None:
            text += (f"\nThe blocked kernel ({k.blocked}) does not overtake "
                     f"the naive one ({k.naive}) at the P measured here.\n")
        else:
            text += (f"\nCrossover: the blocked kernel ({k.blocked}) has more "
                     f"GOP/s than the naive one ({k.naive}) from P = "
                     f"{k.crossover} on, in this run.\n")
    return text


def _spread(r) -> str:
    if r is None:
        return "-"
    return f"{r.wpcs_median:,.1f} ({r.wpcs_min:,.1f}-{r.wpcs_max:,.1f})"
