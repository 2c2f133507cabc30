"""Text in, text out: BPE, beam search and detokenisation around the models.

``Translator(model_or_models, precision="fp32", beam=5, ...)`` is the public
entry point. Several models make an ensemble. ``precision`` is a rung of the
ladder of ``nmt8.model.model.PRECISIONS``: ``"fp32"`` (``kernel="numpy"`` by
default, or a C kernel: ``"auto"``, ``"ref"``, ``"avx2"``, ``"avx512"``),
``"int16"`` and ``"int8"`` (weights quantized at load from the same fp32
parameters, ``scheme="per_tensor"`` or ``"per_row"``; kernel ``"auto"`` by
default), or ``"msfp16"``/``"msfp12"``, block floating point SIMULATED in
fp32 (quality only: no speed or memory claim). ``embeddings`` stores the
embedding tables as ``"fp32"``, ``"fp16"`` or ``"int8"`` (default: fp32,
fp16 for int16, int8 for int8; ``nmt8.model.model``). ``None`` means the
precision's default; a kernel the precision does not have, a scheme for a
precision without one or a setting that is not a string is one error
(``nmt8.model.model.check_options``). Models given by name or path are loaded
directly in the precision (``load_model``); a Model object is copied.

Decoding runs with ``blas_threads=1`` BLAS thread by default (one sentence
per core, as the paper measures; ``nmt8.serve.threads``): on a machine with other
work a second thread per sentence only thrashes. Give another number to
allow more, or None to leave the process's thread limits alone.

``translate_ids(..., with_seconds=True)`` returns the outputs together with
each sentence's decode time (a :class:`Timed`), so two threads sharing one
Translator each get their own times.

Bad input never loses lines: empty lines come back empty; a non-string, an
over-long line (more than ``MAX_SRC_TOKENS`` subword units) raises ValueError
naming the line before anything is translated; ``translate_ids`` takes
integer ids of the source vocabulary only (a float id is a TypeError naming
the sentence, never rounded). Every setting is checked when the Translator
is made: beam 1..``MAX_BEAM``, a finite length exponent >= 0,
``0 < max_len_ratio <= MAX_LEN_RATIO``; and the models (:func:`check_models`):
each BPE vocabulary the size of its model's embedding table, and the
members of an ensemble translating between the same languages with the same
vocabularies and BPE models (``--model de-en --model en-de`` is refused,
naming both).

Does not: read files or decode bytes (``nmt8.cli`` does, naming bad lines),
or run several processes (``nmt8.serve.parallel``).
"""

from __future__ import annotations

import math
import numbers
import threading
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nmt8.model.config import EOS, regular_file
from nmt8.model.model import Model, check_options, load_model
from nmt8.model.params import check_model
from nmt8.model.precision import DEFAULT, Options
from nmt8.search.batch import check_batch_size
from nmt8.search.batch import translate_ids as batched_ids
from nmt8.search.beam import beam_search, score_ids
from nmt8.search.sentence import (
    check_beam,
    check_length_exponent,
    default_max_len,
)
from nmt8.serve.text import BPE
from nmt8.serve.threads import DEFAULT_BLAS_THREADS, blas_threads, check_threads

MAX_SRC_TOKENS = 1000  # longest source sentence, in subword units
MAX_LEN_RATIO = 10.0  # longest output: ratio x source length + 10 steps

__all__ = [
    "MAX_LEN_RATIO",
    "MAX_SRC_TOKENS",
    "Timed",
    "Translator",
    "check_models",
]


class Timed(NamedTuple):
    """Outputs and the decode seconds of each sentence, in the same order."""

    outputs: list
    seconds: list[float]


def translator_options(precision="fp32", kernel=None, scheme=None,
                       embeddings=None) -> Options:
    """The Translator's settings, checked (``None``: the precision's
    default; ``nmt8.model.model.check_options``)."""
    return check_options(precision,
                         *(DEFAULT if v is None else v
                           for v in (kernel, scheme, embeddings)))


def _bpe_files(npz, cfg) -> list[Path]:
    """The source and target BPE model files a model names (none without
    a path or BPE models)."""
    if npz is None or len(cfg.bpe_models) != 2:
        return []
    return [Path(npz).parent / f for f in cfg.bpe_models]


