"""The model card of a fine-tuned model, written from its runs' logs.

Issue 23 ships models trained by quantization-aware fine-tuning (the open
question of Section 7 of Quinn & Ballesteros 2018); their ``CARD.md`` is
generated here from the ``train_log.json`` of the chosen run, the runs it
was chosen against and the float32 reference (``nmt8 train --init-model
NAME --epochs 0``), so every figure in it is one a run wrote.

Run: ``python -m nmt8.train.card --run runs/a --compare runs/b
--reference runs/eval-fp32 --name de-en-qat4 > CARD.md``.

Does not: train, evaluate or choose (the choice is the best greedy val
BLEU among the runs given; test figures come from ``nmt8 reproduce``).
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


def card(name: str, chosen: dict, others: list[dict], reference: dict | None,
         base: str) -> str:
    """CARD.md for ``chosen`` (a train_log.json dict) against ``others``."""
    tc = chosen["train_config"]
    ref = reference["log"][0]["val_bleu_greedy"] if reference else None
    lines = [
        f"# Model card: nmt8 `{name}` (Multi30k German → English)", "",
        (f"`{base}` fine-tuned for {_what(tc)} decoding by quantization-aware "
        "training (issue 23; `nmt8/train/qat.py`): every product decoding "
        "quantizes was fake-quantized in training (weights rounded to "
        "float16, then to their integer grid; activations to int8 per "
        "row), with the straight-through estimator passing the gradient."),
        ("Same architecture, BPE models and options as "
        f"`{base}`; weights stored as float16, as there."), "",
        "## Training", "",
        (f"PyTorch {chosen['torch']} (CPU), {tc['threads']} thread(s), seed "
        f"{tc['seed']}; from `{tc['init_model']}` (its loaded weights "
        "reproduced its golden.json log-probs within "
        f"{chosen['init_golden_max_abs_diff']}), {tc['epochs']} epochs of "
        f"{tc['epoch_steps']} batches of {tc['batch_size']}, Adam lr "
        f"{tc['lr']} ({tc['warmup_steps']} warm-up steps, cosine to "
        f"{tc['min_lr']}; embeddings x{tc['emb_lr_scale']:g}), dropout "
        f"{tc['dropout']}, label smoothing {tc['label_smoothing']}; "
        f"{chosen['train_minutes']} minutes on a shared 2-core machine "
        "(validation included)."), "",
        "```bash", chosen.get("command", "(command not recorded)"), "```", "",
        "## Validation (Multi30k val, 1,014 sentences, greedy, PyTorch)", "",
        ("Greedy val BLEU of the PyTorch model with the run's fake "
        "quantization, i.e. what the quantized decoder computes, up to "
        "float32 summation order; epoch 0 is the starting point "
        f"(`{base}` quantized after training). Not the int4 C decoder: "
        "it had not landed when this model was trained."), "",
        "| run | epoch | steps | train loss | val BLEU |",
        "|---|---|---|---|---|"]
    if ref is not None:
        lines.append(f"| float32 `{base}` (reference) | - | - | - | "
                     f"{ref:.2f} |")
    for run in [chosen, *others]:
        what = _what(run["train_config"])
        mark = "**" if run is chosen else ""
        for e in run["log"]:
            loss = f"{e['train_loss']:.3f}" if "train_loss" in e else "-"
            lines.append(f"| {mark}{what}{mark} | {e['epoch']} | {e['step']} "
                         f"| {loss} | {e['val_bleu_greedy']:.2f} |")
    best = chosen["best_val_bleu_greedy"]
    lines += [
        "", f"Shipped: {_what(tc)}, epoch {chosen['best_epoch']} (the best "
        f"val BLEU of the runs above, {best:.2f}"
        + (f"; float32 {ref:.2f}" if ref is not None else "") + "). "
        "Nothing was tuned on test.", "",
        "## Intended use", "",
        ("Decoding with 4-bit weights (`--precision int4`, group size as "
        "above) once nmt8 has it; in float32 and int8 it is a model "
        f"slightly worse than `{base}` or equal to it. Multi30k is "
        "image-caption English/German: short descriptive sentences."), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="the chosen run's folder")
    ap.add_argument("--compare", action="append", default=[],
                    help="a run it was chosen against (repeatable)")
    ap.add_argument("--reference", help="the float32 evaluation run")
    ap.add_argument("--name", required=True)
    ap.add_argument("--base", default="de-en")
    a = ap.parse_args(argv)

    def read(d):
        return json.loads((Path(d) / "train_log.json").read_text())

    print(card(a.name, read(a.run), [read(d) for d in a.compare],
               read(a.reference) if a.reference else None, a.base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
