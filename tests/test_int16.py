"""Tests of nmt8.quant.int16: every int16 kernel against an int64 numpy
product, bit for bit (sums and float results), at the bounds of the exact
design; the C activation quantizer against its numpy reference; the
weight object; the wrapper's argument checks."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.native import int16 as int16_kernels
from nmt8.native.int16 import (
    INT16_KERNELS,
    available_int16_kernels,
    int16_accumulate,
    int16_matmul,
)
from nmt8.native.kernels import int8_matmul
from nmt8.quant.int8 import quantize
from nmt8.quant.int16 import (
    MAX_IN_FEATURES16,
    QuantizedMatrix16,
    dequantize16,
    quantize16,
    quantize_activations16,
)

from . import kernel_checks as kc

XM, WM = 32767, 8191
SETTINGS = settings(max_examples=40, deadline=None)


kernel = kc.kernel_fixture(INT16_KERNELS, available_int16_kernels, "int16")


# ------------------------------------------------------------ references

def ref_acc(Wq, Xq):
    """acc (P, out) int64: the definition."""
    return Xq.astype(np.int64) @ Wq.astype(np.int64).T


def ref_float(acc, x_step, w_step, bias=None):
    """The kernels' epilogue, same operations in the same order: in
    float64, ((double)acc * x_step[p]) * w_step[o], rounded to float32,
    then the float32 bias added."""
    Y = (acc.astype(np.float64) * x_step.astype(np.float64)[:, None]
         * w_step.astype(np.float64)[None, :]).astype(np.float32)
    return Y if bias is None else Y + bias


def expected(qW, X, bias=None):
    Xq, x_step = quantize_activations16(X)
    return ref_float(ref_acc(qW.Wq, Xq), x_step, qW.step, bias)


def random_case(seed, P, K, N, dist="uniform"):
    rng = np.random.default_rng(seed)
    if dist == "uniform":
        Wq = rng.integers(-WM, WM + 1, (N, K), dtype=np.int16)
        Xq = rng.integers(-XM, XM + 1, (P, K), dtype=np.int16)
    elif dist == "small":
        Wq = rng.integers(-3, 4, (N, K), dtype=np.int16)
        Xq = rng.integers(-3, 4, (P, K), dtype=np.int16)
    else:  # extremes only
        Wq = rng.choice(np.array([-WM, WM], np.int16), (N, K))
        Xq = rng.choice(np.array([-XM, XM], np.int16), (P, K))
    return Wq, Xq


shapes = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 17),
                   st.integers(1, 600), st.integers(1, 40))


# ------------------------------------------------------------ exactness

@SETTINGS
@given(case=shapes, dist=st.sampled_from(["uniform", "small", "extreme"]))
def test_accumulate_is_exact(kernel, case, dist):
    Wq, Xq = random_case(*case, dist=dist)
    np.testing.assert_array_equal(int16_accumulate(Wq, Xq, kernel=kernel),
                                  ref_acc(Wq, Xq))


@pytest.mark.parametrize("K", [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64,
                               65, 127, 128, 129, 255, 256, 257, 1000])
def test_accumulate_exact_at_vector_and_flush_edges(kernel, K):
    """Around the vector widths (8, 16, 32 int16) and the int32 -> int64
    flush every 4 vectors (32, 64, 128 int16), with extreme values so a
    missed flush would wrap."""
    for P, N in [(1, 1), (2, 5), (3, 4), (4, 9), (7, 13)]:
        Wq, Xq = random_case(K, P, K, N, "extreme")
        np.testing.assert_array_equal(int16_accumulate(Wq, Xq, kernel=kernel),
                                      ref_acc(Wq, Xq))


@pytest.mark.parametrize("K", [4096, 65536])
@pytest.mark.parametrize("sx, sw", [(1, 1), (-1, -1), (1, -1)])
def test_the_bound_at_the_extremes(kernel, K, sx, sw):
    """All +-32767 activations against all +-8191 weights: every int32
    lane takes exactly 4 * 2 * 32767 * 8191 = 2 147 221 512 before it is
    widened (any more and it would wrap), and the int64 total is K * 32767
    * 8191, beyond int32."""
    assert 4 * 2 * XM * WM <= 2**31 - 1 < 5 * 2 * XM * WM
    N = 6
    Wq = np.full((N, K), sw * WM, np.int16)
    Wq[1::2] *= -1
    for P in (1, 2, 3, 5):
        Xq = np.full((P, K), sx * XM, np.int16)
        acc = int16_accumulate(Wq, Xq, kernel=kernel)
        np.testing.assert_array_equal(acc, ref_acc(Wq, Xq))
        assert acc[0, 0] == sx * sw * K * XM * WM and abs(acc[0, 0]) > 2**31


def test_largest_inner_size_is_stated():
    assert MAX_IN_FEATURES16 == (2**63 - 1) // (XM * WM)
    assert MAX_IN_FEATURES16 * XM * WM < 2**63


@SETTINGS
@given(case=shapes, bias=st.booleans(),
       scheme=st.sampled_from(["per_tensor", "per_row"]))
def test_float_output_is_bit_identical(kernel, case, bias, scheme):
    """int16_matmul = quantize_activations16 (numpy) + exact sums + the
    float64 epilogue, bit for bit, so every kernel translates alike."""
    seed, P, K, N = case
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, N)).astype(np.float32) * rng.uniform(0.01, 10, N)
    X = rng.standard_normal((P, K)).astype(np.float32)
    X[0, : K // 2] *= 100
    b = rng.standard_normal(N).astype(np.float32) if bias else None
    qW = quantize16(W, scheme=scheme)
    np.testing.assert_array_equal(int16_matmul(qW, X, kernel=kernel, bias=b),
                                  expected(qW, X, b))


@pytest.mark.parametrize("P, K", [(1, 8192), (1, 8193), (64, 128), (65, 128),
                                  (600, 40), (9, 4096)])
def test_stack_and_heap_scratch(kernel, P, K):
    """Xq on the stack up to 16384 bytes (8192 int16) and 64 rows of
    steps, else on the heap: both sides, bit for bit."""
    rng = np.random.default_rng(P * K)
    qW = quantize16(rng.standard_normal((K, 11)), "per_row")
    X = rng.standard_normal((P, K)).astype(np.float32)
    b = rng.standard_normal(11).astype(np.float32)
    np.testing.assert_array_equal(int16_matmul(qW, X, kernel, bias=b),
                                  expected(qW, X, b))


def test_more_accurate_than_int8():
    """The point of the rung: on the same product, int16's error is far
    below int8's (64x finer weights, 258x finer activations)."""
    rng = np.random.default_rng(5)
    W = rng.standard_normal((500, 60)).astype(np.float32)
    X = rng.standard_normal((4, 500)).astype(np.float32)
    exact = X.astype(np.float64) @ W
    e16 = np.abs(int16_matmul(quantize16(W), X) - exact).max()
    e8 = np.abs(int8_matmul(quantize(W), X) - exact).max()
    assert e16 < e8 / 20


