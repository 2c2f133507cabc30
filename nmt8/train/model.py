"""The Section 2 network in PyTorch, built from ``nmt8.model.params.param_shapes``.

The same network ``nmt8.model.model`` decodes in numpy: a bi-GRU encoder (eq. 1),
``s_0 = tanh(mean_i(h_i) W + b)``, the conditional GRU of Nematus (GRU ``r``,
MLP attention, GRU ``q``; eq. 3-6) and the readout ``g`` (eq. 2), plus the
batched greedy search that validation uses.

Every parameter is made by walking ``param_shapes(cfg)``, the one list of
Nematus names and (in, out) shapes that the numpy engine reads, so the two
cannot drift: ``nematus_params()`` returns exactly that dict. The encoder's
twelve Nematus tensors live inside one ``torch.nn.GRU`` (fast, packed
sequences) as slices of its weights; every other parameter is stored under
its Nematus name in ``self.p``. The state-dict keys (``Wemb``,
``enc.weight_ih_l0``, ``p.decoder_U``, ...) are those of the checkpoints
nmt8 has always written.

Every weight product goes through ``Seq2Seq.mm``, so quantization-aware
training (``nmt8.train.qat``) can round each one as decoding does; with
``model.qat`` set, the encoder runs step by step (torch's fused GRU
cannot round its inner products). ``load_nematus`` is the inverse of
``nematus``: a Nematus ``.npz`` (a shipped model) loads by its names.

Does not: train (``nmt8.train.loop``), write files (``nmt8.train.export``)
or decode with beam search (``nmt8.serve.translator``).
"""

from __future__ import annotations

import functools

import numpy as np

from nmt8.model.config import EOS, ModelConfig
from nmt8.model.params import param_shapes

EMBEDDINGS = ("Wemb", "Wemb_dec")
# the Nematus encoder tensors inside torch's GRU: torch stacks the gates
# (r, u, candidate) along the rows of (3H, in) matrices, Nematus keeps [r | u]
# in W, U (in, 2H) and the candidate in Wx, Ux (in, H); Nematus has one bias
# (b_ih + b_hh) where torch has two, and none inside r * (.) of the candidate
GRU_HOME = {  # Nematus suffix -> (torch tensor, gate rows)
    "W": ("weight_ih_l0", "ru"), "Wx": ("weight_ih_l0", "c"),
    "U": ("weight_hh_l0", "ru"), "Ux": ("weight_hh_l0", "c"),
    "b": ("bias", "ru"), "bx": ("bias_ih_l0", "c"),
}
GRU_DIRECTION = {"encoder": "", "encoder_r": "_reverse"}  # name prefix -> sfx


def import_torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise SystemExit(
            "nmt8 train needs PyTorch: pip install 'nmt8[train]' "
            "(here: pip install torch==2.13.0)") from err
    return torch


def gru_home(name: str) -> tuple[str, str, str] | None:
    """(direction suffix, GRU tensor, gate rows) of an encoder name, else None."""
    pre, _, suffix = name.rpartition("_")
    if pre in GRU_DIRECTION and suffix in GRU_HOME:
        return (GRU_DIRECTION[pre], *GRU_HOME[suffix])
    return None


def pad(seqs, torch):
    """Id lists -> (B, T) zero-padded long tensor and (B,) lengths."""
    lens = torch.tensor([len(s) for s in seqs])
    out = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out, lens


def _init_(w, name: str, nn) -> None:
    """Zero biases, orthogonal (H, H) blocks of recurrent matrices, else Xavier."""
    shape = tuple(w.shape)
    if len(shape) == 1:
        nn.init.zeros_(w)
    elif name.endswith(("_U", "_Ux", "_U_nl", "_Ux_nl")):
        for j in range(0, shape[1], shape[0]):
            nn.init.orthogonal_(w[:, j:j + shape[0]])
    else:
        nn.init.xavier_uniform_(w)


