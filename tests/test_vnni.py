"""Tests of nmt8.quant.vnni: the packed layout of the VNNI kernel, with the
tile sizes the C library declares."""

import numpy as np
import pytest

from nmt8.native.clib import lib as _lib
from nmt8.quant import vnni
from nmt8.quant.int8 import quantize


def test_tile_sizes_come_from_the_library():
    assert (vnni.ROWS, vnni.DEPTH, vnni.ALIGN) == (
        _lib.NMT8_VNNI_ROWS, _lib.NMT8_VNNI_DEPTH, _lib.NMT8_VNNI_ALIGN)
    # one tile is one 64-byte AVX-512 vector
    assert vnni.ROWS * vnni.DEPTH == 64


@pytest.mark.parametrize("K, N", [(1, 1), (5, 16), (17, 33), (64, 15), (3, 40)])
def test_packed_layout(K, N):
    """Element by element: Wp[b, g, i, j] = Wq[R b + i, D g + j], zero
    outside Wq."""
    rng = np.random.default_rng(K * N)
    qW = quantize(rng.standard_normal((K, N)).astype(np.float32), "per_row")
    Wp = qW.packed                                  # (nb, G, ROWS, DEPTH)
    R, D = vnni.ROWS, vnni.DEPTH
    assert Wp.shape == vnni.packed_shape(N, K) == (-(-N // R), -(-K // D), R, D)
    assert Wp.dtype == np.int8 and Wp.ctypes.data % vnni.ALIGN == 0
    nb, G = Wp.shape[:2]
    for b in range(nb):
        for g in range(G):
            for i in range(R):
                for j in range(D):
                    o, k = R * b + i, D * g + j
                    expect = qW.Wq[o, k] if o < N and k < K else 0
                    assert Wp[b, g, i, j] == expect
    assert qW.packed is Wp                          # made once


def test_packed_copy_is_read_only():
    qW = quantize(np.ones((8, 20), np.float32))
    with pytest.raises(ValueError, match="read-only"):
        qW.packed[0, 0, 0, 0] = 3
