"""Low-precision training, measured: float32 against ``torch.autocast``
in bfloat16 (and float16) on the CPU at hand (Section 7 of Quinn &
Ballesteros 2018: "explore training with low precision for faster
experiment turnaround time").

``compare`` fine-tunes one copy of a model per precision on the SAME
batches, one step of each in turn (the order rotating every step, so a
change in the machine's load falls on every precision alike), times each
step, then decodes val greedily (in float32) with each copy. The JSON it
writes holds every step time (min / median / max per precision, and the
ratio of medians), the val BLEU of each copy, the CPU's name and the
flags that matter (avx512_bf16, amx_bf16, avx512_fp16), and the load
average before and after.

Run: ``nmt8 bench amp --out runs/amp --steps 20`` (options: ``nmt8 bench
amp --help``); the figures are in ``runs/amp/amp.json``.

Does not: train to convergence (a short fine-tuning says whether the
numbers survive; ``nmt8 train --amp`` trains), or assert anything about
speed.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

from nmt8.model.config import EOS
from nmt8.serve.text import BPE
from nmt8.train.config import TrainConfig, model_config
from nmt8.train.loop import (
    autocast,
    batches,
    greedy_bleu,
    init_from_model,
    load_checked,
    lr_at,
    make_optimizer,
    set_lr,
)
from nmt8.train.model import build_model, import_torch, pad

FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16", "avx512_vnni")


def cpu_info() -> dict:
    """The CPU's model name and which low-precision flags it has."""
    name, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"model_name": name, "cores": os.cpu_count(),
            **{f: f in flags for f in FLAGS}}


def _step(model, opt, batch, tc, step, total, torch) -> tuple[float, float]:
    """One training step of ``model`` on ``batch``: (seconds, loss/token)."""
    src, slen, tgt, tlen = batch
    target = tgt.masked_fill(
        torch.arange(tgt.shape[1])[None] >= tlen[:, None], -100)
    t0 = time.perf_counter()
    with autocast(tc, torch):
        logits = model(src, slen, tgt)  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
            ignore_index=-100, label_smoothing=tc.label_smoothing,
            reduction="sum")
    set_lr(opt, lr_at(step, tc, total))
    opt.zero_grad()
    (loss / int(tlen.sum())).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
    opt.step()
    return time.perf_counter() - t0, float(loss.detach()) / int(tlen.sum())


