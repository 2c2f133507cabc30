"""Tests of the blocked int8 kernels for many rows of X, ``gemm`` (AVX-512
VNNI, ``csrc/nmt8_gemm.c``) and ``gemm_avx2`` (AVX2,
``csrc/nmt8_gemm_avx2.c``): bit for bit against the int64 numpy reference
and against the naive kernel of the same ISA (``vnni``, ``avx2``), across
the sizes where their blocking changes path (chunks of 8 or 4 rows, slivers
of 32 or 8 outputs, groups of 256 KB of weights, blocks of 2048 k for
gemm_avx2, the float epilogue fused per tile); overlap, misalignment, bad
arguments, threads; and where ``"auto"`` switches to them (the crossover
derived by ``nmt8.lab.kernels.bench.crossover``).

The checks that every kernel shares (``tests/test_kernels.py``) run on both
too; these add P up to 1024 and the shapes of the blocking."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nmt8.lab.kernels.sweep import crossover, format_sweep
from nmt8.native import dispatch, kernels
from nmt8.native.kernels import (
    AMX_MIN_ROWS,
    GEMM_AVX2_MIN_ROWS,
    GEMM_MIN_ROWS,
    auto_kernel,
    available_kernels,
    default_kernel,
    int8_accumulate,
    int8_matmul,
    int8_matmul_q,
)
from nmt8.quant.int8 import quantize

from .kernel_checks import check_out_overlapping_x
from .test_kernels import expected, ref_acc, ref_float

# each blocked kernel and the naive one of its ISA
NAIVE = {"gemm": "vnni", "gemm_avx2": "avx2"}
GROUP = 256 * 1024   # GEMM_GROUP_KB, GEMM2_GROUP_KB of csrc/, in bytes
KC = 2048            # GEMM2_KC of csrc/nmt8_gemm_avx2.c: k per K block


def need(kernel):
    if kernel not in available_kernels():
        pytest.skip(f"{kernel} not supported by this CPU; available: "
                    f"{available_kernels()}")


@pytest.fixture(params=sorted(NAIVE))
def blocked(request):
    """Each blocked kernel this CPU runs."""
    need(request.param)
    return request.param


def outputs_per_group(K, kernel):
    """Outputs per group of weights, as csrc/ cuts them: blocks of 16 in
    pairs (gemm), slivers of 8 of one K block (gemm_avx2)."""
    G = -(-K // 4)
    if kernel == "gemm":
        return 16 * max(2, GROUP // (2 * G * 64) * 2)
    nkb = -(-G // (KC // 4))
    return 8 * max(1, GROUP // (-(-G // nkb) * 32))


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
def test_accumulate_is_exact(blocked, P, K, N):
    Wq, Xq = case(P * 7919 + K * 31 + N, P, K, N)
    acc = int8_accumulate(Wq, Xq, blocked)
    np.testing.assert_array_equal(acc, ref_acc(Wq, Xq))


@pytest.mark.parametrize("seed", range(6))
def test_sampled_P_up_to_1024(blocked, seed):
    """Random P in 1..1024 and odd K, N, against int64 numpy and the naive
    kernel of the same ISA."""
    rng = np.random.default_rng(seed)
    P = int(rng.integers(1, 1025))
    K, N = int(rng.integers(1, 400)), int(rng.integers(1, 200))
    Wq, Xq = case(seed, P, K, N)
    acc = int8_accumulate(Wq, Xq, blocked)
    np.testing.assert_array_equal(acc, ref_acc(Wq, Xq))
    np.testing.assert_array_equal(acc,
                                  int8_accumulate(Wq, Xq, NAIVE[blocked]))


@pytest.mark.parametrize("K", [620, 4000, 10001])
def test_several_groups_and_a_short_one(blocked, K):
    """N spanning 2 groups of weights and part of a third, with a tail of
    5 outputs; K = 10001: a sliver is larger than a group (gemm), 5 blocks
    of K (gemm_avx2)."""
    N = 2 * outputs_per_group(K, blocked) + 16 + 5
    Wq, Xq = case(K, 19, K, N)
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, blocked),
                                  ref_acc(Wq, Xq))


# K around the K blocks of gemm_avx2 (2048 k = 512 steps of 4): one block,
# two (of 513 and 512 steps, of 257 and 256), three; P and N with tails
@pytest.mark.parametrize("P, K, N", [
    (5, 2048, 9), (6, 2049, 17), (13, 2052, 8), (4, 4096, 7),
    (9, 4100, 33), (3, 6145, 40), (17, 8193, 3),
])
def test_blocks_of_K_add_up_exactly(blocked, P, K, N):
    """Extremes too: +-127 everywhere, so every partial sum is large."""
    Wq, Xq = case(K + N, P, K, N)
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, blocked),
                                  ref_acc(Wq, Xq))
    ext = np.where(Wq >= 0, 127, -127).astype(np.int8)
    xt = np.where(Xq >= 0, 127, -127).astype(np.int8)
    xt[0] = 127
    ext[0] = 127                          # one output at 127 * 127 * K
    acc = int8_accumulate(ext, xt, blocked)
    np.testing.assert_array_equal(acc, ref_acc(ext, xt))
    assert acc[0, 0] == 127 * 127 * K


@pytest.mark.parametrize("P, K, N", [(1, 33, 21), (8, 620, 417),
                                     (65, 1000, 100), (300, 77, 1003),
                                     (1024, 64, 40), (37, 4100, 45)])
@pytest.mark.parametrize("bias", [False, True])
def test_float_output_matches_reference_and_naive(blocked, P, K, N, bias):
    """The fused epilogue (per tile) gives the bits of the separate one,
    after several blocks of K too (K = 4100)."""
    rng = np.random.default_rng(P + K + N)
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32), "per_row")
    X = rng.standard_normal((P, K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32) if bias else None
    got = int8_matmul(qW, X, kernel=blocked, bias=b)
    np.testing.assert_array_equal(got, expected(qW, X, b))
    np.testing.assert_array_equal(
        got, int8_matmul(qW, X, kernel=NAIVE[blocked], bias=b))
    Xq, x_step = kernels._quantize_rows(X)
    np.testing.assert_array_equal(
        int8_matmul_q(qW, Xq, x_step, kernel=blocked, bias=b), got)


def test_pre_quantized_X_with_tiny_steps(blocked):
    """int8_matmul_q, steps whose product is subnormal: the other order of
    the epilogue, per tile too."""
    rng = np.random.default_rng(3)
    P, K, N = 40, 50, 70
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32) * 1e-20)
    Xq = rng.integers(-127, 128, (P, K), dtype=np.int8)
    x_step = np.full(P, 1e-20, np.float32)
    got = int8_matmul_q(qW, Xq, x_step, kernel=blocked)
    np.testing.assert_array_equal(
        got, ref_float(ref_acc(qW.Wq, Xq), x_step, qW.step))
    assert ((x_step[0] * qW.step) < np.finfo(np.float32).tiny).any()


@pytest.mark.parametrize(("blocked", "isa"), [
    ("ref", "avx2"), ("ref", "avx512"),     # the epilogue's SSE, AVX-512 paths
    ("gemm", "auto"), ("gemm_avx2", "auto"), ("amx", "auto")])  # per tile
def test_steps_subnormal_in_some_lanes_only(blocked, isa):
    """Within one vector of outputs some steps' products are subnormal
    and some are not: each lane takes its own order of the epilogue, on
    both of its paths, and in the kernels that apply it per tile."""
    need(blocked)
    if isa != "auto" and isa not in dispatch.AVAILABLE_ISAS:
        pytest.skip(f"{isa} not supported by this CPU")
    rng = np.random.default_rng(4)
    P, K, N = 37, 70, 53
    cols = (10.0 ** rng.uniform(-30, 0, N)).astype(np.float32)
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32) * cols,
                  "per_row")
    Xq = rng.integers(-127, 128, (P, K), dtype=np.int8)
    x_step = (10.0 ** rng.uniform(-15, 0, P)).astype(np.float32)
    # no bias: added to the tiny outputs, it would hide their bits
    with dispatch.forced(isa):
        got = int8_matmul_q(qW, Xq, x_step, kernel=blocked)
    np.testing.assert_array_equal(
        got, ref_float(ref_acc(qW.Wq, Xq), x_step, qW.step))
    tiny = np.outer(x_step, qW.step) < np.finfo(np.float32).tiny
    assert tiny.any() and not tiny.all()


# -------------------------------------------------- memory and arguments

@pytest.mark.parametrize("K, N", [(300, 200), (200, 300)])
def test_out_may_overlap_X(blocked, K, N):
    """All of X is quantized and shifted before Y is written, at any P."""
    rng = np.random.default_rng(5)
    P = 70
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)
    check_out_overlapping_x(int8_matmul, qW, X, expected(qW, X), blocked)


def test_misaligned_inputs(blocked):
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
    int8_matmul(qW, X, kernel=blocked, bias=b, out=out)
    np.testing.assert_array_equal(out, expected(qW, X, b))
    Xq = misaligned((P, K), np.int8)
    Xq[...] = rng.integers(-127, 128, (P, K))
    np.testing.assert_array_equal(int8_accumulate(qW, Xq, blocked),
                                  ref_acc(qW.Wq, Xq))


def test_bad_inputs_are_refused(blocked):
    rng = np.random.default_rng(2)
    qW = quantize(rng.standard_normal((16, 40)).astype(np.float32))
    with pytest.raises(ValueError, match="columns"):
        int8_matmul(qW, np.ones((20, 15), np.float32), kernel=blocked)
    with pytest.raises(ValueError, match="NaN or inf"):
        X = np.ones((20, 16), np.float32)
        X[13, 2] = np.nan
        int8_matmul(qW, X, kernel=blocked)
    with pytest.raises(ValueError, match=r"\[-127, 127\]"):
        int8_accumulate(qW, np.full((20, 16), -128, np.int8), blocked)
    with pytest.raises(ValueError, match="out must be"):
        int8_matmul(qW, np.ones((20, 16), np.float32), kernel=blocked,
                    out=np.empty((20, 41), np.float32))


def test_c_entry_points_refuse_bad_arguments(blocked):
    """Straight into C: no packed weights, no Wq, negative P, misaligned
    acc, no x_step: an error code, no crash."""
    lib, ffi = kernels._lib, kernels._ffi
    gemm = getattr(lib, "NMT8_KERNEL_" + blocked.upper())
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
    odd = ffi.cast("int32_t *", ffi.cast("char *", pa) + 1)
    assert lib.nmt8_accumulate(gemm, odd, w, px, 2) == lib.NMT8_EBADARG
    w.Wq = ffi.NULL
    assert lib.nmt8_accumulate(gemm, pa, w, px, 2) == lib.NMT8_EBADARG
    w.Wq = ffi.from_buffer("int8_t[]", Wq)
    assert (acc == 0).all()                          # nothing written
    assert lib.nmt8_accumulate(gemm, pa, w, px, 2) == lib.NMT8_OK
    np.testing.assert_array_equal(acc, np.full((2, 20), 8 * 127))
    Y = np.zeros((2, 20), np.float32)
    assert lib.nmt8_matmul_q(gemm, ffi.from_buffer("float[]", Y), w, px,
                             ffi.NULL, ffi.NULL, 2) == lib.NMT8_EBADARG


def test_two_threads_on_one_matrix(blocked):
    """Two threads, many rows, one fresh matrix (racing for its packed
    copy): what one thread gets alone."""
    rng = np.random.default_rng(11)
    K, N = 300, 200
    W = rng.standard_normal((K, N)).astype(np.float32)
    Xs = [rng.standard_normal((P, K)).astype(np.float32) for P in (17, 130)]
    alone = [int8_matmul(quantize(W), X, kernel=blocked) for X in Xs]
    for _ in range(3):
        qW = quantize(W)
        start = threading.Barrier(2)

        def work(qW=qW, start=start):
            start.wait()
            return [[int8_matmul(qW, X, kernel=blocked) for X in Xs]
                    for _ in range(5)]

        with ThreadPoolExecutor(2) as pool:
            results = [f.result() for f in [pool.submit(work) for _ in "ab"]]
        for rounds in results:
            for got in rounds:
                for a, b in zip(got, alone):
                    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------- auto and crossover

# (naive, blocked, its rows) "auto" runs on a CPU with VNNI, and on one with
# AVX2 but without AVX-512 (this CPU narrowed to look like one)
AUTO = {"vnni": ("vnni", "gemm", GEMM_MIN_ROWS),
        "avx2": ("avx2", "gemm_avx2", GEMM_AVX2_MIN_ROWS),
        "amx": ("vnni", "amx", AMX_MIN_ROWS)}


@pytest.fixture(params=sorted(AUTO))
def cpu(request):
    """``AUTO[isa]``, with the process's choice narrowed to that isa."""
    naive, blocked, rows = AUTO[request.param]
    need(blocked)
    with dispatch.forced(request.param):
        assert default_kernel() == naive
        yield naive, blocked, rows


