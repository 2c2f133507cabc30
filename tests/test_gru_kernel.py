"""The GRU's non-linear part in C (``csrc/nmt8_gru.c``,
``nmt8.native.fused.gru``): numpy's formula in numpy's order with nmt8's tanh,
to the bit, on every instruction set; used by int8 models only where
numpy fp32 keeps numpy's own tanh."""

import numpy as np
import pytest

from nmt8.model.gru import gru_gates, gru_step
from nmt8.model.products import F32Weight, Int8Weight, in_c
from nmt8.native.dispatch import AVAILABLE_ISAS
from nmt8.native.fp32 import pack_fp32
from nmt8.native.fused.attention import tanh32
from nmt8.native.fused.gru import gates
from nmt8.quant.int8 import quantize


def bits(a):
    return np.asarray(a, np.float32).view(np.int32)


def reference(xp, hh, hp):
    """nmt8.model.gru.gru_gates's numpy, with tanh32 for numpy's tanh."""
    H = hp.shape[1]
    g = tanh32((xp[:, :2 * H] + hh[:, :2 * H]) * np.float32(0.5))
    g += 1.0
    g *= 0.5
    r, u = g[:, :H], g[:, H:]
    ht = tanh32(xp[:, 2 * H:] + r * hh[:, 2 * H:])
    return u * hp + (1.0 - u) * ht


@pytest.mark.parametrize("P, H", [(5, 512), (1, 1), (3, 37), (64, 16), (0, 8)])
def test_same_bits_as_the_numpy_formula_on_every_isa(P, H):
    rng = np.random.default_rng(P + H)
    wide = (rng.standard_normal((P, 3 * H + 11)) * 3).astype(np.float32)
    xp = wide[:, :3 * H]  # a column slice, as the decoder passes
    hh = (rng.standard_normal((P, 3 * H)) * 3).astype(np.float32)
    hp = rng.standard_normal((P, H)).astype(np.float32)
    want = reference(xp, hh, hp)
    for isa in AVAILABLE_ISAS:
        got = gates(xp, hh, hp, isa)
        assert got.shape == (P, H) and np.array_equal(bits(got), bits(want))
    # and within a few ulp of numpy's own tanh
    np.testing.assert_allclose(gates(xp, hh, hp), gru_gates(xp, hh, hp),
                               rtol=0, atol=1e-6)


def test_rows_are_their_own():
    rng = np.random.default_rng(1)
    xp, hh = rng.standard_normal((2, 9, 48)).astype(np.float32)
    hp = rng.standard_normal((9, 16)).astype(np.float32)
    h = gates(xp, hh, hp)
    for p in range(9):
        assert np.array_equal(bits(gates(xp[p:p + 1], hh[p:p + 1],
                                         hp[p:p + 1])), bits(h[p:p + 1]))


def test_gru_step_uses_c_for_int8_and_c_fp32_only():
    rng = np.random.default_rng(2)
    H = 24
    U = (rng.standard_normal((H, 3 * H)) * 0.3).astype(np.float32)
    xp = rng.standard_normal((4, 3 * H)).astype(np.float32)
    hp = rng.standard_normal((4, H)).astype(np.float32)
    assert not in_c(U)
    np.testing.assert_array_equal(gru_step(xp, hp, U),
                                  gru_gates(xp, hp @ U, hp))
    for W in (Int8Weight(quantize(U)), F32Weight(pack_fp32(U))):
        assert in_c(W)
        from nmt8.model.ops import linear
        want = gates(xp, linear(hp, W), hp)
        assert np.array_equal(bits(gru_step(xp, hp, W)), bits(want))


def test_bad_input():
    x = np.zeros((2, 12), np.float32)
    h = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="12 columns"):
        gates(x[:, :9], x, h)
    with pytest.raises(ValueError, match="rows"):
        gates(x[:1], x, h)
    with pytest.raises(ValueError, match="2-D"):
        gates(x, x, h[0])
    with pytest.raises(ValueError, match="x_proj"):
        gates(x.astype(np.int32), x, h)
    with pytest.raises(ValueError, match="instruction set"):
        gates(x, x, h, "sse2")
