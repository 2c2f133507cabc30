"""``nmt8 bench batch``: words per core second against batch size (one
core), and how many outputs change with the batch, printed as tables with
ratios measured in the same run.

The measurements are ``nmt8.lab.speed.batch``'s (:func:`sweep`,
:func:`invariance`); this module picks the workload (the shipped model on
our own sentences or a Multi30k split, or a random paper-size model) and
prints.

Does not: measure (``nmt8.lab.speed.batch``) or decode (``nmt8.search.batch``).
"""

from __future__ import annotations

import argparse

from nmt8.lab.speed.batch import (
    BatchSpeed,
    invariance,
    sweep,
)
from nmt8.model.config import EOS

__all__ = [
    "add_arguments",
    "run",
]


def _table(res: list[BatchSpeed]) -> str:
    base = {r.system: r.wpcs[1] for r in res if r.batch == min(
        x.batch for x in res)}
    fp32 = {r.batch: r.wpcs[1] for r in res if r.system == "fp32"}
    rows = [("| precision | batch | WPCS min / median / max | vs batch 1 "
            "| vs fp32, same batch |"), "|---|---|---|---|---|"]
    for r in res:
        lo, med, hi = r.wpcs
        vs_fp32 = f"{med / fp32[r.batch]:.2f}x" if r.batch in fp32 else "n/a"
        rows.append(f"| {r.system} | {r.batch} | {lo:.1f} / {med:.1f} / "
                    f"{hi:.1f} | {med / base[r.system]:.2f}x | {vs_fp32} |")
    return "\n".join(rows)


def _copy(model, spec: str):
    """``model`` in the precision ``spec``: "int8", or "fp32:avx512" with a
    kernel (``nmt8.model.model.kernel_choices`` lists them)."""
    precision, _, kernel = spec.partition(":")
    return model.copy(precision, kernel=kernel) if kernel else model.copy(precision)


def _workload(a):
    """(systems, ids, words, max_lens, min_len) for the chosen model."""
    import numpy as np

    from nmt8.model.model import load_model, random_model
    from nmt8.serve.translator import Translator
    from nmt8.testing import DEMO_SENTENCES, GOLDEN_PAIRS

    if a.paper_size:  # random weights: every sentence decodes max_len steps
        m = random_model(seed=0)
        rng = np.random.default_rng(0)
        n_src = 20
        ids = [list(rng.integers(2, m.cfg.n_words_src, n_src))
               for _ in range(a.sentences)]
        ids = [[i if i != EOS else 1 for i in s] for s in ids]
        steps = [n_src] * len(ids)
        systems = [(p, [_copy(m, p)]) for p in a.precisions]
        return systems, ids, n_src * len(ids), steps, n_src
    if a.split:
        from nmt8.data import read_lines

        lines = read_lines(a.split, "de", a.data)[:a.sentences]
    else:
        own = [de for de, _ in GOLDEN_PAIRS] + list(DEMO_SENTENCES)
        lines = (own * (a.sentences // len(own) + 1))[:a.sentences]
    model = load_model(a.model)
    tr = Translator(model, precision="fp32")
    ids = [tr.src_bpe.encode(x) if x.strip() else [] for x in lines]
    systems = [(p, [_copy(model, p)]) for p in a.precisions]
    return systems, ids, sum(len(x.split()) for x in lines), None, 0


DESCRIPTION = ("Words per core second against batch size (one core), and "
               "how many outputs change with the batch.")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``nmt8 bench batch``."""
    ap.add_argument("--model", default="de-en", help="model name or path")
    ap.add_argument("--paper-size", action="store_true",
                    help="a random model of the paper's size (620/1000/40k)")
    ap.add_argument("--split", default=None,
                    help="a Multi30k split as input (needs the corpus)")
    ap.add_argument("--data", default=None,
                    help="Multi30k folder (default: $NMT8_DATA)")
    ap.add_argument("--sentences", type=int, default=64,
                    help="sentences decoded per run")
    ap.add_argument("--batch-sizes", default="1,4,16,64",
                    help="comma-separated batch sizes")
    ap.add_argument("--precisions", default="fp32,int8",
                    help="comma-separated; PRECISION or PRECISION:KERNEL, e.g. "
                         "fp32:numpy,fp32:auto,int16,int8")
    ap.add_argument("--beam", type=int, default=5, help="beam size")
    ap.add_argument("--runs", type=int, default=3,
                    help="timed runs per batch size (the best is kept)")


def run(a: argparse.Namespace) -> int:
    """``nmt8 bench batch`` with parsed options."""
    try:
        sizes = tuple(int(x) for x in a.batch_sizes.split(","))
    except ValueError:
        raise ValueError(f"--batch-sizes: integers separated by commas, got "
                         f"{a.batch_sizes!r}") from None
    a.precisions = a.precisions.split(",")
    if a.sentences < 1 or a.runs < 1 or min(sizes) < 1:
        raise ValueError("--sentences, --runs and every batch size must be "
                         ">= 1")
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

