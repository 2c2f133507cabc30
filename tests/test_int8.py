"""The int8 decoding path (Section 3): same fp32 file, every kernel agrees."""

import numpy as np
import pytest

import nmt8
from nmt8.native.kernels import available_kernels

from .conftest import GERMAN

EXACT = ("ref", "sse4", "avx2", "vnni")


def test_portable_and_paper_kernels_available():
    # ref builds everywhere; on x86-64 the paper's SSE4.1 kernel must run too,
    # so the kernel comparisons below never shrink to one variant unnoticed
    import platform

    assert "ref" in available_kernels()
    if platform.machine() in ("x86_64", "AMD64"):
        assert {"sse4", "avx2"} <= set(available_kernels())


@pytest.fixture(scope="module", params=EXACT)
def kernel(request):
    if request.param not in available_kernels():
        pytest.skip(f"kernel {request.param!r} not supported by this CPU")
    return request.param


_REF = {}


def translate(model, kernel, scheme):
    tr = nmt8.Translator(model, precision="int8", kernel=kernel, scheme=scheme,
                         beam=3)
    return tr.translate(GERMAN)


@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
def test_every_kernel_gives_the_same_translation(shipped, kernel, scheme):
    if scheme not in _REF:
        _REF[scheme] = translate(shipped, "ref", scheme)
    assert all(_REF[scheme])
    assert translate(shipped, kernel, scheme) == _REF[scheme]


def step_outputs(model):
    enc = model.encode([3, 4, 5, 0])
    logits, s, alpha = model.step(enc, enc.s0, np.array([-1]))
    return enc.h, logits, s, alpha


def test_every_kernel_gives_identical_logits(tiny, kernel):
    ref = step_outputs(tiny.copy("int8", kernel="ref"))
    for a, b in zip(step_outputs(tiny.copy("int8", kernel=kernel)), ref):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_used_int8_model_pickles_and_copies(kernel, how):
    """A model that has decoded (so its matrices have C handles, and VNNI
    copies with vnni) pickles and deep-copies, and the copy decodes the same
    bits (was: cannot pickle '_cffi_backend.__CDataFromBuf')."""
    import copy
    import pickle

    m = nmt8.random_model(emb=12, hidden=16, src_vocab=40, tgt_vocab=30,
                          seed=5).copy("int8", kernel=kernel)
    src = [3, 4, 5, 6]                       # ids without </s>
    first = nmt8.beam_search(m, src, beam=3, max_len=8, n_best=3)
    twin = (pickle.loads(pickle.dumps(m)) if how == "pickle"
            else copy.deepcopy(m))
    again = nmt8.beam_search(twin, src, beam=3, max_len=8, n_best=3)
    assert [h.ids for h in again] == [h.ids for h in first]
    assert [h.score for h in again] == [h.score for h in first]
    for a, b in zip(step_outputs(twin), step_outputs(m)):
        np.testing.assert_array_equal(a, b)


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
    from nmt8.quant.int8 import dequantize

    m = tiny.copy("int8", scheme="per_row")
    W = m.W["logit"].q
    fp = tiny.params["ff_logit_W"]
    assert np.abs(dequantize(W) - fp).max() <= 0.5 / W.scale.min() + 1e-7
    assert m.nbytes() < tiny.nbytes()


def test_unavailable_kernel_is_a_clear_error(tiny, monkeypatch):
    import nmt8.native.kernels as K

    monkeypatch.setattr(K, "available_kernels", lambda: ["ref"])
    with pytest.raises(ValueError, match="not available"):
        nmt8.Translator(tiny, precision="int8", kernel="vnni")
    with pytest.raises(ValueError, match="precision"):
        tiny.copy("int3")


def test_int8_embeddings_change_no_bit_of_int8_output(shipped):
    """int8 embeddings (the default for int8) are the rows the int8 products
    quantize anyway: the n-best lists and scores equal those with fp32
    embeddings, bit for bit, at a quarter of the bytes."""
    from nmt8.testing import PAIRS

    out = {}
    for emb in ("fp32", "int8"):
        tr = nmt8.Translator(shipped, precision="int8", kernel="ref",
                             embeddings=emb)
        ids = tr.tokenize([de for de, _ in PAIRS[:6]])
        out[emb] = [[(h.ids, h.score) for h in hs]
                    for hs in tr.translate_ids(ids, n_best=3)]
        assert tr.models[0].Wemb.dtype == emb
    assert out["int8"] == out["fp32"]
    m = shipped.copy("int8")
    assert m.embeddings == "int8"
    V, E = shipped.params["Wemb"].shape
    assert m.Wemb.nbytes == V * E + 4 * V


@pytest.mark.parametrize("K", [1, 5, 16, 37, 64])
def test_c_quantizer_finds_the_maximum_and_a_nan_anywhere(K):
    """The C row quantizer reads a row in blocks of 16, then 4, then one by
    one: a row's largest |x| and a NaN count wherever they sit."""
    from nmt8.native.kernels import _quantize_rows
    from nmt8.quant.int8 import quantize_activations

    rng = np.random.default_rng(K)
    for k in range(K):
        X = rng.uniform(-1, 1, (2, K)).astype(np.float32)
        X[1, k] = -3.0  # the largest |x| of row 1, at position k
        Xq, step = _quantize_rows(X)
        ref_q, ref_step = quantize_activations(X)
        np.testing.assert_array_equal(Xq, ref_q)
        np.testing.assert_array_equal(step, ref_step)
        assert step[1] == np.float32(3.0) / np.float32(127.0)
        X[1, k] = np.nan
        with pytest.raises(ValueError, match="NaN or inf"):
            _quantize_rows(X)
