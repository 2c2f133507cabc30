"""The other half of 8 bits: how much memory a model holds, per precision.

Quinn & Ballesteros 2018 measure speed; 8-bit weights also take a quarter
of the bytes. This module measures what a process really holds:

* ``Model.nbytes()`` counts the arrays a model holds (``nmt8.model.model``);
* :func:`measure` loads a model FROM ITS FILE in a fresh Python process
  (so nothing another measurement allocated is counted, and the peak is
  this load's own) and reports the process's resident memory before
  loading, after loading and after translating (``/proc/self/statm``), and
  its peak (``VmHWM``; ``resource.getrusage(...).ru_maxrss`` is kept too,
  but Linux carries it over from the parent that started the process), in
  a :class:`MemoryResult`;
* ``python -m nmt8.lab.speed.memory`` saves a paper-size random model (E=620,
  H=1000, 40k vocabularies: ``nmt8.random_model()``) to a temporary folder
  with ``np.savez`` and its options JSON, measures every precision, and
  prints a table with each one's ratio to fp32.

Resident memory includes the interpreter, numpy, BLAS and the compiled
kernels (the "start" column): compare the "loaded" columns, and read the
model's own share as loaded - start. Linux only (``/proc``).

Does not: time anything (``nmt8.lab``), or assert thresholds: the ratios
are printed, the tests check the ordering of ``Model.nbytes()`` only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["MemoryResult", "against", "maxrss_bytes", "measure",
           "peak_bytes", "resident_bytes", "save_model"]

_MiB = 2**20


def resident_bytes() -> int:
    """This process's resident set now, in bytes (``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        resident_pages = int(fh.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def peak_bytes() -> int:
    """This process's peak resident set so far, in bytes: ``VmHWM`` of
    ``/proc/self/status``, the high-water mark of this program's memory.

    (``resource.getrusage(...).ru_maxrss``, see :func:`maxrss_bytes`, is
    the same number except that Linux carries it across fork and exec: a
    child started by a large parent reports the parent's size.)"""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return maxrss_bytes()  # pragma: no cover - a kernel without VmHWM


def maxrss_bytes() -> int:
    """``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in bytes (KiB on
    Linux): the peak resident set, including, on Linux, the parent's at the
    fork that started this process."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclasses.dataclass(frozen=True)
class MemoryResult:
    """One precision's memory, measured in a fresh process. Bytes."""

    precision: str
    kernel: str
    scheme: str | None
    embeddings: str
    nbytes: int  # Model.nbytes() after translating (packed copies included)
    start: int  # resident after importing nmt8, before loading
    loaded: int  # resident after load_model
    translated: int  # resident after translating the lines
    peak: int  # VmHWM at the end: the largest resident set of the run
    maxrss: int  # ru_maxrss at the end (on Linux >= the parent's at fork)

    def row(self, fp32: MemoryResult | None = None) -> str:
        """A markdown table row in MiB (ratios of the loaded and translated
        resident sets to ``fp32``'s)."""
        mib = [v / _MiB for v in (self.nbytes, self.start, self.loaded,
                                  self.translated, self.peak)]
        ratio = ""
        if fp32 is not None:
            ratio = (f" {self.loaded / fp32.loaded:.2f} | "
                     f"{self.translated / fp32.translated:.2f} |")
        name = self.precision + (f" {self.scheme}" if self.precision == "int4"
                                 else "")
        return (f"| {name} | {self.kernel} | {self.embeddings} | "
                + " | ".join(f"{v:.0f}" for v in mib) + " |" + ratio)


