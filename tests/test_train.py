"""Training exports a model the numpy engine reproduces (golden values)."""

import json

import numpy as np
import pytest

import nmt8

from .corpus import write_corpus

torch = pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nmt8.train import TrainConfig, train

    root = tmp_path_factory.mktemp("train")
    data = write_corpus(root / "data")
    tc = TrainConfig(data=str(data), out=str(root / "run"), dim_word=8, dim=8,
                     vocab_size=60, epochs=2, batch_size=16, warmup_steps=2,
                     seed=7, threads=1, dropout_hidden=0.2)
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
    from nmt8.config import ModelConfig
    from nmt8.train import build_model

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

    from nmt8.train.loop import _batches

    rng = random.Random(0)
    pairs = [([1] * rng.randint(1, 30), [2] * rng.randint(1, 30))
             for _ in range(1000)]
    a = _batches(pairs, 16, random.Random(1), pool=10)
    b = _batches(pairs, 16, random.Random(2), pool=10)
    for chunks in (a, b):
        assert sorted(i for c in chunks for i in c) == list(range(1000))
        assert all(1 <= len(c) <= 16 for c in chunks)
        padded = sum(len(c) * max(len(pairs[i][1]) for i in c) for c in chunks)
        assert padded < 1.2 * sum(len(t) for _, t in pairs)  # random: ~1.8x
    assert sorted(map(sorted, a)) != sorted(map(sorted, b))  # new batches


@pytest.mark.parametrize("scale", [1.0, 16.0])
def test_embedding_learning_rate_scale(scale):
    from nmt8.config import ModelConfig
    from nmt8.train import TrainConfig, build_model, make_optimizer, set_lr

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
