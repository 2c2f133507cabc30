"""A blind evaluation as in Section 4.2 (Table 7) of Quinn & Ballesteros 2018.

The paper had "an independent native speaker [...] score 100 randomly
selected sentences", the outputs of both systems "shuffled during the
evaluation", on a scale "from 0 [...] unintelligible [to] 5 [...] perfect
translation". Here, for chapter 11:

* :func:`caption_pairs` - sentences to evaluate: our own German captions with
  our own English references, built from word lists (subject x action x
  place), in a fixed shuffled order, so a search can find ones whose fp32
  and int8 outputs differ (``nmt8.lab.outputs.diff.find_differences``);
* :func:`blind_key` - every (sentence, system) item once, shuffled: the key
  a rater must not see until the end;
* :func:`check_scores` - a rater's scores, checked (integers 0-5, known items);
* :func:`simulated_score` - a SIMULATED rater: chrF against our reference
  mapped to 0-5. A stand-in that shows the arithmetic, not a human judgement;
* :func:`tally` - Table 7's averages per system, with their standard errors,
  and the paired comparison per sentence (which system scored higher).

Does not: translate (give it the outputs), show widgets (the notebook does),
or claim anything about human raters: a :class:`Tally` says whether its
scores were simulated, and ``nmt8.lab.figures.plot.human_scores`` draws those apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers

import numpy as np

SCALE = tuple(range(6))  # 0 = unintelligible ... 5 = perfect translation

# Our own caption pieces, German with English. Every subject is singular and
# nominative, every action a verb in the 3rd person with its accusative object,
# every place a preposition with its dative, so any combination is German.
SUBJECTS = [
    ("Ein älterer Mann mit Bart", "An older man with a beard"),
    ("Eine junge Frau in einem roten Mantel", "A young woman in a red coat"),
    ("Ein kleines Mädchen mit Zöpfen", "A little girl with braids"),
    ("Ein Straßenmusiker mit einem grauen Hut", "A street musician with a gray hat"),
    ("Eine Ärztin in einem weißen Kittel", "A doctor in a white coat"),
    ("Ein Junge mit einer blauen Mütze", "A boy with a blue cap"),
    ("Eine Frau mit einem großen Rucksack", "A woman with a big backpack"),
    ("Ein Arbeiter in einer orangefarbenen Weste", "A worker in an orange vest"),
]
ACTIONS = [
    ("trägt einen schweren Korb", "is carrying a heavy basket"),
    ("schiebt ein altes Fahrrad", "is pushing an old bicycle"),
    ("liest eine Zeitung", "is reading a newspaper"),
    ("fotografiert einen Springbrunnen", "is photographing a fountain"),
    ("hält einen bunten Regenschirm", "is holding a colorful umbrella"),
    ("verkauft frisches Gemüse", "is selling fresh vegetables"),
    ("spielt Gitarre", "is playing the guitar"),
    ("füttert die Tauben", "is feeding the pigeons"),
    ("wartet auf den Bus", "is waiting for the bus"),
    ("zieht einen kleinen Wagen", "is pulling a small cart"),
]
PLACES = [
    ("vor einem alten Gebäude", "in front of an old building"),
    ("auf einem belebten Platz", "on a busy square"),
    ("an einer Straßenecke", "on a street corner"),
    ("in einem kleinen Park", "in a small park"),
    ("am Ufer eines Flusses", "on the bank of a river"),
    ("unter einer großen Brücke", "under a large bridge"),
    ("vor einem Café", "in front of a café"),
    ("auf dem Bahnsteig", "on the platform"),
    ("im Schnee", "in the snow"),
    ("neben einem Marktstand", "next to a market stall"),
]


def caption_pairs(seed: int = 0) -> list[tuple[str, str]]:
    """Every subject x action x place caption (800 (German, English) pairs),
    in an order shuffled by ``seed`` (fixed: the same list every call)."""
    pairs = [(f"{sd} {ad} {pd}.", f"{se} {ae} {pe}.")
             for (sd, se), (ad, ae), (pd, pe)
             in itertools.product(SUBJECTS, ACTIONS, PLACES)]
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[i] for i in order]


# -- the blind test ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True, order=True)
class Item:
    """One thing to score: system ``system``'s output of sentence ``sentence``."""

    sentence: int
    system: str


