"""Tests of the blocked int8 kernel ``gemm`` (``csrc/nmt8_gemm.c``) for many
rows of X: bit for bit against the int64 numpy reference and against the
naive ``vnni`` kernel, across the sizes where its blocking changes path
(chunks of 8 rows, slivers of 2 blocks of 16 outputs, groups of 256 KB of
weights, the float epilogue fused per tile); overlap, misalignment, bad
arguments, threads; and where ``"auto"`` switches to it (the crossover
derived by ``nmt8.lab.bench.crossover``).

The checks that every kernel shares (``tests/test_kernels.py``) run on gemm
too; these add P up to 1024 and the shapes of the blocking."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nmt8.lab.bench import crossover
from nmt8.quant import kernels, quantize
from nmt8.quant.kernels import (
    GEMM_MIN_ROWS,
    auto_kernel,
    available_kernels,
    default_kernel,
    int8_accumulate,
    int8_matmul,
    int8_matmul_q,
)

from .kernel_checks import check_out_overlapping_x
from .test_kernels import expected, ref_acc, ref_float

pytestmark = pytest.mark.skipif(
    "gemm" not in available_kernels(),
    reason=f"gemm needs AVX-512 VNNI; available: {available_kernels()}")

GROUP = 256 * 1024   # GEMM_GROUP_KB of csrc/nmt8_gemm.c, in bytes


def blocks_per_group(K):
    """Output blocks of 16 per group of weights, as nmt8_gemm.c cuts them."""
    bstride = -(-K // 4) * 64
    return max(2, GROUP // (2 * bstride) * 2)


def case(seed, P, K, N):
    rng = np.random.default_rng(seed)
    Wq = rng.integers(-127, 128, (N, K), dtype=np.int8)
    Xq = rng.integers(-127, 128, (P, K), dtype=np.int8)
    return Wq, Xq


# ------------------------------------------------------------ exactness

# P: every tail of a chunk of 8, and up to 1024; K: not multiples of 4, 16
# or 64; N: tails of blocks of 16, of slivers of 32, of groups
@pytest.mark.parametrize("P, K, N", [
    (1, 1, 1), (7, 3, 15), (8, 4, 16), (9, 5, 17), (15, 17, 31),
    (16, 63, 33), (17, 65, 47), (23, 255, 49), (31, 257, 95),
    (33, 621, 417), (64, 620, 1000), (100, 999, 63), (255, 13, 300),
    (257, 4001, 100), (511, 77, 130), (1000, 31, 45), (1024, 129, 97),
    (1023, 1000, 35),
])
def test_accumulate_is_exact(P, K, N):
    Wq, Xq = case(P * 7919 + K * 31 + N, P, K, N)
    acc = int8_accumulate(Wq, Xq, "gemm")
    np.testing.assert_array_equal(acc, ref_acc(Wq, Xq))


@pytest.mark.parametrize("seed", range(6))
def test_sampled_P_up_to_1024(seed):
    """Random P in 1..1024 and odd K, N, against int64 numpy and vnni."""
    rng = np.random.default_rng(seed)
    P = int(rng.integers(1, 1025))
    K, N = int(rng.integers(1, 400)), int(rng.integers(1, 200))
    Wq, Xq = case(seed, P, K, N)
    acc = int8_accumulate(Wq, Xq, "gemm")
    np.testing.assert_array_equal(acc, ref_acc(Wq, Xq))
    np.testing.assert_array_equal(acc, int8_accumulate(Wq, Xq, "vnni"))


@pytest.mark.parametrize("K", [620, 4000, 10001])
def test_several_groups_and_a_short_one(K):
    """N spanning 2 groups of weights and part of a third, the last sliver
    one block wide; K = 10001: a sliver is larger than a group."""
    per = blocks_per_group(K)
    N = 16 * (2 * per + 1) + 5                 # odd block count, tail of 5
    Wq, Xq = case(K, 19, K, N)
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, "gemm"),
                                  ref_acc(Wq, Xq))


@pytest.mark.parametrize("P, K, N", [(1, 33, 21), (8, 620, 417),
                                     (65, 1000, 100), (300, 77, 1003),
                                     (1024, 64, 40)])
@pytest.mark.parametrize("bias", [False, True])
def test_float_output_matches_reference_and_vnni(P, K, N, bias):
    """The fused epilogue (per tile) gives the bits of the separate one."""
    rng = np.random.default_rng(P + K + N)
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32), "per_row")
    X = rng.standard_normal((P, K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32) if bias else None
    got = int8_matmul(qW, X, kernel="gemm", bias=b)
    np.testing.assert_array_equal(got, expected(qW, X, b))
    np.testing.assert_array_equal(got, int8_matmul(qW, X, kernel="vnni",
                                                   bias=b))


def test_pre_quantized_X_with_tiny_steps():
    """int8_matmul_q, steps whose product is subnormal: the other order of
    the epilogue, per tile too."""
    rng = np.random.default_rng(3)
    P, K, N = 40, 50, 70
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32) * 1e-20)
    Xq = rng.integers(-127, 128, (P, K), dtype=np.int8)
    x_step = np.full(P, 1e-20, np.float32)
    got = int8_matmul_q(qW, Xq, x_step, kernel="gemm")
    np.testing.assert_array_equal(
        got, ref_float(ref_acc(qW.Wq, Xq), x_step, qW.step))
    assert ((x_step[0] * qW.step) < np.finfo(np.float32).tiny).any()


# -------------------------------------------------- memory and arguments

@pytest.mark.parametrize("K, N", [(300, 200), (200, 300)])
def test_out_may_overlap_X(K, N):
    """All of X is quantized and shifted before Y is written, at any P."""
    rng = np.random.default_rng(5)
    P = 70
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)
    check_out_overlapping_x(int8_matmul, qW, X, expected(qW, X), "gemm")


def test_misaligned_inputs():
    """X, out and bias one byte into their buffers; Xq at an odd address."""
    rng = np.random.default_rng(9)
    P, K, N = 37, 101, 83
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32))

    def misaligned(shape, dtype):
        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        raw = np.zeros(n + 1, np.uint8)
        return raw[1:].view(dtype).reshape(shape)

    X = misaligned((P, K), np.float32)
    X[...] = rng.standard_normal((P, K))
    b = misaligned((N,), np.float32)
    b[...] = rng.standard_normal(N)
    out = misaligned((P, N), np.float32)
    assert not (X.flags.aligned or out.flags.aligned or b.flags.aligned)
    int8_matmul(qW, X, kernel="gemm", bias=b, out=out)
    np.testing.assert_array_equal(out, expected(qW, X, b))
    Xq = misaligned((P, K), np.int8)
    Xq[...] = rng.integers(-127, 128, (P, K))
    np.testing.assert_array_equal(int8_accumulate(qW, Xq, "gemm"),
                                  ref_acc(qW.Wq, Xq))


def test_bad_inputs_are_refused():
    rng = np.random.default_rng(2)
    qW = quantize(rng.standard_normal((16, 40)).astype(np.float32))
    with pytest.raises(ValueError, match="columns"):
        int8_matmul(qW, np.ones((20, 15), np.float32), kernel="gemm")
    with pytest.raises(ValueError, match="NaN or inf"):
        X = np.ones((20, 16), np.float32)
        X[13, 2] = np.nan
        int8_matmul(qW, X, kernel="gemm")
    with pytest.raises(ValueError, match=r"\[-127, 127\]"):
        int8_accumulate(qW, np.full((20, 16), -128, np.int8), "gemm")
    with pytest.raises(ValueError, match="out must be"):
        int8_matmul(qW, np.ones((20, 16), np.float32), kernel="gemm",
                    out=np.empty((20, 41), np.float32))


def test_c_entry_points_refuse_bad_arguments():
    """Straight into C: no packed weights, negative P, no x_step: an error
    code, no crash."""
    lib, ffi = kernels._lib, kernels._ffi
    gemm = lib.NMT8_KERNEL_GEMM
    qW = quantize(np.ones((8, 20), np.float32))      # Wq all 127
    Wq, step = qW.Wq, qW.step
    wsum = (128 * Wq.astype(np.int32).sum(1)).astype(np.int32)
    w = ffi.new("nmt8_weights *")
    w.Wq = ffi.from_buffer("int8_t[]", Wq)
    w.wsum = ffi.from_buffer("int32_t[]", wsum)
    w.w_step = ffi.from_buffer("float[]", step)
    w.Wp, w.N, w.K = ffi.NULL, 20, 8
    acc = np.zeros((2, 20), np.int32)
    Xq = np.ones((2, 8), np.int8)
    pa, px = ffi.from_buffer("int32_t[]", acc), ffi.from_buffer("int8_t[]", Xq)
    assert lib.nmt8_accumulate(gemm, pa, w, px, 2) == lib.NMT8_EBADARG
    w.Wp = ffi.from_buffer("int8_t[]", qW.packed)
    assert lib.nmt8_accumulate(gemm, pa, w, px, -1) == lib.NMT8_EBADARG
    assert lib.nmt8_accumulate(gemm, pa, w, px, 2) == lib.NMT8_OK
    np.testing.assert_array_equal(acc, np.full((2, 20), 8 * 127))
    Y = np.zeros((2, 20), np.float32)
    assert lib.nmt8_matmul_q(gemm, ffi.from_buffer("float[]", Y), w, px,
                             ffi.NULL, ffi.NULL, 2) == lib.NMT8_EBADARG


def test_two_threads_on_one_matrix():
    """Two threads, many rows, one fresh matrix (racing for its packed
    copy): what one thread gets alone."""
    rng = np.random.default_rng(11)
    K, N = 300, 200
    W = rng.standard_normal((K, N)).astype(np.float32)
    Xs = [rng.standard_normal((P, K)).astype(np.float32) for P in (17, 130)]
    alone = [int8_matmul(quantize(W), X, kernel="gemm") for X in Xs]
    for _ in range(3):
        qW = quantize(W)
        start = threading.Barrier(2)

        def work(qW=qW, start=start):
            start.wait()
            return [[int8_matmul(qW, X, kernel="gemm") for X in Xs]
                    for _ in range(5)]

        with ThreadPoolExecutor(2) as pool:
            results = [f.result() for f in [pool.submit(work) for _ in "ab"]]
        for rounds in results:
            for got in rounds:
                for a, b in zip(got, alone):
                    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------- auto and crossover

def test_auto_switches_at_the_crossover(monkeypatch):
    monkeypatch.delenv("NMT8_KERNEL", raising=False)
    monkeypatch.setattr(kernels, "_auto", [None])
    if default_kernel() != "vnni":
        pytest.skip("auto is not vnni here")
    assert auto_kernel(GEMM_MIN_ROWS - 1) == "vnni"
    assert auto_kernel(GEMM_MIN_ROWS) == "gemm"
    assert auto_kernel(1024) == "gemm"


def test_auto_runs_gemm_for_many_rows(monkeypatch):
    """The kernel id int8_matmul hands to C under "auto": vnni below
    GEMM_MIN_ROWS rows, gemm from there on; exact either way."""
    monkeypatch.delenv("NMT8_KERNEL", raising=False)
    monkeypatch.setattr(kernels, "_auto", [None])
    if default_kernel() != "vnni":
        pytest.skip("auto is not vnni here")
    seen = []
    real = kernels._lib

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def nmt8_matmul_f32(self, kid, *args):
            seen.append(kid)
            return real.nmt8_matmul_f32(kid, *args)

    monkeypatch.setattr(kernels, "_lib", Spy())
    rng = np.random.default_rng(4)
    qW = quantize(rng.standard_normal((30, 20)).astype(np.float32))
    for P in (1, GEMM_MIN_ROWS - 1, GEMM_MIN_ROWS, 300):
        X = rng.standard_normal((P, 30)).astype(np.float32)
        np.testing.assert_array_equal(int8_matmul(qW, X), expected(qW, X))
    assert seen == [real.NMT8_KERNEL_VNNI] * 2 + [real.NMT8_KERNEL_GEMM] * 2


def test_environment_choice_is_kept_for_many_rows(monkeypatch):
    """NMT8_KERNEL=vnni means vnni at every P: no switch to gemm."""
    monkeypatch.setattr(kernels, "_auto", [None])
    monkeypatch.setenv("NMT8_KERNEL", "vnni")
    assert default_kernel() == "vnni"
    assert auto_kernel(1024) == "vnni"
    monkeypatch.delenv("NMT8_KERNEL")
    default_kernel()
    assert os.environ.get("NMT8_KERNEL") is None


def rows(table):
    """Sweep rows from {(shape, P): (naive GOP/s, blocked GOP/s)}."""
    out = []
    for ((K, N), P), (a, b) in table.items():
        out += [{"in": K, "out": N, "P": P, "kernel": "vnni", "gops": a},
                {"in": K, "out": N, "P": P, "kernel": "gemm", "gops": b}]
    return out


def test_crossover_is_where_blocked_wins_from_then_on():
    s, t = (1000, 3000), (620, 40000)
    table = {(s, 1): (100, 80), (t, 1): (50, 60),
             (s, 4): (300, 290), (t, 4): (200, 150),    # t slower: not yet
             (s, 8): (400, 399), (t, 8): (250, 350),
             (s, 64): (400, 390), (t, 64): (260, 380)}
    assert crossover(rows(table)) == 8
    table[(s, 64)] = (400, 300)                         # 25% slower at 64
    assert crossover(rows(table)) is None


def test_crossover_needs_a_gain_on_the_mean():
    """Ties within the tolerance on every shape are not a reason to switch."""
    s, t = (1000, 3000), (620, 40000)
    table = {(s, 8): (400, 390), (t, 8): (300, 295)}
    assert crossover(rows(table)) is None
