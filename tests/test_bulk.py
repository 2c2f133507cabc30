"""nmt8.lab.speed.batch (the batch-size sweep, the batch-invariance count,
the reproduce records) and nmt8.lab.speed.bulk (`nmt8 bench batch`)."""

import numpy as np

import nmt8
from nmt8.lab.speed import batch


def test_invariance_and_sweep_on_a_tiny_model():
    m = nmt8.random_model(emb=12, hidden=16, src_vocab=40, tgt_vocab=30,
                          seed=3).copy("int8")
    rng = np.random.default_rng(12)
    srcs = [list(rng.integers(2, 40, size=int(k))) for k in rng.integers(0, 9, 10)]
    assert batch.invariance([m], srcs, batch=4, beam=3) == (0, 0)
    res = batch.sweep([("int8", [m])], srcs, words=50, batch_sizes=(1, 4), runs=2)
    assert [(r.system, r.batch, len(r.seconds)) for r in res] == \
        [("int8", 1, 2), ("int8", 4, 2)]
    lo, med, hi = res[0].wpcs
    assert 0 < lo <= med <= hi


def test_command_line_rejects_bad_options(capsys):

    from nmt8 import cli

    for bad in (["--batch-sizes", "1,x"], ["--runs", "0"], ["--batch-sizes", "0"]):
        assert cli.main(["bench", "batch", *bad]) == 1
        err = capsys.readouterr().err
        assert err.startswith("nmt8 bench: error: --") and "\n" == err[-1]


def test_our_lines_are_our_sentences_repeated():
    from nmt8.testing import PAIRS, grammar_pairs

    ours = {de for de, _ in PAIRS} | {de for de, _ in grammar_pairs()}
    lines = batch.our_lines(3 * len(ours))
    assert len(lines) == 3 * len(ours) and set(lines) == ours
    assert batch.our_lines(0) == []


def test_batch_records_for_reproduce_on_a_tiny_model():
    from nmt8.lab.reproduce.settings import Settings
    from nmt8.lab.reproduce.systems import NMT8_FP32, NMT8_INT8
    from nmt8.lab.speed.speed import Workload

    m = nmt8.random_model(emb=12, hidden=16, src_vocab=40, tgt_vocab=30, seed=3)
    rng = np.random.default_rng(5)
    srcs = [list(rng.integers(2, 40, size=int(k))) for k in rng.integers(1, 7, 6)]
    w = Workload("tiny", m, m, srcs, [len(s) for s in srcs], [4] * len(srcs))
    s = Settings(batch_sizes=(1, 3), batch_runs=2, invariance_batch=6)
    res = batch.batch_speeds([w], [NMT8_FP32, NMT8_INT8], s, progress=False)
    assert [(r.system, r.batch) for r in res] == [
        (NMT8_FP32, 1), (NMT8_FP32, 3), (NMT8_INT8, 1), (NMT8_INT8, 3)]
    assert all(len(r.runs) == 2 and r.words == w.words for r in res)
    inv = batch.batch_invariance(w, [NMT8_INT8], s)
    assert [(i.system, i.batch, i.sentences, i.translations_differ,
             i.scores_differ) for i in inv] == [(NMT8_INT8, 6, 6, 0, 0)]


def test_crossover_is_where_the_blocked_kernel_stays_ahead():
    from nmt8.lab.reproduce.batch_records import KernelPoint

    def pts(blocked, naive):
        return [KernelPoint(m, P, 1.0, g) for m, row in (("b", blocked),
                                                          ("n", naive))
                for P, g in zip((1, 5, 20, 80), row)]

    assert batch.crossover(pts((1, 2, 9, 9), (5, 5, 5, 5)), "b", "n") == 20
    # ahead at P=5 by chance, behind at 20: the crossover is where it stays
    assert batch.crossover(pts((1, 6, 4, 9), (5, 5, 5, 5)), "b", "n") == 80
    assert batch.crossover(pts((1, 2, 3, 4), (5, 5, 5, 5)), "b", "n") is None
    assert batch.crossover(pts((9, 9, 9, 9), (5, 5, 5, 5)), "b", "n") == 1
    assert batch.crossover(pts((9, 9, 9, 9), (5, 5, 5, 5)), "b", "x") is None


def test_kernel_shapes_times_each_target_shape_at_each_target_P():
    from nmt8.lab.kernels.machine import has_torch, int8_available
    from nmt8.lab.reproduce.settings import Settings
    from nmt8.lab.reproduce.targets import int8_method

    s = Settings(kernel_target_P=(2, 7), kernel_target_shapes=((12, 40),
                                                               (9, 33)),
                 kernel_repeats=1)
    if not int8_available():
        return
    got = batch.kernel_shapes(s, progress=False)
    assert [k.shape for k in got] == [(12, 40), (9, 33)]
    for k in got:
        assert sorted({p.P for p in k.points}) == [2, 7]
        methods = {p.method for p in k.points}
        assert ("torch-fbgemm" in methods) == has_torch()
        assert int8_method(k.points) in methods and "numpy-fp32" in methods
        assert all(p.gops > 0 for p in k.points)
    assert batch.kernel_shapes(Settings(kernel_target_P=()), progress=False) == []
