"""The model card of a fine-tuned model, written from its runs' logs.

nmt8 ships models trained by quantization-aware fine-tuning (the open
question of Section 7 of Quinn & Ballesteros 2018); their ``CARD.md`` is
generated here from the ``train_log.json`` of the chosen run, the runs it
was chosen against and the float32 reference (``nmt8 train --init-model
NAME --epochs 0``), so every figure in it is one a run wrote.

Run: ``python -m nmt8.train.card --run runs/a --compare runs/b
--reference runs/eval-fp32 --name de-en-qat4 > CARD.md``.

``choose`` picks the fine-tuned epoch (>= 1) of the best greedy val BLEU
among the runs given (val loss breaks ties); the card says how it
compares with epoch 0, the starting model quantized after training.

Does not: train, evaluate or export (``nmt8 train --export-from`` exports
the chosen epoch; test figures come from ``nmt8 reproduce``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _what(tc: dict) -> str:
    """What a run's fake quantization was, in words."""
    if tc.get("qat") == "int4":
        return f"int4 QAT, G = {tc['qat_group']}"
    if tc.get("qat") == "int8":
        return f"int8 QAT, {tc['qat_scheme'].replace('_', '-')}"
    return "float32"


def choose(runs: list[dict]) -> tuple[dict, dict]:
    """The run and epoch (>= 1: fine-tuned) of the best greedy val BLEU
    (to 0.01), val loss breaking ties."""
    return max(((r, e) for r in runs for e in r["log"] if e["epoch"] >= 1),
               key=lambda re: (round(re[1]["val_bleu_greedy"], 2),
                               -re[1].get("val_loss", 0.0)))


