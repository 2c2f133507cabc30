"""Benchmarks of the products of Section 3 of Quinn & Ballesteros 2018, on
every rung of the precision ladder (fp32, int16, int8).

For the matrix shapes of the paper's model (embedding 620, hidden 1000,
fused GRU gates, vocabulary) and narrow X of P rows (beam sizes), times, in
one process and interleaved round-robin so that every method sees the same
machine state:

- numpy float32 ``X @ W`` (OpenBLAS): "numpy fp32", what a user has;
- ``nmt8.quant.fp32_matmul`` with each C fp32 kernel: "C fp32", the
  paper's "similar optimized floating point implementation", built like
  the int8 kernel (the fastest of them is the equal-effort baseline);
- ``nmt8.quant.int16_matmul`` with each int16 kernel;
- ``nmt8.quant.kernels.int8_matmul`` with each available kernel;
- PyTorch's dynamic int8 ``Linear`` (FBGEMM), when torch is installed.

Activation quantization is included in the quantized calls (the real cost
of a call).  Every row reports its speed-up against both fp32 baselines,
and ``format_decomposition`` sets each precision's best speed-up over C
fp32 beside its bytes per weight (4 / 2 / 1): where a product streams its
weights from memory, fewer bytes should buy about that ratio; the rest is
kernel quality.

Everything runs on ONE thread, as the paper measures words per core second:
``nmt8.threads.blas_threads(1)`` limits BLAS, OpenMP and torch while the
timing runs, and restores them after. Importing this module changes nothing
(no environment variables).

By default the weights of one shape are all resident at once, so a matrix
that fits in the last-level cache is timed from cache; the 500 x 30000
output layer (60 MB in float32) streams from memory. With ``--stream``
every method cycles through enough copies of its weights that every call
reads them from memory, as a paper-size decoder step does; both figures
are worth knowing, and the report says which one it is.

``--sweep-rows`` instead times only the naive ``vnni`` int8 kernel and the
blocked ``gemm`` one against P (1 to 1024 rows, batched decoding), as GOP/s
and as a fraction of this core's int8 peak, measured in the same run on a
small cache-resident matrix (:func:`int8_peak`); :func:`crossover` reads
from it the P from which ``"auto"`` should run gemm
(``nmt8.quant.kernels.GEMM_MIN_ROWS``).  These times are thread CPU time
(``time.thread_time``), not wall time, so that other processes taking the
core (training runs) do not count; they still share the caches and memory.

Does not: time the decoder (``nmt8.lab.measure``), flush caches between calls,
or assert anything about speed (tests assert, benchmarks measure).

CLI: ``python -m nmt8.lab.bench [--quick] [--json] [--stream]
[--kernels vnni,sse4] [--P 1,5] [--sweep-rows]`` (also ``nmt8 bench kernels
...``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

from ..threads import blas_threads, describe

PAPER_SHAPES = [(620, 3000), (1000, 3000), (2000, 1000), (2000, 3000),
                (500, 30000)]   # (in, out)
P_VALUES = (1, 2, 5, 8, 16)
STREAM_BYTES = 128e6  # --stream: int8 copies of each matrix fill this much

_clock = time.perf_counter


# ---------------------------------------------------------------- methods

def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_linear(W: np.ndarray):
    """PyTorch's dynamic int8 Linear (FBGEMM) for W (in, out); None if torch
    is missing. (Its threads are limited with the others by blas_threads.)"""
    torch = _torch()
    if torch is None:
        return None
    if "fbgemm" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "fbgemm"
    lin = torch.nn.Linear(W.shape[0], W.shape[1], bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qlin = torch.ao.quantization.quantize_dynamic(
            torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
    qlin.eval()

    def run(X):
        with torch.inference_mode():
            return qlin(torch.from_numpy(X))
    return run


def _cycle(items):
    """A zero-argument callable returning items[0], items[1], ... round."""
    it = itertools.cycle(items)
    return lambda: next(it)


def _methods(Ws, qWs, X, kernels, torch_runs, pWs=(), fp32_kernels=(),
             q16s=(), int16_kernels=()):
    """name -> zero-argument callable computing an approximation of X @ W.

    Ws, qWs (int8), pWs (C fp32), q16s (int16), torch_runs: one or more
    copies of the same weights; each call uses the next copy, so with
    enough copies every call reads its weights from memory instead of from
    cache."""
    from ..quant import fp32_matmul, int16_matmul
    from ..quant.kernels import int8_matmul

    W, qW = _cycle(Ws), _cycle(qWs)
    m = {"numpy-fp32": lambda: X @ W()}
    if fp32_kernels:
        pW = _cycle(pWs)
        for k in fp32_kernels:
            m[f"fp32-{k}"] = lambda k=k: fp32_matmul(pW(), X, kernel=k)
    if int16_kernels:
        q16 = _cycle(q16s)
        for k in int16_kernels:
            m[f"int16-{k}"] = lambda k=k: int16_matmul(q16(), X, kernel=k)
    for k in kernels:
        m[f"int8-{k}"] = lambda k=k: int8_matmul(qW(), X, kernel=k)
    if torch_runs:
        run = _cycle(torch_runs)
        m["torch-fbgemm"] = lambda: run()(X)
    return m


def copies_to_stream(nbytes: int, stream_bytes: float | None = None) -> int:
    """How many copies of an ``nbytes`` matrix, used in turn, make every
    call read it from memory: enough to fill ``stream_bytes`` (default
    ``STREAM_BYTES``, 4x a 32 MB last-level cache), as the weights of a
    paper-size decoder step do."""
    if stream_bytes is None:
        stream_bytes = STREAM_BYTES
    return max(1, math.ceil(stream_bytes / max(1, nbytes)))


def _time_interleaved(methods: dict, rounds: int, min_sample: float):
    """Median seconds per call of each method, timed round-robin: each
    round times every method once (``inner`` calls each), in a rotating
    order.  Also returns the relative interquartile spread."""
    names = list(methods)
    inner = {}
    for name, f in methods.items():          # warm up, calibrate
        f()
        t0 = _clock()
        f()
        dt = max(_clock() - t0, 1e-7)
        inner[name] = max(1, min(1000, int(min_sample / dt)))
    samples = {name: [] for name in names}
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            f, n = methods[name], inner[name]
            t0 = _clock()
            for _ in range(n):
                f()
            samples[name].append((_clock() - t0) / n)
    out = {}
    for name, s in samples.items():
        med = statistics.median(s)
        q = np.percentile(s, [25, 75])
        out[name] = (med, float((q[1] - q[0]) / med))
    return out


def bench_kernels(shapes=PAPER_SHAPES, P_values=P_VALUES, repeats: int = 31,
                  kernels=None, include_torch: bool = True,
                  progress: bool = True, min_sample: float = 2e-3,
                  seed: int = 0, stream: bool = False, fp32_kernels=None,
                  int16_kernels=None) -> list[dict]:
    """Time numpy fp32, every C fp32, int16 and int8 kernel and FBGEMM on
    each (in, out) shape and each P; one thread.

    ``repeats``: rounds of the round-robin (the median is reported).
    ``kernels``, ``fp32_kernels``, ``int16_kernels``: the int8, fp32 and
    int16 kernel names to time (default: all this CPU runs; ``()`` for
    none).  Returns one dict per (shape, P, method): ``in``, ``out``,
    ``P``, ``method``, ``bits`` (32, 16 or 8), ``seconds`` (median per
    call), ``spread`` (interquartile range / median), ``gops`` (2 P in out
    / seconds / 1e9), ``speedup`` (numpy seconds / seconds), ``speedup_c``
    (seconds of the fastest C fp32 kernel at that shape and P / seconds;
    None when no C fp32 kernel was timed), ``c_fp32`` (which kernel that
    was), ``weights`` ("cached" or "stream") and ``copies``.

    ``stream``: give every method enough copies of the weights (used in
    turn, :func:`copies_to_stream`) that no call finds them in cache, as
    in decoding with a paper-size model (43 MB of int8 weights per step,
    172 MB in fp32). Without it, a matrix that fits in the last-level cache
    is timed from cache, numpy's fp32 copy included.
    """
    from ..quant import available_fp32_kernels, available_int16_kernels
    from ..quant.kernels import available_kernels

    chosen = []
    for names, available in ((kernels, available_kernels()),
                             (fp32_kernels, available_fp32_kernels()),
                             (int16_kernels, available_int16_kernels())):
        names = available if names is None else list(names)
        for k in names:
            if k not in available:
                raise ValueError(f"kernel {k!r} not available; "
                                 f"available: {available}")
        chosen.append(names)
    if include_torch:
        _torch()  # loaded before the limit, so blas_threads limits it too
    with blas_threads(1):
        return _bench(shapes, P_values, repeats, chosen, include_torch,
                      progress, min_sample, seed, stream)


def _bits(method: str) -> int:
    return 8 if method.startswith(("int8", "torch")) else (
        16 if method.startswith("int16") else 32)


def _bench(shapes, P_values, repeats, chosen, include_torch, progress,
           min_sample, seed, stream) -> list[dict]:
    from ..quant import pack_fp32, quantize, quantize16

    kernels, fp32_kernels, int16_kernels = chosen

    rng = np.random.default_rng(seed)
    combos = [(s, P) for s in shapes for P in P_values]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(combos), desc="bench kernels", file=sys.stderr)
    rows = []
    for K, N in shapes:
        W = (rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32)
        copies = copies_to_stream(K * N) if stream else 1
        Ws = [W] + [W.copy() for _ in range(copies - 1)]
        qWs = [quantize(w) for w in Ws]
        pWs = [pack_fp32(w) for w in Ws] if fp32_kernels else []
        q16s = [quantize16(w) for w in Ws] if int16_kernels else []
        torch_runs = [_torch_linear(w) for w in Ws] if include_torch else []
        if None in torch_runs:  # no torch here
            torch_runs = []
        for P in P_values:
            if bar is not None:
                bar.set_postfix_str(f"{K}x{N} P={P}")
            X = rng.standard_normal((P, K)).astype(np.float32)
            methods = _methods(Ws, qWs, X, kernels, torch_runs, pWs,
                               fp32_kernels, q16s, int16_kernels)
            for f in methods.values():  # the first call on each copy does
                for _ in range(copies):  # one-off work (C view, VNNI packing)
                    f()
            timed = _time_interleaved(methods, repeats, min_sample)
            base = timed["numpy-fp32"][0]
            c_fp32 = min((m for m in timed if m.startswith("fp32-")),
                         key=lambda m: timed[m][0], default=None)
            c_base = timed[c_fp32][0] if c_fp32 else None
            for method, (sec, spread) in timed.items():
                rows.append({"in": K, "out": N, "P": P, "method": method,
                             "bits": _bits(method),
                             "seconds": sec, "spread": spread,
                             "gops": 2 * P * K * N / sec / 1e9,
                             "speedup": base / sec,
                             "speedup_c": c_base / sec if c_base else None,
                             "c_fp32": c_fp32,
                             "weights": "stream" if stream else "cached",
                             "copies": copies})
            if bar is not None:
                bar.update()
        del Ws, qWs, pWs, q16s, torch_runs
    if bar is not None:
        bar.close()
    return rows


# ------------------------------------------------- naive vs blocked, against P

SWEEP_SHAPES = [(1000, 3000), (2000, 3000), (620, 40000)]   # (in, out)
SWEEP_P = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512, 1024)
SWEEP_KERNELS = ("vnni", "gemm")
# (in, out, P): 256 KB of weights, 128 KB of X, 32 KB of sums, all in L2
PEAK_SHAPES = [(2048, 128, 64), (1024, 256, 64)]
TOLERANCE = 0.05   # crossover: slower by less than this counts as a tie


def _cpu_seconds(f, min_sample: float, repeats: int) -> float:
    """Best thread CPU seconds per call of ``f`` over ``repeats`` samples
    of at least ``min_sample`` seconds each."""
    f()
    t0 = time.thread_time()
    f()
    n = max(1, int(min_sample / max(time.thread_time() - t0, 1e-7)))
    best = math.inf
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time() - t0) / n)
    return best


def _int8_gops(K: int, N: int, P: int, kernel: str, rng, min_sample: float,
               repeats: int, raw: bool = False) -> float:
    """GOP/s (2 P K N per call) of ``int8_matmul`` with ``kernel`` on a
    random (K, N) matrix and X (P, K), out preallocated (no page faults);
    ``raw``: of ``int8_accumulate`` instead (int32 sums of an int8 X: the
    multiply-adds alone, no quantization of X, no epilogue)."""
    from ..quant import quantize
    from ..quant.kernels import int8_accumulate, int8_matmul

    qW = quantize((rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)       # (P, in)
    Y = np.empty((P, N), np.float32)                         # (P, out)
    if raw:
        Xq = rng.integers(-127, 128, (P, K)).astype(np.int8)

        def call():
            return int8_accumulate(qW, Xq, kernel)
    else:
        def call():
            return int8_matmul(qW, X, kernel, out=Y)
    sec = _cpu_seconds(call, min_sample, repeats)
    return 2 * P * K * N / sec / 1e9


def int8_peak(kernels=SWEEP_KERNELS, min_sample: float = 2e-2,
              repeats: int = 7, seed: int = 0) -> dict:
    """This core's int8 peak, measured: the best GOP/s of ``kernels``'
    raw int32 sums (``int8_accumulate``) on small matrices that stay in L2
    (``PEAK_SHAPES``), so that only the multiply-adds count.  Returns
    ``gops``, and the ``in``, ``out``, ``P`` and ``kernel`` that gave it."""
    rng = np.random.default_rng(seed)
    best = {"gops": 0.0}
    for K, N, P in PEAK_SHAPES:
        for k in kernels:
            g = _int8_gops(K, N, P, k, rng, min_sample, repeats, raw=True)
            if g > best["gops"]:
                best = {"gops": g, "in": K, "out": N, "P": P, "kernel": k}
    return best


def sweep_rows(shapes=SWEEP_SHAPES, P_values=SWEEP_P, kernels=SWEEP_KERNELS,
               min_sample: float = 2e-2, repeats: int = 5, seed: int = 0,
               progress: bool = True) -> dict:
    """GOP/s of each int8 kernel against P on each (in, out) shape, one
    thread, beside the peak measured in the same run.

    Returns ``{"peak": int8_peak(...), "rows": [...]}``, one row per
    (shape, P, kernel): ``in``, ``out``, ``P``, ``kernel``, ``gops``,
    ``of_peak`` (gops / peak)."""
    from ..quant.kernels import available_kernels

    for k in kernels:
        if k not in available_kernels():
            raise ValueError(f"kernel {k!r} not available; available: "
                             f"{available_kernels()}")
    rng = np.random.default_rng(seed)
    with blas_threads(1):
        peak = int8_peak(kernels, min_sample, repeats + 2, seed)
        rows = []
        for K, N in shapes:
            for P in P_values:
                if progress:
                    print(f"  {K}x{N} P={P}", file=sys.stderr, flush=True)
                for k in kernels:
                    g = _int8_gops(K, N, P, k, rng, min_sample, repeats)
                    rows.append({"in": K, "out": N, "P": P, "kernel": k,
                                 "gops": g, "of_peak": g / peak["gops"]})
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


def format_sweep(sweep: dict, naive: str = "vnni",
                 blocked: str = "gemm") -> str:
    """Markdown table of :func:`sweep_rows`: naive vs blocked GOP/s per
    shape and P, each as a fraction of the measured peak."""
    peak = sweep["peak"]
    g = {(r["in"], r["out"], r["P"], r["kernel"]): r["gops"]
         for r in sweep["rows"]}
    lines = [(f"int8 peak of this core: {peak['gops']:.0f} GOP/s "
              f"({peak['kernel']} int32 sums, {peak['in']}x{peak['out']}, "
              f"P={peak['P']}, cache-resident); the rows time int8_matmul, "
              "X quantization and float epilogue included"), "",
             (f"| in x out | P | {naive} GOP/s | {blocked} GOP/s | "
              f"{naive} % peak | {blocked} % peak | {blocked} / {naive} |"),
             "|---|---:|---:|---:|---:|---:|---:|"]
    for K, N, P in sorted({k[:3] for k in g}):
        a, b = g[(K, N, P, naive)], g[(K, N, P, blocked)]
        lines.append(f"| {K}x{N} | {P} | {a:.0f} | {b:.0f} | "
                     f"{100 * a / peak['gops']:.0f}% | "
                     f"{100 * b / peak['gops']:.0f}% | {b / a:.2f} |")
    cross = crossover(sweep["rows"], naive, blocked)
    lines += ["", (f"crossover (from here on, {blocked} faster on the "
                   f"geometric mean of the shapes and within {TOLERANCE:.0%} "
                   f"of {naive} or faster on each): P = {cross}")]
    return "\n".join(lines)


def quantize_cost(W: np.ndarray, scheme: str = "per_tensor") -> dict:
    """What quantizing W (in, out) at load costs: seconds to quantize,
    seconds to pack for VNNI, and bytes in fp32 vs int8."""
    from ..quant import quantize

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


def format_table(rows: list[dict]) -> str:
    """Markdown table of ``bench_kernels`` rows, with the speed-up against
    both fp32 baselines: numpy fp32 and the fastest C fp32 kernel."""
    lines = [("| in x out | P | method | median us | GOPS | x numpy fp32 | "
              "x C fp32 | spread |"),
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['in']}x{r['out']} | {r['P']} | {r['method']} | "
                     f"{r['seconds'] * 1e6:.1f} | {r['gops']:.1f} | "
                     f"{r['speedup']:.2f} | {_x(r.get('speedup_c'))} | "
                     f"{r['spread'] * 100:.0f}% |")
    return "\n".join(lines)


def decomposition(rows: list[dict]) -> list[dict]:
    """For each shape and P, the fastest of our kernels of each precision
    (C fp32 rather than numpy for 32 bits, when timed; FBGEMM and the
    inexact maddubs left out)
    beside its bytes per weight: ``bytes`` (4, 2, 1), ``byte_ratio`` (4 /
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
             "method": r["method"], "bytes": r["bits"] // 8,
             "byte_ratio": 32 / r["bits"], "x_c_fp32": r.get("speedup_c"),
             "x_numpy": r["speedup"]}
            for (K, N, P, _), r in sorted(best.items())]


