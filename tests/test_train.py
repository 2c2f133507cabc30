"""Training exports a model the numpy engine reproduces (golden values)."""

import json
import shutil

import numpy as np
import pytest

import nmt8

from .corpus import write_corpus

torch = pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    root = tmp_path_factory.mktemp("train")
    data = write_corpus(root / "data")
    tc = TrainConfig(data=str(data), out=str(root / "run"), dim_word=8, dim=8,
                     vocab_size=60, epochs=2, batch_size=16, warmup_steps=2,
                     seed=7, threads=1, dropout_hidden=0.2)
    return train(tc, progress=False)


@pytest.fixture(scope="module")
def trained_en_de(tmp_path_factory):
    """A tiny en->de run: the same corpus files, read the other way round."""
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    root = tmp_path_factory.mktemp("train_en_de")
    data = write_corpus(root / "data")  # .de files German, .en files English
    tc = TrainConfig(data=str(data), out=str(root / "run"), src_lang="en",
                     tgt_lang="de", dim_word=8, dim=6, vocab_size=60, epochs=2,
                     batch_size=16, warmup_steps=2, seed=3, threads=1)
    return train(tc, progress=False)


def test_export_files(trained):
    for f in ("model.npz", "model.npz.json", "bpe.de.model", "bpe.en.model",
              "bpe.de.json", "golden.json", "train_log.json"):
        assert (trained / f).exists(), f
    log = json.loads((trained / "train_log.json").read_text())
    assert log["best_epoch"] in (1, 2) and len(log["log"]) == 2


def test_numpy_reproduces_golden(trained):
    model = nmt8.load_model(trained)
    for g in json.loads((trained / "golden.json").read_text()):
        got = nmt8.score_ids(model, g["src_ids"][:-1], g["tgt_ids"])
        np.testing.assert_allclose(got, g["logprobs"], atol=1e-4)


def test_exported_model_translates(trained):
    tr = nmt8.Translator(trained, beam=2)
    out = tr.translate(["Ein Hund läuft im Park.", ""])
    assert len(out) == 2 and out[1] == "" and isinstance(out[0], str)


def test_hidden_dropout_only_while_training():
    from nmt8.model.config import ModelConfig
    from nmt8.train.model import build_model

    cfg = ModelConfig(dim_word=6, dim=5, n_words_src=11, n_words=13)
    torch.manual_seed(0)
    a = build_model(cfg, dropout=0.0, dropout_hidden=0.0)
    b = build_model(cfg, dropout=0.0, dropout_hidden=0.5)
    b.load_state_dict(a.state_dict())
    src, slen = torch.tensor([[3, 4, 5, 0]]), torch.tensor([4])
    tgt = torch.tensor([[6, 7, 0]])
    a.eval(), b.eval()
    assert torch.equal(a(src, slen, tgt), b(src, slen, tgt))
    b.train()
    assert not torch.equal(a(src, slen, tgt), b(src, slen, tgt))


def test_batches_cover_every_pair_once_with_little_padding():
    import random

    from nmt8.train.loop import batches

    rng = random.Random(0)
    pairs = [([1] * rng.randint(1, 30), [2] * rng.randint(1, 30))
             for _ in range(1000)]
    a = batches(pairs, 16, random.Random(1), pool=10)
    b = batches(pairs, 16, random.Random(2), pool=10)
    for chunks in (a, b):
        assert sorted(i for c in chunks for i in c) == list(range(1000))
        assert all(1 <= len(c) <= 16 for c in chunks)
        padded = sum(len(c) * max(len(pairs[i][1]) for i in c) for c in chunks)
        assert padded < 1.2 * sum(len(t) for _, t in pairs)  # random: ~1.8x
    assert sorted(map(sorted, a)) != sorted(map(sorted, b))  # new batches


