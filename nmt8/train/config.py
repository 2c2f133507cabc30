"""Training settings: one dataclass, saved in ``train_log.json``.

``TrainConfig`` holds every setting of ``nmt8 train`` (each field is a
command-line flag); ``model_config`` gives the model options written beside
the exported weights (``model.npz.json``).

Does not: train (``nmt8.train.loop``) or export (``nmt8.train.export``).
"""

from __future__ import annotations

import dataclasses

from ..config import ModelConfig


@dataclasses.dataclass
class TrainConfig:
    data: str | None = None
    out: str = "runs/de-en"
    src_lang: str = "de"
    tgt_lang: str = "en"
    dim_word: int = 256
    dim: int = 512
    vocab_size: int = 8000
    epochs: int = 10
    batch_size: int = 80
    lr: float = 1e-3
    warmup_steps: int = 200
    min_lr: float = 5e-5
    dropout: float = 0.3  # on embeddings and the readout layer
    dropout_hidden: float = 0.0  # on the annotations h and on s_t, H_t
    # where they enter the readout (not inside the recurrences)
    label_smoothing: float = 0.1
    clip_norm: float = 5.0
    emb_std: float = 1.0  # N(0, emb_std) embeddings (Nematus: 0.01, which
    # starves the GRUs of input signal early on and learns far slower here)
    emb_lr_scale: float = 16.0  # learning rate of the embeddings / lr.
    # Adam moves every weight by about lr per step whatever its scale, so
    # N(0, 1) embeddings at lr 1e-3 changed by only ~7% in 10 epochs
    # (measured): they stayed nearly random. sqrt(E) = 16 moves them as fast,
    # relative to their size, as N(0, 1/E) embeddings would move at lr.
    # 1.0 gives the optimiser of the model card's earlier runs.
    pool: int = 50  # batches drawn per length-sorting pool (see _batches)
    max_len: int = 80
    seed: int = 1234
    threads: int = 1
    max_minutes: float | None = None
    export_dtype: str = "float16"
    init: str | None = None  # continue from a saved state dict (best.pt)
    export_from: str | None = None  # only export this state dict (or the
    # average of several, comma-separated: checkpoint averaging), no training


def model_config(tc: TrainConfig, src_bpe, tgt_bpe) -> ModelConfig:
    """The options written beside the weights (``model.npz.json``)."""
    return ModelConfig(dim_word=tc.dim_word, dim=tc.dim,
                       n_words_src=len(src_bpe), n_words=len(tgt_bpe),
                       dictionaries=[f"bpe.{tc.src_lang}.json",
                                     f"bpe.{tc.tgt_lang}.json"],
                       bpe_models=[f"bpe.{tc.src_lang}.model",
                                   f"bpe.{tc.tgt_lang}.model"],
                       src_lang=tc.src_lang, tgt_lang=tc.tgt_lang)
