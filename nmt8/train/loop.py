"""Training the Section 2 model in PyTorch (the optional ``[train]`` extra).

The paper trains in Theano with Adam and picks the checkpoint by dev-set
BLEU; so do we (greedy BLEU on Multi30k val, never on test). This module
holds the training settings (``TrainConfig``), the mini-batches drawn from
length-sorted pools, the optimiser, the learning-rate schedule, the epoch
loop and ``main`` behind ``nmt8 train``.

Beyond the paper: dropout, label smoothing, learning-rate warm-up and cosine
decay, gradient clipping (Multi30k is small), and a larger learning rate for
the embeddings (``emb_lr_scale``).

Does not: define the network (``nmt8.train.model``), write the Nematus files
(``nmt8.train.export``) or decode with beam search (the reported BLEU comes
from ``nmt8.Translator``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shlex
import sys
import time
from pathlib import Path

from nmt8.model.config import EOS, ModelConfig
from nmt8.serve.text import BPE, train_bpe
from nmt8.train.config import TrainConfig, model_config
from nmt8.train.export import export, export_checkpoints, golden_pairs
from nmt8.train.model import build_model, import_torch, pad


def batches(pairs, batch_size, rng, pool=50):
    """Mini-batches of similar lengths, different every epoch.

    Shuffle, cut into pools of ``pool`` batches, sort each pool by target then
    source length, and cut it into batches; then shuffle the batches. On
    Multi30k, with pools of 50 batches of 80, targets are padded by 1.03x
    and sources by 1.28x. Sorting the whole corpus by source length, as
    nmt8 did before, padded targets by 1.42x, and the decoder's time grows
    with the longest target in a batch.
    """
    order = list(range(len(pairs)))
    rng.shuffle(order)
    size = batch_size * pool
    chunks = []
    for k in range(0, len(order), size):
        part = sorted(order[k:k + size],
                      key=lambda i: (len(pairs[i][1]), len(pairs[i][0])))
        chunks += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(chunks)
    return chunks


def make_optimizer(model, tc: TrainConfig, torch):
    """Adam; the embeddings' learning rate is ``tc.emb_lr_scale`` times lr.

    Each parameter group carries its ``scale``; ``set_lr`` applies it.
    """
    emb = [model.Wemb, model.Wemb_dec]
    rest = [q for q in model.parameters() if all(q is not e for e in emb)]
    return torch.optim.Adam([{"params": rest, "scale": 1.0},
                             {"params": emb, "scale": tc.emb_lr_scale}], lr=tc.lr)


def set_lr(opt, lr: float) -> None:
    """The schedule's lr for this step, times each group's ``scale``."""
    for g in opt.param_groups:
        g["lr"] = lr * g["scale"]


def lr_at(step: int, tc: TrainConfig, total: int) -> float:
    """Linear warm-up over ``tc.warmup_steps``, then cosine decay to min_lr."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    frac = (step - tc.warmup_steps) / max(1, total - tc.warmup_steps)
    return tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * frac))


def greedy_bleu(model, src_ids, refs, tgt_bpe, torch, batch_size=100):
    """Corpus BLEU (sacrebleu) of batched greedy translations of ``src_ids``."""
    import sacrebleu

    model.eval()
    hyps = [None] * len(src_ids)
    order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        src, lens = pad([src_ids[i] + [EOS] for i in idx], torch)
        out = model.greedy(src, lens, max_len=int(lens.max()) * 2 + 10)
        for i, row in zip(idx, out.tolist()):
            hyps[i] = tgt_bpe.decode(row)
    model.train()
    return sacrebleu.corpus_bleu(hyps, [refs]).score


AMP_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def autocast(tc: TrainConfig, torch):
    """``torch.autocast`` on the CPU in ``tc.amp``'s dtype, or no-op."""
    import contextlib

    if tc.amp is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=getattr(torch, AMP_DTYPES[tc.amp]))


def val_loss(model, pairs, torch, batch_size=100) -> float:
    """Cross-entropy per target token (nats, no label smoothing) of the
    teacher-forced ``pairs``: a steadier signal than greedy BLEU for the
    small changes of fine-tuning."""
    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][1]))
    tot = tok = 0.0
    with torch.no_grad():
        for k in range(0, len(order), batch_size):
            idx = order[k:k + batch_size]
            src, slen = pad([pairs[i][0] for i in idx], torch)
            tgt, tlen = pad([pairs[i][1] for i in idx], torch)
            target = tgt.masked_fill(
                torch.arange(tgt.shape[1])[None] >= tlen[:, None], -100)
            logits = model(src, slen, tgt)  # (B, T, V)
            tot += float(torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                ignore_index=-100, reduction="sum"))
            tok += int(tlen.sum())
    model.train()
    return tot / tok


