"""The same model and beam search in PyTorch: the peer of the speed tables.

Not in the paper. To put nmt8's numbers next to a widely used library, the
network of ``nmt8.model.model`` is rebuilt from the same fused fp32 matrices as
``torch.nn.Linear`` layers, so that ``torch.ao.quantization.quantize_dynamic``
turns every weight product into FBGEMM's int8 product (weights quantized
per tensor at load, activations quantized on the fly at each call, with ONE
scale for the whole activation tensor).

:class:`TorchModel` has the ``encode_batch``/``step_batch`` interface of
``nmt8.model.model.Model``, so the search itself is nmt8's own
``nmt8.search.beam.beam_search_batch``: both systems run identical bookkeeping
(one sentence, or B sentences x k hypotheses as the rows of one matrix,
finished sentences leaving the batch) and only the network differs. The
network is written as a PyTorch user batches it: sources padded to the
longest, a mask that holds each GRU state still past its sentence's end,
and attention over the padded positions with their scores masked to -inf.

Batch invariance is NOT promised here (nmt8's int8 keeps it; see
``nmt8.search.batch``): FBGEMM's dynamic int8 takes one activation scale for all
rows of a product, so a sentence's numbers move with its neighbours, and
fp32 products may round differently for another row count. Run it with
one torch thread (``nmt8.lab.speed.measure`` does).

Does not: train (``nmt8.train``) or plan batches (``nmt8.search.batch``).
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from nmt8.model.config import EOS
from nmt8.model.model import Model
from nmt8.search.batch import check_batch_size
from nmt8.search.batch import translate_ids as batched_ids
from nmt8.search.beam import beam_search
from nmt8.search.sentence import default_max_len


@dataclasses.dataclass
class TorchBatch:
    """The padded encoder output of B sentences, shared by their Encoded."""

    h: object  # (B, S, 2H) torch tensor, zero past each sentence's end
    pctx: object  # (B, S, 2H)
    lengths: object  # (B,) int64 torch tensor: source positions, </s> included


@dataclasses.dataclass
class TorchEncoded:
    """One sentence of a :class:`TorchBatch` (row ``row``)."""

    batch: TorchBatch
    row: int
    s0: np.ndarray  # (1, H): the search indexes states as numpy arrays

    @property
    def length(self) -> int:
        return int(self.batch.lengths[self.row])

    @property
    def h(self):  # (S_b, 2H), this sentence's annotations alone
        return self.batch.h[self.row, :self.length]

    @property
    def pctx(self):  # (S_b, 2H)
        return self.batch.pctx[self.row, :self.length]


def _build_net(model: Model):
    import torch
    from torch import nn

    class Net(nn.Module):
        """One nn.Linear per fused matrix of ``Model.prepare("fp32")``."""

        def __init__(self):
            super().__init__()
            self.lin = nn.ModuleDict()
            for name, W in model.W.items():  # W (in, out), bias (out,) or None
                b = model.b[name]
                layer = nn.Linear(W.shape[0], W.shape[1], bias=b is not None)
                layer.weight.data = torch.from_numpy(
                    np.ascontiguousarray(W.T, dtype=np.float32))  # (out, in)
                if b is not None:
                    layer.bias.data = torch.from_numpy(b.astype(np.float32))
                self.lin[name] = layer

    return Net().eval()


class TorchModel:
    """A Model look-alike whose encoder and decoder step run in PyTorch."""

    def __init__(self, model: Model, quantized: bool = False):
        import torch

        fp32 = model if model.precision == "fp32" else model.copy("fp32")
        self.cfg, self.random, self.quantized = model.cfg, model.random, quantized
        self.precision = "torch-int8" if quantized else "torch-fp32"
        p = model.params
        self.Wemb = torch.from_numpy(p["Wemb"].astype(np.float32))  # (Vs, E)
        self.Wemb_dec = torch.from_numpy(p["Wemb_dec"].astype(np.float32))
        net = _build_net(fp32)
        if quantized:
            torch.backends.quantized.engine = "fbgemm"
            with warnings.catch_warnings():  # torch.ao deprecation notices
                warnings.simplefilter("ignore")
                net = torch.ao.quantization.quantize_dynamic(
                    net, {torch.nn.Linear}, dtype=torch.qint8)
        self.net = net
        self.L = net.lin

    def _gru(self, x_proj, h_prev, U):
        import torch

        H = h_prev.shape[1]
        h_proj = self.L[U](h_prev)  # (P, 3H)
        return self._gates(x_proj, h_proj, h_prev, H, torch)

    @staticmethod
    def _gates(x_proj, h_proj, h_prev, H, torch):
        gates = torch.sigmoid(x_proj[:, :2 * H] + h_proj[:, :2 * H])  # (P, 2H)
        r, u = gates[:, :H], gates[:, H:]
        h_tilde = torch.tanh(x_proj[:, 2 * H:] + r * h_proj[:, 2 * H:])
        return u * h_prev + (1.0 - u) * h_tilde

    # -- encoder, eq. (1), padded ----------------------------------------------
    def encode(self, src_ids) -> TorchEncoded:
        """One sentence (ids INCLUDING the final </s>): a batch of one."""
        return self.encode_batch([src_ids])[0]

    def encode_batch(self, srcs) -> list[TorchEncoded]:
        """Eq. (1) for B sources padded to the longest, in the order given.

        The mask (B, S) is true at a sentence's own positions: past its end
        the forward state is held, and the backward state stays zero until
        the backward pass reaches the sentence's last id, so no padding
        enters a recurrence. Padded annotations are zeroed; ``s_0`` takes
        each sentence's mean over its own positions.
        """
        import torch

        B, H = len(srcs), self.cfg.dim
        if B == 0:
            return []
        lengths = [len(s) for s in srcs]
        if min(lengths) < 1:
            raise ValueError("every source must hold at least one id (</s>)")
        S = max(lengths)
        ids = np.full((B, S), EOS, np.int64)  # (B, S), padded with </s>
        for b, s in enumerate(srcs):
            ids[b, :lengths[b]] = s
        if ids.min() < 0 or ids.max() >= self.cfg.n_words_src:
            raise ValueError(f"source id out of range [0, {self.cfg.n_words_src})")
        with torch.inference_mode():
            Ls = torch.as_tensor(lengths)  # (B,)
            mask = torch.arange(S)[None, :] < Ls[:, None]  # (B, S)
            x = self.Wemb[torch.from_numpy(ids.reshape(-1))]  # (B*S, E)
            x_proj = self.L["enc_x"](x).reshape(B, S, 6 * H)  # (B, S, 6H)
            h = torch.zeros(B, S, 2 * H)  # (B, S, 2H)
            fwd = torch.zeros(B, H)
            bwd = torch.zeros(B, H)
            for i in range(S):
                j = S - 1 - i
                fwd = torch.where(mask[:, i, None],
                                  self._gru(x_proj[:, i, :3 * H], fwd, "enc_U"),
                                  fwd)
                h[:, i, :H] = fwd
                bwd = torch.where(mask[:, j, None],
                                  self._gru(x_proj[:, j, 3 * H:], bwd, "enc_r_U"),
                                  bwd)
                h[:, j, H:] = bwd
            h = h * mask[:, :, None]  # padded positions: zero
            mean = torch.cat([h[b, :lengths[b]].mean(0, keepdim=True)
                              for b in range(B)])  # (B, 2H), own positions
            s0 = torch.tanh(self.L["ff_state"](mean))  # (B, H)
            pctx = self.L["Wc_att"](h.reshape(B * S, 2 * H)).reshape(B, S, 2 * H)
        batch = TorchBatch(h=h, pctx=pctx, lengths=Ls)
        s0 = s0.numpy()
        return [TorchEncoded(batch, b, s0[b:b + 1].copy()) for b in range(B)]

    # -- decoder, eq. (2)-(6) ----------------------------------------------------
    def step(self, enc: TorchEncoded, s_prev: np.ndarray, y_prev):
        """Same contract as ``nmt8.model.model.Model.step``; numpy in and out."""
        logits, s_t, (alpha,) = self.step_batch([enc], [len(s_prev)], s_prev,
                                                y_prev)
        return logits, s_t, alpha

    def step_batch(self, encs: list[TorchEncoded], counts: list[int],
                   s_prev: np.ndarray, y_prev):
        """Same contract as ``nmt8.model.model.Model.step_batch``; numpy in and out.

        Every row attends over its sentence's padded annotations (P, S, 2H),
        S the longest live source, with padded scores masked to -inf.
        """
        import torch

        H, C = self.cfg.dim, 2 * self.cfg.dim
        L = self.L
        batch = encs[0].batch
        if any(e.batch is not batch for e in encs):
            raise ValueError("step_batch: every sentence must come from one "
                             "encode_batch call")
        with torch.inference_mode():
            rows = torch.as_tensor(np.repeat([e.row for e in encs], counts))  # (P,)
            lengths = batch.lengths[rows]  # (P,)
            S = int(lengths.max())
            mask = torch.arange(S)[None, :] < lengths[:, None]  # (P, S)
            y_prev = np.asarray(y_prev)
            emb = self.Wemb_dec[torch.as_tensor(np.maximum(y_prev, 0))]  # (P, E)
            emb[torch.as_tensor(y_prev < 0)] = 0.0
            s_prev = torch.from_numpy(s_prev)
            y_proj = L["dec_y"](emb)  # (P, 3H + E)
            s1 = self._gru(y_proj[:, :3 * H], s_prev, "dec_U")  # eq. (3)
            s1_proj = L["dec_s1"](s1)  # (P, C + 3H)
            P = s1.shape[0]
            pctx, h = batch.pctx[rows, :S], batch.h[rows, :S]  # (P, S, C)
            e = torch.tanh(pctx + s1_proj[:, None, :C])  # (P, S, C)
            a = L["U_att"](e.reshape(P * S, C)).reshape(P, S)  # eq. (6)
            a = a.masked_fill(~mask, float("-inf"))
            alpha = torch.softmax(a, dim=-1)  # (P, S), zero where padded
            H_t = torch.bmm(alpha[:, None, :], h)[:, 0]  # (P, C), eq. (5)
            c_proj = L["dec_ctx"](H_t)  # (P, 3H + E)
            s_t = self._gates(c_proj[:, :3 * H], s1_proj[:, C:], s1, H, torch)
            t = torch.tanh(L["logit_lstm"](s_t) + y_proj[:, 3 * H:]
                           + c_proj[:, 3 * H:])  # (P, E), eq. (2)
            logits = L["logit"](t)  # (P, Vt)
        alpha = alpha.numpy()
        alphas, r = [], 0
        for enc, n in zip(encs, counts):  # each sentence's own positions
            alphas.append(alpha[r:r + n, :enc.length])
            r += n
        return logits.numpy(), s_t.numpy(), alphas


class PeerTranslator:
    """``translate_ids`` of ``nmt8.Translator``, with the network in PyTorch.

    ``PeerTranslator(model, quantized=True)`` is PyTorch's dynamic int8
    (FBGEMM); ``quantized=False`` is PyTorch fp32. ``models`` is the
    one-element list that ``nmt8.search.batch.translate_ids`` takes, as a
    Translator's ``models``.
    """

    def __init__(self, model: Model, quantized: bool = False, beam: int = 5,
                 normalize: bool = True, max_len_ratio: float = 2.0):
        self.model = TorchModel(model, quantized)
        self.models = [self.model]
        self.beam, self.normalize, self.max_len_ratio = beam, normalize, max_len_ratio
        self.precision = self.model.precision
        self.last_seconds: list[float] = []

    def translate_ids(self, sentences, max_len: int | None = None,
                      with_seconds: bool = False, batch_size: int = 1):
        """As ``nmt8.Translator.translate_ids``: one id list per sentence
        (``[]`` for an empty source), or with ``with_seconds`` a ``Timed``
        (outputs, seconds). ``batch_size`` > 1 decodes that many sentences
        as one batch (``nmt8.search.batch``); a sentence's seconds are then its
        share of its batch's time."""
        from nmt8.serve.translator import Timed

        check_batch_size(batch_size)
        sentences = [list(ids) for ids in sentences]
        max_lens = [max_len or default_max_len(len(ids), self.max_len_ratio)
                    for ids in sentences]
        min_len = max_len if (max_len and self.model.random) else 0
        search = {"beam": self.beam, "normalize": self.normalize,
                  "min_len": min_len}
        seconds: list[float] = []
        if batch_size == 1:
            hyps = []
            for ids, ml in zip(sentences, max_lens):
                t0 = time.perf_counter()
                hyps.append(beam_search(self.model, ids, max_len=ml, **search)
                            if ids else [])
                seconds.append(time.perf_counter() - t0)
        else:
            hyps = batched_ids(self.models, sentences, batch_size,
                               max_lens=max_lens, seconds=seconds, **search)
        out = [[i for i in h[0].ids if i != EOS] if h else [] for h in hyps]
        self.last_seconds = list(seconds)
        return Timed(out, seconds) if with_seconds else out