def test_auto_switches_at_the_crossover(cpu):
    naive, blocked, rows = cpu
    assert auto_kernel(rows - 1) == naive
    assert auto_kernel(rows) == blocked
    assert auto_kernel(1024) == blocked


def test_this_cpu_keeps_its_widest_blocked_kernel():
    """With VNNI, "auto" never runs gemm_avx2: vnni, then gemm (or, where
    the core has AMX, vnni then amx)."""
    need("gemm")
    blocked = "amx" if "amx" in dispatch.AVAILABLE_ISAS else "gemm"
    with dispatch.forced():
        assert {auto_kernel(P) for P in range(1, 300)} == {"vnni", blocked}


def test_auto_runs_the_blocked_kernel_for_many_rows(cpu, monkeypatch):
    """Under "auto" int8_matmul hands C the id AUTO, and C runs the naive
    kernel below its crossover, the blocked one from there on (the choice
    its entry points make, nmt8_resolve); exact either way."""
    naive, blocked, rows = cpu
    seen = []
    real = kernels._lib

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def nmt8_matmul_f32(self, kid, *args):
            seen.append(real.nmt8_resolve(real.NMT8_FAMILY_INT8, kid,
                                          args[-1]))
            return real.nmt8_matmul_f32(kid, *args)

    monkeypatch.setattr(kernels, "_lib", Spy())
    rng = np.random.default_rng(4)
    qW = quantize(rng.standard_normal((30, 20)).astype(np.float32))
    for P in (1, rows - 1, rows, 300):
        X = rng.standard_normal((P, 30)).astype(np.float32)
        np.testing.assert_array_equal(int8_matmul(qW, X), expected(qW, X))
    ids = [getattr(real, "NMT8_KERNEL_" + k.upper())
           for k in (naive, naive, blocked, blocked)]
    assert seen == ids