def _load_bpe(npz, cfg) -> tuple[BPE, BPE] | None:
    """The model's (source, target) BPE models, each checked against the
    embedding table it indexes: a vocabulary of another size would index
    past the table (or leave rows no piece can reach)."""
    files = _bpe_files(npz, cfg)
    if not files:
        return None
    pair = tuple(BPE(regular_file(f, "BPE model")) for f in files)
    for bpe, side, key, n in ((pair[0], "source", "n_words_src", cfg.n_words_src),
                              (pair[1], "target", "n_words", cfg.n_words)):
        if len(bpe) != n:
            raise ValueError(f"{bpe.path} holds {len(bpe)} subword units, but "
                             f"the model's {side} embeddings ({key} in "
                             f"{Path(npz).name}.json) have {n} rows: they must "
                             f"be the same size")
    return pair


def _pieces(bpe: BPE) -> list[tuple[str, float]]:
    """What a BPE model segments and numbers with: each id's piece and
    score (two models trained alike in other folders differ in bytes)."""
    return [(bpe.sp.id_to_piece(i), bpe.sp.get_score(i)) for i in range(len(bpe))]


def check_models(members) -> tuple[BPE, BPE] | None:
    """Check models that will translate together, before any is loaded.

    ``members``: ``(name, model.npz path or None, ModelConfig)`` per model.
    Each model's BPE vocabularies must be the size of its embedding tables;
    ensemble members must translate between the same languages, with the
    same vocabulary sizes and the same BPE models (the same pieces and
    scores).
    Raises ValueError naming both models; returns the first model's (source,
    target) BPE models (None when it has none: a random model).
    """
    members = list(members)
    if not members:
        raise ValueError("need at least one model")
    first = _load_bpe(*members[0][1:])
    n0, _, c0 = members[0]
    for n1, npz1, c1 in members[1:]:
        other = _load_bpe(npz1, c1)
        if (c0.src_lang, c0.tgt_lang) != (c1.src_lang, c1.tgt_lang):
            raise ValueError(f"ensemble members must translate between the same "
                             f"languages: {n0} translates {c0.src_lang} -> "
                             f"{c0.tgt_lang}, {n1} {c1.src_lang} -> {c1.tgt_lang}")
        if (c0.n_words_src, c0.n_words) != (c1.n_words_src, c1.n_words):
            raise ValueError(f"ensemble members must share their vocabularies: "
                             f"{n0} has {c0.n_words_src} source and {c0.n_words} "
                             f"target words, {n1} {c1.n_words_src} and "
                             f"{c1.n_words}")
        if first and other:
            for side, a, b in zip(("source", "target"), first, other):
                if a.path != b.path and _pieces(a) != _pieces(b):
                    raise ValueError(f"ensemble members must share their BPE "
                                     f"models: the {side} side of {n0} is "
                                     f"{a.path}, of {n1} {b.path}, a different "
                                     f"model")
    return first


def _member_name(item, i: int) -> str:
    if isinstance(item, Model):
        return str(Path(item.path).parent) if item.path is not None \
            else f"model {i} (in memory)"
    return str(item)


def _source_ids(ids, n: int, vocab: int) -> list[int]:
    """One sentence's source ids as a list of ints, each in [0, vocab)."""
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"sentence {n}: expected a sequence of ids, got "
                        f"{type(ids).__name__}")
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise TypeError(f"sentence {n}: ids must be a 1-D array of "
                            f"integers, got {ids.ndim}-D {ids.dtype}")
        ids = ids.tolist()
    else:
        ids = list(ids)
        bad = next((x for x in ids if isinstance(x, bool)
                    or not isinstance(x, numbers.Integral)), None)
        if bad is not None:
            raise TypeError(f"sentence {n}: ids must be integers, got "
                            f"{type(bad).__name__} {bad!r}")
        ids = [int(x) for x in ids]
    if ids and (min(ids) < 0 or max(ids) >= vocab):
        bad = next(x for x in ids if not 0 <= x < vocab)
        raise ValueError(f"sentence {n}: id {bad} is outside the source "
                         f"vocabulary [0, {vocab})")
    return ids


