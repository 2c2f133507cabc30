"""The speed experiments of ``nmt8 reproduce``: Tables 1, 2, 3 and 6's WPCS.

Quinn & Ballesteros (2018), Sections 3-4: each core translates one sentence
at a time; speed is words per core second, the median of 9 runs. Here:

* :func:`workloads` - what is timed: the given (trained) model on test
  sentences, and a paper-size model (E=620, H=1000, 40k vocabularies) with
  random weights on random source ids as long as the same sentences,
  decoding a fixed round(1.1 x length) steps (speed depends on the shapes,
  not on trained values);
* :func:`profiles` (Tables 1/2), :func:`speeds` (Tables 3/6, every system
  of a workload and beam interleaved), :func:`peer_checks`,
  :func:`beam_sweep`, :func:`throughputs` (one worker process per core).

Every result is a record of ``nmt8.lab.reproduce.results`` naming its ``System``.

Does not: time by itself (``nmt8.lab.speed.measure`` does), score translations
(``nmt8.lab.outputs.quality``) or write anything (``nmt8.lab.report.report``).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from nmt8.lab.kernels.machine import has_torch, int8_available
from nmt8.lab.reproduce.records import (
    CrossCheck,
    CrossCheckRow,
    JobsResult,
    PeerCheck,
    Profile,
    SpeedResult,
    Throughput,
    WorkloadInfo,
)
from nmt8.lab.reproduce.settings import Settings
from nmt8.lab.reproduce.systems import (
    LADDER,
    NMT8_FP32,
    NMT8_INT8,
    TORCH_FP32,
    TORCH_INT8,
    System,
)
from nmt8.lab.speed import measure
from nmt8.model.model import Model, random_model

SAMPLE_SEED = 2018  # which test sentences the speed runs use; fixed, not tuned


@dataclasses.dataclass
class Workload:
    """A model and the sentences its speed is measured on."""

    name: str
    model: Model
    ref: object  # what a worker process builds the model from
    src_ids: list  # source id lists (without </s>)
    words_each: list  # source words of each sentence, what WPCS counts
    max_lens: list | None  # fixed step counts (random model) or None

    @property
    def words(self) -> int:
        return sum(self.words_each)

    def head(self, n: int) -> Workload:
        """The first n sentences."""
        return dataclasses.replace(
            self, src_ids=self.src_ids[:n], words_each=self.words_each[:n],
            max_lens=self.max_lens[:n] if self.max_lens else None)

    def info(self, paper_size: bool) -> WorkloadInfo:
        return WorkloadInfo(self.name, len(self.src_ids), self.words, paper_size,
                            sum(self.max_lens) if self.max_lens else None)


def paper_model(emb=620, hidden=1000, src_vocab=40000, tgt_vocab=40000,
                seed=1) -> Model:
    """The paper-size model with random weights (float32), for speed only."""
    return random_model(emb, hidden, src_vocab, tgt_vocab, seed=seed)


def model_label(model: Model) -> str:
    """``folder E=.. H=.. (trained)``: how the tables name a model."""
    c = model.cfg
    name = Path(model.path).parent.name if model.path else "model"
    kind = "random" if model.random else "trained"
    return f"{name} E={c.dim_word} H={c.dim} ({kind})"


def nmt8_systems() -> list[System]:
    """nmt8 fp32, and int8 when its kernels are compiled (profiles, beam
    sweep, throughput, batch decoding)."""
    return [NMT8_FP32, NMT8_INT8] if int8_available() else [NMT8_FP32]


def runnable(system: System) -> bool:
    """Can this machine build the system (C kernels compiled, the kernel
    runs on this CPU)?"""
    needs_c = system.precision in ("int8", "int16", "int4") or (
        system.precision == "fp32" and system.kernel not in (None, "numpy"))
    if not needs_c:
        return True
    if not int8_available():  # one compiled library holds every C kernel
        return False
    from nmt8.model.model import check_options

    try:
        check_options(system.precision, system.kernel or "auto",
                      system.scheme or "default")
    except ValueError:  # not on this CPU
        return False
    return True


def ladder_systems(timed: bool = False) -> list[System]:
    """The rungs of ``results.LADDER`` this machine runs; ``timed``: only
    those with a speed (not simulated)."""
    return [r.system for r in LADDER if runnable(r.system)
            and (r.timed or not timed)]


def speed_sentences(test_src, n: int) -> list[str]:
    """n test sources picked with a fixed seed (our own sentences if none)."""
    if not test_src:
        from nmt8.testing import GOLDEN_PAIRS

        own = [de for de, _ in GOLDEN_PAIRS]
        return [own[i % len(own)] for i in range(n)]
    rng = np.random.default_rng(SAMPLE_SEED)
    idx = np.sort(rng.choice(len(test_src), size=min(n, len(test_src)),
                             replace=False))
    return [test_src[i] for i in idx]


def workloads(model: Model, model_ref, lines, settings: Settings,
              translator=None, reuse: Workload | None = None) -> list[Workload]:
    """The trained model on ``lines`` and the paper-size model on the same
    lengths (random ids, one per source word). ``reuse``: a paper-size
    workload whose model serves again (it takes seconds to build)."""
    words = [measure.count_words(line) for line in lines]
    out = []
    tr = translator or NMT8_FP32.build(model)
    if tr.src_bpe is not None:
        out.append(Workload(model_label(model), model, model_ref,
                            tr.tokenize(lines), words, None))
    E, H, Vs, Vt = settings.paper_size
    if reuse is not None:
        ref, big = reuse.ref, reuse.model
    else:
        ref = functools.partial(paper_model, E, H, Vs, Vt, settings.seed)
        big = ref()
    rng = np.random.default_rng(settings.seed)
    words = [max(w, 1) for w in words]
    src = [rng.integers(2, Vs, size=w).tolist() for w in words]
    steps = [max(1, round(settings.tgt_ratio * w)) for w in words]
    out.append(Workload(f"paper size E={E} H={H} V={Vs} (random)",
                        big, ref, src, words, steps))
    return out


def _tqdm(it, progress, **kw):
    from tqdm.auto import tqdm

    return tqdm(it, disable=not progress, leave=False, **kw)


def profiles(loads, settings: Settings, progress=True
             ) -> tuple[list[Profile], list[CrossCheck]]:
    """Tables 1/2 for every workload and nmt8 system, beam 5, and one
    cross-check per system of the timers against cProfile (paper size)."""
    out = []
    todo = [(w.head(settings.profile_sentences), s) for w in loads
            for s in nmt8_systems()]
    for w, system in _tqdm(todo, progress, desc="profiles"):
        p = measure.profile(system.build(w.model, 5), w.src_ids, w.max_lens)
        out.append(Profile(w.name, system, p["total_s"], p["seconds"],
                           p["share"], p["calls"]))
    w = loads[-1].head(settings.profile_sentences)
    checks = []
    for system in nmt8_systems():
        c = measure.cross_check(system.build(w.model, 5), w.src_ids, w.max_lens)
        rows = [CrossCheckRow(r["category"], r["timers"], r["cprofile"])
                for r in c["rows"]]
        checks.append(CrossCheck(w.name, system, rows, c["timers_total_s"],
                                 c["cprofile_total_s"]))
    return out, checks


def _speed_result(w: Workload, beam: int, system: System, r: dict) -> SpeedResult:
    return SpeedResult(workload=w.name, beam=beam, system=system,
                       sentences=r["sentences"], words=r["words"], runs=r["runs"],
                       seconds=r["seconds"], wps=r["wps"], wpcs=r["wpcs"],
                       cores=r["cores"], mean_latency_ms=r["mean_latency_ms"])


def speeds(loads, settings: Settings, progress=True) -> list[SpeedResult]:
    """WPS, WPCS and latency, median of ``runs``, each workload x beam x
    system (every timed rung of the ladder, PyTorch fp32/int8); the systems of one workload
    and beam are timed with their runs interleaved (``measure.speeds``)."""
    out = []
    systems = ladder_systems(timed=True)
    if settings.peer and has_torch():
        systems += [TORCH_FP32, TORCH_INT8]
    for w in loads:
        for beam in settings.beams:
            # measure.speeds keys its systems by position here, not by name
            res = measure.speeds({k: s.build(w.model, beam)
                                  for k, s in enumerate(systems)},
                                 w.src_ids, w.words, settings.runs, w.max_lens,
                                 progress=progress,
                                 desc=f"{w.name} beam {beam}")
            out += [_speed_result(w, beam, s, res[k])
                    for k, s in enumerate(systems)]
    return out


def peer_check(w: Workload, n: int = 2, beam: int = 5) -> PeerCheck:
    """Do PyTorch fp32 and nmt8 fp32 give the same outputs on n sentences?"""
    w = w.head(n)
    ours, theirs = NMT8_FP32.build(w.model, beam), TORCH_FP32.build(w.model, beam)
    same = 0
    for ids, ml in zip(w.src_ids, w.max_lens or [None] * len(w.src_ids)):
        same += ours.translate_ids([ids], ml) == theirs.translate_ids([ids], ml)
    return PeerCheck(w.name, len(w.src_ids), same, beam)


def beam_sweep(w: Workload, settings: Settings, progress=True
               ) -> list[SpeedResult]:
    """WPCS against beam size, nmt8 fp32 and int8, one system at a time."""
    out = []
    w = w.head(settings.sweep_sentences)
    for system in nmt8_systems():
        for beam in settings.sweep_beams:
            r = measure.speed(system.build(w.model, beam), w.src_ids, w.words,
                              settings.sweep_runs, w.max_lens, progress=progress,
                              desc=f"sweep {system.precision} beam {beam}")
            out.append(_speed_result(w, beam, system, r))
    return out


def sweep_wpcs(sweep: list[SpeedResult]) -> dict[str, dict[int, float]]:
    """``{system label: {beam: WPCS}}``, as ``nmt8.lab.figures.plot.beam_sweep``
    draws it."""
    out: dict[str, dict[int, float]] = {}
    for r in sweep:
        out.setdefault(r.system.label, {})[r.beam] = r.wpcs
    return out


def throughputs(loads, settings: Settings, progress=True) -> list[Throughput]:
    """Total WPS with 1 and N worker processes (one per core), beam 5."""
    from nmt8.serve.parallel import cores

    n = settings.jobs or cores()
    jobs = (1, n) if n > 1 else (1,)
    out = []
    for w in loads:
        for system in nmt8_systems():
            kw = {"model_or_models": w.ref, "precision": system.precision,
                  "beam": 5}
            r = measure.throughput(kw, w.src_ids, w.words, jobs,
                                   settings.throughput_runs, w.max_lens,
                                   progress=progress)
            by_jobs = [JobsResult(n, j["runs"], j["seconds"], j["wps"], j["wpcs"],
                                  j["efficiency"]) for n, j in r["by_jobs"].items()]
            out.append(Throughput(w.name, system, r["sentences"], r["words"],
                                  by_jobs))
    return out
