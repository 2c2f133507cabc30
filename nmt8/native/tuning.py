"""The kernels' run-time parameters, per CPU: how the int8 product of
Section 3 of Quinn & Ballesteros (2018) streams its weights when decoding
(P <= 2 rows of X), chosen once at load.

The ``vnni`` kernel reads the weights of ``streams`` output blocks side by
side (each its own sequential stream: memory-level parallelism) and
prefetches ``prefetch_bytes`` ahead in each (``nmt8_set_stream`` in
``csrc/nmt8_kernels.h``); the fp32 and int16 vector kernels prefetch their
group of 4 weight rows ``ladder_prefetch_bytes`` ahead
(``nmt8_set_ladder_prefetch``).  No choice changes a bit of any result.  The
best values depend on the core (line fill buffers, the L2 streamer), so:

- :func:`resolve` picks them for this CPU: the choice ``nmt8 tune`` cached
  for this CPU model (``$NMT8_CACHE/tune.json``, default
  ``~/.cache/nmt8/tune.json``), else the built-in default of its family
  (``BUILTIN``: measured on Zen 4 and on a Sapphire Rapids-class Xeon; for
  Ice Lake chosen from a reported measurement and Intel's documentation),
  else ``GENERIC``;
- :func:`apply_auto` sets them; this module calls it once, when it is
  first imported (``CHOICE``), and every module whose kernels read the
  parameters imports it (``kernels``: the int8 stream; ``fp32``,
  ``int16``: the ladder), so whichever is used first, the kernels never
  run on the library's compiled-in defaults; :func:`set_stream` and
  :func:`stream` set and read them.

Does not: measure anything (``nmt8 tune``, ``nmt8.lab.kernels.tune``).
"""

from __future__ import annotations

import json
import os
import warnings

from nmt8.native.clib import ffi, lib

STREAMS = (1, 2, 4, 8)
MAX_PREFETCH = lib.NMT8_STREAM_MAX_PREFETCH
GENERIC = {"streams": lib.NMT8_STREAM_DEFAULT_STREAMS,
           "prefetch_bytes": lib.NMT8_STREAM_DEFAULT_PREFETCH,
           "ladder_prefetch_bytes": lib.NMT8_LADDER_DEFAULT_PREFETCH}
_KEYS = tuple(GENERIC)
# the rows of X at which nmt8 tune judges the ladder prefetch: greedy
# decoding and the paper's beam of 5 (a cached choice without "ladder_P"
# came from an older nmt8 tune that judged it at P = 1 alone)
LADDER_P = (1, 5)
# built-in defaults per CPU family, and where each figure comes from
BUILTIN = {
    "zen4": {"streams": 1, "prefetch_bytes": 0,
             "ladder_prefetch_bytes": 16384, "source": (
        "measured: nmt8 tune on an AMD EPYC Zen 4 (2 vCPUs, shared), "
        "P=1 streamed on 1000x3000, 2000x1000, 500x30000: 1 stream without "
        "software prefetch 23.5 GB/s (geometric mean, 90% of the 26.0 GB/s "
        "read), 4 streams at 2 KB 19.9, 8 streams 21.5; fp32 at P=1 "
        "streamed: no prefetch 0.65-0.91x numpy, 4-64 KB ahead flat at "
        "0.9-1.2x")},
    "sapphirerapids": {"streams": 8, "prefetch_bytes": 1024,
                       "ladder_prefetch_bytes": 16384, "source": (
        "measured: nmt8 tune on an Intel Xeon with AMX and AVX512_FP16 "
        "(Sapphire Rapids class; a KVM guest, 2 vCPUs, shared, that reports "
        "family 6 model 167), P=1 streamed on 1000x3000, 2000x1000, "
        "500x30000, two runs: 8 streams at 1 KB 15.9 and 15.6 GB/s "
        "(geometric mean; 98% of the 16.3 GB/s read), 4 streams at 1 KB "
        "15.2, 1 stream without prefetch 11.3 (69%); fp32 streamed at P=1 "
        "and P=5, two later runs: 4-32 KB ahead 16.1-16.9 GB/s (geometric "
        "mean; at P=5 15.1-15.8), no ladder prefetch 14.3-14.6 (at P=5 "
        "12.0-12.2; P=1 alone had favoured it by 1-5%)")},
    "icelake": {"streams": 4, "prefetch_bytes": 2048,
                "ladder_prefetch_bytes": 16384, "source": (
        "chosen: an Ice Lake-SP measurement (4 streams each "
        "prefetched ~2 KB ahead read 14.3 GB/s, one stream 9.8) and Intel's "
        "documentation (10-12 line fill buffers per core, the L2 streamer "
        "follows up to 32 streams); not measured by nmt8 tune")},
}


