"""Text in, text out: BPE, beam search and detokenisation around the models.

``Translator(model_or_models, precision="fp32"|"int8", beam=5, ...)`` is the
public entry point. Several models make an ensemble. With ``precision="int8"``
every weight product runs through the int8 kernel (``kernel=``) with weights
quantized at load (``scheme=``) from the same fp32 parameters.

Bad input never loses lines: empty lines come back empty; a non-string, an
over-long line (more than ``MAX_SRC_TOKENS`` subword units) raises ValueError
naming the line before anything is translated.

Does not: read files or decode bytes (``nmt8.cli`` does, naming bad lines).
"""

from __future__ import annotations

import time
from pathlib import Path

from .beam import beam_search, default_max_len, score_ids
from .model import Model, load_model
from .text import BPE, EOS

MAX_SRC_TOKENS = 1000  # longest source sentence, in subword units


class Translator:
    def __init__(self, model_or_models="de-en", precision: str = "fp32",
                 beam: int = 5, kernel: str = "auto", scheme: str = "per_tensor",
                 normalize: bool = True, max_len_ratio: float = 2.0,
                 length_alpha: float | None = None):
        items = model_or_models if isinstance(model_or_models, (list, tuple)) \
            else [model_or_models]
        if not items:
            raise ValueError("need at least one model")
        scheme = scheme.replace("-", "_")
        if precision == "int8":
            from .quant.kernels import available_kernels, default_kernel

            if kernel == "auto":
                kernel = default_kernel()
            if kernel not in available_kernels():
                raise ValueError(f"kernel {kernel!r} is not available on this "
                                 f"CPU; available: {available_kernels()}")
        self.models: list[Model] = []
        for item in items:
            m = item if isinstance(item, Model) else load_model(item)
            self.models.append(m.copy(precision, kernel, scheme))
        first = self.models[0].cfg
        for m in self.models[1:]:
            if (m.cfg.n_words, m.cfg.n_words_src) != (first.n_words, first.n_words_src):
                raise ValueError("ensemble members must share their vocabularies")
        self.precision, self.kernel, self.scheme = precision, kernel, scheme
        self.beam, self.normalize, self.max_len_ratio = beam, normalize, max_len_ratio
        # length normalisation exponent: the model's val-chosen value by default
        self.length_alpha = (first.length_alpha if length_alpha is None
                             else length_alpha)
        self.src_bpe = self.tgt_bpe = None
        m0 = self.models[0]
        if m0.path is not None and len(m0.cfg.bpe_models) == 2:
            folder = Path(m0.path).parent
            self.src_bpe = BPE(folder / m0.cfg.bpe_models[0])
            self.tgt_bpe = BPE(folder / m0.cfg.bpe_models[1])
        self.last_seconds: list[float] = []  # per-sentence decode time

    def __repr__(self) -> str:
        kern = f", kernel={self.kernel!r}, scheme={self.scheme!r}" \
            if self.precision == "int8" else ""
        return (f"Translator({len(self.models)} model(s), precision="
                f"{self.precision!r}, beam={self.beam}{kern})")

    # -- ids -----------------------------------------------------------------
    def translate_ids(self, sentences, max_len: int | None = None,
                      n_best: int = 1, alignment: bool = False):
        """Decode lists of source ids (without ``</s>``).

        Returns one id list per sentence (without ``</s>``), or, with
        ``n_best > 1`` or ``alignment``, the list of Hypothesis objects.
        With ``max_len`` set on a random model, decoding runs exactly
        ``max_len`` steps (``</s>`` is forbidden before), for speed studies.
        """
        out, self.last_seconds = [], []
        for ids in sentences:
            ids = list(ids)
            if not ids:
                out.append([])  # empty source: empty output, no decoding
                self.last_seconds.append(0.0)
                continue
            ml = max_len or default_max_len(len(ids), self.max_len_ratio)
            min_len = max_len if (max_len and self.models[0].random) else 0
            t0 = time.perf_counter()
            hyps = beam_search(self.models, ids, beam=self.beam, max_len=ml,
                               normalize=self.normalize, n_best=n_best,
                               min_len=min_len, alignment=alignment,
                               length_alpha=self.length_alpha)
            self.last_seconds.append(time.perf_counter() - t0)
            if n_best == 1 and not alignment:
                out.append([i for i in hyps[0].ids if i != EOS])
            else:
                out.append(hyps)
        return out

    def score(self, src_ids, tgt_ids):
        """Per-token log-probabilities of a forced target (ensemble average)."""
        return score_ids(self.models, src_ids, tgt_ids)

    # -- text ----------------------------------------------------------------
    def _need_bpe(self):
        if self.src_bpe is None:
            raise ValueError("this model has no BPE models (a random model?): "
                             "use translate_ids()")

    def encode(self, lines) -> list[list[int]]:
        """Subword ids of each line; validates every line before returning."""
        self._need_bpe()
        if isinstance(lines, str):
            raise TypeError("translate() takes a list of strings, not one string")
        out = []
        for n, line in enumerate(lines, 1):
            if not isinstance(line, str):
                raise TypeError(f"line {n}: expected str, got {type(line).__name__}")
            ids = self.src_bpe.encode(line.strip()) if line.strip() else []
            if len(ids) > MAX_SRC_TOKENS:
                raise ValueError(f"line {n}: {len(ids)} subword units, more than "
                                 f"the limit of {MAX_SRC_TOKENS}; split it")
            out.append(ids)
        return out

    def translate(self, lines) -> list[str]:
        """Translate each line; empty lines stay empty; order preserved."""
        src = self.encode(lines)
        return [self.tgt_bpe.decode(ids) for ids in self.translate_ids(src)]

    def nbest(self, line: str, n: int = 5) -> list[tuple[str, float]]:
        """The n best translations of one line with their scores."""
        (ids,) = self.encode([line])
        if not ids:
            return [("", 0.0)]
        (hyps,) = self.translate_ids([ids], n_best=n)
        return [(self.tgt_bpe.decode(h.ids), h.score) for h in hyps]
