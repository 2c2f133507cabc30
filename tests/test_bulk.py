"""nmt8.lab.bulk: the batch-size sweep and the batch-invariance count."""

import numpy as np

import nmt8
from nmt8.lab import bulk


def test_invariance_and_sweep_on_a_tiny_model():
    m = nmt8.random_model(emb=12, hidden=16, src_vocab=40, tgt_vocab=30,
                          seed=3).copy("int8")
    rng = np.random.default_rng(12)
    srcs = [list(rng.integers(2, 40, size=int(k))) for k in rng.integers(0, 9, 10)]
    assert bulk.invariance([m], srcs, batch=4, beam=3) == (0, 0)
    res = bulk.sweep([("int8", [m])], srcs, words=50, batch_sizes=(1, 4), runs=2)
    assert [(r.precision, r.batch, len(r.seconds)) for r in res] == \
        [("int8", 1, 2), ("int8", 4, 2)]
    lo, med, hi = res[0].wpcs
    assert 0 < lo <= med <= hi


def test_command_line_rejects_bad_options(capsys):
    import pytest

    for bad in (["--batch-sizes", "1,x"], ["--runs", "0"], ["--batch-sizes", "0"]):
        with pytest.raises(SystemExit) as e:
            bulk.main(bad)
        assert e.value.code == 2
