"""The quality experiments of ``nmt8 reproduce``: Tables 5, 6, 8 and 9.

Quinn & Ballesteros (2018), Sections 4-5: BLEU of the 32-bit and 8-bit
decoders on the test set (Table 6), and how their outputs differ (Tables
8 and 9, Section 5: "only 51 [of 166] were identical"). Here:

* :func:`load_test` and :func:`data_stats` - Multi30k test_2016_flickr
  (Table 5);
* :func:`quality` - BLEU and chrF (sacrebleu) of nmt8 fp32 and int8 with
  per-tensor and per-row scales, beam 5, and of a 2-model ensemble when
  one is given;
* :func:`other_directions` - Table 6's rows of the other direction (En-De
  when the model is De-En): the shipped model (1x) and, once a second seed
  is shipped (:data:`SHIPPED`), their ensemble (2x), fp32 and int8;
* :func:`differences` - identical outputs, bold-diff examples with their
  times, and where the beams part (``nmt8.lab.outputs.flips.flip``).

Does not: choose anything on the test set (beam 5, both schemes and the
shown examples are fixed in advance), or time speed runs (``nmt8.lab.speed.speed``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nmt8.lab.figures import paper
from nmt8.lab.kernels.machine import int8_available
from nmt8.lab.outputs import diff, flips
from nmt8.lab.reproduce.records import (
    DataStats,
    Differences,
    Example,
    Quality,
    QualityResult,
)
from nmt8.lab.reproduce.settings import Settings
from nmt8.lab.reproduce.systems import NMT8_FP32, NMT8_INT8, System
from nmt8.lab.speed import measure
from nmt8.lab.speed.speed import ladder_systems, model_label
from nmt8.model.model import Model, load_model
from nmt8.model.params import resolve
from nmt8.serve.threads import blas_threads

SPLIT = "test_2016_flickr"
# the shipped models of each direction: (source, target language) ->
# (the single model, the second seed its 2x ensemble adds when shipped)
SHIPPED = {("de", "en"): ("de-en", "de-en-seed2"),
           ("en", "de"): ("en-de", "en-de-seed2")}


def lang(src: str = "de", tgt: str = "en") -> str:
    """A direction as the paper names it: ``De-En``."""
    return f"{src.capitalize()}-{tgt.capitalize()}"


def load_test(data=None, limit=None, src: str = "de", tgt: str = "en"):
    """(sources, references) of test_2016_flickr, src -> tgt, or None."""
    from nmt8.data import DataMissing, read_lines

    try:
        sources = read_lines(SPLIT, src, data, limit)
        refs = read_lines(SPLIT, tgt, data, limit)
    except DataMissing:
        return None
    return sources, refs


def data_stats(data, test, direction: str = "De-En") -> DataStats:
    """Table 5 of our test set: sentences and mean lengths in words."""
    from nmt8.data import data_dir

    if test is None:
        return DataStats(found=False)
    src, ref = test
    return DataStats(found=True, dir=str(data_dir(data)), split=SPLIT,
                     sentences=len(src),
                     src_len=float(np.mean([measure.count_words(s) for s in src])),
                     tgt_len=float(np.mean([measure.count_words(s) for s in ref])),
                     lang=direction)


@dataclasses.dataclass
class Translations:
    """What one system made of the test set (kept out of results.json)."""

    src_ids: list[list[int]]
    ids: list[list[int]]  # outputs, without </s>
    text: list[str]
    seconds: list[float]  # decode time of each sentence


def translate_all(tr, src_lines, progress=True, desc="translate") -> Translations:
    """Ids, text and per-sentence seconds of every line, one at a time."""
    from tqdm.auto import tqdm

    ids = tr.tokenize(src_lines)
    out = Translations(ids, [], [], [])
    for s in tqdm(ids, desc=desc, disable=not progress, leave=False):
        (o,), (sec,) = tr.translate_ids([s], with_seconds=True)
        out.ids.append(o)
        out.text.append(tr.tgt_bpe.decode(o))
        out.seconds.append(sec)
    return out


@dataclasses.dataclass
class QualityRun:
    """:class:`Quality` and what :func:`differences` and the plots reuse."""

    quality: Quality
    translators: dict  # System -> its Translator
    translations: dict  # System -> Translations


def quality_systems(ensemble: bool) -> list[System]:
    """Table 6's rows: every rung of the ladder this machine runs (fp32,
    int8 per tensor and per row, ...); 2x fp32 and int8 when ensembled."""
    out = ladder_systems()
    if ensemble:
        out.append(dataclasses.replace(NMT8_FP32, models=2))
        if int8_available():
            out.append(dataclasses.replace(NMT8_INT8, models=2))
    return out


def quality(model: Model, src, refs, ensemble: Model | None = None,
            progress=True, systems: list[System] | None = None) -> QualityRun:
    """BLEU/chrF of ``systems`` (default :func:`quality_systems`: fp32 and
    int8 per-tensor and per-row, ...), beam 5, and of a 2-model ensemble
    when given; identical outputs against the fp32 system of the same
    models (which ``systems`` must put first)."""
    words = sum(measure.count_words(s) for s in src)
    results, trs, outs = [], {}, {}
    if systems is None:
        systems = quality_systems(ensemble is not None)
    for system in systems:
        models = [model, ensemble] if system.models == 2 else model
        trs[system] = tr = system.build(models, 5)
        with blas_threads(1):
            t = outs[system] = translate_all(tr, src, progress, system.variant)
        q = measure.quality(t.text, refs)
        base = dataclasses.replace(NMT8_FP32, models=system.models)
        same = measure.identical(t.text, outs[base].text)
        results.append(QualityResult(
            system=system, bleu=q["bleu"], chrf=q["chrf"],
            bleu_signature=q["bleu_signature"], chrf_signature=q["chrf_signature"],
            wpcs_one_run=measure.wpcs(words, sum(t.seconds)),
            identical_to_fp32=same, text=t.text))
    cfg = model.cfg
    return QualityRun(Quality(
        len(src), words, results, lang(cfg.src_lang, cfg.tgt_lang),
        model_label(model),
        model_label(ensemble) if ensemble is not None else None), trs, outs)


def shipped(name) -> bool:
    """Is there a model by this name (a shipped one) or at this path?"""
    try:
        resolve(name)
    except FileNotFoundError:
        return False
    return True


def other_directions(model: Model, data=None, limit: int | None = None,
                     progress=True) -> list[Quality]:
    """Table 6 of every direction of :data:`SHIPPED` other than the
    model's: fp32 and int8 of its single model on its test set (sources
    and references swapped), and of the 2-model ensemble when the second
    seed is shipped. A direction without its model or test data is left
    out."""
    out = []
    for (src_lang, tgt_lang), (first, second) in SHIPPED.items():
        if (src_lang, tgt_lang) == (model.cfg.src_lang, model.cfg.tgt_lang):
            continue
        test = load_test(data, limit, src_lang, tgt_lang)
        if test is None or not shipped(first):
            continue
        one = load_model(first)
        two = load_model(second) if shipped(second) else None
        systems = [NMT8_FP32] + ([NMT8_INT8] if int8_available() else [])
        if two is not None:
            systems += [dataclasses.replace(s, models=2) for s in systems]
        out.append(quality(one, *test, two, progress, systems).quality)
    return out


def differences(q: QualityRun, src, settings: Settings, a: System = NMT8_FP32,
                b: System = NMT8_INT8, progress=True) -> Differences | None:
    """Tables 8/9: identical count, bold-diff examples with times, and the
    step and score margin where the beams part. None without system b."""
    from tqdm.auto import tqdm

    if b not in q.translations:
        return None
    A, B = q.translations[a], q.translations[b]
    tra, trb = q.translators[a], q.translators[b]
    names = (a.variant, b.variant)
    differ = [i for i, (x, y) in enumerate(zip(A.ids, B.ids)) if x != y]
    n166 = min(paper.IDENTICAL["sentences"], len(src))
    todo = differ if settings.flip_sentences is None else \
        differ[: settings.flip_sentences]
    parted = {i: flips.flip(tra, trb, A.src_ids[i], A.ids[i], B.ids[i], names=names)
             for i in tqdm(todo, desc="flips", disable=not progress, leave=False)}
    examples = []
    for i in tqdm(differ[: settings.examples], desc="examples",
                  disable=not progress, leave=False):
        times = []
        with blas_threads(1):
            for tr in (tra, trb):
                secs = [tr.translate_ids([A.src_ids[i]], with_seconds=True)
                        .seconds[0] for _ in range(settings.example_runs)]
                times.append(1000 * float(np.mean(secs)))
        f = parted.get(i) or flips.flip(tra, trb, A.src_ids[i], A.ids[i], B.ids[i],
                                      names=names)
        examples.append(Example(
            index=i, source=src[i], text=(A.text[i], B.text[i]),
            marked=diff.word_diff(A.text[i], B.text[i]), time_ms=tuple(times),
            flip=f, explain=f.explain(tra.tgt_bpe)))
    return Differences(
        systems=(a, b), sentences=len(src), identical=len(src) - len(differ),
        identical_first_166=n166 - sum(i < n166 for i in differ),
        flip_sentences=len(todo),
        flip_summary=flips.summarize_flips(list(parted.values())),
        examples=examples)
