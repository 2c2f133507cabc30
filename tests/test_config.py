"""Model options (``model.npz.json``): types, ranges, and Nematus's own keys."""

import json
import math

import pytest

from nmt8.model.config import ModelConfig

from .conftest import SHIPPED


def nematus_options(cfg: ModelConfig) -> dict:
    """The options a Theano Nematus training run writes (its key names and
    defaults, a typical command line), for a model of ``cfg``'s sizes."""
    E, H = cfg.dim_word, cfg.dim
    return {
        "dim_word": E, "dim": H, "n_words_src": cfg.n_words_src,
        "n_words": cfg.n_words, "encoder": "gru", "decoder": "gru_cond",
        "decoder_deep": "gru", "enc_depth": 1, "dec_depth": 1,
        "enc_depth_bidirectional": 1, "enc_recurrence_transition_depth": 1,
        "dec_base_recurrence_transition_depth": 2,
        "dec_high_recurrence_transition_depth": 1, "dec_deep_context": False,
        "factors": 1, "dim_per_factor": [E],
        "tie_encoder_decoder_embeddings": False, "tie_decoder_embeddings": False,
        "layer_normalisation": False, "weight_normalisation": False,
        "dictionaries": ["/data/train.bpe.de.json", "/data/train.bpe.en.json"],
        "datasets": ["/data/train.bpe.de", "/data/train.bpe.en"],
        "valid_datasets": ["/data/dev.bpe.de", "/data/dev.bpe.en"],
        "saveto": "model/model.npz", "reload_": True, "overwrite": False,
        "patience": 10, "max_epochs": 5000, "finish_after": 10000000,
        "dispFreq": 1000, "validFreq": 10000, "saveFreq": 30000,
        "sampleFreq": 10000, "decay_c": 0.0, "map_decay_c": 0.0, "clip_c": 1.0,
        "lrate": 0.0001, "optimizer": "adam", "maxlen": 50, "batch_size": 80,
        "valid_batch_size": 80, "maxibatch_size": 20, "use_dropout": True,
        "dropout_embedding": 0.2, "dropout_hidden": 0.2, "dropout_source": 0.1,
        "dropout_target": 0.1, "shuffle_each_epoch": True, "sort_by_length": True,
        "external_validation_script": "./validate.sh", "objective": "CE",
        "mrt_alpha": 0.005, "anneal_restarts": 0, "anneal_decay": 0.5,
        "encoder_truncate_gradient": -1, "decoder_truncate_gradient": -1,
        "model_version": 0.1, "prior_model": None,
        # TensorFlow Nematus keys with the values of this architecture
        "model_type": "rnn", "output_hidden_activation": "tanh",
        "softmax_mixture_size": 1, "rnn_use_dropout": True,
    }


BASE = ModelConfig(dim_word=4, dim=6, n_words_src=10, n_words=12)


def _load(tmp_path, text: str) -> ModelConfig:
    p = tmp_path / "model.npz.json"
    p.write_text(text)
    return ModelConfig.from_json(p)


def test_nematus_options_load(tmp_path):
    raw = nematus_options(BASE)
    assert len(raw) >= 40
    cfg = _load(tmp_path, json.dumps(raw))
    assert (cfg.dim_word, cfg.dim, cfg.n_words_src, cfg.n_words) == (4, 6, 10, 12)
    assert cfg.dictionaries == raw["dictionaries"]
    assert cfg.length_exponent == 1.0  # not Nematus's mrt_alpha
    nested = _load(tmp_path, json.dumps({"model_options": raw}))
    assert nested == cfg


