"""Export a PyTorch checkpoint to the Nematus ``.npz`` that nmt8 decodes.

Writes ``model.npz`` (the weights under their Nematus names),
``model.npz.json`` (the ``ModelConfig`` options) and ``golden.json``:
PyTorch's per-token log-probabilities of our own sentence pairs
(``nmt8.testing.GOLDEN_PAIRS``), which the numpy engine must reproduce
(``tests/test_model.py``). ``export_checkpoints`` exports one saved state
dict or the average of several (checkpoint averaging) without the corpus.

Does not: train (``nmt8.train.loop``) or define the network
(``nmt8.train.model``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nmt8.model.config import EOS, ModelConfig
from nmt8.serve.text import BPE
from nmt8.testing import GOLDEN_PAIRS
from nmt8.train.config import TrainConfig, model_config
from nmt8.train.model import build_model, import_torch, pad

EXPORT_DTYPES = ("float16", "float32")


def golden_pairs(src_lang: str, tgt_lang: str) -> list[tuple[str, str]]:
    """``GOLDEN_PAIRS`` (German, English) as (source, target) of the model."""
    if (src_lang, tgt_lang) == ("de", "en"):
        return list(GOLDEN_PAIRS)
    if (src_lang, tgt_lang) == ("en", "de"):
        return [(en, de) for de, en in GOLDEN_PAIRS]
    raise ValueError(
        f"src_lang/tgt_lang {src_lang!r}/{tgt_lang!r}: the golden sentences "
        "(nmt8.testing.GOLDEN_PAIRS) exist for de->en and en->de only")


def average_states(paths: list[str | Path], model, torch) -> dict:
    """The element-wise mean of the state dicts saved at ``paths``.

    Each must hold exactly ``model``'s keys and shapes (same --dim-word,
    --dim and BPE models); otherwise a ValueError names the first mismatch.
    """
    if not paths:
        raise ValueError("--export-from: no checkpoint given")
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    states = []
    for path in paths:
        try:
            state = torch.load(path)
        except FileNotFoundError as err:
            raise ValueError(f"--export-from: {path} not found") from err
        if set(state) != set(want):
            odd = sorted(set(state) ^ set(want))[:3]
            raise ValueError(f"{path}: not an nmt8 train checkpoint "
                             f"(keys differ, e.g. {odd})")
        for k, shape in want.items():
            if tuple(state[k].shape) != shape:
                raise ValueError(
                    f"{path}: {k} is {tuple(state[k].shape)}, the model built "
                    f"from --dim-word/--dim and the BPE models has {shape}")
        states.append(state)
    return {k: sum(s[k] for s in states) / len(states) for k in want}


def export_checkpoints(tc: TrainConfig, base: ModelConfig | None = None
                       ) -> Path:
    """``nmt8 train --export-from a.pt,b.pt``: export their average to tc.out.

    Needs only ``bpe.{src,tgt}.model`` in ``tc.out`` (the vocabularies the
    checkpoints were trained with), not the corpus. ``base``: the options
    of the model they were fine-tuned from, whose decoding options the
    export carries (``nmt8.train.config.model_config``; found by
    ``nmt8.train.loop.export_base``).
    """

    torch = import_torch()
    torch.set_num_threads(tc.threads)
    out = Path(tc.out)
    bpes = []
    for lang in (tc.src_lang, tc.tgt_lang):
        f = out / f"bpe.{lang}.model"
        if not f.exists():
            raise ValueError(f"--export-from needs the BPE model {f} the "
                             "checkpoints were trained with (--out DIR)")
        bpes.append(BPE(f))
    cfg = model_config(tc, *bpes, base)
    model = build_model(cfg)
    paths = [p for p in tc.export_from.split(",") if p]
    model.load_state_dict(average_states(paths, model, torch))
    export(model, cfg, out, tc, torch)
    return out


def export(model, cfg: ModelConfig, out: Path, tc: TrainConfig, torch):
    """Write model.npz (+ .json options) and golden log-probabilities.

    Weights are stored as ``tc.export_dtype`` (float16 keeps the shipped model
    under its size budget); the torch model is rounded the same way first, so
    the golden values are those of exactly the weights we ship.
    """
    if tc.export_dtype not in EXPORT_DTYPES:
        raise ValueError(f"export_dtype must be one of {EXPORT_DTYPES}, "
                         f"got {tc.export_dtype!r}")
    model.eval()
    params = model.nematus_params()
    params = {k: v.astype(tc.export_dtype) for k, v in params.items()}
    np.savez(out / "model.npz", **params)
    cfg.to_json(out / "model.npz.json")
    # round the torch weights to what was stored, then score in float64: the
    # golden values are then the exact log-probs of the shipped weights, and
    # the numpy engine's float32 error is measured against them alone
    with torch.no_grad():
        H = cfg.dim
        for sfx in ("", "_reverse"):  # Nematus keeps one bias: b_ih + b_hh
            b_ih = getattr(model.enc, f"bias_ih_l0{sfx}")
            b_hh = getattr(model.enc, f"bias_hh_l0{sfx}")
            b_ih[:2 * H] += b_hh[:2 * H]
            b_hh[:2 * H] = 0
        for prm in model.parameters():
            prm.copy_(prm.to(getattr(torch, tc.export_dtype)).float())
    write_golden(model.double(), out, torch)
    model.float()


def write_golden(model, out: Path, torch):
    """golden.json: per-token log p(y_t | y_<t, x) of the golden pairs.

    The pairs are taken in the direction of ``out/model.npz.json``
    (``src_lang`` -> ``tgt_lang``).
    """
    cfg = ModelConfig.from_json(out / "model.npz.json")
    src_bpe = BPE(out / f"bpe.{cfg.src_lang}.model")
    tgt_bpe = BPE(out / f"bpe.{cfg.tgt_lang}.model")
    golden = []
    with torch.no_grad():
        for src_text, tgt_text in golden_pairs(cfg.src_lang, cfg.tgt_lang):
            s = src_bpe.encode(src_text) + [EOS]
            t = tgt_bpe.encode(tgt_text) + [EOS]
            src, slen = pad([s], torch)
            tgt, _ = pad([t], torch)
            logp = torch.log_softmax(model(src, slen, tgt), -1)[0]  # (T, V)
            lp = logp[torch.arange(len(t)), tgt[0]]
            golden.append({"src": src_text, "tgt": tgt_text, "src_ids": s,
                           "tgt_ids": t, "logprobs": lp.tolist()})
    (out / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")
