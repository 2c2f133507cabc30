"""The numpy model: golden values from PyTorch, loading and its errors."""

import json

import numpy as np
import pytest

import nmt8
from nmt8.model import param_shapes

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