@pytest.mark.parametrize("scale", [1.0, 16.0])
def test_embedding_learning_rate_scale(scale):
    from nmt8.model.config import ModelConfig
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import make_optimizer, set_lr
    from nmt8.train.model import build_model

    cfg = ModelConfig(dim_word=6, dim=5, n_words_src=11, n_words=13)
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = make_optimizer(model, TrainConfig(lr=1e-3, emb_lr_scale=scale), torch)
    set_lr(opt, 1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    src, slen = torch.tensor([[3, 4, 5, 0]]), torch.tensor([4])
    model(src, slen, torch.tensor([[6, 7, 0]])).sum().backward()
    opt.step()
    after = model.state_dict()
    # Adam's first step moves every weight with a gradient by lr (sign(g))
    moved = (after["Wemb"] - before["Wemb"]).abs()[[3, 4, 5]]
    np.testing.assert_allclose(moved.numpy(), 1e-3 * scale, rtol=1e-3)
    other = (after["p.ff_logit_W"] - before["p.ff_logit_W"]).abs().max()
    assert abs(float(other) - 1e-3) < 1e-6


# the keys of every checkpoint nmt8 train has written (epochN.pt, best.pt):
# --export-from and --init load them, so they must never change
CHECKPOINT_KEYS = ["Wemb", "Wemb_dec"] + [
    f"enc.{w}_l0{sfx}" for sfx in ("", "_reverse")
    for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")] + [
    f"p.{n}" for n in (
        "ff_state_W", "ff_state_b", "decoder_W", "decoder_b", "decoder_U",
        "decoder_Wx", "decoder_bx", "decoder_Ux", "decoder_W_comb_att",
        "decoder_Wc_att", "decoder_b_att", "decoder_U_att", "decoder_c_tt",
        "decoder_U_nl", "decoder_b_nl", "decoder_Ux_nl", "decoder_bx_nl",
        "decoder_Wc", "decoder_Wcx", "ff_logit_lstm_W", "ff_logit_lstm_b",
        "ff_logit_prev_W", "ff_logit_prev_b", "ff_logit_ctx_W",
        "ff_logit_ctx_b", "ff_logit_W", "ff_logit_b")]


@pytest.mark.parametrize("E,H,Vs,Vt", [(6, 5, 11, 13), (4, 9, 17, 7)])
def test_pytorch_parameters_are_param_shapes(E, H, Vs, Vt):
    from nmt8.model.config import ModelConfig
    from nmt8.model.params import param_shapes
    from nmt8.train.model import build_model

    cfg = ModelConfig(dim_word=E, dim=H, n_words_src=Vs, n_words=Vt)
    model = build_model(cfg)
    got = {k: v.shape for k, v in model.nematus_params().items()}
    assert got == param_shapes(cfg)
    assert sorted(model.state_dict()) == sorted(CHECKPOINT_KEYS)
    # nothing trainable outside the Nematus tensors: as many scalars, less
    # the GRU's second bias, whose [r | u] part Nematus folds into b
    n_torch = sum(q.numel() for q in model.parameters())
    n_nematus = sum(int(np.prod(s)) for s in param_shapes(cfg).values())
    assert n_torch - 2 * 2 * H - 2 * H == n_nematus


def test_golden_pairs_follow_the_direction_en_de(trained_en_de):
    from nmt8.testing import GOLDEN_PAIRS

    cfg = json.loads((trained_en_de / "model.npz.json").read_text())
    assert (cfg["src_lang"], cfg["tgt_lang"]) == ("en", "de")
    golden = json.loads((trained_en_de / "golden.json").read_text())
    assert [(g["src"], g["tgt"]) for g in golden] == [
        (en, de) for de, en in GOLDEN_PAIRS]
    src_bpe = nmt8.serve.text.BPE(trained_en_de / "bpe.en.model")
    assert golden[0]["src_ids"] == src_bpe.encode(GOLDEN_PAIRS[0][1]) + [0]
    model = nmt8.load_model(trained_en_de)
    for g in golden:
        got = nmt8.score_ids(model, g["src_ids"][:-1], g["tgt_ids"])
        np.testing.assert_allclose(got, g["logprobs"], atol=1e-4)


def test_export_from_averages_checkpoints_without_the_corpus(
        trained_en_de, tmp_path):
    from nmt8.cli import main
    from nmt8.model.config import ModelConfig
    from nmt8.train.model import build_model

    for f in ("bpe.en.model", "bpe.de.model", "bpe.en.json", "bpe.de.json"):
        shutil.copy(trained_en_de / f, tmp_path / f)
    a, b = trained_en_de / "epoch1.pt", trained_en_de / "epoch2.pt"
    assert main(["train", "--export-from", f"{a},{b}", "--out", str(tmp_path),
                 "--src-lang", "en", "--tgt-lang", "de", "--dim-word", "8",
                 "--dim", "6", "--data", str(tmp_path / "no-corpus")]) == 0
    cfg = ModelConfig.from_json(tmp_path / "model.npz.json")
    assert (cfg.src_lang, cfg.tgt_lang) == ("en", "de")
    assert cfg.bpe_models == ["bpe.en.model", "bpe.de.model"]
    # the stored weights are the mean of the two state dicts, in float16
    sa, sb = torch.load(a), torch.load(b)
    ref = build_model(cfg)
    ref.load_state_dict({k: (sa[k] + sb[k]) / 2 for k in sa})
    want = ref.nematus_params()
    with np.load(tmp_path / "model.npz") as npz:
        assert sorted(npz.files) == sorted(want)
        for k, w in want.items():
            np.testing.assert_array_equal(npz[k], w.astype(np.float16))
    golden = json.loads((tmp_path / "golden.json").read_text())
    assert golden[0]["src"].startswith("A dog")
    model = nmt8.load_model(tmp_path)
    for g in golden:
        got = nmt8.score_ids(model, g["src_ids"][:-1], g["tgt_ids"])
        np.testing.assert_allclose(got, g["logprobs"], atol=1e-4)


@pytest.mark.parametrize("case", ["no_bpe", "wrong_dim", "missing_pt", "empty"])
def test_export_from_errors_are_one_clear_message(trained_en_de, tmp_path,
                                                  case, capsys):
    from nmt8.cli import main

    if case != "no_bpe":
        for f in ("bpe.en.model", "bpe.de.model"):
            shutil.copy(trained_en_de / f, tmp_path / f)
    pt = {"missing_pt": tmp_path / "nope.pt", "empty": ","}.get(
        case, trained_en_de / "epoch1.pt")
    dim = "7" if case == "wrong_dim" else "6"
    args = ["train", "--export-from", str(pt), "--out", str(tmp_path), "--src-lang",
            "en", "--tgt-lang", "de", "--dim-word", "8", "--dim", dim]
    assert main(args) == 1
    err = capsys.readouterr().err
    expect = {"no_bpe": "bpe.en.model", "wrong_dim": "--dim",
              "missing_pt": "nope.pt", "empty": "no checkpoint"}[case]
    assert err.startswith("nmt8 train: error:") and expect in err
    assert not (tmp_path / "model.npz").exists()


def test_languages_without_golden_sentences_fail_before_training(tmp_path):
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    tc = TrainConfig(data=str(tmp_path / "none"), out=str(tmp_path / "run"),
                     src_lang="fr", tgt_lang="en")
    with pytest.raises(ValueError, match="'fr'/'en'"):
        train(tc, progress=False)
    assert not (tmp_path / "run").exists()


def test_schedule_warms_up_then_decays_to_min_lr():
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import lr_at

    tc = TrainConfig(lr=1e-3, min_lr=1e-5, warmup_steps=10)
    assert lr_at(0, tc, 110) == pytest.approx(1e-4)
    assert lr_at(9, tc, 110) == pytest.approx(1e-3)  # peak after warm-up
    assert lr_at(60, tc, 110) == pytest.approx((1e-3 + 1e-5) / 2)  # cosine half
    assert lr_at(110, tc, 110) == pytest.approx(1e-5)


def test_fine_tuning_and_export_from_carry_the_base_models_options(
        trained, tmp_path):
    """A model fine-tuned with --init-model keeps its base's decoding
    options (model.npz.json's length_exponent, chosen on val), and so does
    `nmt8 train --export-from RUN/epochN.pt` into a new folder: the base is
    found in the run's train_log.json, its BPE models copied, nothing by
    hand."""
    from nmt8.cli import main
    from nmt8.model.config import ModelConfig
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    base = tmp_path / "base"
    shutil.copytree(trained, base)
    cfg = ModelConfig.from_json(base / "model.npz.json")
    assert cfg.length_exponent != 0.625  # the default would not pass
    options = json.loads((base / "model.npz.json").read_text())
    options.pop("length_alpha", None)
    (base / "model.npz.json").write_text(
        json.dumps({**options, "length_exponent": 0.625}))
    run = train(TrainConfig(data=str(trained.parent / "data"),
                            out=str(tmp_path / "run"),
                            init_model=str(base / "model.npz"), epochs=1,
                            epoch_steps=1, batch_size=16, warmup_steps=1,
                            seed=7, threads=1), progress=False)
    assert ModelConfig.from_json(run / "model.npz.json").length_exponent \
        == 0.625
    new = tmp_path / "exported"
    assert main(["train", "--export-from", str(run / "epoch1.pt"), "--out",
                 str(new)]) == 0
    got = ModelConfig.from_json(new / "model.npz.json")
    assert got.length_exponent == 0.625
    assert (got.dim_word, got.dim) == (cfg.dim_word, cfg.dim)
    for f in cfg.bpe_models:
        assert (new / f).read_bytes() == (base / f).read_bytes()
    model = nmt8.load_model(new)
    assert model.cfg.length_exponent == 0.625
    for g in json.loads((new / "golden.json").read_text()):
        got = nmt8.score_ids(model, g["src_ids"][:-1], g["tgt_ids"])
        np.testing.assert_allclose(got, g["logprobs"], atol=1e-4)
