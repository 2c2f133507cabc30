"""The precision options: checked settings and the weight each one builds."""

import numpy as np
import pytest

from nmt8.model.precision import (
    DEFAULT,
    PRECISIONS,
    Options,
    check_options,
    kernel_choices,
    make_weight,
)
from nmt8.model.products import F32Weight, Int8Weight, Int16Weight, MSFPWeight
from nmt8.timers import CATEGORIES, TIMERS


def test_defaults_are_spelt_out():
    assert check_options() == Options("fp32", "numpy", None, "fp32")
    assert check_options("int8") == Options("int8", "auto", "per_tensor", "int8")
    i16 = check_options("int16")
    assert i16.kernel in kernel_choices("int16") and i16.kernel != "auto"
    assert (i16.scheme, i16.embeddings) == ("per_tensor", "fp16")
    assert check_options("msfp12") == Options("msfp12", "numpy", None, "fp32")
    assert check_options("int8", "ref", "per-row").scheme == "per_row"


@pytest.mark.parametrize("kw,error,match", [
    ({"precision": 8}, TypeError, "precision must be a string, got int"),
    ({"precision": "fp8"}, ValueError, "unknown precision 'fp8'"),
    ({"precision": "int8", "scheme": "per_col"}, ValueError,
     "unknown scheme 'per_col'"),
    ({"precision": "int16", "embeddings": "int4"}, ValueError,
     "unknown embeddings 'int4'"),
])
def test_bad_option_is_one_clear_error(kw, error, match):
    with pytest.raises(error, match=match):
        check_options(**kw)


def test_unavailable_kernel_named(monkeypatch):
    from nmt8.native import kernels

    monkeypatch.setattr(kernels, "available_kernels", lambda: ["ref"])
    with pytest.raises(ValueError, match="'avx2' is not available on this CPU"):
        check_options("int8", "avx2")


W = np.random.default_rng(0).standard_normal((24, 40)).astype(np.float32)


@pytest.mark.parametrize("precision,kernel,kind", [
    ("fp32", "numpy", np.ndarray), ("fp32", "ref", F32Weight),
    ("int16", "ref", Int16Weight), ("int8", "ref", Int8Weight),
    ("msfp16", "numpy", MSFPWeight)])
def test_weight_type_per_precision(precision, kernel, kind):
    w = make_weight(W, check_options(precision, kernel))
    assert isinstance(w, kind)
    if kind is np.ndarray:
        assert w is W  # fp32 numpy: the float32 matrix itself


@pytest.mark.parametrize("kernel,packed", [("ref", False), ("vnni", True),
                                           ("gemm", True)])
def test_vnni_layout_packed_at_load(kernel, packed):
    """vnni and gemm read the VNNI layout: made when the weight is built,
    not at the first product (ref reads the plain int8 matrix)."""
    from nmt8.native.kernels import available_kernels

    if kernel not in available_kernels():
        pytest.skip(f"{kernel} not available on this CPU")
    w = make_weight(W, check_options("int8", kernel))
    assert ("packed" in w.q.__dict__) is packed


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_product_is_a_listed_timer_category(tiny, precision):
    """The profile (nmt8.lab.speed.measure) reads CATEGORIES only: a product
    category missing from it would vanish from Tables 1 and 2 (was: the
    C fp32, int16 and msfp products were not listed)."""
    kernel = "ref" if precision in ("fp32", "int16", "int8") else DEFAULT
    m = tiny.copy(precision, kernel=kernel)
    with TIMERS.recording():
        enc = m.encode([3, 4, 5, 0])
        m.step(enc, enc.s0, np.array([-1]))
    products = {c for c in TIMERS.seconds if c.startswith("product")}
    assert products and products <= set(CATEGORIES)
