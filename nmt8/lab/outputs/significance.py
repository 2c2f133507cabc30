"""Is a BLEU difference real? The paired bootstrap (Koehn 2004) of two
systems on the same sentences, which Table 6 of Quinn & Ballesteros 2018
does not give.

:func:`paired_bleu` runs sacrebleu's paired test for the p-value, and
scores the paired test's own resamples of both systems (its indices, from
its seed) for a 95% interval on the difference (:class:`PairedBleu`), with
sacrebleu's public API only.

Does not: translate, tokenize or choose the test set; only BLEU (no chrF).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np


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


def _resample_indices(n: int, n_samples: int) -> np.ndarray:
    """(n_samples, n) sentence indices, drawn as sacrebleu's paired
    bootstrap draws them: ``numpy.random.default_rng(seed).choice(n, (n_samples,
    n))`` with the seed of ``$SACREBLEU_SEED`` (default 12345; "none": from
    the OS), so that the resamples are the paired test's own."""
    seed = os.environ.get("SACREBLEU_SEED", "12345")
    rng = np.random.default_rng(None if seed.lower() == "none" else int(seed))
    return rng.choice(n, size=(n_samples, n), replace=True)


def _sentence_stats(hyps, refs) -> np.ndarray:
    """(n, 2 + 2 max_ngram_order) float32: each sentence's BLEU statistics
    [sys_len, ref_len, correct..., total...] for ``BLEU()``, from sacrebleu's public
    ``sentence_score`` (its counts do not depend on the smoothing), as
    float32 like sacrebleu's paired test keeps them."""
    from sacrebleu.metrics import BLEU

    # BLEU()'s tokenizer and n-gram order; effective_order only changes a
    # sentence's score (and quiets sacrebleu's advice to enable it)
    sentence_bleu = BLEU(effective_order=True)
    rows = []
    for h, r in zip(hyps, refs):
        s = sentence_bleu.sentence_score(h, [r])
        rows.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
    return np.array(rows, dtype=np.float32)


def _resampled_scores(bleu, stats: np.ndarray, idxs: np.ndarray) -> np.ndarray:
    """(n_samples,) corpus BLEU of each resample ``stats[idxs[i]]``, from
    the summed statistics with the public ``BLEU.compute_bleu`` and the
    metric's own settings (the paired test's computation)."""
    N = bleu.max_ngram_order
    out = []
    for sample in stats[idxs]:                      # (n, 2 + 2N) each
        t = sample.sum(0)                           # float32, as sacrebleu
        out.append(bleu.compute_bleu(
            correct=t[2:2 + N], total=t[2 + N:], sys_len=int(t[0]),
            ref_len=int(t[1]), smooth_method=bleu.smooth_method,
            smooth_value=bleu.smooth_value,
            effective_order=bleu.effective_order, max_ngram_order=N).score)
    return np.array(out)


def paired_bleu(hyps_a, hyps_b, refs, n_samples: int = 1000) -> PairedBleu:
    """Corpus BLEU of a and b and sacrebleu's paired bootstrap on b - a.

    Runs ``sacrebleu.significance.PairedTest`` (``test_type="bs"``, as
    ``sacrebleu --paired-bs``) for the p-value, and, for the interval on the
    difference, the same resamples of both systems (the paired test's
    indices, :func:`_resample_indices`) scored from each sentence's public
    BLEU statistics; the differences of their scores are the paired
    bootstrap's, summarised by sacrebleu's ``estimate_ci``. Only sacrebleu's
    public API: the test checks that system b's resampled scores give the
    paired test's own mean and interval for b, to the bit.
    """
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest, estimate_ci

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
    idxs = _resample_indices(len(refs), n_samples)       # (n_samples, n)
    scores = [_resampled_scores(bleu, _sentence_stats(h, refs), idxs)
              for h in (hyps_a, hyps_b)]
    deltas = scores[1] - scores[0]  # (n_samples,) b - a on each resample
    mean, ci = estimate_ci(deltas)
    return PairedBleu(a=float(res_a.score), b=float(res_b.score),
                      delta=float(res_b.score - res_a.score),
                      delta_mean=float(mean), delta_ci=float(ci),
                      p_value=float(res_b.p_value), n_samples=n_samples,
                      signature=str(signatures["BLEU"]), deltas=deltas)
