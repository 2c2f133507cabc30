"""The fused attention scores of eq. (6) (``csrc/nmt8_attention.c``,
``nmt8.native.fused.attention``): nmt8's float32 tanh, the int8 and float32
scores, on every instruction set this CPU runs, and bad input."""

import numpy as np
import pytest

from nmt8.model.attention import attend
from nmt8.model.products import F32Weight, Int8Weight
from nmt8.native.dispatch import AVAILABLE_ISAS
from nmt8.native.fp32 import pack_fp32
from nmt8.native.fused import attention as A
from nmt8.native.kernels import int8_matmul
from nmt8.quant.int8 import quantize

ISAS = AVAILABLE_ISAS


def bits(a):
    return np.asarray(a, np.float32).view(np.int32)


def special_values():
    f = np.float32
    edge = [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-40, 1e-30, 0.625,
            np.nextafter(f(0.625), f(0)), np.nextafter(f(0.625), f(1)),
            10.0, 9.999, 88.0, 3e38, -3e38]
    return np.array(edge, np.float32)


def sample(n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal(n) * s for s in (1e-3, 0.3, 1.0, 4.0, 40.0)]
    return np.concatenate(parts + [special_values()]).astype(np.float32)


@pytest.mark.parametrize("isa", ISAS)
def test_tanh32_same_bits_on_every_instruction_set(isa):
    x = sample()
    for n in (len(x), 1, 7, 15, 17, 33):  # vector bodies and scalar tails
        assert np.array_equal(bits(A.tanh32(x[:n], isa)),
                              bits(A.tanh32(x[:n], "portable")))


def test_tanh32_is_as_accurate_as_numpy():
    x = sample(seed=1)
    ref = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(ref.astype(np.float32))).astype(np.float64)
    ours = np.abs(A.tanh32(x) - ref) / ulp
    theirs = np.abs(np.tanh(x) - ref) / ulp
    assert ours.max() <= 2.0, x[ours.argmax()]
    assert ours.max() <= theirs.max() + 1.0


def test_tanh32_special_values():
    y = A.tanh32(np.float32([0.0, -0.0, np.inf, -np.inf, 10.0, -12.0,
                               1e-40, np.nan]))
    assert bits(y[:2]).tolist() == bits([0.0, -0.0]).tolist()  # sign kept
    assert y[2:6].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert y[6] == np.float32(1e-40)  # tanh(x) = x for tiny x
    assert np.isnan(y[7])
    x = sample(seed=2)
    assert np.array_equal(bits(A.tanh32(-x)), bits(-A.tanh32(x)))  # odd
    assert np.all(np.abs(A.tanh32(x)) <= 1.0)


