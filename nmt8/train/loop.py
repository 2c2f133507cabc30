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
import time
from pathlib import Path

from nmt8.model.config import EOS
from nmt8.serve.text import BPE, train_bpe
from nmt8.train.config import TrainConfig, model_config
from nmt8.train.export import export, export_checkpoints, golden_pairs
from nmt8.train.model import _torch, build_model, pad


def _batches(pairs, batch_size, rng, pool=50):
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


def _epoch(model, opt, pairs, bar, tc, step, total, torch):
    """One pass over the batches of ``bar`` (a tqdm of index lists).

    Returns (summed loss, target tokens, global step).
    """
    tot_loss = tot_tok = 0.0
    for idx in bar:
        src, slen = pad([pairs[i][0] for i in idx], torch)
        tgt, tlen = pad([pairs[i][1] for i in idx], torch)
        logits = model(src, slen, tgt)  # (B, T, V)
        target = tgt.masked_fill(
            torch.arange(tgt.shape[1])[None] >= tlen[:, None], -100)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
            ignore_index=-100, label_smoothing=tc.label_smoothing,
            reduction="sum")
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


def train(tc: TrainConfig, progress: bool = True) -> Path:
    """Train, pick the best epoch by val BLEU, export a Nematus-format model.

    With ``tc.export_from`` set, only export (see ``export_checkpoints``).
    """
    golden_pairs(tc.src_lang, tc.tgt_lang)  # fail now, not after training
    if tc.export_from:
        return export_checkpoints(tc)
    torch = _torch()
    from tqdm.auto import tqdm

    from nmt8 import data

    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    rng = random.Random(tc.seed)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
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
    cfg = model_config(tc, src_bpe, tgt_bpe)
    pairs = [(src_bpe.encode(s) + [EOS], tgt_bpe.encode(t) + [EOS])
             for s, t in zip(src_tr, tgt_tr)]
    pairs = [p for p in pairs if len(p[0]) <= tc.max_len and len(p[1]) <= tc.max_len]
    val_ids = [src_bpe.encode(s) for s in src_va]

    model = build_model(cfg, tc.dropout, tc.emb_std, tc.dropout_hidden)
    if tc.init:
        model.load_state_dict(torch.load(tc.init))
    opt = make_optimizer(model, tc, torch)
    total = math.ceil(len(pairs) / tc.batch_size) * tc.epochs

    log, best, step, t0 = [], (-1.0, None, 0), 0, time.time()
    for epoch in range(1, tc.epochs + 1):
        model.train()
        bar = tqdm(_batches(pairs, tc.batch_size, rng, tc.pool),
                   disable=not progress, desc=f"epoch {epoch}", mininterval=10)
        tot_loss, tot_tok, step = _epoch(model, opt, pairs, bar, tc, step,
                                         total, torch)
        bleu = greedy_bleu(model, val_ids, tgt_va, tgt_bpe, torch)
        minutes = (time.time() - t0) / 60
        log.append({"epoch": epoch, "step": step, "train_loss": tot_loss / tot_tok,
                    "val_bleu_greedy": bleu, "minutes": round(minutes, 2)})
        print(json.dumps(log[-1]), flush=True)
        if bleu > best[0]:
            best = (bleu, {k: v.clone() for k, v in model.state_dict().items()},
                    epoch)
            torch.save(best[1], out / "best.pt")
        torch.save(model.state_dict(), out / "last.pt")
        # every epoch's weights, for checkpoint averaging (--export-from)
        torch.save(model.state_dict(), out / f"epoch{epoch}.pt")
        if tc.max_minutes and minutes * (epoch + 1) / epoch > tc.max_minutes:
            print(f"stopping: next epoch would pass {tc.max_minutes} min")
            break
    model.load_state_dict(best[1])
    export(model, cfg, out, tc, torch)
    card = {"train_config": dataclasses.asdict(tc), "log": log,
            "best_epoch": best[2], "best_val_bleu_greedy": best[0],
            "train_minutes": round((time.time() - t0) / 60, 1),
            "train_pairs": len(pairs), "torch": torch.__version__}
    card["val_bleu_greedy_exported"] = greedy_bleu(model, val_ids, tgt_va,
                                                   tgt_bpe, torch)
    (out / "train_log.json").write_text(json.dumps(card, indent=2) + "\n")
    return out


def add_arguments(ap) -> None:
    """The options of ``nmt8 train``: one per field of ``TrainConfig``."""
    for f in dataclasses.fields(TrainConfig):
        kind = {"int": int, "float": float, "str": str}.get(
            str(f.type).split(" ")[0], str)
        if f.name == "max_minutes":
            kind = float
        ap.add_argument("--" + f.name.replace("_", "-"), type=kind,
                        default=f.default, help=f.metadata["help"])


def run(args) -> int:
    """``nmt8 train`` with parsed options."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    tc = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    print(train(tc))
    return 0