HEADER = ("| precision | kernel | embeddings | nbytes | start | loaded | "
          "translated | peak | loaded / fp32 | translated / fp32 |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def save_model(folder, model=None) -> Path:
    """Write ``model`` (default: the paper-size ``nmt8.random_model()``) as
    ``folder/model.npz`` (``np.savez``, float32) and its options JSON, with
    the BPE models found beside ``model.path`` (options naming none when
    they are not there); returns the ``model.npz`` path."""
    from nmt8.model.model import random_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = random_model() if model is None else model
    npz = folder / "model.npz"
    np.savez(npz, **{k: model.params[k] for k in model.params})
    cfg = model.cfg
    home = Path(model.path).parent if model.path is not None else None
    bpe = [home / name for name in cfg.bpe_models] if home else []
    if bpe and all(f.is_file() for f in bpe):
        for f in bpe:
            shutil.copyfile(f, folder / f.name)
    else:  # a Translator would look for them: the copy has none
        cfg = dataclasses.replace(cfg, bpe_models=[])
    cfg.to_json(folder / "model.npz.json")
    return npz


def _child(spec: dict) -> dict:
    """Runs in the fresh process: load, translate, report."""
    from nmt8.model.model import load_model
    from nmt8.model.weights import release_freed_memory
    from nmt8.serve.translator import Translator

    release_freed_memory()  # what the imports freed, as loading gives it back
    start = resident_bytes()
    model = load_model(spec["model"], spec["precision"], **spec["settings"])
    loaded = resident_bytes()
    tr = Translator(model, precision=spec["precision"], beam=spec["beam"],
                    **spec["settings"])
    del model  # the Translator's copy shares its arrays
    lines = spec["lines"]
    if lines and isinstance(lines[0], str):
        tr.translate(lines)
    else:
        tr.translate_ids(lines, max_len=spec["max_len"])
    m = tr.models[0]
    return {"precision": m.precision, "kernel": m.kernel, "scheme": m.scheme,
            "embeddings": m.embeddings, "nbytes": m.nbytes(), "start": start,
            "loaded": loaded, "translated": resident_bytes(),
            "peak": peak_bytes(), "maxrss": maxrss_bytes()}


def measure(precision: str = "fp32", model="de-en", lines=None,
            kernel: str | None = None, scheme: str | None = None,
            embeddings: str | None = None, beam: int = 5,
            max_len: int | None = 20) -> MemoryResult:
    """Resident memory of ``model`` (a name or a model.npz path) loaded in
    ``precision`` in a fresh Python process, after translating ``lines``
    (strings, or lists of source ids; default: three sentences of 20 ids,
    decoded for ``max_len`` steps). kernel/scheme/embeddings as
    ``nmt8.Translator`` (None: the default). Checked here first, so a bad
    setting is one error in this process."""
    from nmt8.model.model import check_options
    from nmt8.model.params import check_model

    settings = {k: v for k, v in (("kernel", kernel), ("scheme", scheme),
                                  ("embeddings", embeddings)) if v is not None}
    check_options(precision, **settings)
    npz, cfg = check_model(model)
    if lines is None:
        rng = np.random.default_rng(0)
        lines = [rng.integers(1, cfg.n_words_src, 20).tolist() for _ in range(3)]
    spec = {"model": str(npz), "precision": precision, "settings": settings,
            "beam": beam, "lines": [x if isinstance(x, str) else
                                    [int(i) for i in x] for x in lines],
            "max_len": max_len}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "nmt8.lab.speed.memory", "--child"],
                          input=json.dumps(spec), capture_output=True,
                          text=True, env=env, check=False)
    if proc.returncode:
        raise RuntimeError(f"memory measurement of {precision} failed:\n"
                           f"{proc.stderr.strip()}")
    return MemoryResult(**json.loads(proc.stdout.strip().splitlines()[-1]))


SYSTEMS = (("fp32", {}), ("fp32", {"kernel": "auto"}), ("int16", {}),
           ("int8", {}), ("int8", {"embeddings": "fp32"}),
           ("int4", {"scheme": "group64"}), ("int4", {"scheme": "group32"}),
           ("msfp16", {}))


def against(r: MemoryResult, base: MemoryResult) -> str:
    """One line: r's memory over base's (e.g. int4 over int8): the loaded
    resident set, the model's own share of it (loaded - start) and
    ``Model.nbytes()``."""
    return (f"{r.precision} {r.scheme or ''} / {base.precision}: loaded "
            f"{r.loaded / base.loaded:.2f}, loaded - start "
            f"{(r.loaded - r.start) / (base.loaded - base.start):.2f}, "
            f"nbytes {r.nbytes / base.nbytes:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m nmt8.lab.speed.memory",
        description="Resident memory per precision, each in a fresh process. "
                    "Default: a paper-size random model (E=620, H=1000, 40k "
                    "vocabularies) saved to a temporary folder first.")
    ap.add_argument("--model", default=None,
                    help="a model name or path instead of the paper-size one")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(json.loads(sys.stdin.read()))))
        return 0
    with tempfile.TemporaryDirectory(prefix="nmt8-memory-") as tmp:
        if a.model is None:
            print("saving a paper-size random model ...", file=sys.stderr)
            model = save_model(tmp)
        else:
            model = a.model
        print(HEADER)
        fp32, rows = None, []
        for precision, settings in SYSTEMS:
            r = measure(precision, model, **settings)
            fp32 = fp32 or r
            rows.append(r)
            print(r.row(fp32), flush=True)
    int8 = next(r for r in rows if r.precision == "int8")  # int8 embeddings
    print()
    for r in rows:
        if r.precision == "int4":
            print(against(r, int8))
    print("\nMiB; resident sets from /proc/self/statm, peak: VmHWM of "
          "/proc/self/status; start: the interpreter, numpy and nmt8 before "
          "loading. nbytes after translating (a VNNI kernel's packed copy "
          "included). msfp is simulated (float32 weights). int4: packed "
          "4-bit weights and their steps only.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
