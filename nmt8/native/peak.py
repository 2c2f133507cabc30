"""This core's true limits, the yardstick of every "% of peak" for the
kernels of Section 3 of Quinn & Ballesteros (2018): the checked wrappers of
``csrc/nmt8_peak.c`` and the measurement built on them.

- :func:`peak_loop`: a register-only throughput loop of one multiply-add
  instruction (int8 ``vpdpbusd`` zmm/ymm, the AVX2 ``vpmaddubsw`` chain,
  AMX ``tdpbusd`` on tiles where the core has AMX, fp32 ``vfmadd231ps``
  zmm/ymm) with n independent accumulators
  (``KINDS``; :func:`available_kinds`: those this CPU runs);
- :func:`stream_read`: one read of a buffer as ``streams`` sequential
  streams, each prefetched ``prefetch_bytes`` ahead;
- :func:`measure_peaks`: both, timed in Python (``time.perf_counter``),
  best of several short rounds, as int8 GOP/s (VNNI, the AVX2 chain, AMX),
  fp32 GFLOP/s and single-core read GB/s, each with min / median / max
  over the rounds; :func:`read_buffer`: a large buffer for the read, not a
  power of two in size, backed by huge pages where the OS allows.

Ops are counted as everywhere in nmt8: 2 per multiply-add.

Does not: time nmt8's own kernels (``nmt8.lab.kernels``), or choose a
kernel's parameters (``nmt8.native.tuning``).
"""

from __future__ import annotations

import mmap
import statistics
import time

import numpy as np

from nmt8.native.clib import ffi, lib

# loop kinds: name -> C id; the number is the count of accumulators
KINDS = {name: getattr(lib, "NMT8_PEAK_" + name.upper()) for name in (
    "vnni_zmm_8", "vnni_zmm_12", "vnni_zmm_16", "vnni_zmm_24",
    "vnni_ymm_8", "vnni_ymm_12", "avx2_maddubs_4", "avx2_maddubs_8",
    "fma_zmm_8", "fma_zmm_12", "fma_zmm_16", "fma_zmm_24",
    "fma_ymm_8", "fma_ymm_12", "amx_int8_4")}
# the peaks measured, and the kinds of each (the best of them is the peak)
GROUPS = {"int8_vnni": ("vnni_zmm_8", "vnni_zmm_12", "vnni_zmm_16",
                        "vnni_zmm_24", "vnni_ymm_8", "vnni_ymm_12"),
          "int8_avx2": ("avx2_maddubs_4", "avx2_maddubs_8"),
          "int8_amx": ("amx_int8_4",),
          "fp32": ("fma_zmm_8", "fma_zmm_12", "fma_zmm_16", "fma_zmm_24",
                   "fma_ymm_8", "fma_ymm_12")}
MAX_STREAMS = lib.NMT8_PEAK_MAX_STREAMS
# the read is tried with these streams and prefetch distances (bytes)
READ_STREAMS = (1, 2, 4, 8)
READ_PREFETCH = (0, 1024, 2048, 4096)
# bytes of the read buffer: far beyond a 32 MB last-level cache, and not
# a power of two (slices a power of two apart share DRAM banks)
READ_BYTES = 509 * 2 ** 20
QUICK_READ_BYTES = 253 * 2 ** 20

_clock = time.perf_counter
# the C loop, through a name the tests can replace (a CPU without a kind)
_c_loop = lib.nmt8_peak_loop


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer; got {value!r}")  # noqa: TRY004 (one error for every bad argument)
    return int(value)


def _kind_id(kind) -> int:
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"unknown peak loop {kind!r}; choose from "
                         f"{list(KINDS)}")
    return KINDS[kind]


def available_kinds() -> list[str]:
    """The loop kinds this CPU (and OS) runs, in the order of ``KINDS``."""
    out = ffi.new("int64_t[1]")
    return [k for k, kid in KINDS.items() if _c_loop(out, kid, 0) > 0]


def peak_loop(kind: str, iters: int) -> tuple[int, int]:
    """Run loop ``kind`` for ``iters`` iterations (registers only).
    Returns (ops per iteration, checksum); the checksum is
    :func:`expected_checksum`.  ValueError for an unknown kind, a negative
    ``iters`` or a kind this CPU does not run."""
    kid = _kind_id(kind)
    iters = _int(iters, "iters")
    if iters < 0:
        raise ValueError(f"iters must be >= 0; got {iters}")
    out = ffi.new("int64_t[1]")
    ops = _c_loop(out, kid, iters)
    if ops == lib.NMT8_PEAK_EUNSUPPORTED:
        raise ValueError(f"peak loop {kind!r} is not supported by this CPU; "
                         f"available: {available_kinds()}")
    if ops <= 0:
        raise ValueError(f"peak loop rejected its arguments (code {ops})")
    return int(ops), int(out[0])


