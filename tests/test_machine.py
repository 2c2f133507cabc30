"""nmt8.lab.kernels.machine: what the report says about the machine."""

import platform

import numpy as np
import pytest

from nmt8.lab.kernels import machine

CPUINFO = """processor\t: 0
model name\t: Made-up CPU @ 2.00GHz
flags\t\t: fpu sse4_1 sse4_2 avx2 fma avx512f avx512_vnni ht
bugs\t\t: none

processor\t: 1
model name\t: Made-up CPU @ 2.00GHz
flags\t\t: fpu sse4_1
"""


def test_cpuinfo_gives_the_first_model_name_and_flags():
    cpu, flags = machine.cpu_model_and_flags(CPUINFO)
    assert cpu == "Made-up CPU @ 2.00GHz"
    assert {"sse4_1", "avx2", "avx512_vnni"} <= flags and "ht" in flags
    assert machine.cpu_model_and_flags("") == (None, set())


def test_machine_info_fields():
    m = machine.machine_info()
    assert m.cpu and m.cores >= 1
    assert m.cpu_count is None or m.cpu_count >= m.cores
    assert set(m.isa_flags) <= set(machine.ISA_FLAGS)
    assert m.isa_flags == [f for f in machine.ISA_FLAGS if f in m.isa_flags]
    assert m.python == platform.python_version() and m.numpy == np.__version__
    assert len(m.loadavg_start) == 3 and m.loadavg_end is None
    if machine.int8_available():
        from nmt8.native.kernels import available_kernels, default_kernel

        assert m.kernels == list(available_kernels())
        assert m.kernel == default_kernel() and m.kernel in m.kernels
    else:
        assert m.kernels == [] and m.kernel is None
    assert m.torch == (__import__("torch").__version__
                       if machine.has_torch() else None)


@pytest.mark.parametrize("start, end, busy", [
    ([0.1, 0, 0], None, False), ([0.1, 0, 0], [0.2, 0, 0], False),
    ([0.9, 0, 0], [0.2, 0, 0], True), ([0.1, 0, 0], [1.5, 0, 0], True)])
def test_busy_reads_the_one_minute_load(start, end, busy):
    m = machine.machine_info()
    m.loadavg_start, m.loadavg_end = start, end
    assert m.busy is busy


@pytest.mark.parametrize("pools, name", [
    ([{"user_api": "openmp", "internal_api": "openmp"},
      {"user_api": "blas", "internal_api": "openblas"}], "OpenBLAS (one thread)"),
    ([{"user_api": "blas", "internal_api": "mkl"}], "MKL (one thread)"),
    ([{"user_api": "openmp", "internal_api": "openmp"}], "unknown BLAS"),
    ([], "unknown BLAS")])
def test_blas_name(pools, name):
    assert machine.blas_name(pools) == name


def test_has_dask_says_whether_distributed_imports():
    import importlib.util

    from nmt8.lab.kernels.machine import has_dask

    found = all(importlib.util.find_spec(m) is not None
                for m in ("dask", "distributed"))
    assert has_dask() is found
