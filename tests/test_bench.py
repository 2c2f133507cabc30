"""The kernel benchmark runs and reports what it timed (no speed asserted)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nmt8.lab import bench
from nmt8.quant import quantize


def test_copies_to_stream():
    assert bench.copies_to_stream(10, stream_bytes=100) == 10
    assert bench.copies_to_stream(30, stream_bytes=100) == 4
    assert bench.copies_to_stream(10**9, stream_bytes=100) == 1


def test_methods_cycle_through_copies():
    Ws = [np.eye(3, dtype=np.float32), 2 * np.eye(3, dtype=np.float32)]
    X = np.ones((1, 3), np.float32)
    m = bench._methods(Ws, [quantize(w) for w in Ws], X, ["ref"], [])
    got = [float(m["numpy-fp32"]()[0, 0]) for _ in range(3)]
    assert got == [1.0, 2.0, 1.0]
    got = [float(m["int8-ref"]()[0, 0]) for _ in range(2)]
    assert got == pytest.approx([1.0, 2.0], rel=1e-2)


@pytest.mark.parametrize("stream", [False, True])
def test_bench_kernels_rows(monkeypatch, stream):
    monkeypatch.setattr(bench, "STREAM_BYTES", 1000)
    rows = bench.bench_kernels(shapes=[(24, 20)], P_values=(1, 3), repeats=2,
                               kernels=["ref"], include_torch=False,
                               progress=False, min_sample=1e-5, stream=stream)
    assert {(r["P"], r["method"]) for r in rows} == {
        (P, m) for P in (1, 3) for m in ("numpy-fp32", "int8-ref")}
    for r in rows:
        assert r["seconds"] > 0 and r["weights"] == ("stream" if stream else "cached")
        assert r["copies"] == (3 if stream else 1)  # ceil(1000 / 480)
    assert "| 24x20 | 1 | int8-ref |" in bench.format_table(rows)


def test_bench_times_on_one_thread_and_restores(monkeypatch):
    seen, timed = [], bench._time_interleaved

    def spying(*args, **kw):
        seen.append(blas_counts())
        return timed(*args, **kw)

    monkeypatch.setattr(bench, "_time_interleaved", spying)
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