def _wrap32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def expected_checksum(kind: str, iters: int, ops: int) -> int:
    """The checksum :func:`peak_loop` returns: int8 kinds add 8 to every
    int32 lane per iteration (AMX 128; wrapping at 32 bits), fp32 kinds 1.0
    up to 2**24; ``ops`` per iteration gives the lanes (8 ops per int8
    lane, 128 for AMX, 2 flops per fp32 lane)."""
    if kind.startswith("fma"):
        return ops // 2 * min(iters, 2 ** 24)
    if kind.startswith("amx"):  # 64 multiply-adds of 2 x 1 per lane
        return ops // 128 * _wrap32(128 * iters)
    return ops // 8 * _wrap32(8 * iters)


def stream_read(buf: np.ndarray, streams: int = 1,
                prefetch_bytes: int = 0) -> int:
    """Read ``buf`` (1-D int8, C-contiguous) once as ``streams`` sequential
    streams (1 .. MAX_STREAMS), each prefetching ``prefetch_bytes`` (>= 0)
    ahead; returns the sum of its bytes as int8, the same for every
    ``streams`` and ``prefetch_bytes``."""
    if not isinstance(buf, np.ndarray) or buf.dtype != np.int8 \
            or buf.ndim != 1 or not buf.flags.c_contiguous:
        raise ValueError("buf must be a 1-D C-contiguous int8 array")
    streams = _int(streams, "streams")
    prefetch_bytes = _int(prefetch_bytes, "prefetch_bytes")
    if not 1 <= streams <= MAX_STREAMS:
        raise ValueError(f"streams must be 1..{MAX_STREAMS}; got {streams}")
    if prefetch_bytes < 0:
        raise ValueError(f"prefetch_bytes must be >= 0; got {prefetch_bytes}")
    out = ffi.new("int64_t[1]")
    rc = lib.nmt8_stream_read(out, ffi.cast("const int8_t *", buf.ctypes.data),
                              buf.size, streams, prefetch_bytes)
    if rc != lib.NMT8_PEAK_OK:
        raise ValueError(f"stream read rejected its arguments (code {rc})")
    return int(out[0])


