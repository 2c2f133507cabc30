"""Batch decoding, measured: the paper's future work (Section 7).

* :func:`sweep`: words per core second against batch size, for several
  precisions, with their runs interleaved (every run visits every system and
  batch size in turn, so a slow spell on the machine slows all of them);
* :func:`invariance`: how many outputs change between batch 1 and batch B
  (int8: none, by construction; fp32: BLAS may round rows differently);
* ``nmt8 bench batch``: both, printed as tables with ratios measured in the
  same run.

Everything runs on one core: one BLAS thread, one process.

Does not: decode (``nmt8.batch``) or time the kernels alone
(``nmt8.lab.bench``).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from ..batch import translate_ids
from ..text import EOS


@dataclasses.dataclass(frozen=True)
class BatchSpeed:
    """One system at one batch size: source words and the seconds of each run."""

    precision: str
    batch: int
    words: int
    seconds: tuple[float, ...]

    @property
    def wpcs(self) -> tuple[float, float, float]:
        """(min, median, max) words per core second over the runs."""
        w = sorted(self.words / s for s in self.seconds)
        return w[0], statistics.median(w), w[-1]


def sweep(systems, ids, words: int, batch_sizes=(1, 4, 16, 64), runs: int = 3,
          beam: int = 5, max_lens=None, min_len: int = 0) -> list[BatchSpeed]:
    """Time ``systems`` (a list of (precision, models)) decoding ``ids`` at
    each batch size, runs interleaved; one BatchSpeed per (system, batch)."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    times = {(p, b): [] for p, _ in systems for b in batch_sizes}
    for _ in range(runs):
        for p, models in systems:
            for b in batch_sizes:
                t0 = time.perf_counter()
                translate_ids(models, ids, b, beam=beam, max_lens=max_lens,
                              min_len=min_len)
                times[p, b].append(time.perf_counter() - t0)
    return [BatchSpeed(p, b, words, tuple(times[p, b]))
            for p, _ in systems for b in batch_sizes]


def invariance(models, ids, batch: int, beam: int = 5) -> tuple[int, int]:
    """How many sentences get (another translation, another score, to the
    last bit) at batch ``batch`` than at batch 1."""
    one = translate_ids(models, ids, 1, beam=beam)
    many = translate_ids(models, ids, batch, beam=beam)
    words = sum([h.ids for h in a] != [h.ids for h in b]
                for a, b in zip(one, many))
    scores = sum([h.score for h in a] != [h.score for h in b]
                 for a, b in zip(one, many))
    return words, scores


def _table(res: list[BatchSpeed]) -> str:
    base = {r.precision: r.wpcs[1] for r in res if r.batch == min(
        x.batch for x in res)}
    fp32 = {r.batch: r.wpcs[1] for r in res if r.precision == "fp32"}
    rows = [("| precision | batch | WPCS min / median / max | vs batch 1 "
            "| vs fp32, same batch |"), "|---|---|---|---|---|"]
    for r in res:
        lo, med, hi = r.wpcs
        vs_fp32 = f"{med / fp32[r.batch]:.2f}x" if r.batch in fp32 else "n/a"
        rows.append(f"| {r.precision} | {r.batch} | {lo:.1f} / {med:.1f} / "
                    f"{hi:.1f} | {med / base[r.precision]:.2f}x | {vs_fp32} |")
    return "\n".join(rows)


def _workload(a):
    """(systems, ids, words, max_lens, min_len) for the chosen model."""
    import numpy as np

    from ..model import load_model, random_model
    from ..testing import DEMO_SENTENCES, GOLDEN_PAIRS
    from ..translator import Translator

    if a.paper_size:  # random weights: every sentence decodes max_len steps
        m = random_model(seed=0)
        rng = np.random.default_rng(0)
        n_src = 20
        ids = [list(rng.integers(2, m.cfg.n_words_src, n_src))
               for _ in range(a.sentences)]
        ids = [[i if i != EOS else 1 for i in s] for s in ids]
        steps = [n_src] * len(ids)
        systems = [(p, [m.copy(p)]) for p in a.precisions]
        return systems, ids, n_src * len(ids), steps, n_src
    if a.split:
        from ..data import read_lines

        lines = read_lines(a.split, "de", a.data)[:a.sentences]
    else:
        own = [de for de, _ in GOLDEN_PAIRS] + list(DEMO_SENTENCES)
        lines = (own * (a.sentences // len(own) + 1))[:a.sentences]
    model = load_model(a.model)
    tr = Translator(model, precision="fp32")
    ids = [tr.src_bpe.encode(x) if x.strip() else [] for x in lines]
    systems = [(p, [model.copy(p)]) for p in a.precisions]
    return systems, ids, sum(len(x.split()) for x in lines), None, 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="nmt8 bench batch",
        description="Words per core second against batch size (one core), "
                    "and how many outputs change with the batch.")
    ap.add_argument("--model", default="de-en")
    ap.add_argument("--paper-size", action="store_true",
                    help="a random model of the paper's size (620/1000/40k)")
    ap.add_argument("--split", default=None,
                    help="a Multi30k split as input (needs the corpus)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--sentences", type=int, default=64)
    ap.add_argument("--batch-sizes", default="1,4,16,64")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    try:
        sizes = tuple(int(x) for x in a.batch_sizes.split(","))
    except ValueError:
        ap.error(f"--batch-sizes: integers separated by commas, got "
                 f"{a.batch_sizes!r}")
    a.precisions = a.precisions.split(",")
    if a.sentences < 1 or a.runs < 1 or min(sizes) < 1:
        ap.error("--sentences, --runs and every batch size must be >= 1")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        systems, ids, words, steps, min_len = _workload(a)
        res = sweep(systems, ids, words, sizes, a.runs, a.beam, steps, min_len)
        print(_table(res))
        if not a.paper_size:
            for p, models in systems:
                n, ns = invariance(models, ids, max(sizes), a.beam)
                print(f"{p}, batch 1 vs batch {max(sizes)}: {n} of {len(ids)} "
                      f"translations differ, {ns} scores differ in any bit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
