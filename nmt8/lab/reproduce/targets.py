"""The batch-decoding targets for batch decoding, checked on the records of one
``nmt8 reproduce`` run (:class:`nmt8.lab.reproduce.batch_records.BatchDecoding`).

* End to end, beam 5, median words per core second (WPCS) at batch
  :data:`BATCH` = 32: on the shipped model (the first workload of the batch
  section), nmt8 int8 batched against the same int8 one sentence at a time
  (>= 2.5x) and against PyTorch fp32 batched (>= 5x); on the paper-size
  model, nmt8 int8 against nmt8 fp32 (numpy), both batched (>= 3x).
* Dask: lines per second of the most workers against one (>= 1.6x).
* Kernels, on each of the paper's shapes at each target P: the int8
  kernel (:func:`int8_method`) against numpy fp32 (>= 3.5x) and against
  FBGEMM (>= 1.2x), GOP/s at the same P (:func:`kernel_rows`).

A target whose measurements are missing gives no row.

Does not: measure (``nmt8.lab.speed.batch``) or format
(``nmt8.lab.report.beyond``; the targets table is ``nmt8.lab.report.speed``'s).
"""

from __future__ import annotations

import dataclasses

from nmt8.lab.reproduce.records import Target
from nmt8.lab.reproduce.systems import NMT8_FP32, NMT8_INT8, TORCH_FP32

BATCH = 32  # the batch size of the end-to-end targets
BEAM = 5
BATCHED_VS_ONE = 2.5  # nmt8 int8, batch 32 / batch 1, shipped model
INT8_VS_TORCH_FP32 = 5.0  # nmt8 int8 / PyTorch fp32, batch 32, shipped model
INT8_VS_FP32_PAPER = 3.0  # nmt8 int8 / nmt8 fp32, batch 32, paper size
DASK = 1.6  # most workers / one worker, lines per second
KERNEL_VS_NUMPY = 3.5  # int8 / numpy fp32 GOP/s, same shape and P
KERNEL_VS_FBGEMM = 1.2  # int8 / FBGEMM GOP/s, same shape and P

NUMPY = "numpy-fp32"  # as nmt8.lab.kernels.bench names its rows
FBGEMM = "torch-fbgemm"
# the blocked int8 kernels, first preferred: the one "auto" runs at the
# targets' P (nmt8.native.dispatch: amx where the core has AMX, else gemm,
# else gemm_avx2)
BLOCKED = ("amx", "gemm", "gemm_avx2")


def int8_method(points) -> str | None:
    """The int8 method the kernel targets use: the first of ``BLOCKED``
    measured (``int8-amx``, ``int8-gemm``, ``int8-gemm_avx2``), else the
    int8 method with the most GOP/s summed over the points; None without
    any int8 point."""
    measured = {p.method for p in points}
    for k in BLOCKED:
        if f"int8-{k}" in measured:
            return f"int8-{k}"
    gops: dict[str, float] = {}
    for p in points:
        if p.method.startswith("int8-"):
            gops[p.method] = gops.get(p.method, 0.0) + p.gops
    return max(gops, key=gops.get) if gops else None


@dataclasses.dataclass(frozen=True)
class KernelRow:
    """GOP/s of one shape at one P: numpy fp32, the int8 method, FBGEMM
    (None: not measured), and the two ratios the targets ask for, with
    their min / median / max over the interleaved rounds when the rounds
    were recorded (the ratio taken round by round)."""

    shape: tuple[int, int]  # (in, out)
    P: int
    method: str  # the int8 method, as nmt8.lab.kernels.bench names it
    numpy: float | None
    int8: float | None
    fbgemm: float | None
    int8_spread: dict | None = None  # GOP/s, min / median / max
    vs_numpy_spread: dict | None = None
    vs_fbgemm_spread: dict | None = None

    @property
    def vs_numpy(self) -> float | None:
        return self.int8 / self.numpy if self.int8 and self.numpy else None

    @property
    def vs_fbgemm(self) -> float | None:
        return self.int8 / self.fbgemm if self.int8 and self.fbgemm else None


