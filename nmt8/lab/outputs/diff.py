"""How the 32-bit and 8-bit outputs differ: Section 5, Tables 6, 8 and 9.

* :func:`word_diff` marks the words that differ between two outputs in
  **bold** markdown on both sides, as the paper's Tables 8 and 9 do
  ("Differences are in boldface");
* :func:`find_differences` translates sentences with two systems, in order,
  until it has found the ones whose outputs differ (the examples of Tables 8
  and 9 are such sentences: identical outputs have nothing to show).

Beside it: ``nmt8.lab.outputs.flips`` (where two outputs part, and which
system preferred what there: a near tie tipped over, or the beam explored
differently) and ``nmt8.lab.outputs.significance`` (the paired bootstrap
of BLEU, Koehn 2004, which Table 6 of the paper does not give).

Does not: time anything (``nmt8.lab.speed.measure``); translates only in
:func:`find_differences`, with the systems it is given.
"""

from __future__ import annotations

import dataclasses
import difflib

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
