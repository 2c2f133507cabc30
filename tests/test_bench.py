"""The kernel benchmark (nmt8.lab.kernels.bench, nmt8.lab.kernels.interleaved) runs and
reports what it timed (no speed asserted)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nmt8 import cli
from nmt8.lab.kernels import bench, interleaved
from nmt8.native.fp32 import pack_fp32
from nmt8.quant.int8 import quantize
from nmt8.quant.int16 import quantize16


def test_copies_to_stream():
    assert interleaved.copies_to_stream(10, stream_bytes=100) == 10
    assert interleaved.copies_to_stream(30, stream_bytes=100) == 4
    assert interleaved.copies_to_stream(10**9, stream_bytes=100) == 1


def test_methods_cycle_through_copies():
    Ws = [np.eye(3, dtype=np.float32), 2 * np.eye(3, dtype=np.float32)]
    X = np.ones((1, 3), np.float32)
    m = interleaved._methods(Ws, [quantize(w) for w in Ws], X, ["ref"], [])
    got = [float(m["numpy-fp32"]()[0, 0]) for _ in range(3)]
    assert got == [1.0, 2.0, 1.0]
    got = [float(m["int8-ref"]()[0, 0]) for _ in range(2)]
    assert got == pytest.approx([1.0, 2.0], rel=1e-2)
    m = interleaved._methods(Ws, [quantize(w) for w in Ws], X, [], [],
                             [pack_fp32(w) for w in Ws], ["ref"],
                             [quantize16(w) for w in Ws], ["ref"])
    assert set(m) == {"numpy-fp32", "fp32-ref", "int16-ref"}
    assert [float(m["fp32-ref"]()[0, 0]) for _ in range(3)] == [1.0, 2.0, 1.0]
    got = [float(m["int16-ref"]()[0, 0]) for _ in range(2)]
    assert got == pytest.approx([1.0, 2.0], rel=1e-4)


@pytest.mark.parametrize("stream", [False, True])
def test_bench_kernels_rows(monkeypatch, stream):
    monkeypatch.setattr(interleaved, "STREAM_BYTES", 1000)
    rows = bench.bench_kernels(shapes=[(24, 20)], P_values=(1, 3), repeats=2,
                               kernels=["ref"], include_torch=False,
                               progress=False, min_sample=1e-5, stream=stream,
                               fp32_kernels=["ref"], int16_kernels=["ref"],
                               int4_kernels=["ref"])
    methods = ("numpy-fp32", "fp32-ref", "int16-ref", "int8-ref", "int4-ref")
    assert {(r["P"], r["method"]) for r in rows} == {
        (P, m) for P in (1, 3) for m in methods}
    for r in rows:
        assert r["seconds"] > 0 and r["weights"] == ("stream" if stream else "cached")
        assert r["copies"] == (3 if stream else 1)  # ceil(1000 / 480)
        assert r["c_fp32"] == "fp32-ref"
        assert r["bits"] == {"numpy": 32, "fp32": 32, "int16": 16, "int8": 8,
                             "int4": 4}[r["method"].split("-")[0]]
    table = bench.format_table(rows)
    assert "| 24x20 | 1 | int8-ref |" in table and "x C fp32" in table
    # the decomposition: C fp32 (not numpy) is the 32-bit baseline, at 1.00
    dec = bench.decomposition(rows)
    assert [(d["P"], d["method"], d["bytes"]) for d in dec] == [
        (P, m, b) for P in (1, 3)
        for m, b in (("fp32-ref", 4), ("int16-ref", 2), ("int8-ref", 1),
                     ("int4-ref", 0.5))]
    assert all(d["x_c_fp32"] == 1.0 for d in dec if d["bits"] == 32)
    # int4 against int8, round by round
    vs = bench.int4_vs_int8(rows)
    assert [(d["P"], d["int4"], d["int8"]) for d in vs] == [
        (1, "int4-ref", "int8-ref"), (3, "int4-ref", "int8-ref")]
    assert all(d["x_int8"]["min"] <= d["x_int8"]["median"]
               <= d["x_int8"]["max"] for d in vs)
    assert "| 24x20 | 1 | int4-ref | int8-ref |" in bench.format_int4_vs_int8(vs)


def test_speedups_name_both_baselines():
    """Each row's speed-up against numpy and against the fastest C fp32
    kernel timed at the same shape and P."""
    rows = [{"in": 2, "out": 2, "P": 1, "method": m, "bits": b, "seconds": t,
             "spread": 0.0, "gops": 1.0, "speedup": 4.0 / t,
             "speedup_c": 2.0 / t, "c_fp32": "fp32-avx2"}
            for m, b, t in (("numpy-fp32", 32, 4.0), ("fp32-ref", 32, 3.0),
                            ("fp32-avx2", 32, 2.0), ("int16-avx2", 16, 1.0),
                            ("int8-maddubs", 8, 0.1), ("int8-vnni", 8, 0.5))]
    dec = bench.decomposition(rows)
    assert [(d["method"], d["x_c_fp32"], d["x_numpy"]) for d in dec] == [
        ("fp32-avx2", 1.0, 2.0), ("int16-avx2", 2.0, 4.0),
        ("int8-vnni", 4.0, 8.0)]
    text = bench.format_decomposition(rows)
    assert "| 2x2 | 1 | int16-avx2 | 2 | 2 | 2.00 | 4.00 |" in text


def test_bench_times_on_one_thread_and_restores(monkeypatch):
    seen, timed = [], interleaved._time_interleaved

    def spying(*args, **kw):
        seen.append(blas_counts())
        return timed(*args, **kw)

    monkeypatch.setattr(interleaved, "_time_interleaved", spying)
    np.ones((2, 2)) @ np.ones((2, 2))
    with threadpool_limits(2):
        bench.bench_kernels(shapes=[(8, 8)], P_values=(1,), repeats=1,
                            kernels=["ref"], include_torch=False,
                            progress=False, min_sample=1e-6)
        assert blas_counts() == {2}
    assert seen == [{1}]


def blas_counts() -> set[int]:
    counts = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert counts, "no BLAS library found under numpy: nothing would be tested"
    return counts


def test_main_prints_every_table(capsys):
    """``nmt8 bench kernels`` prints the timing, decomposition and
    quantization-cost tables, one row per method and shape it timed."""
    args = ["--quick", "--kernels", "ref", "--fp32-kernels", "ref",
            "--int16-kernels", "", "--int4-kernels", "ref", "--no-torch",
            "--shapes", "16x8,24x12",
            "--P", "1", "--repeats", "1"]
    assert cli.main(["bench", "kernels", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CPU: ") and "one thread (while timing: " in out
    # the kernels' run-time parameters the figures were taken with
    from nmt8.native import tuning

    t = tuning.stream()
    assert (f"kernel parameters (nmt8.native.tuning): {t['streams']} streams, "
            f"prefetch {t['prefetch_bytes']} B") in out
    assert f"row-group prefetch {t['ladder_prefetch_bytes']} B; from " in out
    # two shapes in the timing table; the decomposition takes C fp32, not
    # numpy; int4 against int8 has a row per shape
    counts = {"numpy-fp32": 2, "fp32-ref": 2 + 2, "int8-ref": 2 + 2 + 2,
              "int4-ref": 2 + 2 + 2}
    for method, n in counts.items():
        assert out.count(f"| {method} |") == n
    # timing, decomposition, int4 vs int8, cost
    assert out.count("| 16x8 |") == 4 + 3 + 1 + 1
    assert "| in x out | quantize ms | pack ms |" in out


def test_main_sweep_prints_the_crossover(capsys):
    from nmt8.native.kernels import available_kernels

    naive, blocked = available_kernels()[:2]
    args = ["--sweep-rows", "--kernels", f"{naive},{blocked}", "--shapes",
            "32x16", "--P", "1,2", "--repeats", "1", "--json"]
    assert cli.main(["bench", "kernels", *args]) == 0
    import json

    got = json.loads(capsys.readouterr().out)
    assert {(r["P"], r["kernel"]) for r in got["rows"]} == {
        (P, k) for P in (1, 2) for k in (naive, blocked)}
    assert got["peaks"].keys() <= {"int8_vnni", "int8_avx2", "int8_amx"}
    assert all(r["gops_spread"]["min"] <= r["gops"] <= r["gops_spread"]["max"]
               for r in got["rows"])