# ------------------------------------------------------------ quantizers

@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), P=st.integers(1, 9),
       K=st.integers(1, 300))
def test_c_quantizer_matches_numpy(seed, P, K):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((P, K)) * 10.0 ** rng.integers(-40, 30, (P, 1))
    X = X.astype(np.float32)
    X[0, 0] = 0.0
    if P > 1:
        X[1] = 0.0
    Xq, sx = int16_kernels._quantize_rows16(X)
    Xq_np, sx_np = quantize_activations16(X)
    np.testing.assert_array_equal(Xq, Xq_np)
    np.testing.assert_array_equal(sx, sx_np)
    assert np.abs(Xq).max() <= XM


def test_c_quantizer_rounds_half_to_even_and_keeps_tiny_rows():
    # max 32767 makes the scale exactly 1
    X = np.array([[32767, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 100.5] * 3],
                 np.float32)
    Xq, sx = int16_kernels._quantize_rows16(X)
    assert sx[0] == 1.0
    np.testing.assert_array_equal(Xq[0, :8], [32767, 0, 2, 2, 0, -2, -2, 100])
    tiny = np.array([[1e-44, -5e-45, 0.0]], np.float32)   # denormals
    Xq, sx = int16_kernels._quantize_rows16(tiny)
    np.testing.assert_array_equal(Xq, quantize_activations16(tiny)[0])
    assert Xq[0, 0] == XM


def test_quantize16_weights():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((50, 7)) * np.arange(1, 8)
    for scheme in ("per_tensor", "per_row"):
        qW = quantize16(W, scheme)
        assert qW.Wq.shape == (7, 50) and qW.Wq.dtype == np.int16
        assert np.abs(qW.Wq).max() == WM
        err = np.abs(dequantize16(qW) - W)
        assert (err <= qW.step[None, :] * 0.5 * (1 + 1e-6) + 1e-7).all()
    assert (quantize16(W, "per_row").Wq.max(1) == WM).sum() >= 1
    z = quantize16(np.zeros((3, 2)))
    np.testing.assert_array_equal(z.Wq, 0)
    np.testing.assert_array_equal(z.step, 0)


