"""Measurement, as Sections 3 and 4 of Quinn & Ballesteros (2018) do it.

* speed in words per second (WPS) and words per core second,
  ``WPCS = source words / (seconds x cores)`` (Section 3);
* "the reported speed is the median of 9 runs" (Section 4.1):
  :func:`median_of` and :func:`speed`, one sentence at a time on one core;
  :func:`speeds` times several systems with their runs interleaved, so
  their ratios are measured side by side;
* a speed-up's interval (:func:`speedup_interval`): a paired bootstrap over
  the interleaved runs, so a ratio is quoted with its spread;
* multi-core throughput, one worker process per core (:func:`throughput`),
  with the scaling efficiency ``WPS_N / (N x WPS_1)``;
* the profiles of Tables 1 and 2 from ``nmt8.timers.TIMERS``
  (:func:`profile`), cross-checked once against cProfile
  (:func:`cross_check`);
* BLEU and chrF with sacrebleu (:func:`quality`), as in Table 6.

Every timing runs with one BLAS thread (``nmt8.serve.threads.blas_threads(1)``):
the paper gives each core one sentence, so a second thread would be a second
core.

Does not: choose sentences or write reports (``nmt8.lab.reproduce.run``), or decode
(``nmt8.serve.translator``; the PyTorch peer is ``nmt8.lab.speed.peer``).
"""

from __future__ import annotations

import cProfile
import dataclasses
import inspect
import pstats
import statistics
import time

import numpy as np

from nmt8.model import ops
from nmt8.serve.parallel import WorkerPool
from nmt8.serve.threads import blas_threads
from nmt8.timers import CATEGORIES, TIMERS

OTHER = "everything else (Python)"


# -- arithmetic ------------------------------------------------------------------
def count_words(line: str) -> int:
    """Source words as the paper counts them: whitespace-separated tokens."""
    return len(line.split())


def wps(words: int, seconds: float) -> float:
    """Words per second."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    return words / seconds


def wpcs(words: int, seconds: float, cores: int = 1) -> float:
    """Words per core second: ``words / (seconds x cores)`` (Section 3).

    With every core busy, WPCS is WPS / cores; on one core it is WPS.
    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    return wps(words, seconds) / cores


def scaling_efficiency(wps_n: float, wps_1: float, n: int) -> float:
    """Throughput of n cores over n times the throughput of one (1.0 = linear)."""
    return wps_n / (n * wps_1)


def median_of(fn, n: int = 9, warmup: int = 1) -> tuple[float, list[float]]:
    """Run ``fn()`` ``warmup`` + ``n`` times; the median seconds and all n runs."""
    if n < 1:
        raise ValueError(f"need n >= 1 runs, got {n}")
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


# -- a speed-up and its interval --------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SpeedupInterval:
    """``ratio`` = median(base seconds) / median(seconds): how many times
    faster than the base (above 1: faster); ``[low, high]`` its ``level``
    bootstrap interval over the interleaved runs."""

    ratio: float
    low: float
    high: float
    level: float
    runs: int

    def __format__(self, spec: str) -> str:
        spec = spec or ".2f"
        return f"{self.ratio:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def above(self, x: float = 1.0) -> bool:
        """The whole interval is above x (e.g. faster, beyond the spread)."""
        return self.low > x

    def below(self, x: float = 1.0) -> bool:
        """The whole interval is below x."""
        return self.high < x

    def conclusive(self, max_span: float = 2.0) -> bool:
        """Whether the run says something: the interval leaves out 1 (a
        clear winner) and its ends are within ``max_span`` times of each
        other (a number worth quoting). Prose quotes the ratio only then,
        and otherwise says the run was inconclusive."""
        return (self.above() or self.below()) and \
            self.high <= max_span * self.low


