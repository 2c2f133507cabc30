"""Tests of nmt8.native.kernels: every exact kernel against an int64 numpy
reference, bit for bit; the saturating maddubs kernel against a numpy
emulation of vpmaddubsw; the sizes where the C code changes path; threads;
and the wrapper's argument checks."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.native import dispatch, kernels
from nmt8.native.clib import KERNELS
from nmt8.native.kernels import (
    available_kernels,
    default_kernel,
    int8_accumulate,
    int8_matmul,
    int8_matmul_q,
)
from nmt8.quant.int8 import (
    MAX_IN_FEATURES,
    QuantizedMatrix,
    quantize,
    quantize_activations,
)

from .kernel_checks import check_layouts, check_out_overlapping_x, unaligned

EXACT = [k for k in KERNELS if k != "maddubs"]
SETTINGS = settings(max_examples=40, deadline=None)


def need(kernel):
    if kernel not in available_kernels():
        pytest.skip(f"kernel {kernel!r} not supported by this CPU "
                    f"(available: {available_kernels()})")


@pytest.fixture(scope="module", params=KERNELS)
def kernel(request):
    """Every kernel this CPU runs, maddubs included."""
    need(request.param)
    return request.param


@pytest.fixture(scope="module", params=EXACT)
def exact(request):
    """Every exact kernel this CPU runs."""
    need(request.param)
    return request.param


# ------------------------------------------------------------ references

def ref_acc(Wq, Xq):
    """acc (P, out) as int64: the definition."""
    return Xq.astype(np.int64) @ Wq.astype(np.int64).T


def ref_float(acc, x_step, w_step, bias=None):
    """The kernels' float epilogue, same float32 operations, same order:
    (float)acc * (x_step[p] * w_step[o]) + b[o], or
    ((float)acc * x_step[p]) * w_step[o] where the product of the steps is
    subnormal."""
    sx = x_step[:, None].astype(np.float32)                    # (P, 1)
    sw = w_step[None, :].astype(np.float32)                    # (1, N)
    s = sx * sw                                                # (P, N)
    a = acc.astype(np.float32)
    Y = a * s
    sub = (s > 0) & (s < np.finfo(np.float32).tiny)
    Y[sub] = ((a * sx) * sw)[sub]
    return Y if bias is None else Y + bias


def expected(qW, X, bias=None):
    """int8_matmul by the numpy references: quantize_activations, an int64
    product, the float epilogue."""
    Xq, x_step = quantize_activations(X)
    return ref_float(ref_acc(qW.Wq, Xq), x_step, qW.step, bias)


def ref_maddubs(Wq, Xq):
    """What vpmaddubsw computes: X shifted to uint8 (+128), pairs of
    products (k = 2j, 2j + 1) summed and saturated to int16, then summed,
    minus 128 * sum_k W."""
    P, K = Xq.shape
    Kp = K + K % 2
    xu = np.zeros((P, Kp), np.int64)
    w = np.zeros((Wq.shape[0], Kp), np.int64)
    xu[:, :K], w[:, :K] = Xq.astype(np.int64) + 128, Wq
    prod = xu[:, None, :] * w[None, :, :]                      # (P, out, Kp)
    pairs = prod.reshape(P, w.shape[0], Kp // 2, 2).sum(-1)
    pairs = np.clip(pairs, -32768, 32767)
    return pairs.sum(-1) - 128 * w.sum(1)[None, :]


def random_case(seed, P, K, N, dist="uniform"):
    rng = np.random.default_rng(seed)
    if dist == "uniform":
        Wq = rng.integers(-127, 128, (N, K), dtype=np.int8)
        Xq = rng.integers(-127, 128, (P, K), dtype=np.int8)
    elif dist == "small":
        Wq = rng.integers(-3, 4, (N, K), dtype=np.int8)
        Xq = rng.integers(-3, 4, (P, K), dtype=np.int8)
    else:  # extremes only
        Wq = rng.choice(np.array([-127, 127], np.int8), (N, K))
        Xq = rng.choice(np.array([-127, 127], np.int8), (P, K))
    return Wq, Xq


shapes = st.tuples(st.integers(0, 2**31 - 1),    # seed
                   st.integers(1, 17),           # P
                   st.integers(1, 300),          # K = in
                   st.integers(1, 70))           # N = out
dists = st.sampled_from(["uniform", "small", "extreme"])


# ----------------------------------------------------------- exactness

@SETTINGS
@given(case=shapes, dist=dists)
def test_accumulate_is_exact(exact, case, dist):
    Wq, Xq = random_case(*case, dist=dist)
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, kernel=exact),
                                  ref_acc(Wq, Xq))


@pytest.mark.parametrize("K", [1, 3, 4, 15, 16, 17, 31, 32, 33, 47, 48, 49,
                               63, 64, 65, 500, 620, 1000])
def test_accumulate_exact_at_vector_edges(kernel, K):
    """Inner sizes around the vector widths (16, 32, 64 bytes), out rows
    around 4 and 16, P around the chunk sizes (4, 8)."""
    ref = ref_maddubs if kernel == "maddubs" else ref_acc
    for P, N in [(1, 1), (2, 15), (5, 16), (8, 17), (9, 33), (17, 67)]:
        Wq, Xq = random_case(K, P, K, N)
        np.testing.assert_array_equal(int8_accumulate(Wq, Xq, kernel=kernel),
                                      ref(Wq, Xq))


@pytest.mark.parametrize("sign", [1, -1])
def test_extremes_do_not_overflow(exact, sign):
    """+-127 everywhere at K = 4096: 127 * 127 * 4096 needs 26 bits; an
    int16 intermediate would saturate."""
    K, N = 4096, 37
    for P in (1, 5, 17):
        Wq = np.full((N, K), 127, np.int8)
        Wq[1::2] = -127
        Xq = np.full((P, K), sign * 127, np.int8)
        acc = int8_accumulate(Wq, Xq, kernel=exact)
        np.testing.assert_array_equal(acc, ref_acc(Wq, Xq))
        assert acc[0, 0] == sign * 127 * 127 * K


def test_largest_inner_size_is_exact(exact):
    """At K = MAX_IN_FEATURES the VNNI kernel's shifted sums (x + 128) * w
    wrap around int32; the corrected result must still be exact."""
    kernel = exact
    K, N = MAX_IN_FEATURES, 18
    Wq = np.full((N, K), 127, np.int8)
    Wq[::3] = -127
    Xq = np.full((2, K), 127, np.int8)
    Xq[1] = -127
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, kernel=kernel),
                                  ref_acc(Wq, Xq))


def test_zeros(kernel):
    Wq, Xq = random_case(0, 3, 77, 21)
    zX, zW = np.zeros_like(Xq), np.zeros_like(Wq)
    np.testing.assert_array_equal(int8_accumulate(Wq, zX, kernel=kernel), 0)
    np.testing.assert_array_equal(int8_accumulate(zW, Xq, kernel=kernel), 0)
    qW = quantize(np.random.default_rng(1).standard_normal((77, 21)))
    b = np.arange(21, dtype=np.float32)
    Y = int8_matmul(qW, np.zeros((4, 77), np.float32), kernel=kernel, bias=b)
    np.testing.assert_array_equal(Y, np.broadcast_to(b, (4, 21)))


@SETTINGS
@given(case=shapes, bias=st.booleans(), scheme=st.sampled_from(
    ["per_tensor", "per_row"]))
def test_float_output_is_exact(exact, case, bias, scheme):
    """int8_matmul = quantize_activations (numpy) + exact sums + the same
    float32 epilogue, bit for bit."""
    kernel = exact
    seed, P, K, N = case
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, N)).astype(np.float32) * rng.uniform(0.01, 10, N)
    X = rng.standard_normal((P, K)).astype(np.float32)
    X[0, : K // 2] *= 100                    # rows of different ranges
    b = rng.standard_normal(N).astype(np.float32) if bias else None
    qW = quantize(W, scheme=scheme)
    Xq, sx = quantize_activations(X)
    expect = ref_float(ref_acc(qW.Wq, Xq), sx, qW.step, b)
    np.testing.assert_array_equal(int8_matmul(qW, X, kernel=kernel, bias=b),
                                  expect)
    np.testing.assert_array_equal(
        int8_matmul_q(qW, Xq, sx, kernel=kernel, bias=b), expect)


# the quantizer's paths: SSE (portable and avx2 dispatch) and AVX-512
QUANTIZER_ISAS = [i for i in ("avx2", "avx512") if i in dispatch.AVAILABLE_ISAS]


@pytest.mark.parametrize("isa", QUANTIZER_ISAS)
@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), P=st.integers(1, 9),
       K=st.integers(1, 300))
def test_c_quantizer_matches_numpy(isa, seed, P, K):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((P, K)) * 10.0 ** rng.integers(-30, 30, (P, 1)))
    X = X.astype(np.float32)
    X[0, 0] = 0.0
    if P > 1:
        X[1] = 0.0                           # an all-zero row
    with dispatch.forced(isa):
        Xq, sx = kernels._quantize_rows(X)
    Xq_np, sx_np = quantize_activations(X)
    np.testing.assert_array_equal(Xq, Xq_np)
    np.testing.assert_array_equal(sx, sx_np)


@pytest.mark.parametrize("isa", QUANTIZER_ISAS)
def test_c_quantizer_rounds_half_to_even(isa):
    # max 127 makes the scale exactly 1, so x * scale = x
    X = np.array([[127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -0.0] * 3],
                 np.float32)
    with dispatch.forced(isa):
        Xq, sx = kernels._quantize_rows(X)
    assert sx[0] == np.float32(1.0)
    np.testing.assert_array_equal(Xq[0, :9], [127, 0, 2, 2, 0, -2, -2, 126, 0])
    np.testing.assert_array_equal(Xq, quantize_activations(X)[0])


@pytest.mark.parametrize("K, N", [(620, 3000), (1000, 3000)])
def test_exact_kernels_on_the_paper_shapes(exact, K, N):
    rng = np.random.default_rng(0)
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32))
    X = rng.standard_normal((5, K)).astype(np.float32)
    np.testing.assert_array_equal(int8_matmul(qW, X, kernel=exact),
                                  expected(qW, X))


# -------------------------------------------------------------- maddubs

@SETTINGS
@given(case=shapes, dist=dists)
def test_maddubs_is_the_saturating_instruction(case, dist):
    need("maddubs")
    Wq, Xq = random_case(*case, dist=dist)
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, kernel="maddubs"),
                                  ref_maddubs(Wq, Xq))


def test_maddubs_saturates_on_adversarial_input():
    """x = w = 127: each pair sum is 2 * 255 * 127 = 64770, clipped to
    32767; the exact answer is 127 * 127 * K."""
    need("maddubs")
    K = 64
    Wq = np.full((4, K), 127, np.int8)
    Xq = np.full((1, K), 127, np.int8)
    acc = int8_accumulate(Wq, Xq, kernel="maddubs")
    exact = ref_acc(Wq, Xq)
    assert exact[0, 0] == 127 * 127 * K
    assert acc[0, 0] == 32767 * K // 2 - 128 * 127 * K     # much smaller
    assert not np.array_equal(acc, exact)
    np.testing.assert_array_equal(acc, ref_maddubs(Wq, Xq))


@SETTINGS
@given(case=shapes)
def test_maddubs_is_exact_on_small_weights(case):
    """|w| <= 64 keeps 2 * 255 * |w| < 32768: no saturation."""
    need("maddubs")
    seed, P, K, N = case
    rng = np.random.default_rng(seed)
    Wq = rng.integers(-64, 65, (N, K), dtype=np.int8)
    Xq = rng.integers(-127, 128, (P, K), dtype=np.int8)
    np.testing.assert_array_equal(int8_accumulate(Wq, Xq, kernel="maddubs"),
                                  ref_acc(Wq, Xq))


# ------------------------------------------------------ layouts and dtypes

def test_unaligned_and_strided_inputs(kernel):
    """Misaligned float buffers (X, bias, out) never reach the C code (the
    sanitizer build reports a misaligned load), and give the same bits."""
    rng = np.random.default_rng(3)
    K, N, P = 133, 45, 5
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    expect = int8_matmul(qW, X, kernel=kernel, bias=b)
    check_layouts(int8_matmul, qW, X, b, expect, kernel)
    Xq, x_step = quantize_activations(X)
    np.testing.assert_array_equal(
        int8_matmul_q(qW, unaligned(Xq), unaligned(x_step), kernel=kernel,
                      bias=unaligned(b)), expect)
    Wq, Xq = random_case(4, P, K, N)
    expect = int8_accumulate(Wq, Xq, kernel=kernel)
    np.testing.assert_array_equal(
        int8_accumulate(unaligned(Wq), unaligned(Xq), kernel=kernel), expect)
    np.testing.assert_array_equal(
        int8_accumulate(Wq, np.asfortranarray(Xq), kernel=kernel), expect)


def test_out_argument():
    qW = quantize(np.random.default_rng(0).standard_normal((20, 7)))
    X = np.ones((3, 20), np.float32)
    out = np.full((3, 7), np.nan, np.float32)
    assert int8_matmul(qW, X, out=out) is out
    np.testing.assert_array_equal(out, int8_matmul(qW, X))
    for bad in (np.empty((3, 8), np.float32), np.empty((3, 7)),
                np.empty((7, 3), np.float32).T):
        with pytest.raises(ValueError, match="out"):
            int8_matmul(qW, X, out=bad)


def test_empty_batch(kernel):
    qW = quantize(np.random.default_rng(0).standard_normal((20, 7)))
    Y = int8_matmul(qW, np.empty((0, 20), np.float32), kernel=kernel)
    assert Y.shape == (0, 7) and Y.dtype == np.float32
    acc = int8_accumulate(qW, np.empty((0, 20), np.int8), kernel=kernel)
    assert acc.shape == (0, 7) and acc.dtype == np.int32
    b = np.zeros(7, np.float32)
    assert int8_matmul(qW, np.empty((0, 20), np.float32), bias=b).shape == (0, 7)
    b[3] = np.nan
    with pytest.raises(ValueError, match="bias contains NaN"):
        int8_matmul(qW, np.empty((0, 20), np.float32), kernel, bias=b)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (1, 1)])
def test_degenerate_shapes(kernel, shape):
    qW = quantize(np.ones(shape, np.float32))
    b = np.arange(shape[1], dtype=np.float32)
    Y = int8_matmul(qW, np.ones((3, shape[0]), np.float32), kernel, bias=b)
    np.testing.assert_allclose(Y, np.broadcast_to(b + shape[0], Y.shape),
                               rtol=1e-6)
    acc = int8_accumulate(qW, np.ones((2, shape[0]), np.int8), kernel)
    np.testing.assert_array_equal(acc, 127 * shape[0])


def test_quantized_output_approximates_float_product():
    """Elementwise: |Y - X W| <= sum_k (sx/2 |w| + sw/2 |x| + sx sw / 4),
    the rounding of both operands to half a step, plus float slack."""
    rng = np.random.default_rng(5)
    K, N, P = 300, 50, 5
    W = rng.standard_normal((K, N)).astype(np.float32)
    X = rng.standard_normal((P, K)).astype(np.float32)
    for scheme in ("per_tensor", "per_row"):
        qW = quantize(W, scheme=scheme)
        Y = int8_matmul(qW, X)
        exact = X.astype(np.float64) @ W
        sx = np.abs(X).max(1)[:, None] / 127                   # (P, 1)
        sw = qW.step.astype(np.float64)[None, :]               # (1, N)
        bound = (sx / 2 * np.abs(W).sum(0) + sw / 2 * np.abs(X).sum(1)[:, None]
                 + K * sx * sw / 4)
        assert (np.abs(Y - exact) <= bound * 1.001 + 1e-5).all()
        rel = np.linalg.norm(Y - exact) / np.linalg.norm(exact)
        assert rel < 0.02


# ------------------------------------------------------ kernel selection

def test_kernel_names():
    assert KERNELS == ("ref", "sse4", "avx2", "vnni", "maddubs", "gemm",
                       "gemm_avx2", "amx")
    assert "ref" in available_kernels()
    assert default_kernel() in available_kernels()
    assert default_kernel() != "maddubs"


def test_unsupported_kernel_raises(monkeypatch):
    """A kernel the CPU lacks must raise ValueError, never reach the C code
    (where it would be SIGILL); on a portable choice "auto" runs ref."""
    monkeypatch.setattr(dispatch.INT8, "available", ("ref",))
    qW = quantize(np.ones((8, 4), np.float32))
    X = np.ones((1, 8), np.float32)
    assert available_kernels() == ["ref"]
    for name in ("sse4", "avx2", "vnni", "maddubs", "gemm", "gemm_avx2"):
        with pytest.raises(ValueError, match="not supported.*available"):
            int8_matmul(qW, X, kernel=name)
        with pytest.raises(ValueError, match="not supported"):
            int8_accumulate(qW, np.ones((1, 8), np.int8), kernel=name)
    with dispatch.forced("portable"):
        assert default_kernel() == "ref"
        assert {kernels.auto_kernel(P) for P in (1, 2, 3, 500)} == {"ref"}
        np.testing.assert_array_equal(int8_matmul(qW, X),
                                      int8_matmul(qW, X, "ref"))


def test_unknown_kernel_raises():
    qW = quantize(np.ones((8, 4), np.float32))
    with pytest.raises(ValueError, match="unknown kernel 'avx9'.*'ref'.*auto"):
        int8_matmul(qW, np.ones((1, 8), np.float32), kernel="avx9")


@pytest.mark.parametrize("bad", [["ref"], ("ref",), None, 3, b"ref",
                                 {"ref": 1}])
def test_kernel_that_is_not_a_string_raises(bad):
    """Was 'unhashable type: list' for a list."""
    qW = quantize(np.ones((8, 4), np.float32))
    with pytest.raises(TypeError, match="kernel must be a string"):
        int8_matmul(qW, np.ones((1, 8), np.float32), kernel=bad)
    with pytest.raises(TypeError, match="kernel must be a string"):
        int8_accumulate(qW, np.ones((1, 8), np.int8), kernel=bad)


def test_c_library_refuses_unknown_ids():
    """The C dispatch answers for ids outside its tables too, and every
    entry point refuses them before touching a buffer."""
    lib, ffi = kernels._lib, kernels._ffi
    INT8 = lib.NMT8_FAMILY_INT8
    assert lib.nmt8_supports(INT8, -1) == 0
    assert lib.nmt8_supports(INT8, lib.NMT8_NUM_KERNELS) == 0
    assert lib.nmt8_supports(INT8, lib.NMT8_KERNEL_REF) == 1
    assert lib.nmt8_supports(-1, 0) == lib.nmt8_supports(99, 0) == 0
    assert lib.nmt8_isa_supported(lib.NMT8_ISA_AUTO) == 0
    assert lib.nmt8_isa_supported(lib.NMT8_NUM_ISAS) == 0
    assert lib.nmt8_isa_supported(lib.NMT8_ISA_PORTABLE) == 1
    for family in range(lib.NMT8_NUM_FAMILIES):
        assert lib.nmt8_resolve(family, 99, 1) == -1
        assert lib.nmt8_resolve(family, -7, 1) == -1
    null = ffi.NULL
    bad = lib.NMT8_EUNSUPPORTED
    assert lib.nmt8_accumulate(99, null, null, null, 1) == bad
    assert lib.nmt8_matmul_f32(-7, null, null, null, null, 1) == bad
    assert lib.nmt8_f32_matmul(99, null, null, null, null, 1, 1, 1) == bad
    assert lib.nmt8_i16_matmul(99, null, null, null, null, null, 1, 1, 1) \
        == bad
    assert lib.nmt8_int4_matmul(1, null, null, null, null, null, 1, 1, 2,
                                32) == bad
    assert lib.nmt8_row_logsumexp(null, null, null, 1, 1, 1, 99) == bad
    d = ffi.new("nmt8_dispatch *")
    assert lib.nmt8_dispatch_for(d, 99) == bad
    assert lib.nmt8_dispatch_for(d, lib.NMT8_ISA_PORTABLE) == lib.NMT8_OK
    d.int8 = 99
    before = dispatch.current()
    assert lib.nmt8_set_dispatch(d) == lib.NMT8_EBADARG
    assert dispatch.current() == before       # nothing changed


def test_dispatch_tables_name_runnable_kernels():
    """The table of every instruction set this CPU runs names kernels it
    runs, each family's fastest within that set; "auto" at load is the
    widest set."""
    with dispatch.forced() as d:
        assert d.isa == dispatch.AVAILABLE_ISAS[-1]
    for isa in dispatch.AVAILABLE_ISAS:
        with dispatch.forced(isa) as d:
            assert d.isa == isa
            assert d.int8 in available_kernels()
            assert d.int8_blocked in available_kernels()
            assert "maddubs" not in (d.int8, d.int8_blocked)
            assert d.fused in ("portable", "avx2", "avx512")
            for fam, name in ((dispatch.FP32, d.fp32),
                              (dispatch.INT16, d.int16),
                              (dispatch.INT4, d.int4)):
                assert name in fam.available
                assert fam.resolve() == name


def test_bad_isa_is_a_python_error():
    for bad in ("mmx", "", "AVX2", None, 3, ["avx2"]):
        with pytest.raises(ValueError, match="instruction set"):
            dispatch.set_isa(bad)
    with pytest.raises(ValueError, match="unknown kernel"):
        dispatch.set_isa("auto", int8="avx9")
    with pytest.raises(ValueError, match="one kernel"):
        dispatch.set_isa("auto", int8="auto")


def test_environment_overrides_auto(monkeypatch):
    """$NMT8_KERNEL holds int8 to one kernel at every P, $NMT8_ISA narrows
    the instruction set; both are read by from_environment (at import)."""
    with dispatch.forced():
        monkeypatch.setenv("NMT8_KERNEL", "ref")
        dispatch.from_environment()
        assert default_kernel() == "ref"
        assert kernels.auto_kernel(1024) == "ref"
        monkeypatch.setenv("NMT8_KERNEL", "no-such-kernel")
        with pytest.raises(ValueError, match="NMT8_KERNEL"):
            dispatch.from_environment()
        monkeypatch.delenv("NMT8_KERNEL")
        monkeypatch.setenv("NMT8_ISA", "portable")
        assert dispatch.from_environment().fp32 == "ref"
        monkeypatch.setenv("NMT8_ISA", "mmx")
        with pytest.raises(ValueError, match="NMT8_ISA"):
            dispatch.from_environment()
    assert dispatch.current().isa == dispatch.AVAILABLE_ISAS[-1]


# ------------------------------------------------------------ bad inputs

@pytest.fixture
def qW():
    return quantize(np.random.default_rng(0).standard_normal((16, 10)))


@pytest.mark.parametrize("X, match", [
    (np.ones((2, 16), np.int32), "float"),
    (np.ones((2, 16), np.complex64), "float"),
    (np.ones(16, np.float32), "2-D"),
    (np.ones((1, 2, 16), np.float32), "2-D"),
    (np.ones((2, 15), np.float32), "in_features"),
    (np.ones((2, 17), np.float32), "in_features"),
])
def test_bad_X(qW, X, match):
    with pytest.raises(ValueError, match=match):
        int8_matmul(qW, X)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e39])
def test_nonfinite_X(qW, kernel, value):
    X = np.ones((3, 16))
    X[2, 7] = value
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        int8_matmul(qW, X, kernel=kernel)
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_activations(X)


@pytest.mark.parametrize("isa", QUANTIZER_ISAS)
@pytest.mark.parametrize("k", [0, 15, 16, 31, 32, 47, 70])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_c_quantizer_finds_a_nonfinite_anywhere(isa, k, value):
    """In the wide loop (32 at a time), its second half, or the tail."""
    X = np.ones((2, 71), np.float32)
    X[1, k] = value
    with dispatch.forced(isa), pytest.raises(ValueError, match="NaN or inf"):
        kernels._quantize_rows(X)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_bias(qW, kernel, value):
    """Was accepted silently (NaN outputs)."""
    b = np.ones(10, np.float32)
    b[9] = value
    out = np.zeros((2, 10), np.float32)
    with pytest.raises(ValueError, match="bias contains NaN or inf"):
        int8_matmul(qW, np.ones((2, 16), np.float32), kernel, bias=b, out=out)
    with pytest.raises(ValueError, match="bias contains NaN or inf"):
        int8_matmul_q(qW, np.ones((2, 16), np.int8), np.ones(2, np.float32),
                      kernel, bias=b, out=out)
    np.testing.assert_array_equal(out, 0)          # nothing written


@pytest.mark.parametrize("bias", [
    np.ones(10), np.ones(9, np.float32), np.ones((1, 10), np.float32),
    [1.0] * 10, np.ones(10, np.int32)])
def test_bad_bias(qW, bias):
    with pytest.raises(ValueError, match="bias"):
        int8_matmul(qW, np.ones((2, 16), np.float32), bias=bias)


def test_bad_weights_and_int8_inputs(qW):
    with pytest.raises(TypeError, match="QuantizedMatrix"):
        int8_matmul(np.ones((16, 10), np.float32), np.ones((1, 16), np.float32))
    with pytest.raises(ValueError, match="127"):
        int8_accumulate(qW, np.full((1, 16), -128, np.int8))
    with pytest.raises(ValueError, match="127"):
        int8_accumulate(np.full((3, 16), -128, np.int8), np.ones((1, 16), np.int8))
    with pytest.raises(ValueError, match="int8"):
        int8_accumulate(qW, np.ones((1, 16), np.int16))
    with pytest.raises(ValueError, match="in_features"):
        int8_accumulate(qW, np.ones((1, 15), np.int8))
    with pytest.raises(ValueError, match="x_step"):
        int8_matmul_q(qW, np.ones((2, 16), np.int8), np.ones(3, np.float32))


def test_packed_copy_is_made_only_for_the_kernels_that_read_it(kernel):
    qW = quantize(np.random.default_rng(0).standard_normal((40, 20)))
    int8_matmul(qW, np.ones((1, 40), np.float32), kernel=kernel)
    assert ("packed" in qW.__dict__) == (kernel in dispatch.PACKED_KERNELS)


# ------------------------------------------------- where the C code switches

def check_exact(qW, X, kernel, bias=None):
    np.testing.assert_array_equal(int8_matmul(qW, X, kernel=kernel, bias=bias),
                                  expected(qW, X, bias))


@pytest.mark.parametrize("P, K", [
    (1, 16384), (1, 16385),            # Xq on the stack up to 16384 bytes
    (2, 8192), (2, 8193), (64, 256), (65, 256),   # x_step: 64 rows
    (63, 261), (64, 255), (600, 40), (600, 33),   # P up to 600
])
def test_stack_and_heap_scratch(exact, P, K):
    """nmt8_matmul_f32 keeps Xq (P * K bytes) and x_step (P floats) on the
    stack up to 16384 bytes and 64 rows, else on the heap: both sides of
    both limits, bit for bit."""
    rng = np.random.default_rng(P * K)
    N = 21
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32), "per_row")
    X = rng.standard_normal((P, K)).astype(np.float32)
    check_exact(qW, X, exact, rng.standard_normal(N).astype(np.float32))


@pytest.mark.parametrize("K", [2047, 2048, 4095, 4096])
def test_long_rows(exact, K):
    """K up to 4096, around the kernels' scratch sizes (widened X, shifted
    X) and the VNNI prefetch distance."""
    rng = np.random.default_rng(K)
    qW = quantize(rng.standard_normal((K, 35)).astype(np.float32))
    for P in (1, 2, 3, 9):
        check_exact(qW, rng.standard_normal((P, K)).astype(np.float32), exact)


@pytest.mark.parametrize("K, N", [(30, 20), (20, 30)])
def test_out_may_overlap_X(exact, K, N):
    """As documented: out may be the very memory X is read from."""
    rng = np.random.default_rng(7)
    P = 3
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32))
    X = rng.standard_normal((P, K)).astype(np.float32)
    check_out_overlapping_x(int8_matmul, qW, X, expected(qW, X), exact)


def race(qW, Xs, kernel, rounds=20):
    """Two threads, released together, each multiplying every X in Xs by
    qW ``rounds`` times; all their results."""
    start = threading.Barrier(2)

    def work():
        start.wait()
        return [[int8_matmul(qW, X, kernel=kernel) for X in Xs]
                for _ in range(rounds)]

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(work) for _ in range(2)]
        return [r for f in futures for r in f.result()]


def test_two_threads_on_one_matrix(kernel):
    """Two threads multiplying by one fresh matrix at once (racing to make
    its C handle and VNNI copy) get what one thread gets alone."""
    rng = np.random.default_rng(11)
    K, N = 300, 77
    W = rng.standard_normal((K, N)).astype(np.float32)
    Xs = [rng.standard_normal((P, K)).astype(np.float32) for P in (1, 3, 9)]
    alone = quantize(W)
    sequential = [int8_matmul(alone, X, kernel=kernel) for X in Xs]
    for _ in range(5):
        for got in race(quantize(W), Xs, kernel):
            for a, b in zip(got, sequential):
                np.testing.assert_array_equal(a, b)


# -------------------------------------------------------- tiny activations

@pytest.mark.parametrize("isa", QUANTIZER_ISAS)
@pytest.mark.parametrize("m", [1e-37, 3e-38, 1e-40, 1e-44])
def test_c_quantizer_matches_numpy_on_tiny_rows(m, isa):
    """Rows whose scale 127 / max overflows float32 are rounded in double,
    by C and numpy alike (they were all +-127 or garbage)."""
    rng = np.random.default_rng(1)
    X = (rng.uniform(-1, 1, (3, 50)) * m).astype(np.float32)
    X[:, 0] = m                                     # the row maximum
    with dispatch.forced(isa):
        Xq, x_step = kernels._quantize_rows(X)
    Xq_np, step_np = quantize_activations(X)
    np.testing.assert_array_equal(Xq, Xq_np)
    np.testing.assert_array_equal(x_step, step_np)
    assert (Xq[:, 0] == 127).all()
    if m > 1e-43:   # steps above the smallest float32 keep the values
        np.testing.assert_allclose(Xq * x_step[:, None].astype(np.float64), X,
                                   atol=0.51 * float(x_step.max()) + 2e-45)


# -------------------------------------------------------- pickle and copy

@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_used_matrix_pickles_and_copies(kernel, how):
    """Once multiplied (C handle made, VNNI copy packed), a matrix still
    pickles and copies, and the copy gives the same bits (was: cannot
    pickle '_cffi_backend.__CDataFromBuf')."""
    import copy
    import pickle

    rng = np.random.default_rng(2)
    qW = quantize(rng.standard_normal((70, 33)).astype(np.float32), "per_row")
    X = rng.standard_normal((5, 70)).astype(np.float32)
    before = int8_matmul(qW, X, kernel=kernel)
    twin = {"pickle": lambda q: pickle.loads(pickle.dumps(q)),
            "deepcopy": copy.deepcopy, "copy": copy.copy}[how](qW)
    assert twin is not qW and isinstance(twin, QuantizedMatrix)
    assert not twin.Wq.flags.writeable and twin.scheme == "per_row"
    np.testing.assert_array_equal(int8_matmul(twin, X, kernel=kernel), before)
    np.testing.assert_array_equal(int8_matmul(qW, X, kernel=kernel), before)


# ------------------------------------------------- the decoding stream

@pytest.fixture
def stream_setting(request):
    """Set the vnni kernel's decoding stream for one test, then restore."""
    from nmt8.native import tuning

    before = tuning.stream()
    tuning.set_stream(*request.param)
    yield request.param
    tuning.set_stream(before["streams"], before["prefetch_bytes"])


