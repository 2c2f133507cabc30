"""The numpy model: golden values from PyTorch, loading and its errors."""

import json

import numpy as np
import pytest

import nmt8
from nmt8.model.params import param_shapes

from .conftest import SHIPPED


def test_golden_logprobs_from_pytorch(shipped):
    """The numpy decoder reproduces the trained PyTorch model's log-probs."""
    golden = json.loads((SHIPPED / "golden.json").read_text())
    assert len(golden) >= 5
    for g in golden:
        got = nmt8.score_ids(shipped, g["src_ids"][:-1], g["tgt_ids"])
        np.testing.assert_allclose(got, g["logprobs"], atol=1e-4, rtol=0)


def test_shipped_model_fits_budget():
    size = sum(f.stat().st_size for f in SHIPPED.iterdir())
    assert size <= 48 * 2**20


def test_param_names_are_nematus(shipped):
    shapes = param_shapes(shipped.cfg)
    assert set(shipped.params) == set(shapes)
    for name in ("decoder_W_comb_att", "decoder_U_att", "decoder_c_tt",
                 "encoder_r_Ux", "ff_logit_W", "Wemb_dec"):
        assert shipped.params[name].shape == shapes[name]
        assert shipped.params[name].dtype == np.float32


def test_random_model_is_deterministic():
    a = nmt8.random_model(8, 10, 20, 30, seed=5)
    b = nmt8.random_model(8, 10, 20, 30, seed=5)
    c = nmt8.random_model(8, 10, 20, 30, seed=6)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["ff_logit_W"], c.params["ff_logit_W"])


@pytest.fixture(scope="module")
def small_params():
    m = nmt8.random_model(4, 6, 10, 12, seed=0)
    return m.cfg, m.params


def _write(tmp_path, cfg, params):
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    cfg.to_json(d / "model.npz.json")
    np.savez(d / "model.npz", **params)
    return d


def test_load_roundtrip(tmp_path, small_params):
    cfg, params = small_params
    d = _write(tmp_path, cfg, {k: v.astype(np.float16) for k, v in params.items()})
    m = nmt8.load_model(d)
    np.testing.assert_array_equal(m.params["decoder_Wc"],
                                  params["decoder_Wc"].astype(np.float16))


def test_missing_model_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        nmt8.load_model("no-such-model")


def test_missing_tensor_named(tmp_path, small_params):
    cfg, params = small_params
    d = _write(tmp_path, cfg, {k: v for k, v in params.items() if k != "decoder_Wcx"})
    with pytest.raises(ValueError, match=r"model\.npz.*'decoder_Wcx' is missing"):
        nmt8.load_model(d)


def test_wrong_shape_named(tmp_path, small_params):
    cfg, params = small_params
    bad = dict(params, ff_logit_b=np.zeros(3, np.float32))
    d = _write(tmp_path, cfg, bad)
    with pytest.raises(ValueError, match="'ff_logit_b' has shape"):
        nmt8.load_model(d)


