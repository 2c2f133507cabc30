"""Tests of nmt8.quant: the int8 quantization of Section 3."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.quant import (
    MAX_IN_FEATURES,
    QuantizedMatrix,
    dequantize,
    quantize,
    quantize_activations,
)

SETTINGS = settings(max_examples=40, deadline=None)

matrices = st.tuples(st.integers(0, 2**31 - 1),   # seed
                     st.integers(1, 80),          # in
                     st.integers(1, 80),          # out
                     st.integers(-6, 6))          # log10 of the magnitude


def random_W(seed, K, N, mag):
    rng = np.random.default_rng(seed)
    rows = 10.0 ** rng.uniform(-2, 2, N)         # columns of very different size
    return (rng.standard_normal((K, N)) * rows * 10.0 ** mag).astype(np.float32)


@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
@SETTINGS
@given(case=matrices)
def test_round_trip_error_is_half_a_step(scheme, case):
    W = random_W(*case)
    qW = quantize(W, scheme=scheme)
    err = np.abs(dequantize(qW) - W)                       # (in, out)
    half_step = 0.5 / qW.scale.astype(np.float64)          # (out,)
    eps = 1e-6 * np.abs(W).max(0)                          # float32 slack
    assert (err <= half_step + eps).all()


@SETTINGS
@given(case=matrices)
def test_per_row_bound_is_at_most_per_tensor(case):
    """Column by column, the per-row error bound (half of its own step) is
    at most the per-tensor one (half of the largest step)."""
    W = random_W(*case)
    e_row = np.abs(dequantize(quantize(W, "per_row")) - W)
    bound_row = np.abs(W).max(0) / 127 / 2
    bound_tensor = np.abs(W).max() / 127 / 2
    assert (bound_row <= bound_tensor).all()
    assert (e_row.max(0) <= bound_row * (1 + 1e-5)).all()


@pytest.mark.parametrize("seed", range(5))
def test_per_row_error_is_smaller(seed):
    """In total, on columns of different magnitudes, per row wins."""
    W = random_W(seed, 200, 50, 0)
    e_row = dequantize(quantize(W, "per_row")) - W
    e_tensor = dequantize(quantize(W, "per_tensor")) - W
    assert np.abs(e_row).max() <= np.abs(e_tensor).max()
    assert (e_row ** 2).sum() < (e_tensor ** 2).sum()


@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
def test_fields(scheme):
    W = random_W(0, 30, 20, 0)
    qW = quantize(W, scheme=scheme)
    assert isinstance(qW, QuantizedMatrix)
    assert (qW.in_features, qW.out_features, qW.shape) == (30, 20, (30, 20))
    assert qW.Wq.dtype == np.int8 and qW.Wq.shape == (20, 30)
    assert qW.Wq.flags.c_contiguous
    assert np.abs(qW.Wq).max() == 127 and qW.Wq.min() >= -127
    assert qW.scale.dtype == qW.step.dtype == np.float32
    assert qW.scale.shape == qW.step.shape == (20,)
    np.testing.assert_array_equal(qW.row_sums, qW.Wq.sum(1))
    absmax = np.abs(W).max(0) if scheme == "per_row" else np.abs(W).max()
    np.testing.assert_allclose(qW.scale, 127 / absmax, rtol=1e-6)
    np.testing.assert_allclose(qW.step, absmax / 127, rtol=1e-6)
    if scheme == "per_tensor":
        assert (qW.scale == qW.scale[0]).all()
    else:
        assert (np.abs(qW.Wq).max(1) == 127).all()
    assert qW.nbytes == 20 * 30 + 3 * 20 * 4
    with pytest.raises(AttributeError):
        qW.scheme = "per_row"


def test_spellings_and_unknown_scheme():
    W = random_W(1, 8, 8, 0)
    assert quantize(W, "per-row").scheme == "per_row"
    assert quantize(W, "per-tensor").scheme == "per_tensor"
    with pytest.raises(ValueError, match="scheme"):
        quantize(W, "per_column")


def test_exactly_representable_values_round_trip():
    Wq = np.arange(-127, 128, dtype=np.float32).reshape(-1, 1)   # (255, 1)
    W = np.hstack([Wq, Wq[::-1]])                                 # (255, 2)
    qW = quantize(W)
    np.testing.assert_array_equal(qW.scale, [1, 1])
    np.testing.assert_array_equal(dequantize(qW), W)


def test_rounding_is_half_to_even():
    W = np.array([[127.0], [0.5], [1.5], [2.5], [-0.5], [-2.5]], np.float32)
    np.testing.assert_array_equal(quantize(W).Wq[0], [127, 0, 2, 2, 0, -2])


@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
def test_zero_weights_do_not_divide_by_zero(scheme):
    W = np.zeros((10, 6), np.float32)
    W[:, 2] = np.linspace(-1, 1, 10)                 # one nonzero column
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for M in (W, np.zeros_like(W)):
                qW = quantize(M, scheme)
                assert np.isfinite(qW.scale).all() and (qW.scale > 0).all()
                np.testing.assert_array_equal(dequantize(qW)[:, [0, 1, 3]], 0)
    qW = quantize(np.zeros((3, 4)), scheme)
    np.testing.assert_array_equal(qW.Wq, 0)
    np.testing.assert_array_equal(qW.step, 0)


def test_bad_weights():
    with pytest.raises(ValueError, match="2-D"):
        quantize(np.ones(5))
    with pytest.raises(ValueError, match="float"):
        quantize(np.ones((5, 5), np.int64))
    for value in (np.nan, np.inf, 1e39):
        W = np.ones((5, 5))
        W[1, 2] = value
        with pytest.raises(ValueError, match="NaN or inf"):
            quantize(W)
    with pytest.raises(ValueError, match="in_features"):
        quantize(np.ones((MAX_IN_FEATURES + 1, 1), np.float32))
    ones = np.ones(2, np.float32)
    with pytest.raises(ValueError, match="Wq"):
        QuantizedMatrix(Wq=np.ones((2, 2), np.int16), scale=ones, step=ones)
    with pytest.raises(ValueError, match="127"):
        QuantizedMatrix(Wq=np.full((2, 2), -128, np.int8), scale=ones, step=ones)
    with pytest.raises(ValueError, match="scale"):
        QuantizedMatrix(Wq=np.ones((2, 2), np.int8), scale=np.ones(3, np.float32),
                        step=ones)


def test_float64_input_is_rounded_to_float32_first():
    W = np.random.default_rng(2).standard_normal((12, 7))
    a, b = quantize(W), quantize(W.astype(np.float32))
    np.testing.assert_array_equal(a.Wq, b.Wq)
    np.testing.assert_array_equal(a.scale, b.scale)


@pytest.mark.parametrize("K, N", [(1, 1), (5, 16), (17, 33), (64, 15), (3, 40)])
def test_packed_layout(K, N):
    qW = quantize(random_W(K, K, N, 0), "per_row")
    before = qW.nbytes
    Wp = qW.packed                                     # (nb, G, 16, 4)
    nb, G = -(-N // 16), -(-K // 4)
    assert Wp.shape == (nb, G, 16, 4) and Wp.dtype == np.int8
    assert Wp.ctypes.data % 64 == 0
    for b in range(nb):
        for g in range(G):
            for i in range(16):
                for j in range(4):
                    o, k = 16 * b + i, 4 * g + j
                    expect = qW.Wq[o, k] if o < N and k < K else 0
                    assert Wp[b, g, i, j] == expect
    assert qW.packed is Wp
    assert qW.nbytes == before + Wp.nbytes


def test_quantize_activations():
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-254.0, 127.0, 1.0]],
                 np.float32)
    Xq, sx = quantize_activations(X)
    assert Xq.dtype == np.int8 and sx.dtype == np.float32
    np.testing.assert_array_equal(Xq[0], 0)
    assert sx[0] == 0
    np.testing.assert_array_equal(Xq[1], [64, -127, 32])   # 63.5 -> 64 (even)
    np.testing.assert_array_equal(Xq[2], [-127, 64, 0])    # 63.5 -> 64, 0.5 -> 0
    np.testing.assert_allclose(sx, [0, 2 / 127, 254 / 127], rtol=1e-7)
    with pytest.raises(ValueError, match="2-D"):
        quantize_activations(np.ones(3))
    Xq, sx = quantize_activations(np.empty((0, 4), np.float32))
    assert Xq.shape == (0, 4) and sx.shape == (0,)
