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
