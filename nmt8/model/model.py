"""The attentional GRU translation model of Section 2, in numpy: one
model's weights in one precision, and loading them.

* encoder: a bidirectional GRU over source embeddings, eq. (1), and the
  initial decoder state ``s_0`` (``nmt8.model.encoder``);
* decoder: the conditional GRU of Nematus, eq. (3)-(6), with MLP attention
  (``nmt8.model.attention``) and the readout ``g`` of eq. (2) (``nmt8.model.decoder``).

:class:`Model` holds the weights and runs both (``encode``, ``step``);
:func:`load_model` reads a Nematus model file, :func:`random_model` draws
one of any size.

Parameters carry the Nematus (Theano) ``.npz`` names and (in, out) shapes
(``nmt8.model.params`` lists them and reads model files):

=====================  =========================================  ==========
paper symbol           Nematus name                               shape
=====================  =========================================  ==========
x_i (source emb.)      Wemb                                       (Vs, E)
E[y] (target emb.)     Wemb_dec                                   (Vt, E)
fwd f, eq. (1)         encoder_{W,b,U,Wx,bx,Ux}                   W (E, 2H)
bwd f, eq. (1)         encoder_r_{W,b,U,Wx,bx,Ux}                 U (H, 2H)
s_0 layer              ff_state_{W,b}                             (2H, H)
GRU r, eq. (3)         decoder_{W,b,U,Wx,bx,Ux}                   as encoder
w (att. on h_i), (6)   decoder_Wc_att, decoder_b_att              (2H, 2H)
u (att. on s'), (6)    decoder_W_comb_att                         (H, 2H)
v, eq. (6)             decoder_U_att, decoder_c_tt                (2H, 1)
GRU q, eq. (4)         decoder_{U_nl,b_nl,Ux_nl,bx_nl,Wc,Wcx}     Wc (2H, 2H)
g: W1, W2, W3, eq. (2) ff_logit_{lstm,prev,ctx}_{W,b}             (., E)
g: output layer        ff_logit_{W,b}                             (E, Vt)
=====================  =========================================  ==========

At prepare time matrices that multiply the same input are stored side by side
(``[W | Wx]``, ``[U | Ux]``, ...; the table ``FUSED``) so each input vector
costs ONE weight product per step; these fused matrices are the shapes the
paper's kernels see (e.g. 620 x 3000, 1000 x 3000, 2000 x 3000).

Precisions (``PRECISIONS``, ``check_options``, the weight each builds):
``nmt8.model.precision``. Where the float32 tensors come from, how the fused
matrices are assembled, and what a model holds in memory (``Params``):
``nmt8.model.weights``.

Does not: compute the encoder or a decoder step itself (``nmt8.model.encoder``,
``nmt8.model.decoder``), search (``nmt8.search.beam``), tokenise (``nmt8.serve.text``) or
train (``nmt8.train``, PyTorch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmt8.model import decoder, encoder
from nmt8.model.config import ModelConfig
from nmt8.model.encoder import Encoded
from nmt8.model.params import options_path, param_shapes, resolve
from nmt8.model.precision import (
    DEFAULT,
    Options,
    check_options,
)
from nmt8.model.weights import (
    FileSource,
    MemorySource,
    Params,
    build,
    release_freed_memory,
    views,
)

# re-exported: Encoded (encoder), EMBEDDINGS (embedding), MODELS_DIR,
# param_shapes (params), FUSED, Params (weights), PRECISIONS, DEFAULT,
# Options, check_options, kernel_choices (precision), where callers import
# them from nmt8.model.model
__all__ = [
    "Model",
    "load_model",
    "random_model",
]


class Model:
    """One translation model in one precision.

    ``Model(cfg, params)`` builds an fp32 (numpy) model from float32 arrays
    with the Nematus names (``load_model`` reads a file, ``random_model``
    draws one). ``W``/``b``: the fused matrices (weight type per precision,
    ``nmt8.model.products``) and their float32 biases; ``Wemb``/``Wemb_dec``: the
    embedding tables (``nmt8.model.embedding.Embedding``); ``params``: the float32
    Nematus tensors (``Params``); ``precision``, ``kernel``, ``scheme``,
    ``embeddings``: how it is prepared. Every precision is built from the
    same float32 parameters ("both systems load parameters from the same
    model").
    """

    def __init__(self, cfg: ModelConfig, params: dict[str, np.ndarray],
                 path: Path | None = None, random: bool = False):
        self.cfg, self.path, self.random = cfg, path, random
        missing = sorted(set(param_shapes(cfg)) - set(params))
        if missing:
            raise ValueError(f"params lack {', '.join(missing)}")
        self._build(MemorySource(params), None, check_options())

    # -- precision ---------------------------------------------------------
    def _build(self, source, keep, opt: Options) -> Model:
        """Build every matrix and table of ``opt`` from ``source``, one
        fused matrix at a time (a quantized matrix's float32 pieces are
        dropped before the next is read). ``keep``: the source recorded for
        ``params``, ``copy`` and ``prepare`` (None: this model's own fp32)."""
        shapes = param_shapes(self.cfg)
        W, b, emb, held, self._mem = build(source, shapes, opt)
        keep = self._mem if keep is None else keep
        self.W, self.b = W, b
        self.Wemb, self.Wemb_dec = emb["src"], emb["tgt"]
        self._source = keep
        self.params = Params(shapes, held, keep)
        self.options = opt
        self.precision, self.kernel = opt.precision, opt.kernel
        self.scheme, self.embeddings = opt.scheme, opt.embeddings
        release_freed_memory()
        return self

    def prepare(self, precision: str = "fp32", kernel: str = DEFAULT,
                scheme: str = DEFAULT, embeddings: str = DEFAULT) -> Model:
        """Rebuild this model's matrices in ``precision`` (in place).

        kernel: ``"default"`` (numpy for fp32 and msfp, ``"auto"`` for
        int8/int16), ``"auto"`` or a name of ``kernel_choices(precision)``;
        scheme (int8/int16 only): ``"per_tensor"`` (default) or
        ``"per_row"``; embeddings: ``"fp32"``, ``"fp16"`` or ``"int8"``
        (default: see the module docstring). Bad settings raise before
        anything changes (``check_options``).
        """
        opt = check_options(precision, kernel, scheme, embeddings)
        return self._build(self._mem or self._source, self._source, opt)

    def copy(self, precision: str = "fp32", kernel: str = DEFAULT,
             scheme: str = DEFAULT, embeddings: str = DEFAULT) -> Model:
        """This model's parameters in another precision (a new Model; the
        settings as ``prepare``). An fp32 numpy copy of an fp32 numpy
        model shares its arrays."""
        opt = check_options(precision, kernel, scheme, embeddings)
        m = Model.__new__(Model)
        m.cfg, m.path, m.random = self.cfg, self.path, self.random
        if opt == self.options:  # the same arrays (read-only by use)
            m.__dict__.update({k: v for k, v in self.__dict__.items()
                               if k not in ("cfg", "path", "random")})
            m.W, m.b = dict(self.W), dict(self.b)
            return m
        return m._build(self._mem or self._source, self._source, opt)

    # -- pickling: each buffer once ---------------------------------------
    def __getstate__(self) -> dict:
        """Everything but the float32 views of ``params`` and of the model's
        own source (views pickle as copies: an fp32 model would grow by its
        weights); ``__setstate__`` makes them again over the unpickled
        matrices (``nmt8.model.weights.views``)."""
        state = dict(self.__dict__)
        own = self._mem is not None and self._source is self._mem
        state.update(params=None, _mem=None, _own_source=own)
        if own:
            state["_source"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        own = state.pop("_own_source")
        self.__dict__.update(state)
        shapes = param_shapes(self.cfg)
        emb = {"src": self.Wemb, "tgt": self.Wemb_dec}
        held, self._mem = views(self.W, self.b, emb, shapes, self.options)
        if own:
            self._source = self._mem
        self.params = Params(shapes, held, self._source)

    def __repr__(self) -> str:
        sim = ", simulated" if self.precision.startswith("msfp") else ""
        scheme = f", scheme={self.scheme!r}" if self.scheme else ""
        return (f"Model(E={self.cfg.dim_word}, H={self.cfg.dim}, "
                f"vocab={self.cfg.n_words_src}/{self.cfg.n_words}, "
                f"precision={self.precision!r}{sim}, kernel={self.kernel!r}"
                f"{scheme}, embeddings={self.embeddings!r})")

    # -- encoder, eq. (1) ---------------------------------------------------
    def encode(self, src_ids) -> Encoded:
        """Annotations of a source sentence (ids INCLUDING the final </s>)."""
        src_ids = np.asarray(src_ids, dtype=np.int64)
        if src_ids.ndim != 1 or len(src_ids) == 0:
            raise ValueError("src_ids must be a non-empty 1-D sequence of ids")
        return self.encode_batch([src_ids])[0]

    def encode_batch(self, srcs) -> list[Encoded]:
        """Eq. (1) for B sentences of ids (each INCLUDING its final </s>),
        one :class:`Encoded` each, in the order given
        (``nmt8.model.encoder.encode_batch``: int8 bit for bit as each alone)."""
        return encoder.encode_batch(self, srcs)

    # -- decoder, eq. (2)-(6) ------------------------------------------------
    def embed_prev(self, y_prev) -> np.ndarray:
        """E[y_{t-1}] (P, E); id -1 means "no previous word" (zero vector)."""
        return decoder.embed_prev(self, y_prev)

    def step(self, enc: Encoded, s_prev: np.ndarray, y_prev):
        """One decoder step for the P hypotheses of one sentence.

        s_prev: (P, H); y_prev: (P,) previous target ids (-1 at t=0).
        Returns logits (P, Vt), s_t (P, H) and attention alpha (P, S).
        """
        logits, s_t, (alpha,) = self.step_batch([enc], [len(s_prev)], s_prev,
                                                y_prev)
        return logits, s_t, alpha

    def step_batch(self, encs: list[Encoded], counts: list[int],
                   s_prev: np.ndarray, y_prev):
        """One decoder step for the live rows of several sentences
        (``nmt8.model.decoder.step_batch``): ``encs[g]`` owns the next
        ``counts[g]`` rows of s_prev (P, H) and y_prev (P,). Returns logits
        (P, Vt), s_t (P, H) and one alpha (counts[g], S_g) per sentence.
        """
        return decoder.step_batch(self, encs, counts, s_prev, y_prev)

    def arrays(self) -> dict[str, list[np.ndarray]]:
        """Every array the model holds, by part: ``weights`` (the fused
        matrices in their precision, with their scales and any packed
        copy a kernel made), ``biases`` and ``embeddings``."""
        weights = []
        for w in self.W.values():
            weights += [w] if isinstance(w, np.ndarray) else w.arrays()
        return {"weights": weights,
                "biases": [b for b in self.b.values() if b is not None],
                "embeddings": self.Wemb.arrays() + self.Wemb_dec.arrays()}

    def nbytes(self, part: str | None = None) -> int:
        """Bytes of every array the model holds (or of one part of
        ``arrays()``), each memory buffer counted once: the views in
        ``params`` cost nothing. Tensors only a source holds (the model
        file; the float32 arrays a quantized copy of an in-memory model
        keeps for ``copy``) are not counted."""
        parts = self.arrays()
        if part is not None:
            if part not in parts:
                raise ValueError(f"part must be one of {', '.join(parts)}, "
                                 f"got {part!r}")
            parts = {part: parts[part]}
        seen, total = set(), 0
        for arrays in parts.values():
            for a in arrays:
                base = a
                while isinstance(base.base, np.ndarray):
                    base = base.base
                if id(base) not in seen:
                    seen.add(id(base))
                    total += base.nbytes
        return total


# -- loading -------------------------------------------------------------------
def load_model(name_or_path="de-en", precision: str = "fp32",
               kernel: str = DEFAULT, scheme: str = DEFAULT,
               embeddings: str = DEFAULT) -> Model:
    """Load a Nematus-format model: ``model.npz`` + ``model.npz.json``.

    The settings are checked first (as ``Model.prepare``), then the options,
    then every tensor's header (name, shape, float dtype, size), then the
    data, tensor by tensor (NaN/inf refused); any float dtype is converted
    to float32. The model is built directly in ``precision``: a quantized
    model never holds the float32 matrices it quantized, and reads the
    file again for ``copy``/``prepare``/``params``. A bad file raises one
    ValueError naming the file and the option or tensor (``nmt8.model.params``,
    ``nmt8.model.config``).
    """
    opt = check_options(precision, kernel, scheme, embeddings)
    npz = resolve(name_or_path)
    cfg = ModelConfig.from_json(options_path(npz))
    m = Model.__new__(Model)
    m.cfg, m.path, m.random = cfg, npz, False
    source = FileSource(npz, cfg)
    return m._build(source, source, opt)


def random_model(emb: int = 620, hidden: int = 1000, src_vocab: int = 40000,
                 tgt_vocab: int = 40000, seed: int = 0) -> Model:
    """A model of any size with fixed-seed random weights, for speed studies.

    Decoding speed does not depend on the trained values, only on the shapes;
    the paper's size is E=620, H=1000 with ~40k vocabularies.
    """
    cfg = ModelConfig(dim_word=emb, dim=hidden, n_words_src=src_vocab,
                      n_words=tgt_vocab)
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if len(shape) == 1:
            params[name] = np.zeros(shape, np.float32)
        else:
            scale = np.float32(1.0 / np.sqrt(shape[0]))  # keep float32
            params[name] = rng.standard_normal(shape, np.float32) * scale
    return Model(cfg, params, random=True)