def test_auto_packs_the_weights_when_the_choice_changes():
    """A matrix first multiplied under a choice that reads Wq alone is
    packed when the choice moves to a kernel that reads the packing."""
    need("gemm_avx2")
    rng = np.random.default_rng(5)
    qW = quantize(rng.standard_normal((30, 20)).astype(np.float32))
    X = rng.standard_normal((8, 30)).astype(np.float32)
    with dispatch.forced("sse4"):
        assert not dispatch.auto_packs()
        np.testing.assert_array_equal(int8_matmul(qW, X), expected(qW, X))
    with dispatch.forced("avx2"):
        assert dispatch.auto_packs()
        np.testing.assert_array_equal(int8_matmul(qW, X), expected(qW, X))


@pytest.mark.parametrize("naive", ["vnni", "avx2"])
def test_one_kernel_choice_is_kept_for_many_rows(naive):
    """int8=vnni (avx2), as $NMT8_KERNEL sets it, means vnni (avx2) at
    every P: no switch to gemm (gemm_avx2)."""
    need(naive)
    with dispatch.forced(int8=naive):
        assert default_kernel() == naive
        assert auto_kernel(1024) == naive


def rows(table, naive="vnni", blocked="gemm"):
    """Sweep rows from {(shape, P): (naive GOP/s, blocked GOP/s)}."""
    out = []
    for ((K, N), P), (a, b) in table.items():
        out += [{"in": K, "out": N, "P": P, "kernel": naive, "gops": a},
                {"in": K, "out": N, "P": P, "kernel": blocked, "gops": b}]
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