def speedup_interval(base_seconds, seconds, resamples: int = 2000,
                     level: float = 0.95, seed: int = 0) -> SpeedupInterval:
    """The speed-up of ``seconds`` over ``base_seconds`` (ratio of their
    medians), with a paired bootstrap interval over the runs.

    The two lists are the runs of two systems timed interleaved
    (:func:`speeds`, ``nmt8.lab.speed.batch.sweep``): run r of both was
    taken in the same round, so a round is resampled whole (with
    replacement, ``resamples`` times) and a slow spell that hit both sides
    of a round stays paired. The interval is the central ``level`` share of
    the resampled ratios (percentile bootstrap; fixed ``seed``, so the same
    runs give the same interval). With few runs it is coarse: 5 runs have
    only 126 distinct resamples.
    """
    base = np.asarray(base_seconds, dtype=float)
    other = np.asarray(seconds, dtype=float)
    if base.ndim != 1 or base.shape != other.shape or base.size == 0:
        raise ValueError("need two equally long, non-empty lists of run "
                         f"seconds, got {base.shape} and {other.shape}")
    if not (np.all(base > 0) and np.all(other > 0)):
        raise ValueError("run seconds must be positive")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    idx = np.random.default_rng(seed).integers(0, base.size,
                                               (resamples, base.size))
    ratios = np.median(base[idx], axis=1) / np.median(other[idx], axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return SpeedupInterval(float(np.median(base) / np.median(other)),
                           float(low), float(high), level, int(base.size))


def _timed_decoder(tr):
    """``decode(ids, max_len) -> seconds`` of one sentence, as the system
    itself timed it (its decoding alone, not the call around it)."""
    try:
        params = inspect.signature(tr.translate_ids).parameters
    except (TypeError, ValueError):
        params = {}
    if "with_seconds" in params:
        return lambda ids, ml: tr.translate_ids([ids], max_len=ml,
                                                with_seconds=True).seconds[0]

    def decode(ids, ml):  # systems without with_seconds (PeerTranslator, for now)
        tr.translate_ids([ids], max_len=ml)
        return tr.last_seconds[0]
    return decode


# -- speed on one core ----------------------------------------------------------
def speed(translator, src_ids, words: int, runs: int = 9, max_lens=None,
          warmup: bool = True, progress: bool = False, desc: str = "speed") -> dict:
    """Median-of-``runs`` speed of translating ``src_ids`` one at a time.

    translator: anything with ``translate_ids([ids], max_len=...,
    with_seconds=True)`` returning ``(outputs, seconds)`` (``nmt8.Translator``),
    or, until it has that, with ``last_seconds`` (``nmt8.lab.speed.peer``'s).
    words: source words of the whole set (what WPCS counts).
    max_lens: one step count per sentence (random models decode exactly that
    many steps), or None to decode until ``</s>``.
    warmup: translate the first sentence once, untimed, before each run.
    Returns seconds (median run), runs, wps, wpcs and per-sentence latency
    (the median over runs of each sentence's time, as Tables 8/9 report).
    """
    return speeds({desc: translator}, src_ids, words, runs, max_lens, warmup,
                  progress, desc)[desc]


def speeds(translators: dict, src_ids, words: int, runs: int = 9,
           max_lens=None, warmup: bool = True, progress: bool = False,
           desc: str = "speed") -> dict:
    """:func:`speed` of several systems, their runs interleaved.

    Run r times every system in turn (the order rotates by one each run), so
    a slow minute on a shared machine costs every system alike and the
    *ratios* of their medians hold still from one invocation to the next;
    timing one system's 9 runs after another's lets drift land on one side.
    Returns ``{label: speed result}`` for ``translators = {label: system}``.
    """
    from tqdm.auto import tqdm

    if not src_ids:
        raise ValueError("need at least one sentence to time")
    if not translators:
        raise ValueError("need at least one system to time")
    max_lens = list(max_lens) if max_lens is not None else [None] * len(src_ids)
    labels = list(translators)
    per_sentence = {k: [[] for _ in src_ids] for k in labels}
    decoders = {k: _timed_decoder(tr) for k, tr in translators.items()}
    all_runs = {k: [] for k in labels}

    with blas_threads(1):
        for r in tqdm(range(runs), desc=desc, disable=not progress, leave=False):
            for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                tr = translators[label]
                if warmup:  # its weights back in cache after the others ran
                    tr.translate_ids(src_ids[:1], max_len=max_lens[0])
                t0 = time.perf_counter()
                for i, (ids, ml) in enumerate(zip(src_ids, max_lens)):
                    per_sentence[label][i].append(decoders[label](ids, ml))
                all_runs[label].append(time.perf_counter() - t0)
    out = {}
    for label in labels:
        seconds = statistics.median(all_runs[label])
        latency = [statistics.median(s) for s in per_sentence[label]]
        out[label] = {"sentences": len(src_ids), "words": words,
                      "runs": all_runs[label], "seconds": seconds,
                      "wps": wps(words, seconds),
                      "wpcs": wpcs(words, seconds, 1), "cores": 1,
                      "latency_s": latency,
                      "mean_latency_ms": 1000 * statistics.fmean(latency)}
    return out


def throughput(translator_kwargs: dict, src_ids, words: int, jobs=(1, 2),
               runs: int = 3, max_lens=None, progress: bool = False) -> dict:
    """Total WPS with 1 and N worker processes, one per core, and efficiency.

    translator_kwargs go to ``nmt8.Translator`` in each worker (a model may be
    a name, a path, a Model or a picklable zero-argument callable such as
    ``functools.partial(nmt8.random_model, 620, 1000, 40000, 40000)``).
    Each worker decodes one sentence at a time; the clock runs from the first
    sentence handed out to the last one back (models are loaded before).
    One pool of max(jobs) workers serves every n: with n = 1 the sentences
    go to it one at a time, so a single worker is busy at any moment.
    """
    from tqdm.auto import tqdm

    out = {"words": words, "sentences": len(src_ids), "by_jobs": {}}
    size = max(jobs)
    with WorkerPool(size, **translator_kwargs) as pool:
        warm = 2 * size  # every worker decodes something before the clock
        pool.translate_ids(src_ids[:warm], max_lens and max_lens[:warm])
        for n in jobs:
            if n not in (1, size):
                raise ValueError(f"jobs must be 1 or {size}, got {n}")
            all_runs = []
            for _ in tqdm(range(runs), desc=f"{n} worker(s)", leave=False,
                          disable=not progress):
                t0 = time.perf_counter()
                pool.translate_ids(src_ids, max_lens, concurrent=n > 1)
                all_runs.append(time.perf_counter() - t0)
            seconds = statistics.median(all_runs)
            out["by_jobs"][n] = {"runs": all_runs, "seconds": seconds,
                                 "wps": wps(words, seconds),
                                 "wpcs": wpcs(words, seconds, n)}
    one = out["by_jobs"].get(1)
    for n, r in out["by_jobs"].items():
        r["efficiency"] = scaling_efficiency(r["wps"], one["wps"], n) if one else None
    return out


# -- profiles, Tables 1 and 2 -------------------------------------------------------
def profile(translator, src_ids, max_lens=None) -> dict:
    """Share of decoding time by function, from the instrumented TIMERS.

    ``everything else (Python)`` is the total minus every timed category:
    the interpreter, the glue between operations, the timers themselves.
    Returns seconds, shares (percent) and call counts by category.
    """
    if not src_ids:
        raise ValueError("need at least one sentence to profile")
    max_lens = list(max_lens) if max_lens is not None else [None] * len(src_ids)
    with blas_threads(1):
        translator.translate_ids(src_ids[:1], max_len=max_lens[0])  # warm up
        with TIMERS.recording():
            t0 = time.perf_counter()
            for ids, ml in zip(src_ids, max_lens):
                translator.translate_ids([ids], max_len=ml)
            total = time.perf_counter() - t0
            seconds = {c: TIMERS.seconds.get(c, 0.0) for c in CATEGORIES}
            calls = {c: TIMERS.calls.get(c, 0) for c in CATEGORIES}
    seconds[OTHER] = max(total - sum(seconds.values()), 0.0)
    share = {c: 100.0 * s / total for c, s in seconds.items()}
    return {"total_s": total, "seconds": seconds, "share": share, "calls": calls}


# cProfile sees Python functions, not operators: ``X @ W`` is inside
# ops._linear, so its cumulative time is the product time; the others are
# the ops wrappers themselves (run with TIMERS off, so no timer cost inside).
# Looked up by their code objects: cProfile's key is (file, line, name).
_CPROFILE_FUNCS = {
    "products (all)": (ops._linear,),
    "tanh": (ops.tanh,),
    "sigmoid": (ops.sigmoid,),
    "softmax": (ops.log_softmax, ops.row_logsumexp),
}


def cross_check(translator, src_ids, max_lens=None) -> dict:
    """TIMERS shares next to cProfile's, on the same sentences.

    The two should agree to within a few points; cProfile adds a cost to
    every Python call, which shifts its shares toward "everything else".
    Returns {"rows": [{category, timers, cprofile}], "total_s": ...}.
    """
    max_lens = list(max_lens) if max_lens is not None else [None] * len(src_ids)
    timed = profile(translator, src_ids, max_lens)
    prof = cProfile.Profile()
    with blas_threads(1):
        prof.enable()
        t0 = time.perf_counter()
        for ids, ml in zip(src_ids, max_lens):
            translator.translate_ids([ids], max_len=ml)
        total = time.perf_counter() - t0
        prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    key = {f: (f.__code__.co_filename, f.__code__.co_firstlineno,
               f.__code__.co_name) for fs in _CPROFILE_FUNCS.values() for f in fs}
    cum = {name: sum(stats[key[f]][3] for f in fs if key[f] in stats)
           for name, fs in _CPROFILE_FUNCS.items()}
    ts = timed["share"]
    t_share = {"products (all)": sum(v for k, v in ts.items()
                                     if k.startswith("product")),
               "tanh": ts["tanh"], "sigmoid": ts["sigmoid"],
               "softmax": ts["softmax"]}
    rows = [{"category": k, "timers": t_share[k],
             "cprofile": 100.0 * cum[k] / total} for k in _CPROFILE_FUNCS]
    rows.append({"category": "rest", "timers": 100.0 - sum(t_share.values()),
                 "cprofile": 100.0 - sum(r["cprofile"] for r in rows)})
    return {"rows": rows, "timers_total_s": timed["total_s"],
            "cprofile_total_s": total}


# -- quality, Table 6 ---------------------------------------------------------------
def quality(hyps, refs) -> dict:
    """Corpus BLEU and chrF (sacrebleu) with their signatures."""
    import sacrebleu

    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    b = bleu.corpus_score(hyps, [refs])
    c = chrf.corpus_score(hyps, [refs])
    return {"bleu": b.score, "chrf": c.score,
            "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}


def identical(a, b) -> int:
    """How many outputs are exactly the same in two systems."""
    return sum(x == y for x, y in zip(a, b, strict=True))
