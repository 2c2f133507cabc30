"""Would training quantized models change the results? The paper's future
work (Section 7 of Quinn & Ballesteros 2018), measured for int8 and a rung
below it, int4 (issue 23).

On the test set at beam 5, each quantized system against fp32 (the
reproduced model, Table 6's first row): BLEU, sacrebleu's paired bootstrap
(``nmt8.lab.outputs.significance``: the difference, its 95% interval, p)
and how many outputs changed. The rows:

* int8 after training (Table 6's int8 per-tensor row, reused);
* int4 after training, with the group size chosen on val
  (:func:`choose_group`: val BLEU of every ``Settings.int4_groups``);
* int4 after quantization-aware fine-tuning: the shipped model of
  :data:`QAT4` (``de-en-qat4``, fine-tuned from ``de-en`` with fake int4
  quantization, ``nmt8.train.qat``), decoded in int4 at the group size it
  was trained with;
* int8 after quantization-aware fine-tuning, when such a model is given
  (``nmt8 reproduce --qat8-model DIR``; none is shipped: the shipped
  models' size budget).

A QAT row is also set against the post-training row of its precision
(paired bootstrap, QAT - post-training): that is the question's answer.

Does not: train (``nmt8 train --qat``), choose anything on test, or
format (``nmt8.lab.report.answer``).
"""

from __future__ import annotations

from nmt8.lab.kernels.machine import int8_available
from nmt8.lab.outputs import significance
from nmt8.lab.outputs.quality import QualityRun, shipped, translate_all
from nmt8.lab.reproduce.records import (
    AnswerRow,
    GroupChoice,
    Paired,
    QuantizedTraining,
)
from nmt8.lab.reproduce.settings import Settings
from nmt8.lab.reproduce.systems import NMT8_FP32, NMT8_INT8, System
from nmt8.lab.speed import measure
from nmt8.lab.speed.speed import model_label
from nmt8.model.model import Model, load_model
from nmt8.serve.threads import blas_threads

VAL = "val"
# the shipped int4 QAT model of each direction (source, target language):
# (its name, the model it was fine-tuned from, the group size it was
# trained with: its CARD.md)
QAT4 = {("de", "en"): ("de-en-qat4", "de-en", "group64")}
INT8_POST, INT4_POST = "int8 post-training", "int4 post-training"
INT4_QAT, INT8_QAT = "int4 QAT", "int8 QAT"


def choose_group(model: Model, settings: Settings, data=None, progress=True
                 ) -> GroupChoice | None:
    """Val BLEU of int4 at every group size of ``settings.int4_groups``,
    beam 5; the highest wins (ties: the one listed last, the larger group,
    which stores fewer steps). None without the val split or int4
    kernels."""
    from nmt8.data import DataMissing, read_lines

    if not int8_available():
        return None
    cfg = model.cfg
    try:
        src = read_lines(VAL, cfg.src_lang, data, settings.val_sentences)
        refs = read_lines(VAL, cfg.tgt_lang, data, settings.val_sentences)
    except DataMissing:
        return None
    bleu = {}
    for scheme in settings.int4_groups:
        system = System(precision="int4", scheme=scheme)
        with blas_threads(1):
            t = translate_all(system.build(model, 5), src, progress,
                              f"val {system.variant}")
        bleu[scheme] = measure.quality(t.text, refs)["bleu"]
    chosen = max(reversed(bleu), key=bleu.get)  # max keeps the first best
    return GroupChoice(VAL, len(src), bleu, chosen)


def _paired(a, b, refs, n: int) -> Paired:
    p = significance.paired_bleu(a, b, refs, n)
    return Paired(p.delta, p.low, p.high, p.p_value)


def answer(q: QualityRun, model: Model, src, refs, settings: Settings,
           data=None, qat8=None, progress=True) -> QuantizedTraining:
    """The answer table (see the module): ``q`` is Table 6's run on the
    same ``src``/``refs`` (its fp32 and int8 outputs are reused);
    ``qat8``: an int8 QAT model (name, path or Model) or None."""
    n = settings.bootstrap_samples
    fp32 = q.translations[NMT8_FP32].text
    fp32_bleu = next(r.bleu for r in q.quality.systems if r.system == NMT8_FP32)
    out = QuantizedTraining(len(src), fp32_bleu, n, None, [])
    label = model_label(model)
    if not int8_available():
        out.notes.append("nmt8's C kernels are not compiled: no int8 or "
                         "int4 rows.")
        return out

    def texts(system, m):
        if m is model and system in q.translations:
            return q.translations[system].text  # Table 6 decoded it
        with blas_threads(1):
            return translate_all(system.build(m, 5), src, progress,
                                 system.variant).text

    def row(name, system, m, post=None):
        hyp = texts(system, m)
        r = AnswerRow(name, model_label(m), system,
                      measure.quality(hyp, refs)["bleu"],
                      _paired(fp32, hyp, refs, n),
                      sum(a != b for a, b in zip(fp32, hyp)))
        if post is not None:
            r.vs_post = _paired(post[1], hyp, refs, n)
        out.rows.append(r)
        return r, hyp

    _, int8_post = row(INT8_POST, NMT8_INT8, model)
    out.group = choose_group(model, settings, data, progress)
    if out.group is None:
        out.notes.append("No val split: int4 after training uses the "
                         "default group size, not one chosen on val.")
        int4 = System(precision="int4")
    else:
        int4 = System(precision="int4", scheme=out.group.chosen)
    _, int4_post = row(INT4_POST, int4, model)
    direction = (model.cfg.src_lang, model.cfg.tgt_lang)
    if direction in QAT4 and shipped(QAT4[direction][0]):
        name, base, group = QAT4[direction]
        row(INT4_QAT, System(precision="int4", scheme=group), load_model(name),
            (INT4_POST, int4_post))
        if not label.startswith(f"{base} "):
            out.notes.append(f"{name} was fine-tuned from {base}, not from "
                             f"{label}: its rows compare it with another "
                             "model's fp32.")
    else:
        out.notes.append(f"No int4 QAT model is shipped for "
                         f"{'-'.join(direction)}: no int4 QAT row.")
    if qat8 is not None:
        m8 = qat8 if isinstance(qat8, Model) else load_model(qat8)
        row(INT8_QAT, NMT8_INT8, m8, (INT8_POST, int8_post))
    else:
        out.notes.append("No int8 QAT model was given (none is shipped: the "
                         "shipped models' size budget): no int8 QAT row; "
                         "pass `--qat8-model DIR` (made by `nmt8 train "
                         "--qat int8 ...` and `--export-from`).")
    return out

