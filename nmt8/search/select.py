"""Candidate selection: the best one-word extensions of every sentence's
live hypotheses, at once.

Each step of beam search scores P x V candidates (P live hypotheses, V
target words) and keeps, per sentence, as many as its beam still wants.
:func:`select` finds them without sorting all P x V numbers; :func:`top_k`
is the same for one block of rows. Nothing a sentence keeps depends on the
other sentences' rows.

Does not: compute the scores (``nmt8.search.beam``) or keep hypotheses
(``nmt8.search.sentence``).
"""

from __future__ import annotations

import numpy as np

from nmt8.native.fused.select import select as _c_select


def select(logp: np.ndarray, offset: np.ndarray, counts, wants,
           row_max: np.ndarray | None = None):
    """The best one-word extensions of several sentences at once: in C
    (``nmt8.native.fused.select``), the same bits as :func:`select_numpy`, whose
    docstring says how."""
    return _c_select(logp, offset, counts, wants, row_max)


def select_numpy(logp: np.ndarray, offset: np.ndarray, counts, wants,
                 row_max: np.ndarray | None = None):
    """The best one-word extensions of several sentences at once (the
    reference of the C kernel).

    logp (P, V): the live rows' log-probabilities (or logits that ``offset``
    turns into them), sentence g owning the next ``counts[g]`` rows; offset
    (P,) float64, added to every entry of its row (the hypothesis' score,
    less the row's log-sum-exp). Returns per sentence ``(rows, words,
    scores)``: the ``wants[g]`` largest ``logp[r, w] + offset[r]`` over its
    rows (local row numbers), best first, ties by (row, word).

    A full sort of P x V candidates (P = 5, V = 40k: 200k numbers) costs more
    than a whole int8 decoder step, so each sentence first bounds its
    wants-th best from below: every row's maximum is a candidate, so the
    wants-th largest row maximum (when the sentence has that many rows; else
    the largest of its rows' wants-th entries) is at most the wants-th best.
    One pass over logp finds the few entries above the bounds, and the sum
    is formed for those only. Nothing depends on other sentences' rows.
    ``row_max`` (P,): each row's maximum of logp, when already known.
    """
    V = logp.shape[1]
    counts = np.asarray(counts, np.int64)
    G = len(counts)
    start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    seg = np.repeat(np.arange(G), counts)  # (P,) the sentence of each row
    if row_max is None:
        row_max = logp.max(axis=1)
    row_best = row_max + offset  # (P,) float64
    bound = np.full(G, -np.inf)  # (G,)
    for g, (n, k, r0) in enumerate(zip(counts.tolist(), wants, start.tolist())):
        if n * V <= k:
            continue  # every entry is kept
        if n >= k:
            bound[g] = np.partition(row_best[r0:r0 + n], n - k)[n - k]
        elif k <= V:  # fewer rows than wanted (the first step)
            kth = np.partition(logp[r0:r0 + n], V - k, axis=1)[:, V - k]
            bound[g] = (kth + offset[r0:r0 + n]).max()
    thr = bound[seg] - offset  # (P,) in logp's units
    # a little lower in float32, so that no candidate is lost to rounding
    thr = (thr - 1e-6 * (1.0 + np.abs(thr))).astype(logp.dtype)
    r, w = np.divmod(np.flatnonzero(logp >= thr[:, None]), V)  # (1-D: fast)
    sc = logp[r, w].astype(np.float64) + offset[r]
    g = seg[r]
    ok = sc >= bound[g]  # the exact test, in float64
    r, w, sc, g = r[ok], w[ok], sc[ok], g[ok]
    local = r - start[g]
    order = np.lexsort((w, local, -sc, g))  # by sentence, score, row, word
    local, w, sc, g = local[order], w[order], sc[order], g[order]
    first = np.searchsorted(g, np.arange(G + 1))
    return [(local[a:a + k], w[a:a + k], sc[a:a + k])
            for a, k in zip(first[:-1].tolist(),
                            np.minimum(wants, np.diff(first)).tolist())]


def top_k(cand: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k largest entries of cand (P, V), best first,
    ties by flat index: :func:`select` for one block of rows."""
    P, V = cand.shape
    rows, words, _ = select(cand, np.zeros(P), [P], [k])[0]
    return rows * V + words
