"""The records of the paper's tables, as ``nmt8 reproduce`` measures them.

One dataclass per measurement, each naming its :class:`System`:
:class:`Profile` and :class:`CrossCheck` (Tables 1/2), :class:`SpeedResult`
(Tables 3/6), :class:`Throughput`, :class:`Target`, :class:`DataStats`
(Table 5), :class:`QualityResult` and :class:`Quality` (Table 6),
:class:`Differences` (Tables 8/9); and beyond the paper :class:`MemoryUse`
(resident memory, the other half of 8 bits) and :class:`QuantizedTraining`
(the answer to Section 7's "would training quantized models change the
results", int8 and int4); :func:`system_from_json` reads a System back
from ``results.json``.

Does not: measure (``nmt8.lab.speed.speed``, ``nmt8.lab.outputs.quality``), hold the
batch-decoding records (``nmt8.lab.reproduce.batch_records``) or a whole run
(``nmt8.lab.reproduce.results``).
"""

from __future__ import annotations

import dataclasses

from nmt8.lab.reproduce.systems import System


# -- speed: Tables 1, 2, 3 and the speed column of 6 ------------------------------
@dataclasses.dataclass
class WorkloadInfo:
    """What a speed workload was (its model is not kept)."""

    name: str
    sentences: int
    words: int  # source words, what WPCS counts
    paper_size: bool  # the random paper-size model
    steps: int | None  # fixed decoder steps in all, or None: until </s>


@dataclasses.dataclass
class Profile:
    """Share of decoding time by function, beam 5 (``measure.profile``)."""

    workload: str
    system: System
    total_s: float
    seconds: dict[str, float]  # timer category -> seconds
    share: dict[str, float]  # timer category -> percent
    calls: dict[str, int]


@dataclasses.dataclass
class CrossCheckRow:
    category: str
    timers: float  # percent by nmt8's timers
    cprofile: float  # percent by cProfile


@dataclasses.dataclass
class CrossCheck:
    """The timers against cProfile on the same sentences."""

    workload: str
    system: System
    rows: list[CrossCheckRow]
    timers_total_s: float
    cprofile_total_s: float


@dataclasses.dataclass
class SpeedResult:
    """Median-of-runs speed of one system on one workload and beam."""

    workload: str
    beam: int
    system: System
    sentences: int
    words: int
    runs: list[float]  # seconds of each run
    seconds: float  # the median run
    wps: float
    wpcs: float
    cores: int
    mean_latency_ms: float  # mean over sentences of their median time


@dataclasses.dataclass
class PeerCheck:
    """Do PyTorch fp32 and nmt8 fp32 give the same outputs?"""

    workload: str
    sentences: int
    identical: int
    beam: int


@dataclasses.dataclass
class JobsResult:
    jobs: int  # worker processes
    runs: list[float]
    seconds: float
    wps: float  # total words per second
    wpcs: float
    efficiency: float | None  # WPS(N) / (N x WPS(1))


@dataclasses.dataclass
class Throughput:
    """Total WPS with 1 and N worker processes, beam 5."""

    workload: str
    system: System
    sentences: int
    words: int
    by_jobs: list[JobsResult]


@dataclasses.dataclass
class Target:
    target: str  # what was asked, in words
    value: float  # the measured ratio (or difference, see unit)
    met: bool
    unit: str = "x"  # how the value prints after its number: "x", " BLEU"
    # the value's min / median / max over interleaved rounds, when the
    # target is a ratio taken round by round (else None)
    spread: dict | None = None
    interval: tuple[float, float] | None = None  # a 95% bootstrap interval


# -- quality: Tables 5, 6, 8 and 9 ---------------------------------------------------
@dataclasses.dataclass
class DataStats:
    """The test set (Table 5), or ``found=False``."""

    found: bool
    dir: str | None = None
    split: str | None = None
    sentences: int | None = None
    src_len: float | None = None  # mean source words
    tgt_len: float | None = None
    lang: str | None = None  # the direction read, as the paper: "De-En"


@dataclasses.dataclass
class QualityResult:
    """BLEU and chrF of one system on the test set, beam 5."""

    system: System
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    wpcs_one_run: float  # this single pass over the test set
    identical_to_fp32: int  # outputs equal to the fp32 system's (same models)
    text: list[str]  # the outputs


