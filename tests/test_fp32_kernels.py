"""Tests of nmt8.native.fp32: every C fp32 kernel against a float64 numpy
product, within the standard rounding-error bound of a float32 dot
product (derived, per output, not a tuned tolerance); the sizes where the
C code changes path; the wrapper's argument checks."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.native import fp32 as fp32_module
from nmt8.native.fp32 import (
    FP32_KERNELS,
    PackedF32,
    available_fp32_kernels,
    fp32_matmul,
    pack_fp32,
)

from . import kernel_checks as kc

U = 2.0 ** -24          # unit roundoff of float32
SETTINGS = settings(max_examples=30, deadline=None)


kernel = kc.kernel_fixture(FP32_KERNELS, available_fp32_kernels, "fp32")


def gamma(n):
    """gamma_n = n u / (1 - n u): a sum of n float32 products, in any
    order, with or without fused multiply-adds, is within gamma_n times
    the sum of their magnitudes (Higham, Accuracy and Stability, 3.1)."""
    return n * U / (1 - n * U)


def check(W, X, Y, bias=None):
    """|Y - X W (+ b)| <= gamma_n (|X| |W| (+ |b|)) for every output, the
    products and sums in float64 (exact enough: 2^-53 against 2^-24);
    n = K products, + 1 addition of the bias."""
    X64, W64 = X.astype(np.float64), W.astype(np.float64)
    exact = X64 @ W64                                          # (P, out)
    mag = np.abs(X64) @ np.abs(W64)                            # (P, out)
    n = X.shape[1]
    if bias is not None:
        exact, mag, n = exact + bias, mag + np.abs(bias), n + 1
    bound = gamma(max(n, 1)) * mag
    err = np.abs(Y.astype(np.float64) - exact)
    assert Y.dtype == np.float32 and Y.shape == exact.shape
    assert (err <= bound).all(), (err - bound).max()


shapes = st.tuples(st.integers(0, 2**31 - 1),    # seed
                   st.integers(1, 64),           # P
                   st.integers(1, 4096),         # K = in
                   st.integers(1, 40))           # N = out


@SETTINGS
@given(case=shapes, bias=st.booleans())
def test_within_the_rounding_bound(kernel, case, bias):
    seed, P, K, N = case
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((K, N)) * rng.uniform(0.01, 10, N)).astype(
        np.float32)
    X = rng.standard_normal((P, K)).astype(np.float32)
    X[0, : K // 2] *= 100                    # rows of different ranges
    b = rng.standard_normal(N).astype(np.float32) if bias else None
    check(W, X, fp32_matmul(pack_fp32(W), X, kernel=kernel, bias=b), b)


@pytest.mark.parametrize("K", [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100,
                               620, 1000, 4095, 4096])
def test_vector_edges(kernel, K):
    """Inner sizes around the vector widths (8, 16 floats), out rows
    around the group of 4, P around the chunks (3, 4) up to 64."""
    rng = np.random.default_rng(K)
    for P, N in [(1, 1), (2, 3), (3, 4), (4, 5), (5, 8), (7, 9), (16, 13),
                 (64, 6)]:
        W = rng.standard_normal((K, N)).astype(np.float32)
        X = rng.standard_normal((P, K)).astype(np.float32)
        check(W, X, fp32_matmul(pack_fp32(W), X, kernel=kernel))


def test_cancellation_is_within_the_bound(kernel):
    """Terms that cancel: the bound is relative to sum |x w|, not to the
    (tiny) result, and every kernel must stay inside it."""
    K = 2049
    x = np.ones((1, K), np.float32)
    w = np.empty((K, 2), np.float32)
    w[:, 0] = np.tile([1e4, -1e4 + 1e-3, 3.0], K)[:K]
    w[:, 1] = 1 / 3
    check(w, x, fp32_matmul(pack_fp32(w), x, kernel=kernel))


def test_exact_small_integers(kernel):
    """Integer products and sums below 2^24 are exact in float32: every
    kernel, any order, must give them exactly."""
    rng = np.random.default_rng(1)
    W = rng.integers(-8, 9, (300, 21)).astype(np.float32)
    X = rng.integers(-8, 9, (6, 300)).astype(np.float32)
    b = rng.integers(-5, 6, 21).astype(np.float32)
    np.testing.assert_array_equal(
        fp32_matmul(pack_fp32(W), X, kernel=kernel, bias=b),
        X.astype(np.int64) @ W.astype(np.int64) + b.astype(np.int64))


def test_ref_sums_in_k_order():
    """ref is the definition: the float32 sum in k order, bit for bit."""
    rng = np.random.default_rng(2)
    W = rng.standard_normal((37, 5)).astype(np.float32)
    X = rng.standard_normal((3, 37)).astype(np.float32)
    expect = np.zeros((3, 5), np.float32)
    for k in range(37):
        expect += X[:, k:k + 1] * W[k:k + 1, :]
    np.testing.assert_array_equal(fp32_matmul(pack_fp32(W), X, "ref"), expect)


# ------------------------------------------------------- shapes and layout

@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (1, 1)])
def test_degenerate_shapes(kernel, shape):
    kc.check_degenerate(fp32_matmul, pack_fp32(np.ones(shape, np.float32)), kernel)


def test_empty_batch(kernel):
    kc.check_empty_batch(fp32_matmul, pack_fp32(np.ones((20, 7), np.float32)),
                         kernel)


def test_unaligned_strided_and_overlapping(kernel):
    def plain(pW, X, b):        # the same kernel, on plain aligned inputs
        return fp32_matmul(pW, X, kernel=kernel, bias=b)

    kc.check_every_layout(fp32_matmul, pack_fp32, plain, kernel)


# ------------------------------------------------------------- bad inputs

@pytest.fixture
def pW():
    return pack_fp32(kc.weights_16x10())


@pytest.mark.parametrize("bias", [np.ones(10), np.ones(9, np.float32),
                                  [1.0] * 10])
def test_bad_bias(pW, bias):
    with pytest.raises(ValueError, match="bias"):
        fp32_matmul(pW, np.ones((2, 16), np.float32), bias=bias)


@pytest.mark.parametrize("value", kc.NONFINITE)
def test_nonfinite_inputs(pW, kernel, value):
    kc.check_nonfinite(fp32_matmul, pW, kernel, value)
    W = np.ones((4, 3))
    W[1, 1] = value
    with pytest.raises(ValueError, match="NaN or inf"):
        pack_fp32(W)


def test_bad_X_and_weights(pW):
    kc.check_bad_x(fp32_matmul, pW)
    with pytest.raises(TypeError, match="PackedF32"):
        fp32_matmul(np.ones((16, 10), np.float32), np.ones((1, 16), np.float32))
    for W, match in [(np.ones(3), "2-D"), (np.ones((3, 2), np.int8), "float")]:
        with pytest.raises(ValueError, match=match):
            pack_fp32(W)
    with pytest.raises(ValueError, match="out"):
        fp32_matmul(pW, np.ones((1, 16), np.float32),
                    out=np.empty((1, 9), np.float32))


def test_kernel_names(pW, monkeypatch):
    X = np.ones((1, 16), np.float32)
    assert FP32_KERNELS == ("ref", "avx2", "avx512")
    assert "ref" in available_fp32_kernels()
    with pytest.raises(TypeError, match="kernel must be a string"):
        fp32_matmul(pW, X, kernel=["ref"])
    kc.check_kernel_names(fp32_matmul, pW, fp32_module._KERNELS, monkeypatch,
                       "sse4")


# ------------------------------------------------------- the weight object

def test_packed_is_a_read_only_private_copy():
    W = np.arange(12, dtype=np.float32).reshape(4, 3)
    pW = pack_fp32(W)
    assert (pW.in_features, pW.out_features, pW.shape) == (4, 3, (4, 3))
    assert pW.nbytes == 4 * W.size
    np.testing.assert_array_equal(pW.WT, W.T)
    assert not pW.WT.flags.writeable and pW.WT.flags.c_contiguous
    W[0, 0] = 99                            # the caller's array changes
    assert pW.WT[0, 0] == 0
    with pytest.raises(ValueError):
        pW.WT[0, 0] = 1
    with pytest.raises(AttributeError):
        pW.WT = None


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_used_matrix_pickles_and_copies(kernel, how):
    rng = np.random.default_rng(2)
    pW = pack_fp32(rng.standard_normal((70, 33)))
    X = rng.standard_normal((5, 70)).astype(np.float32)
    before = fp32_matmul(pW, X, kernel=kernel)
    twin = {"pickle": lambda q: pickle.loads(pickle.dumps(q)),
            "deepcopy": copy.deepcopy, "copy": copy.copy}[how](pW)
    assert isinstance(twin, PackedF32) and not twin.WT.flags.writeable
    np.testing.assert_array_equal(fp32_matmul(twin, X, kernel=kernel), before)


@pytest.mark.parametrize("K, N", [(7, 5), (100, 37), (620, 300)])
def test_every_prefetch_distance_gives_the_same_bits(kernel, K, N):
    W = np.random.default_rng(K).standard_normal((K, N)).astype(np.float32)
    kc.check_ladder_prefetch(fp32_matmul, pack_fp32(W), kernel)
