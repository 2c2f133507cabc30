"""The "training quantized models" section of the ``nmt8 reproduce``
report: the answer to Section 7's question, for int8 and int4 (issue 23).

:func:`section` prints int4's group size chosen on val, then one row per
system (fp32, int8 and int4 after training, int4 and int8 after
quantization-aware fine-tuning) with BLEU, the paired bootstrap against
fp32 (difference, 95% interval, p), the outputs changed, and for a QAT row
the same against post-training at its precision; then the answer in one
sentence, computed from the rows.

Does not: translate or score anything (``nmt8.lab.outputs.answer``).
"""

from __future__ import annotations

from nmt8.lab.outputs.answer import INT4_POST, INT4_QAT, INT8_POST, INT8_QAT
from nmt8.lab.report.markdown import note, num, table

QAT = "Training quantized models (the paper's future work)"


def _paired(p) -> tuple:
    if p is None:
        return ("", "", "")
    return (f"{p.delta:+.2f}", f"{p.low:+.2f} to {p.high:+.2f}",
            f"{p.p_value:.3f}")


def section(res) -> str:
    text = (f"## {QAT}\n\nBeyond the paper: \"We would like to see if "
            "training quantized models changes the results for better or "
            "worse\" (Section 7), for int8 and a rung below it, int4 (4-bit "
            "weights in groups, int8 activations). Multi30k "
            "test_2016_flickr, beam 5, sacrebleu BLEU; the paired bootstrap "
            "(sacrebleu's, Koehn 2004) sets each system against fp32 "
            "(BLEU b - a, its 95% interval, p), and each quantization-aware "
            "(QAT) model against post-training quantization at its "
            "precision.\n")
    a = res.quantized_training
    if a is None:
        return text + note("Skipped: no test data (see the note at the top), "
                           "or settings.qat is off.")
    g = a.group
    if g is not None:
        text += (f"\nint4's group size, chosen on {g.split} ({g.sentences} "
                 "sentences, beam 5): "
                 + ", ".join(f"{k} {num(v, 2)}" for k, v in g.bleu.items())
                 + f" BLEU -> **{g.chosen}**.\n")
    rows = [("fp32", res.model, num(a.fp32_bleu, 2), "", "", "", "", "", "",
             "")]
    for r in a.rows:
        rows.append((f"{r.name} ({r.system.variant})", r.model, num(r.bleu, 2),
                     *_paired(r.vs_fp32), r.changed, *_paired(r.vs_post)))
    text += ("\n" + table(("system", "model", "BLEU", "vs fp32", "95% interval",
                           "p", "outputs changed", "vs post-training",
                           "95% interval", "p"), rows)
             + f"\n{a.sentences} sentences, {a.n_samples} bootstrap "
             "resamples; \"outputs changed\": outputs that differ from "
             "fp32's.\n")
    text += "".join(note(n) for n in a.notes)
    return text + _answer(a)


def _answer(a) -> str:
    """The answer in one sentence per precision, from the rows."""
    out = []
    for post, qat in ((INT4_POST, INT4_QAT), (INT8_POST, INT8_QAT)):
        p, q = a.row(post), a.row(qat)
        if p is None or q is None:
            continue
        d = q.vs_post
        verdict = ("within noise of" if d.low <= 0 <= d.high else
                   "better than" if d.low > 0 else "worse than")
        out.append(f"- {q.name.split()[0]}: on this run, the quantization-"
                   f"aware model ({num(q.bleu, 2)} BLEU) is {verdict} "
                   f"quantization after training ({num(p.bleu, 2)}; "
                   f"difference {d.delta:+.2f}, 95% interval {d.low:+.2f} to "
                   f"{d.high:+.2f}, p {d.p_value:.3f}), against fp32 "
                   f"{num(a.fp32_bleu, 2)}.")
    if not out:
        return ""
    return "\nThe answer, per precision:\n\n" + "\n".join(out) + "\n"
