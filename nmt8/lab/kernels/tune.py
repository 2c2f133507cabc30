"""``nmt8 tune``: measure the kernels' run-time parameters on this machine
and cache the choice for its CPU model (Section 3 of Quinn & Ballesteros
2018, the decoding case: P = 1, and for the fp32 ladder a beam of 5, with
the weights streaming from memory).

For each (streams, prefetch bytes) of ``nmt8.native.tuning``,
:func:`measure_stream` times the ``vnni`` kernel (else ``avx2``: the
setting does nothing for it, and there is nothing to tune) at P = 1 on the
paper's streaming shapes (``SHAPES``), each call on another copy of the
weights so that every call reads them from memory, the settings
interleaved round by round, in thread CPU time.  The score of a setting is
the geometric mean over the shapes of its median weight GB/s; the best
setting is stored in the tune cache (``nmt8.native.tuning.cache_path``)
unless ``--dry-run``.  Beside it, the core's read bandwidth
(``nmt8.native.peak``) says how close the kernel comes.

:func:`measure_ladder` does the same for the fp32 kernels' prefetch
distance (``ladder_prefetch_bytes``, shared with int16): the fastest C
fp32 kernel, weights streamed, at P = 1 and at the paper's beam of 5
(``LADDER_P``), the score a geometric mean over shapes and P.  (The two
can disagree: on a Sapphire Rapids-class Xeon no prefetch was 1-5%
faster at P = 1 and up to 1.45x slower at P = 5.)

Every setting gives the same bits (``tests/test_kernels.py`` checks each).

Does not: change the built-in defaults (``nmt8.native.tuning.BUILTIN``),
or tune anything but the decoding stream.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from nmt8.lab.kernels.interleaved import copies_to_stream, spread
from nmt8.native.tuning import LADDER_P
from nmt8.serve.threads import blas_threads

SHAPES = [(1000, 3000), (2000, 1000), (500, 30000)]   # (in, out)
PREFETCH = (0, 1024, 2048, 4096, 8192)
LADDER_PREFETCH = (0, 4096, 16384, 32768)  # the fp32 / int16 kernels
STREAM_BYTES = None  # copies of each matrix fill this (None: the bench's)

DESCRIPTION = ("measure the decoding kernels' weight-stream parameters "
               "(int8 vnni; fp32 and int16) on this CPU and cache the best "
               "for its model")


def settings(streams=None, prefetch=None) -> list[tuple[int, int]]:
    """(streams, prefetch bytes) pairs to try."""
    from nmt8.native.tuning import STREAMS

    return [(s, p) for s in (streams or STREAMS) for p in (prefetch
                                                         or PREFETCH)]


def measure_stream(shapes=None, tries=None, rounds: int = 7,
                   min_sample: float = 0.01, seed: int = 0,
                   progress: bool = True) -> dict:
    """Weight GB/s of the ``vnni`` kernel at P = 1, weights streamed, per
    (streams, prefetch bytes) of ``tries`` (default :func:`settings`) and
    shape: ``{"rows": [{"in", "out", "streams", "prefetch_bytes",
    "gbps": min/median/max}], "score": {"s/p": geometric mean of the
    medians}, "best": (streams, prefetch_bytes)}``.  Leaves the stream
    parameters as they were."""
    from nmt8.native.kernels import available_kernels, int8_matmul
    from nmt8.native.tuning import set_stream, stream
    from nmt8.quant.int8 import quantize

    if "vnni" not in available_kernels():
        raise ValueError("this CPU has no AVX-512 VNNI: the vnni kernel, "
                         "whose stream nmt8 tune sets, cannot run here")
    tries = tries or settings()
    shapes = shapes or SHAPES
    rng = np.random.default_rng(seed)
    before = stream()
    rows, score = [], {f"{s}/{p}": [] for s, p in tries}
    try:
        for K, N in shapes:
            if progress:
                print(f"  {K}x{N}", file=sys.stderr, flush=True)
            W = (rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32)
            qWs = [quantize(W.copy()) for _ in range(copies_to_stream(K * N, STREAM_BYTES))]
            X = rng.standard_normal((1, K)).astype(np.float32)
            Y = np.empty((1, N), np.float32)
            for q in qWs:  # packs each copy once
                int8_matmul(q, X, "vnni", out=Y)
            n = max(len(qWs), int(min_sample * 20e9 / (K * N)))
            gbps = {sp: [] for sp in tries}
            for r in range(rounds):
                for i in range(len(tries)):
                    sp = tries[(i + r) % len(tries)]
                    set_stream(*sp)
                    t0 = time.thread_time()
                    for j in range(n):
                        int8_matmul(qWs[j % len(qWs)], X, "vnni", out=Y)
                    dt = max(time.thread_time() - t0, 1e-9)
                    gbps[sp].append(K * N * n / dt / 1e9)
            for (s, p), v in gbps.items():
                sp = spread(v)
                rows.append({"in": K, "out": N, "streams": s,
                             "prefetch_bytes": p, "gbps": sp})
                score[f"{s}/{p}"].append(sp["median"])
            del qWs
    finally:
        set_stream(before["streams"], before["prefetch_bytes"])
    score = {k: statistics.geometric_mean(v) for k, v in score.items()}
    best = max(tries, key=lambda sp: score[f"{sp[0]}/{sp[1]}"])
    return {"rows": rows, "score": score, "best": best}


def measure_ladder(shapes=None, tries=LADDER_PREFETCH, rounds: int = 7,
                   min_sample: float = 0.01, seed: int = 0,
                   P_values=LADDER_P) -> dict:
    """Weight GB/s (4 bytes a weight) of the fastest C fp32 kernel at each
    P of ``P_values``, weights streamed, per prefetch distance:
    ``{"rows": [...], "score": {bytes: geometric mean of the medians over
    shapes and P}, "best": bytes, "kernel"}``.  Leaves the distance as it
    was."""
    from nmt8.native.fp32 import available_fp32_kernels, fp32_matmul, pack_fp32
    from nmt8.native.tuning import set_ladder_prefetch, stream

    kernel = next((k for k in ("avx512", "avx2")
                   if k in available_fp32_kernels()), None)
    if kernel is None:
        raise ValueError("no fp32 vector kernel runs on this CPU")
    shapes = shapes or SHAPES
    rng = np.random.default_rng(seed)
    before = stream()["ladder_prefetch_bytes"]
    rows, score = [], {p: [] for p in tries}
    try:
        for K, N in shapes:
            W = (rng.standard_normal((K, N)) / np.sqrt(K)).astype(np.float32)
            pWs = [pack_fp32(W.copy())
                   for _ in range(copies_to_stream(4 * K * N, STREAM_BYTES))]
            n = max(len(pWs), int(min_sample * 20e9 / (4 * K * N)))
            for P in P_values:
                X = rng.standard_normal((P, K)).astype(np.float32)
                for q in pWs:
                    fp32_matmul(q, X, kernel=kernel)
                gbps = {p: [] for p in tries}
                for r in range(rounds):
                    for i in range(len(tries)):
                        p = tries[(i + r) % len(tries)]
                        set_ladder_prefetch(p)
                        t0 = time.thread_time()
                        for j in range(n):
                            fp32_matmul(pWs[j % len(pWs)], X, kernel=kernel)
                        dt = max(time.thread_time() - t0, 1e-9)
                        gbps[p].append(4 * K * N * n / dt / 1e9)
                for p, v in gbps.items():
                    sp = spread(v)
                    rows.append({"in": K, "out": N, "P": P,
                                 "ladder_prefetch_bytes": p, "gbps": sp})
                    score[p].append(sp["median"])
            del pWs
    finally:
        set_ladder_prefetch(before)
    score = {p: statistics.geometric_mean(v) for p, v in score.items()}
    return {"rows": rows, "score": score, "best": max(tries, key=score.get),
            "kernel": f"fp32-{kernel}"}


def format_stream(m: dict, read_gbps: float | None = None) -> str:
    """Markdown: per setting, the median weight GB/s of each shape (min /
    median / max), the geometric mean, and its share of the read
    bandwidth."""
    shapes = list(dict.fromkeys((r["in"], r["out"]) for r in m["rows"]))
    by = {(r["in"], r["out"], r["streams"], r["prefetch_bytes"]): r["gbps"]
          for r in m["rows"]}
    head = ("| streams | prefetch B | " + " | ".join(
        f"{K}x{N} GB/s min/med/max" for K, N in shapes)
        + " | geo. mean | % read bw |")
    lines = [head, "|" + "---:|" * (len(shapes) + 4)]
    for key, score in m["score"].items():
        s, p = (int(v) for v in key.split("/"))
        cells = ["/".join(f"{by[(K, N, s, p)][k]:.1f}"
                          for k in ("min", "median", "max"))
                 for K, N in shapes]
        mark = " (best)" if (s, p) == tuple(m["best"]) else ""
        pct = f"{100 * score / read_gbps:.0f}%" if read_gbps else "-"
        lines.append(f"| {s} | {p}{mark} | " + " | ".join(cells)
                     + f" | {score:.1f} | {pct} |")
    return "\n".join(lines)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``nmt8 tune``."""
    ap.add_argument("--quick", action="store_true",
                    help="fewer settings and rounds: a smoke run, noisy")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved rounds (default 7, 3 with --quick)")
    ap.add_argument("--dry-run", action="store_true",
                    help="measure and print, but do not write the cache")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--no-read", action="store_true",
                    help="skip measuring the core's read bandwidth")


