"""Model configuration: the hyper-parameters of Section 2 as a dataclass.

Saved beside the weights as ``model.npz.json`` with the key names Nematus uses
(``dim_word`` = E, ``dim`` = H, ``n_words_src``, ``n_words``), so the options
file of a real (Theano) Nematus model loads too. Every field is checked for
type and range; a Nematus option whose value changes the network in a way nmt8
does not implement (deeper stacks, layer normalisation, tied embeddings,
factors, ...) is refused by name. Training-only options (batch size,
optimizer, learning rate, dropout, validation settings, ...) and options nmt8
does not know are accepted and ignored: they do not change the network.

Does not: hold training settings (see ``nmt8.train``) or weights
(``nmt8.model.params`` reads those).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from pathlib import Path

# the vocabulary's fixed ids, the Nematus convention: </s> ends every
# sentence, <unk> stands for any piece outside the vocabulary
EOS, UNK = 0, 1

OPTIONS_MAX_BYTES = 1 << 20  # a Nematus options file is a few kB

# Nematus options that change the network, with the one value nmt8 implements
# and what another value would mean. Theano Nematus names first, then the
# TensorFlow Nematus names of the same options. Options used only by decoder
# layers 2+ (dec_high_recurrence_transition_depth, dec_deep_context,
# decoder_deep) need no check: dec_depth > 1 is refused.
_ENC = "nmt8 implements one bidirectional encoder layer of one-transition GRUs"
_DEC = "nmt8's decoder is one plain conditional GRU (transition depth 2)"
_LN = "nmt8 has no layer normalisation"
_LEX = "nmt8 has no lexical model"
_IMPLEMENTED: dict[str, tuple[object, str]] = {
    "model_type": ("rnn", "nmt8 implements the RNN (GRU) model only"),
    "enc_depth": (1, _ENC),
    "rnn_enc_depth": (1, _ENC),
    "enc_depth_bidirectional": (1, _ENC),
    "enc_recurrence_transition_depth": (1, _ENC),
    "rnn_enc_transition_depth": (1, _ENC),
    "dec_depth": (1, _DEC),
    "rnn_dec_depth": (1, _DEC),
    # depth 2 IS the conditional GRU: GRU r, attention, GRU q (eq. 3-6)
    "dec_base_recurrence_transition_depth": (2, _DEC),
    "rnn_dec_base_transition_depth": (2, _DEC),
    "factors": (1, "nmt8 reads one source factor (words) only"),
    "tie_encoder_decoder_embeddings": (False, "nmt8 reads Wemb and Wemb_dec"),
    "tie_decoder_embeddings": (False, "nmt8 reads the output layer ff_logit_W"),
    "layer_normalisation": (False, _LN),
    "rnn_layer_normalization": (False, _LN),
    "use_layer_norm": (False, _LN),
    "weight_normalisation": (False, "nmt8 has no weight normalisation"),
    "output_hidden_activation": ("tanh", "the readout g of eq. (2) is tanh"),
    "softmax_mixture_size": (1, "nmt8 has one softmax"),
    "lexical_model": (False, _LEX),
    "rnn_lexical_model": (False, _LEX),
}


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _same(value, want) -> bool:
    """Equal AND of the same kind (JSON ``true`` is not the integer 1)."""
    if isinstance(want, bool):
        return value is want
    if isinstance(want, int):
        return _is_int(value) and value == want
    return isinstance(value, str) and value == want


def check_options(raw: dict) -> None:
    """Refuse, by name, any Nematus option value nmt8 does not implement."""
    for key, (want, why) in _IMPLEMENTED.items():
        if key not in raw:
            continue
        value = raw[key]
        if key == "enc_depth_bidirectional" and value is None:
            continue  # Nematus's default: all layers (one)
        if not _same(value, want):
            raise ValueError(f"option {key!r} = {value!r} is not implemented "
                             f"({why}; only {want!r} loads)")
    if raw.get("dim_per_factor") is not None:
        dpf, E = raw["dim_per_factor"], raw.get("dim_word")
        if not (isinstance(dpf, list) and len(dpf) == 1 and _is_int(dpf[0])
                and dpf[0] == E):
            raise ValueError(f"option 'dim_per_factor' = {dpf!r} is not "
                             f"implemented (nmt8 reads one source factor: "
                             f"only [dim_word] = [{E!r}] loads)")


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