@pytest.mark.parametrize("key,value", [
    ("layer_normalisation", True), ("weight_normalisation", True),
    ("enc_depth", 2), ("dec_depth", 2), ("enc_depth_bidirectional", 2),
    ("enc_recurrence_transition_depth", 2),
    ("dec_base_recurrence_transition_depth", 3),
    ("tie_decoder_embeddings", True), ("tie_encoder_decoder_embeddings", True),
    ("factors", 2), ("factors", True), ("dim_per_factor", [3, 1]),
    ("output_hidden_activation", "relu"), ("model_type", "transformer"),
    ("softmax_mixture_size", 2), ("rnn_enc_depth", 4), ("encoder", "lstm"),
    ("decoder", "lstm_cond"),
    # language-model fusion (Theano Nematus): was loaded as if absent
    ("deep_fusion_lm", "lm/model.npz"), ("concatenate_lm_decoder", True),
    ("output_depth", 2), ("enc_depth_bidirectional", False),
    ("rnn_layer_normalisation", True), ("lexical_model", True),
    # options nmt8 does not know: a fork's network changes, a newer option
    ("decoder_gru_no_reset_gate", True), ("some_future_option", [1, 2]),
    # the TensorFlow names of the sizes disagree with the Theano ones
    ("embedding_size", 5), ("state_size", 7), ("target_vocab_size", 13),
    ("source_vocab_sizes", [11]),
])
def test_unimplemented_option_value_is_named(tmp_path, key, value):
    raw = dict(nematus_options(BASE), **{key: value})
    with pytest.raises(ValueError, match=rf"model\.npz\.json: .*'{key}'"):
        _load(tmp_path, json.dumps(raw))


@pytest.mark.parametrize("key,value", [
    ("dec_high_recurrence_transition_depth", 2),  # used by layers 2+ only
    ("dec_deep_context", True), ("rnn_use_dropout", False),
    ("batch_size", 1), ("lrate", 0.5), ("enc_depth_bidirectional", None),
    ("deep_fusion_lm", None), ("concatenate_lm_decoder", False),
    ("transformer_num_heads", 8), ("lm_dim", 512),  # read only by what is refused
    ("embedding_size", 4), ("state_size", 6), ("source_vocab_sizes", [10]),
])
def test_options_that_do_not_change_the_network_are_accepted(tmp_path, key, value):
    raw = dict(nematus_options(BASE), **{key: value})
    assert _load(tmp_path, json.dumps(raw)).dim == 6


