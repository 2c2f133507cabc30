"""Model configuration: the hyper-parameters of Section 2 as a dataclass.

Saved beside the weights as ``model.npz.json`` with the key names Nematus uses
(``dim_word`` = E, ``dim`` = H, ``n_words_src``, ``n_words``), so the options
file of a real (Theano) Nematus model loads too. Every field is checked for
type and range. The other options are an allow-list, each name in one of
three tables:

* ``IMPLEMENTED``: options that shape the network, each with the values nmt8
  implements; another value (deeper stacks, layer normalisation, tied
  embeddings, factors, language-model fusion, ...) is refused by name;
* ``UNUSED``: options read only by parts of a network that the first table
  already refuses (decoder layers 2+, the Transformer, the fused language
  model's sizes): accepted, whatever their value;
* ``TRAINING``: training-only options (batch size, optimizer, learning rate,
  dropout, validation settings, ...): accepted and ignored, they do not
  change the network.

An option in none of them (a newer Nematus's, a fork's) is refused by name:
nmt8 cannot tell whether it changes the network. The TensorFlow Nematus
names of the sizes (``embedding_size``, ``state_size``, ...) must agree with
the Theano ones nmt8 reads.

Does not: hold training settings (see ``nmt8.train``) or weights
(``nmt8.model.params`` reads those).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import stat
from pathlib import Path

# the vocabulary's fixed ids, the Nematus convention: </s> ends every
# sentence, <unk> stands for any piece outside the vocabulary
EOS, UNK = 0, 1

OPTIONS_MAX_BYTES = 1 << 20  # a Nematus options file is a few kB

# Nematus options that change the network, with the values nmt8 implements
# and what another value would mean. Theano Nematus names first, then the
# TensorFlow Nematus names of the same options.
_ENC = "nmt8 implements one bidirectional encoder layer of one-transition GRUs"
_DEC = "nmt8's decoder is one plain conditional GRU (transition depth 2)"
_LN = "nmt8 has no layer normalisation"
_LEX = "nmt8 has no lexical model"
_LM = "nmt8 has no language-model fusion (deep fusion, Gulcehre et al. 2015)"
IMPLEMENTED: dict[str, tuple[tuple, str]] = {
    "model_type": (("rnn",), "nmt8 implements the RNN (GRU) model only"),
    "enc_depth": ((1,), _ENC),
    "rnn_enc_depth": ((1,), _ENC),
    "enc_depth_bidirectional": ((1, None), _ENC),  # None: all layers (one)
    "enc_recurrence_transition_depth": ((1,), _ENC),
    "rnn_enc_transition_depth": ((1,), _ENC),
    "dec_depth": ((1,), _DEC),
    "rnn_dec_depth": ((1,), _DEC),
    # depth 2 IS the conditional GRU: GRU r, attention, GRU q (eq. 3-6)
    "dec_base_recurrence_transition_depth": ((2,), _DEC),
    "rnn_dec_base_transition_depth": ((2,), _DEC),
    "output_depth": ((1,), "nmt8's readout g of eq. (2) is one layer"),
    "factors": ((1,), "nmt8 reads one source factor (words) only"),
    "tie_encoder_decoder_embeddings": ((False,), "nmt8 reads Wemb and Wemb_dec"),
    "tie_decoder_embeddings": ((False,), "nmt8 reads the output layer ff_logit_W"),
    "layer_normalisation": ((False,), _LN),
    "rnn_layer_normalisation": ((False,), _LN),
    "rnn_layer_normalization": ((False,), _LN),
    "use_layer_norm": ((False,), _LN),
    "weight_normalisation": ((False,), "nmt8 has no weight normalisation"),
    "output_hidden_activation": (("tanh",), "the readout g of eq. (2) is tanh"),
    "softmax_mixture_size": ((1,), "nmt8 has one softmax"),
    "lexical_model": ((False,), _LEX),
    "rnn_lexical_model": ((False,), _LEX),
    "deep_fusion_lm": ((None,), _LM),
    "concatenate_lm_decoder": ((False,), _LM),
}

# options read only by what IMPLEMENTED refuses: decoder layers 2+ (dec_depth
# 1), deeper transitions, the Transformer, layer normalisation's kind, the
# fused language model's sizes, a decoder other than gru_cond's window
UNUSED = frozenset({
    "decoder_deep", "dec_high_recurrence_transition_depth", "dec_deep_context",
    "rnn_dec_high_transition_depth", "rnn_dec_deep_context",
    "enc_recurrence_transition_deep_input",
    "dec_base_recurrence_transition_deep_context",
    "dec_high_recurrence_transition_deep_input", "layer_normalisation_type",
    "layer_normalization_type", "transformer_enc_depth",
    "transformer_dec_depth", "transformer_ffn_hidden_size",
    "transformer_num_heads", "transformer_dropout_embeddings",
    "transformer_dropout_residual", "transformer_dropout_relu",
    "transformer_dropout_attn", "transformer_drophead", "lm_dim", "lm_dim_word",
    "lm_encoder", "pos_win"
})

# training-only options of Theano and TensorFlow Nematus: data, vocabulary
# files, saving, optimisation, regularisation, dropout, validation, display,
# minimum risk training, domain interpolation, and the bookkeeping they save
TRAINING = frozenset({
    "datasets", "valid_datasets", "source_dataset", "target_dataset",
    "valid_source_dataset", "valid_target_dataset", "valid_bleu_source_dataset",
    "domain_interpolation_indomain_datasets", "source_dicts", "target_dict",
    "multilingual", "language_source_target", "preprocess_script", "saveto",
    "model", "reload", "reload_", "reload_training_progress", "overwrite",
    "prior_model", "saveFreq", "save_freq", "summary_dir", "summary_freq",
    "summaryFreq", "optimizer", "lrate", "learning_rate", "learning_schedule",
    "warmup_steps", "plateau_steps", "adam_beta1", "adam_beta2", "adam_epsilon",
    "clip_c", "decay_c", "map_decay_c", "alpha_c", "label_smoothing",
    "exponential_smoothing", "loss_function", "objective", "batch_size",
    "token_batch_size", "valid_batch_size", "valid_token_batch_size",
    "max_sentences_per_device", "max_tokens_per_device",
    "gradient_aggregation_steps", "maxibatch_size", "maxlen", "max_epochs",
    "finish_after", "patience", "anneal_restarts", "anneal_decay",
    "shuffle_each_epoch", "sort_by_length", "keep_train_set_in_memory",
    "finetune", "finetune_only_last", "encoder_truncate_gradient",
    "decoder_truncate_gradient", "use_dropout", "dropout_embedding",
    "dropout_hidden", "dropout_source", "dropout_target", "rnn_use_dropout",
    "rnn_dropout_embedding", "rnn_dropout_hidden", "rnn_dropout_source",
    "rnn_dropout_target", "validFreq", "valid_freq", "valid_script",
    "external_validation_script", "dispFreq", "disp_freq", "sampleFreq",
    "sample_freq", "beamFreq", "beam_freq", "beam_size", "normalization_alpha",
    "n_best", "translation_maxlen", "translation_strategy",
    "print_per_token_pro", "mrt_alpha", "mrt_samples", "mrt_samples_meanloss",
    "mrt_reference", "mrt_loss", "mrt_ml_mix", "raml_tau", "raml_samples",
    "raml_reward", "sample_way", "max_len_a", "max_len_b",
    "max_sentences_of_sampling", "sampling_temperature",
    "use_domain_interpolation", "domain_interpolation_min",
    "domain_interpolation_max", "domain_interpolation_inc", "model_version",
    "theano_compat"
})

# TensorFlow Nematus's names of the sizes nmt8 reads by their Theano names
_SAME_SIZE = {"embedding_size": "dim_word", "target_embedding_size": "dim_word",
              "state_size": "dim", "target_vocab_size": "n_words"}


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _same(value, want) -> bool:
    """Equal AND of the same kind (JSON ``true`` is not the integer 1)."""
    if want is None or isinstance(want, bool):
        return value is want
    if isinstance(want, int):
        return _is_int(value) and value == want
    return isinstance(value, str) and value == want


def check_options(raw: dict) -> None:
    """Refuse, by name, any option nmt8 does not implement or know: see
    the module docstring (``IMPLEMENTED``, ``UNUSED``, ``TRAINING``)."""
    own = {f.name for f in dataclasses.fields(ModelConfig)} | {"length_alpha"}
    for key, value in raw.items():
        if key in IMPLEMENTED:
            wants, why = IMPLEMENTED[key]
            if not any(_same(value, w) for w in wants):
                only = " or ".join(repr(w) for w in wants)
                raise ValueError(f"option {key!r} = {value!r} is not "
                                 f"implemented ({why}; only {only} loads)")
        elif key in _SAME_SIZE:
            theirs = _SAME_SIZE[key]
            if raw.get(theirs) is not None and value != raw[theirs]:
                raise ValueError(f"options {key!r} = {value!r} and {theirs!r} = "
                                 f"{raw[theirs]!r} disagree")
        elif key not in own and key not in UNUSED and key not in TRAINING \
                and key not in ("dim_per_factor", "source_vocab_sizes"):
            raise ValueError(f"option {key!r} is not one nmt8 knows, so it "
                             f"cannot tell whether it changes the network "
                             f"(nmt8 reads the options of Nematus's RNN "
                             f"models); remove it if it only configures "
                             f"training")
    if raw.get("dim_per_factor") is not None:
        dpf, E = raw["dim_per_factor"], raw.get("dim_word")
        if not (isinstance(dpf, list) and len(dpf) == 1 and _is_int(dpf[0])
                and dpf[0] == E):
            raise ValueError(f"option 'dim_per_factor' = {dpf!r} is not "
                             f"implemented (nmt8 reads one source factor: "
                             f"only [dim_word] = [{E!r}] loads)")
    if raw.get("source_vocab_sizes") is not None:
        svs, V = raw["source_vocab_sizes"], raw.get("n_words_src")
        if svs != [V]:
            raise ValueError(f"options 'source_vocab_sizes' = {svs!r} and "
                             f"'n_words_src' = {V!r} disagree")


def regular_file(path, what: str = "file") -> Path:
    """``path`` if it names a regular file (a symbolic link is followed);
    FileNotFoundError if nothing is there, ValueError for anything else (a
    FIFO, a device such as ``/dev/zero``, a folder). Checked before the file
    is opened: opening a FIFO to read would wait for a writer."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} not found") from None
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror or err}") \
            from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else
                "a FIFO" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "not a file")
        raise ValueError(f"{what} {path} is {kind}, not a regular file")
    return path