def test_truncated_file(tmp_path, small_params):
    cfg, params = small_params
    d = _write(tmp_path, cfg, params)
    data = (d / "model.npz").read_bytes()
    (d / "model.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="model.npz"):
        nmt8.load_model(d)


def test_nan_weights_rejected(tmp_path, small_params):
    cfg, params = small_params
    bad = dict(params)
    bad["decoder_U"] = params["decoder_U"].copy()
    bad["decoder_U"][0, 0] = np.nan
    with pytest.raises(ValueError, match="decoder_U"):
        nmt8.load_model(_write(tmp_path, cfg, bad))


def test_bad_options_file(tmp_path, small_params):
    cfg, params = small_params
    d = _write(tmp_path, cfg, params)
    (d / "model.npz.json").write_text("{not json")
    with pytest.raises(ValueError, match="model.npz.json"):
        nmt8.load_model(d)


def test_encode_rejects_bad_ids(tiny):
    with pytest.raises(ValueError):
        tiny.encode([1, 2, 999])
    with pytest.raises(ValueError):
        tiny.encode([])


# -- precisions -----------------------------------------------------------------
def test_bad_settings_are_one_clear_error(tiny):
    """Checked in Model.prepare/copy, before anything is built (was: copy
    accepted kernel=['ref'] and failed only at the first product)."""
    cases = [
        ({"precision": "int3"}, ValueError, "unknown precision 'int3'"),
        ({"precision": "int16", "kernel": "maddubs"}, ValueError,
         "unknown kernel 'maddubs' for precision 'int16'; choices: auto, ref"),
        ({"precision": "fp32", "kernel": "vnni"}, ValueError,
         "unknown kernel 'vnni' for precision 'fp32'"),
        ({"precision": "fp32", "scheme": "per_row"}, ValueError,
         "applies to precision 'int8' and 'int16' only, not 'fp32'"),
        ({"precision": "msfp16", "scheme": "per_tensor"}, ValueError,
         "not 'msfp16'"),
        ({"precision": "int8", "kernel": ["ref"]}, TypeError,
         "kernel must be a string, got list"),
        ({"precision": "int8", "kernel": None}, TypeError,
         "kernel must be a string, got NoneType"),
        ({"precision": "int8", "embeddings": "bf16"}, ValueError,
         "unknown embeddings 'bf16'"),
    ]
    before = tiny.W["logit"]
    for kw, error, match in cases:
        with pytest.raises(error, match=match):
            tiny.copy(**kw)
        with pytest.raises(error, match=match):
            tiny.prepare(**kw)
    assert tiny.W["logit"] is before and tiny.precision == "fp32"


def logits(m, ids=(3, 4, 5, 0)):
    enc = m.encode(list(ids))
    out, _, _ = m.step(enc, enc.s0, np.array([-1]))
    return out


@pytest.mark.parametrize("precision,kernel,tol", [
    ("fp32", "ref", 1e-5), ("fp32", "auto", 1e-5), ("int16", "ref", 1e-3),
    ("int8", "ref", 0.05), ("msfp16", "numpy", 0.05), ("msfp12", "numpy", 0.5)])
def test_every_precision_approximates_fp32(shipped, precision, kernel, tol):
    ref = logits(shipped)
    m = shipped.copy(precision, kernel=kernel)
    assert m.precision == precision and m.kernel != "auto"
    err = np.abs(logits(m) - ref).max() / np.abs(ref).max()
    assert err < tol


def test_msfp_weights_are_the_library_rounding(tiny):
    from nmt8.quant.msfp import simulate_msfp

    m = tiny.copy("msfp12")
    np.testing.assert_array_equal(m.W["dec_ctx"].W,
                                  simulate_msfp(tiny.W["dec_ctx"], "msfp12"))
    assert m.Wemb.dtype == "fp32" and "simulated" in repr(m)


def test_prepare_in_place_and_back(small_params):
    """An in-memory model prepared as int8 keeps its float32 tensors (its
    only source) and returns to the same fp32 bits."""
    cfg, params = small_params
    m = nmt8.model.model.Model(cfg, dict(params))
    ref = logits(m)
    m.prepare("int8", kernel="ref")
    assert m.precision == "int8"
    np.testing.assert_array_equal(m.params["decoder_Wc"], params["decoder_Wc"])
    np.testing.assert_array_equal(logits(m.copy("fp32")), ref)
    m.prepare("fp32")
    np.testing.assert_array_equal(logits(m), ref)


def test_same_settings_copy_shares_the_arrays(tiny):
    a = tiny.copy("int8", kernel="ref")
    b = a.copy("int8", kernel="ref")
    assert b.W["logit"] is a.W["logit"] and b.W is not a.W
    assert tiny.copy("fp32").W["enc_x"] is tiny.W["enc_x"]