def test_sweep_table_has_one_crossover_per_pair():
    """Both pairs in one sweep: a table and a crossover each, read from
    the pair's own rows."""
    s, t = (1000, 3000), (620, 40000)
    vnni = {(s, 1): (100, 80), (t, 1): (50, 40),
            (s, 8): (400, 420), (t, 8): (250, 350)}
    avx2 = {(s, 1): (60, 30), (t, 1): (30, 20), (s, 8): (60, 140),
            (t, 8): (40, 90)}
    got = rows(vnni) + rows(avx2, "avx2", "gemm_avx2")
    assert crossover(got, "avx2", "gemm_avx2") == 8
    peak = {"gops": {"min": 390.0, "median": 395.0, "max": 400.0}}
    sweep = {"peaks": {"int8_vnni": {**peak, "kind": "vnni_zmm_12"},
                       "int8_avx2": {**peak, "kind": "avx2_maddubs_8"}},
             "rows": got}
    got[-1]["samples"], got[-2]["samples"] = [90, 45], [40, 40]
    table = format_sweep(sweep)
    assert table.count("crossover") == 2
    assert "| gemm_avx2 / avx2 min/med/max |" in table
    assert "| gemm / vnni min/med/max |" in table
    assert "| 620x40000 | 8 | 40/40/40 | 90/90/90 | 10% | 22% | " \
        "1.12/1.69/2.25 |" in table
    only = format_sweep(sweep, "avx2", "gemm_avx2")
    assert only.count("crossover") == 1 and "gemm / vnni" not in only
