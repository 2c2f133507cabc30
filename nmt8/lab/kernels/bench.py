"""Benchmarks of the products of Section 3 of Quinn & Ballesteros 2018, on
every rung of the precision ladder (fp32, int16, int8, int4): the command
and its reports.

``nmt8 bench kernels`` times, for the matrix shapes of the paper's model
(embedding 620, hidden 1000, fused GRU gates, vocabulary) and narrow X of P
rows (beam sizes), numpy fp32, every C fp32, int16, int8 and int4 kernel
and PyTorch's FBGEMM, interleaved on one thread (``nmt8.lab.kernels.interleaved``), and
prints them as markdown: :func:`format_table` gives every row's speed-up
against both fp32 baselines (numpy, and the fastest C fp32 kernel), and
:func:`format_decomposition` sets each precision's best speed-up over C fp32
beside its bytes per weight (4 / 2 / 1 / 0.5): where a product streams its
weights from memory, fewer bytes should buy about that ratio; the rest is
kernel quality; :func:`int4_vs_int8` sets int4 against int8 round by
round. :func:`quantize_cost` adds what quantizing costs at load.

``--stream`` cycles through copies of the weights so that every call reads
them from memory (the 500 x 30000 output layer streams anyway); without it
a matrix that fits in the last-level cache is timed from cache. The report
says which. ``--sweep-rows`` instead times each naive int8 kernel against
its blocked one (``vnni``/``gemm``, ``avx2``/``gemm_avx2``, those this CPU
runs) against P (``nmt8.lab.kernels.sweep``).

Importing this module changes nothing (no environment variables).

Does not: time the decoder (``nmt8.lab.speed.measure``), flush caches between calls,
or assert anything about speed (tests assert, benchmarks measure).

CLI: ``python -m nmt8.lab.kernels.bench [--quick] [--json] [--stream]
[--kernels vnni,sse4] [--P 1,5] [--sweep-rows]`` (also ``nmt8 bench kernels
...``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from nmt8.lab.kernels.interleaved import (
    P_VALUES,
    PAPER_SHAPES,
    bench_kernels,
    load_torch,
)
from nmt8.lab.kernels.sweep import (
    SWEEP_KERNELS,
    SWEEP_P,
    SWEEP_SHAPES,
    format_sweep,
    sweep_rows,
)
from nmt8.serve.threads import blas_threads, describe

_clock = time.perf_counter


def quantize_cost(W: np.ndarray, scheme: str = "per_tensor") -> dict:
    """What quantizing W (in, out) at load costs: seconds to quantize,
    seconds to pack for VNNI, and bytes in fp32 vs int8."""
    from nmt8.quant.int8 import quantize

    t0 = _clock()
    qW = quantize(W, scheme=scheme)
    t1 = _clock()
    packed = qW.packed
    t2 = _clock()
    fp32 = int(np.asarray(W).size * 4)
    return {"in": W.shape[0], "out": W.shape[1], "scheme": scheme,
            "quantize_seconds": t1 - t0, "pack_seconds": t2 - t1,
            "fp32_bytes": fp32, "int8_bytes": int(qW.Wq.nbytes),
            "packed_bytes": int(packed.nbytes), "total_bytes": int(qW.nbytes),
            "ratio": fp32 / qW.Wq.nbytes}



# ---------------------------------------------------------------- reports

def _x(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _markdown(header: str, align: str, rows) -> str:
    """A markdown table: ``header`` and ``align`` cells separated by ``|``
    (e.g. ``"in x out|P"``, ``"---|---:"``), then one row per list of
    cells."""
    lines = [f"| {header.replace('|', ' | ')} |", f"|{align}|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _mmm(sp, fmt: str = ".2f", fallback=None) -> str:
    """min / median / max of a spread dict, or ``fallback`` alone."""
    if sp is None:
        return "-" if fallback is None else format(fallback, fmt)
    return "/".join(format(sp[k], fmt) for k in ("min", "median", "max"))


def _peak_of(method: str, peaks: dict | None, isa: bool = False
             ) -> float | None:
    """The true peak a method is judged against: the machine's int8 peak
    for int8 kernels and FBGEMM (AMX where the core has it, else VNNI,
    else the AVX2 chain; with ``isa``, the peak of the vector instructions
    the kernels use, VNNI or AVX2), the fp32 FMA peak for fp32 (none for
    int16)."""
    if not peaks:
        return None
    if method.startswith(("int8", "int4", "torch")):
        # the vector peak for vector kernels; AMX's for the amx kernel and
        # for oneDNN, which runs int8 on AMX where the core has it
        uses_amx = method in ("int8-amx", "torch-onednn")
        groups = ("int8_vnni", "int8_avx2") if isa and not uses_amx else (
            "int8_amx", "int8_vnni", "int8_avx2")
        group = next((g for g in groups if g in peaks), None)
        return peaks[group]["gops"]["max"] if group else None
    if method.startswith(("fp32", "numpy")) and "fp32" in peaks:
        return peaks["fp32"]["gops"]["max"]
    return None


def _share(value, whole) -> str:
    return "-" if not whole or value is None else f"{100 * value / whole:.0f}%"


def format_table(rows: list[dict], peaks: dict | None = None) -> str:
    """Markdown table of ``bench_kernels`` rows: GOP/s and the speed-up
    against both fp32 baselines (numpy fp32 and the fastest C fp32
    kernel), each as min/median/max over the interleaved rounds; with
    ``peaks`` (``nmt8.native.peak.measure_peaks``), the median's share of
    the true peak (int8 or fp32) and, for weights read from memory, the
    weights' GB/s as a share of the core's read bandwidth."""
    read = peaks["read"]["gbps"]["median"] if peaks and "read" in peaks \
        else None
    # where the machine's int8 peak is AMX's, also each kernel's share of
    # the peak of its own instructions (AMX for amx and oneDNN, else the
    # vector peak, VNNI or AVX2)
    amx = bool(peaks) and "int8_amx" in peaks
    return _markdown(
        "in x out|P|method|median us|GOP/s min/med/max|% peak|"
        + ("% ISA peak|" if amx else "")
        + "weights GB/s|% read bw|x numpy min/med/max|x C fp32 min/med/max",
        "---|---:|---|---:|---:|---:|" + ("---:|" if amx else "")
        + "---:|---:|---:|---:",
        ([f"{r['in']}x{r['out']}", str(r["P"]), r["method"],
          f"{r['seconds'] * 1e6:.1f}",
          _mmm(r.get("gops_spread"), ".0f", r["gops"]),
          _share(r["gops"], _peak_of(r["method"], peaks))]
         + ([_share(r["gops"], _peak_of(r["method"], peaks, isa=True))]
            if amx else [])
         + ["-" if r.get("weights_gbps") is None
            else f"{r['weights_gbps']:.1f}",
            _share(r.get("weights_gbps"), read)
            if r.get("weights") == "stream" else "-",
            _mmm(r.get("speedup_spread"), ".2f", r["speedup"]),
            _mmm(r.get("speedup_c_spread"), ".2f", r.get("speedup_c"))]
         for r in rows))


def decomposition(rows: list[dict]) -> list[dict]:
    """For each shape and P, the fastest of our kernels of each precision
    (C fp32 rather than numpy for 32 bits, when timed; FBGEMM and the
    inexact maddubs left out)
    beside its bytes per weight: ``bytes`` (4, 2, 1, 0.5), ``byte_ratio`` (4 /
    bytes: what fewer bytes alone would buy where weights stream from
    memory), ``x_c_fp32`` and ``x_numpy`` (measured)."""
    best = {}
    for r in rows:
        m = r["method"]
        if m.startswith("torch") or m == "int8-maddubs" or (
                m == "numpy-fp32" and r.get("c_fp32")):
            continue
        key = (r["in"], r["out"], r["P"], -r["bits"])
        if key not in best or r["seconds"] < best[key]["seconds"]:
            best[key] = r
    return [{"in": K, "out": N, "P": P, "bits": r["bits"],
             "method": r["method"], "bytes": r["bits"] / 8,
             "byte_ratio": 32 / r["bits"], "x_c_fp32": r.get("speedup_c"),
             "x_numpy": r["speedup"]}
            for (K, N, P, _), r in sorted(best.items())]



def format_decomposition(rows: list[dict]) -> str:
    """Markdown table of :func:`decomposition`."""
    return _markdown(
        "in x out|P|best of precision|bytes / weight|4 / bytes|"
        "measured x C fp32|x numpy fp32",
        "---|---:|---|---:|---:|---:|---:",
        ([f"{d['in']}x{d['out']}", str(d["P"]), d["method"], f"{d['bytes']:g}",
          f"{d['byte_ratio']:.0f}", _x(d["x_c_fp32"]), f"{d['x_numpy']:.2f}"]
         for d in decomposition(rows)))


def int4_vs_int8(rows: list[dict]) -> list[dict]:
    """For each shape and P, int8's seconds over int4's (the fastest exact
    kernel of each, by median), round by round: ``x_int8`` (min / median
    / max), ``int4`` and ``int8`` (the methods)."""
    best = {}
    for r in rows:
        m = r["method"]
        if not m.startswith(("int4", "int8")) or m == "int8-maddubs":
            continue
        key = (r["in"], r["out"], r["P"], m[:4])
        if key not in best or r["seconds"] < best[key]["seconds"]:
            best[key] = r
    out = []
    for (K, N, P, kind), r4 in sorted(best.items()):
        r8 = best.get((K, N, P, "int8"))
        if kind != "int4" or r8 is None:
            continue
        ratios = [a / b for a, b in zip(r8["rounds"], r4["rounds"])]
        out.append({"in": K, "out": N, "P": P, "int4": r4["method"],
                    "int8": r8["method"],
                    "x_int8": {"min": min(ratios),
                               "median": float(np.median(ratios)),
                               "max": max(ratios)}})
    return out


def format_int4_vs_int8(vs: list[dict]) -> str:
    """Markdown table of :func:`int4_vs_int8`."""
    return _markdown(
        "in x out|P|int4|int8|x int8 min/med/max",
        "---|---:|---|---|---:",
        ([f"{d['in']}x{d['out']}", str(d["P"]), d["int4"], d["int8"],
          _mmm(d["x_int8"])] for d in vs))


def format_cost(costs: list[dict]) -> str:
    """Markdown table of :func:`quantize_cost` dicts."""
    return _markdown(
        "in x out|quantize ms|pack ms|fp32 MB|int8 MB|packed MB|fp32 / int8",
        "---|---:|---:|---:|---:|---:|---:",
        ([f"{c['in']}x{c['out']}", f"{c['quantize_seconds'] * 1e3:.1f}",
          f"{c['pack_seconds'] * 1e3:.1f}", f"{c['fp32_bytes'] / 1e6:.1f}",
          f"{c['int8_bytes'] / 1e6:.1f}", f"{c['packed_bytes'] / 1e6:.1f}",
          f"{c['ratio']:.2f}"] for c in costs))


def _machine() -> dict:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "load_average_1min": load, "cores": os.cpu_count()}


def _cpu_line(machine: dict, timing: str) -> str:
    load = machine["load_average_1min"]
    return (f"CPU: {machine['cpu']}, one thread{timing}; load average "
            f"{load if load is None else round(load, 2)} over "
            f"{machine['cores']} cores")


def _ints(text):
    return tuple(int(v) for v in text.split(","))


def _names(text):
    return None if text is None else [k for k in text.split(",") if k]


def _shapes(text, default):
    """``--shapes`` "INxOUT,..." as (in, out) pairs; ``default`` if none."""
    if not text:
        return default
    return [tuple(int(v) for v in s.split("x")) for s in text.split(",")]


DESCRIPTION = ("time the C fp32, int16, int8 and int4 kernels against numpy fp32 "
               "and FBGEMM, on one thread")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``nmt8 bench kernels``."""
    ap.add_argument("--quick", action="store_true",
                    help="P = 1,5 and few rounds: a smoke run, noisy")
    ap.add_argument("--json", action="store_true", help="print JSON rows")
    ap.add_argument("--kernels", help="comma-separated int8 kernel names "
                    "(default: every one this CPU runs)")
    ap.add_argument("--fp32-kernels", help="comma-separated C fp32 kernel "
                    "names ('' for none; default: all)")
    ap.add_argument("--int16-kernels", help="comma-separated int16 kernel "
                    "names ('' for none; default: all)")
    ap.add_argument("--int4-kernels", help="comma-separated int4 kernel "
                    "names ('' for none; default: all)")
    ap.add_argument("--P", type=_ints, help="comma-separated P values "
                    "(default: 1,5 with --quick, else the paper's range)")
    ap.add_argument("--shapes", help="comma-separated INxOUT, e.g. 1000x3000 "
                    "(default: the paper's shapes)")
    ap.add_argument("--repeats", type=int, help="round-robin rounds "
                    "(default: 7 with --quick, else 31)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch's int8 engines (FBGEMM, oneDNN)")
    ap.add_argument("--no-peaks", action="store_true",
                    help="skip measuring the core's true limits (about 10 s)")
    ap.add_argument("--sweep-rows", action="store_true",
                    help="only each naive int8 kernel against its blocked "
                         "one (vnni/gemm, avx2/gemm_avx2) against P (--P, default 1..1024) on --shapes "
                         "(default 1000x3000,2000x3000,620x40000), as GOP/s "
                         "and %% of the measured peak, and the crossover")
    ap.add_argument("--stream", action="store_true",
                    help="cycle through copies of the weights so every call "
                         "reads them from memory (as decoding a paper-size "
                         "model does), not from cache")


