"""The naive and the blocked int8 kernels against P, as a fraction of this
core's int8 peak: where ``"auto"`` should switch (Section 3's kernel, and the
batched decoding the paper leaves to future work).

:func:`sweep_rows` times only the pairs of a naive and a blocked int8 kernel
(``PAIRS``: ``vnni`` and ``gemm`` for AVX-512 VNNI, ``avx2`` and
``gemm_avx2`` for AVX2) against P (1 to 1024 rows of X), as GOP/s and as a
fraction of this core's int8 peak, measured in the same run on a small
cache-resident matrix (:func:`int8_peak`); :func:`crossover` reads from it,
per pair, the P from which ``"auto"`` should run the blocked kernel
(``nmt8.native.kernels.GEMM_MIN_ROWS``, ``GEMM_AVX2_MIN_ROWS``).  The kernels
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

import math
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
# (in, out, P): 256 KB of weights, 128 KB of X, 32 KB of sums, all in L2
PEAK_SHAPES = [(2048, 128, 64), (1024, 256, 64)]
TOLERANCE = 0.05   # crossover: slower by less than this counts as a tie


def _cpu_seconds(calls: dict, min_sample: float, repeats: int) -> dict:
    """Best thread CPU seconds per call of each of ``calls`` (name ->
    function) over ``repeats`` samples of at least ``min_sample`` seconds
    each, the samples of the different calls interleaved."""
    n = {}
    for name, f in calls.items():
        f()
        t0 = time.thread_time()
        f()
        n[name] = max(1, int(min_sample
                             / max(time.thread_time() - t0, 1e-7)))
    best = dict.fromkeys(calls, math.inf)
    for _ in range(repeats):
        for name, f in calls.items():
            t0 = time.thread_time()
            for _ in range(n[name]):
                f()
            best[name] = min(best[name], (time.thread_time() - t0) / n[name])
    return best


def _int8_gops(K: int, N: int, P: int, kernels, rng, min_sample: float,
               repeats: int, raw: bool = False) -> dict:
    """GOP/s (2 P K N per call) of ``int8_matmul`` with each of ``kernels``
    (interleaved) on a random (K, N) matrix and X (P, K), out preallocated
    (no page faults); ``raw``: of ``int8_accumulate`` instead (int32 sums
    of an int8 X: the multiply-adds alone, no quantization of X, no
    epilogue).  Returns {kernel: GOP/s}."""
    from nmt8.native.kernels import int8_accumulate, int8_matmul
    from nmt8.quant.int8 import quantize

    qW = quantize((rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)       # (P, in)
    Y = np.empty((P, N), np.float32)                         # (P, out)
    Xq = rng.integers(-127, 128, (P, K)).astype(np.int8)     # (P, in)

    def call(kernel):
        if raw:
            return lambda: int8_accumulate(qW, Xq, kernel)
        return lambda: int8_matmul(qW, X, kernel, out=Y)

    sec = _cpu_seconds({k: call(k) for k in kernels}, min_sample, repeats)
    return {k: 2 * P * K * N / s / 1e9 for k, s in sec.items()}


def int8_peak(kernels=SWEEP_KERNELS, min_sample: float = 2e-2,
              repeats: int = 7, seed: int = 0) -> dict:
    """This core's int8 peak, measured: the best GOP/s of ``kernels``'
    raw int32 sums (``int8_accumulate``) on small matrices that stay in L2
    (``PEAK_SHAPES``), so that only the multiply-adds count.  Returns
    ``gops``, and the ``in``, ``out``, ``P`` and ``kernel`` that gave it,
    and ``by_kernel``: each kernel's best GOP/s there."""
    rng = np.random.default_rng(seed)
    best = {"gops": 0.0}
    by_kernel = dict.fromkeys(kernels, 0.0)
    for K, N, P in PEAK_SHAPES:
        gops = _int8_gops(K, N, P, kernels, rng, min_sample, repeats,
                          raw=True)
        for k, g in gops.items():
            by_kernel[k] = max(by_kernel[k], g)
            if g > best["gops"]:
                best = {"gops": g, "in": K, "out": N, "P": P, "kernel": k}
    return {**best, "by_kernel": by_kernel}


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

    Returns ``{"peak": int8_peak(...), "rows": [...]}``, one row per
    (shape, P, kernel): ``in``, ``out``, ``P``, ``kernel``, ``gops``,
    ``of_peak`` (gops / peak)."""
    kernels = _runnable(kernels)
    rng = np.random.default_rng(seed)
    with blas_threads(1):
        peak = int8_peak(kernels, min_sample, repeats + 2, seed)
        rows = []
        for K, N in shapes:
            for P in P_values:
                if progress:
                    print(f"  {K}x{N} P={P}", file=sys.stderr, flush=True)
                gops = _int8_gops(K, N, P, kernels, rng, min_sample, repeats)
                rows += [{"in": K, "out": N, "P": P, "kernel": k, "gops": g,
                          "of_peak": g / peak["gops"]}
                         for k, g in gops.items()]
    return {"peak": peak, "rows": rows}


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
    ``PAIRS`` the sweep timed): naive vs blocked GOP/s per shape and P,
    each as a fraction of the measured peak, and the crossover."""
    peak = sweep["peak"]
    g = {(r["in"], r["out"], r["P"], r["kernel"]): r["gops"]
         for r in sweep["rows"]}
    timed = {r["kernel"] for r in sweep["rows"]}
    pairs = list(zip(kernels[0::2], kernels[1::2])) if kernels else PAIRS
    pairs = [(a, b) for a, b in pairs if {a, b} <= timed]
    by_kernel = peak.get("by_kernel", {})
    lines = [(f"int8 peak of this core: {peak['gops']:.0f} GOP/s "
              f"({peak['kernel']} int32 sums, {peak['in']}x{peak['out']}, "
              f"P={peak['P']}, cache-resident; per kernel: "
              + ", ".join(f"{k} {v:.0f}" for k, v in by_kernel.items())
              + "); the rows time int8_matmul, X quantization and float "
              "epilogue included")]
    for naive, blocked in pairs:
        lines += ["", _pair_table(sweep["rows"], g, peak["gops"], naive,
                                  blocked)]
    return "\n".join(lines)


def _pair_table(rows, g, peak: float, naive: str, blocked: str) -> str:
    """One pair's table of :func:`format_sweep` and its crossover line."""
    lines = [(f"| in x out | P | {naive} GOP/s | {blocked} GOP/s | "
              f"{naive} % peak | {blocked} % peak | {blocked} / {naive} |"),
             "|---|---:|---:|---:|---:|---:|---:|"]
    for K, N, P in sorted({k[:3] for k in g if k[3] == naive}):
        a, b = g[(K, N, P, naive)], g[(K, N, P, blocked)]
        lines.append(f"| {K}x{N} | {P} | {a:.0f} | {b:.0f} | "
                     f"{100 * a / peak:.0f}% | {100 * b / peak:.0f}% | "
                     f"{b / a:.2f} |")
    mine = [r for r in rows if r["kernel"] in (naive, blocked)]
    cross = crossover(mine, naive, blocked)
    lines += ["", (f"crossover (from here on, {blocked} faster on the "
                   f"geometric mean of the shapes and within {TOLERANCE:.0%} "
                   f"of {naive} or faster on each): P = {cross}")]
    return "\n".join(lines)
