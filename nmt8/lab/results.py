"""What ``nmt8 reproduce`` runs and what it finds, as typed records.

* :class:`System` names one decoder: engine (nmt8 or the PyTorch peer),
  precision, int8 weight-scale scheme, kernel and ensemble size. It is
  frozen, so two systems are the same exactly when their fields are, and a
  result is found by ``r.system == NMT8_INT8``, never by its label.
  ``label`` and ``variant`` are only how tables print it.
* One record per measurement: :class:`Profile` (Tables 1/2),
  :class:`SpeedResult` (Tables 3/6), :class:`Throughput`,
  :class:`QualityResult` (Table 6), :class:`Differences` (Tables 8/9),
  :class:`Target`, and beyond the paper :class:`BatchDecoding` (its future
  work: :class:`BatchSpeedResult`, :class:`BatchInvariance`,
  :class:`DaskScaling`, :class:`KernelScaling`); :class:`Results` holds one
  whole run.

``results.json`` is :func:`to_json` of :class:`Results`: the
``dataclasses.asdict`` tree (one key per field, lists of records as lists of
objects), where every ``system`` object also carries its ``label`` and
``variant``. For example ``results.json["speed"]`` is a list of
``{"workload", "beam", "system": {"engine", "precision", "scheme", "kernel",
"models", "label", "variant"}, "wps", "wpcs", ...}``.

Does not: measure (``nmt8.lab.speed``, ``nmt8.lab.quality``) or format
(``nmt8.lab.report``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

ENGINES = ("nmt8", "PyTorch")
PRECISIONS = ("fp32", "int16", "int8", "msfp16", "msfp12")  # nmt8.model's
SCHEMES = ("per_tensor", "per_row")
SCALED = ("int16", "int8")  # the precisions with a weight-scale scheme
SIMULATED = ("msfp16", "msfp12")  # rounded at load, multiplied in fp32


@dataclasses.dataclass(frozen=True)
class System:
    """One decoder. Only int8 and int16 have a scheme (default per tensor);
    fp32's kernel None is numpy, a name (``"auto"``) a C fp32 kernel."""

    engine: str = "nmt8"  # "nmt8" or "PyTorch" (nmt8.lab.peer)
    precision: str = "fp32"  # one of PRECISIONS
    scheme: str | None = None  # int8/int16 weight scales: per_tensor, per_row
    kernel: str | None = None  # None: the precision's default (fp32: numpy)
    models: int = 1  # ensemble size

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, "
                             f"got {self.precision!r}")
        scheme = self.scheme
        if self.precision not in SCALED:
            if scheme not in (None, "per_tensor"):
                raise ValueError(f"{self.precision} has no weight-scale scheme, "
                                 f"got {scheme!r}")
            scheme = None
        elif scheme is None:
            scheme = "per_tensor"
        elif scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        object.__setattr__(self, "scheme", scheme)  # one spelling per system
        if self.kernel is not None and self.precision in SIMULATED:
            raise ValueError(f"{self.precision} is simulated in numpy: no kernel")
        if self.engine == "PyTorch" and (self.scheme == "per_row" or self.kernel
                                         or self.precision not in ("fp32", "int8")):
            raise ValueError("the PyTorch peer is fp32, or int8 per tensor "
                             "with FBGEMM")
        if not isinstance(self.models, int) or self.models < 1:
            raise ValueError(f"models must be an int >= 1, got {self.models!r}")

    @property
    def _kernel_name(self) -> str:
        if self.precision == "fp32" and self.kernel not in (None, "numpy"):
            return " (C)" if self.kernel == "auto" else f" (C {self.kernel})"
        return f" ({self.kernel})" if self.kernel else ""

    @property
    def label(self) -> str:
        """As the speed tables print it: ``nmt8 int8``, ``PyTorch fp32``,
        ``nmt8 fp32 (C)``."""
        out = f"{self.engine} {self.precision}"
        if self.scheme == "per_row":
            out += " per-row"
        out += self._kernel_name
        return f"{self.models}x {out}" if self.models > 1 else out

    @property
    def variant(self) -> str:
        """As Table 6 prints nmt8's variants: ``fp32``, ``int8 per-tensor``,
        ``fp32 (C)``, ``2x fp32``."""
        out = self.precision
        if self.scheme:
            out += " " + self.scheme.replace("_", "-")
        out += self._kernel_name
        if self.engine != "nmt8":
            out = f"{self.engine} {out}"
        return f"{self.models}x {out}" if self.models > 1 else out

    def build(self, model_or_models, beam: int = 5):
        """The decoder: an ``nmt8.Translator`` or a ``PeerTranslator``."""
        if self.engine == "PyTorch":
            from .peer import PeerTranslator

            if isinstance(model_or_models, (list, tuple)):
                raise ValueError("the PyTorch peer decodes one model, not an "
                                 "ensemble")
            return PeerTranslator(model_or_models, self.precision == "int8", beam)
        from ..translator import Translator

        return Translator(**self.translator_kwargs(model_or_models, beam))

    def translator_kwargs(self, model_or_models, beam: int = 5) -> dict:
        """The keywords of ``nmt8.Translator`` for this system (what
        ``nmt8.dask`` and worker processes build it from); nmt8 only."""
        if self.engine != "nmt8":
            raise ValueError(f"{self.label} is not an nmt8.Translator")
        kw = {"model_or_models": model_or_models, "precision": self.precision,
              "beam": beam}
        if self.kernel:
            kw["kernel"] = self.kernel
        if self.scheme:
            kw["scheme"] = self.scheme
        return kw


