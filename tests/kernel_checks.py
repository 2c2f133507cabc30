"""Checks shared by the tests of the int8, int16 and fp32 products of
``nmt8.quant`` (tests/test_kernels.py, test_gemm.py, test_int16.py,
test_fp32_kernels.py).

Each takes the product function (``int8_matmul``, ``int16_matmul``,
``fp32_matmul``), a weight matrix it accepts, and a kernel name, and
asserts what every one of them documents: misaligned, strided and float64
X, misaligned bias and out give the same bits; out may overlap X; an empty
batch still checks the bias; a NaN or inf in X or the bias is refused
before anything is written.  The expected values come from the caller
(a numpy reference, or the same product on plain inputs).
"""

import numpy as np
import pytest

# X a (16 in, 10 out) matrix refuses, and a word its error names
BAD_X = [
    (np.ones((2, 16), np.int32), "float"),
    (np.ones(16, np.float32), "2-D"),
    (np.ones((2, 15), np.float32), "in_features"),
]


def weights_16x10() -> np.ndarray:
    """The float (16 in, 10 out) matrix the argument checks multiply by."""
    return np.random.default_rng(0).standard_normal((16, 10))

NONFINITE = [np.nan, np.inf, -np.inf, 1e39]   # 1e39: inf in float32


def kernel_fixture(names, available, what: str):
    """A module-scoped fixture ``kernel``: each of ``names``, skipped where
    ``available()`` (this CPU) lacks it."""
    @pytest.fixture(scope="module", params=names)
    def kernel(request):
        if request.param not in available():
            pytest.skip(f"{what} kernel {request.param!r} not supported by "
                        "this CPU")
        return request.param
    return kernel


