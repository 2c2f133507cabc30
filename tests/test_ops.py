"""nmt8.model.ops: the one product function over every weight type, the profile
categories, and the embedding tables (lookups equal to their dequantized
table, bit for bit)."""

import numpy as np
import pytest

from nmt8.model.embedding import EMBEDDINGS, Embedding
from nmt8.model.ops import linear
from nmt8.model.products import F32Weight, Int8Weight, Int16Weight, MSFPWeight, Rows8
from nmt8.timers import TIMERS


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(4)
    E = (rng.standard_normal((300, 24)) * 0.3).astype(np.float32)  # (V, dim)
    E[7] = 0.0  # an all-zero row
    E[8, 3] = 40.0  # a row with an outlier
    return E


@pytest.mark.parametrize("dtype", EMBEDDINGS)
def test_lookup_equals_the_dequantized_table(table, dtype):
    emb = Embedding(table, dtype)
    full = emb.dequantize()  # (V, dim)
    assert full.dtype == np.float32 and full.shape == table.shape
    ids = np.array([0, 7, 8, 299, 8, 5])
    np.testing.assert_array_equal(emb.lookup(ids), full[ids])
    rows = emb.lookup_rows(ids)
    if dtype == "int8":
        np.testing.assert_array_equal(rows.dequantize(), full[ids])
    else:
        np.testing.assert_array_equal(rows, full[ids])


def test_tables_and_their_errors(table):
    from nmt8.quant.int8 import quantize_activations

    fp32, fp16, int8 = (Embedding(table, d) for d in EMBEDDINGS)
    np.testing.assert_array_equal(fp32.dequantize(), table)
    np.testing.assert_array_equal(fp16.dequantize(),
                                  table.astype(np.float16).astype(np.float32))
    q, step = quantize_activations(table)  # the int8 products' own rounding
    np.testing.assert_array_equal(int8.q, q)
    np.testing.assert_array_equal(int8.step, step)
    err = np.abs(int8.dequantize() - table).max(axis=1)  # (V,)
    assert (err <= np.abs(table).max(axis=1) / 254 * (1 + 1e-6)).all()
    assert np.abs(fp16.dequantize() - table).max() <= 2.0**-11 * 40
    V, d = table.shape
    assert (fp32.nbytes, fp16.nbytes, int8.nbytes) == (4 * V * d, 2 * V * d,
                                                       V * d + 4 * V)
    with pytest.raises(ValueError, match="unknown embeddings 'int4'"):
        Embedding(table, "int4")


def test_int8_rows_into_an_int8_product_change_no_bit(table):
    """An int8 table's rows, given as they are, make the product that the
    int8 kernel computes from the original float rows: the table loses
    nothing the int8 system would keep."""
    from nmt8.native.kernels import available_kernels
    from nmt8.quant.int8 import quantize

    rng = np.random.default_rng(5)
    W = rng.standard_normal((24, 40)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    ids = np.array([3, 7, 8, 0, 299])
    emb = Embedding(table, "int8")
    for kernel in (k for k in available_kernels() if k != "maddubs"):
        w = Int8Weight(quantize(W, "per_row"), kernel)
        np.testing.assert_array_equal(linear(emb.lookup_rows(ids), w, b),
                                      linear(table[ids], w, b))


def _weights(W):
    from nmt8.native.fp32 import pack_fp32
    from nmt8.quant.int8 import quantize
    from nmt8.quant.int16 import quantize16
    from nmt8.quant.msfp import simulate_msfp

    return {"numpy": (W, 1e-6), "C fp32": (F32Weight(pack_fp32(W), "ref"), 1e-5),
            "int16": (Int16Weight(quantize16(W), "ref"), 1e-3),
            "int8": (Int8Weight(quantize(W), "ref"), 0.05),
            "msfp16": (MSFPWeight(simulate_msfp(W, "msfp16"), "msfp16"), 0.02)}


def test_every_weight_type_approximates_the_product():
    from nmt8.quant.int8 import quantize_activations

    rng = np.random.default_rng(6)
    W = rng.standard_normal((50, 30)).astype(np.float32)
    X = rng.standard_normal((3, 50)).astype(np.float32)
    b = rng.standard_normal(30).astype(np.float32)
    exact = X.astype(np.float64) @ W + b
    for name, (w, tol) in _weights(W).items():
        assert w.shape == (50, 30), name
        Y = linear(X, w, b)
        assert Y.dtype == np.float32 and Y.shape == (3, 30)
        rel = np.abs(Y - exact).max() / np.abs(exact).max()
        assert rel < tol, (name, rel)
        # int8 rows go to any product: dequantized, except into int8
        rows = Rows8(*quantize_activations(X))
        got, want = linear(rows, w, b), linear(rows.dequantize(), w, b)
        if name == "int8":  # the same int8 rows; x_step within float rounding
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


def test_profile_categories_name_the_precision():
    rng = np.random.default_rng(7)
    W = rng.standard_normal((20, 10)).astype(np.float32)
    with TIMERS.recording():
        for w, _ in _weights(W).values():
            linear(np.ones((2, 20), np.float32), w)
        linear(np.ones((40, 20), np.float32), W)
    assert set(TIMERS.calls) == {
        "product fp32 (matrix-vector)", "product fp32 (matrix-matrix)",
        "product fp32 (C kernel)", "product int16", "product int8",
        "product msfp16 (simulated in fp32)"}
