"""How the 32-bit and 8-bit outputs differ: Section 5, Tables 6, 8 and 9.

* :func:`word_diff` marks the words that differ between two outputs in
  **bold** markdown on both sides, as the paper's Tables 8 and 9 do
  ("Differences are in boldface");
* :func:`find_differences` translates sentences with two systems, in order,
  until it has found the ones whose outputs differ (the examples of Tables 8
  and 9 are such sentences: identical outputs have nothing to show);
* :func:`flip` goes beyond the paper: for one source whose two outputs differ,
  it finds the first target position t where they part and scores both
  continuations under both systems (forced decoding, ``Translator.score``),
  so a reader sees whether int8 changed the model's preference at step t
  (a near tie tipped over) or the beam simply explored differently;
* :func:`paired_bleu` - the BLEU difference of two systems on the same
  sentences with sacrebleu's paired bootstrap (Koehn 2004): its p-value and
  a 95% interval on the difference, which Table 6 of the paper does not give.

Does not: time anything (``nmt8.lab.measure``); translates only in
:func:`find_differences`, with the systems it is given.
"""

from __future__ import annotations

import dataclasses
import difflib

import numpy as np

from ..text import EOS

BEAM_DEFAULT_EXPONENT = 1.0  # nmt8.beam.beam_search(length_exponent=1.0)

_MD_SPECIAL = "\\`*_|<>[]"