def _check_ratio(r) -> float:
    if isinstance(r, bool) or not isinstance(r, numbers.Real):
        raise TypeError(f"max_len_ratio must be a number, got {type(r).__name__}")
    if not (math.isfinite(r) and 0 < r <= MAX_LEN_RATIO):
        raise ValueError(f"max_len_ratio must be in (0, {MAX_LEN_RATIO}], got {r}")
    return float(r)


class Translator:
    """Translate lines (or id lists) with one model or an ensemble.

    precision: a name of ``nmt8.model.model.PRECISIONS``; kernel: a name of
    ``nmt8.model.model.kernel_choices(precision)`` (None: the default); scheme
    (int8 and int16 only): "per_tensor" or "per_row"; embeddings: "fp32",
    "fp16" or "int8" (None: the precision's default); beam:
    1..``MAX_BEAM``; length_exponent: the length normalisation exponent
    (default: the model's, chosen on val); blas_threads: BLAS threads while
    decoding (default 1; None: leave as is).
    """

    def __init__(self, model_or_models="de-en", precision: str = "fp32",
                 beam: int = 5, kernel: str | None = None,
                 scheme: str | None = None, normalize: bool = True,
                 max_len_ratio: float = 2.0,
                 length_exponent: float | None = None,
                 blas_threads: int | None = DEFAULT_BLAS_THREADS,
                 embeddings: str | None = None):
        items = model_or_models if isinstance(model_or_models, (list, tuple)) \
            else [model_or_models]
        if not items:
            raise ValueError("need at least one model")
        opt = translator_options(precision, kernel, scheme, embeddings)
        self.beam = check_beam(beam)
        self.max_len_ratio = _check_ratio(max_len_ratio)
        self.normalize = bool(normalize)
        self.blas_threads = check_threads(blas_threads)
        if length_exponent is not None:
            length_exponent = check_length_exponent(length_exponent)
        # the models' options and BPE models checked before any is loaded
        bpe = check_models((_member_name(item, i),
                            *((item.path, item.cfg) if isinstance(item, Model)
                              else check_model(item)))
                           for i, item in enumerate(items, 1))
        self.models: list[Model] = []
        settings = (opt.kernel, opt.scheme or DEFAULT, opt.embeddings)
        for item in items:
            if isinstance(item, Model):
                self.models.append(item.copy(opt.precision, *settings))
            else:
                self.models.append(load_model(item, opt.precision, *settings))
        first = self.models[0].cfg
        self.options = opt
        self.precision, self.kernel = opt.precision, opt.kernel
        self.scheme, self.embeddings = opt.scheme, opt.embeddings
        # length normalisation exponent: the model's val-chosen value by default
        self.length_exponent = (first.length_exponent if length_exponent is None
                                else length_exponent)
        self.src_bpe, self.tgt_bpe = bpe or (None, None)
        self._local = threading.local()  # the deprecated last_seconds

    def __repr__(self) -> str:
        sim = " (simulated)" if self.precision.startswith("msfp") else ""
        scheme = f", scheme={self.scheme!r}" if self.scheme else ""
        return (f"Translator({len(self.models)} model(s), precision="
                f"{self.precision!r}{sim}, beam={self.beam}, kernel="
                f"{self.kernel!r}{scheme}, embeddings={self.embeddings!r})")

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_local")  # thread-local: not picklable, not worth keeping
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    @property
    def length_alpha(self) -> float:
        """Deprecated name of ``length_exponent`` (still read by
        ``nmt8.lab.outputs.diff.flip``)."""
        return self.length_exponent

    @property
    def last_seconds(self) -> list[float]:
        """Deprecated: per-sentence seconds of this thread's last
        ``translate_ids`` call. Use ``translate_ids(..., with_seconds=True)``."""
        warnings.warn("Translator.last_seconds is deprecated: use "
                      "translate_ids(..., with_seconds=True)",
                      DeprecationWarning, stacklevel=2)
        return list(getattr(self._local, "seconds", []))

    # -- ids -----------------------------------------------------------------
    def translate_ids(self, sentences, max_len: int | None = None,
                      n_best: int = 1, alignment: bool = False,
                      with_seconds: bool = False, batch_size: int = 1):
        """Decode lists of source ids (without ``</s>``).

        Returns one id list per sentence (without ``</s>``), or, with
        ``n_best > 1`` or ``alignment``, the list of Hypothesis objects.
        With ``with_seconds``, a :class:`Timed` ``(outputs, seconds)`` with
        each sentence's decode time. With ``max_len`` set on a random model,
        decoding runs exactly ``max_len`` steps (``</s>`` is forbidden
        before), for speed studies.

        ``batch_size`` > 1 decodes that many sentences at once
        (``nmt8.search.batch``: windows of 16 x batch_size sorted by length); int8
        output is bit-identical to ``batch_size=1``, the paper's setting.
        A sentence's seconds are then its share of its batch's time.
        """
        check_batch_size(batch_size)
        if max_len is not None and (isinstance(max_len, bool) or not
                                    isinstance(max_len, numbers.Integral)
                                    or max_len < 1):
            raise ValueError(f"max_len must be an int >= 1 or None, got {max_len!r}")
        if isinstance(sentences, (str, bytes)):
            raise TypeError("translate_ids() takes a list of id sequences, not "
                            f"{type(sentences).__name__}")
        vocab = self.models[0].cfg.n_words_src
        sentences = [_source_ids(ids, n, vocab)
                     for n, ids in enumerate(sentences, 1)]
        max_lens = [max_len or default_max_len(len(ids), self.max_len_ratio)
                    for ids in sentences]
        min_len = max_len if (max_len and self.models[0].random) else 0
        search = {"beam": self.beam, "normalize": self.normalize,
                  "n_best": n_best, "min_len": min_len, "alignment": alignment,
                  "length_exponent": self.length_exponent}
        seconds: list[float] = []
        with blas_threads(self.blas_threads):
            if batch_size == 1:
                hyps = [self._one(ids, ml, search, seconds)
                        for ids, ml in zip(sentences, max_lens)]
            else:
                hyps = batched_ids(self.models, sentences, batch_size,
                                   max_lens=max_lens, seconds=seconds, **search)
        if n_best == 1 and not alignment:
            out = [[i for i in h[0].ids if i != EOS] if h else [] for h in hyps]
        else:
            out = hyps
        self._local.seconds = seconds
        return Timed(out, seconds) if with_seconds else out

    def _one(self, ids, max_len, search, seconds) -> list:
        """One sentence, timed; an empty source decodes to nothing."""
        if not ids:
            seconds.append(0.0)
            return []
        t0 = time.perf_counter()
        hyps = beam_search(self.models, ids, max_len=max_len, **search)
        seconds.append(time.perf_counter() - t0)
        return hyps

    def score(self, src_ids, tgt_ids):
        """Per-token log-probabilities of a forced target (ensemble average)."""
        with blas_threads(self.blas_threads):
            return score_ids(self.models, src_ids, tgt_ids)

    # -- text ----------------------------------------------------------------
    def _need_bpe(self):
        if self.src_bpe is None:
            raise ValueError("this model has no BPE models (a random model?): "
                             "use translate_ids()")

    def tokenize(self, lines) -> list[list[int]]:
        """Source subword ids of each line; validates every line first.

        (Not ``Model.encode``, which computes the annotations of eq. (1).)
        """
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

    def detokenize(self, ids) -> str:
        """Target text of one id list."""
        self._need_bpe()
        return self.tgt_bpe.decode(ids)

    def translate(self, lines, with_seconds: bool = False, batch_size: int = 1):
        """Translate each line; empty lines stay empty; order preserved.

        With ``with_seconds``, a :class:`Timed` ``(texts, seconds)``;
        ``batch_size``: sentences decoded at once (see ``translate_ids``).
        """
        outs, seconds = self.translate_ids(self.tokenize(lines), with_seconds=True,
                                           batch_size=batch_size)
        texts = [self.tgt_bpe.decode(ids) for ids in outs]
        return Timed(texts, seconds) if with_seconds else texts

    def nbest(self, line: str, n: int = 5) -> list[tuple[str, float]]:
        """The n best translations of one line with their scores."""
        (ids,) = self.tokenize([line])
        if not ids:
            return [("", 0.0)]
        (hyps,) = self.translate_ids([ids], n_best=n)
        return [(self.tgt_bpe.decode(h.ids), h.score) for h in hyps]

