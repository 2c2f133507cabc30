"""The row log-sum-exp of beam search in C (``csrc/nmt8_softmax.c``,
``nmt8.native.fused.softmax``, ``nmt8.model.ops.row_logsumexp``): against float64
numpy, the same bits on every instruction set and for any set of
neighbouring rows, and bad input."""

import numpy as np
import pytest

from nmt8.model.ops import row_logsumexp
from nmt8.native.dispatch import AVAILABLE_ISAS
from nmt8.native.fused import softmax as S


def reference(x):
    x = x.astype(np.float64)
    m = x.max(axis=1)
    return m + np.log(np.exp(x - m[:, None]).sum(axis=1))


@pytest.mark.parametrize("P, V", [(5, 8000), (3, 17), (1, 1), (2, 40000),
                                  (7, 16), (4, 33), (0, 5)])
def test_close_to_float64_and_same_bits_on_every_isa(P, V):
    rng = np.random.default_rng(P * 1000 + V)
    x = (rng.standard_normal((P, V)) * 6).astype(np.float32)
    outs = [S.row_logsumexp(x, isa) for isa in AVAILABLE_ISAS]
    for lse, m in outs[1:]:
        assert np.array_equal(lse, outs[0][0]) and np.array_equal(m, outs[0][1])
    lse, m = outs[0]
    assert lse.dtype == np.float64 and m.dtype == np.float32
    np.testing.assert_array_equal(m, x.max(axis=1) if P else m)
    np.testing.assert_allclose(lse, reference(x), rtol=0, atol=2e-6)


def test_a_row_does_not_depend_on_its_neighbours():
    """Batch invariance: each row's bits are those it gets alone."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((9, 1001)) * 4).astype(np.float32)
    lse, m = S.row_logsumexp(x)
    for p in range(9):
        one, mp = S.row_logsumexp(x[p:p + 1])
        assert one[0] == lse[p] and mp[0] == m[p]


def test_extreme_rows():
    f = np.float32
    x = np.array([[0.0, -np.inf, -np.inf], [-np.inf] * 3, [1.0, np.nan, 2.0],
                  [np.inf, 0.0, 1.0], [-200.0, 0.0, -1e30],
                  [3e38, 3e38, 3e38]], f)
    lse, m = S.row_logsumexp(x)
    assert lse[0] == 0.0  # exp(-inf) adds (almost exactly) nothing
    assert lse[1] == -np.inf and m[1] == -np.inf
    assert np.isnan(lse[2]) and np.isnan(m[2])
    assert lse[3] == np.inf
    assert lse[4] == pytest.approx(0.0, abs=1e-12)
    assert lse[5] == pytest.approx(float(f(3e38)) + np.log(3.0))


def test_ops_row_logsumexp_returns_the_maximum_on_request():
    x = np.random.default_rng(2).standard_normal((4, 50)).astype(np.float32)
    lse, m = row_logsumexp(x, with_max=True)
    assert np.array_equal(row_logsumexp(x), lse)
    assert np.array_equal(m, x.max(axis=1))


def test_bad_input():
    with pytest.raises(ValueError, match="2-D float"):
        S.row_logsumexp(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="2-D float"):
        S.row_logsumexp(np.zeros((2, 5), np.int32))
    with pytest.raises(ValueError, match="instruction set"):
        S.row_logsumexp(np.zeros((2, 5), np.float32), "avx1024")
    # float64 and strided input are converted
    x = np.random.default_rng(3).standard_normal((3, 40))
    want = S.row_logsumexp(x.astype(np.float32))[0]
    assert np.array_equal(S.row_logsumexp(x)[0], want)
    wide = np.zeros((3, 80), np.float32)
    wide[:, ::2] = x
    assert np.array_equal(S.row_logsumexp(wide[:, ::2])[0], want)
