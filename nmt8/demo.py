"""``nmt8 demo``: the paper's 32-bit and 8-bit decoders side by side on a
few sentences of our own, one sentence at a time on one thread (Section 3:
"each CPU core translates a single sentence at a time").

Prints the CPU and the thread limits in force while timing, each source
with the fp32 and the int8 output and its time (the median of interleaved
runs), then each system's source words per second, the int8 speed-up
against both fp32 baselines (numpy's product, what a user already has, and
nmt8's C fp32 kernel, built like the int8 one) and how many outputs are
identical (Section 5 compares the two systems' outputs the same way). Without a model named, both
shipped directions: German→English, then English→German, each on our own
sentences in its source language.

Does not: measure with the care of ``nmt8.lab.speed.measure`` (three runs, a
handful of sentences: a first look, not a result), or score quality.
"""

from __future__ import annotations

from statistics import median

from nmt8.serve.threads import blas_threads, describe
from nmt8.serve.translator import Translator
from nmt8.testing import DEMO_ENGLISH, DEMO_SENTENCES

SOURCES = {"de": DEMO_SENTENCES, "en": DEMO_ENGLISH}  # by source language


def demo(models=None, beam: int = 5, runs: int = 3) -> int:
    """Translate our demo sentences with fp32 and int8 ``models`` (names or
    paths; None: each shipped direction in turn) at ``beam`` and print the
    comparison; returns exit status 0."""
    from nmt8.lab.kernels.machine import machine_info

    with blas_threads(1):
        limits = describe()
    print(f"CPU: {machine_info().cpu or 'unknown'}; one sentence at a time "
          f"on one thread (while timing: {limits}); median of {runs} "
          "interleaved runs")
    for m in ([["de-en"], ["en-de"]] if models is None else [list(models)]):
        _compare(m, beam, runs)
    return 0


def _compare(models, beam: int, runs: int) -> None:
    """fp32 and int8 of one model (or ensemble), printed."""
    systems = [Translator(models, precision="fp32", beam=beam)]
    missing = None
    try:
        systems.append(Translator(models, precision="fp32", kernel="auto",
                                  beam=beam))
        systems.append(Translator(models, precision="int8", beam=beam))
    except ImportError as err:  # kernels not compiled
        missing = err
    labels = ["fp32", "fp32C", "int8"][:len(systems)]
    cfg = systems[0].models[0].cfg
    if cfg.src_lang not in SOURCES:
        raise ValueError(f"nmt8 demo has sentences in {', '.join(SOURCES)}; "
                         f"the model translates from {cfg.src_lang!r}")
    sentences = SOURCES[cfg.src_lang]
    timed = [[] for _ in systems]
    with blas_threads(1):
        for tr in systems:
            tr.translate(sentences[:1])  # warm-up
        for _ in range(runs):
            for tr, res in zip(systems, timed):
                res.append(tr.translate(sentences, with_seconds=True))
    texts = [res[0].outputs for res in timed]
    secs = [[median(r.seconds[i] for r in res) for i in range(len(sentences))]
            for res in timed]  # per system, per sentence
    print(f"\n== {' + '.join(map(str, models))}: {cfg.src_lang} -> {cfg.tgt_lang}")
    for i, src in enumerate(sentences):
        print(f"\n{cfg.src_lang.upper():5s} {src}")
        for label, hyp, sec in zip(labels, texts, secs):
            print(f"{label:5s} {hyp[i]}   [{sec[i] * 1000:.0f} ms]")
    print()
    words = sum(len(s.split()) for s in sentences)
    for tr, sec in zip(systems, secs):
        print(f"{tr}: {words / sum(sec):.1f} source words/s on one core")
    if missing is not None:
        print(f"int8 unavailable ({missing}): no speed-up to show")
    else:
        same = sum(x == y for x, y in zip(texts[0], texts[-1]))
        print(f"int8 is {sum(secs[0]) / sum(secs[-1]):.2f}x as fast as numpy "
              f"fp32 and {sum(secs[1]) / sum(secs[-1]):.2f}x as fast as the "
              f"C fp32 kernel; {same} of {len(sentences)} int8 outputs "
              "identical to fp32's")