def set_stream(streams: int, prefetch_bytes: int) -> None:
    """Set the decoding kernels' weight stream: ``streams`` (1, 2, 4 or 8)
    blocks side by side, each prefetched ``prefetch_bytes`` ahead (0 ..
    MAX_PREFETCH, a multiple of 64; 0: none).  ValueError otherwise."""
    if isinstance(streams, bool) or streams not in STREAMS \
            or not isinstance(streams, int):
        raise ValueError(f"streams must be one of {STREAMS}; got {streams!r}")
    _check_prefetch(prefetch_bytes, "prefetch_bytes")
    if lib.nmt8_set_stream(streams, prefetch_bytes) != lib.NMT8_OK:
        raise ValueError("the C library refused the stream parameters")


def _check_prefetch(v, what: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{what} must be an integer; got {v!r}")  # noqa: TRY004 (one error for every bad argument)
    if not 0 <= v <= MAX_PREFETCH or v % 64:
        raise ValueError(f"{what} must be a multiple of 64 in "
                         f"0..{MAX_PREFETCH}; got {v}")


def set_ladder_prefetch(prefetch_bytes: int) -> None:
    """Set how far ahead the fp32 and int16 vector kernels prefetch their
    weight rows (0 .. MAX_PREFETCH, a multiple of 64; 0: none)."""
    _check_prefetch(prefetch_bytes, "ladder_prefetch_bytes")
    if lib.nmt8_set_ladder_prefetch(prefetch_bytes) != lib.NMT8_OK:
        raise ValueError("the C library refused the prefetch distance")


def stream() -> dict:
    """The parameters in force: ``streams``, ``prefetch_bytes``,
    ``ladder_prefetch_bytes``."""
    s, p = ffi.new("int[1]"), ffi.new("int64_t[1]")
    lib.nmt8_get_stream(s, p)
    return {"streams": int(s[0]), "prefetch_bytes": int(p[0]),
            "ladder_prefetch_bytes": int(lib.nmt8_get_ladder_prefetch())}


def set_all(choice: dict) -> None:
    """Set every parameter of ``choice`` (the keys of :func:`stream`)."""
    set_stream(choice["streams"], choice["prefetch_bytes"])
    set_ladder_prefetch(choice["ladder_prefetch_bytes"])


def cpu_id(cpuinfo: str | None = None) -> dict:
    """vendor, family, model, model name and flags of /proc/cpuinfo's
    first CPU (or of ``cpuinfo``'s text); empty strings where unknown."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    keys = {"vendor_id": "vendor", "cpu family": "family", "model": "model",
            "model name": "name", "flags": "flags"}
    out = dict.fromkeys(keys.values(), "")
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first CPU only
        k, _, v = line.partition(":")
        if k.strip() in keys:
            out[keys[k.strip()]] = v.strip()
    return out


def cpu_key(cpu: dict) -> str:
    """The key of a CPU model in the tune cache."""
    return f"{cpu['vendor']} {cpu['family']}/{cpu['model']} {cpu['name']}"


def cpu_family(cpu: dict) -> str | None:
    """"zen4", "icelake", "sapphirerapids" or None, from the vendor, family
    and model numbers (AMD family 25 models 0x10-0x1f, 0x60-0x7f,
    0xa0-0xaf; Intel family 6 models 106, 108 (server), 125, 126 (client):
    Ice Lake; 143, 207: Sapphire and Emerald Rapids) or, for an Intel CPU
    whose model a hypervisor masks, its flags (``amx_int8`` and
    ``avx512_fp16``: Sapphire Rapids or later)."""
    try:
        fam, model = int(cpu["family"]), int(cpu["model"])
    except (KeyError, ValueError):
        return None
    if cpu.get("vendor") == "AuthenticAMD" and fam == 25 and (
            0x10 <= model <= 0x1F or 0x60 <= model <= 0x7F
            or 0xA0 <= model <= 0xAF):
        return "zen4"
    if cpu.get("vendor") == "GenuineIntel" and fam == 6:
        if model in (106, 108, 125, 126):
            return "icelake"
        flags = set(cpu.get("flags", "").split())
        if model in (143, 207) or {"amx_int8", "avx512_fp16"} <= flags:
            return "sapphirerapids"
    return None


def cache_path() -> str:
    """Where ``nmt8 tune`` keeps its choices: ``$NMT8_CACHE/tune.json``,
    else ``~/.cache/nmt8/tune.json``."""
    root = os.environ.get("NMT8_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "nmt8")
    return os.path.join(root, "tune.json")


def read_cache(path: str | None = None) -> dict:
    """The tune cache ({cpu key: choice}); {} if there is none.  A file
    that cannot be read as such is reported (a warning) and ignored."""
    path = path or cache_path()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        warnings.warn(f"ignoring the tune cache {path}: {err}", stacklevel=2)
        return {}
    if not isinstance(data, dict):
        warnings.warn(f"ignoring the tune cache {path}: not a JSON object",
                      stacklevel=2)
        return {}
    return data


def write_cache(choice: dict, cpu: dict | None = None,
                path: str | None = None) -> str:
    """Store ``choice`` (``streams``, ``prefetch_bytes`` and anything
    measured beside them) for this CPU model; returns the path."""
    path = path or cache_path()
    cpu = cpu or cpu_id()
    data = read_cache(path)
    data[cpu_key(cpu)] = choice
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
    return path


def _valid(choice) -> bool:
    if not isinstance(choice, dict) or choice.get("streams") not in STREAMS:
        return False
    for key in ("prefetch_bytes", "ladder_prefetch_bytes"):
        v = choice.get(key)
        if isinstance(v, bool) or not isinstance(v, int) \
                or not 0 <= v <= MAX_PREFETCH or v % 64:
            return False
    return True


def resolve(cpu: dict | None = None, cache: dict | None = None) -> dict:
    """The parameters for ``cpu`` (default: this one): ``streams``,
    ``prefetch_bytes``, ``ladder_prefetch_bytes`` and ``source`` ("nmt8
    tune cache", "built-in <family>" or "generic"); a cached ladder
    prefetch not judged at every P of ``LADDER_P`` is replaced by the
    built-in (or generic) one."""
    cpu = cpu or cpu_id()
    cache = read_cache() if cache is None else cache
    mine = cache.get(cpu_key(cpu))
    fam = cpu_family(cpu)
    base = ({**{k: BUILTIN[fam][k] for k in _KEYS}, "source": f"built-in {fam}"}
            if fam in BUILTIN else {**GENERIC, "source": "generic"})
    if not _valid(mine):
        return base
    out = {**{k: mine[k] for k in _KEYS}, "source": "nmt8 tune cache"}
    if set(LADDER_P) - set(mine.get("ladder_P") or ()):
        # judged at P = 1 alone, where no prefetch can look best and a
        # beam of 5 then runs up to 1.45x slower: the ladder of ``base``
        out["ladder_prefetch_bytes"] = base["ladder_prefetch_bytes"]
        out["source"] += (f" (ladder prefetch: {base['source']}; the "
                          "cached one was not judged at a beam of 5: rerun "
                          "nmt8 tune)")
    return out


def apply_auto() -> dict:
    """Set the parameters :func:`resolve` picks for this CPU; returns them."""
    choice = resolve()
    set_all(choice)
    return choice


# the parameters for this CPU, resolved and set once, at first import
CHOICE = apply_auto()