# every keyword of Theano Nematus's train() (its last version, with LM
# fusion) and every option name of TensorFlow Nematus's config, with the
# defaults of the network nmt8 implements: a real options file loads
THEANO_DEFAULTS = {
    "enc_depth": 1, "dec_depth": 1, "enc_recurrence_transition_depth": 1,
    "dec_base_recurrence_transition_depth": 2,
    "dec_high_recurrence_transition_depth": 1, "dec_deep_context": False,
    "enc_depth_bidirectional": None, "factors": 1, "dim_per_factor": None,
    "encoder": "gru", "decoder": "gru_cond", "decoder_deep": "gru",
    "patience": 10, "max_epochs": 5000, "finish_after": 10000000,
    "dispFreq": 1000, "decay_c": 0.0, "map_decay_c": 0.0, "clip_c": -1.0,
    "lrate": 0.0001, "maxlen": 100, "optimizer": "adam", "batch_size": 16,
    "token_batch_size": 0, "valid_batch_size": 16, "valid_token_batch_size": 0,
    "saveto": "model.npz", "deep_fusion_lm": None,
    "concatenate_lm_decoder": False, "validFreq": 10000, "saveFreq": 30000,
    "sampleFreq": 10000, "datasets": [None, None], "valid_datasets": [None, None],
    "dictionaries": ["a.json", "b.json"], "use_dropout": False,
    "dropout_embedding": 0.2, "dropout_hidden": 0.2, "dropout_source": 0,
    "dropout_target": 0, "reload_": False, "reload_training_progress": True,
    "overwrite": False, "external_validation_script": None,
    "shuffle_each_epoch": True, "sort_by_length": True,
    "use_domain_interpolation": False, "domain_interpolation_min": 0.1,
    "domain_interpolation_max": 1.0, "domain_interpolation_inc": 0.1,
    "domain_interpolation_indomain_datasets": [None, None],
    "multilingual": False, "language_source_target": [None, None],
    "anneal_restarts": 0, "anneal_decay": 0.5, "maxibatch_size": 20,
    "objective": "CE", "mrt_alpha": 0.005, "mrt_samples": 100,
    "mrt_samples_meanloss": 10, "mrt_reference": False,
    "mrt_loss": "SENTENCEBLEU n=4", "mrt_ml_mix": 0, "raml_tau": 0.85,
    "raml_samples": 1, "raml_reward": "hamming_distance", "model_version": 0.1,
    "prior_model": None, "tie_encoder_decoder_embeddings": False,
    "tie_decoder_embeddings": False, "encoder_truncate_gradient": -1,
    "decoder_truncate_gradient": -1, "layer_normalisation": False,
    "weight_normalisation": False,
}
TENSORFLOW_NAMES = [
    "model_version", "theano_compat", "source_dicts", "target_dict",
    "source_dataset", "target_dataset", "save_freq", "summary_dir",
    "summary_freq", "preprocess_script", "model_type", "embedding_size",
    "state_size", "source_vocab_sizes", "target_vocab_size",
    "target_embedding_size", "output_hidden_activation", "softmax_mixture_size",
    "layer_normalization_type", "rnn_enc_depth", "rnn_enc_transition_depth",
    "rnn_dec_depth", "rnn_dec_base_transition_depth",
    "rnn_dec_high_transition_depth", "rnn_dec_deep_context", "rnn_use_dropout",
    "rnn_dropout_embedding", "rnn_dropout_hidden", "rnn_dropout_source",
    "rnn_dropout_target", "rnn_layer_normalization", "rnn_lexical_model",
    "transformer_enc_depth", "transformer_dec_depth",
    "transformer_ffn_hidden_size", "transformer_num_heads",
    "transformer_dropout_embeddings", "transformer_dropout_residual",
    "transformer_dropout_relu", "transformer_dropout_attn",
    "transformer_drophead", "loss_function", "label_smoothing",
    "exponential_smoothing", "adam_beta1", "adam_beta2", "adam_epsilon",
    "learning_schedule", "learning_rate", "warmup_steps", "plateau_steps",
    "max_sentences_per_device", "max_tokens_per_device",
    "gradient_aggregation_steps", "keep_train_set_in_memory",
    "print_per_token_pro", "valid_source_dataset", "valid_bleu_source_dataset",
    "valid_target_dataset", "valid_freq", "valid_script", "disp_freq",
    "sample_freq", "beam_freq", "beam_size", "normalization_alpha", "n_best",
    "translation_maxlen", "translation_strategy"
]


def test_every_nematus_option_name_is_on_the_allow_list():
    from nmt8.model.config import IMPLEMENTED, TRAINING, UNUSED

    known = set(IMPLEMENTED) | UNUSED | TRAINING | {
        "dim_word", "dim", "n_words_src", "n_words", "encoder", "decoder",
        "dictionaries", "dim_per_factor", "embedding_size", "state_size",
        "source_vocab_sizes", "target_vocab_size", "target_embedding_size"}
    assert set(THEANO_DEFAULTS) - known == set()
    assert set(TENSORFLOW_NAMES) - known == set()


def test_theano_nematus_defaults_load(tmp_path):
    raw = dict(THEANO_DEFAULTS, dim_word=4, dim=6, n_words_src=10, n_words=12)
    assert _load(tmp_path, json.dumps(raw)).dim == 6


def _sizes(extra: str) -> str:
    """An options object with valid sizes plus one ``extra`` "key": value."""
    return '{"dim_word": 4, "dim": 6, "n_words_src": 10, "n_words": 12, ' \
        + extra + "}"


