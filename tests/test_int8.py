"""The int8 decoding path (Section 3): same fp32 file, every kernel agrees."""

import numpy as np
import pytest

import nmt8
from nmt8.quant.kernels import available_kernels

from .conftest import GERMAN

EXACT = ("ref", "sse4", "avx2", "vnni")


def test_portable_and_paper_kernels_available():
    # ref builds everywhere; on x86-64 the paper's SSE4.1 kernel must run too,
    # so the kernel comparisons below never shrink to one variant unnoticed
    import platform

    assert "ref" in available_kernels()
    if platform.machine() in ("x86_64", "AMD64"):
        assert {"sse4", "avx2"} <= set(available_kernels())


@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
def test_every_kernel_gives_the_same_translation(shipped, scheme):
    kernels = [k for k in EXACT if k in available_kernels()]
    assert len(kernels) >= 2 or platform_is_portable()
    outs = {}
    for k in kernels:
        tr = nmt8.Translator(shipped, precision="int8", kernel=k, scheme=scheme, beam=3)
        outs[k] = tr.translate(GERMAN)
    first = outs[kernels[0]]
    assert all(o == first for o in outs.values()), outs
    assert all(first)


def platform_is_portable():
    import platform

    return platform.machine() not in ("x86_64", "AMD64")


def test_every_kernel_gives_identical_logits(tiny):
    enc_out = {}
    for k in [k for k in EXACT if k in available_kernels()]:
        m = tiny.copy("int8", kernel=k)
        enc = m.encode([3, 4, 5, 0])
        logits, s, alpha = m.step(enc, enc.s0, np.array([-1]))
        enc_out[k] = (enc.h, logits, s, alpha)
    ref = enc_out["ref"]
    for k, arrays in enc_out.items():
        for a, b in zip(arrays, ref):
            np.testing.assert_array_equal(a, b, err_msg=k)


def test_int8_step_approximates_fp32(shipped):
    src = shipped.params["Wemb"].shape[0] // 2
    ids = [src, src + 1, src + 2, 0]
    out = {}
    for prec in ("fp32", "int8"):
        m = shipped.copy(prec)
        enc = m.encode(ids)
        logits, _, _ = m.step(enc, enc.s0, np.array([-1]))
        out[prec] = logits
    err = np.abs(out["int8"] - out["fp32"]).max() / np.abs(out["fp32"]).max()
    assert err < 0.05


def test_int8_weights_are_quantized_from_the_fp32_params(tiny):
    from nmt8.quant import dequantize

    m = tiny.copy("int8", scheme="per_row")
    W = m.W["logit"].q
    fp = tiny.params["ff_logit_W"]
    assert np.abs(dequantize(W) - fp).max() <= 0.5 / W.scale.min() + 1e-7
    assert m.nbytes() < tiny.nbytes()


def test_unavailable_kernel_is_a_clear_error(tiny, monkeypatch):
    import nmt8.quant.kernels as K

    monkeypatch.setattr(K, "available_kernels", lambda: ["ref"])
    with pytest.raises(ValueError, match="not available"):
        nmt8.Translator(tiny, precision="int8", kernel="vnni")
    with pytest.raises(ValueError, match="precision"):
        tiny.copy("int4")
