"""Time the products of Section 3 of Quinn & Ballesteros 2018 on every
rung of the precision ladder, interleaved, on one thread.

For each (in, out) weight shape and each P (rows of X: beam hypotheses),
:func:`bench_kernels` times, in one process and interleaved round-robin so
that every method sees the same machine state:

- numpy float32 ``X @ W`` (OpenBLAS): "numpy fp32", what a user has;
- ``nmt8.quant.fp32_matmul`` with each C fp32 kernel: "C fp32", the
  paper's "similar optimized floating point implementation", built like
  the int8 kernel (the fastest of them is the equal-effort baseline);
- ``nmt8.quant.int16_matmul`` with each int16 kernel;
- ``nmt8.native.kernels.int8_matmul`` with each available kernel;
- ``nmt8.native.int4.int4_matmul`` with each int4 kernel (4-bit weights
  in groups of ``INT4_GROUP``, packed; int8 activations);
- PyTorch's dynamic int8 ``Linear`` (FBGEMM), when torch is installed.

Activation quantization is included in the quantized calls (the real cost
of a call). Every row carries its speed-up against both fp32 baselines.

Everything runs on ONE thread, as the paper measures words per core second:
``nmt8.serve.threads.blas_threads(1)`` limits BLAS, OpenMP and torch while the
timing runs, and restores them after.

By default the weights of one shape are all resident at once, so a matrix
that fits in the last-level cache is timed from cache. With ``stream=True``
every method cycles through enough copies of its weights
(:func:`copies_to_stream`) that every call reads them from memory, as a
paper-size decoder step does.

Does not: format or print the rows (``nmt8.lab.kernels.bench``), time the kernels
against P (``nmt8.lab.kernels.sweep``), time the decoder (``nmt8.lab.speed.measure``),
flush caches between calls, or assert anything about speed.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
import time
import warnings

import numpy as np

from nmt8.serve.threads import blas_threads

PAPER_SHAPES = [(620, 3000), (1000, 3000), (2000, 1000), (2000, 3000),
                (500, 30000)]   # (in, out)
P_VALUES = (1, 2, 5, 8, 16)
STREAM_BYTES = 128e6  # --stream: int8 copies of each matrix fill this much
INT4_GROUP = 64       # the int4 rows' group size (the model's default)

_clock = time.perf_counter


def load_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# PyTorch's int8 engines timed beside nmt8, where this PyTorch has them:
# FBGEMM (AVX2 / AVX-512 VNNI) and oneDNN (which uses AMX where the core
# has it: the strongest int8 baseline on such a core)
TORCH_ENGINES = ("fbgemm", "onednn")


def torch_engines() -> tuple[str, ...]:
    """The engines of ``TORCH_ENGINES`` this PyTorch supports; () without
    PyTorch."""
    torch = load_torch()
    if torch is None:
        return ()
    have = torch.backends.quantized.supported_engines
    return tuple(e for e in TORCH_ENGINES if e in have)


def _torch_linear(W: np.ndarray, engine: str = "fbgemm"):
    """PyTorch's dynamic int8 Linear on quantized ``engine`` for W (in,
    out); None if torch is missing. (Its threads are limited with the
    others by blas_threads.)  The engine is set for each call: the packed
    weights were made by it and PyTorch reads the global engine."""
    torch = load_torch()
    if torch is None:
        return None
    torch.backends.quantized.engine = engine
    lin = torch.nn.Linear(W.shape[0], W.shape[1], bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qlin = torch.ao.quantization.quantize_dynamic(
            torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
    qlin.eval()

    def run(X):
        torch.backends.quantized.engine = engine
        with torch.inference_mode():
            return qlin(torch.from_numpy(X))
    return run


def _cycle(items):
    """A zero-argument callable returning items[0], items[1], ... round."""
    it = itertools.cycle(items)
    return lambda: next(it)


def _methods(Ws, qWs, X, kernels, torch_runs, pWs=(), fp32_kernels=(),
             q16s=(), int16_kernels=(), q4s=(), int4_kernels=()):
    """name -> zero-argument callable computing an approximation of X @ W.

    Ws, qWs (int8), pWs (C fp32), q16s (int16), q4s (int4, packed),
    torch_runs ({engine: runs}): one or more
    copies of the same weights; each call uses the next copy, so with
    enough copies every call reads its weights from memory instead of from
    cache."""
    from nmt8.native.fp32 import fp32_matmul
    from nmt8.native.int4 import int4_matmul
    from nmt8.native.int16 import int16_matmul
    from nmt8.native.kernels import int8_matmul

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
    if int4_kernels:
        q4 = _cycle(q4s)
        for k in int4_kernels:
            m[f"int4-{k}"] = lambda k=k: int4_matmul(q4(), X, kernel=k)
    for engine, runs in (torch_runs or {}).items():
        run = _cycle(runs)
        m[f"torch-{engine}"] = lambda run=run: run()(X)
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
    """Seconds per call of each method in each round, timed round-robin:
    each round times every method once (``inner`` calls each), in a
    rotating order.  Returns {name: [seconds of round 0, 1, ...]}, so that
    a ratio can be taken round by round (both sides timed side by side)."""
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
    return samples


def spread(values) -> dict:
    """min, median and max of ``values``."""
    v = list(values)
    return {"min": min(v), "median": statistics.median(v), "max": max(v)}


def _ratios(base: list, sec: list) -> dict:
    """min / median / max over the rounds of base[r] / sec[r]: a speed-up
    measured round by round, both sides timed side by side."""
    return spread(b / s for b, s in zip(base, sec))


def _bytes_per_weight(method: str) -> float:
    if method.startswith("int4"):  # nibbles and one float32 step per group
        return (INT4_GROUP / 2 + 4) / INT4_GROUP
    return _bits(method) // 8


def bench_kernels(shapes=PAPER_SHAPES, P_values=P_VALUES, repeats: int = 31,
                  kernels=None, include_torch: bool = True,
                  progress: bool = True, min_sample: float = 2e-3,
                  seed: int = 0, stream: bool = False, fp32_kernels=None,
                  int16_kernels=None, int4_kernels=None) -> list[dict]:
    """Time numpy fp32, every C fp32, int16, int8 and int4 kernel and FBGEMM on
    each (in, out) shape and each P; one thread.

    ``repeats``: rounds of the round-robin (the median is reported).
    ``kernels``, ``fp32_kernels``, ``int16_kernels``, ``int4_kernels``:
    the int8, fp32, int16 and int4 kernel names to time (default: all this
    CPU runs; ``()`` for none).  Returns one dict per (shape, P, method): ``in``, ``out``,
    ``P``, ``method``, ``bits`` (32, 16, 8 or 4), ``seconds`` (median per
    call over the rounds), ``spread`` (interquartile range / median),
    ``gops`` (2 P in out / seconds / 1e9) and ``gops_spread`` (min /
    median / max over the rounds), ``weights_gbps`` (bytes of weights /
    seconds: what a call reads, when the weights stream), ``speedup``
    (numpy seconds / seconds, the median of the round-by-round ratios)
    and ``speedup_spread`` (min / median / max of them), ``speedup_c`` and
    ``speedup_c_spread`` (the same against the fastest C fp32 kernel at
    that shape and P; None when no C fp32 kernel was timed), ``c_fp32``
    (which kernel that was), ``weights`` ("cached" or "stream"),
    ``copies`` and ``rounds`` (seconds per call in each round, in the
    order of the rounds: ratios to other rows can be taken round by
    round).

    ``stream``: give every method enough copies of the weights (used in
    turn, :func:`copies_to_stream`) that no call finds them in cache, as
    in decoding with a paper-size model (43 MB of int8 weights per step,
    172 MB in fp32). Without it, a matrix that fits in the last-level cache
    is timed from cache, numpy's fp32 copy included.
    """
    from nmt8.native.fp32 import available_fp32_kernels
    from nmt8.native.int4 import available_int4_kernels
    from nmt8.native.int16 import available_int16_kernels
    from nmt8.native.kernels import available_kernels

    chosen = []
    for names, available in ((kernels, available_kernels()),
                             (fp32_kernels, available_fp32_kernels()),
                             (int16_kernels, available_int16_kernels()),
                             (int4_kernels, available_int4_kernels())):
        names = available if names is None else list(names)
        for k in names:
            if k not in available:
                raise ValueError(f"kernel {k!r} not available; "
                                 f"available: {available}")
        chosen.append(names)
    if include_torch:
        load_torch()  # loaded before the limit, so blas_threads limits it too
    with blas_threads(1):
        return _bench(shapes, P_values, repeats, chosen, include_torch,
                      progress, min_sample, seed, stream)


def _bits(method: str) -> int:
    if method.startswith("int4"):
        return 4
    return 8 if method.startswith(("int8", "torch")) else (
        16 if method.startswith("int16") else 32)


def _bench(shapes, P_values, repeats, chosen, include_torch, progress,
           min_sample, seed, stream) -> list[dict]:
    from nmt8.native.fp32 import pack_fp32
    from nmt8.native.int4 import pack4
    from nmt8.quant.int4 import quantize4
    from nmt8.quant.int8 import quantize
    from nmt8.quant.int16 import quantize16

    kernels, fp32_kernels, int16_kernels, int4_kernels = chosen

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
        q4s = ([pack4(quantize4(w, INT4_GROUP)) for w in Ws] if int4_kernels
               else [])
        torch_runs = {e: [_torch_linear(w, e) for w in Ws]
                      for e in (torch_engines() if include_torch else ())}
        for P in P_values:
            if bar is not None:
                bar.set_postfix_str(f"{K}x{N} P={P}")
            X = rng.standard_normal((P, K)).astype(np.float32)
            methods = _methods(Ws, qWs, X, kernels, torch_runs, pWs,
                               fp32_kernels, q16s, int16_kernels, q4s,
                               int4_kernels)
            for f in methods.values():  # the first call on each copy does
                for _ in range(copies):  # one-off work (C view, VNNI packing)
                    f()
            timed = _time_interleaved(methods, repeats, min_sample)
            med = {m: statistics.median(v) for m, v in timed.items()}
            base = timed["numpy-fp32"]
            c_fp32 = min((m for m in timed if m.startswith("fp32-")),
                         key=med.get, default=None)
            flops = 2 * P * K * N
            for method, sec in timed.items():
                s = spread(sec)
                q = np.percentile(sec, [25, 75])
                x = _ratios(base, sec)
                xc = _ratios(timed[c_fp32], sec) if c_fp32 else None
                rows.append({"in": K, "out": N, "P": P, "method": method,
                             "bits": _bits(method),
                             "seconds": s["median"],
                             "spread": float((q[1] - q[0]) / s["median"]),
                             "gops": flops / s["median"] / 1e9,
                             "gops_spread": {"min": flops / s["max"] / 1e9,
                                             "median": flops / s["median"] / 1e9,
                                             "max": flops / s["min"] / 1e9},
                             "weights_gbps": (K * N * _bytes_per_weight(method)
                                              / s["median"] / 1e9),
                             "speedup": x["median"], "speedup_spread": x,
                             "rounds": list(sec),
                             "speedup_c": xc["median"] if xc else None,
                             "speedup_c_spread": xc,
                             "c_fp32": c_fp32,
                             "weights": "stream" if stream else "cached",
                             "copies": copies})
            if bar is not None:
                bar.update()
        del Ws, qWs, pWs, q16s, q4s, torch_runs
    if bar is not None:
        bar.close()
    return rows
