"""Fused matrices, their sources and the float32 tensors a model answers."""

import numpy as np
import pytest

import nmt8
from nmt8.model.params import param_shapes
from nmt8.model.weights import (
    FUSED,
    FileSource,
    MemorySource,
    Params,
    _fused,
    _slices,
)


@pytest.fixture(scope="module")
def small():
    m = nmt8.random_model(4, 6, 10, 12, seed=1)
    params = {k: m.params[k] + np.float32(0.5) for k in m.params}  # biases != 0
    return m.cfg, params


def test_every_matrix_fused_once(small):
    """Every 2-D Nematus tensor but the embeddings sits in exactly one fused
    matrix; the fused matrices' inputs agree in rows."""
    cfg, _ = small
    shapes = param_shapes(cfg)
    names = [n for ws, _ in FUSED.values() for n in ws]
    matrices = {n for n, s in shapes.items() if len(s) == 2}
    assert sorted(names) == sorted(matrices - {"Wemb", "Wemb_dec"})
    for ws, bs in FUSED.values():
        assert len({shapes[n][0] for n in ws}) == 1
        assert bs is None or len(bs) == len(ws)


@pytest.mark.parametrize("k", list(FUSED))
def test_fused_is_the_tensors_side_by_side(small, k):
    cfg, params = small
    shapes = param_shapes(cfg)
    W, b = _fused(params, shapes, k)
    names, biases = FUSED[k]
    np.testing.assert_array_equal(W, np.hstack([params[n] for n in names]))
    for n, bn, cols in _slices(shapes, k):
        np.testing.assert_array_equal(W[:, cols], params[n])
        if bn is not None:
            np.testing.assert_array_equal(b[cols], params[bn])
        elif b is not None:
            assert not b[cols].any()  # no Nematus bias: zeros
    assert (b is None) == (biases is None)
    assert W.dtype == np.float32 and W.flags.c_contiguous


def test_file_source_reads_one_tensor(small, tmp_path):
    cfg, params = small
    cfg.to_json(tmp_path / "model.npz.json")
    np.savez(tmp_path / "model.npz", **params)
    src = FileSource(tmp_path / "model.npz", cfg)
    np.testing.assert_array_equal(src.tensor("decoder_Wc"), params["decoder_Wc"])
    with src.open() as r:
        np.testing.assert_array_equal(r["ff_logit_b"], params["ff_logit_b"])


def test_params_answers_held_then_source(small):
    cfg, params = small
    shapes = param_shapes(cfg)
    held = {"ff_logit_b": params["ff_logit_b"]}
    p = Params(shapes, held, MemorySource(params))
    assert p["ff_logit_b"] is held["ff_logit_b"]
    assert p["decoder_Wc"] is params["decoder_Wc"]  # from the source
    assert p.held() == ["ff_logit_b"] and len(p) == len(shapes)
    assert set(p) == set(shapes)
    with pytest.raises(KeyError):
        p["no_such_tensor"]
    assert "1 held" in repr(p)


def test_fp32_params_are_views_of_the_fused_matrices(small):
    cfg, params = small
    m = nmt8.model.model.Model(cfg, params)
    assert np.shares_memory(m.params["decoder_Wc"], m.W["dec_ctx"])
    np.testing.assert_array_equal(m.params["decoder_Wc"], params["decoder_Wc"])
    assert set(m.params.held()) == set(param_shapes(cfg))


def test_build_holds_float32_only_for_fp32(small):
    """int8: no float32 weight held, so no in-memory source of its own;
    fp32 numpy: every tensor held, and its fused matrices kept for copies."""
    from nmt8.model.precision import check_options
    from nmt8.model.weights import build

    cfg, params = small
    shapes = param_shapes(cfg)
    W, b, emb, held, mem = build(MemorySource(params), shapes,
                                 check_options("int8", "ref"))
    assert mem is None and "decoder_Wc" not in held and "ff_logit_b" in held
    assert set(W) == set(FUSED) and emb["src"].dtype == "int8"
    W, b, emb, held, mem = build(MemorySource(params), shapes, check_options())
    assert set(held) == set(shapes) and mem.W is W and mem.b is b