def _epoch(model, opt, pairs, bar, tc, step, total, torch):
    """One pass over the batches of ``bar`` (a tqdm of index lists).

    Returns (summed loss, target tokens, global step).
    """
    tot_loss = tot_tok = 0.0
    for idx in bar:
        src, slen = pad([pairs[i][0] for i in idx], torch)
        tgt, tlen = pad([pairs[i][1] for i in idx], torch)
        target = tgt.masked_fill(
            torch.arange(tgt.shape[1])[None] >= tlen[:, None], -100)
        with autocast(tc, torch):
            logits = model(src, slen, tgt)  # (B, T, V)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(),
                target.reshape(-1), ignore_index=-100,
                label_smoothing=tc.label_smoothing, reduction="sum")
        ntok = int(tlen.sum())
        set_lr(opt, lr_at(step, tc, total))
        opt.zero_grad()
        (loss / ntok).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
        opt.step()
        step += 1
        tot_loss += float(loss.detach())
        tot_tok += ntok
        bar.set_postfix(loss=f"{tot_loss / tot_tok:.3f}")
    return tot_loss, tot_tok, step


def check_config(tc: TrainConfig) -> None:
    """One clear ValueError for a bad combination of settings."""
    from nmt8.train.qat import GROUPS, QAT_MODES

    if tc.qat is not None and tc.qat not in QAT_MODES:
        raise ValueError(f"--qat must be one of {QAT_MODES}, got {tc.qat!r}")
    if tc.qat_group not in GROUPS:
        raise ValueError(f"--qat-group must be one of {GROUPS}, got "
                         f"{tc.qat_group!r}")
    if tc.amp is not None and tc.amp not in AMP_DTYPES:
        raise ValueError(f"--amp must be one of {tuple(AMP_DTYPES)}, got "
                         f"{tc.amp!r}")
    if tc.amp and tc.qat:
        raise ValueError("--amp and --qat together: fake quantization "
                         "reproduces decoding's float32 rounding, autocast "
                         "would change it; choose one")
    if tc.epoch_steps is not None and tc.epoch_steps < 1:
        raise ValueError(f"--epoch-steps must be >= 1, got {tc.epoch_steps}")


def init_from_model(tc: TrainConfig, out: Path) -> tuple[TrainConfig, Path]:
    """For ``--init-model``: the model file, its BPE models copied to
    ``out`` (where missing) and ``tc`` with the model's sizes."""
    import shutil

    from nmt8.model.config import ModelConfig
    from nmt8.model.params import resolve

    npz = resolve(tc.init_model)
    cfg = ModelConfig.from_json(Path(str(npz) + ".json"))
    if (cfg.src_lang, cfg.tgt_lang) != (tc.src_lang, tc.tgt_lang):
        raise ValueError(f"--init-model {tc.init_model} translates "
                         f"{cfg.src_lang}->{cfg.tgt_lang}, not "
                         f"{tc.src_lang}->{tc.tgt_lang}")
    for f in cfg.bpe_models + cfg.dictionaries:
        if not (out / f).exists():
            shutil.copy(npz.parent / f, out / f)
    return dataclasses.replace(tc, dim_word=cfg.dim_word, dim=cfg.dim), npz


def base_config(npz: Path) -> ModelConfig:
    """The options (``model.npz.json``) of the model at ``npz``."""
    return ModelConfig.from_json(Path(str(npz) + ".json"))


def export_base(tc: TrainConfig) -> tuple[TrainConfig, ModelConfig | None]:
    """For ``--export-from``: the model the checkpoints were fine-tuned
    from, ``--init-model`` or else the one recorded in the
    ``train_log.json`` beside the first checkpoint (its run). With one,
    its BPE models are copied to ``tc.out`` (where missing), its sizes
    used, and its options returned, so the exported model carries its
    decoding options (``model_config``); without one, ``(tc, None)``."""
    init = tc.init_model
    first = Path(tc.export_from.split(",")[0])
    log = first.parent / "train_log.json"
    if init is None and log.is_file():
        init = json.loads(log.read_text()).get("train_config", {}).get(
            "init_model")
    if init is None:
        return tc, None
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
    tc, npz = init_from_model(dataclasses.replace(tc, init_model=init), out)
    return tc, base_config(npz)