def unaligned(a):
    """A copy of ``a`` whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)[1:]
    out = raw.view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 2 == 1
    return out


def check_layouts(matmul, W, X, b, expect, kernel):
    """X (P, in) float32 misaligned, Fortran-ordered, strided or float64,
    the bias b misaligned, a misaligned out: all give ``expect``."""
    P, K = X.shape
    wide = np.zeros((P, 2 * K), np.float32)
    wide[:, ::2] = X
    for Xv in (unaligned(X), np.asfortranarray(X), wide[:, ::2],
               X.astype(np.float64)):
        np.testing.assert_array_equal(
            matmul(W, Xv, kernel=kernel, bias=unaligned(b)), expect)
    out = unaligned(np.zeros(expect.shape, np.float32))
    assert matmul(W, X, kernel=kernel, bias=b, out=out) is out
    np.testing.assert_array_equal(out, expect)


def check_out_overlapping_x(matmul, W, X, expect, kernel, bias=None):
    """As documented: out may be the very memory X (P, in) is read from."""
    P, K = X.shape
    N = expect.shape[1]
    buf = np.zeros(P * max(K, N), np.float32)
    Xo = buf[:P * K].reshape(P, K)
    Xo[...] = X
    out = buf[:P * N].reshape(P, N)
    assert np.shares_memory(Xo, out)
    assert matmul(W, Xo, kernel=kernel, bias=bias, out=out) is out
    np.testing.assert_array_equal(out, expect)


def check_every_layout(matmul, make, expected, kernel):
    """``check_layouts`` and ``check_out_overlapping_x`` for W = ``make``
    of a random (133 in, 45 out) float matrix, 5 rows of X and a bias,
    against ``expected(W, X, b)``."""
    rng = np.random.default_rng(3)
    K, N, P = 133, 45, 5
    W = make(rng.standard_normal((K, N)))
    X = rng.standard_normal((P, K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    expect = expected(W, X, b)
    check_layouts(matmul, W, X, b, expect, kernel)
    check_out_overlapping_x(matmul, W, X, expect, kernel, bias=b)


def check_degenerate(matmul, W, kernel):
    """W all ones, of shape (in, out) with in or out 0 (or 1): each output
    is ``in + b[o]``."""
    K, N = W.shape
    b = np.arange(N, dtype=np.float32)
    Y = matmul(W, np.ones((3, K), np.float32), kernel=kernel, bias=b)
    np.testing.assert_array_equal(Y, np.broadcast_to(b + K, Y.shape))


def check_empty_batch(matmul, W, kernel):
    """No rows of X: an empty float32 result, and the bias still checked."""
    K, N = W.shape
    Y = matmul(W, np.empty((0, K), np.float32), kernel=kernel)
    assert Y.shape == (0, N) and Y.dtype == np.float32
    b = np.zeros(N, np.float32)
    b[N // 2] = np.nan
    with pytest.raises(ValueError, match="bias contains NaN"):
        matmul(W, np.empty((0, K), np.float32), kernel=kernel, bias=b)


def check_nonfinite(matmul, W, kernel, value):
    """``value`` (one of NONFINITE) in X or in the bias, for W of shape
    (16, 10): refused, and out left as it was.  Returns that X (3, 16),
    float64."""
    X = np.ones((3, 16))
    X[2, 7] = value
    out = np.zeros((3, 10), np.float32)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        matmul(W, X, kernel=kernel, out=out)
    with np.errstate(over="ignore"):
        b = np.where(np.arange(10) == 4, value, 1.0).astype(np.float32)
    with pytest.raises(ValueError, match="bias contains NaN or inf"):
        matmul(W, np.ones((3, 16), np.float32), kernel=kernel, bias=b, out=out)
    np.testing.assert_array_equal(out, 0)           # nothing written
    return X


def check_bad_x(matmul, W):
    """Each X of BAD_X: a ValueError naming what is wrong (W: 16 in)."""
    for X, match in BAD_X:
        with pytest.raises(ValueError, match=match):
            matmul(W, X)


def check_kernel_names(matmul, W, ladder, monkeypatch, unknown):
    """For the kernels ``ladder`` (a ``nmt8.native.dispatch.Family``) of
    matmul: an unknown name lists the known ones, on a CPU that runs only
    ``ref`` the others are refused, and on the portable choice "auto"
    means ref."""
    from nmt8.native import dispatch

    X = np.ones((1, 16), np.float32)
    known = ".*".join(repr(k) for k in ladder.names[1:])
    with pytest.raises(ValueError, match=f"unknown kernel {unknown!r}.*{known}"
                       ".*auto"):
        matmul(W, X, kernel=unknown)
    monkeypatch.setattr(ladder, "available", ("ref",))
    for name in ladder.names[1:]:
        with pytest.raises(ValueError, match="not supported.*available"):
            matmul(W, X, kernel=name)
    with dispatch.forced("portable"):
        assert ladder.resolve() == "ref"
        np.testing.assert_array_equal(matmul(W, X),
                                      matmul(W, X, kernel="ref"))


# the prefetch distances of the fp32 and int16 vector kernels the tests
# run (nmt8.native.tuning.set_ladder_prefetch): none, one line, the default,
# the largest
LADDER_PREFETCH = (0, 64, 4096, 16384, 65536)


def check_ladder_prefetch(matmul, W, kernel):
    """Every prefetch distance of ``nmt8 tune`` gives the same bits as the
    default: X of 1, 2, 3 and 5 rows against W (one prepared matrix)."""
    from nmt8.native import tuning

    rng = np.random.default_rng(7)
    before = tuning.stream()
    try:
        for P in (1, 2, 3, 5):
            X = rng.standard_normal((P, W.in_features)).astype(np.float32)
            tuning.set_all(before)
            want = matmul(W, X, kernel=kernel)
            for pf in LADDER_PREFETCH:
                tuning.set_ladder_prefetch(pf)
                np.testing.assert_array_equal(matmul(W, X, kernel=kernel),
                                              want)
    finally:
        tuning.set_all(before)
