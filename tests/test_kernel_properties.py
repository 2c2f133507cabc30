"""Property tests (Hypothesis) for the C kernels beside the products:
attention's scores and context (eq. (5)-(6)), the GRU's gates and beam
search's selection, on shapes drawn at random, including sizes that are not
multiples of any vector width: every instruction set gives the same bits,
and every row is its own (the same bits alone as in any batch)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.native.dispatch import AVAILABLE_ISAS
from nmt8.native.fp32 import pack_fp32
from nmt8.native.fused import attention as A
from nmt8.native.fused.gru import gates
from nmt8.native.fused.select import select as c_select
from nmt8.quant.int8 import quantize
from nmt8.search.select import select_numpy

FAST = settings(max_examples=40, deadline=None)


def bits(a):
    return np.asarray(a, np.float32).view(np.int32)


def floats(rng, *shape, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


@FAST
@given(P=st.integers(1, 9), H=st.integers(1, 70), seed=st.integers(0, 2**16))
def test_gru_gates_same_bits_on_every_isa_and_alone(P, H, seed):
    rng = np.random.default_rng(seed)
    xp, hh, hp = floats(rng, P, 3 * H), floats(rng, P, 3 * H), floats(rng, P, H)
    want = gates(xp, hh, hp, "portable")                    # (P, H)
    for isa in AVAILABLE_ISAS:
        assert np.array_equal(bits(gates(xp, hh, hp, isa)), bits(want))
    p = int(rng.integers(P))
    alone = gates(xp[p:p + 1], hh[p:p + 1], hp[p:p + 1])
    assert np.array_equal(bits(alone), bits(want[p:p + 1]))


@FAST
@given(P=st.integers(1, 6), S=st.integers(1, 40), C=st.integers(1, 80),
       int8=st.booleans(), seed=st.integers(0, 2**16))
def test_attention_scores_same_bits_on_every_isa(P, S, C, int8, seed):
    rng = np.random.default_rng(seed)
    pctx, s_proj = floats(rng, S, C), floats(rng, P, C)
    U_float = floats(rng, C, 1, scale=0.3)
    U = quantize(U_float) if int8 else pack_fp32(U_float)
    c_tt = floats(rng, 1)
    want = A.scores(pctx, s_proj, U, c_tt, "portable")     # (P, S)
    assert want.shape == (P, S)
    for isa in AVAILABLE_ISAS:
        assert np.array_equal(bits(A.scores(pctx, s_proj, U, c_tt, isa)),
                              bits(want))


@FAST
@given(counts=st.lists(st.integers(1, 4), min_size=1, max_size=4),
       C=st.integers(1, 48), seed=st.integers(0, 2**16))
def test_attention_context_rows_are_their_own(counts, C, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 20, len(counts))
    pctxs = [floats(rng, int(n), C) for n in lengths]
    hs = [floats(rng, int(n), C) for n in lengths]
    s_proj = floats(rng, sum(counts), C)
    U, c_tt = pack_fp32(floats(rng, C, 1, scale=0.3)), floats(rng, 1)
    H_t, alpha = A.context(pctxs, hs, counts, s_proj, U, c_tt)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-5)
    row = 0
    for g, n in enumerate(counts):
        for r in range(row, row + n):
            h1, a1 = A.context([pctxs[g]], [hs[g]], [1], s_proj[r:r + 1], U,
                               c_tt)
            assert np.array_equal(bits(h1[0]), bits(H_t[r]))
            assert np.array_equal(bits(a1[0, :lengths[g]]),
                                  bits(alpha[r, :lengths[g]]))
        row += n


@FAST
@given(counts=st.lists(st.integers(1, 6), min_size=1, max_size=5),
       V=st.integers(1, 300), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_selection_equals_its_numpy_reference(counts, V, ties, seed):
    rng = np.random.default_rng(seed)
    logp = floats(rng, sum(counts), V, scale=3.0)
    if ties:
        logp = np.round(logp).astype(np.float32)
    offset = rng.standard_normal(sum(counts)) - 10.0
    wants = [int(w) for w in rng.integers(1, 8, len(counts))]
    want = select_numpy(logp, offset, counts, wants)
    for isa in AVAILABLE_ISAS:
        got = c_select(logp, offset, counts, wants, isa=isa)
        for (r1, w1, s1), (r2, w2, s2) in zip(got, want, strict=True):
            assert r1.tolist() == r2.tolist() and w1.tolist() == w2.tolist()
            assert np.array_equal(np.asarray(s1, np.float64),
                                  np.asarray(s2, np.float64))