def run(a: argparse.Namespace) -> int:
    """``nmt8 bench kernels`` with parsed options."""
    shapes = _shapes(a.shapes, PAPER_SHAPES)
    P_values = a.P or ((1, 5) if a.quick else P_VALUES)
    repeats = a.repeats or (7 if a.quick else 31)
    kernels = _names(a.kernels)
    machine = _machine()
    if a.sweep_rows:
        return _main_sweep(a, machine, kernels)
    if not a.no_torch:
        load_torch()  # loaded before the limit, so blas_threads limits it too
    with blas_threads(1):
        how = describe()
        peaks = None
        if not a.no_peaks:
            from nmt8.native.peak import measure_peaks

            peaks = measure_peaks(quick=a.quick)
        rows = bench_kernels(shapes, P_values, repeats=repeats, kernels=kernels,
                             include_torch=not a.no_torch, progress=not a.json,
                             min_sample=5e-4 if a.quick else 2e-3,
                             stream=a.stream, fp32_kernels=_names(a.fp32_kernels),
                             int16_kernels=_names(a.int16_kernels),
                             int4_kernels=_names(a.int4_kernels))
        costs = [quantize_cost((np.random.default_rng(0).standard_normal(s)
                                * 0.1).astype(np.float32)) for s in shapes]
    from nmt8.native import tuning

    tuned = {**tuning.stream(), "source": tuning.CHOICE["source"]}
    if a.json:
        json.dump({"machine": machine, "blas_threads": how, "peaks": peaks,
                   "weights": "stream" if a.stream else "cached", "rows": rows,
                   "quantize_cost": costs, "tuning": tuned}, sys.stdout,
                  indent=1)
        print()
        return 0
    load = machine["load_average_1min"]
    print(_cpu_line(machine, f" (while timing: {how})"))
    if load is not None and load > 0.5:
        print("NOTE: the machine is busy; these figures are noisy")
    print("weights: " + ("streamed from memory (--stream: every call uses "
                         "another copy)" if a.stream else
                         "cached (a matrix that fits in cache is timed from "
                         "cache; --stream for decoding-like traffic)"))
    print(f"kernel parameters (nmt8.native.tuning): {tuned['streams']} "
          f"streams, prefetch {tuned['prefetch_bytes']} B (int8 vnni, P <= "
          f"2); fp32/int16 row-group prefetch "
          f"{tuned['ladder_prefetch_bytes']} B; from {tuned['source']}")
    print()
    if peaks:
        from nmt8.native.peak import format_peaks

        print("this core's true limits (nmt8.native.peak, measured just "
              "before):")
        print(format_peaks(peaks))
        print()
    print("x numpy fp32: against numpy's X @ W (what a user has); x C fp32: "
          "against the fastest C fp32 kernel (fp32-avx2/avx512, built like "
          "the int8 kernel: the paper's 'similar optimized floating point "
          "implementation'); ratios taken round by round, min/median/max "
          "over the interleaved rounds; % peak: the median GOP/s over the "
          "machine's true peak (int8: AMX where the core has it, else VNNI, "
          "else AVX2, for int8 and FBGEMM; fp32 FMA for fp32); % ISA peak "
          "(on AMX cores): over the peak of the instructions each kernel "
          "uses (AMX's for amx and oneDNN); % read bw: bytes of weights per second over the "
          "core's read bandwidth (--stream only)")
    print()
    print(format_table(rows, peaks))
    print()
    print("bytes per weight vs the measured speed-up over C fp32 (the "
          "fastest kernel of each precision):")
    print()
    print(format_decomposition(rows))
    print()
    vs = int4_vs_int8(rows)
    if vs:
        print("int4 against int8, the fastest kernel of each, ratios of "
              "seconds taken round by round (min/median/max):")
        print()
        print(format_int4_vs_int8(vs))
        print()
    print(format_cost(costs))
    return 0


def _main_sweep(a, machine, kernels) -> int:
    shapes = _shapes(a.shapes, SWEEP_SHAPES)
    sweep = sweep_rows(shapes, a.P or SWEEP_P, tuple(kernels or SWEEP_KERNELS),
                       repeats=a.repeats or 5, progress=not a.json)
    if a.json:
        json.dump({"machine": machine, **sweep}, sys.stdout, indent=1)
        print()
        return 0
    print(_cpu_line(machine, ", thread CPU time"))
    print()
    print(format_sweep(sweep, *(kernels or SWEEP_KERNELS)))
    return 0

