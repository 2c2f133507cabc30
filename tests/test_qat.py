"""Fake quantization (nmt8.train.qat) rounds as decoding does; STE gradients."""

import json

import numpy as np
import pytest

from nmt8.quant.int8 import quantize, quantize_activations

from .corpus import write_corpus

torch = pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")

SHAPES = [(1, 1), (7, 3), (33, 5), (64, 17), (100, 40), (130, 9)]


def _random(shape, seed, spread=True):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(shape).astype(np.float32)
    if spread:  # rows of very different sizes, and a zero row or column
        W *= np.exp(rng.uniform(-4, 2, shape[-1])).astype(np.float32)
        W[..., -1] = 0
    return W


def int4_reference(W: np.ndarray, G: int) -> np.ndarray:
    """numpy int4 round trip of W (in, out): step max|group| / 7 per G
    consecutive inputs of each output, q = clip(rint(w / step), -7, 7)."""
    K, N = W.shape
    NG = -(-K // G)
    WT = np.zeros((N, NG * G), np.float32)  # (out, padded in)
    WT[:, :K] = W.T
    Wg = WT.reshape(N, NG, G)
    step = (np.abs(Wg).max(-1, keepdims=True) / np.float32(7)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(step == 0, 0, np.clip(np.rint(Wg / step), -7, 7))
    return (q.astype(np.float32) * step).reshape(N, NG * G)[:, :K].T


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
def test_int8_weights_equal_numpy_quantize(shape, scheme):
    from nmt8.train.qat import fq_weight_int8

    W = _random(shape, sum(shape))
    q = quantize(W, scheme=scheme)
    want = (q.Wq.astype(np.float32) * q.step[:, None]).T  # (in, out)
    t = torch.tensor(W)
    absmax = t.abs().max() if scheme == "per_tensor" else t.abs().amax(0)
    np.testing.assert_array_equal(fq_weight_int8(t, absmax).numpy(), want)


@pytest.mark.parametrize("shape", SHAPES)
def test_activations_equal_numpy_quantize_activations(shape):
    from nmt8.train.qat import fq_activations

    X = _random(shape, 3 * sum(shape)).T.copy()  # (P, in), a zero row
    Xq, x_step = quantize_activations(X)
    want = Xq.astype(np.float32) * x_step[:, None]
    np.testing.assert_array_equal(fq_activations(torch.tensor(X)).numpy(), want)
    # batched rows (B, S, in) round row by row, as (B * S, in)
    got = fq_activations(torch.tensor(X).reshape(1, *X.shape))[0]
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("G", [32, 64])
def test_int4_weights_equal_group_reference(shape, G):
    from nmt8.train.qat import fq_weight_int4

    W = _random(shape, 5 * sum(shape) + G)
    got = fq_weight_int4(torch.tensor(W), G).numpy()
    np.testing.assert_array_equal(got, int4_reference(W, G))
    # at most 15 distinct values in each group of each output
    K = W.shape[0]
    for k in range(0, K, G):
        for o in range(W.shape[1]):
            assert len(np.unique(got[k:k + G, o])) <= 15


@pytest.mark.parametrize("which", ["int8_tensor", "int8_row", "int4_32",
                                   "int4_64", "act"])
def test_ste_gradient_is_identity_with_max_steps(which):
    from nmt8.train.qat import fq_activations, fq_weight_int4, fq_weight_int8

    W = torch.tensor(_random((70, 6), 11), requires_grad=True)
    f = {"int8_tensor": lambda w: fq_weight_int8(w),
         "int8_row": lambda w: fq_weight_int8(w, w.detach().abs().amax(0)),
         "int4_32": lambda w: fq_weight_int4(w, 32),
         "int4_64": lambda w: fq_weight_int4(w, 64),
         "act": fq_activations}[which]
    g = torch.randn(70, 6)
    f(W).backward(g)
    # steps from the maximum clip nothing: the gradient passes unchanged
    np.testing.assert_array_equal(W.grad.numpy(), g.numpy())


@pytest.mark.parametrize("divide", [False, True])
def test_ste_gradient_is_zero_where_clipped(divide):
    from nmt8.train.qat import fake_quant

    x = torch.tensor(_random((40, 9), 2, spread=False) * 3, requires_grad=True)
    step = torch.tensor(0.05)  # a range narrower than x's: some clip
    y = fake_quant(x, 1 / step, step, 7, divide=divide)
    y.backward(torch.ones_like(x))
    v = x.detach() / step if divide else x.detach() * (1 / step)
    clipped = torch.round(v).abs() > 7
    assert 0 < int(clipped.sum()) < x.numel()
    np.testing.assert_array_equal(x.grad.numpy(), (~clipped).float().numpy())
    np.testing.assert_array_equal(y.detach().abs().max().numpy(),
                                  np.float32(7 * 0.05))


def _tiny_model(E=8, H=12, V=(40, 30)):
    from nmt8.model.config import ModelConfig
    from nmt8.train.model import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(dim_word=E, dim=H, n_words_src=V[0], n_words=V[1])
    return build_model(cfg)


def test_per_tensor_scale_is_the_fused_matrix_s():
    from nmt8.model.weights import FUSED
    from nmt8.train.qat import FakeQuant

    model = _tiny_model()
    for mode, kw in (("int8", {"scheme": "per_tensor"}),
                     ("int8", {"scheme": "per_row"}), ("int4", {"group": 32})):
        fq = FakeQuant(mode, **kw)
        fq.refresh(model)
        for names, _ in FUSED.values():
            W = np.concatenate([model.nematus(n).detach().numpy()
                                .astype(np.float16).astype(np.float32)
                                for n in names], 1)  # (in, out), as stored
            if mode == "int8" or names == ("decoder_U_att",):
                q = quantize(W, scheme=kw.get("scheme", "per_tensor"))
                want = (q.Wq.astype(np.float32) * q.step[:, None]).T
            else:
                want = int4_reference(W, 32)
            np.testing.assert_array_equal(fq.weight(*names).detach().numpy(),
                                          want)


def test_step_by_step_encoder_equals_torch_gru():
    """The QAT encoder loop (each product rounded) is torch's GRU when the
    products are left exact."""
    model = _tiny_model().eval()

    class Exact:  # a FakeQuant that rounds nothing
        def refresh(self, m):
            self.m = m

        def product(self, x, *names):
            return x @ torch.cat([self.m.nematus(n) for n in names], -1)

    src = torch.randint(2, 40, (4, 7))
    slen = torch.tensor([7, 3, 5, 1])
    tgt = torch.randint(2, 30, (4, 6))
    with torch.no_grad():
        want = model(src, slen, tgt)
        model.qat = Exact()
        got = model(src, slen, tgt)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


def test_load_nematus_round_trip():
    a, b = _tiny_model(), _tiny_model(E=8, H=12)
    with torch.no_grad():
        for prm in b.parameters():
            prm.normal_()
    params = a.nematus_params()
    b.load_nematus(params)
    for k, v in b.nematus_params().items():
        np.testing.assert_array_equal(v, params[k])
    with pytest.raises(ValueError, match="missing"):
        b.load_nematus({k: v for k, v in params.items() if k != "Wemb"})
    bad = dict(params, decoder_U=params["decoder_U"][:, :3])
    with pytest.raises(ValueError, match="decoder_U"):
        b.load_nematus(bad)


def test_bad_settings_are_one_clear_error(tmp_path):
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    for kw, msg in (({"qat": "int4", "amp": "bf16"}, "choose one"),
                    ({"qat": "int3"}, "--qat"),
                    ({"qat": "int4", "qat_group": 48}, "--qat-group"),
                    ({"amp": "fp8"}, "--amp"),
                    ({"epoch_steps": 0}, "--epoch-steps")):
        with pytest.raises(ValueError, match=msg):
            train(TrainConfig(out=str(tmp_path), **kw), progress=False)


def test_qat_fine_tuning_from_an_exported_model(tmp_path):
    """A tiny run, exported; then int4 QAT from its model.npz: the loaded
    weights pass the golden check, epoch 0 is the starting point, and the
    QAT export reproduces in the numpy engine."""
    import nmt8
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    data = write_corpus(tmp_path / "data")
    base = train(TrainConfig(data=str(data), out=str(tmp_path / "base"),
                             dim_word=8, dim=8, vocab_size=60, epochs=1,
                             batch_size=16, warmup_steps=2, seed=7,
                             threads=1), progress=False)
    run = train(TrainConfig(data=str(data), out=str(tmp_path / "qat"),
                            init_model=str(base / "model.npz"), qat="int4",
                            qat_group=32, epochs=2, epoch_steps=2,
                            batch_size=16, warmup_steps=1, seed=7, threads=1),
                progress=False)
    log = json.loads((run / "train_log.json").read_text())
    assert log["init_golden_max_abs_diff"] == 0.0
    assert [e["epoch"] for e in log["log"]] == [0, 1, 2]
    assert log["log"][2]["step"] == 4
    assert log["train_config"]["dim"] == 8  # the model's, not the default
    model = nmt8.load_model(run)
    for g in json.loads((run / "golden.json").read_text()):
        got = nmt8.score_ids(model, g["src_ids"][:-1], g["tgt_ids"])
        np.testing.assert_allclose(got, g["logprobs"], atol=1e-4)


@pytest.mark.parametrize("scheme", ["per_tensor", "per_row"])
def test_fake_int8_model_scores_as_the_int8_decoder(scheme):
    """The shipped de-en under FakeQuant("int8") gives the int8 numpy
    engine's log-probs of the golden pairs, far closer than float32 does
    (measured: 0.004 vs 0.05 per tensor, 0.0006 vs 0.018 per row; the rest
    is float32 summation order and C's tanh, which can move a rounding)."""
    import nmt8
    from nmt8.model.config import ModelConfig
    from nmt8.model.params import resolve
    from nmt8.train.loop import load_checked
    from nmt8.train.model import build_model, pad
    from nmt8.train.qat import FakeQuant

    npz = resolve("de-en")
    model = build_model(ModelConfig.from_json(str(npz) + ".json")).eval()
    load_checked(model, npz, torch)
    model.qat = FakeQuant("int8", scheme=scheme)
    int8 = nmt8.load_model("de-en", precision="int8", scheme=scheme)
    fake = fp32 = 0.0
    for g in json.loads((npz.parent / "golden.json").read_text()):
        src, slen = pad([g["src_ids"]], torch)
        tgt, _ = pad([g["tgt_ids"]], torch)
        with torch.no_grad():
            lp = torch.log_softmax(model(src, slen, tgt), -1)[0]
        lp = lp[torch.arange(tgt.shape[1]), tgt[0]].numpy()
        want = np.array(nmt8.score_ids(int8, g["src_ids"][:-1], g["tgt_ids"]))
        fake = max(fake, np.abs(lp - want).max())
        fp32 = max(fp32, np.abs(np.array(g["logprobs"]) - want).max())
    assert fake < 0.25 * fp32