@pytest.mark.parametrize("text,named", [
    ("[]", "JSON object"),
    ('{"model_options": null}', "model_options"),
    ('{"dim_word": 4, "dim": null, "n_words_src": 10, "n_words": 12}', "'dim'"),
    (_sizes('"length_alpha": "x"'), "'length_alpha'"),
    (_sizes('"bpe_models": [1, 2]'), "'bpe_models'"),
    (_sizes('"bpe_models": ["only.model"]'), "'bpe_models'"),
    ('{"dim_word": 4, "dim": 6, "n_words_src": 10}', "n_words"),
    ('{"dim_word": 4.0, "dim": 6, "n_words_src": 10, "n_words": 12}', "'dim_word'"),
    ('{"dim_word": true, "dim": 6, "n_words_src": 10, "n_words": 12}', "'dim_word'"),
    ('{"dim_word": 4, "dim": 6, "n_words_src": 0, "n_words": 12}', "'n_words_src'"),
    (_sizes('"src_lang": 7'), "'src_lang'"),
    (_sizes('"dictionaries": "a.json"'), "'dictionaries'"),
    (_sizes('"length_exponent": NaN'), "'length_exponent'"),
    (_sizes('"length_exponent": -1'), "'length_exponent'"),
    ("{not json", "cannot read"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_bad_options_file_is_one_value_error(tmp_path, text, named):
    with pytest.raises(ValueError, match=r"model\.npz\.json") as err:
        _load(tmp_path, text)
    assert named in str(err.value)


def test_oversized_options_file(tmp_path):
    with pytest.raises(ValueError, match="not a model options file"):
        _load(tmp_path, '{"x": "' + "a" * (2 << 20) + '"}')


def test_not_utf8(tmp_path):
    p = tmp_path / "model.npz.json"
    p.write_bytes(b'{"dim": "\xff"}')
    with pytest.raises(ValueError, match=r"model\.npz\.json"):
        ModelConfig.from_json(p)


# -- the length normalisation exponent ----------------------------------------------
def test_old_key_length_alpha_is_read(tmp_path):
    raw = dict(nematus_options(BASE), length_alpha=0.6)
    cfg = _load(tmp_path, json.dumps(raw))
    assert cfg.length_exponent == 0.6
    assert cfg.length_alpha == 0.6  # read-only alias for old callers
    with pytest.raises(AttributeError):
        cfg.length_alpha = 1.0


def test_old_and_new_keys_must_agree(tmp_path):
    raw = dict(nematus_options(BASE), length_alpha=0.6, length_exponent=1.0)
    with pytest.raises(ValueError, match="disagree"):
        _load(tmp_path, json.dumps(raw))


def test_json_round_trip_writes_the_new_name(tmp_path):
    cfg = ModelConfig(dim_word=4, dim=6, n_words_src=10, n_words=12,
                      bpe_models=["a.model", "b.model"], length_exponent=0.7)
    cfg.to_json(tmp_path / "o.json")
    raw = json.loads((tmp_path / "o.json").read_text())
    assert raw["length_exponent"] == 0.7 and "length_alpha" not in raw
    assert ModelConfig.from_json(tmp_path / "o.json") == cfg


def test_shipped_options_load():
    cfg = ModelConfig.from_json(SHIPPED / "model.npz.json")
    assert math.isclose(cfg.length_exponent, 0.6)
    assert len(cfg.bpe_models) == 2


# -- the dataclass checks itself ------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"dim": 0}, {"dim": -3}, {"dim": True}, {"dim": 2.0}, {"n_words": None},
    {"length_exponent": math.inf}, {"length_exponent": "1"},
    {"bpe_models": ["a.model", ""]}, {"tgt_lang": ""},
])
def test_constructor_validates(kwargs):
    with pytest.raises(ValueError, match=repr(next(iter(kwargs)))):
        ModelConfig(**kwargs)


def test_numpy_integers_become_ints():
    import numpy as np

    cfg = ModelConfig(dim=np.int64(6), length_exponent=np.float32(0.5))
    assert type(cfg.dim) is int and type(cfg.length_exponent) is float
    json.dumps(cfg.__dict__)  # serialisable