STREAM_SETTINGS = [(s, p) for s in (1, 2, 4, 8) for p in (0, 64, 2048, 65536)]


@pytest.mark.parametrize("stream_setting", STREAM_SETTINGS, indirect=True,
                         ids=[f"{s}x{p}" for s, p in STREAM_SETTINGS])
def test_every_stream_setting_is_exact(stream_setting):
    """Every (streams, prefetch bytes) of nmt8 tune gives the same bits:
    P around the decoding case (1, 2) and above it, output blocks that do
    and do not divide among the streams, K around the vector widths."""
    if "vnni" not in available_kernels():
        pytest.skip("no AVX-512 VNNI on this CPU")
    rng = np.random.default_rng(sum(stream_setting))
    for P, K, N in [(1, 1, 1), (1, 5, 17), (2, 64, 100), (1, 1000, 257),
                    (2, 33, 16 * 8 * 3 + 5), (3, 100, 130), (1, 620, 512)]:
        Wq, Xq = random_case(int(rng.integers(1 << 30)), P, K, N)
        np.testing.assert_array_equal(int8_accumulate(Wq, Xq, kernel="vnni"),
                                      ref_acc(Wq, Xq))
        X = rng.standard_normal((P, K)).astype(np.float32)
        qW = quantize(rng.standard_normal((K, N)).astype(np.float32))
        np.testing.assert_array_equal(int8_matmul(qW, X, kernel="vnni"),
                                      expected(qW, X))
