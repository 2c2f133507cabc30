"""Records of batch decoding, the paper's future work (Section 7).

:class:`BatchDecoding` holds one ``nmt8 reproduce`` run's section:
:class:`BatchSpeedResult` (WPCS against batch size),
:class:`BatchInvariance`, :class:`DaskScaling` (of :class:`DaskRun`) and
:class:`KernelScaling` (of :class:`KernelPoint`): against P on the
recurrent matrix, and at the target P on each of the paper's
shapes. :meth:`BatchDecoding.from_json` reads the section back from
``results.json``.

Does not: measure (``nmt8.lab.speed.bulk``), check targets
(``nmt8.lab.reproduce.targets``) or format (``nmt8.lab.report.beyond``).
"""

from __future__ import annotations

import dataclasses

from nmt8.lab.reproduce.records import system_from_json
from nmt8.lab.reproduce.systems import System


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
    """``nmt8.serve.dask.translate_file`` on a LocalCluster, this machine."""

    workload: str
    system: System
    lines: int  # of the generated file, our own sentences
    batch_size: int  # per worker (Translator.translate)
    by_workers: list[DaskRun]
    ratio: float | None  # median lines/s, most workers / one worker


@dataclasses.dataclass
class KernelPoint:
    method: str  # as nmt8.lab.kernels.bench names it: "numpy-fp32", "int8-avx2", ...
    P: int  # rows of X: beam x sentences in the batch
    seconds: float  # median per call
    gops: float  # 2 P in out / seconds / 1e9
    # seconds per call in each interleaved round (None in older records):
    # the spread, and ratios to the other methods round by round
    rounds: list[float] | None = None

    @property
    def gops_spread(self) -> dict | None:
        """min / median / max GOP/s over the rounds (None: not recorded)."""
        if not self.rounds:
            return None
        ops = self.gops * self.seconds
        return {"min": ops / max(self.rounds),
                "median": self.gops, "max": ops / min(self.rounds)}


@dataclasses.dataclass
class KernelScaling:
    """GOP/s of each product against P on one paper-size shape
    (``nmt8.lab.kernels.bench.bench_kernels``, weights from cache)."""

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
    kernels: KernelScaling | None = None  # against P, the recurrent matrix
    kernel_shapes: list[KernelScaling] = dataclasses.field(
        default_factory=list)  # the target P, one per paper shape
    # this core's true limits (nmt8.native.peak.measure_peaks: int8_vnni,
    # int8_avx2, fp32, read, each with min / median / max); None when not
    # measured
    peaks: dict | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict) -> BatchDecoding:
        """The section back from its ``results.json`` object."""
        def system(r):
            return {**r, "system": system_from_json(r["system"])}

        dask = d.get("dask")
        if dask is not None:
            dask = DaskScaling(**{**system(dask), "by_workers": [
                DaskRun(**r) for r in dask["by_workers"]]})
        kernels = d.get("kernels")
        return cls(
            speed=[BatchSpeedResult(**system(r)) for r in d.get("speed", [])],
            invariance=[BatchInvariance(**system(r))
                        for r in d.get("invariance", [])],
            dask=dask,
            kernels=None if kernels is None else _kernels(kernels),
            kernel_shapes=[_kernels(k) for k in d.get("kernel_shapes", [])],
            peaks=d.get("peaks"),
            notes=list(d.get("notes", [])))


def _kernels(d: dict) -> KernelScaling:
    return KernelScaling(**{**d, "shape": tuple(d["shape"]),
                            "points": [KernelPoint(**p) for p in d["points"]]})

