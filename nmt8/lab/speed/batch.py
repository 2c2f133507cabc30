"""Batch decoding, measured: the paper's future work (Section 7).

* :func:`sweep`: words per core second against batch size, for several
  systems, with their runs interleaved (every run visits every system and
  batch size in turn, so a slow spell on the machine slows all of them);
* :func:`invariance`: how many outputs change between batch 1 and batch B
  (nmt8 int8: none, by construction; fp32: BLAS may round rows differently;
  PyTorch int8: one activation scale per product, shared by the batch);
* for ``nmt8 reproduce`` (records of ``nmt8.lab.reproduce.results``):
  :func:`batch_speeds`, :func:`batch_invariance`, :func:`dask_scaling`
  (``nmt8.serve.dask`` on a LocalCluster of 1 and 2 single-threaded workers),
  :func:`kernel_scaling` (GOP/s against P = beam x batch, from
  ``nmt8.lab.kernels.bench``) and :func:`kernel_shapes` (GOP/s on the paper's
  shapes at the target P).

Everything but the Dask run is on one core: one BLAS thread, one process.

Does not: decode (``nmt8.search.batch``, ``nmt8.lab.speed.peer``), time the kernels
itself (``nmt8.lab.kernels.bench``), check targets (``nmt8.lab.reproduce.targets``),
or parse and print (``nmt8 bench batch``: ``nmt8.lab.speed.bulk``).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

from nmt8.search.batch import translate_ids
from nmt8.serve.threads import blas_threads


@dataclasses.dataclass(frozen=True)
class BatchSpeed:
    """One system at one batch size: source words and the seconds of each run."""

    system: object  # as the caller named it: "int8", or a results.System
    batch: int
    words: int
    seconds: tuple[float, ...]

    @property
    def wpcs(self) -> tuple[float, float, float]:
        """(min, median, max) words per core second over the runs."""
        w = sorted(self.words / s for s in self.seconds)
        return w[0], statistics.median(w), w[-1]


def sweep(systems, ids, words: int, batch_sizes=(1, 4, 16, 64), runs: int = 3,
          beam: int = 5, max_lens=None, min_len: int = 0) -> list[BatchSpeed]:
    """Time ``systems`` (a list of (name, models); models as
    ``nmt8.search.batch.translate_ids`` takes them: nmt8 Models or the peer's
    TorchModels) decoding ``ids`` at each batch size, runs interleaved; one
    BatchSpeed per (system, batch), in the order given."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    times = {(p, b): [] for p, _ in systems for b in batch_sizes}
    for _ in range(runs):
        for p, models in systems:
            for b in batch_sizes:
                t0 = time.perf_counter()
                translate_ids(models, ids, b, beam=beam, max_lens=max_lens,
                              min_len=min_len)
                times[p, b].append(time.perf_counter() - t0)
    return [BatchSpeed(p, b, words, tuple(times[p, b]))
            for p, _ in systems for b in batch_sizes]


def invariance(models, ids, batch: int, beam: int = 5, max_lens=None,
               min_len: int = 0) -> tuple[int, int]:
    """How many sentences get (another translation, another score, to the
    last bit) at batch ``batch`` than at batch 1."""
    kw = {"beam": beam, "max_lens": max_lens, "min_len": min_len}
    one = translate_ids(models, ids, 1, **kw)
    many = translate_ids(models, ids, batch, **kw)
    words = sum([h.ids for h in a] != [h.ids for h in b]
                for a, b in zip(one, many))
    scores = sum([h.score for h in a] != [h.score for h in b]
                 for a, b in zip(one, many))
    return words, scores


# -- the "Batch decoding" section of nmt8 reproduce ----------------------------------
def _search(w) -> dict:
    """max_lens and min_len of a speed workload: a random model decodes each
    sentence's fixed steps (</s> forbidden until its own max_len ends it)."""
    return {"max_lens": w.max_lens,
            "min_len": max(w.max_lens) if w.max_lens else 0}


def batch_speeds(loads, systems, settings, progress=True) -> list:
    """WPCS (min / median / max over interleaved runs) of every system at
    every batch size of ``settings.batch_sizes``, beam 5, per workload."""
    from tqdm.auto import tqdm

    from nmt8.lab.reproduce.batch_records import BatchSpeedResult

    out = []
    for w in tqdm(loads, desc="batch sizes", disable=not progress, leave=False):
        decoders = [(s, s.build(w.model, 5).models) for s in systems]
        with blas_threads(1):  # entered after the build: torch is loaded
            res = sweep(decoders, w.src_ids, w.words, settings.batch_sizes,
                        settings.batch_runs, beam=5, **_search(w))
        for r in res:
            lo, med, hi = r.wpcs
            out.append(BatchSpeedResult(
                workload=w.name, system=r.system, batch=r.batch, beam=5,
                sentences=len(w.src_ids), words=w.words, runs=list(r.seconds),
                wpcs_min=lo, wpcs_median=med, wpcs_max=hi))
    return out


def batch_invariance(w, systems, settings) -> list:
    """For each system: outputs at batch ``settings.invariance_batch`` that
    differ from batch 1 (translations, scores), beam 5, workload ``w``."""
    from nmt8.lab.reproduce.batch_records import BatchInvariance

    batch = settings.invariance_batch
    out = []
    for s in systems:
        models = s.build(w.model, 5).models
        with blas_threads(1):
            words, scores = invariance(models, w.src_ids, batch, beam=5,
                                       **_search(w))
        out.append(BatchInvariance(w.name, s, batch, len(w.src_ids), words,
                                   scores))
    return out


def our_lines(n: int) -> list[str]:
    """n German lines of our own sentences (``nmt8.testing``), repeated."""
    from nmt8.testing import PAIRS, grammar_pairs

    own = [de for de, _ in PAIRS] + [de for de, _ in grammar_pairs()]
    return [own[i % len(own)] for i in range(n)]


