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
(``[W | Wx]``, ``[U | Ux]``, ...) so each input vector costs ONE weight product
per step; these fused matrices are the shapes the paper's kernels see (e.g.
620 x 3000, 1000 x 3000, 2000 x 3000).

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
from .ops import Int8Weight, linear, tanh
from .params import MODELS_DIR, options_path, param_shapes, read_params, resolve
from .text import EOS

__all__ = ["MODELS_DIR", "Encoded", "Model", "load_model", "param_shapes",
           "random_model"]  # MODELS_DIR, param_shapes: re-exported from params


@dataclasses.dataclass
class Encoded:
    """What the decoder needs of one source sentence."""

    h: np.ndarray  # (S, 2H) annotations h_i, eq. (1)
    pctx: np.ndarray  # (S, 2H) h W_c_att + b_att, reused by every step
    s0: np.ndarray  # (1, H) initial decoder state


class Model:
    """One translation model: fp32 parameters plus a prepared precision.

    ``params`` holds the float32 Nematus tensors. ``precision`` is ``"fp32"``
    or ``"int8"``; int8 weights are quantized at prepare time from these very
    parameters ("both systems load parameters from the same model").
    """

    def __init__(self, cfg: ModelConfig, params: dict[str, np.ndarray],
                 path: Path | None = None, random: bool = False):
        self.cfg, self.params, self.path, self.random = cfg, params, path, random
        self.precision, self.kernel, self.scheme = None, None, None
        self.prepare("fp32")

    # -- precision ---------------------------------------------------------
    def prepare(self, precision: str = "fp32", kernel: str = "auto",
                scheme: str = "per_tensor") -> Model:
        """Build the fused weight matrices in fp32 or int8 (in place)."""
        if precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}")
        p, C = self.params, 2 * self.cfg.dim
        cat = np.concatenate
        mats = {  # name -> (weight (in, out), bias (out,) or None)
            "enc_x": (cat([p["encoder_W"], p["encoder_Wx"], p["encoder_r_W"],
                           p["encoder_r_Wx"]], 1),
                      cat([p["encoder_b"], p["encoder_bx"], p["encoder_r_b"],
                           p["encoder_r_bx"]])),
            "enc_U": (cat([p["encoder_U"], p["encoder_Ux"]], 1), None),
            "enc_r_U": (cat([p["encoder_r_U"], p["encoder_r_Ux"]], 1), None),
            "ff_state": (p["ff_state_W"], p["ff_state_b"]),
            "Wc_att": (p["decoder_Wc_att"], p["decoder_b_att"]),
            # E[y_{t-1}] -> [GRU r input | readout W2]
            "dec_y": (cat([p["decoder_W"], p["decoder_Wx"],
                           p["ff_logit_prev_W"]], 1),
                      cat([p["decoder_b"], p["decoder_bx"], p["ff_logit_prev_b"]])),
            "dec_U": (cat([p["decoder_U"], p["decoder_Ux"]], 1), None),
            # s'_t -> [attention u | GRU q state]
            "dec_s1": (cat([p["decoder_W_comb_att"], p["decoder_U_nl"],
                            p["decoder_Ux_nl"]], 1),
                       cat([np.zeros(C, np.float32), p["decoder_b_nl"],
                            p["decoder_bx_nl"]])),
            "U_att": (p["decoder_U_att"], p["decoder_c_tt"]),
            # H_t -> [GRU q input | readout W3]
            "dec_ctx": (cat([p["decoder_Wc"], p["decoder_Wcx"],
                             p["ff_logit_ctx_W"]], 1),
                        cat([np.zeros(3 * self.cfg.dim, np.float32),
                             p["ff_logit_ctx_b"]])),
            "logit_lstm": (p["ff_logit_lstm_W"], p["ff_logit_lstm_b"]),
            "logit": (p["ff_logit_W"], p["ff_logit_b"]),
        }
        if precision == "int8":
            from .quant import quantize

            mats = {k: (Int8Weight(quantize(W, scheme=scheme), kernel), b)
                    for k, (W, b) in mats.items()}
        else:
            mats = {k: (np.ascontiguousarray(W), b) for k, (W, b) in mats.items()}
        self.W = {k: w for k, (w, _) in mats.items()}
        self.b = {k: b for k, (_, b) in mats.items()}
        self.precision, self.kernel, self.scheme = precision, kernel, scheme
        return self

    def copy(self, precision: str = "fp32", kernel: str = "auto",
             scheme: str = "per_tensor") -> Model:
        """A second view of the same parameters in another precision."""
        m = Model.__new__(Model)
        m.cfg, m.params = self.cfg, self.params
        m.path, m.random = self.path, self.random
        return m.prepare(precision, kernel, scheme)

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
        x = self.params["Wemb"][ids.reshape(-1)]  # (B*S, E)
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
        emb = self.params["Wemb_dec"][np.maximum(y_prev, 0)]
        emb[y_prev < 0] = 0.0
        return emb

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
        y_proj = linear(self.embed_prev(y_prev), W["dec_y"], b["dec_y"])  # (P, 3H+E)
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

    def nbytes(self) -> int:
        """Bytes of the prepared weight matrices (what decoding streams)."""
        total = 0
        for w in self.W.values():
            total += w.nbytes if isinstance(w, np.ndarray) else w.q.nbytes
        return total


# -- loading -------------------------------------------------------------------
def load_model(name_or_path="de-en") -> Model:
    """Load a Nematus-format model: ``model.npz`` + ``model.npz.json``.

    The options are checked first, then every tensor's header (name, shape,
    float dtype, size), then the data (NaN/inf refused); any float dtype is
    converted to float32. A bad file raises one ValueError naming the file and
    the option or tensor (``nmt8.params``, ``nmt8.config``).
    """
    npz = resolve(name_or_path)
    cfg = ModelConfig.from_json(options_path(npz))
    return Model(cfg, read_params(npz, param_shapes(cfg)), path=npz)


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
