"""Is a BLEU difference real? The paired bootstrap (Koehn 2004) of two
systems on the same sentences, which Table 6 of Quinn & Ballesteros 2018
does not give.

:func:`paired_bleu` runs sacrebleu's paired test for the p-value, and
sacrebleu's own resampling, with the paired test's seed, for a 95% interval
on the difference (:class:`PairedBleu`).

Does not: translate, tokenize or choose the test set; only BLEU (no chrF).
"""

from __future__ import annotations

import dataclasses

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