def test_matrix_is_read_only_and_pickles(kernel):
    W = np.random.default_rng(1).standard_normal((40, 9)).astype(np.float32)
    qW = quantize16(W)
    assert not qW.Wq.flags.writeable and qW.nbytes == 40 * 9 * 2 + 2 * 9 * 4
    with pytest.raises(ValueError):
        qW.Wq[0, 0] = 1
    X = np.ones((3, 40), np.float32)
    before = int16_matmul(qW, X, kernel)
    for twin in (pickle.loads(pickle.dumps(qW)), copy.deepcopy(qW)):
        assert isinstance(twin, QuantizedMatrix16) and not twin.Wq.flags.writeable
        np.testing.assert_array_equal(int16_matmul(twin, X, kernel), before)
    Wq = np.ones((2, 3), np.int16)
    q = QuantizedMatrix16(Wq, np.ones(2, np.float32), np.ones(2, np.float32))
    Wq[0, 0] = 5                               # the caller's array changes
    assert q.Wq[0, 0] == 1


# ------------------------------------------------------- shapes and layout

@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (1, 1)])
def test_degenerate_shapes(kernel, shape):
    qW = quantize16(np.ones(shape, np.float32))
    kc.check_degenerate(int16_matmul, qW, kernel)
    acc = int16_accumulate(qW, np.ones((2, shape[0]), np.int16), kernel)
    np.testing.assert_array_equal(acc, WM * shape[0])


def test_empty_batch(kernel):
    qW = quantize16(np.ones((20, 7), np.float32))
    kc.check_empty_batch(int16_matmul, qW, kernel)
    acc = int16_accumulate(qW, np.empty((0, 20), np.int16), kernel=kernel)
    assert acc.shape == (0, 7) and acc.dtype == np.int64


def test_unaligned_strided_and_overlapping(kernel):
    kc.check_every_layout(int16_matmul, quantize16, expected, kernel)
    Wq, Xq = random_case(4, 5, 133, 45)                    # P, K, N
    np.testing.assert_array_equal(
        int16_accumulate(kc.unaligned(Wq), kc.unaligned(Xq), kernel), ref_acc(Wq, Xq))


# ------------------------------------------------------------- bad inputs

@pytest.fixture
def qW():
    return quantize16(kc.weights_16x10())


@pytest.mark.parametrize("value", kc.NONFINITE)
def test_nonfinite_inputs(qW, kernel, value):
    X = kc.check_nonfinite(int16_matmul, qW, kernel, value)
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_activations16(X)
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize16(X.T)


def test_bad_int16_inputs(qW):
    kc.check_bad_x(int16_matmul, qW)
    with pytest.raises(TypeError, match="QuantizedMatrix16"):
        int16_matmul(quantize(np.ones((16, 10))), np.ones((1, 16), np.float32))
    with pytest.raises(ValueError, match="32767"):
        int16_accumulate(qW, np.full((1, 16), -32768, np.int16))
    with pytest.raises(ValueError, match="8191"):
        int16_accumulate(np.full((3, 16), 8192, np.int16), np.ones((1, 16), np.int16))
    with pytest.raises(ValueError, match="8191"):
        QuantizedMatrix16(np.full((1, 2), -8192, np.int16),
                          np.ones(1, np.float32), np.ones(1, np.float32))
    with pytest.raises(ValueError, match="int16"):
        int16_accumulate(qW, np.ones((1, 16), np.int8))
    with pytest.raises(ValueError, match="in_features"):
        int16_accumulate(qW, np.ones((1, 15), np.int16))
    with pytest.raises(ValueError, match="bias"):
        int16_matmul(qW, np.ones((1, 16), np.float32), bias=np.ones(10))


def test_kernel_names(qW, monkeypatch):
    assert INT16_KERNELS == ("ref", "sse4", "avx2", "vnni")
    with pytest.raises(TypeError, match="kernel must be a string"):
        int16_accumulate(qW, np.ones((1, 16), np.int16), kernel=None)
    kc.check_kernel_names(int16_matmul, qW, int16_kernels._KERNELS, monkeypatch,
                       "avx512")


@pytest.mark.parametrize("K, N", [(7, 5), (100, 37), (620, 300)])
def test_every_prefetch_distance_gives_the_same_bits(kernel, K, N):
    W = np.random.default_rng(K).standard_normal((K, N)).astype(np.float32)
    kc.check_ladder_prefetch(int16_matmul, quantize16(W), kernel)
