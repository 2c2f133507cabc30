"""The memory part of ``nmt8 reproduce``: resident memory per precision.

8-bit weights take a quarter of fp32's bytes; the paper measures speed
only. For every workload's model (the trained one and the paper-size random
one, E=620 H=1000 40k vocabularies) and every timed precision, this part
runs ``nmt8.lab.speed.memory.measure``: the model loaded FROM ITS FILE in a fresh
Python process (a model that has no file is saved to a temporary folder
first, ``nmt8.lab.speed.memory.save_model``), the resident set after loading and
after translating, and the peak, as :class:`~nmt8.lab.reproduce.records.MemoryUse`
records. The report gives each one's ratio to fp32.

Does not: hold thresholds in tests (resident sets are a benchmark) or read
``/proc`` itself (``nmt8.lab.speed.memory``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from nmt8.lab.reproduce.records import MemoryUse, Target
from nmt8.lab.reproduce.settings import Settings
from nmt8.lab.reproduce.systems import (
    NMT8_FP32,
    NMT8_INT4,
    NMT8_INT8,
    NMT8_INT16,
    System,
)
from nmt8.lab.speed import memory
from nmt8.lab.speed.speed import ladder_systems, runnable
from nmt8.model.model import Model

# the paper-size model loaded from a file, resident after loading: a
# system against its base (fp32, and int4 against int8: issue 23)
TARGETS = ((NMT8_INT8, NMT8_FP32, 0.45), (NMT8_INT16, NMT8_FP32, 0.65),
           (NMT8_INT4, NMT8_INT8, 0.65))


def systems(settings: Settings) -> list[System]:
    """The systems to measure: ``settings.memory_systems`` (default every
    timed rung of the ladder) that this machine runs."""
    chosen = settings.memory_systems
    if chosen is None:
        return ladder_systems(timed=True)
    return [s for s in chosen if runnable(s)]


def model_file(model: Model, folder) -> Path:
    """The ``model.npz`` the model was loaded from, or a copy saved into
    ``folder`` when it has none (a random or in-memory model)."""
    if model.path is not None and Path(model.path).is_file() and not model.random:
        return Path(model.path)
    return memory.save_model(folder, model)


def memory_use(loads, settings: Settings, progress=True) -> list[MemoryUse]:
    """One :class:`MemoryUse` per workload's model and system, each in a
    fresh process, translating ``nmt8.lab.speed.memory.measure``'s default lines
    (three sentences of random ids) at beam 5."""
    from tqdm.auto import tqdm

    out = []
    todo = systems(settings)
    with tempfile.TemporaryDirectory(prefix="nmt8-memory-") as tmp:
        for k, w in enumerate(loads):
            npz = model_file(w.model, Path(tmp) / f"model{k}")
            for system in tqdm(todo, desc=f"memory {k + 1}/{len(loads)}",
                               disable=not progress, leave=False):
                r = memory.measure(system.precision, npz, kernel=system.kernel,
                                   scheme=system.scheme)
                out.append(MemoryUse(
                    model=w.name, system=system, embeddings=r.embeddings,
                    nbytes=r.nbytes, start=r.start, loaded=r.loaded,
                    translated=r.translated, peak=r.peak))
    return out


def targets(records: list[MemoryUse], workload: str | None) -> list[Target]:
    """The issues' memory targets: resident after loading, against the
    base's (fp32, or int8 for int4), on ``workload`` (the paper-size one)."""
    loaded = {r.system: r.loaded for r in records if r.model == workload}
    out = []
    for system, base, need in TARGETS:
        if system in loaded and base in loaded:
            x = loaded[system] / loaded[base]
            out.append(Target(f"{system.precision}/{base.precision} resident "
                              f"after loading <= {need}x", x, x <= need))
    return out