def blind_key(n_sentences: int, systems, seed: int) -> list[Item]:
    """Every (sentence, system) item exactly once, in a shuffled order.

    Position p of the list is the p-th item shown to the rater; the list is
    the key that says which system wrote it, hidden until the scores are in.
    """
    if isinstance(n_sentences, bool) or not isinstance(n_sentences, int) \
            or n_sentences < 1:
        raise ValueError(f"n_sentences must be an int >= 1, got {n_sentences!r}")
    systems = list(systems)
    if len(systems) < 2 or len(set(systems)) != len(systems):
        raise ValueError(f"need two or more distinct systems, got {systems!r}")
    items = [Item(i, s) for i in range(n_sentences) for s in systems]
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[j] for j in order]


def check_scores(scores, key) -> dict[int, int]:
    """``{position: score}`` checked against ``key``: every position one of
    the key's, every score an integer of :data:`SCALE`. Returns a copy with
    plain ints."""
    if not hasattr(scores, "items"):
        raise TypeError("scores must be a mapping {position: score}, got "
                        f"{type(scores).__name__}")
    out = {}
    for pos, s in scores.items():
        if isinstance(pos, bool) or not isinstance(pos, numbers.Integral) \
                or not 0 <= pos < len(key):
            raise ValueError(f"position {pos!r} is not an item of the key "
                             f"(0..{len(key) - 1})")
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) \
                or s not in SCALE:
            raise ValueError(f"score {s!r} at position {pos}: scores are "
                             f"integers {SCALE[0]}-{SCALE[-1]}")
        out[int(pos)] = int(s)
    return out


def simulated_score(hyp: str, ref: str) -> int:
    """SIMULATED, not a human: round(chrF(hyp, ref) / 20), in 0-5.

    chrF (sacrebleu's sentence chrF, 0-100) against our own reference; the
    rounding is numpy's (halves to even).
    """
    import sacrebleu

    chrf = sacrebleu.sentence_chrf(hyp, [ref]).score
    return int(np.clip(np.rint(chrf / 20), SCALE[0], SCALE[-1]))


def simulated_scores(key, outputs, refs) -> dict[int, int]:
    """:func:`simulated_score` of every item of ``key``.

    outputs: ``{system: [output of each sentence]}``; refs: our reference of
    each sentence.
    """
    return {pos: simulated_score(outputs[it.system][it.sentence], refs[it.sentence])
            for pos, it in enumerate(key)}


@dataclasses.dataclass
class Tally:
    """Table 7 for one rater: mean score per system and how sentences compare.

    ``se`` is the standard error of each mean (sample standard deviation over
    sqrt(n)); ``a_better``/``same``/``b_better`` count the sentences both of
    whose outputs were scored; ``mean_difference`` is the mean of b - a over
    those sentences, ``se_difference`` its standard error (paired).
    """

    rater: str
    simulated: bool
    systems: tuple[str, str]
    mean: dict[str, float]
    se: dict[str, float]
    n: dict[str, int]
    a_better: int
    same: int
    b_better: int
    mean_difference: float | None
    se_difference: float | None


def _se(x) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def tally(key, scores, rater: str, simulated: bool, systems=None) -> Tally:
    """Averages per system and the paired comparison of systems a and b.

    key: from :func:`blind_key`; scores: ``{position: score}`` (some
    positions may be unscored); systems: (a, b), default the key's two
    systems sorted by name ("32-bit" before "8-bit", "fp32" before "int8").
    """
    scores = check_scores(scores, key)
    if not scores:
        raise ValueError("no item was scored")
    if systems is None:
        systems = tuple(sorted({it.system for it in key}))[:2]
    a, b = systems
    by = {s: [] for s in systems}
    pair: dict[int, dict[str, int]] = {}
    for pos, s in scores.items():
        it = key[pos]
        if it.system in by:
            by[it.system].append(s)
            pair.setdefault(it.sentence, {})[it.system] = s
    both = [d for d in pair.values() if len(d) == 2]
    diffs = np.array([d[b] - d[a] for d in both], dtype=float)  # (sentences,)
    return Tally(
        rater=rater, simulated=bool(simulated), systems=(a, b),
        mean={s: float(np.mean(v)) if v else float("nan") for s, v in by.items()},
        se={s: _se(v) for s, v in by.items()},
        n={s: len(v) for s, v in by.items()},
        a_better=int(np.sum(diffs < 0)), same=int(np.sum(diffs == 0)),
        b_better=int(np.sum(diffs > 0)),
        mean_difference=float(diffs.mean()) if len(diffs) else None,
        se_difference=_se(diffs) if len(diffs) else None)