def build_model(cfg: ModelConfig, dropout: float = 0.0, emb_std: float = 1.0,
                dropout_hidden: float = 0.0):
    """The PyTorch twin of ``nmt8.model.model.Model``, parameters from param_shapes.

    ``dropout`` acts on the embeddings and the readout layer,
    ``dropout_hidden`` on the annotations h and on s_t, H_t where they enter
    the readout; embeddings start as N(0, emb_std).
    """
    return _network_class()(cfg, dropout, emb_std, dropout_hidden)


@functools.cache
def _network_class():
    torch = import_torch()
    nn = torch.nn

    class Seq2Seq(nn.Module):
        def __init__(self, cfg, dropout, emb_std, dropout_hidden):
            super().__init__()
            self.shapes = param_shapes(cfg)
            E, H = self.shapes["encoder_Wx"]
            self.E, self.H = E, H
            self.enc = nn.GRU(E, H, batch_first=True, bidirectional=True)
            self.p = nn.ParameterDict()
            for name, shape in self.shapes.items():
                if name in EMBEDDINGS:
                    w = torch.randn(shape) * emb_std
                    setattr(self, name, nn.Parameter(w))
                elif gru_home(name):  # made by nn.GRU above: check it agrees
                    got = tuple(self.nematus(name).shape)
                    if got != shape:
                        raise ValueError(f"{name}: the GRU holds {got}, "
                                         f"param_shapes says {shape}")
                else:
                    w = torch.empty(shape)
                    _init_(w, name, nn)
                    self.p[name] = nn.Parameter(w)
            for sfx in GRU_DIRECTION.values():  # no bias inside r * (.)
                b_hh = getattr(self.enc, f"bias_hh_l0{sfx}")
                b_hh.data[2 * H:] = 0
                keep = torch.ones(3 * H)
                keep[2 * H:] = 0
                b_hh.register_hook(lambda g, keep=keep: g * keep)
            self.drop = nn.Dropout(dropout)
            self.drop_h = nn.Dropout(dropout_hidden)
            # fake quantization of the products (nmt8.train.qat.FakeQuant)
            self.qat = None

        def nematus(self, name):
            """The tensor under its Nematus name, (in, out); a view, no copy
            (except the encoder's summed bias ``b``)."""
            if name in EMBEDDINGS:
                return getattr(self, name)
            home = gru_home(name)
            if home is None:
                return self.p[name]
            sfx, tensor, gates = home
            rows = slice(0, 2 * self.H) if gates == "ru" else slice(2 * self.H, None)
            if tensor == "bias":
                return (getattr(self.enc, f"bias_ih_l0{sfx}")[rows]
                        + getattr(self.enc, f"bias_hh_l0{sfx}")[rows])
            w = getattr(self.enc, f"{tensor}{sfx}")[rows]
            return w.T if w.dim() == 2 else w

        def nematus_params(self) -> dict[str, np.ndarray]:
            """All weights as float32 numpy, exactly the names and shapes of
            ``param_shapes(cfg)``."""
            return {k: self.nematus(k).detach().cpu().numpy().astype(np.float32)
                    for k in self.shapes}

        def mm(self, x, *names):
            """``x @ W`` for the Nematus weights ``names`` side by side; with
            ``self.qat`` set, both fake-quantized as decoding rounds them."""
            if self.qat is not None:
                return self.qat.product(x, *names)
            if len(names) == 1:
                return x @ self.nematus(names[0])
            return x @ torch.cat([self.nematus(n) for n in names], -1)

        def load_nematus(self, params) -> None:
            """Set every weight from Nematus tensors (name -> (in, out) array,
            e.g. a model.npz): the inverse of :meth:`nematus`. The
            encoder's one bias ``b`` goes to torch's ``bias_ih``, its
            ``bias_hh`` rows are zeroed."""
            missing = sorted(set(self.shapes) - set(params))
            if missing:
                raise ValueError(f"not a model of this shape: {missing[0]} "
                                 f"and {len(missing) - 1} more missing")
            H = self.H
            with torch.no_grad():
                for name, shape in self.shapes.items():
                    v = torch.as_tensor(params[name], dtype=torch.float32)
                    if tuple(v.shape) != shape:
                        raise ValueError(f"{name}: the file holds "
                                         f"{tuple(v.shape)}, the model {shape}")
                    home = gru_home(name)
                    if home is None:
                        self.nematus(name).copy_(v)
                        continue
                    sfx, tensor, gates = home
                    rows = slice(0, 2 * H) if gates == "ru" else slice(2 * H, None)
                    if tensor == "bias":
                        getattr(self.enc, f"bias_ih_l0{sfx}")[rows] = v
                        getattr(self.enc, f"bias_hh_l0{sfx}")[rows] = 0
                    else:
                        w = getattr(self.enc, f"{tensor}{sfx}")
                        w[rows] = v.T if v.dim() == 2 else v
                for sfx in GRU_DIRECTION.values():  # no bias inside r * (.)
                    getattr(self.enc, f"bias_hh_l0{sfx}")[2 * H:] = 0

        def _gru_loop(self, x, src_len):
            """Both encoder GRUs step by step, each product through
            :meth:`mm` (QAT: torch's fused GRU cannot round its inner
            products). Returns h (B, S, 2H), zero at padded positions."""
            B, S, _ = x.shape
            pos = torch.arange(S)[None]  # (1, S)
            valid = pos < src_len[:, None]  # (B, S)
            # each sentence reversed in place, its padding left at the end
            rev = torch.where(valid, src_len[:, None] - 1 - pos, pos)  # (B, S)
            out = []
            for pre, sfx in GRU_DIRECTION.items():
                xs = x if not sfx else x.gather(
                    1, rev[..., None].expand(-1, -1, x.shape[2]))
                x_proj = (self.mm(xs, f"{pre}_W", f"{pre}_Wx")
                          + torch.cat([self.nematus(f"{pre}_b"),
                                       self.nematus(f"{pre}_bx")]))  # (B,S,3H)
                h, hs = x.new_zeros(B, self.H), []
                for t in range(S):
                    h_proj = self.mm(h, f"{pre}_U", f"{pre}_Ux")  # (B, 3H)
                    g = torch.sigmoid(x_proj[:, t, :2 * self.H]
                                      + h_proj[:, :2 * self.H])
                    r, u = g.chunk(2, dim=-1)
                    c = torch.tanh(x_proj[:, t, 2 * self.H:]
                                   + r * h_proj[:, 2 * self.H:])
                    h = u * h + (1 - u) * c
                    hs.append(h)
                hs = torch.stack(hs, 1)  # (B, S, H)
                if sfx:
                    hs = hs.gather(1, rev[..., None].expand(-1, -1, self.H))
                out.append(hs)
            return torch.cat(out, -1) * valid[..., None]  # (B, S, 2H)

        def encode(self, src, src_len):
            """h (B, S, 2H) = [forward; backward] states (eq. 1), mask, s_0."""
            x = self.drop(self.Wemb[src])  # (B, S, E)
            if self.qat is not None:
                h = self._gru_loop(x, src_len)
            else:
                packed = nn.utils.rnn.pack_padded_sequence(
                    x, src_len.cpu(), batch_first=True, enforce_sorted=False)
                h, _ = self.enc(packed)
                h, _ = nn.utils.rnn.pad_packed_sequence(
                    h, batch_first=True, total_length=src.shape[1])
            h = self.drop_h(h)
            mask = (torch.arange(src.shape[1])[None] < src_len[:, None]).float()
            mean = (h * mask[..., None]).sum(1) / src_len[:, None].float()
            s0 = torch.tanh(self.mm(mean, "ff_state_W") + self.p["ff_state_b"])
            return h, mask, s0  # (B, S, 2H), (B, S), (B, H)

        def embed_inputs(self, y_emb):
            """The GRU ``r`` input products ``E[y] W + b`` and ``E[y] Wx + bx``.

            They do not depend on the state, so training computes them for all
            target positions at once (one large product instead of T small ones).
            """
            p = self.p
            return (self.mm(y_emb, "decoder_W") + p["decoder_b"],
                    self.mm(y_emb, "decoder_Wx") + p["decoder_bx"])

        def step(self, s_prev, y_in, h, pctx, mask):
            """One conditional-GRU step (eq. 3-6): returns s_t, H_t, alpha.

            ``y_in`` is ``embed_inputs(E[y_{t-1}])`` for this step.
            """
            p = self.p
            x_gates, x_cand = y_in
            g = torch.sigmoid(self.mm(s_prev, "decoder_U") + x_gates)
            r1, u1 = g.chunk(2, dim=-1)
            s_tilde = torch.tanh(self.mm(s_prev, "decoder_Ux") * r1 + x_cand)
            s1 = u1 * s_prev + (1 - u1) * s_tilde  # s'_t (eq. 3)
            e = torch.tanh(pctx + self.mm(s1, "decoder_W_comb_att")[:, None])
            e = self.mm(e, "decoder_U_att")[..., 0] + p["decoder_c_tt"]  # (B, S)
            alpha = torch.softmax(e.masked_fill(mask == 0, -1e9), dim=-1)
            H_t = (alpha[..., None] * h).sum(1)  # (B, 2H), eq. 5
            g = torch.sigmoid(self.mm(s1, "decoder_U_nl") + p["decoder_b_nl"]
                              + self.mm(H_t, "decoder_Wc"))
            r2, u2 = g.chunk(2, dim=-1)
            s_tilde = torch.tanh((self.mm(s1, "decoder_Ux_nl")
                                  + p["decoder_bx_nl"])
                                 * r2 + self.mm(H_t, "decoder_Wcx"))
            s_t = u2 * s1 + (1 - u2) * s_tilde  # eq. 4
            return s_t, H_t, alpha

        def readout(self, s_t, y_emb, H_t):
            """Logits of g (eq. 2): tanh(s W1 + E[y] W2 + H W3) W_o + b_o."""
            p = self.p
            t = torch.tanh(self.mm(s_t, "ff_logit_lstm_W") + p["ff_logit_lstm_b"]
                           + self.mm(y_emb, "ff_logit_prev_W")
                           + p["ff_logit_prev_b"]
                           + self.mm(H_t, "ff_logit_ctx_W") + p["ff_logit_ctx_b"])
            return self.mm(self.drop(t), "ff_logit_W") + p["ff_logit_b"]

        def prev_embeddings(self, tgt):
            """E[y_{t-1}] with a zero vector at t=0, as in Nematus."""
            emb = self.Wemb_dec[tgt[:, :-1]]
            zero = emb.new_zeros(tgt.shape[0], 1, self.E)
            return self.drop(torch.cat([zero, emb], dim=1))  # (B, T, E)

        def forward(self, src, src_len, tgt):
            """Teacher-forced logits (B, T, V) of every target position."""
            if self.qat is not None:
                self.qat.refresh(self)
            h, mask, s = self.encode(src, src_len)
            pctx = self.mm(h, "decoder_Wc_att") + self.p["decoder_b_att"]
            y_emb = self.prev_embeddings(tgt)
            x_gates, x_cand = self.embed_inputs(y_emb)
            states, ctxs = [], []
            for t in range(tgt.shape[1]):
                s, H_t, _ = self.step(s, (x_gates[:, t], x_cand[:, t]), h,
                                      pctx, mask)
                states.append(s)
                ctxs.append(H_t)
            return self.readout(self.drop_h(torch.stack(states, 1)), y_emb,
                                self.drop_h(torch.stack(ctxs, 1)))  # (B, T, V)

        @torch.no_grad()
        def greedy(self, src, src_len, max_len):
            """Batched greedy search: (B, <= max_len) ids, each row to EOS."""
            if self.qat is not None:
                self.qat.refresh(self)
            h, mask, s = self.encode(src, src_len)
            pctx = self.mm(h, "decoder_Wc_att") + self.p["decoder_b_att"]
            y_emb = h.new_zeros(src.shape[0], self.E)
            out, done = [], torch.zeros(src.shape[0], dtype=torch.bool)
            for _ in range(max_len):
                s, H_t, _ = self.step(s, self.embed_inputs(y_emb), h, pctx, mask)
                y = self.readout(s, y_emb, H_t).argmax(-1)
                out.append(y)
                done |= y == EOS
                if done.all():
                    break
                y_emb = self.Wemb_dec[y]
            return torch.stack(out, 1)

    return Seq2Seq
