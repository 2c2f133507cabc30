"""The machine a measurement ran on: CPU, cores, ISA flags, libraries.

Section 4 of Quinn & Ballesteros (2018) names its hardware (Intel Xeons)
because speed means nothing without it; :func:`machine_info` records ours
for the first table of the ``nmt8 reproduce`` report. Also here: what this
machine can run (:func:`int8_available`, :func:`has_torch`,
:func:`has_dask`).

Does not: time anything (``nmt8.lab.speed.measure``).
"""

from __future__ import annotations

import dataclasses
import os
import platform

import numpy as np

# the ISA extensions that matter to the int8 kernels, in /proc/cpuinfo's names
ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
             "avx512_vnni", "avx_vnni", "amx_int8")


@dataclasses.dataclass
class Machine:
    """CPU, cores, ISA flags, kernels and library versions."""

    cpu: str  # the model name of /proc/cpuinfo, else platform.processor()
    cores: int  # cores this process may use (nmt8.serve.parallel.cores)
    cpu_count: int | None  # os.cpu_count(): logical CPUs of the machine
    isa_flags: list[str]  # those of ISA_FLAGS the CPU has
    platform: str
    python: str
    numpy: str
    nmt8: str
    blas: str  # numpy's BLAS, e.g. "OpenBLAS (one thread)"; "unknown BLAS"
    kernels: list[str]  # nmt8's int8 kernels that run here ([]: not compiled)
    kernel: str | None  # the one "auto" picks
    torch: str | None  # library versions; None: not installed
    sacrebleu: str | None
    sentencepiece: str | None
    matplotlib: str | None
    loadavg_start: list[float]
    loadavg_end: list[float] | None = None

    @property
    def busy(self) -> bool:
        """Other work ran during the run (1-minute load average > 0.5)."""
        end = self.loadavg_end[0] if self.loadavg_end else 0.0
        return max(self.loadavg_start[0], end) > 0.5


def cpu_model_and_flags(cpuinfo: str) -> tuple[str | None, set[str]]:
    """The first "model name" and "flags" of /proc/cpuinfo's text."""
    cpu, flags = None, set()
    for line in cpuinfo.splitlines():
        if line.startswith("model name") and cpu is None:
            cpu = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return cpu, flags


def machine_info() -> Machine:
    """This machine, now (``loadavg_end`` is left for the caller)."""
    from nmt8 import __version__
    from nmt8.serve.parallel import cores

    try:
        with open("/proc/cpuinfo") as fh:
            cpu, flags = cpu_model_and_flags(fh.read())
    except OSError:
        cpu, flags = None, set()
    kernels, kernel = [], None
    if int8_available():
        from nmt8.native.kernels import available_kernels, default_kernel

        kernels, kernel = list(available_kernels()), default_kernel()
    return Machine(
        cpu=cpu or platform.processor() or platform.machine(), cores=cores(),
        cpu_count=os.cpu_count(), isa_flags=[f for f in ISA_FLAGS if f in flags],
        platform=platform.platform(), python=platform.python_version(),
        numpy=np.__version__, nmt8=__version__,
        blas=blas_name(),
        kernels=kernels, kernel=kernel, torch=_version("torch"),
        sacrebleu=_version("sacrebleu"), sentencepiece=_version("sentencepiece"),
        matplotlib=_version("matplotlib"),
        loadavg_start=list(os.getloadavg()))


_BLAS_NAMES = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}


def blas_name(pools=None) -> str:
    """numpy's BLAS as threadpoolctl finds it, run with one thread per
    sentence (``nmt8.serve.threads.blas_threads(1)``); "unknown BLAS" if none."""
    if pools is None:
        import numpy  # noqa: F401 (loads the BLAS threadpoolctl looks for)

        from nmt8.serve.threads import thread_pools

        pools = thread_pools()
    for p in pools:
        if p.get("user_api") == "blas":
            api = p.get("internal_api", "")
            return f"{_BLAS_NAMES.get(api, api or 'BLAS')} (one thread)"
    return "unknown BLAS"


def _version(module: str) -> str | None:
    import importlib

    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def int8_available() -> bool:
    """Are nmt8's int8 kernels compiled (``pip install -e .``)?"""
    try:
        import nmt8.native.kernels  # noqa: F401
    except ImportError:
        return False
    return True


def has_dask() -> bool:
    """Are Dask and distributed installed (``nmt8[dask]``)?"""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def has_torch() -> bool:
    """Is PyTorch installed (the peer of the speed tables)?"""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True
