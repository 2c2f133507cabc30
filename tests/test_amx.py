"""The AMX int8 kernel (csrc/nmt8_amx.c): the same exact sums as the
reference kernel, and the same bits after the epilogue, on every shape
edge (k not a multiple of 64, rows not a multiple of 32, an odd number of
16-output blocks); a clear refusal where the CPU or OS lacks AMX."""

import numpy as np
import pytest

from nmt8.native.calls import handle
from nmt8.native.clib import ffi, lib
from nmt8.native.dispatch import INT8
from nmt8.native.kernels import int8_accumulate, int8_matmul_q
from nmt8.quant.int8 import quantize, quantize_activations

SHAPES = [(1, 1, 1), (3, 5, 2), (64, 16, 16), (65, 17, 17), (100, 33, 33),
          (257, 48, 31), (500, 301, 70), (7, 1, 40), (128, 32, 32),
          (1000, 3000, 64), (2000, 1000, 5)]


def _call(Q, X, out=None, x_step=None, bias=None):
    h = handle(Q, INT8.ids["gemm"])  # the VNNI packed layout
    P = X.shape[0]
    if x_step is None:
        acc = np.full((P, h.N), 7, np.int32)
        rc = lib.nmt8_accum_amx(ffi.from_buffer("int32_t[]", acc), h.w,
                                ffi.from_buffer("int8_t[]", X), P)
        return rc, acc
    Y = np.full((P, h.N), np.nan, np.float32)
    rc = lib.nmt8_amx_fused(
        ffi.from_buffer("float[]", Y), h.w, ffi.from_buffer("int8_t[]", X),
        ffi.from_buffer("float[]", x_step),
        ffi.NULL if bias is None else ffi.from_buffer("float[]", bias), P)
    return rc, Y


# where the CPU or OS has no AMX, every call must refuse and write nothing
AMX = bool(lib.nmt8_amx_usable())


@pytest.mark.parametrize(("K", "N", "P"), SHAPES)
def test_amx_sums_are_exact(K, N, P):
    rng = np.random.default_rng(K * 7919 + N * 31 + P)
    Q = quantize(rng.standard_normal((K, N)).astype(np.float32), "per_row")
    X = rng.integers(-127, 128, (P, K), dtype=np.int8)
    X[0, :] = -127  # the extremes
    rc, acc = _call(Q, X)
    if not AMX:
        assert rc == lib.NMT8_EUNSUPPORTED and (acc == 7).all()
        return
    assert rc == lib.NMT8_OK
    np.testing.assert_array_equal(acc, int8_accumulate(Q, X, "ref"))


@pytest.mark.parametrize(("K", "N", "P"), SHAPES)
@pytest.mark.parametrize("with_bias", [False, True])
def test_amx_product_has_the_same_bits(K, N, P, with_bias):
    rng = np.random.default_rng(K + N + P)
    Q = quantize(rng.standard_normal((K, N)).astype(np.float32), "per_row")
    Xq, x_step = quantize_activations(
        rng.standard_normal((P, K)).astype(np.float32))
    bias = rng.standard_normal(N).astype(np.float32) if with_bias else None
    rc, Y = _call(Q, Xq, x_step=x_step, bias=bias)
    if not AMX:
        assert rc == lib.NMT8_EUNSUPPORTED and np.isnan(Y).all()
        return
    assert rc == lib.NMT8_OK
    want = int8_matmul_q(Q, Xq, x_step, kernel="ref", bias=bias)
    assert Y.tobytes() == want.tobytes()


def test_amx_refuses_cleanly():
    """Bad arguments (or no AMX) get an error code, never a crash."""
    rng = np.random.default_rng(0)
    Q = quantize(rng.standard_normal((8, 16)).astype(np.float32))
    h = handle(Q, INT8.ids["gemm"])
    acc = np.zeros((2, 16), np.int32)
    X = np.zeros((2, 8), np.int8)
    rc = lib.nmt8_accum_amx(ffi.from_buffer("int32_t[]", acc), h.w,
                            ffi.from_buffer("int8_t[]", X), -1)
    want = lib.NMT8_EBADARG if AMX else lib.NMT8_EUNSUPPORTED
    assert rc == want
    rc = lib.nmt8_amx_fused(ffi.from_buffer("float[]", acc.view(np.float32)),
                            h.w, ffi.from_buffer("int8_t[]", X), ffi.NULL,
                            ffi.NULL, 2)
    assert rc == want
