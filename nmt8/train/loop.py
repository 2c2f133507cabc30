"""Training the Section 2 model in PyTorch (the optional ``[train]`` extra).

The network is exactly the one ``nmt8.model`` decodes in numpy: a bi-GRU
encoder (eq. 1), ``s_0 = tanh(mean_i(h_i) W + b)``, the conditional GRU of
Nematus (GRU ``r``, MLP attention, GRU ``q``; eq. 3-6) and the readout ``g``
(eq. 2). Parameters carry the Nematus names, so export is a rename, not a
conversion. The paper trains in Theano with Adam and picks the checkpoint by
dev-set BLEU; so do we (on Multi30k val, never on test).

Beyond the paper: dropout, label smoothing, learning-rate warm-up and cosine
decay, gradient clipping (Multi30k is small), and a larger learning rate for
the embeddings (``emb_lr_scale``).

Does not: decode with beam search (validation uses batched greedy search; the
reported BLEU comes from ``nmt8.Translator``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from pathlib import Path

import numpy as np

from ..config import ModelConfig
from ..testing import GOLDEN_PAIRS
from ..text import BPE, EOS, train_bpe


@dataclasses.dataclass
class TrainConfig:
    data: str | None = None
    out: str = "runs/de-en"
    src_lang: str = "de"
    tgt_lang: str = "en"
    dim_word: int = 256
    dim: int = 512
    vocab_size: int = 8000
    epochs: int = 10
    batch_size: int = 80
    lr: float = 1e-3
    warmup_steps: int = 200
    min_lr: float = 5e-5
    dropout: float = 0.3  # on embeddings and the readout layer
    dropout_hidden: float = 0.0  # on the annotations h and on s_t, H_t
    # where they enter the readout (not inside the recurrences)
    label_smoothing: float = 0.1
    clip_norm: float = 5.0
    emb_std: float = 1.0  # N(0, emb_std) embeddings (Nematus: 0.01, which
    # starves the GRUs of input signal early on and learns far slower here)
    emb_lr_scale: float = 16.0  # learning rate of the embeddings / lr.
    # Adam moves every weight by about lr per step whatever its scale, so
    # N(0, 1) embeddings at lr 1e-3 changed by only ~7% in 10 epochs
    # (measured): they stayed nearly random. sqrt(E) = 16 moves them as fast,
    # relative to their size, as N(0, 1/E) embeddings would move at lr.
    # 1.0 gives the optimiser of the model card's earlier runs.
    pool: int = 50  # batches drawn per length-sorting pool (see _batches)
    max_len: int = 80
    seed: int = 1234
    threads: int = 1
    max_minutes: float | None = None
    export_dtype: str = "float16"
    init: str | None = None  # continue from a saved state dict (best.pt)
    export_from: str | None = None  # only export this state dict (or the
    # average of several, comma-separated: checkpoint averaging), no training


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise SystemExit(
            "nmt8 train needs PyTorch: pip install 'nmt8[train]' "
            "(here: pip install torch==2.13.0)") from err
    return torch


def build_model(cfg: ModelConfig, dropout: float = 0.0, emb_std: float = 1.0,
                dropout_hidden: float = 0.0):
    """The PyTorch twin of ``nmt8.model.Model`` with Nematus parameter names."""
    torch = _torch()
    nn = torch.nn
    E, H, C = cfg.dim_word, cfg.dim, 2 * cfg.dim

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.Wemb = nn.Parameter(torch.randn(cfg.n_words_src, E) * emb_std)
            self.Wemb_dec = nn.Parameter(torch.randn(cfg.n_words, E) * emb_std)
            self.enc = nn.GRU(E, H, batch_first=True, bidirectional=True)
            for sfx in ("", "_reverse"):  # nematus has no bias inside r*(.)
                b_hh = getattr(self.enc, f"bias_hh_l0{sfx}")
                b_hh.data[2 * H:] = 0
                keep = torch.ones(3 * H)
                keep[2 * H:] = 0
                b_hh.register_hook(lambda g, keep=keep: g * keep)
            shapes = {
                "ff_state_W": (C, H), "ff_state_b": (H,),
                "decoder_W": (E, 2 * H), "decoder_b": (2 * H,),
                "decoder_U": (H, 2 * H), "decoder_Wx": (E, H),
                "decoder_bx": (H,), "decoder_Ux": (H, H),
                "decoder_W_comb_att": (H, C), "decoder_Wc_att": (C, C),
                "decoder_b_att": (C,), "decoder_U_att": (C, 1),
                "decoder_c_tt": (1,),
                "decoder_U_nl": (H, 2 * H), "decoder_b_nl": (2 * H,),
                "decoder_Ux_nl": (H, H), "decoder_bx_nl": (H,),
                "decoder_Wc": (C, 2 * H), "decoder_Wcx": (C, H),
                "ff_logit_lstm_W": (H, E), "ff_logit_lstm_b": (E,),
                "ff_logit_prev_W": (E, E), "ff_logit_prev_b": (E,),
                "ff_logit_ctx_W": (C, E), "ff_logit_ctx_b": (E,),
                "ff_logit_W": (E, cfg.n_words), "ff_logit_b": (cfg.n_words,),
            }
            self.p = nn.ParameterDict()
            for name, shape in shapes.items():
                w = torch.empty(shape)
                if len(shape) == 1:
                    nn.init.zeros_(w)
                elif name.endswith(("_U", "_Ux", "_U_nl", "_Ux_nl")):
                    for j in range(0, shape[1], shape[0]):  # orthogonal blocks
                        nn.init.orthogonal_(w[:, j:j + shape[0]])
                else:
                    nn.init.xavier_uniform_(w)
                self.p[name] = nn.Parameter(w)
            self.drop = nn.Dropout(dropout)
            self.drop_h = nn.Dropout(dropout_hidden)

        def encode(self, src, src_len):
            """h (B, S, 2H) = [forward; backward] states (eq. 1), mask, s_0."""
            x = self.drop(self.Wemb[src])  # (B, S, E)
            packed = nn.utils.rnn.pack_padded_sequence(
                x, src_len.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = self.enc(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(
                h, batch_first=True, total_length=src.shape[1])
            h = self.drop_h(h)
            mask = (torch.arange(src.shape[1])[None] < src_len[:, None]).float()
            mean = (h * mask[..., None]).sum(1) / src_len[:, None].float()
            s0 = torch.tanh(mean @ self.p["ff_state_W"] + self.p["ff_state_b"])
            return h, mask, s0

        def embed_inputs(self, y_emb):
            """The GRU ``r`` input products ``E[y] W + b`` and ``E[y] Wx + bx``.

            They do not depend on the state, so training computes them for all
            target positions at once (one large product instead of T small ones).
            """
            p = self.p
            return (y_emb @ p["decoder_W"] + p["decoder_b"],
                    y_emb @ p["decoder_Wx"] + p["decoder_bx"])

        def step(self, s_prev, y_in, h, pctx, mask):
            """One conditional-GRU step (eq. 3-6): returns s_t, H_t, alpha.

            ``y_in`` is ``embed_inputs(E[y_{t-1}])`` for this step.
            """
            p = self.p
            x_gates, x_cand = y_in
            g = torch.sigmoid(s_prev @ p["decoder_U"] + x_gates)
            r1, u1 = g.chunk(2, dim=-1)
            s_tilde = torch.tanh((s_prev @ p["decoder_Ux"]) * r1 + x_cand)
            s1 = u1 * s_prev + (1 - u1) * s_tilde  # s'_t (eq. 3)
            e = torch.tanh(pctx + (s1 @ p["decoder_W_comb_att"])[:, None])
            e = (e @ p["decoder_U_att"])[..., 0] + p["decoder_c_tt"]  # (B, S)
            alpha = torch.softmax(e.masked_fill(mask == 0, -1e9), dim=-1)
            H_t = (alpha[..., None] * h).sum(1)  # (B, 2H), eq. 5
            g = torch.sigmoid(s1 @ p["decoder_U_nl"] + p["decoder_b_nl"]
                              + H_t @ p["decoder_Wc"])
            r2, u2 = g.chunk(2, dim=-1)
            s_tilde = torch.tanh((s1 @ p["decoder_Ux_nl"] + p["decoder_bx_nl"])
                                 * r2 + H_t @ p["decoder_Wcx"])
            s_t = u2 * s1 + (1 - u2) * s_tilde  # eq. 4
            return s_t, H_t, alpha

        def readout(self, s_t, y_emb, H_t):
            """Logits of g (eq. 2): tanh(s W1 + E[y] W2 + H W3) W_o + b_o."""
            p = self.p
            t = torch.tanh(s_t @ p["ff_logit_lstm_W"] + p["ff_logit_lstm_b"]
                           + y_emb @ p["ff_logit_prev_W"] + p["ff_logit_prev_b"]
                           + H_t @ p["ff_logit_ctx_W"] + p["ff_logit_ctx_b"])
            return self.drop(t) @ p["ff_logit_W"] + p["ff_logit_b"]

        def prev_embeddings(self, tgt):
            """E[y_{t-1}] with a zero vector at t=0, as in Nematus."""
            emb = self.Wemb_dec[tgt[:, :-1]]
            zero = emb.new_zeros(tgt.shape[0], 1, E)
            return self.drop(torch.cat([zero, emb], dim=1))  # (B, T, E)

        def forward(self, src, src_len, tgt):
            h, mask, s = self.encode(src, src_len)
            pctx = h @ self.p["decoder_Wc_att"] + self.p["decoder_b_att"]
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
            h, mask, s = self.encode(src, src_len)
            pctx = h @ self.p["decoder_Wc_att"] + self.p["decoder_b_att"]
            y_emb = h.new_zeros(src.shape[0], E)
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

        def nematus_params(self) -> dict[str, np.ndarray]:
            """All weights under their Nematus names and (in, out) shapes."""
            out = {"Wemb": self.Wemb, "Wemb_dec": self.Wemb_dec}
            out.update(self.p.items())
            for sfx, pre in (("", "encoder"), ("_reverse", "encoder_r")):
                w_ih = getattr(self.enc, f"weight_ih_l0{sfx}")  # (3H, E)
                w_hh = getattr(self.enc, f"weight_hh_l0{sfx}")  # (3H, H)
                b = (getattr(self.enc, f"bias_ih_l0{sfx}")
                     + getattr(self.enc, f"bias_hh_l0{sfx}"))
                out[f"{pre}_W"] = w_ih[:2 * H].T
                out[f"{pre}_Wx"] = w_ih[2 * H:].T
                out[f"{pre}_U"] = w_hh[:2 * H].T
                out[f"{pre}_Ux"] = w_hh[2 * H:].T
                out[f"{pre}_b"] = b[:2 * H]
                out[f"{pre}_bx"] = getattr(self.enc, f"bias_ih_l0{sfx}")[2 * H:]
            return {k: v.detach().cpu().numpy().astype(np.float32)
                    for k, v in out.items()}

    return Seq2Seq()


def _pad(seqs, torch):
    lens = torch.tensor([len(s) for s in seqs])
    out = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out, lens


def _batches(pairs, batch_size, rng, pool=50):
    """Mini-batches of similar lengths, different every epoch.

    Shuffle, cut into pools of ``pool`` batches, sort each pool by target then
    source length, and cut it into batches; then shuffle the batches. On
    Multi30k, with pools of 50 batches of 80, targets are padded by 1.03x
    and sources by 1.28x. Sorting the whole corpus by source length, as
    nmt8 did before, padded targets by 1.42x, and the decoder's time grows
    with the longest target in a batch.
    """
    order = list(range(len(pairs)))
    rng.shuffle(order)
    size = batch_size * pool
    chunks = []
    for k in range(0, len(order), size):
        part = sorted(order[k:k + size],
                      key=lambda i: (len(pairs[i][1]), len(pairs[i][0])))
        chunks += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(chunks)
    return chunks


def make_optimizer(model, tc: TrainConfig, torch):
    """Adam; the embeddings' learning rate is ``tc.emb_lr_scale`` times lr.

    Each parameter group carries its ``scale``; ``set_lr`` applies it.
    """
    emb = [model.Wemb, model.Wemb_dec]
    rest = [q for q in model.parameters() if all(q is not e for e in emb)]
    return torch.optim.Adam([{"params": rest, "scale": 1.0},
                             {"params": emb, "scale": tc.emb_lr_scale}], lr=tc.lr)


def set_lr(opt, lr: float) -> None:
    """The schedule's lr for this step, times each group's ``scale``."""
    for g in opt.param_groups:
        g["lr"] = lr * g["scale"]


def greedy_bleu(model, src_ids, refs, tgt_bpe, torch, batch_size=100):
    import sacrebleu

    model.eval()
    hyps = [None] * len(src_ids)
    order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        src, lens = _pad([src_ids[i] + [EOS] for i in idx], torch)
        out = model.greedy(src, lens, max_len=int(lens.max()) * 2 + 10)
        for i, row in zip(idx, out.tolist()):
            hyps[i] = tgt_bpe.decode(row)
    model.train()
    return sacrebleu.corpus_bleu(hyps, [refs]).score


def train(tc: TrainConfig, progress: bool = True) -> Path:
    """Train, pick the best epoch by val BLEU, export a Nematus-format model."""
    torch = _torch()
    from tqdm.auto import tqdm

    from .. import data

    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    rng = random.Random(tc.seed)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
    src_tr = data.read_lines("train", tc.src_lang, tc.data)
    tgt_tr = data.read_lines("train", tc.tgt_lang, tc.data)
    src_va = data.read_lines("val", tc.src_lang, tc.data)
    tgt_va = data.read_lines("val", tc.tgt_lang, tc.data)
    bpes = []
    for lang, lines in ((tc.src_lang, src_tr), (tc.tgt_lang, tgt_tr)):
        f = out / f"bpe.{lang}.model"
        bpes.append(BPE(f) if f.exists()
                    else train_bpe(lines, out / f"bpe.{lang}", tc.vocab_size))
    src_bpe, tgt_bpe = bpes
    cfg = ModelConfig(dim_word=tc.dim_word, dim=tc.dim,
                      n_words_src=len(src_bpe), n_words=len(tgt_bpe),
                      dictionaries=[f"bpe.{tc.src_lang}.json",
                                    f"bpe.{tc.tgt_lang}.json"],
                      bpe_models=[f"bpe.{tc.src_lang}.model",
                                  f"bpe.{tc.tgt_lang}.model"],
                      src_lang=tc.src_lang, tgt_lang=tc.tgt_lang)
    pairs = [(src_bpe.encode(s) + [EOS], tgt_bpe.encode(t) + [EOS])
             for s, t in zip(src_tr, tgt_tr)]
    pairs = [p for p in pairs if len(p[0]) <= tc.max_len and len(p[1]) <= tc.max_len]
    val_ids = [src_bpe.encode(s) for s in src_va]

    model = build_model(cfg, tc.dropout, tc.emb_std, tc.dropout_hidden)
    if tc.export_from:
        states = [torch.load(f) for f in tc.export_from.split(",")]
        model.load_state_dict({k: sum(s[k] for s in states) / len(states)
                               for k in states[0]})
        export(model, cfg, out, tc, torch)
        return out
    if tc.init:
        model.load_state_dict(torch.load(tc.init))
    opt = make_optimizer(model, tc, torch)
    steps_per_epoch = math.ceil(len(pairs) / tc.batch_size)
    total = steps_per_epoch * tc.epochs

    def lr_at(step):
        if step < tc.warmup_steps:
            return tc.lr * (step + 1) / tc.warmup_steps
        frac = (step - tc.warmup_steps) / max(1, total - tc.warmup_steps)
        return tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * frac))

    log, best, step, t0 = [], (-1.0, None, 0), 0, time.time()
    for epoch in range(1, tc.epochs + 1):
        model.train()
        bar = tqdm(_batches(pairs, tc.batch_size, rng, tc.pool), disable=not progress,
                   desc=f"epoch {epoch}", mininterval=10)
        tot_loss = tot_tok = 0.0
        for idx in bar:
            src, slen = _pad([pairs[i][0] for i in idx], torch)
            tgt, tlen = _pad([pairs[i][1] for i in idx], torch)
            logits = model(src, slen, tgt)
            target = tgt.masked_fill(
                torch.arange(tgt.shape[1])[None] >= tlen[:, None], -100)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                ignore_index=-100, label_smoothing=tc.label_smoothing,
                reduction="sum")
            ntok = int(tlen.sum())
            set_lr(opt, lr_at(step))
            opt.zero_grad()
            (loss / ntok).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
            opt.step()
            step += 1
            tot_loss += float(loss.detach())
            tot_tok += ntok
            bar.set_postfix(loss=f"{tot_loss / tot_tok:.3f}")
        bleu = greedy_bleu(model, val_ids, tgt_va, tgt_bpe, torch)
        minutes = (time.time() - t0) / 60
        log.append({"epoch": epoch, "step": step, "train_loss": tot_loss / tot_tok,
                    "val_bleu_greedy": bleu, "minutes": round(minutes, 2)})
        print(json.dumps(log[-1]), flush=True)
        if bleu > best[0]:
            best = (bleu, {k: v.clone() for k, v in model.state_dict().items()},
                    epoch)
            torch.save(best[1], out / "best.pt")
        torch.save(model.state_dict(), out / "last.pt")
        # every epoch's weights, for checkpoint averaging (--export-from)
        torch.save(model.state_dict(), out / f"epoch{epoch}.pt")
        if tc.max_minutes and minutes * (epoch + 1) / epoch > tc.max_minutes:
            print(f"stopping: next epoch would pass {tc.max_minutes} min")
            break
    model.load_state_dict(best[1])
    export(model, cfg, out, tc, torch)
    card = {"train_config": dataclasses.asdict(tc), "log": log,
            "best_epoch": best[2], "best_val_bleu_greedy": best[0],
            "train_minutes": round((time.time() - t0) / 60, 1),
            "train_pairs": len(pairs), "torch": torch.__version__}
    card["val_bleu_greedy_exported"] = greedy_bleu(model, val_ids, tgt_va,
                                                   tgt_bpe, torch)
    (out / "train_log.json").write_text(json.dumps(card, indent=2) + "\n")
    return out


def export(model, cfg: ModelConfig, out: Path, tc: TrainConfig, torch):
    """Write model.npz (+ .json options) and golden log-probabilities.

    Weights are stored as ``tc.export_dtype`` (float16 keeps the shipped model
    under its size budget); the torch model is rounded the same way first, so
    the golden values are those of exactly the weights we ship.
    """
    model.eval()
    params = model.nematus_params()
    params = {k: v.astype(tc.export_dtype) for k, v in params.items()}
    np.savez(out / "model.npz", **params)
    cfg.to_json(out / "model.npz.json")
    # round the torch weights to what was stored, then score in float64: the
    # golden values are then the exact log-probs of the shipped weights, and
    # the numpy engine's float32 error is measured against them alone
    with torch.no_grad():
        H = cfg.dim
        for sfx in ("", "_reverse"):  # Nematus keeps one bias: b_ih + b_hh
            b_ih = getattr(model.enc, f"bias_ih_l0{sfx}")
            b_hh = getattr(model.enc, f"bias_hh_l0{sfx}")
            b_ih[:2 * H] += b_hh[:2 * H]
            b_hh[:2 * H] = 0
        for prm in model.parameters():
            prm.copy_(prm.to(getattr(torch, tc.export_dtype)).float())
    write_golden(model.double(), out, torch)
    model.float()


def write_golden(model, out: Path, torch):
    src_bpe = BPE(out / f"bpe.{json.loads((out / 'model.npz.json').read_text())['src_lang']}.model")
    cfg = ModelConfig.from_json(out / "model.npz.json")
    tgt_bpe = BPE(out / f"bpe.{cfg.tgt_lang}.model")
    golden = []
    with torch.no_grad():
        for src_text, tgt_text in GOLDEN_PAIRS:
            s = src_bpe.encode(src_text) + [EOS]
            t = tgt_bpe.encode(tgt_text) + [EOS]
            src, slen = _pad([s], torch)
            tgt, _ = _pad([t], torch)
            logp = torch.log_softmax(model(src, slen, tgt), -1)[0]
            lp = logp[torch.arange(len(t)), tgt[0]]
            golden.append({"src": src_text, "tgt": tgt_text, "src_ids": s,
                           "tgt_ids": t, "logprobs": lp.tolist()})
    (out / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="nmt8 train", description=__doc__.split("\n")[0])
    for f in dataclasses.fields(TrainConfig):
        kind = {"int": int, "float": float, "str": str}.get(
            str(f.type).split(" ")[0], str)
        if f.name == "max_minutes":
            kind = float
        ap.add_argument("--" + f.name.replace("_", "-"), type=kind,
                        default=f.default)
    args = ap.parse_args(argv)
    tc = TrainConfig(**vars(args))
    print(train(tc))


if __name__ == "__main__":
    main()
