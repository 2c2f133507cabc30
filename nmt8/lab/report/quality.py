"""The quality sections of the ``nmt8 reproduce`` report: Tables 6 to 9.

:func:`table6` (BLEU and chrF of every system beside the paper's rows, with
the speed-ups of the speed section), :func:`human` (Table 7, the paper's
only: it needs human judges) and :func:`differences` (Tables 8 and 9: how
the 32-bit and 8-bit outputs differ, and where the beams part).

Does not: translate or score anything (``nmt8.lab.outputs.quality``).
"""

from __future__ import annotations

from nmt8.lab.figures import paper
from nmt8.lab.report.markdown import THEIRS, note, num, pairs, ratio, table
from nmt8.lab.reproduce.systems import BASELINES

TABLE6 = "Table 6: BLEU and speed"
HUMAN = "Table 7: human evaluation"
DIFFERENCES = "Tables 8 and 9: 32-bit and 8-bit outputs compared"


def table6(res) -> str:
    """Our rows of each direction (the model's, then the others' shipped
    models), each followed by the paper's rows of that direction."""
    text = f"## {TABLE6}\n\n"
    q = res.quality
    # the speed runs of the first workload, beam 5; they time the model's
    # single models only, so a "2x ..." system or another direction finds
    # no figure there
    first = res.workloads[0].name if res.workloads else None
    b5 = {r.system: r.wpcs for r in res.speed
          if r.workload == first and r.beam == 5}
    if q:
        text += (f"Multi30k test_2016_flickr, {q.sentences} sentences, beam 5. "
                 "WPCS (speed runs) is the median of the speed section (first "
                 f"workload, beam 5: the {q.lang} model), and the speed-ups "
                 "are its ratios; WPCS (test set) is this single pass. "
                 "\"identical to fp32\" counts outputs equal to the numpy "
                 "fp32 system's of the same models.\n\n")
    else:
        text += "> Skipped: no test data (see the note at the top).\n\n"
    theirs, rows = list(paper.TABLE6), []
    for k, d in enumerate([q, *res.directions] if q else []):
        rows += [_ours(d.lang, r, b5 if k == 0 else {}) for r in d.systems]
        same = [t for t in theirs if t["lang"].split()[0] == d.lang]
        rows += [_theirs(t) for t in same]
        theirs = [t for t in theirs if t not in same]
    rows += [_theirs(t) for t in theirs]
    text += table(("pair", "system", "BLEU", "chrF", "WPCS (speed runs)",
                   *[f"speed-up vs {b.name}" for b in BASELINES],
                   "WPCS (test set)", "identical to fp32"), rows)
    if q:
        sig = q.systems[0]
        text += (f"\nsacrebleu signatures: `{sig.bleu_signature}`, "
                 f"`{sig.chrf_signature}`.\n")
        if not res.ensemble:
            text += (f"\nNo second {q.lang} model was given, so there is no "
                     f"{q.lang} 2-model ensemble row; pass `--ensemble PATH`.\n")
    for d in res.directions:
        text += (f"\n{d.lang}: the shipped {d.model}"
                 + (f" and {d.ensemble} (2x)." if d.ensemble else
                    f"; no second {d.lang} model is shipped yet, so there is "
                    f"no {d.lang} 2x row.") + "\n")
    text += ("\nNothing was tuned on the test set: beam 5, both scaling schemes "
             "and the shown examples are fixed in advance.\n")
    return text


def _ours(lang, r, b5) -> tuple:
    """One row of ours; b5: {System: speed-run WPCS} of the same model."""
    ups = [ratio(b5.get(r.system), b5.get(base.system)) for base in BASELINES]
    return (lang, r.system.variant, num(r.bleu), num(r.chrf),
            num(b5.get(r.system)), *ups, num(r.wpcs_one_run),
            f"{r.identical_to_fp32}")


def _theirs(t) -> tuple:
    return (f"{THEIRS}: {t['lang']}", t["mode"], t["bleu"], "-", t["wpcs"],
            *["-"] * len(BASELINES), "-", "-")


def human() -> str:
    rows = [(f"{THEIRS}: {r['lang']}", r["32-bit"], r["8-bit"])
            for r in paper.TABLE7]
    return (f"## {HUMAN}\n\nNot reproduced: the paper's human scores "
            "(0-5, 100 sentences, one native speaker per language) need human "
            "judges.\n\n" + table(("language", "32-bit", "8-bit"), rows))


def differences(res) -> str:
    text = f"## {DIFFERENCES}\n\n"
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
    text += table(("run", "identical outputs", "sentences"), rows)
    text += (f"\nFirst {len(d.examples)} differing sentences in test-set "
             f"order; differences in **bold**; times are the mean of "
             f"{res.settings.example_runs} runs.\n\n")
    for e in d.examples:
        rows = [("Source", "", e.source),
                (a, f"{e.time_ms[0]:.0f} ms", e.marked[0]),
                (b, f"{e.time_ms[1]:.0f} ms", e.marked[1])]
        text += (table(("", "Time", f"sentence {e.index + 1}"), rows)
                 + "\n```\n" + e.explain + "\n```\n\n")
    rows = [(f"{THEIRS}: Table 8 sentence {i + 1}", f"{x} ms", f"{y} ms", ratio(x, y))
            for i, (x, y) in enumerate(paper.TABLE8_TIMES_MS)]
    rows += [(f"{THEIRS}: Table 9 sentence {i + 1}", f"{x} ms", f"{y} ms", ratio(x, y))
             for i, (x, y) in enumerate(paper.TABLE9_TIMES_MS)]
    text += table(("example", "32-bit time", "8-bit time", "speed-up"), rows)
    s = d.flip_summary
    text += (f"\n### Where the beam decisions flip\n\nBeyond the paper. For each "
             f"of {d.flip_sentences} differing sentences we take the first "
             f"target position t where the outputs part and score both "
             f"continuations under both systems (forced decoding).\n\n")
    if s.n:
        rows = [("sentences analysed", s.n),
                ("median position t of the first difference", num(s.median_t)),
                (f"median abs step margin under {a} (nats)",
                 num(s.median_abs_step_margin_a, 3)),
                (f"median abs step margin under {b} (nats)",
                 num(s.median_abs_step_margin_b, 3)),
                ("near ties (both abs margins < 0.5 nats)", s.step_tie),
                ("each system prefers its own token at t", s.preference_changed),
                (f"{a} scores its own output higher", s.a_prefers_own_output),
                (f"{b} scores its own output higher", s.b_prefers_own_output)]
        text += pairs(rows)
    attention = ("\nAttention of the first example, both systems:\n\n"
                 "![attention](attention.png)\n")
    return (text + (attention if "attention.png" in res.plots else "")
            + note("The examples above are test-set sentences: keep "
                   "generated reports out of version control."))
