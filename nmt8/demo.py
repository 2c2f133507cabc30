"""``nmt8 demo``: the paper's 32-bit and 8-bit decoders side by side on a
few sentences of our own, one sentence at a time on one thread (Section 3:
"each CPU core translates a single sentence at a time").

Prints each source with the fp32 and the int8 output and its time (the
median of interleaved runs), then each system's source words per second,
the int8 speed-up and how many outputs are identical (Section 5 compares
the two systems' outputs the same way).

Does not: measure with the care of ``nmt8.lab.measure`` (three runs, a
handful of sentences: a first look, not a result), or score quality.
"""

from __future__ import annotations

from statistics import median

from .testing import DEMO_SENTENCES
from .threads import blas_threads, describe
from .translator import Translator


def demo(models=("de-en",), beam: int = 5, runs: int = 3) -> int:
    """Translate ``DEMO_SENTENCES`` with fp32 and int8 ``models`` (names or
    paths) at ``beam`` and print the comparison; returns exit status 0."""
    models = list(models)
    systems = [Translator(models, precision="fp32", beam=beam)]
    missing = None
    try:
        systems.append(Translator(models, precision="int8", beam=beam))
    except ImportError as err:  # kernels not compiled
        missing = err
    timed = [[] for _ in systems]
    with blas_threads(1):
        print(f"one sentence at a time, one thread ({describe()}); "
              f"median of {runs} interleaved runs")
        for tr in systems:
            tr.translate(DEMO_SENTENCES[:1])  # warm-up
        for _ in range(runs):
            for tr, res in zip(systems, timed):
                res.append(tr.translate(DEMO_SENTENCES, with_seconds=True))
    texts = [res[0].outputs for res in timed]
    secs = [[median(r.seconds[i] for r in res) for i in range(len(DEMO_SENTENCES))]
            for res in timed]  # per system, per sentence
    for i, src in enumerate(DEMO_SENTENCES):
        print(f"\nDE    {src}")
        for tr, hyp, sec in zip(systems, texts, secs):
            print(f"{tr.precision:5s} {hyp[i]}   [{sec[i] * 1000:.0f} ms]")
    print()
    words = sum(len(s.split()) for s in DEMO_SENTENCES)
    for tr, sec in zip(systems, secs):
        print(f"{tr}: {words / sum(sec):.1f} source words/s on one core")
    if missing is not None:
        print(f"int8 unavailable ({missing}): no speed-up to show")
    else:
        same = sum(x == y for x, y in zip(*texts))
        print(f"int8 is {sum(secs[0]) / sum(secs[1]):.2f}x as fast as fp32; "
              f"{same} of {len(DEMO_SENTENCES)} outputs identical")
    return 0