def format_decomposition(rows: list[dict]) -> str:
    """Markdown table of :func:`decomposition`."""
    lines = [("| in x out | P | best of precision | bytes / weight | "
              "4 / bytes | measured x C fp32 | x numpy fp32 |"),
             "|---|---:|---|---:|---:|---:|---:|"]
    for d in decomposition(rows):
        lines.append(f"| {d['in']}x{d['out']} | {d['P']} | {d['method']} | "
                     f"{d['bytes']} | {d['byte_ratio']:.0f} | "
                     f"{_x(d['x_c_fp32'])} | {d['x_numpy']:.2f} |")
    return "\n".join(lines)


def format_cost(costs: list[dict]) -> str:
    lines = [("| in x out | quantize ms | pack ms | fp32 MB | int8 MB | "
              "packed MB | fp32 / int8 |"),
             "|---|---:|---:|---:|---:|---:|---:|"]
    for c in costs:
        lines.append(f"| {c['in']}x{c['out']} | {c['quantize_seconds'] * 1e3:.1f}"
                     f" | {c['pack_seconds'] * 1e3:.1f} | {c['fp32_bytes'] / 1e6:.1f}"
                     f" | {c['int8_bytes'] / 1e6:.1f} | {c['packed_bytes'] / 1e6:.1f}"
                     f" | {c['ratio']:.2f} |")
    return "\n".join(lines)


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