@dataclasses.dataclass
class ModelConfig:
    dim_word: int = 256  # E: embedding size (the paper: 620)
    dim: int = 512  # H: GRU state size (the paper: 1000)
    n_words_src: int = 8000  # source vocabulary size
    n_words: int = 8000  # target vocabulary size
    encoder: str = "gru"
    decoder: str = "gru_cond"
    dictionaries: list[str] = dataclasses.field(default_factory=list)
    bpe_models: list[str] = dataclasses.field(default_factory=list)  # [src, tgt]
    src_lang: str = "de"
    tgt_lang: str = "en"
    # beam search ranks finished hypotheses by log P / len ** length_exponent
    # (chosen on val); stored as "length_alpha" by nmt8 before 0.2
    length_exponent: float = 1.0

    def __post_init__(self):
        self.validate()

    @property
    def length_alpha(self) -> float:
        """Old name of ``length_exponent`` (read-only, for old callers)."""
        return self.length_exponent

    def validate(self) -> None:
        """Check the type and range of every field; ValueError names it."""
        for key in ("dim_word", "dim", "n_words_src", "n_words"):
            v = getattr(self, key)
            if not _is_int(v) or v < 1:
                raise ValueError(f"option {key!r} must be a positive integer, "
                                 f"got {v!r}")
            setattr(self, key, int(v))
        for key, want in (("encoder", "gru"), ("decoder", "gru_cond")):
            v = getattr(self, key)
            if v != want or not isinstance(v, str):
                raise ValueError(f"option {key!r} = {v!r} is not implemented "
                                 f"(nmt8 implements encoder 'gru' + decoder "
                                 f"'gru_cond')")
        for key in ("dictionaries", "bpe_models"):
            v = getattr(self, key)
            if not isinstance(v, (list, tuple)) \
                    or not all(isinstance(s, str) and s for s in v):
                raise ValueError(f"option {key!r} must be a list of file "
                                 f"names, got {v!r}")
            setattr(self, key, list(v))
        if len(self.bpe_models) not in (0, 2):
            raise ValueError(f"option 'bpe_models' must name two files "
                             f"(source, target) or none, got {self.bpe_models!r}")
        for key in ("src_lang", "tgt_lang"):
            v = getattr(self, key)
            if not isinstance(v, str) or not v:
                raise ValueError(f"option {key!r} must be a language code "
                                 f"such as 'de', got {v!r}")
        v = self.length_exponent
        if not isinstance(v, numbers.Real) or isinstance(v, bool) \
                or not math.isfinite(v) or v < 0:
            raise ValueError(f"option 'length_exponent' (the length "
                             f"normalisation exponent) must be a finite "
                             f"number >= 0, got {v!r}")
        self.length_exponent = float(v)

    @classmethod
    def from_dict(cls, raw) -> ModelConfig:
        """Options as Nematus writes them: flat, or under ``model_options``."""
        if not isinstance(raw, dict):
            kind = type(raw).__name__
            raise ValueError(f"must hold a JSON object, not {kind}")  # noqa: TRY004
        if "model_options" in raw:  # nematus >= 0.3 nests the options
            raw = raw["model_options"]
            if not isinstance(raw, dict):
                kind = type(raw).__name__
                raise ValueError(f"'model_options' must be a JSON object, not {kind}")
        check_options(raw)
        missing = [k for k in ("dim_word", "dim", "n_words_src", "n_words")
                   if k not in raw]
        if missing:
            raise ValueError(f"options {missing} are missing (the model's sizes)")
        kwargs = {f.name: raw[f.name] for f in dataclasses.fields(cls)
                  if f.name in raw}
        if "length_alpha" in raw:  # the name nmt8 wrote before
            old = raw["length_alpha"]
            if "length_exponent" in raw and raw["length_exponent"] != old:
                raise ValueError(f"options 'length_alpha' = {old!r} and "
                                 f"'length_exponent' = "
                                 f"{raw['length_exponent']!r} disagree")
            kwargs["length_exponent"] = old
            try:
                return cls(**kwargs)
            except ValueError as err:  # name the key the file uses
                raise ValueError(str(err).replace("'length_exponent'",
                                                  "'length_alpha'")) from None
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path: str | Path) -> ModelConfig:
        """Read and check ``model.npz.json``; ValueError names the file."""
        path = Path(path)
        try:
            regular_file(path, "model options")
        except FileNotFoundError:
            raise ValueError(f"cannot read model options {path}: no such "
                             f"file") from None
        try:
            with open(path, "rb") as fh:
                data = fh.read(OPTIONS_MAX_BYTES + 1)
        except OSError as err:
            raise ValueError(f"cannot read model options {path}: {err}") from None
        if len(data) > OPTIONS_MAX_BYTES:
            raise ValueError(f"{path}: more than {OPTIONS_MAX_BYTES} bytes; "
                             f"not a model options file")
        try:
            raw = json.loads(data)
        except RecursionError:
            raise ValueError(f"{path}: JSON nested too deeply; not a model "
                             f"options file") from None
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"cannot read model options {path}: {err}") from None
        try:
            return cls.from_dict(raw)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def to_json(self, path: str | Path) -> None:
        self.validate()
        text = json.dumps(dataclasses.asdict(self), indent=2)
        Path(path).write_text(text + "\n", encoding="utf-8")