def dask_scaling(w, system, settings, progress=True):
    """Lines per second of ``nmt8.serve.dask.translate_file`` over a generated
    file of ``settings.dask_lines`` of our own lines, on a LocalCluster
    scaled to each of ``settings.dask_workers`` single-threaded worker
    processes; at each size a few partitions are first translated untimed
    (loading the model in new workers). Returns a DaskScaling, or None
    without Dask."""
    import io
    import tempfile
    from pathlib import Path

    from nmt8.lab.reproduce.batch_records import DaskRun, DaskScaling

    try:
        from distributed import Client, LocalCluster

        from nmt8.serve.dask import DEFAULT_PARTITION, translate_file
    except ImportError:
        return None
    lines = our_lines(settings.dask_lines)
    kw = system.translator_kwargs(w.ref, beam=5)
    by = []
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                         dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        src = Path(tmp) / "ours.de"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        for n in sorted(settings.dask_workers):  # one cluster, scaled up
            cluster.scale(n)
            client.wait_for_workers(n)
            warm = lines[:2 * n * DEFAULT_PARTITION]  # loads the model
            translate_file(warm, io.StringIO(), client, progress=False, **kw)
            runs = []
            for _ in range(settings.dask_runs):
                t0 = time.perf_counter()
                done = translate_file(src, io.StringIO(), client, progress=False,
                                      **kw)
                runs.append(time.perf_counter() - t0)
                if done != len(lines):
                    raise RuntimeError(f"Dask wrote {done} of {len(lines)} lines")
            lps = sorted(len(lines) / t for t in runs)
            by.append(DaskRun(n, runs, lps[0], statistics.median(lps), lps[-1]))
    ratio = (by[-1].lines_per_s_median / by[0].lines_per_s_median
             if len(by) > 1 else None)
    return DaskScaling(w.name, system, len(lines), 1, by, ratio)


def kernel_scaling(settings, progress=True):
    """GOP/s of numpy fp32, every int8 kernel this CPU runs and FBGEMM
    against P (``settings.kernel_P``) on the (H, 3H) recurrent matrix of
    the paper-size model, by ``nmt8.lab.kernels.bench.bench_kernels``."""
    from nmt8.lab.kernels import bench
    from nmt8.lab.kernels.machine import has_torch
    from nmt8.lab.reproduce.batch_records import KernelPoint, KernelScaling

    H = settings.paper_size[1]
    shape = (H, 3 * H)
    rows = bench.bench_kernels([shape], settings.kernel_P,
                               repeats=settings.kernel_repeats,
                               include_torch=has_torch(), progress=progress,
                               min_sample=5e-4)
    points = [KernelPoint(r["method"], r["P"], r["seconds"], r["gops"],
                          r["rounds"])
              for r in rows]
    blocked, naive = BLOCKED_VS_NAIVE
    measured = {p.method for p in points}
    if blocked not in measured or naive not in measured:
        return KernelScaling(shape, points, None, None, None)
    return KernelScaling(shape, points, crossover(points, blocked, naive),
                         blocked, naive)


def kernel_shapes(settings, progress=True) -> list:
    """GOP/s of numpy fp32, the blocked int8 kernel "auto" runs at these
    P (``amx`` where the core has AMX, else ``gemm``, else ``gemm_avx2``;
    ``nmt8.lab.reproduce.targets.BLOCKED``), else this CPU's default int8
    kernel, and PyTorch's int8 engines on each
    of ``settings.kernel_target_shapes`` at each P of
    ``settings.kernel_target_P`` (the kernel targets,
    ``nmt8.lab.reproduce.targets``): one KernelScaling per shape, by
    ``nmt8.lab.kernels.bench.bench_kernels``; none without target P."""
    from nmt8.lab.kernels import bench
    from nmt8.lab.kernels.machine import has_torch
    from nmt8.lab.reproduce.batch_records import KernelPoint, KernelScaling
    from nmt8.lab.reproduce.targets import BLOCKED
    from nmt8.native.kernels import available_kernels, default_kernel

    shapes = [tuple(s) for s in settings.kernel_target_shapes]
    if not settings.kernel_target_P or not shapes:
        return []
    blocked = [k for k in BLOCKED if k in available_kernels()][:1]
    rows = bench.bench_kernels(shapes, settings.kernel_target_P,
                               repeats=settings.kernel_repeats,
                               kernels=blocked or [default_kernel()],
                               include_torch=has_torch(), progress=progress,
                               min_sample=5e-4, fp32_kernels=(),
                               int16_kernels=(), int4_kernels=())
    out = []
    for shape in shapes:
        points = [KernelPoint(r["method"], r["P"], r["seconds"], r["gops"],
                          r["rounds"])
                  for r in rows if (r["in"], r["out"]) == shape]
        out.append(KernelScaling(shape, points, crossover=None,
                                 blocked=f"int8-{blocked[0]}" if blocked
                                 else None))
    return out


# the blocked int8 kernel and the naive one that "auto" swaps it for from
# some P on (nmt8.native.kernels), as nmt8.lab.kernels.bench names their rows
BLOCKED_VS_NAIVE = ("int8-gemm", "int8-vnni")


def crossover(points, blocked: str, naive: str) -> int | None:
    """The smallest measured P from which ``blocked`` has more GOP/s than
    ``naive`` at that P and every larger one measured; None if never."""
    gops = {(p.method, p.P): p.gops for p in points}
    Ps = sorted(P for m, P in gops if m == blocked and (naive, P) in gops)
    out = None
    for P in reversed(Ps):
        if gops[blocked, P] <= gops[naive, P]:
            break
        out = P
    return out