def read_buffer(nbytes: int = READ_BYTES) -> np.ndarray:
    """(nbytes,) int8, filled with a pattern (every page touched), from an
    anonymous mmap advised MADV_HUGEPAGE where the OS has it."""
    nbytes = _int(nbytes, "nbytes")
    if nbytes <= 0:
        raise ValueError(f"nbytes must be > 0; got {nbytes}")
    m = mmap.mmap(-1, nbytes)
    if hasattr(m, "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            m.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # pragma: no cover - depends on the kernel
            pass
    buf = np.frombuffer(m, np.int8)
    buf[:] = np.resize(np.arange(251, dtype=np.uint8).view(np.int8), nbytes)
    return buf


def spread(values) -> dict:
    """min, median and max of ``values``."""
    v = list(values)
    return {"min": min(v), "median": statistics.median(v), "max": max(v)}


def _loop_rounds(kind: str, rounds: int, seconds: float) -> list[float]:
    """ops per second of ``kind`` in each of ``rounds`` calls of about
    ``seconds``; every checksum checked."""
    iters = 1000
    ops, _ = peak_loop(kind, iters)
    while True:  # calibrate
        t0 = _clock()
        peak_loop(kind, iters)
        dt = _clock() - t0
        if dt > seconds / 4:
            break
        iters *= 4
    iters = max(1, int(iters * seconds / dt))
    rates = []
    for _ in range(rounds):
        t0 = _clock()
        _, s = peak_loop(kind, iters)
        dt = _clock() - t0
        if s != expected_checksum(kind, iters, ops):
            raise RuntimeError(f"peak loop {kind!r}: wrong checksum {s}")
        rates.append(ops * iters / dt)
    return rates


def measure_compute(rounds: int = 7, seconds: float = 0.01) -> dict:
    """Per group of ``GROUPS`` this CPU runs: ``gops`` (min / median / max
    over ``rounds`` of its best loop kind, GOP/s or GFLOP/s), ``kind``,
    and ``by_kind`` (the best round of each kind)."""
    have = set(available_kinds())
    out = {}
    for group, kinds in GROUPS.items():
        runs = {k: [r / 1e9 for r in _loop_rounds(k, rounds, seconds)]
                for k in kinds if k in have}
        if not runs:
            continue
        best = max(runs, key=lambda k: max(runs[k]))
        out[group] = {"gops": spread(runs[best]), "kind": best,
                      "by_kind": {k: max(v) for k, v in runs.items()}}
    return out


def measure_read(buf: np.ndarray | None = None, rounds: int = 5,
                 streams=READ_STREAMS, prefetch=READ_PREFETCH) -> dict:
    """Single-core read bandwidth of ``buf`` (default :func:`read_buffer`)
    for every (streams, prefetch bytes), ``rounds`` reads each,
    interleaved.  Returns ``gbps`` (min / median / max of the best
    setting), ``streams``, ``prefetch``, ``bytes``, ``one_stream`` (1
    stream, no prefetch) and ``by_setting`` ({"streams/prefetch": median
    GB/s})."""
    if buf is None:
        buf = read_buffer()
    want = stream_read(buf)
    settings = [(s, p) for s in streams for p in prefetch]
    rates = {sp: [] for sp in settings}
    for _ in range(rounds):
        for s, p in settings:
            t0 = _clock()
            got = stream_read(buf, s, p)
            dt = _clock() - t0
            if got != want:
                raise RuntimeError(f"stream read {s}/{p}: wrong checksum")
            rates[(s, p)].append(buf.size / dt / 1e9)
    best = max(settings, key=lambda sp: statistics.median(rates[sp]))
    return {"gbps": spread(rates[best]), "streams": best[0],
            "prefetch": best[1], "bytes": int(buf.size),
            "one_stream": spread(rates[(1, 0)]) if (1, 0) in rates else None,
            "by_setting": {f"{s}/{p}": statistics.median(v)
                           for (s, p), v in rates.items()}}


def measure_peaks(rounds: int = 7, quick: bool = False) -> dict:
    """This core's true limits: :func:`measure_compute` (``int8_vnni``,
    ``int8_avx2``, ``int8_amx``, ``fp32``, those this CPU runs) and ``read``
    (:func:`measure_read` over a buffer of ``READ_BYTES``, or
    ``QUICK_READ_BYTES`` with ``quick``)."""
    out = measure_compute(rounds, 0.005 if quick else 0.01)
    buf = read_buffer(QUICK_READ_BYTES if quick else READ_BYTES)
    out["read"] = measure_read(buf, max(3, rounds // 2 + 1) if quick
                               else rounds)
    del buf
    return out


def int8_peak(peaks: dict, machine: bool = False) -> tuple[str, float]:
    """The int8 peak of ``peaks`` (:func:`measure_peaks`): (group, best
    GOP/s) of the vector instructions nmt8's kernels use, VNNI if this CPU
    has it, else the AVX2 chain; with ``machine``, the core's own int8
    peak, AMX's where it has AMX (that of the ``amx`` kernel)."""
    for group in (("int8_amx",) if machine else ()) + ("int8_vnni",
                                                         "int8_avx2"):
        if group in peaks:
            return group, peaks[group]["gops"]["max"]
    raise ValueError("no int8 peak was measured on this CPU")


def format_peaks(peaks: dict) -> str:
    """One line per measured limit, with min / median / max."""
    names = {"int8_amx": "int8 AMX peak (the amx kernel's tdpbusd)",
             "int8_vnni": "int8 VNNI peak", "int8_avx2": "int8 AVX2 peak",
             "fp32": "fp32 FMA peak"}
    lines = []
    for group, name in names.items():
        if group in peaks:
            g = peaks[group]["gops"]
            unit = "GFLOP/s" if group == "fp32" else "GOP/s"
            lines.append(f"{name}: {g['max']:.0f} {unit} (min/median/max "
                         f"{g['min']:.0f}/{g['median']:.0f}/{g['max']:.0f}; "
                         f"{peaks[group]['kind']}, register-only loop)")
    r = peaks.get("read")
    if r:
        g = r["gbps"]
        one = r["one_stream"]
        lines.append(
            f"read bandwidth, one core: {g['median']:.1f} GB/s (min/median/"
            f"max {g['min']:.1f}/{g['median']:.1f}/{g['max']:.1f}; "
            f"{r['streams']} streams, prefetch {r['prefetch']} B, "
            f"{r['bytes'] / 2 ** 20:.0f} MiB"
            + (f"; one stream, no prefetch: {one['median']:.1f}" if one
               else "") + ")")
    return "\n".join(lines)