def kernel_rows(k) -> list[KernelRow]:
    """One :class:`KernelRow` per P of a KernelScaling, in order of P; none
    without an int8 method."""
    method = int8_method(k.points)
    if method is None:
        return []
    at = {(p.method, p.P): p for p in k.points}
    gops = {key: p.gops for key, p in at.items()}
    return [KernelRow(tuple(k.shape), P, method, gops.get((NUMPY, P)),
                      gops.get((method, P)), gops.get((FBGEMM, P)),
                      at[(method, P)].gops_spread if (method, P) in at
                      else None,
                      _ratio_spread(at.get((NUMPY, P)), at.get((method, P))),
                      _ratio_spread(at.get((FBGEMM, P)), at.get((method, P))))
            for P in sorted({p.P for p in k.points})]


def _ratio_spread(base, point) -> dict | None:
    """min / median / max over the rounds of base seconds / point seconds
    (how much faster ``point`` is), round by round; None without rounds."""
    if base is None or point is None or not base.rounds or not point.rounds:
        return None
    x = sorted(b / s for b, s in zip(base.rounds, point.rounds))
    n = len(x)
    med = x[n // 2] if n % 2 else (x[n // 2 - 1] + x[n // 2]) / 2
    return {"min": x[0], "median": med, "max": x[-1]}


def targets(b, paper_workload: str | None) -> list[Target]:
    """The batch-decoding targets, from a BatchDecoding (None: no rows);
    ``paper_workload`` names the paper-size workload."""
    if b is None:
        return []
    out = []
    med = {(r.workload, r.system, r.batch): r.wpcs_median for r in b.speed
           if r.beam == BEAM}

    def add(name, need, a, z):
        if med.get(a) and med.get(z):
            x = med[a] / med[z]
            out.append(Target(name, x, x >= need))

    names = list(dict.fromkeys(r.workload for r in b.speed))
    shipped = names[0] if names and names[0] != paper_workload else None
    tail = f"beam {BEAM}"
    if shipped is not None:
        add(f"{NMT8_INT8.label} batch {BATCH} / {NMT8_INT8.label} batch 1 "
            f"median WPCS >= {BATCHED_VS_ONE}x, {tail}, {shipped}",
            BATCHED_VS_ONE,
            (shipped, NMT8_INT8, BATCH), (shipped, NMT8_INT8, 1))
        add(f"{NMT8_INT8.label} / {TORCH_FP32.label} median WPCS >= "
            f"{INT8_VS_TORCH_FP32}x, both batch {BATCH}, {tail}, {shipped}",
            INT8_VS_TORCH_FP32,
            (shipped, NMT8_INT8, BATCH), (shipped, TORCH_FP32, BATCH))
    if paper_workload is not None:
        add(f"{NMT8_INT8.label} / {NMT8_FP32.label} (numpy) median WPCS >= "
            f"{INT8_VS_FP32_PAPER}x, both batch {BATCH}, {tail}, "
            f"{paper_workload}",
            INT8_VS_FP32_PAPER, (paper_workload, NMT8_INT8, BATCH),
            (paper_workload, NMT8_FP32, BATCH))
    d = b.dask
    if d is not None and d.ratio is not None:
        most, one = d.by_workers[-1].workers, d.by_workers[0].workers
        out.append(Target(f"Dask, {d.system.label}: {most} workers / {one} "
                          f"worker median lines/s >= {DASK}x, {d.lines} "
                          "lines", d.ratio, d.ratio >= DASK))
    for k in b.kernel_shapes:
        for r in kernel_rows(k):
            where = f"kernel {r.shape[0]}x{r.shape[1]}, P={r.P}"
            for base, x, need in ((NUMPY, r.vs_numpy, KERNEL_VS_NUMPY),
                                  (FBGEMM, r.vs_fbgemm, KERNEL_VS_FBGEMM)):
                if x is not None:
                    out.append(Target(f"{where}: {r.method} / {base} GOP/s "
                                      f">= {need}x", x, x >= need))
    return out
