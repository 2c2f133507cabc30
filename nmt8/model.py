"""The attentional GRU translation model of Section 2, in numpy.

* encoder: a bidirectional GRU over source embeddings, eq. (1);
  ``h_i = [fwd_i ; bwd_i]`` (Nematus order: forward half first);
* initial decoder state ``s_0 = tanh(mean_i(h_i) W_s + b_s)`` (Nematus
  ``ff_state``);
* decoder: the conditional GRU of Nematus, eq. (3)-(6): GRU ``r`` on the
  previous target embedding, MLP attention (``nmt8.attention``), GRU ``q`` on
  the context ``H_t``;
* readout ``g`` of eq. (2): ``t = tanh(s_t W1 + E[y_{t-1}] W2 + H_t W3)``,
  logits ``t W_o + b_o``.

Parameters carry the Nematus (Theano) ``.npz`` names and (in, out) shapes
(``nmt8.params`` lists them and reads model files):

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
``nmt8.precision``. Where the float32 tensors come from, how the fused
matrices are assembled, and what a model holds in memory (``Params``):
``nmt8.weights``.

Does not: search (``nmt8.beam``), tokenise (``nmt8.text``) or train
(``nmt8.train``, PyTorch).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .attention import attend
from .config import ModelConfig
from .gru import gru_gates, gru_step
from .ops import EMBEDDINGS, Rows8, linear, tanh
from .params import MODELS_DIR, options_path, param_shapes, resolve
from .precision import DEFAULT, PRECISIONS, Options, check_options, kernel_choices
from .text import EOS
from .weights import (
    FUSED,
    Params,
    _FileSource,
    _MemorySource,
    _release_freed_memory,
    build,
)

# re-exported: EMBEDDINGS (ops), MODELS_DIR, param_shapes (params), FUSED,
# Params (weights), PRECISIONS, DEFAULT, Options, check_options,
# kernel_choices (precision), where callers import them from nmt8.model
__all__ = ["DEFAULT", "EMBEDDINGS", "FUSED", "MODELS_DIR", "PRECISIONS",
           "Encoded", "Model", "Options", "Params", "check_options",
           "kernel_choices", "load_model", "param_shapes", "random_model"]


@dataclasses.dataclass
class Encoded:
    """What the decoder needs of one source sentence."""

    h: np.ndarray  # (S, 2H) annotations h_i, eq. (1)
    pctx: np.ndarray  # (S, 2H) h W_c_att + b_att, reused by every step
    s0: np.ndarray  # (1, H) initial decoder state


class Model:
    """One translation model in one precision.

    ``Model(cfg, params)`` builds an fp32 (numpy) model from float32 arrays
    with the Nematus names (``load_model`` reads a file, ``random_model``
    draws one). ``W``/``b``: the fused matrices (weight type per precision,
    ``nmt8.ops``) and their float32 biases; ``Wemb``/``Wemb_dec``: the
    embedding tables (``nmt8.ops.Embedding``); ``params``: the float32
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
        self._build(_MemorySource(params), None, check_options())

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
        _release_freed_memory()
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
        """Eq. (1) for B sentences of ids (each INCLUDING its final </s>).

        One :class:`Encoded` per sentence, in the order given. The sources
        run sorted longest first, so at every position the sentences still
        running are a prefix of the rows: no padding enters a recurrence,
        and each sentence's numbers are those of encoding it alone (int8:
        bit for bit; fp32: up to BLAS's rounding for another row count).
        """
        B, H = len(srcs), self.cfg.dim
        if B == 0:
            return []
        L = np.array([len(s) for s in srcs])  # (B,)
        if L.min() < 1:
            raise ValueError("every source must hold at least one id (</s>)")
        order = np.argsort(-L, kind="stable")  # longest first
        Ls = L[order]  # (B,) descending
        S = int(Ls[0])
        ids = np.full((B, S), EOS, np.int64)  # (B, S), padded
        for row, b in enumerate(order):
            ids[row, :Ls[row]] = srcs[b]
        if ids.min() < 0 or ids.max() >= self.cfg.n_words_src:
            raise ValueError(f"source id out of range [0, {self.cfg.n_words_src})")
        x = self.Wemb.lookup_rows(ids.reshape(-1))  # (B*S, E), or int8 rows
        x_proj = linear(x, self.W["enc_x"], self.b["enc_x"], mm=True)
        x_proj = x_proj.reshape(B, S, 6 * H)  # (B, S, 6H)
        h = np.zeros((B, S, 2 * H), np.float32)  # (B, S, 2H)
        fwd = np.zeros((B, H), np.float32)
        bwd = np.zeros((B, H), np.float32)
        for i in range(S):
            n = int((Ls > i).sum())  # sentences still running: rows [0, n)
            fwd[:n] = gru_step(x_proj[:n, i, :3 * H], fwd[:n], self.W["enc_U"])
            h[:n, i, :H] = fwd[:n]
            rows, j = np.arange(n), Ls[:n] - 1 - i  # each own backward position
            bwd[:n] = gru_step(x_proj[rows, j, 3 * H:], bwd[:n],
                               self.W["enc_r_U"])
            h[rows, j, H:] = bwd[:n]
        # s_0 from each sentence's own mean (no padded row in the sum)
        mean = np.concatenate([np.ascontiguousarray(h[r, :Ls[r]]).mean(
            0, keepdims=True) for r in range(B)])  # (B, 2H)
        s0 = tanh(linear(mean, self.W["ff_state"], self.b["ff_state"]))  # (B, H)
        pctx = linear(h.reshape(B * S, 2 * H), self.W["Wc_att"],
                      self.b["Wc_att"], mm=True).reshape(B, S, 2 * H)
        out: list[Encoded] = [None] * B  # type: ignore[list-item]
        for r, b in enumerate(order):
            n = int(Ls[r])
            out[b] = Encoded(h=np.ascontiguousarray(h[r, :n]),
                             pctx=np.ascontiguousarray(pctx[r, :n]),
                             s0=s0[r:r + 1].copy())
        return out

    # -- decoder, eq. (2)-(6) ------------------------------------------------
    def embed_prev(self, y_prev) -> np.ndarray:
        """E[y_{t-1}] (P, E); id -1 means "no previous word" (zero vector)."""
        y_prev = np.asarray(y_prev)
        emb = self.Wemb_dec.lookup(np.maximum(y_prev, 0))
        emb[y_prev < 0] = 0.0
        return emb

    def _embed_prev_rows(self, y_prev):
        """``embed_prev`` for the product that reads it: an int8 table's
        rows as stored (``nmt8.ops.Rows8``) when the product is int8."""
        if not (self.Wemb_dec.dtype == "int8" and self.precision == "int8"):
            return self.embed_prev(y_prev)
        y_prev = np.asarray(y_prev)
        q, step = self.Wemb_dec.lookup_rows(np.maximum(y_prev, 0))
        none = y_prev < 0
        q[none], step[none] = 0, 0.0
        return Rows8(q, step)

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
        """One decoder step for the live rows of several sentences.

        ``encs[g]`` owns the next ``counts[g]`` rows of s_prev (P, H) and
        y_prev (P,). Every weight product runs once over all P rows;
        attention, eq. (5)-(6), runs per sentence over its own source.
        Returns logits (P, Vt), s_t (P, H) and one alpha (counts[g], S_g)
        per sentence.
        """
        H, C = self.cfg.dim, 2 * self.cfg.dim
        W, b = self.W, self.b
        y_proj = linear(self._embed_prev_rows(y_prev), W["dec_y"],
                        b["dec_y"])  # (P, 3H + E)
        s1 = gru_step(y_proj[:, :3 * H], s_prev, W["dec_U"])  # s'_t, eq. (3)
        s1_proj = linear(s1, W["dec_s1"], b["dec_s1"])  # (P, C + 3H)
        H_t = np.empty((s1.shape[0], C), np.float32)  # (P, 2H)
        alphas, r = [], 0
        for enc, n in zip(encs, counts):
            H_t[r:r + n], alpha = attend(enc.pctx, s1_proj[r:r + n, :C], enc.h,
                                         W["U_att"], b["U_att"])
            alphas.append(alpha)
            r += n
        c_proj = linear(H_t, W["dec_ctx"], b["dec_ctx"])  # (P, 3H + E)
        s_t = gru_gates(c_proj[:, :3 * H], s1_proj[:, C:], s1)  # eq. (4)
        t = tanh(linear(s_t, W["logit_lstm"], b["logit_lstm"])
                 + y_proj[:, 3 * H:] + c_proj[:, 3 * H:])  # (P, E), eq. (2)
        logits = linear(t, W["logit"], b["logit"])  # (P, Vt)
        return logits, s_t, alphas

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
    ValueError naming the file and the option or tensor (``nmt8.params``,
    ``nmt8.config``).
    """
    opt = check_options(precision, kernel, scheme, embeddings)
    npz = resolve(name_or_path)
    cfg = ModelConfig.from_json(options_path(npz))
    m = Model.__new__(Model)
    m.cfg, m.path, m.random = cfg, npz, False
    source = _FileSource(npz, cfg)
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