@dataclasses.dataclass
class Quality:
    """Table 6 of one direction: every system on its test set."""

    sentences: int
    words: int
    systems: list[QualityResult]
    lang: str = "De-En"  # the direction, as the paper names it
    model: str | None = None  # the model's label
    ensemble: str | None = None  # the second model's label (the 2x rows)


@dataclasses.dataclass
class Example:
    """One differing sentence, as Tables 8 and 9 show it."""

    index: int  # in the test set
    source: str
    text: tuple[str, str]  # the outputs of systems a and b
    marked: tuple[str, str]  # the same with differences in **bold**
    time_ms: tuple[float, float]  # mean of example_runs
    flip: object  # nmt8.lab.outputs.diff.Flip: where the two beams part
    explain: str


@dataclasses.dataclass
class Differences:
    """How the outputs of systems a and b differ (Section 5)."""

    systems: tuple[System, System]
    sentences: int
    identical: int
    identical_first_166: int
    flip_sentences: int
    flip_summary: object  # nmt8.lab.outputs.diff.FlipSummary
    examples: list[Example]


# -- memory: the other half of 8 bits (beyond the paper) ------------------------
@dataclasses.dataclass
class MemoryUse:
    """Resident memory of one system holding one model, loaded from its
    file in a fresh process (``nmt8.lab.speed.memory.measure``). Bytes."""

    model: str  # the workload's name (the model's label)
    system: System
    embeddings: str  # how the model stores them: fp32, fp16 or int8
    nbytes: int  # Model.nbytes() after translating
    start: int  # resident before loading: interpreter, numpy, nmt8
    loaded: int  # resident after load_model
    translated: int  # resident after translating
    peak: int  # VmHWM: the largest resident set of the process

    @property
    def own(self) -> int:
        """The model's own share of the resident set: loaded - start."""
        return self.loaded - self.start

    @classmethod
    def from_json(cls, d: dict) -> MemoryUse:
        """The record back from its ``results.json`` object."""
        return cls(**{**d, "system": system_from_json(d["system"])})


def system_from_json(d: dict) -> System:
    """A System back from its ``results.json`` object (which also carries
    its ``label`` and ``variant``)."""
    fields = {f.name for f in dataclasses.fields(System)}
    return System(**{k: v for k, v in d.items() if k in fields})


# -- training quantized models: the paper's future work (issue 23) --------------
@dataclasses.dataclass
class GroupChoice:
    """int4's group size chosen on val: BLEU of each, beam 5."""

    split: str
    sentences: int
    bleu: dict[str, float]  # scheme (group32, group64) -> val BLEU
    chosen: str  # the scheme with the highest val BLEU


@dataclasses.dataclass
class Paired:
    """A paired bootstrap of b against a on the same sentences
    (``nmt8.lab.outputs.significance.PairedBleu``): BLEU b - a, its 95%
    interval and p-value."""

    delta: float
    low: float
    high: float
    p_value: float


@dataclasses.dataclass
class AnswerRow:
    """One quantized system against fp32 on the test set, beam 5."""

    name: str  # e.g. "int4 post-training", "int4 QAT"
    model: str  # the model's label
    system: System
    bleu: float
    vs_fp32: Paired  # this system - fp32 (the reproduced model)
    changed: int  # outputs that differ from fp32's
    vs_post: Paired | None = None  # QAT - post-training at the same precision


@dataclasses.dataclass
class QuantizedTraining:
    """Does training the quantized model change the result? fp32, int8 and
    int4 after training, and int8/int4 quantization-aware fine-tuned
    models, on the test set (``nmt8.lab.outputs.answer``)."""

    sentences: int
    fp32_bleu: float
    n_samples: int  # bootstrap resamples
    group: GroupChoice | None
    rows: list[AnswerRow]
    notes: list[str] = dataclasses.field(default_factory=list)

    def row(self, name: str) -> AnswerRow | None:
        """The row called ``name``, or None."""
        return next((r for r in self.rows if r.name == name), None)

    @classmethod
    def from_json(cls, d: dict) -> QuantizedTraining:
        """The record back from its ``results.json`` object."""
        def paired(x):
            return Paired(**x) if x is not None else None
        rows = [AnswerRow(**{**r, "system": system_from_json(r["system"]),
                             "vs_fp32": paired(r["vs_fp32"]),
                             "vs_post": paired(r["vs_post"])})
                for r in d["rows"]]
        group = GroupChoice(**d["group"]) if d["group"] else None
        return cls(**{**d, "group": group, "rows": rows})
