"""``nmt8 bench amp`` (``nmt8.train.amp``): float32 and bf16 autocast
training steps on the same batches, written to amp.json."""

import json
import math

import pytest

from .corpus import write_corpus

torch = pytest.importorskip("torch", reason="the [train] extra (PyTorch) is not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny de->en model exported by ``nmt8 train`` and its corpus."""
    from nmt8.train.config import TrainConfig
    from nmt8.train.loop import train

    root = tmp_path_factory.mktemp("amp")
    data = write_corpus(root / "data")
    run = train(TrainConfig(data=str(data), out=str(root / "run"), dim_word=8,
                            dim=8, vocab_size=60, epochs=1, batch_size=16,
                            warmup_steps=1, seed=7, threads=1), progress=False)
    return run, data


def test_bench_amp_times_both_precisions_on_the_same_batches(tiny, tmp_path,
                                                              capsys):
    from nmt8.cli import main

    run, data = tiny
    out = tmp_path / "amp"
    assert main(["bench", "amp", "--out", str(out), "--init-model",
                 str(run / "model.npz"), "--data", str(data), "--steps", "2",
                 "--batch-size", "16", "--precisions", "fp32,bf16"]) == 0
    assert capsys.readouterr().out.strip().endswith("amp.json")
    r = json.loads((out / "amp.json").read_text())
    assert {"cpu", "torch", "threads", "steps", "batch_size", "tokens",
            "load_average_1min", "val_bleu_greedy_start", "fp32", "bf16",
            "bf16_over_fp32_median", "bf16_over_fp32_paired"} <= set(r)
    assert (r["steps"], r["batch_size"], r["threads"]) == (2, 16, 1)
    assert r["cpu"]["model_name"] and isinstance(r["cpu"]["avx512_bf16"], bool)
    assert r["tokens"] > 0
    for p in ("fp32", "bf16"):
        a = r[p]
        assert len(a["step_seconds"]) == len(a["loss_per_token"]) == 2
        assert all(s > 0 for s in a["step_seconds"])
        assert a["min"] <= a["median"] <= a["max"]
        assert all(math.isfinite(x) and x > 0 for x in a["loss_per_token"])
        assert 0 <= a["val_bleu_greedy"] <= 100
    # bf16 really ran under autocast: the same batch and weights give a
    # loss rounded differently from float32's
    assert r["bf16"]["loss_per_token"][0] != r["fp32"]["loss_per_token"][0]
    assert r["bf16_over_fp32_median"] == pytest.approx(
        r["bf16"]["median"] / r["fp32"]["median"])
    pair = r["bf16_over_fp32_paired"]
    assert pair["min"] <= pair["median"] <= pair["max"]


@pytest.mark.parametrize("bad", ["bf16,fp32", "fp32,int8", "fp32,bf16,bf16",
                                 ""])
def test_bench_amp_rejects_bad_precisions_before_training(bad, tmp_path,
                                                           capsys):
    from nmt8.cli import main

    assert main(["bench", "amp", "--out", str(tmp_path / "x"),
                 "--precisions", bad]) == 1
    assert "--precisions" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bench_amp_help_exits_0(capsys):
    from nmt8.cli import main

    with pytest.raises(SystemExit) as e:
        main(["bench", "amp", "--help"])
    assert e.value.code == 0
    assert "--precisions" in capsys.readouterr().out