def card(name: str, chosen: dict, epoch: dict, others: list[dict],
         reference: dict | None, base: str,
         controls: tuple[dict, ...] = (), note: str = "") -> str:
    """CARD.md for ``epoch`` of ``chosen`` (train_log.json dicts) against
    the epochs of ``others``; ``reference``: the float32 evaluation;
    ``controls``: runs shown, not chosen from (float32 fine-tuning)."""
    tc = chosen["train_config"]
    ref = reference["log"][0] if reference else None
    start = chosen["log"][0]
    lines = [
        f"# Model card: nmt8 `{name}` (Multi30k German → English)", "",
        (f"`{base}` fine-tuned by quantization-aware training ({_what(tc)};"
         " `nmt8/train/qat.py`): "
         "every product decoding quantizes was fake-quantized in training "
         "(weights rounded to float16, then to their integer grid; "
         "activations to int8 per row), the straight-through estimator "
         "passing the gradient. Same architecture, BPE models and options "
         f"as `{base}`; weights stored as float16, as there."), "",
        "## Training", "",
        (f"PyTorch {chosen['torch']} (CPU), {tc['threads']} thread(s), "
         f"seed {tc['seed']}; from `{tc['init_model']}` (its loaded "
         "weights reproduced its golden.json log-probs within "
         f"{chosen['init_golden_max_abs_diff']}), {tc['epochs']} epochs of "
         f"{tc['epoch_steps']} batches of {tc['batch_size']}, Adam lr "
         f"{tc['lr']:g} ({tc['warmup_steps']} warm-up steps, cosine to "
         f"{tc['min_lr']:g}; embeddings x{tc['emb_lr_scale']:g}), dropout "
         f"{tc['dropout']}, label smoothing {tc['label_smoothing']}; "
         f"{chosen['train_minutes']} minutes on a shared 2-core machine "
         "(validation included). The shipped weights are those of the "
         "epoch below, exported with `nmt8 train --export-from "
         f"epoch{epoch['epoch']}.pt`."), "",
        "```bash", chosen.get("command", "(command not recorded)"), "```", "",
        "## Validation (Multi30k val, 1,014 sentences, PyTorch)", "",
        ("Greedy val BLEU of the PyTorch model with the run's fake "
         "quantization, i.e. what the quantized decoder computes, up to "
         "float32 summation order; val loss: teacher-forced cross-entropy "
         "per target token (nats, no label smoothing), the same way. "
         f"Epoch 0 is the starting point (`{base}` quantized after "
         "training). Not the int4 C decoder: it had not landed when this "
         "model was trained."), "",
        "| run | epoch | steps | train loss | val loss | val BLEU |",
        "|---|---|---|---|---|---|"]
    if ref is not None:
        lines.append(f"| float32 `{base}` (reference) | - | - | - | "
                     f"{ref['val_loss']:.4f} | {ref['val_bleu_greedy']:.2f} |")
    for run in [chosen, *others, *controls]:
        what = _what(run["train_config"])
        if any(run is c for c in controls):
            what += " fine-tuning (control)"
        for e in run["log"]:
            mark = "**" if e is epoch else ""
            loss = f"{e['train_loss']:.3f}" if "train_loss" in e else "-"
            vl = f"{e['val_loss']:.4f}" if "val_loss" in e else "-"
            lines.append(f"| {mark}{what}{mark} | {e['epoch']} | {e['step']} "
                         f"| {loss} | {vl} | {mark}"
                         f"{e['val_bleu_greedy']:.2f}{mark} |")
    if controls:
        lines += ["", ("The control rows fine-tune the same starting model "
                       "with the same settings and no quantization: how far "
                       "fine-tuning alone moves val.")]
    b, b0 = epoch["val_bleu_greedy"], start["val_bleu_greedy"]
    verdict = ("above" if round(b - b0, 2) > 0 else "not above")
    lv, lv0 = epoch.get("val_loss"), start.get("val_loss")
    if lv is not None and lv0 is not None:
        verdict += (f" (val loss {'lower' if lv < lv0 else 'not lower'} by "
                    f"{abs(lv - lv0):.4f})")
    floor = (f"; float32 `{base}`: {ref['val_bleu_greedy']:.2f}, val loss "
             f"{ref['val_loss']:.4f}" if ref is not None else "")
    lines += [
        "", (f"Shipped: {_what(tc)}, epoch {epoch['epoch']} (step "
             f"{epoch['step']}), the best val BLEU of the fine-tuned epochs "
             f"above (val loss breaks ties): {b:.2f}, val loss "
             f"{epoch.get('val_loss', float('nan')):.4f}. Its val BLEU is "
             f"{verdict} that of `{base}` quantized after training the "
             "same way "
             f"(epoch 0: {b0:.2f}, val loss "
             f"{start.get('val_loss', float('nan')):.4f}){floor}. Nothing "
             "was tuned on test."), "",
        *([note, ""] if note else []),
        "## Intended use", "",
        ("Decoding with 4-bit weights (`--precision int4`, group size as "
         "above) once nmt8 has it, and the issue's comparison of int4 after "
         "training with int4 after quantization-aware training. "
         "Multi30k is image-caption English/German: short descriptive "
         "sentences."), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a fine-tuning run's folder")
    ap.add_argument("--compare", action="append", default=[],
                    help="another run to choose from (repeatable)")
    ap.add_argument("--reference", help="the float32 evaluation run")
    ap.add_argument("--control", action="append", default=[],
                    help="a run shown but not chosen from (repeatable)")
    ap.add_argument("--name", required=True)
    ap.add_argument("--base", default="de-en")
    ap.add_argument("--note", default="", help="a paragraph after the table")
    a = ap.parse_args(argv)

    def read(d):
        return json.loads((Path(d) / "train_log.json").read_text())

    runs = [read(a.run), *[read(d) for d in a.compare]]
    chosen, epoch = choose(runs)
    print(card(a.name, chosen, epoch, [r for r in runs if r is not chosen],
               read(a.reference) if a.reference else None, a.base,
               tuple(read(d) for d in a.control), a.note))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
