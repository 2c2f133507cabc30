"""Training settings: one dataclass, saved in ``train_log.json``.

``TrainConfig`` holds every setting of ``nmt8 train`` (each field is a
command-line flag); ``model_config`` gives the model options written beside
the exported weights (``model.npz.json``), with the decoding options
(:data:`DECODING_OPTIONS`) of the model fine-tuned from, when there is one.

Does not: train (``nmt8.train.loop``) or export (``nmt8.train.export``).
"""

from __future__ import annotations

import dataclasses

from nmt8.model.config import ModelConfig


def _opt(default, help: str, choices=None):
    """A field of ``TrainConfig``, with its command-line help (and the
    values the flag accepts, when they are few)."""
    return dataclasses.field(default=default,
                             metadata={"help": help, "choices": choices})


@dataclasses.dataclass
class TrainConfig:
    """Every setting of ``nmt8 train``; each field is a command-line flag."""

    data: str | None = _opt(None, "Multi30k folder (default: $NMT8_DATA)")
    out: str = _opt("runs/de-en", "output folder: checkpoints, the exported "
                    "model, train_log.json")
    src_lang: str = _opt("de", "source language of the corpus")
    tgt_lang: str = _opt("en", "target language of the corpus")
    dim_word: int = _opt(256, "embedding size E (the paper: 620)")
    dim: int = _opt(512, "GRU hidden size H (the paper: 1000)")
    vocab_size: int = _opt(8000, "BPE vocabulary size per language")
    epochs: int = _opt(10, "passes over the training data")
    batch_size: int = _opt(80, "sentence pairs per step")
    lr: float = _opt(1e-3, "peak learning rate (Adam)")
    warmup_steps: int = _opt(200, "steps of linear warm-up to --lr")
    min_lr: float = _opt(5e-5, "floor of the cosine decay")
    dropout: float = _opt(0.3, "dropout on embeddings and the readout layer")
    # on the annotations h and on s_t, H_t where they enter the readout (not
    # inside the recurrences)
    dropout_hidden: float = _opt(0.0, "dropout on h, s_t and H_t where they "
                                 "enter the readout")
    label_smoothing: float = _opt(0.1, "label smoothing of the loss")
    clip_norm: float = _opt(5.0, "gradient norm clipping")
    # Nematus uses 0.01, which starves the GRUs of input signal early on and
    # learns far slower here
    emb_std: float = _opt(1.0, "embeddings start as N(0, emb_std)")
    # Adam moves every weight by about lr per step whatever its scale, so
    # N(0, 1) embeddings at lr 1e-3 changed by only ~7% in 10 epochs
    # (measured): they stayed nearly random. sqrt(E) = 16 moves them as fast,
    # relative to their size, as N(0, 1/E) embeddings would move at lr.
    # 1.0 gives the optimiser of the model card's earlier runs.
    emb_lr_scale: float = _opt(16.0, "learning rate of the embeddings / --lr")
    pool: int = _opt(50, "batches drawn per length-sorting pool")
    max_len: int = _opt(80, "longest training sentence, in pieces")
    seed: int = _opt(1234, "random seed")
    threads: int = _opt(1, "PyTorch threads")
    max_minutes: float | None = _opt(None, "stop after this many minutes "
                                     "(default: no limit)")
    export_dtype: str = _opt("float16", "dtype of the exported weights")
    init: str | None = _opt(None, "continue from a saved state dict "
                            "(best.pt)")
    export_from: str | None = _opt(None, "only export this state dict (or "
                                   "the average of several, comma-separated:"
                                   " checkpoint averaging), no training")
    init_model: str | None = _opt(
        None, "start from an exported Nematus model: a shipped name (de-en) "
        "or a model.npz path; its BPE models are copied to --out, its "
        "--dim-word/--dim are used, and the loaded weights are checked "
        "against its golden.json")
    # fine-tuning: the epoch schedule of --lr/--warmup-steps/--min-lr is
    # then over epochs * epoch_steps steps
    epoch_steps: int | None = _opt(None, "batches per epoch (default: the "
                                   "whole corpus); short epochs for "
                                   "fine-tuning, each one validated")
    qat: str | None = _opt(
        None, "quantization-aware training: fake-quantize every product "
        "decoding quantizes, as int8 or int4 decoding rounds it "
        "(nmt8.train.qat); validation decodes the same way",
        choices=["int8", "int4"])
    qat_group: int = _opt(32, "--qat int4: inputs per weight step",
                          choices=[32, 64])
    qat_scheme: str = _opt("per_tensor", "--qat int8: one weight scale per "
                           "fused matrix or per output",
                           choices=["per_tensor", "per_row"])
    amp: str | None = _opt(None, "train under torch.autocast on the CPU in "
                           "this dtype (validation stays float32)",
                           choices=["bf16", "fp16"])


# options of model.npz.json that training does not set but decoding reads
# (chosen on val for the base model): a fine-tuned model keeps its base's
DECODING_OPTIONS = ("length_exponent",)


def model_config(tc: TrainConfig, src_bpe, tgt_bpe,
                 base: ModelConfig | None = None) -> ModelConfig:
    """The options written beside the weights (``model.npz.json``);
    ``base``: the options of the model fine-tuned from (``--init-model``),
    whose :data:`DECODING_OPTIONS` carry over."""
    carried = {k: getattr(base, k) for k in DECODING_OPTIONS} if base else {}
    return ModelConfig(**carried, dim_word=tc.dim_word, dim=tc.dim,
                       n_words_src=len(src_bpe), n_words=len(tgt_bpe),
                       dictionaries=[f"bpe.{tc.src_lang}.json",
                                     f"bpe.{tc.tgt_lang}.json"],
                       bpe_models=[f"bpe.{tc.src_lang}.model",
                                   f"bpe.{tc.tgt_lang}.model"],
                       src_lang=tc.src_lang, tgt_lang=tc.tgt_lang)
