"""What ``nmt8 reproduce`` runs and what it finds, as typed records.

This module holds one whole run, :class:`Results`, and :func:`to_json`;
it re-exports the names of the modules it was split into, so
``from nmt8.lab.reproduce.results import ...`` keeps working for every record:

* ``nmt8.lab.reproduce.systems``: :class:`System` (one decoder), the precision
  ladder (:data:`LADDER` of :class:`Rung`) and :data:`BASELINES`;
* ``nmt8.lab.reproduce.settings``: :class:`Settings` (how much to run);
* ``nmt8.lab.reproduce.records``: one record per measurement of the paper's tables
  (:class:`Profile`, :class:`SpeedResult`, :class:`QualityResult`,
  :class:`Differences`, ...) and the resident memory (:class:`MemoryUse`);
* ``nmt8.lab.reproduce.batch_records``: batch decoding, the paper's future work
  (:class:`BatchDecoding` and its parts).

``results.json`` is :func:`to_json` of :class:`Results`: the
``dataclasses.asdict`` tree (one key per field, lists of records as lists of
objects), where every ``system`` object also carries its ``label`` and
``variant``. For example ``results.json["speed"]`` is a list of
``{"workload", "beam", "system": {"engine", "precision", "scheme", "kernel",
"models", "label", "variant"}, "wps", "wpcs", ...}``. Sections read back
into records with ``BatchDecoding.from_json(saved["batch"])`` and
``MemoryUse.from_json`` (one object of ``saved["memory"]``).

Does not: measure (``nmt8.lab.speed.speed``, ``nmt8.lab.outputs.quality``) or format
(``nmt8.lab.report.report``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from nmt8.lab.reproduce.batch_records import (
    BatchDecoding,
)
from nmt8.lab.reproduce.records import (
    CrossCheck,
    DataStats,
    Differences,
    MemoryUse,
    PeerCheck,
    Profile,
    Quality,
    QuantizedTraining,
    SpeedResult,
    Target,
    Throughput,
    WorkloadInfo,
)
from nmt8.lab.reproduce.settings import Settings
from nmt8.lab.reproduce.systems import (
    System,
)


# -- one run -----------------------------------------------------------------------------
@dataclasses.dataclass
class Results:
    """Everything one ``nmt8 reproduce`` run measured (``results.json``)."""

    command: str
    quick: bool
    settings: Settings
    machine: object  # nmt8.lab.kernels.machine.Machine
    model: str  # the model's label
    config: object  # its nmt8.model.config.ModelConfig (Table 4)
    ensemble: str | None  # the second model's label
    paper: dict  # nmt8.lab.figures.paper.as_dict(): theirs, for the JSON reader
    notes: list[str] = dataclasses.field(default_factory=list)
    data: DataStats = dataclasses.field(default_factory=lambda: DataStats(False))
    workloads: list[WorkloadInfo] = dataclasses.field(default_factory=list)
    profile: list[Profile] = dataclasses.field(default_factory=list)
    cross_check: list[CrossCheck] = dataclasses.field(default_factory=list)
    speed: list[SpeedResult] = dataclasses.field(default_factory=list)
    peer_check: list[PeerCheck] = dataclasses.field(default_factory=list)
    beam_sweep: list[SpeedResult] = dataclasses.field(default_factory=list)
    throughput: list[Throughput] = dataclasses.field(default_factory=list)
    quality: Quality | None = None  # Table 6 of the model's direction
    directions: list[Quality] = dataclasses.field(default_factory=list)
    # ... and of the shipped models of the other direction(s)
    differences: Differences | None = None
    batch: BatchDecoding | None = None
    memory: list[MemoryUse] = dataclasses.field(default_factory=list)
    # training quantized models (the paper's future work, issue 23)
    quantized_training: QuantizedTraining | None = None
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