def load_checked(model, npz: Path, torch) -> float | None:
    """Load a Nematus .npz into ``model`` and check the round trip: the
    weights read back by their Nematus names are the file's, bit for bit,
    and (where the file has its golden.json) the float64 log-probs of the
    golden pairs match. Returns that max abs difference (None: no file)."""
    import copy

    import numpy as np

    with np.load(npz) as z:
        params = {k: z[k].astype(np.float32) for k in z.files}
    model.load_nematus(params)
    back = model.nematus_params()
    for k, v in back.items():
        if not np.array_equal(v, params[k]):
            raise ValueError(f"{npz}: {k} does not read back as stored")
    golden = npz.parent / "golden.json"
    if not golden.exists():
        return None
    twin = copy.deepcopy(model).double().eval()
    worst = 0.0
    with torch.no_grad():
        for g in json.loads(golden.read_text()):
            src, slen = pad([g["src_ids"]], torch)
            tgt, _ = pad([g["tgt_ids"]], torch)
            logp = torch.log_softmax(twin(src, slen, tgt), -1)[0]
            lp = logp[torch.arange(tgt.shape[1]), tgt[0]].numpy()
            worst = max(worst, float(np.abs(lp - g["logprobs"]).max()))
    if worst > 1e-6:
        raise ValueError(f"{npz}: the loaded model's log-probs differ from "
                         f"golden.json by {worst:.2e}")
    return worst