def _ints(text):
    return tuple(int(v) for v in text.split(","))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="nmt8 bench kernels",
        description="time the C fp32, int16 and int8 kernels against numpy "
                    "fp32 and FBGEMM, on one thread")
    ap.add_argument("--quick", action="store_true",
                    help="P = 1,5 and few rounds: a smoke run, noisy")
    ap.add_argument("--json", action="store_true", help="print JSON rows")
    ap.add_argument("--kernels", help="comma-separated int8 kernel names")
    ap.add_argument("--fp32-kernels", help="comma-separated C fp32 kernel "
                    "names ('' for none)")
    ap.add_argument("--int16-kernels", help="comma-separated int16 kernel "
                    "names ('' for none)")
    ap.add_argument("--P", type=_ints, help="comma-separated P values")
    ap.add_argument("--shapes", help="comma-separated INxOUT, e.g. 1000x3000")
    ap.add_argument("--repeats", type=int, help="round-robin rounds")
    ap.add_argument("--no-torch", action="store_true", help="skip FBGEMM")
    ap.add_argument("--sweep-rows", action="store_true",
                    help="only the naive vnni and blocked gemm int8 kernels "
                         "against P (--P, default 1..1024) on --shapes "
                         "(default 1000x3000,2000x3000,620x40000), as GOP/s "
                         "and %% of the measured peak, and the crossover")
    ap.add_argument("--stream", action="store_true",
                    help="cycle through copies of the weights so every call "
                         "reads them from memory (as decoding a paper-size "
                         "model does), not from cache")
    a = ap.parse_args(argv)
    shapes = PAPER_SHAPES if not a.shapes else [
        tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    P_values = a.P or ((1, 5) if a.quick else P_VALUES)
    repeats = a.repeats or (7 if a.quick else 31)
    def names(text):
        return None if text is None else [k for k in text.split(",") if k]

    kernels = names(a.kernels)
    machine = _machine()
    if a.sweep_rows:
        return _main_sweep(a, machine, kernels)
    if not a.no_torch:
        _torch()  # loaded before the limit, so blas_threads limits it too
    with blas_threads(1):
        how = describe()
        rows = bench_kernels(shapes, P_values, repeats=repeats, kernels=kernels,
                             include_torch=not a.no_torch, progress=not a.json,
                             min_sample=5e-4 if a.quick else 2e-3,
                             stream=a.stream, fp32_kernels=names(a.fp32_kernels),
                             int16_kernels=names(a.int16_kernels))
        costs = [quantize_cost((np.random.default_rng(0).standard_normal(s)
                                * 0.1).astype(np.float32)) for s in shapes]
    if a.json:
        json.dump({"machine": machine, "blas_threads": how,
                   "weights": "stream" if a.stream else "cached", "rows": rows,
                   "quantize_cost": costs}, sys.stdout, indent=1)
        print()
        return 0
    load = machine["load_average_1min"]
    print(f"CPU: {machine['cpu']}, one thread (while timing: {how}); "
          f"load average {load if load is None else round(load, 2)} over "
          f"{machine['cores']} cores")
    if load is not None and load > 0.5:
        print("NOTE: the machine is busy; these figures are noisy")
    print("weights: " + ("streamed from memory (--stream: every call uses "
                         "another copy)" if a.stream else
                         "cached (a matrix that fits in cache is timed from "
                         "cache; --stream for decoding-like traffic)"))
    print()
    print("x numpy fp32: against numpy's X @ W (what a user has); x C fp32: "
          "against the fastest C fp32 kernel (fp32-avx2/avx512, built like "
          "the int8 kernel: the paper's 'similar optimized floating point "
          "implementation')")
    print()
    print(format_table(rows))
    print()
    print("bytes per weight vs the measured speed-up over C fp32 (the "
          "fastest kernel of each precision):")
    print()
    print(format_decomposition(rows))
    print()
    print(format_cost(costs))
    return 0


def _main_sweep(a, machine, kernels) -> int:
    shapes = SWEEP_SHAPES if not a.shapes else [
        tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    sweep = sweep_rows(shapes, a.P or SWEEP_P, tuple(kernels or SWEEP_KERNELS),
                       repeats=a.repeats or 5, progress=not a.json)
    if a.json:
        json.dump({"machine": machine, **sweep}, sys.stdout, indent=1)
        print()
        return 0
    load = machine["load_average_1min"]
    print(f"CPU: {machine['cpu']}, one thread, thread CPU time; load average "
          f"{load if load is None else round(load, 2)} over "
          f"{machine['cores']} cores")
    print()
    print(format_sweep(sweep, *(kernels or SWEEP_KERNELS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
