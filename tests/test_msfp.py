"""Block floating point (MSFP, simulated): against a value-by-value Python
reference, exact round trips, error bounds per block, edge values."""

import math

import numpy as np
import pytest

from nmt8.quant.msfp import (
    BLOCK,
    E_MAX,
    E_MIN,
    MSFP_FORMATS,
    bits_per_value,
    dequantize_msfp,
    quantize_msfp,
    simulate_msfp,
)

FMTS = list(MSFP_FORMATS)


def reference(W: np.ndarray, m: int) -> np.ndarray:
    """The format, one value at a time in Python floats (math.frexp, round:
    ties to even), independent of the vectorised numpy code."""
    K, N = W.shape
    out = np.zeros((K, N), np.float32)
    for o in range(N):
        for b0 in range(0, K, BLOCK):
            block = [float(v) for v in W[b0:b0 + BLOCK, o]]
            top = max(abs(v) for v in block)
            e = E_MIN if top == 0 else min(max(math.frexp(top)[1] - 1, E_MIN),
                                           E_MAX)
            step = 2.0 ** (e + 1 - m)
            for i, v in enumerate(block):
                q = max(-(2**m - 1), min(2**m - 1, round(v / step)))
                out[b0 + i, o] = q * step
    return out


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("K,N", [(16, 3), (40, 5), (1, 1), (33, 2)])
def test_matches_the_reference(fmt, K, N):
    rng = np.random.default_rng(K * N)
    W = (rng.standard_normal((K, N)) * 10.0 ** rng.integers(-3, 3, (K, N)))
    W = W.astype(np.float32)
    np.testing.assert_array_equal(simulate_msfp(W, fmt),
                                  reference(W, MSFP_FORMATS[fmt]))


@pytest.mark.parametrize("fmt", FMTS)
def test_representable_values_round_trip_exactly(fmt):
    """Blocks built from mantissas and exponents come back bit for bit,
    with the same mantissas and exponents."""
    m = MSFP_FORMATS[fmt]
    rng = np.random.default_rng(1)
    G, N = 5, 4
    q = rng.integers(-(2**m - 1), 2**m, (N, G, BLOCK))
    q[:, :, 0] = rng.choice([-1, 1], (N, G)) * rng.integers(2 ** (m - 1), 2**m,
                                                            (N, G))
    e = rng.integers(E_MIN, E_MAX + 1, (N, G))
    e[0, :3] = [E_MIN, E_MAX, 0]
    WT = np.ldexp(q.astype(np.float64), (e + 1 - m)[:, :, None])  # (N, G, 16)
    W = WT.reshape(N, G * BLOCK).T.astype(np.float32)             # (K, N)
    assert np.array_equal(W.astype(np.float64), WT.reshape(N, -1).T)  # exact
    M = quantize_msfp(W, fmt)
    np.testing.assert_array_equal(M.q.reshape(N, G, BLOCK), q)
    np.testing.assert_array_equal(M.e, e)
    np.testing.assert_array_equal(dequantize_msfp(M), W)


@pytest.mark.parametrize("fmt", FMTS)
def test_idempotent_and_within_the_block_bounds(fmt):
    m = MSFP_FORMATS[fmt]
    rng = np.random.default_rng(2)
    W = (rng.standard_normal((64, 7)) * 0.1).astype(np.float32)
    W[5, 0] = 2.5  # an outlier: only its own block pays for it
    W[20, 1] = 2.0**5 * (1 - 2.0**-12)  # e = 4; rounds up to 2**m steps
    W_hat = simulate_msfp(W, fmt)
    np.testing.assert_array_equal(simulate_msfp(W_hat, fmt), W_hat)
    M = quantize_msfp(W, fmt)
    for o in range(W.shape[1]):
        for g in range(W.shape[0] // BLOCK):
            rows = slice(g * BLOCK, (g + 1) * BLOCK)
            blk, hat = W[rows, o].astype(np.float64), W_hat[rows, o]
            e = int(M.e[o, g])
            assert e == math.floor(math.log2(np.abs(blk).max()))
            step = 2.0 ** (e + 1 - m)
            levels = hat / step
            np.testing.assert_array_equal(levels, np.rint(levels))
            assert np.abs(levels).max() <= 2**m - 1
            err = np.abs(blk - hat)
            inner = np.abs(blk) <= (2**m - 0.5) * step  # not saturated
            assert (err[inner] <= step / 2).all()
            assert (err < step).all()
    assert W_hat[20, 1] == (2**m - 1) * 2.0 ** (4 + 1 - m)  # saturated


@pytest.mark.parametrize("fmt", FMTS)
def test_zeros(fmt):
    W = np.zeros((40, 3), np.float32)
    W[17, 1] = 1.0  # one non-zero block among zero blocks
    M = quantize_msfp(W, fmt)
    assert (M.e[0] == E_MIN).all() and M.e[1, 1] == 0
    np.testing.assert_array_equal(dequantize_msfp(M), W)
    assert dequantize_msfp(quantize_msfp(np.zeros((0, 3), np.float32), fmt)
                           ).shape == (0, 3)


@pytest.mark.parametrize("fmt", FMTS)
def test_tiny_and_huge_values(fmt):
    m = MSFP_FORMATS[fmt]
    big = np.finfo(np.float32).max
    W = np.zeros((48, 1), np.float32)
    W[0] = big  # block 0: the largest float32
    W[16] = 1e-40  # block 1: a denormal alone: exponent clamped to E_MIN
    W[17] = -3e-39
    W[32] = 2.0**-126  # block 2: the smallest normal
    W_hat = simulate_msfp(W, fmt)
    assert np.isfinite(W_hat).all()
    assert W_hat[0, 0] == (2**m - 1) * 2.0 ** (E_MAX + 1 - m)  # saturated
    assert abs(float(W[0, 0]) - float(W_hat[0, 0])) < 2.0 ** (E_MAX + 1 - m)
    step = 2.0 ** (E_MIN + 1 - m)
    for i in (16, 17):
        assert abs(float(W[i, 0]) - float(W_hat[i, 0])) <= step / 2
    assert W_hat[32, 0] == 2.0**-126
    np.testing.assert_array_equal(W_hat, reference(W, m))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_rejected(bad):
    W = np.ones((20, 3), np.float32)
    W[7, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_msfp(W)


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown MSFP format 'msfp8'"):
        quantize_msfp(np.ones((2, 2), np.float32), "msfp8")
    with pytest.raises(ValueError, match="2-D"):
        quantize_msfp(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="float"):
        quantize_msfp(np.ones((2, 2), np.int32))
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_msfp(np.full((2, 2), 1e300))  # beyond float32


def test_sizes_and_repr():
    assert bits_per_value("msfp16") == 8.5 and bits_per_value("msfp12") == 4.5
    M = quantize_msfp(np.ones((20, 3), np.float32), "msfp12")
    assert M.shape == (20, 3) and M.q.shape == (3, 32) and M.e.shape == (3, 2)
    assert "simulated" in repr(M)