def train(tc: TrainConfig, progress: bool = True) -> Path:
    """Train, pick the best epoch by val BLEU, export a Nematus-format model.

    With ``tc.export_from`` set, only export (see ``export_checkpoints``).
    """
    golden_pairs(tc.src_lang, tc.tgt_lang)  # fail now, not after training
    check_config(tc)
    if tc.export_from:
        return export_checkpoints(*export_base(tc))
    torch = import_torch()
    from tqdm.auto import tqdm

    from nmt8 import data

    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    rng = random.Random(tc.seed)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
    init_npz = None
    if tc.init_model:
        tc, init_npz = init_from_model(tc, out)
    src_tr = data.read_lines("train", tc.src_lang, tc.data)
    tgt_tr = data.read_lines("train", tc.tgt_lang, tc.data)
    src_va = data.read_lines("val", tc.src_lang, tc.data)
    tgt_va = data.read_lines("val", tc.tgt_lang, tc.data)
    bpes = []
    for lang, lines in ((tc.src_lang, src_tr), (tc.tgt_lang, tgt_tr)):
        f = out / f"bpe.{lang}.model"
        bpes.append(BPE(f) if f.exists()
                    else train_bpe(lines, out / f"bpe.{lang}", tc.vocab_size))
    src_bpe, tgt_bpe = bpes
    cfg = model_config(tc, src_bpe, tgt_bpe,
                       base_config(init_npz) if init_npz else None)
    pairs = [(src_bpe.encode(s) + [EOS], tgt_bpe.encode(t) + [EOS])
             for s, t in zip(src_tr, tgt_tr)]
    pairs = [p for p in pairs if len(p[0]) <= tc.max_len and len(p[1]) <= tc.max_len]
    val_ids = [src_bpe.encode(s) for s in src_va]
    val_pairs = [(s + [EOS], tgt_bpe.encode(t) + [EOS])
                 for s, t in zip(val_ids, tgt_va)]

    model = build_model(cfg, tc.dropout, tc.emb_std, tc.dropout_hidden)
    init_check = None
    if init_npz is not None:
        init_check = load_checked(model, init_npz, torch)
        print(f"loaded {init_npz}: golden log-probs within {init_check}",
              flush=True)
    if tc.init:
        model.load_state_dict(torch.load(tc.init))
    if tc.qat:
        from nmt8.train.qat import FakeQuant

        model.qat = FakeQuant(tc.qat, tc.qat_scheme, tc.qat_group,
                              tc.export_dtype)
    opt = make_optimizer(model, tc, torch)
    per_epoch = math.ceil(len(pairs) / tc.batch_size)
    if tc.epoch_steps:
        per_epoch = min(per_epoch, tc.epoch_steps)
    total = per_epoch * tc.epochs

    log, best, step, t0 = [], (-1.0, None, 0), 0, time.time()
    if init_npz is not None:  # the starting point, as validation decodes it
        bleu = greedy_bleu(model, val_ids, tgt_va, tgt_bpe, torch)
        log.append({"epoch": 0, "step": 0, "val_bleu_greedy": bleu,
                    "val_loss": val_loss(model, val_pairs, torch),
                    "minutes": round((time.time() - t0) / 60, 2)})
        print(json.dumps(log[-1]), flush=True)
        best = (bleu, {k: v.clone() for k, v in model.state_dict().items()}, 0)
    for epoch in range(1, tc.epochs + 1):
        model.train()
        bar = tqdm(batches(pairs, tc.batch_size, rng, tc.pool)[:per_epoch],
                   disable=not progress, desc=f"epoch {epoch}", mininterval=10)
        t_ep = time.time()
        tot_loss, tot_tok, step = _epoch(model, opt, pairs, bar, tc, step,
                                         total, torch)
        train_s = time.time() - t_ep
        bleu = greedy_bleu(model, val_ids, tgt_va, tgt_bpe, torch)
        minutes = (time.time() - t0) / 60
        log.append({"epoch": epoch, "step": step, "train_loss": tot_loss / tot_tok,
                    "val_bleu_greedy": bleu,
                    "val_loss": val_loss(model, val_pairs, torch),
                    "minutes": round(minutes, 2),
                    "train_seconds": round(train_s, 1),
                    "tokens_per_second": round(tot_tok / train_s, 1)})
        print(json.dumps(log[-1]), flush=True)
        if bleu > best[0]:
            best = (bleu, {k: v.clone() for k, v in model.state_dict().items()},
                    epoch)
            torch.save(best[1], out / "best.pt")
            _export_copy(model, cfg, out, tc, torch)  # a model, whatever comes
        torch.save(model.state_dict(), out / "last.pt")
        # every epoch's weights, for checkpoint averaging (--export-from)
        torch.save(model.state_dict(), out / f"epoch{epoch}.pt")
        if tc.max_minutes and minutes * (epoch + 1) / epoch > tc.max_minutes:
            print(f"stopping: next epoch would pass {tc.max_minutes} min")
            break
    model.load_state_dict(best[1])
    qat, model.qat = model.qat, None
    export(model, cfg, out, tc, torch)  # golden values: float32 decoding's
    model.qat = qat
    card = {"train_config": dataclasses.asdict(tc), "log": log,
            "best_epoch": best[2], "best_val_bleu_greedy": best[0],
            "train_minutes": round((time.time() - t0) / 60, 1),
            "train_pairs": len(pairs), "torch": torch.__version__,
            "init_golden_max_abs_diff": init_check}
    card["val_bleu_greedy_exported"] = greedy_bleu(model, val_ids, tgt_va,
                                                   tgt_bpe, torch)
    (out / "train_log.json").write_text(json.dumps(card, indent=2) + "\n")
    return out


def _export_copy(model, cfg, out, tc, torch) -> None:
    """Export a copy of ``model`` (export rounds the weights it is given)."""
    import copy

    qat, model.qat = model.qat, None  # its cached tensors hold a graph
    twin = copy.deepcopy(model)
    model.qat = qat
    export(twin, cfg, out, tc, torch)


def add_arguments(ap) -> None:
    """The options of ``nmt8 train``: one per field of ``TrainConfig``."""
    for f in dataclasses.fields(TrainConfig):
        kind = {"int": int, "float": float, "str": str}.get(
            str(f.type).split(" ")[0], str)
        if f.name == "max_minutes":
            kind = float
        ap.add_argument("--" + f.name.replace("_", "-"), type=kind,
                        default=f.default, help=f.metadata["help"],
                        choices=f.metadata.get("choices"))


def run(args) -> int:
    """``nmt8 train`` with parsed options."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    tc = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    out = train(tc)
    log_file = out / "train_log.json"
    if log_file.exists() and not tc.export_from:  # the command, for the card
        card = json.loads(log_file.read_text())
        card["command"] = shlex.join(["nmt8", *sys.argv[1:]])
        log_file.write_text(json.dumps(card, indent=2) + "\n")
    print(out)
    return 0