def compare(tc: TrainConfig, precisions: list[str], steps: int) -> dict:
    """Fine-tune one copy per precision on the same ``steps`` batches,
    steps interleaved after one untimed warm-up pass each; time them;
    greedy val BLEU of each copy."""
    from nmt8 import data

    torch = import_torch()
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
    tc, npz = init_from_model(tc, out)
    src_bpe = BPE(out / f"bpe.{tc.src_lang}.model")
    tgt_bpe = BPE(out / f"bpe.{tc.tgt_lang}.model")
    cfg = model_config(tc, src_bpe, tgt_bpe)
    src_tr = data.read_lines("train", tc.src_lang, tc.data)
    tgt_tr = data.read_lines("train", tc.tgt_lang, tc.data)
    pairs = [(src_bpe.encode(s) + [EOS], tgt_bpe.encode(t) + [EOS])
             for s, t in zip(src_tr, tgt_tr)]
    pairs = [p for p in pairs if max(len(p[0]), len(p[1])) <= tc.max_len]
    tensors = []  # the same batches for every precision
    for idx in batches(pairs, tc.batch_size, random.Random(tc.seed),
                       tc.pool)[:steps]:
        tensors.append((*pad([pairs[i][0] for i in idx], torch),
                        *pad([pairs[i][1] for i in idx], torch)))
    base = build_model(cfg, tc.dropout, tc.emb_std, tc.dropout_hidden)
    load_checked(base, npz, torch)
    arms = {}
    for p in precisions:
        model = copy.deepcopy(base).train()
        arms[p] = {"tc": dataclasses.replace(tc, amp=None if p == "fp32" else p),
                   "model": model, "opt": make_optimizer(model, tc, torch),
                   "seconds": [], "loss": []}
    for p in precisions:  # warm-up (oneDNN builds its kernels): untimed,
        a = arms[p]       # its gradient dropped, no optimiser step
        with autocast(a["tc"], torch):
            a["model"](*tensors[0][:3]).float().logsumexp(-1).mean().backward()
        a["opt"].zero_grad()
    load = [os.getloadavg()[0]]
    for i, batch in enumerate(tensors):
        k = i % len(precisions)
        for p in precisions[k:] + precisions[:k]:  # rotate the order
            a = arms[p]
            torch.manual_seed(tc.seed + i)  # the same dropout masks
            s, loss = _step(a["model"], a["opt"], batch, a["tc"], i, steps,
                            torch)
            a["seconds"].append(round(s, 3))
            a["loss"].append(round(loss, 4))
        print(json.dumps({"step": i, **{p: arms[p]["seconds"][-1]
                                        for p in precisions}}), flush=True)
    load.append(os.getloadavg()[0])
    src_va = data.read_lines("val", tc.src_lang, tc.data)
    tgt_va = data.read_lines("val", tc.tgt_lang, tc.data)
    val_ids = [src_bpe.encode(s) for s in src_va]
    result = {"cpu": cpu_info(), "torch": torch.__version__,
              "threads": tc.threads, "steps": steps,
              "batch_size": tc.batch_size, "init_model": tc.init_model,
              "lr": tc.lr, "load_average_1min": load,
              "tokens": sum(int(b[3].sum()) for b in tensors),
              "val_bleu_greedy_start": greedy_bleu(base, val_ids, tgt_va,
                                                   tgt_bpe, torch)}
    for p in precisions:
        a, sec = arms[p], arms[p]["seconds"]
        result[p] = {"step_seconds": sec, "loss_per_token": a["loss"],
                     "min": min(sec), "median": statistics.median(sec),
                     "max": max(sec),
                     "val_bleu_greedy": greedy_bleu(a["model"], val_ids,
                                                    tgt_va, tgt_bpe, torch)}
        print(p, json.dumps({k: v for k, v in result[p].items()
                             if k not in ("step_seconds", "loss_per_token")}),
              flush=True)
    for p in precisions[1:]:
        result[f"{p}_over_fp32_median"] = (result[p]["median"]
                                           / result["fp32"]["median"])
        # step by step: both precisions ran the same batch back to back
        pair = [a / b for a, b in zip(result[p]["step_seconds"],
                                      result["fp32"]["step_seconds"])]
        result[f"{p}_over_fp32_paired"] = {
            "min": min(pair), "median": statistics.median(pair),
            "max": max(pair)}
    (out / "amp.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


DESCRIPTION = ("Time training steps in float32 against torch.autocast in "
               "bf16 (and fp16) on this CPU, on the same batches, steps "
               "interleaved; then greedy val BLEU of each copy. Writes "
               "OUT/amp.json.")
PRECISIONS = ("fp32", "bf16", "fp16")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``nmt8 bench amp``."""
    ap.add_argument("--out", default="runs/amp",
                    help="folder for amp.json (and the base model's BPE "
                         "models)")
    ap.add_argument("--init-model", default="de-en",
                    help="the model fine-tuned: a shipped name or a "
                         "model.npz path")
    ap.add_argument("--precisions", default="fp32,bf16",
                    help="comma-separated, fp32 first, then bf16 and/or fp16")
    ap.add_argument("--steps", type=int, default=20,
                    help="training steps timed per precision (the same "
                         "batches for each)")
    ap.add_argument("--batch-size", type=int, default=80,
                    help="sentence pairs per step")
    ap.add_argument("--lr", type=float, default=1e-4,
                    help="peak learning rate (Adam; warm-up over a quarter "
                         "of the steps, cosine to lr / 10)")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    ap.add_argument("--seed", type=int, default=7,
                    help="seed of the batches and dropout masks")
    ap.add_argument("--data", default=None,
                    help="Multi30k folder (default: $NMT8_DATA)")
    ap.add_argument("--src-lang", default="de",
                    help="source language of the corpus")
    ap.add_argument("--tgt-lang", default="en",
                    help="target language of the corpus")


def parse_precisions(text: str) -> list[str]:
    """``"fp32,bf16"`` -> ``["fp32", "bf16"]``: fp32 first, no repeats."""
    precisions = [p.strip() for p in text.split(",") if p.strip()]
    if (not precisions or precisions[0] != "fp32"
            or not set(precisions) <= set(PRECISIONS)
            or len(set(precisions)) != len(precisions)):
        raise ValueError(f"--precisions: fp32 first, then bf16 and/or fp16, "
                         f"each once, got {text!r}")
    return precisions


def run(a: argparse.Namespace) -> int:
    """``nmt8 bench amp`` with parsed options."""
    precisions = parse_precisions(a.precisions)
    if a.steps < 1 or a.batch_size < 1 or a.threads < 1:
        raise ValueError("--steps, --batch-size and --threads must be >= 1")
    tc = TrainConfig(out=a.out, init_model=a.init_model, lr=a.lr,
                     warmup_steps=max(1, a.steps // 4), min_lr=a.lr / 10,
                     threads=a.threads, seed=a.seed, data=a.data,
                     batch_size=a.batch_size, src_lang=a.src_lang,
                     tgt_lang=a.tgt_lang)
    compare(tc, precisions, a.steps)
    print(Path(a.out) / "amp.json")
    return 0