def run(a: argparse.Namespace) -> int:
    """``nmt8 tune`` with parsed options."""
    from nmt8.native import tuning
    from nmt8.native.peak import QUICK_READ_BYTES, measure_read, read_buffer

    rounds = a.rounds or (3 if a.quick else 7)
    tries = settings((1, 4, 8), (0, 2048)) if a.quick else settings()
    if rounds < 1:
        print("nmt8 tune: --rounds must be >= 1", file=sys.stderr)
        return 2
    try:
        with blas_threads(1):
            read = None if a.no_read else measure_read(
                read_buffer(QUICK_READ_BYTES) if a.quick else None,
                rounds=3 if a.quick else 5)
            m = measure_stream(tries=tries, rounds=rounds,
                               progress=not a.json)
            ladder = measure_ladder(
                tries=(0, 16384) if a.quick else LADDER_PREFETCH,
                rounds=rounds)
    except ValueError as err:
        print(f"nmt8 tune: {err}", file=sys.stderr)
        return 1
    cpu = tuning.cpu_id()
    s, p = m["best"]
    choice = {"streams": s, "prefetch_bytes": p,
              "ladder_prefetch_bytes": ladder["best"],
              "ladder_P": list(LADDER_P),
              "score_gbps": m["score"][f"{s}/{p}"],
              "ladder_score_gbps": ladder["score"][ladder["best"]],
              "read_gbps": read["gbps"] if read else None,
              "measured": time.strftime("%Y-%m-%d"),
              "cpu": {k: v for k, v in cpu.items() if k != "flags"}}
    path = None if a.dry_run else tuning.write_cache(choice, cpu)
    if a.json:
        json.dump({"cpu": choice["cpu"], "read": read, **m, "ladder": ladder,
                   "choice": choice,
                   "cache": path}, sys.stdout, indent=1)
        print()
        return 0
    print(f"CPU: {cpu['name']} ({cpu['vendor']} family {cpu['family']} "
          f"model {cpu['model']}; built-in family: "
          f"{tuning.cpu_family(cpu)}), one thread, thread CPU time")
    if read:
        g = read["gbps"]
        print(f"read bandwidth, one core: {g['median']:.1f} GB/s "
              f"(min/median/max {g['min']:.1f}/{g['median']:.1f}/"
              f"{g['max']:.1f}; {read['streams']} streams, prefetch "
              f"{read['prefetch']} B)")
    print()
    print("int8 vnni kernel, P = 1, weights streamed from memory "
          "(bytes of weights per second):")
    print()
    print(format_stream(m, read["gbps"]["median"] if read else None))
    print()
    print(f"{ladder['kernel']}, P = "
          f"{' and '.join(str(P) for P in LADDER_P)}, weights streamed, "
          "prefetch of the next group of rows (shared with int16):")
    print()
    Ps = sorted({r["P"] for r in ladder["rows"]})
    print("| prefetch B | GB/s (geo. mean) | "
          + " | ".join(f"P = {P}" for P in Ps) + " |\n|---:|---:|"
          + "---:|" * len(Ps))
    for pf, g in ladder["score"].items():
        by_p = [statistics.geometric_mean(
            [r["gbps"]["median"] for r in ladder["rows"]
             if r["P"] == P and r["ladder_prefetch_bytes"] == pf])
            for P in Ps]
        print(f"| {pf}{' (best)' if pf == ladder['best'] else ''} | "
              f"{g:.1f} | " + " | ".join(f"{x:.1f}" for x in by_p) + " |")
    print()
    print(f"best: streams {s}, prefetch {p} B; fp32/int16 prefetch "
          f"{ladder['best']} B"
          + (f"; cached for this CPU model in {path}" if path
             else " (--dry-run: not cached)"))
    return 0
