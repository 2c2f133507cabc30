"""The markdown report of ``nmt8 reproduce``: one section per table of the paper.

:func:`render` turns the :class:`nmt8.lab.reproduce.results.Results` of
``nmt8.lab.reproduce.run.reproduce`` (the same run saved as ``results.json``)
into ``report.md``, reading their fields; systems print by their
``System.label`` (speed) or ``System.variant`` (Table 6). The paper's own
figures (``nmt8.lab.figures.paper``) sit in the same tables as ours, in rows
labelled ``nmt8.lab.figures.paper.LABEL``.

This module writes the head, the machine and Tables 4-5; the other sections
are in ``report_speed`` (Tables 1-3), ``report_quality`` (Tables 6-9) and
``report_beyond`` (batch decoding, memory) and ``report_answer``
(training quantized models), tables and numbers in
``markdown``.

Does not: measure anything; every number comes from the results.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from nmt8.lab.figures import paper
from nmt8.lab.report import (
    answer as report_answer,
)
from nmt8.lab.report import (
    beyond as report_beyond,
)
from nmt8.lab.report import (
    quality as report_quality,
)
from nmt8.lab.report import (
    speed as report_speed,
)
from nmt8.lab.report.markdown import THEIRS, note, num, pairs, table
from nmt8.lab.reproduce.results import Results

MACHINE = "Machine and versions"
DATA = "Tables 4 and 5: models and test data"
HEADINGS = (  # the section headings, in order (tests check them)
    MACHINE, DATA, report_speed.PROFILES, report_speed.SPEED,
    report_quality.TABLE6, report_quality.HUMAN, report_quality.DIFFERENCES,
    report_beyond.BATCH, report_beyond.MEMORY, report_answer.QAT,
)


def render(res: Results) -> str:
    parts = [_head(res), _machine(res), _data(res),
             report_speed.profiles(res), report_speed.speed(res),
             report_quality.table6(res), report_quality.human(),
             report_quality.differences(res), report_beyond.batch(res),
             report_beyond.memory(res), report_answer.section(res)]
    return "\n".join(parts)


def write_report(res: Results, out_dir) -> str:
    """Render ``res`` as markdown into out_dir/report.md."""
    text = render(res)
    (Path(out_dir) / "report.md").write_text(text, encoding="utf-8")
    return text


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
    lines += [f"> Note: {n}" for n in res.notes]
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
    busy = note("The load average shows other work on this machine during "
                "the run: speeds are lower and noisier than on a quiet one.")
    return (f"## {MACHINE}\n\n" + pairs(rows) + (busy if m.busy else "")
            + "\nEvery timing runs one sentence at a time with one BLAS/torch "
            "thread per process, as the paper gives each core one sentence.\n")


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
    text = (f"## {DATA}\n\n"
            + table(("model", "training sentences", "source vocabulary",
                      "target vocabulary", "E", "H"), rows))
    d = res.data
    rows = []
    if d.found:
        rows.append((f"Multi30k {d.split} ({d.lang})", d.sentences,
                     num(d.src_len), num(d.tgt_len)))
    for r in paper.TABLE5:
        rows.append((f"{THEIRS}: {r['lang']}", r["sentences"], r["src_len"],
                     r["tgt_len"]))
    text += "\n" + table(("test set", "sentences", "source length (words)",
                           "target length (words)"), rows)
    rows = [(w.name, w.sentences, w.words, w.steps if w.steps else "until </s>")
            for w in res.workloads]
    text += ("\nSpeed workloads (WPCS counts source words). The paper-size model "
             "has random weights: decoding speed depends on the shapes, not on "
             "trained values, so it is measured on random source ids, one per "
             "word of the same sentences, decoding a fixed "
             f"round({res.settings.tgt_ratio} x words) steps.\n\n"
             + table(("workload", "sentences", "source words", "decoder steps"),
                      rows))
    return text
