"""nmt8.native.peak: the true-limit loops and the streaming read compute
what they say (exact checksums), reject bad arguments with ValueError and
report the kinds this CPU cannot run as unavailable.  No timing thresholds:
speed lives in ``nmt8 bench kernels``."""

import numpy as np
import pytest

from nmt8.native import peak
from nmt8.native.clib import ffi, lib


@pytest.mark.parametrize("kind", peak.available_kinds())
@pytest.mark.parametrize("iters", [0, 1, 3, 1000])
def test_loop_checksum_exact(kind, iters):
    ops, s = peak.peak_loop(kind, iters)
    assert ops > 0
    assert s == (0 if iters == 0 else peak.expected_checksum(kind, iters, ops))


def test_loop_ops_per_iteration():
    # 2 ops per multiply-add: zmm vpdpbusd 128, ymm 64, zmm FMA 32, ymm 16
    want = {"vnni_zmm_12": 12 * 128, "vnni_ymm_8": 8 * 64,
            "avx2_maddubs_4": 4 * 64, "fma_zmm_16": 16 * 32,
            "fma_ymm_12": 12 * 16}
    for kind, ops in want.items():
        if kind in peak.available_kinds():
            assert peak.peak_loop(kind, 0)[0] == ops


def test_int8_checksum_wraps_at_32_bits():
    # 8 * iters passes 2**32: every lane wraps, the checksum follows
    iters = 2 ** 29 + 5
    assert peak._wrap32(8 * iters) == 40
    assert peak.expected_checksum("vnni_zmm_8", iters, 8 * 128) == 128 * 40


def test_unsupported_kind_reported(monkeypatch):
    have = peak.available_kinds()
    missing = [k for k in peak.KINDS if k not in have]
    for kind in missing:
        with pytest.raises(ValueError, match="not supported"):
            peak.peak_loop(kind, 1)
    # a CPU without the kind: the C code says so, the wrapper reports it
    monkeypatch.setattr(peak, "_c_loop",
                        lambda out, kid, iters: lib.NMT8_PEAK_EUNSUPPORTED)
    assert peak.available_kinds() == []
    with pytest.raises(ValueError, match="not supported"):
        peak.peak_loop("fma_ymm_8", 1)
    assert peak.measure_compute(rounds=1, seconds=1e-4) == {}


@pytest.mark.parametrize("kind,iters", [("nope", 1), (3, 1),
                                        ("fma_ymm_8", -1),
                                        ("fma_ymm_8", 1.5)])
def test_loop_bad_arguments(kind, iters):
    with pytest.raises(ValueError):
        peak.peak_loop(kind, iters)


def test_c_rejects_bad_arguments():
    out = ffi.new("int64_t[1]")
    assert lib.nmt8_peak_loop(ffi.NULL, 0, 1) == lib.NMT8_PEAK_EBADARG
    assert lib.nmt8_peak_loop(out, -1, 1) == lib.NMT8_PEAK_EBADARG
    assert lib.nmt8_peak_loop(out, lib.NMT8_PEAK_NUM_KINDS, 1) \
        == lib.NMT8_PEAK_EBADARG
    assert lib.nmt8_stream_read(out, ffi.NULL, 10, 1, 0) \
        == lib.NMT8_PEAK_EBADARG
    assert lib.nmt8_stream_read(out, ffi.NULL, 0, 1, 0) == lib.NMT8_PEAK_OK


@pytest.mark.parametrize("nbytes", [0, 1, 63, 64, 65, 1000, 4097, 100_003])
@pytest.mark.parametrize("streams", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("prefetch", [0, 64, 1000, 4096])
def test_stream_read_exact(nbytes, streams, prefetch):
    rng = np.random.default_rng(nbytes)
    raw = rng.integers(-128, 128, nbytes + 7, dtype=np.int8)
    for off in (0, 7):  # aligned or not
        buf = raw[off:off + nbytes]
        assert peak.stream_read(buf, streams, prefetch) \
            == int(buf.astype(np.int64).sum())


def test_read_buffer_checksum():
    buf = peak.read_buffer(3 * 2 ** 20 + 17)
    assert buf.dtype == np.int8 and buf.size == 3 * 2 ** 20 + 17
    want = int(buf.astype(np.int64).sum())
    assert peak.stream_read(buf, 4, 2048) == want
    r = peak.measure_read(buf, rounds=1, streams=(1, 2), prefetch=(0, 512))
    assert set(r["by_setting"]) == {"1/0", "1/512", "2/0", "2/512"}
    assert r["gbps"]["min"] <= r["gbps"]["median"] <= r["gbps"]["max"]


@pytest.mark.parametrize("args", [
    (np.zeros(10, np.int16), 1, 0), (np.zeros((2, 5), np.int8), 1, 0),
    (np.zeros(20, np.int8)[::2], 1, 0), ([1, 2], 1, 0),
    (np.zeros(10, np.int8), 0, 0), (np.zeros(10, np.int8), 65, 0),
    (np.zeros(10, np.int8), 1, -1), (np.zeros(10, np.int8), 1.0, 0)])
def test_stream_read_bad_arguments(args):
    with pytest.raises(ValueError):
        peak.stream_read(*args)


def test_measure_and_format():
    p = peak.measure_compute(rounds=2, seconds=1e-3)
    for group, m in p.items():
        assert m["kind"] in peak.GROUPS[group]
        assert 0 < m["gops"]["min"] <= m["gops"]["median"] <= m["gops"]["max"]
    p["read"] = peak.measure_read(peak.read_buffer(2 ** 20 + 3), rounds=1,
                                  streams=(1,), prefetch=(0,))
    text = peak.format_peaks(p)
    assert "read bandwidth" in text
    if p.keys() & {"int8_vnni", "int8_avx2"}:
        group, g = peak.int8_peak(p)
        assert g == p[group]["gops"]["max"]
    with pytest.raises(ValueError):
        peak.int8_peak({})


def test_amx_loop_where_the_core_has_it():
    """AMX's tdpbusd loop: its checksum where the CPU and OS grant the tile
    state, else a clear 'not supported' (never a crash)."""
    if "amx_int8_4" in peak.available_kinds():
        for iters in (0, 1, 37, 2 ** 25 + 3):  # the last wraps int32 lanes
            ops, s = peak.peak_loop("amx_int8_4", iters)
            assert ops == 4 * 16 * 16 * 64 * 2
            assert s == (peak.expected_checksum("amx_int8_4", iters, ops)
                         if iters else 0)
        p = peak.measure_compute(rounds=2, seconds=1e-3)
        group, g = peak.int8_peak(p, machine=True)
        assert group == "int8_amx" and g == p["int8_amx"]["gops"]["max"]
        assert peak.int8_peak(p)[0] in ("int8_vnni", "int8_avx2")
        assert "AMX" in peak.format_peaks(p)
    else:
        with pytest.raises(ValueError, match="not supported"):
            peak.peak_loop("amx_int8_4", 1)