NMT8_FP32 = System()
NMT8_INT8 = System(precision="int8")
NMT8_INT8_PER_ROW = System(precision="int8", scheme="per_row")
NMT8_FP32_C = System(kernel="auto")  # the fastest C fp32 kernel here
NMT8_INT16 = System(precision="int16")
NMT8_MSFP16 = System(precision="msfp16")
NMT8_MSFP12 = System(precision="msfp12")
TORCH_FP32 = System("PyTorch")
TORCH_INT8 = System("PyTorch", "int8")


@dataclasses.dataclass(frozen=True)
class Rung:
    """One row of Table 6 and of the speed table: a system of nmt8's
    precision ladder, and whether it has a speed (a simulated number format
    has accuracy only)."""

    system: System
    timed: bool = True


# The precision ladder of Table 6 and the speed table, one line per rung.
LADDER = (Rung(NMT8_FP32), Rung(NMT8_FP32_C), Rung(NMT8_INT16),
          Rung(NMT8_INT8), Rung(NMT8_INT8_PER_ROW),
          Rung(NMT8_MSFP16, timed=False), Rung(NMT8_MSFP12, timed=False))


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A system every speed-up is also given against, by its name."""

    system: System
    name: str


# "numpy fp32" is what a user has; "C fp32" is the paper's "similar
# optimized floating point implementation", built like the int8 kernel.
BASELINES = (Baseline(NMT8_FP32, "numpy fp32"), Baseline(NMT8_FP32_C, "C fp32"))


@dataclasses.dataclass
class Settings:
    """How much of everything to run (``quick()`` is the 3-minute version)."""

    speed_sentences: int = 15  # sentences per speed run
    runs: int = 9  # "the median of 9 runs" (Section 4.1)
    beams: tuple[int, ...] = (1, 5)
    sweep_beams: tuple[int, ...] = (1, 2, 3, 5, 8)
    sweep_sentences: int = 5
    sweep_runs: int = 3
    throughput_runs: int = 3
    jobs: int | None = None  # workers for the multi-core run (None: all cores)
    profile_sentences: int = 5
    quality_sentences: int | None = None  # None: the whole test set
    examples: int = 5  # differing sentences shown, Tables 8/9
    example_runs: int = 10  # "sentence times are average of 10 runs"
    flip_sentences: int | None = None  # None: every differing sentence
    paper_size: tuple[int, int, int, int] = (620, 1000, 40000, 40000)
    tgt_ratio: float = 1.1  # target steps per source word, random model
    peer: bool = True  # the PyTorch comparison, when torch is installed
    seed: int = 1
    # batch decoding (the paper's future work, Section 7)
    batch: bool = True  # run the batch decoding section at all
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64)
    batch_sentences: int = 64  # sentences per batch-size run
    batch_runs: int = 3  # interleaved runs: min / median / max
    invariance_batch: int = 32  # compared with batch 1
    dask: bool = True  # LocalCluster scaling, when Dask is installed
    dask_workers: tuple[int, ...] = (1, 2)  # single-threaded worker processes
    dask_lines: int = 3000  # lines of our own sentences in the generated file
    dask_runs: int = 3
    kernel_P: tuple[int, ...] = (1, 5, 20, 80, 320)  # beam 5 x batch 1..64
    kernel_repeats: int = 11

    @classmethod
    def quick(cls, **kw) -> Settings:
        base = {"speed_sentences": 4, "runs": 3, "sweep_beams": (1, 5),
                "sweep_sentences": 2, "sweep_runs": 1, "throughput_runs": 1,
                "profile_sentences": 2, "quality_sentences": 100, "examples": 3,
                "example_runs": 3, "flip_sentences": 20,
                "batch_sizes": (1, 4, 16), "batch_sentences": 16,
                "batch_runs": 1, "invariance_batch": 16, "dask_lines": 200,
                "dask_runs": 1, "kernel_P": (1, 5, 20), "kernel_repeats": 3}
        return cls(**{**base, **kw})


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
    value: float  # the measured ratio
    met: bool


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
    sentences: int
    words: int
    systems: list[QualityResult]


@dataclasses.dataclass
class Example:
    """One differing sentence, as Tables 8 and 9 show it."""

    index: int  # in the test set
    source: str
    text: tuple[str, str]  # the outputs of systems a and b
    marked: tuple[str, str]  # the same with differences in **bold**
    time_ms: tuple[float, float]  # mean of example_runs
    flip: object  # nmt8.lab.diff.Flip: where the two beams part
    explain: str


@dataclasses.dataclass
class Differences:
    """How the outputs of systems a and b differ (Section 5)."""

    systems: tuple[System, System]
    sentences: int
    identical: int
    identical_first_166: int
    flip_sentences: int
    flip_summary: object  # nmt8.lab.diff.FlipSummary
    examples: list[Example]


# -- batch decoding: the paper's future work (Section 7) --------------------------
@dataclasses.dataclass
class BatchSpeedResult:
    """One system decoding a workload ``batch`` sentences at a time, beam 5,
    on one core: the seconds of each (interleaved) run."""

    workload: str
    system: System
    batch: int
    beam: int
    sentences: int
    words: int
    runs: list[float]
    wpcs_min: float
    wpcs_median: float
    wpcs_max: float


@dataclasses.dataclass
class BatchInvariance:
    """How many of ``sentences`` outputs change between batch 1 and
    ``batch``: another translation, or another score in any bit."""

    workload: str
    system: System
    batch: int
    sentences: int
    translations_differ: int
    scores_differ: int


@dataclasses.dataclass
class DaskRun:
    workers: int  # single-threaded worker processes of a LocalCluster
    runs: list[float]  # seconds of each run over the whole file
    lines_per_s_min: float
    lines_per_s_median: float
    lines_per_s_max: float


@dataclasses.dataclass
class DaskScaling:
    """``nmt8.dask.translate_file`` on a LocalCluster, this machine."""

    workload: str
    system: System
    lines: int  # of the generated file, our own sentences
    batch_size: int  # per worker (Translator.translate)
    by_workers: list[DaskRun]
    ratio: float | None  # median lines/s, most workers / one worker


@dataclasses.dataclass
class KernelPoint:
    method: str  # as nmt8.lab.bench names it: "numpy-fp32", "int8-avx2", ...
    P: int  # rows of X: beam x sentences in the batch
    seconds: float  # median per call
    gops: float  # 2 P in out / seconds / 1e9


@dataclasses.dataclass
class KernelScaling:
    """GOP/s of each product against P on one paper-size shape
    (``nmt8.lab.bench.bench_kernels``, weights from cache)."""

    shape: tuple[int, int]  # (in, out)
    points: list[KernelPoint]
    crossover: int | None  # smallest measured P from which the blocked
    # kernel beats the naive one at every larger P; None: it never does, or
    # one of them was not measured
    blocked: str | None = None  # the blocked method measured; None: not built
    naive: str | None = None  # the naive method it takes over from


@dataclasses.dataclass
class BatchDecoding:
    """Beyond the paper: batch decoding, its invariance, Dask, kernels."""

    speed: list[BatchSpeedResult] = dataclasses.field(default_factory=list)
    invariance: list[BatchInvariance] = dataclasses.field(default_factory=list)
    dask: DaskScaling | None = None
    kernels: KernelScaling | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


# -- one run -----------------------------------------------------------------------------
@dataclasses.dataclass
class Results:
    """Everything one ``nmt8 reproduce`` run measured (``results.json``)."""

    command: str
    quick: bool
    settings: Settings
    machine: object  # nmt8.lab.machine.Machine
    model: str  # the model's label
    config: object  # its nmt8.config.ModelConfig (Table 4)
    ensemble: str | None  # the second model's label
    paper: dict  # nmt8.lab.paper.as_dict(): theirs, for the JSON reader
    notes: list[str] = dataclasses.field(default_factory=list)
    data: DataStats = dataclasses.field(default_factory=lambda: DataStats(False))
    workloads: list[WorkloadInfo] = dataclasses.field(default_factory=list)
    profile: list[Profile] = dataclasses.field(default_factory=list)
    cross_check: list[CrossCheck] = dataclasses.field(default_factory=list)
    speed: list[SpeedResult] = dataclasses.field(default_factory=list)
    peer_check: list[PeerCheck] = dataclasses.field(default_factory=list)
    beam_sweep: list[SpeedResult] = dataclasses.field(default_factory=list)
    throughput: list[Throughput] = dataclasses.field(default_factory=list)
    quality: Quality | None = None
    differences: Differences | None = None
    batch: BatchDecoding | None = None
    targets: list[Target] = dataclasses.field(default_factory=list)
    plots: list[str] = dataclasses.field(default_factory=list)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # by part
    total_seconds: float = 0.0

    @property
    def paper_workload(self) -> str | None:
        """The name of the paper-size workload (the last one)."""
        return self.workloads[-1].name if self.workloads else None


def to_json(obj):
    """``dataclasses.asdict``, plus each System's label; numpy and paths as
    plain JSON values."""
    if isinstance(obj, System):
        return {**dataclasses.asdict(obj), "label": obj.label,
                "variant": obj.variant}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name))
                for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj
