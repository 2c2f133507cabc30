"""Tests of nmt8.quant: the int8 quantization of Section 3."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.quant.int8 import (
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
    with pytest.raises(AttributeError):
        qW.scheme = "per_row"


def test_int8_is_a_quarter_of_fp32():
    """The point of Section 3: the weights take a quarter of their fp32
    bytes (plus a few per output row)."""
    W = random_W(0, 500, 300, 0)
    qW = quantize(W)
    assert W.nbytes / 4 <= qW.nbytes <= W.nbytes / 4 * 1.05


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
    np.testing.assert_array_equal(qW.scale, 1)  # as documented (not 127)
    if scheme == "per_row":
        qW = quantize(W, scheme)
        np.testing.assert_array_equal(qW.scale[[0, 1, 3]], 1)
        np.testing.assert_array_equal(qW.step[[0, 1, 3]], 0)


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


def test_quantize_activations():
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-254.0, 127.0, 1.0]],
                 np.float32)
    Xq, x_step = quantize_activations(X)
    assert Xq.dtype == np.int8 and x_step.dtype == np.float32
    np.testing.assert_array_equal(Xq[0], 0)
    assert x_step[0] == 0
    np.testing.assert_array_equal(Xq[1], [64, -127, 32])   # 63.5 -> 64 (even)
    np.testing.assert_array_equal(Xq[2], [-127, 64, 0])    # 63.5 -> 64, 0.5 -> 0
    np.testing.assert_allclose(x_step, [0, 2 / 127, 254 / 127], rtol=1e-7)
    with pytest.raises(ValueError, match="2-D"):
        quantize_activations(np.ones(3))
    Xq, x_step = quantize_activations(np.empty((0, 4), np.float32))
    assert Xq.shape == (0, 4) and x_step.shape == (0,)


# ------------------------------------------------------------ read-only

def test_quantized_matrix_is_read_only():
    qW = quantize(random_W(0, 8, 16, 0))
    for name in ("Wq", "scale", "step", "row_sums"):
        a = getattr(qW, name)
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1
        with pytest.raises(ValueError):
            a.flags.writeable = True


def test_constructor_does_not_alias_the_callers_arrays():
    """A caller's writeable arrays are copied: writing to them later
    changes nothing (before: the VNNI copy went stale, giving 4 where the
    others gave 16)."""
    from nmt8.native.kernels import available_kernels, int8_accumulate

    Wq = np.ones((16, 4), np.int8)
    step = np.ones(16, np.float32)
    qW = QuantizedMatrix(Wq=Wq, scale=step.copy(), step=step)
    X = np.ones((1, 4), np.int8)
    kernels = [k for k in available_kernels() if k != "maddubs"]
    first = {k: int8_accumulate(qW, X, kernel=k) for k in kernels}
    Wq[:] = 4
    step[:] = 7
    assert (qW.Wq == 1).all() and (qW.step == 1).all()
    for k in kernels:
        np.testing.assert_array_equal(int8_accumulate(qW, X, kernel=k), 4)
        np.testing.assert_array_equal(first[k], 4)


def test_scales_must_be_finite():
    ones = np.ones(2, np.float32)
    for bad in (np.array([1, np.inf], np.float32), np.array([1, -1], np.float32),
                np.array([np.nan, 1], np.float32)):
        with pytest.raises(ValueError, match="finite"):
            QuantizedMatrix(Wq=np.ones((2, 2), np.int8), scale=bad, step=ones)
        with pytest.raises(ValueError, match="finite"):
            QuantizedMatrix(Wq=np.ones((2, 2), np.int8), scale=ones, step=bad)


# ---------------------------------------------------------- tiny weights

@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
@pytest.mark.parametrize("mag", [1e-36, 1e-37, 1e-38, 1e-39, 1e-40])
def test_tiny_and_denormal_weights(scheme, mag):
    """max|W| below 127 / FLT_MAX made the scale inf (and the products
    wrong or zero): the scale stays finite, the rounding is the usual one,
    and products stay close to X @ W relative to max|W|.  (Much below
    1e-40 the float32 step itself keeps only a few bits.)"""
    from nmt8.native.kernels import available_kernels, int8_matmul

    rng = np.random.default_rng(0)
    K, N, P = 40, 24, 3
    W = (rng.uniform(-1, 1, (K, N)) * mag).astype(np.float32)
    W[0] = mag                                           # each column's max
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qW = quantize(W, scheme)
    assert np.isfinite(qW.scale).all() and (qW.scale > 0).all()
    assert (qW.step > 0).all()
    assert (qW.Wq[:, 0] == 127).all()
    # the same int8 values as for the same matrix at a normal size
    big = quantize((W.astype(np.float64) / mag).astype(np.float32), scheme)
    assert np.abs(qW.Wq.astype(int) - big.Wq).max() <= 1
    np.testing.assert_allclose(dequantize(qW), W, rtol=0,
                               atol=0.01 * np.abs(W).max())
    X = rng.standard_normal((P, K)).astype(np.float32)
    exact = X.astype(np.float64) @ W.astype(np.float64)      # (P, N)
    tol = 0.02 * np.abs(W).max() * np.abs(X).sum(1, keepdims=True)
    for k in [k for k in available_kernels() if k != "maddubs"]:
        Y = int8_matmul(qW, X, kernel=k)
        assert (np.abs(Y - exact) <= tol).all(), k