def md_escape(word: str) -> str:
    """Escape the characters markdown (and a markdown table) would eat."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in word)


def word_diff(a: str, b: str, escape: bool = True) -> tuple[str, str]:
    """Both sentences with the words that differ in ``**bold**``.

    Words are whitespace-separated; a run of changed words becomes one bold
    span (``**top of the party**``). Words kept by both stay plain.
    """
    wa, wb = a.split(), b.split()
    fix = md_escape if escape else (lambda w: w)
    out_a, out_b = [], []
    sm = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        span_a = " ".join(fix(w) for w in wa[i1:i2])
        span_b = " ".join(fix(w) for w in wb[j1:j2])
        if op == "equal":
            out_a.append(span_a)
            out_b.append(span_b)
            continue
        if span_a:
            out_a.append(f"**{span_a}**")
        if span_b:
            out_b.append(f"**{span_b}**")
    return " ".join(out_a), " ".join(out_b)


def changed_words(a: str, b: str) -> int:
    """Words of ``a`` and ``b`` outside their longest common subsequence."""
    wa, wb = a.split(), b.split()
    same = sum(blk.size for blk in difflib.SequenceMatcher(
        None, wa, wb, autojunk=False).get_matching_blocks())
    return len(wa) + len(wb) - 2 * same


def first_difference(a_ids, b_ids) -> int | None:
    """First position where two id sequences differ (None if equal).

    Both are read as ending in ``</s>``, so when one output is a prefix of
    the other, the position is where the shorter one stops.
    """
    a, b = list(a_ids) + [EOS], list(b_ids) + [EOS]
    if a == b:
        return None
    for t, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return t
    return min(len(a), len(b))  # unreachable: both end in EOS


@dataclasses.dataclass
class Flip:
    """Where and why two systems' beam decisions parted, for one sentence.

    ``step[s]`` holds system s's log-probabilities at position t of the token
    system A chose (``a``) and of the one system B chose (``b``), after the
    shared prefix. ``seq[s]`` holds system s's final scores of both complete
    outputs (``</s>`` included), normalised by length as the beam ranks them
    when ``normalize``. A margin > 0 means that system prefers A's choice.
    """

    t: int  # first position where the outputs differ
    prefix: list[int]  # the shared target prefix y_<t
    a_token: int  # y_t of system A
    b_token: int  # y_t of system B
    step: dict  # system name -> {"a": logp, "b": logp, "margin": a - b}
    seq: dict  # system name -> {"a": score, "b": score, "margin": a - b}
    names: tuple[str, str]

    def explain(self, tgt_bpe=None) -> str:
        """One line per system: who prefers which token, and by how much."""
        piece = (lambda i: repr(tgt_bpe.id_to_piece(i))) if tgt_bpe is not None \
            else (lambda i: str(i))
        na, nb = self.names
        lines = [(f"outputs part at target position {self.t}: {na} chose "
                  f"{piece(self.a_token)}, {nb} chose {piece(self.b_token)}")]
        for s in self.names:
            st, sq = self.step[s], self.seq[s]
            lines.append(
                f"{s}: step log p {st['a']:.3f} vs {st['b']:.3f} "
                f"(margin {st['margin']:+.3f} for {na}'s token); whole output "
                f"{sq['a']:.3f} vs {sq['b']:.3f} (margin {sq['margin']:+.3f})")
        return "\n".join(lines + ["=> " + self.verdict()])

    def verdict(self) -> str:
        """In words: did the model's choice change, or the beam's ranking?"""
        na, nb = self.names
        sa, sb = self.step[na]["margin"], self.step[nb]["margin"]
        if sa > 0 > sb:
            out = ("each system prefers its own token at this step: "
                   "quantization changed the model's choice")
        elif sa > 0 and sb > 0:
            out = (f"both prefer {na}'s token here; {nb}'s beam kept the other "
                   "word and its ranking of whole outputs decided")
        elif sa < 0 and sb < 0:
            out = (f"both prefer {nb}'s token here; {na}'s beam kept the other "
                   "word and its ranking of whole outputs decided")
        else:
            out = "each prefers the other's token here; whole outputs decided"
        if self.seq[na]["margin"] < 0:
            out += f"; {na} itself scores {nb}'s output higher (a search error)"
        if self.seq[nb]["margin"] > 0:
            out += f"; {nb} itself scores {na}'s output higher (a search error)"
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def length_exponent_of(system) -> float:
    """The exponent of the length normalisation a system's beam ranks with:
    ``length_exponent`` (1.0, ``beam_search``'s default, when it has none),
    0 when it does not normalise."""
    if not getattr(system, "normalize", True):
        return 0.0
    return float(getattr(system, "length_exponent", BEAM_DEFAULT_EXPONENT))


def flip(sys_a, sys_b, src_ids, out_a, out_b,
         names: tuple[str, str] = ("fp32", "int8")) -> Flip | None:
    """Score both outputs under both systems at their first difference.

    sys_a, sys_b: ``nmt8.Translator`` objects (anything with ``.score``;
    ``.normalize`` and ``.length_exponent`` are read when present, else the
    beam's defaults: normalised, exponent 1); out_a, out_b: their outputs
    for ``src_ids`` (ids without ``</s>``). Returns None when the outputs
    are identical.
    """
    t = first_difference(out_a, out_b)
    if t is None:
        return None
    ya, yb = list(out_a) + [EOS], list(out_b) + [EOS]
    step, seq = {}, {}
    for name, system in zip(names, (sys_a, sys_b)):
        la = np.asarray(system.score(src_ids, ya))  # (len(ya),) log p per token
        lb = np.asarray(system.score(src_ids, yb))
        # normalise exactly as the beam ranks: length ** length_exponent
        exponent = length_exponent_of(system)
        norm_a, norm_b = len(ya) ** exponent, len(yb) ** exponent
        sa, sb = float(la.sum()) / norm_a, float(lb.sum()) / norm_b
        step[name] = {"a": float(la[t]), "b": float(lb[t]),
                      "margin": float(la[t] - lb[t])}
        seq[name] = {"a": sa, "b": sb, "margin": sa - sb}
    return Flip(t=t, prefix=ya[:t], a_token=ya[t], b_token=yb[t], step=step,
                seq=seq, names=tuple(names))


@dataclasses.dataclass
class FlipSummary:
    """What the flips of many sentences have in common (:func:`summarize_flips`).

    Margins are read as in :class:`Flip`: > 0 means that system prefers
    system A's token. Every field but ``n`` is None when no flip was given.
    """

    n: int  # flips summarised (sentences whose outputs differ)
    names: tuple[str, str] | None = None  # systems A and B
    median_t: float | None = None  # median first position of a difference
    median_abs_step_margin_a: float | None = None  # |margin| at t under A
    median_abs_step_margin_b: float | None = None  # |margin| at t under B
    step_tie: int | None = None  # both |margins| < 0.5 nats
    preference_changed: int | None = None  # each prefers its own token at t
    a_prefers_own_output: int | None = None  # A scores its own output higher
    b_prefers_own_output: int | None = None  # B scores its own output higher


def summarize_flips(flips) -> FlipSummary:
    """What the flips of many sentences have in common.

    * ``step_tie``: under both systems the two tokens at step t are within
      0.5 nats of each other (the decision was a near tie);
    * ``preference_changed``: at step t each system prefers its own token
      (quantization moved the model's choice, not only the beam's path);
    * ``a_prefers_own_output`` / ``b_prefers_own_output``: each system scores
      its own complete output higher than the other's (no search error).
    """
    flips = [f for f in flips if f is not None]
    if not flips:
        return FlipSummary(n=0)
    na, nb = flips[0].names
    sm_a = np.array([f.step[na]["margin"] for f in flips])
    sm_b = np.array([f.step[nb]["margin"] for f in flips])
    return FlipSummary(
        n=len(flips), names=(na, nb),
        median_t=float(np.median([f.t for f in flips])),
        median_abs_step_margin_a=float(np.median(np.abs(sm_a))),
        median_abs_step_margin_b=float(np.median(np.abs(sm_b))),
        step_tie=int(np.sum((np.abs(sm_a) < 0.5) & (np.abs(sm_b) < 0.5))),
        preference_changed=int(np.sum((sm_a > 0) & (sm_b < 0))),
        a_prefers_own_output=int(sum(f.seq[na]["margin"] >= 0 for f in flips)),
        b_prefers_own_output=int(sum(f.seq[nb]["margin"] <= 0 for f in flips)))


# -- which sentences differ ------------------------------------------------------
@dataclasses.dataclass
class Differing:
    """One source whose two outputs differ (a row of Tables 8 and 9)."""

    index: int  # position in the sentences searched
    source: str
    src_ids: list[int]
    ids: tuple[list[int], list[int]]  # outputs of systems a and b, no </s>
    text: tuple[str, str]


@dataclasses.dataclass
class Search:
    """What :func:`find_differences` looked at and what it found."""

    searched: int  # sentences translated by both systems
    identical: int  # of those, with identical outputs
    found: list[Differing]


def find_differences(sys_a, sys_b, sources, want: int,
                     limit: int | None = None) -> Search:
    """Translate ``sources`` in order with both systems until ``want`` of
    them have different outputs (or ``limit`` sentences, or all, were tried).

    sys_a, sys_b: ``nmt8.Translator`` objects with BPE models (``tokenize``,
    ``translate_ids``, ``detokenize``). The order of ``sources`` is the
    order of the search: fix it before looking at any output, so the rows
    shown are the first that differ, not the most striking.
    """
    if isinstance(sources, str):
        raise TypeError("sources must be a list of sentences, not one string")
    if isinstance(want, bool) or not isinstance(want, int) or want < 1:
        raise ValueError(f"want must be an int >= 1, got {want!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"limit must be an int >= 1 or None, got {limit!r}")
    sources = list(sources)[:limit]
    found, searched = [], 0
    for i, src in enumerate(sources):
        (ids,) = sys_a.tokenize([src])
        (ya,), (yb,) = sys_a.translate_ids([ids]), sys_b.translate_ids([ids])
        searched += 1
        if ya != yb:
            found.append(Differing(i, src, ids, (ya, yb),
                                   (sys_a.detokenize(ya), sys_b.detokenize(yb))))
            if len(found) == want:
                break
    return Search(searched, searched - len(found), found)


# -- is a BLEU difference real? ----------------------------------------------------
@dataclasses.dataclass
class PairedBleu:
    """BLEU of systems a and b on the same sentences, and of b - a.

    ``delta`` is the observed difference; ``delta_mean`` +- ``delta_ci`` is
    sacrebleu's 95% interval (``estimate_ci``) over the paired bootstrap
    resamples, and ``p_value`` sacrebleu's paired bootstrap p-value (the
    chance of a difference this large between systems equally good).
    """

    a: float
    b: float
    delta: float
    delta_mean: float
    delta_ci: float
    p_value: float
    n_samples: int
    signature: str
    deltas: np.ndarray = dataclasses.field(repr=False, default=None)  # (n_samples,)

    @property
    def low(self) -> float:
        return self.delta_mean - self.delta_ci

    @property
    def high(self) -> float:
        return self.delta_mean + self.delta_ci


def paired_bleu(hyps_a, hyps_b, refs, n_samples: int = 1000) -> PairedBleu:
    """Corpus BLEU of a and b and sacrebleu's paired bootstrap on b - a.

    Runs ``sacrebleu.significance.PairedTest`` (``test_type="bs"``, as
    ``sacrebleu --paired-bs``) for the p-value, and, for the interval on the
    difference, sacrebleu's ``_bootstrap_resample`` on each system: with the
    same seed (``$SACREBLEU_SEED``, default 12345) it draws the very
    resamples of the paired test, so the differences of their scores are
    the paired bootstrap's, summarised by sacrebleu's ``estimate_ci``.
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import (
        PairedTest,
        _bootstrap_resample,
        estimate_ci,
    )

    hyps_a, hyps_b, refs = list(hyps_a), list(hyps_b), list(refs)
    if not (len(hyps_a) == len(hyps_b) == len(refs)):
        raise ValueError(f"{len(hyps_a)} and {len(hyps_b)} hypotheses for "
                         f"{len(refs)} references: need one each per sentence")
    if not refs:
        raise ValueError("need at least one sentence")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) \
            or n_samples < 1:
        raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
    bleu = BLEU()
    test = PairedTest([("a", hyps_a), ("b", hyps_b)], {"BLEU": bleu}, [refs],
                      test_type="bs", n_samples=n_samples)
    signatures, results = test()
    res_a, res_b = results["BLEU"]
    scores = [np.array([s.score for s in _bootstrap_resample(
        bleu._extract_corpus_statistics(h, [refs]), bleu, n_samples)[1]])
        for h in (hyps_a, hyps_b)]
    deltas = scores[1] - scores[0]  # (n_samples,) b - a on each resample
    mean, ci = estimate_ci(deltas)
    return PairedBleu(a=float(res_a.score), b=float(res_b.score),
                      delta=float(res_b.score - res_a.score),
                      delta_mean=float(mean), delta_ci=float(ci),
                      p_value=float(res_b.p_value), n_samples=n_samples,
                      signature=str(signatures["BLEU"]), deltas=deltas)