def operands(P, S, C, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    pctx = (rng.standard_normal((S, C)) * scale).astype(np.float32)
    s_proj = (rng.standard_normal((P, C)) * scale).astype(np.float32)
    U = (rng.standard_normal((C, 1)) * 0.1).astype(np.float32)
    return pctx, s_proj, U, np.float32([0.25])


SHAPES = [(5, 15, 1024), (3, 7, 37), (1, 1, 1), (4, 20, 2000), (2, 3, 16),
          (6, 2, 17), (0, 4, 32), (3, 0, 32)]


@pytest.mark.parametrize("P, S, C", SHAPES)
@pytest.mark.parametrize("isa", ISAS)
def test_int8_scores_equal_int8_matmul_on_the_tanh_rows(P, S, C, isa):
    """Fused = two steps: tanh32 of every row, then the int8 product of
    Section 3 (each row quantized with its own step), bit for bit."""
    pctx, s_proj, U, c_tt = operands(P, S, C)
    qU = quantize(U)
    e = A.tanh32(pctx[None] + s_proj[:, None], "portable").reshape(P * S, C)
    want = int8_matmul(qU, e, bias=c_tt).reshape(P, S)
    got = A.scores(pctx, s_proj, qU, c_tt, isa)
    assert got.shape == (P, S) and got.dtype == np.float32
    assert np.array_equal(bits(got), bits(want))


@pytest.mark.parametrize("P, S, C", SHAPES)
def test_f32_scores_same_bits_everywhere_and_close_to_float64(P, S, C):
    pctx, s_proj, U, c_tt = operands(P, S, C, seed=3)
    outs = [A.scores(pctx, s_proj, pack_fp32(U), c_tt, isa) for isa in ISAS]
    for o in outs[1:]:
        assert np.array_equal(bits(o), bits(outs[0]))
    e = np.tanh(pctx[None].astype(np.float64) + s_proj[:, None])
    want = (e @ U.astype(np.float64))[..., 0] + 0.25
    np.testing.assert_allclose(outs[0], want, rtol=0, atol=1e-5)


def test_zero_and_tiny_rows_match_the_int8_quantizer():
    """A row of zeros (step 0) and a row of subnormal tanh values (whose
    scale 127 / max overflows: the quantizer's double path)."""
    C = 40
    s_proj = np.zeros((2, C), np.float32)
    s_proj[1] = np.linspace(-1e-39, 2e-39, C, dtype=np.float32)
    pctx = np.zeros((1, C), np.float32)
    qU = quantize(np.linspace(-1, 1, C, dtype=np.float32)[:, None])
    c_tt = np.float32([-0.5])
    e = A.tanh32(pctx[None] + s_proj[:, None]).reshape(2, C)
    want = int8_matmul(qU, e, bias=c_tt).reshape(2, 1)
    for isa in ISAS:
        got = A.scores(pctx, s_proj, qU, c_tt, isa)
        assert np.array_equal(bits(got), bits(want))
    assert got[0, 0] == np.float32(-0.5)


def test_attend_uses_the_fused_scores_for_int8_and_c_fp32():
    """``nmt8.model.attention.attend`` with an int8 or C fp32 U_att: its weights
    are the softmax of the fused scores."""
    pctx, s_proj, U, c_tt = operands(5, 9, 64, seed=4)
    h = np.random.default_rng(5).standard_normal((9, 64)).astype(np.float32)
    for W in (Int8Weight(quantize(U)), F32Weight(pack_fp32(U))):
        H_t, alpha = attend(pctx, s_proj, h, W, c_tt)
        z = A.scores(pctx, s_proj, W.q, c_tt).astype(np.float64)
        want = np.exp(z - z.max(1, keepdims=True))
        want /= want.sum(1, keepdims=True)
        np.testing.assert_allclose(alpha, want, rtol=1e-5)
        np.testing.assert_allclose(H_t, alpha @ h, rtol=1e-5)


def test_bad_input_gets_one_clear_error():
    pctx, s_proj, U, c_tt = operands(2, 3, 8)
    qU = quantize(U)
    bad = pctx.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        A.scores(bad, s_proj, qU, c_tt)
    inf = pctx.copy()
    inf[0, 0], s_proj2 = np.inf, s_proj.copy()
    s_proj2[:, 0] = -np.inf  # inf + -inf is NaN
    with pytest.raises(ValueError, match="NaN"):
        A.scores(inf, s_proj2, qU, c_tt)
    with pytest.raises(ValueError, match="shape|need"):
        A.scores(pctx, s_proj[:, :5], qU, c_tt)
    with pytest.raises(ValueError, match="2-D float"):
        A.scores(pctx.astype(np.int32), s_proj, qU, c_tt)
    with pytest.raises(ValueError, match="2-D float"):
        A.scores(pctx[0], s_proj, qU, c_tt)
    with pytest.raises(TypeError, match="QuantizedMatrix or a PackedF32"):
        A.scores(pctx, s_proj, U, c_tt)
    with pytest.raises(ValueError, match="c_tt"):
        A.scores(pctx, s_proj, qU, np.float32([np.inf]))
    with pytest.raises(ValueError, match="instruction set"):
        A.scores(pctx, s_proj, qU, c_tt, "sse9")
    with pytest.raises(ValueError, match="instruction set"):
        A.tanh32(pctx, 3)
    with pytest.raises(ValueError, match="need"):  # U is (C, 2), not (C, 1)
        A.scores(pctx, s_proj, quantize(np.ones((8, 2), np.float32)), c_tt)


def test_float64_and_strided_inputs_are_converted():
    pctx, s_proj, U, c_tt = operands(3, 4, 24, seed=6)
    wide = np.zeros((3, 48), np.float32)
    wide[:, ::2] = s_proj
    qU = quantize(U)
    want = A.scores(pctx, s_proj, qU, c_tt)
    assert np.array_equal(bits(A.scores(pctx.astype(np.float64),
                                        wide[:, ::2], qU, c_tt)), bits(want))


def sentences(sizes, C, seed=7):
    rng = np.random.default_rng(seed)
    pctxs = [rng.standard_normal((S, C)).astype(np.float32) for S in sizes]
    hs = [rng.standard_normal((S, C)).astype(np.float32) for S in sizes]
    return pctxs, hs


@pytest.mark.parametrize("C", [1024, 37])
@pytest.mark.parametrize("kind", ["int8", "fp32"])
def test_context_rows_are_their_own_in_any_batch(C, kind):
    """Eq. (5)-(6) for several sentences in one call: every row's context
    and weights are, to the bit, those it gets with its sentence alone,
    on every instruction set; alpha is zero past the sentence's length."""
    sizes, counts = [15, 3, 22, 1], [5, 2, 4, 1]
    pctxs, hs = sentences(sizes, C)
    _, s_proj, U, c_tt = operands(sum(counts), 1, C, seed=8)
    W = quantize(U) if kind == "int8" else pack_fp32(U)
    runs = [A.context(pctxs, hs, counts, s_proj, W, c_tt, isa) for isa in ISAS]
    H_t, alpha = runs[0]
    for H2, a2 in runs[1:]:
        assert np.array_equal(bits(H2), bits(H_t))
        assert np.array_equal(bits(a2), bits(alpha))
    assert alpha.shape == (sum(counts), max(sizes))
    r = 0
    for g, (S, n) in enumerate(zip(sizes, counts)):
        H1, a1 = A.context([pctxs[g]], [hs[g]], [n], s_proj[r:r + n], W, c_tt)
        assert np.array_equal(bits(H1), bits(H_t[r:r + n]))
        assert np.array_equal(bits(a1), bits(alpha[r:r + n, :S]))
        assert not alpha[r:r + n, S:].any()
        # against numpy in float64: softmax of the fused scores, weighted sum
        z = A.scores(pctxs[g], s_proj[r:r + n], W, c_tt).astype(np.float64)
        want = np.exp(z - z.max(1, keepdims=True))
        want /= want.sum(1, keepdims=True)
        np.testing.assert_allclose(a1, want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(H1, want @ hs[g], rtol=1e-4, atol=1e-5)
        r += n


def test_context_bad_input():
    pctxs, hs = sentences([4, 6], 16)
    _, s_proj, U, c_tt = operands(3, 1, 16)
    qU = quantize(U)
    with pytest.raises(ValueError, match="count per sentence"):
        A.context(pctxs, hs, [1, 1], s_proj, qU, c_tt)
    with pytest.raises(ValueError, match="count per sentence"):
        A.context(pctxs, hs[:1], [1, 2], s_proj, qU, c_tt)
    with pytest.raises(ValueError, match="alike"):
        A.context(pctxs, [hs[0], hs[1][:3]], [1, 2], s_proj, qU, c_tt)
    with pytest.raises(ValueError, match="alike"):
        A.context([pctxs[0][:, :8], pctxs[1]], hs, [1, 2], s_proj, qU, c_tt)
    bad = [pctxs[0], pctxs[1].copy()]
    bad[1][2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        A.context(bad, hs, [1, 2], s_proj, qU, c_tt)
    H_t, alpha = A.context([], [], [], s_proj[:0], qU, c_tt)
    assert H_t.shape == (0, 16) and alpha.shape == (0, 0)
