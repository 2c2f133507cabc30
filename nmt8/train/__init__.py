"""Training the Section 2 model in PyTorch (the optional ``[train]`` extra).

* ``model``: the network (bi-GRU encoder, conditional GRU decoder, MLP
  attention, readout, greedy search), its parameters made from
  ``param_shapes`` under their Nematus names;
* ``loop``: ``TrainConfig``, batches, optimiser, schedule, the epoch loop,
  greedy validation BLEU and ``nmt8 train``;
* ``export``: the Nematus ``.npz`` + options JSON, checkpoint averaging and
  the golden values the numpy engine is tested against.
* ``qat``: fake quantization (int8, int4 in groups) with the
  straight-through estimator, for quantization-aware fine-tuning
  (``nmt8 train --qat``);
* ``amp``: float32 against bf16/fp16 autocast training, steps interleaved
  (``nmt8 bench amp``);
* ``card``: a fine-tuned model's CARD.md from its runs' logs.

Importing this package does not import PyTorch; the functions that need it do.

Does not: decode with beam search (``nmt8.serve.translator``).
"""

from nmt8.train.config import TrainConfig
from nmt8.train.export import export, write_golden
from nmt8.train.loop import greedy_bleu, make_optimizer, set_lr, train
from nmt8.train.model import build_model

__all__ = [
    "TrainConfig",
    "build_model",
    "export",
    "greedy_bleu",
    "make_optimizer",
    "set_lr",
    "train",
    "write_golden",
]
