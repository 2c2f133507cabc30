"""The naive and the blocked int8 kernels against P, as a fraction of this
core's true int8 peak: where ``"auto"`` should switch (Section 3's kernel,
and the batched decoding the paper leaves to future work).

:func:`sweep_rows` times only the pairs of a naive and a blocked int8 kernel
(``PAIRS``: ``vnni`` and ``gemm`` for AVX-512 VNNI, ``avx2`` and
``gemm_avx2`` for AVX2) against P (1 to 1024 rows of X), as GOP/s (min /
median / max over interleaved samples) and as a fraction of this core's
true int8 peak, measured in the same run by a register-only loop
(``nmt8.native.peak``: ``vpdpbusd`` for the VNNI pair, the AVX2 chain for
the AVX2 pair), not by nmt8's own kernels; :func:`crossover` reads from it,
per pair, the P from which ``"auto"`` should run the blocked kernel
(``NMT8_GEMM_MIN_ROWS``, ``NMT8_GEMM_AVX2_MIN_ROWS`` in
``csrc/nmt8_dispatch.h``, where C switches; ``nmt8.native.kernels``
reads them).  The kernels
of one (shape, P) are timed in turn, sample after sample (interleaved), so
that a change in the load of the machine touches them all alike.  These
times are thread CPU time (``time.thread_time``), not wall time, so that
other processes taking the core (training runs) do not count; they still
share the caches and memory.

Does not: time the other kernels or precisions (``nmt8.lab.kernels.interleaved``),
or assert anything about speed (``tests/test_gemm.py`` checks
:func:`crossover` on made-up rows).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from nmt8.serve.threads import blas_threads

SWEEP_SHAPES = [(1000, 3000), (2000, 3000), (620, 40000)]   # (in, out)
SWEEP_P = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512, 1024)
# (naive, blocked) int8 kernels; the sweep's default is every pair this CPU
# runs (SWEEP_KERNELS, flat: naive, blocked, naive, blocked)
PAIRS = (("vnni", "gemm"), ("avx2", "gemm_avx2"))
SWEEP_KERNELS = tuple(k for pair in PAIRS for k in pair)
TOLERANCE = 0.05   # crossover: slower by less than this counts as a tie


def _cpu_seconds(calls: dict, min_sample: float, repeats: int) -> dict:
    """Thread CPU seconds per call of each of ``calls`` (name -> function)
    in each of ``repeats`` samples of at least ``min_sample`` seconds, the
    samples of the different calls interleaved: {name: [seconds, ...]}."""
    n = {}
    for name, f in calls.items():
        f()
        t0 = time.thread_time()
        f()
        n[name] = max(1, int(min_sample
                             / max(time.thread_time() - t0, 1e-7)))
    out = {name: [] for name in calls}
    for _ in range(repeats):
        for name, f in calls.items():
            t0 = time.thread_time()
            for _ in range(n[name]):
                f()
            out[name].append(max(time.thread_time() - t0, 1e-9) / n[name])
    return out


def _int8_gops(K: int, N: int, P: int, kernels, rng, min_sample: float,
               repeats: int) -> dict:
    """GOP/s (2 P K N per call) of ``int8_matmul`` with each of ``kernels``
    (interleaved) on a random (K, N) matrix and X (P, K), out preallocated
    (no page faults).  Returns {kernel: [GOP/s of each sample]}."""
    from nmt8.native.kernels import int8_matmul
    from nmt8.quant.int8 import quantize

    qW = quantize((rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)       # (P, in)
    Y = np.empty((P, N), np.float32)                         # (P, out)

    def call(kernel):
        return lambda: int8_matmul(qW, X, kernel, out=Y)

    sec = _cpu_seconds({k: call(k) for k in kernels}, min_sample, repeats)
    return {k: [2 * P * K * N / t / 1e9 for t in s] for k, s in sec.items()}


def _spread(values) -> dict:
    v = list(values)
    return {"min": min(v), "median": statistics.median(v), "max": max(v)}


def true_peaks(rounds: int = 7) -> dict:
    """This core's true int8 peaks (``nmt8.native.peak.measure_compute``):
    {"int8_vnni": ..., "int8_avx2": ...}, those this CPU runs."""
    from nmt8.native.peak import measure_compute

    return {g: v for g, v in measure_compute(rounds).items()
            if g.startswith("int8")}


def _peak_for(kernel: str, peaks: dict) -> float | None:
    """The true peak a kernel is judged against (best GOP/s of its
    group's register-only loop): VNNI for ``vnni``/``gemm``, the AVX2
    chain for the AVX2 and SSE4 kernels."""
    group = "int8_vnni" if kernel in ("vnni", "gemm") else "int8_avx2"
    return peaks[group]["gops"]["max"] if group in peaks else None


def _runnable(kernels) -> tuple:
    """``kernels``, checked against this CPU; the default (SWEEP_KERNELS)
    keeps the pairs this CPU runs, any other list must run whole."""
    from nmt8.native.kernels import available_kernels

    have = available_kernels()
    if tuple(kernels) == SWEEP_KERNELS:
        return tuple(k for pair in PAIRS if set(pair) <= set(have)
                     for k in pair)
    for k in kernels:
        if k not in have:
            raise ValueError(f"kernel {k!r} not available; available: "
                             f"{have}")
    return tuple(kernels)


def sweep_rows(shapes=SWEEP_SHAPES, P_values=SWEEP_P, kernels=SWEEP_KERNELS,
               min_sample: float = 2e-2, repeats: int = 5, seed: int = 0,
               progress: bool = True) -> dict:
    """GOP/s of each int8 kernel against P on each (in, out) shape, one
    thread, beside the peak measured in the same run; the kernels of one
    (shape, P) interleaved.  ``kernels``: pairs of a naive and a blocked
    kernel, flat; by default every pair of ``PAIRS`` this CPU runs.

    Returns ``{"peaks": true_peaks(), "rows": [...]}``, one row per
    (shape, P, kernel): ``in``, ``out``, ``P``, ``kernel``, ``gops`` (the
    median sample), ``gops_spread`` (min / median / max), ``samples``
    (GOP/s of each interleaved sample) and ``of_peak`` (median / the true
    peak of the kernel's instruction set; None if not measured)."""
    kernels = _runnable(kernels)
    rng = np.random.default_rng(seed)
    with blas_threads(1):
        peaks = true_peaks()
        rows = []
        for K, N in shapes:
            for P in P_values:
                if progress:
                    print(f"  {K}x{N} P={P}", file=sys.stderr, flush=True)
                gops = _int8_gops(K, N, P, kernels, rng, min_sample, repeats)
                for k, g in gops.items():
                    sp, peak = _spread(g), _peak_for(k, peaks)
                    rows.append({"in": K, "out": N, "P": P, "kernel": k,
                                 "gops": sp["median"], "gops_spread": sp,
                                 "samples": g,
                                 "of_peak": sp["median"] / peak if peak
                                 else None})
    return {"peaks": peaks, "rows": rows}


def crossover(rows: list[dict], naive: str = "vnni", blocked: str = "gemm",
              tolerance: float = TOLERANCE) -> int | None:
    """The smallest P of the sweep from which, at every larger P of the
    sweep too, ``blocked`` is faster than ``naive`` on the geometric mean
    of the shapes and slower by less than ``tolerance`` (a fraction) on
    every shape (None if there is none): where ``"auto"`` should switch.
    The tolerance: where both kernels run at the peak, timing noise on a
    shared core decides the sign of a few per cent."""
    g = {(r["in"], r["out"], r["P"], r["kernel"]): r["gops"] for r in rows}
    shapes = sorted({(r["in"], r["out"]) for r in rows})
    Ps = sorted({r["P"] for r in rows})
    best = None
    for P in reversed(Ps):
        ratios = [g[(K, N, P, blocked)] / g[(K, N, P, naive)]
                  for K, N in shapes]
        if min(ratios) >= 1 - tolerance \
                and statistics.geometric_mean(ratios) >= 1:
            best = P
        else:
            break
    return best


def format_sweep(sweep: dict, *kernels: str) -> str:
    """Markdown tables of :func:`sweep_rows`, one per pair of ``kernels``
    (naive, blocked, naive, blocked, ...; by default every pair of
    ``PAIRS`` the sweep timed): naive vs blocked GOP/s per shape and P
    (min/median/max over the samples), each median as a fraction of the
    true peak, the blocked / naive ratio sample by sample, and the
    crossover."""
    peaks = sweep["peaks"]
    by = {(r["in"], r["out"], r["P"], r["kernel"]): r for r in sweep["rows"]}
    timed = {r["kernel"] for r in sweep["rows"]}
    pairs = list(zip(kernels[0::2], kernels[1::2])) if kernels else PAIRS
    pairs = [(a, b) for a, b in pairs if {a, b} <= timed]
    names = {"int8_vnni": "VNNI (vpdpbusd)", "int8_avx2": "AVX2 chain"}
    lines = ["true int8 peaks of this core (register-only loops, "
             "nmt8.native.peak; min/median/max over rounds, the max is the "
             "peak): " + "; ".join(
                 f"{names[g]} {p['gops']['max']:.0f} GOP/s "
                 f"({p['gops']['min']:.0f}/{p['gops']['median']:.0f}/"
                 f"{p['gops']['max']:.0f}, {p['kind']})"
                 for g, p in peaks.items())
             + "; the rows time int8_matmul, X quantization and float "
             "epilogue included"]
    for naive, blocked in pairs:
        lines += ["", _pair_table(sweep["rows"], by, peaks, naive, blocked)]
    return "\n".join(lines)


def _mmm(sp: dict, fmt: str) -> str:
    return "/".join(format(sp[k], fmt) for k in ("min", "median", "max"))


def _pct(r, peaks: dict) -> str:
    peak = _peak_for(r["kernel"], peaks)
    return "-" if not peak else f"{100 * r['gops'] / peak:.0f}%"


def _pair_table(rows, by, peaks: dict, naive: str, blocked: str) -> str:
    """One pair's table of :func:`format_sweep` and its crossover line."""
    lines = [(f"| in x out | P | {naive} GOP/s min/med/max | "
              f"{blocked} GOP/s min/med/max | {naive} % peak | "
              f"{blocked} % peak | {blocked} / {naive} min/med/max |"),
             "|---|---:|---:|---:|---:|---:|---:|"]
    for K, N, P in sorted({k[:3] for k in by if k[3] == naive}):
        a, b = by[(K, N, P, naive)], by[(K, N, P, blocked)]
        ratio = (_spread(y / x for x, y in zip(a["samples"], b["samples"]))
                 if a.get("samples") and b.get("samples")
                 else {"min": b["gops"] / a["gops"],
                       "median": b["gops"] / a["gops"],
                       "max": b["gops"] / a["gops"]})
        sa = a.get("gops_spread") or _spread([a["gops"]])
        sb = b.get("gops_spread") or _spread([b["gops"]])
        lines.append(f"| {K}x{N} | {P} | {_mmm(sa, '.0f')} | "
                     f"{_mmm(sb, '.0f')} | {_pct(a, peaks)} | {_pct(b, peaks)} | "
                     f"{_mmm(ratio, '.2f')} |")
    mine = [r for r in rows if r["kernel"] in (naive, blocked)]
    cross = crossover(mine, naive, blocked)
    lines += ["", (f"crossover (from here on, {blocked} faster on the "
                   f"geometric mean of the shapes and within {TOLERANCE:.0%} "
                   f"of {naive} or faster on each): P = {cross}")]
    return "\n".join(lines)
