"""Why a 32-bit and an 8-bit system part ways on one sentence: Section 5 of
Quinn & Ballesteros 2018 ("only 51 [of 166] were identical"), taken one step
further than the paper.

:func:`flip` takes one source whose two outputs differ, finds the first
target position t where they part (:func:`first_difference`) and scores
both continuations under both systems (forced decoding,
``Translator.score``), normalised by length as each beam ranks them, so a
reader sees whether int8 changed the model's preference at step t (a near
tie tipped over) or the beam simply explored differently
(:meth:`Flip.verdict`). :func:`summarize_flips` says what the flips of many
sentences have in common.

Does not: translate (the outputs are given; ``nmt8.lab.outputs.diff.find_differences``
finds sentences whose outputs differ) or time anything.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nmt8.model.config import EOS

BEAM_DEFAULT_EXPONENT = 1.0  # nmt8.search.beam.beam_search(length_exponent=1.0)


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
