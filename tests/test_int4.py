"""Tests of nmt8.quant.int4 and nmt8.native.int4: every int4 kernel against
the numpy reference of the exact float order and against the others, bit
for bit, on random shapes (K not a multiple of G nor of 64, N not of 16, P
0..9) and at the edges (weights -7/7, activations -127/127, zero groups);
the exact int32 group sums against int64 numpy; the number format
(steps, rounding, zero and tiny groups, packing round trip); the wrapper's
checks; precision="int4" end to end: a Translator translates our own
sentences with the same bits on every kernel and every run."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.native import int4 as int4_kernels
from nmt8.native.int4 import (
    INT4_KERNELS,
    PackedMatrix4,
    available_int4_kernels,
    get_stream4,
    int4_accumulate,
    int4_matmul,
    int4_matmul_q,
    pack4,
    set_stream4,
    unpack4,
)
from nmt8.quant.int4 import (
    GROUPS,
    QuantizedMatrix4,
    dequantize4,
    group_sums4,
    matmul4_reference,
    packed_nbytes4,
    quantize4,
)
from nmt8.quant.int8 import quantize, quantize_activations

from . import kernel_checks as kc

SETTINGS = settings(max_examples=30, deadline=None)

kernel = kc.kernel_fixture(INT4_KERNELS, available_int4_kernels, "int4")


def expected(qW, X, bias=None):
    """The product by the numpy reference: X quantized as the C does."""
    Xq, x_step = quantize_activations(X)
    return matmul4_reference(qW, Xq, x_step, bias)


def random_case(seed, P, K, N, G, zero_groups=False):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, N)).astype(np.float32)
    if zero_groups and K and N:
        W[: min(G, K), ::2] = 0                      # whole first groups
    X = rng.standard_normal((P, K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    return quantize4(W, G), X, b


# shapes: K not a multiple of 32, 64 (odd too), N not of 16, P 0..9
SHAPES = [(P, K, N) for P in (0, 1, 2, 3, 5, 9)
          for K, N in ((1, 1), (2, 17), (31, 16), (33, 15), (64, 33),
                       (100, 40), (129, 31), (130, 64))]


@pytest.mark.parametrize("G", GROUPS)
@pytest.mark.parametrize("P, K, N", SHAPES)
def test_every_kernel_matches_the_exact_order(kernel, P, K, N, G):
    qW, X, b = random_case(P * 1000 + K * 10 + N, P, K, N, G,
                           zero_groups=True)
    for bias in (None, b):
        Y = int4_matmul(qW, X, kernel=kernel, bias=bias)
        np.testing.assert_array_equal(Y, expected(qW, X, bias))
        np.testing.assert_array_equal(
            Y, int4_matmul(qW, X, kernel="ref", bias=bias))


@pytest.mark.parametrize("G", GROUPS)
@pytest.mark.parametrize("P, K, N", SHAPES)
def test_group_sums_are_exact(kernel, P, K, N, G):
    qW, X, _ = random_case(P + K + N, P, K, N, G)
    Xq, _ = quantize_activations(X)
    acc = int4_accumulate(qW, Xq, kernel=kernel)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, group_sums4(qW.Wq, Xq, G))


@pytest.mark.parametrize("G", GROUPS)
@pytest.mark.parametrize("K", [1, 63, 64, 65, 200, 257])
def test_sums_at_the_extremes(kernel, G, K):
    """Weights all -7 or 7, activations all -127 or 127: the largest sums
    (and each sign) come out exact."""
    N, P = 19, 4
    for sw in (-7, 7):
        Wq = np.full((N, K), sw, np.int8)
        Wq[1::2] *= -1
        qW = QuantizedMatrix4(Wq, np.ones((N, -(-K // G)), np.float32), G)
        Xq = np.full((P, K), 127, np.int8)
        Xq[1::2] = -127
        Xq[3, ::3] = 0
        np.testing.assert_array_equal(int4_accumulate(qW, Xq, kernel),
                                      group_sums4(Wq, Xq, G))
        x_step = np.array([1, 0.5, 3e-3, 0], np.float32)
        np.testing.assert_array_equal(
            int4_matmul_q(qW, Xq, x_step, kernel=kernel),
            matmul4_reference(qW, Xq, x_step))


@SETTINGS
@given(P=st.integers(0, 9), K=st.integers(1, 300), N=st.integers(1, 70),
       G=st.sampled_from(GROUPS), seed=st.integers(0, 2**16),
       bias=st.booleans())
def test_shape_space(P, K, N, G, seed, bias):
    qW, X, b = random_case(seed, P, K, N, G, zero_groups=seed % 2 == 0)
    b = b if bias else None
    want = expected(qW, X, b)
    for k in available_int4_kernels():
        np.testing.assert_array_equal(int4_matmul(qW, X, kernel=k, bias=b),
                                      want)


@pytest.mark.parametrize("blocks", [1, 2, 4])
@pytest.mark.parametrize("prefetch", [False, True])
def test_every_stream_gives_the_same_bits(kernel, blocks, prefetch):
    qW, X, b = random_case(5, 3, 200, 77, 64)
    want = expected(qW, X, b)
    before = get_stream4()
    try:
        set_stream4(blocks, prefetch)
        assert get_stream4() == (blocks, prefetch)
        for P in (1, 2, 3):
            np.testing.assert_array_equal(
                int4_matmul(qW, X[:P], kernel=kernel, bias=b), want[:P])
    finally:
        set_stream4(*before)
    with pytest.raises(ValueError, match="blocks"):
        set_stream4(3, True)


# ------------------------------------------------------------ the format

def test_steps_and_rounding_follow_the_definition():
    """step = max|w_group| / 7 in float32; q = clip(rint(w / step), -7, 7)."""
    rng = np.random.default_rng(1)
    for G in GROUPS:
        W = rng.standard_normal((150, 9)).astype(np.float32)   # (in, out)
        qW = quantize4(W, G)
        NG = -(-150 // G)
        WT = np.zeros((9, NG * G), np.float32)
        WT[:, :150] = W.T
        gr = WT.reshape(9, NG, G)
        step = (np.abs(gr).max(2) / np.float32(7)).astype(np.float32)
        np.testing.assert_array_equal(qW.steps, step)
        q = np.clip(np.rint(gr / step[:, :, None]), -7, 7)
        np.testing.assert_array_equal(qW.Wq, q.reshape(9, -1)[:, :150])
        assert np.abs(dequantize4(qW) - W).max() <= step.max() / 2 * 1.0001


def test_half_rounds_to_even_and_max_is_seven():
    W = np.zeros((64, 1), np.float32)
    W[:4, 0] = [7.0, 2.5, -3.5, 0.5]                 # step 1
    qW = quantize4(W, 64)
    assert qW.steps[0, 0] == 1
    assert list(qW.Wq[0, :4]) == [7, 2, -4, 0]


def test_zero_and_tiny_groups():
    """A zero group: step 0, Wq 0.  A group whose step rounds to 0 (the
    smallest denormals) too; one just above keeps a nonzero step."""
    W = np.zeros((96, 3), np.float32)
    W[40:, 0] = 1.0                                  # group 0 of row 0: zero
    W[:, 1] = np.float32(3e-45)                      # step rounds to 0
    W[:, 2] = np.float32(1e-40)                      # denormal, step > 0
    qW = quantize4(W, 32)
    assert qW.steps[0, 0] == 0 and (qW.Wq[0, :32] == 0).all()
    assert (qW.steps[1] == 0).all() and (qW.Wq[1] == 0).all()
    assert (qW.steps[2] > 0).all() and (qW.Wq[2] == 7).all()
    assert np.isfinite(dequantize4(qW)).all()


def test_matrix_checks_pickles_and_nbytes():
    qW = quantize4(np.random.default_rng(0).standard_normal((100, 40)), 32)
    assert qW.Wq.flags.writeable is False and qW.steps.flags.writeable is False
    for q2 in (pickle.loads(pickle.dumps(qW)), copy.deepcopy(qW)):
        np.testing.assert_array_equal(q2.Wq, qW.Wq)
        assert q2.group == 32
    # packed: half a byte per weight plus the steps, 16 outputs at a time
    assert qW.nbytes == packed_nbytes4(40, 100, 32) == 3 * 4 * 5 * 64
    assert pack4(qW).nbytes == qW.nbytes
    # against int8's bytes (one per weight): 36/64 for G = 64, 40/64 for 32
    int8_bytes = quantize(np.zeros((128, 48))).Wq.nbytes
    for G, ratio in ((64, 36 / 64), (32, 40 / 64)):
        assert quantize4(np.zeros((128, 48)), G).nbytes == ratio * int8_bytes
    for bad, match in (({"Wq": np.full((2, 4), 8, np.int8)}, "lie in"),
                       ({"Wq": np.zeros((2, 4), np.int16)}, "int8"),
                       ({"steps": np.zeros((2, 2), np.float32)}, "steps"),
                       ({"steps": np.full((2, 1), -1, np.float32)}, ">= 0"),
                       ({"group": 16}, "group")):
        kw = {"Wq": np.zeros((2, 4), np.int8),
              "steps": np.zeros((2, 1), np.float32), "group": 64, **bad}
        with pytest.raises(ValueError, match=match):
            QuantizedMatrix4(**kw)
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize4(np.array([[1.0], [np.inf]]))
    with pytest.raises(ValueError, match="group"):
        quantize4(np.ones((4, 4)), 48)


@pytest.mark.parametrize("K, N", [(1, 1), (37, 20), (64, 16), (130, 33)])
def test_pack_round_trip(K, N):
    for G in GROUPS:
        qW = quantize4(np.random.default_rng(K).standard_normal((K, N)), G)
        p = pack4(qW)
        assert isinstance(p, PackedMatrix4) and p.shape == (K, N)
        assert p.Wp.ctypes.data % 64 == 0 and not p.Wp.flags.writeable
        u = unpack4(p)
        np.testing.assert_array_equal(u.Wq, qW.Wq)
        np.testing.assert_array_equal(u.steps, qW.steps)
        X = np.random.default_rng(2).standard_normal((3, K))
        np.testing.assert_array_equal(int4_matmul(p, X), int4_matmul(qW, X))
        p2 = pickle.loads(pickle.dumps(p))
        np.testing.assert_array_equal(int4_matmul(p2, X), int4_matmul(p, X))


def test_packed_once_per_matrix():
    qW = quantize4(np.ones((64, 16)))
    X = np.ones((1, 64), np.float32)
    int4_matmul(qW, X)
    p = int4_kernels._PACKED[qW]
    int4_matmul(qW, X)
    assert int4_kernels._PACKED[qW] is p


# ------------------------------------------------------------ the wrapper

@pytest.fixture(scope="module")
def qW():
    return quantize4(kc.weights_16x10(), 32)


def test_every_layout(kernel):
    kc.check_every_layout(int4_matmul, quantize4, expected, kernel)


def test_empty_batch_and_degenerate(kernel, qW):
    kc.check_empty_batch(int4_matmul, qW, kernel)
    Y = int4_matmul(quantize4(np.ones((16, 0))), np.ones((2, 16)),
                    kernel=kernel)
    assert Y.shape == (2, 0)


@pytest.mark.parametrize("value", kc.NONFINITE)
def test_nonfinite_inputs(qW, kernel, value):
    kc.check_nonfinite(int4_matmul, qW, kernel, value)


def test_bad_inputs_are_one_value_error(qW):
    kc.check_bad_x(int4_matmul, qW)
    X = np.ones((2, 16), np.float32)
    with pytest.raises(TypeError, match="QuantizedMatrix4"):
        int4_matmul(quantize(kc.weights_16x10()), X)
    for out in (np.zeros((2, 10), np.float64), np.zeros((3, 10), np.float32),
                np.zeros((10, 2), np.float32).T):
        with pytest.raises(ValueError, match="out must be"):
            int4_matmul(qW, X, out=out)
    for b in (np.zeros(9, np.float32), np.zeros(10, np.float64), [0.0] * 10):
        with pytest.raises(ValueError, match="bias must be"):
            int4_matmul(qW, X, bias=b)
    buf = np.zeros(20, np.float32)                  # out aliasing the bias
    with pytest.raises(ValueError, match="overlap bias"):
        int4_matmul(qW, X, bias=buf[:10], out=buf.reshape(2, 10))
    for Xq, match in ((np.ones((2, 16), np.int16), "int8"),
                      (np.full((2, 16), -128, np.int8), "-127"),
                      (np.ones((2, 15), np.int8), "in_features")):
        with pytest.raises(ValueError, match=match):
            int4_accumulate(qW, Xq)
    with pytest.raises(ValueError, match="x_step"):
        int4_matmul_q(qW, np.ones((2, 16), np.int8), np.ones(3))
    with pytest.raises(ValueError, match="x_step"):
        int4_matmul_q(qW, np.ones((2, 16), np.int8), np.array([1, np.nan]))


def test_kernel_names(qW, monkeypatch):
    kc.check_kernel_names(int4_matmul, qW, int4_kernels._KERNELS,
                          monkeypatch, "sse4")


# ------------------------------------------------------- precision="int4"

@pytest.fixture(scope="module")
def int4_models():
    from nmt8.model.model import load_model

    return {k: load_model("de-en", "int4", kernel=k)
            for k in available_int4_kernels()}


def test_model_holds_packed_weights_only(int4_models):
    from nmt8.model.products import Int4Weight, Int8Weight

    m = next(iter(int4_models.values()))
    assert m.scheme == "group64" and m.embeddings == "int8"
    for k, w in m.W.items():
        if k == "U_att":                       # eq. (6)'s v stays int8
            assert isinstance(w, Int8Weight)
            continue
        assert isinstance(w, Int4Weight) and isinstance(w.q, PackedMatrix4)
        arrays = w.arrays()
        assert [a.dtype for a in arrays] == [np.uint8]
        assert arrays[0].nbytes == packed_nbytes4(w.shape[1], w.shape[0]
                                                  + w.shape[0] % 2, 64)


def test_translator_int4_is_stable_on_every_kernel(int4_models):
    """Our own sentences, beam 5: a translation, and the same bits on
    every kernel and every run."""
    from nmt8.model.model import load_model
    from nmt8.serve.translator import Translator
    from nmt8.testing import GERMAN

    outs = {}
    for k in available_int4_kernels():
        t = Translator("de-en", precision="int4", kernel=k)
        first = t.translate(GERMAN)
        assert t.translate(GERMAN) == first
        outs[k] = first
    assert len(set(map(tuple, outs.values()))) == 1
    assert all(s.strip() for s in next(iter(outs.values())))
    # the numbers beneath: the same logits on every kernel, every run
    m = load_model("de-en", "int4", kernel="ref")
    enc = m.encode(np.array([5, 9, 12, 2], np.int64))
    s0 = np.zeros((2, m.cfg.dim), np.float32)
    want = m.step(enc, s0, np.array([-1, 7]))[0]
    for mk in int4_models.values():
        np.testing.assert_array_equal(mk.step(enc, s0, np.array([-1, 7]))[0],
                                      want)


def test_int4_options():
    from nmt8.model.precision import check_options

    assert check_options("int4", scheme="group32").scheme == "group32"
    with pytest.raises(ValueError, match="group32, group64"):
        check_options("int4", scheme="per_row")
    with pytest.raises(ValueError, match="unknown kernel"):
        check_options("int4", "sse4")
