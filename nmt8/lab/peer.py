"""The same model and beam search in PyTorch: the peer of the speed tables.

Not in the paper. To put nmt8's numbers next to a widely used library, the
network of ``nmt8.model`` is rebuilt from the same fused fp32 matrices as
``torch.nn.Linear`` layers, so that ``torch.ao.quantization.quantize_dynamic``
turns every weight product into FBGEMM's int8 product (weights quantized
per tensor at load, activations quantized on the fly at each call).

:class:`TorchModel` has the ``encode``/``step`` interface of
``nmt8.model.Model``, so the search itself is nmt8's own
``nmt8.beam.beam_search``: both systems run identical bookkeeping and only
the network differs. Run it with one torch thread (``nmt8.lab.measure`` does).

Does not: train (``nmt8.train``) or batch sentences.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from ..beam import beam_search, default_max_len
from ..model import Model
from ..text import EOS


@dataclasses.dataclass
class TorchEncoded:
    h: object  # (S, 2H) torch tensor
    pctx: object  # (S, 2H)
    s0: np.ndarray  # (1, H): the search indexes states as numpy arrays


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
    """A Model look-alike whose encode/step run in PyTorch."""

    def __init__(self, model: Model, quantized: bool = False):
        import torch

        fp32 = model if model.precision == "fp32" else model.copy("fp32")
        self.cfg, self.random, self.quantized = model.cfg, model.random, quantized
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

    def encode(self, src_ids) -> TorchEncoded:
        import torch

        H = self.cfg.dim
        with torch.inference_mode():
            idx = torch.as_tensor(np.asarray(src_ids, dtype=np.int64))
            x_proj = self.L["enc_x"](self.Wemb[idx])  # (S, 6H)
            S = len(src_ids)
            h = torch.empty(S, 2 * H)
            fwd = torch.zeros(1, H)
            bwd = torch.zeros(1, H)
            for i in range(S):
                fwd = self._gru(x_proj[i:i + 1, :3 * H], fwd, "enc_U")
                h[i, :H] = fwd[0]
                j = S - 1 - i
                bwd = self._gru(x_proj[j:j + 1, 3 * H:], bwd, "enc_r_U")
                h[j, H:] = bwd[0]
            s0 = torch.tanh(self.L["ff_state"](h.mean(0, keepdim=True)))
            pctx = self.L["Wc_att"](h)  # (S, 2H)
        return TorchEncoded(h=h, pctx=pctx, s0=s0.numpy())

    def step(self, enc: TorchEncoded, s_prev: np.ndarray, y_prev):
        """Same contract as ``nmt8.model.Model.step``; numpy in and out."""
        import torch

        H, C = self.cfg.dim, 2 * self.cfg.dim
        L = self.L
        with torch.inference_mode():
            y_prev = np.asarray(y_prev)
            emb = self.Wemb_dec[torch.as_tensor(np.maximum(y_prev, 0))]  # (P, E)
            emb[torch.as_tensor(y_prev < 0)] = 0.0
            s_prev = torch.from_numpy(s_prev)
            y_proj = L["dec_y"](emb)  # (P, 3H + E)
            s1 = self._gru(y_proj[:, :3 * H], s_prev, "dec_U")  # eq. (3)
            s1_proj = L["dec_s1"](s1)  # (P, C + 3H)
            P, S = s1.shape[0], enc.pctx.shape[0]
            e = torch.tanh(enc.pctx[None] + s1_proj[:, None, :C])  # (P, S, C)
            a = L["U_att"](e.reshape(P * S, C)).reshape(P, S)  # eq. (6)
            alpha = torch.softmax(a, dim=-1)  # (P, S)
            H_t = alpha @ enc.h  # (P, C), eq. (5)
            c_proj = L["dec_ctx"](H_t)  # (P, 3H + E)
            s_t = self._gates(c_proj[:, :3 * H], s1_proj[:, C:], s1, H, torch)
            t = torch.tanh(L["logit_lstm"](s_t) + y_proj[:, 3 * H:]
                           + c_proj[:, 3 * H:])  # (P, E), eq. (2)
            logits = L["logit"](t)  # (P, Vt)
        return logits.numpy(), s_t.numpy(), alpha.numpy()


class PeerTranslator:
    """``translate_ids`` of ``nmt8.Translator``, with the network in PyTorch.

    ``PeerTranslator(model, quantized=True)`` is PyTorch's dynamic int8
    (FBGEMM); ``quantized=False`` is PyTorch fp32.
    """

    def __init__(self, model: Model, quantized: bool = False, beam: int = 5,
                 normalize: bool = True, max_len_ratio: float = 2.0):
        self.model = TorchModel(model, quantized)
        self.beam, self.normalize, self.max_len_ratio = beam, normalize, max_len_ratio
        self.precision = "torch-int8" if quantized else "torch-fp32"
        self.last_seconds: list[float] = []

    def translate_ids(self, sentences, max_len: int | None = None,
                      with_seconds: bool = False):
        """As ``nmt8.Translator.translate_ids``: one id list per sentence,
        or with ``with_seconds`` a ``Timed`` (outputs, seconds)."""
        from ..translator import Timed

        out, self.last_seconds = [], []
        for ids in sentences:
            ids = list(ids)
            ml = max_len or default_max_len(len(ids), self.max_len_ratio)
            min_len = max_len if (max_len and self.model.random) else 0
            t0 = time.perf_counter()
            hyps = beam_search(self.model, ids, beam=self.beam, max_len=ml,
                               normalize=self.normalize, min_len=min_len)
            self.last_seconds.append(time.perf_counter() - t0)
            out.append([i for i in hyps[0].ids if i != EOS])
        return Timed(out, list(self.last_seconds)) if with_seconds else out
