"""nmt8.search.batch: batched beam search equals one-sentence search, bit for bit
in int8 (and, on these tiny models, in fp32), at every batch size."""

import itertools

import numpy as np
import pytest

import nmt8
from nmt8.search.batch import plan, translate_ids
from nmt8.search.beam import beam_search, beam_search_batch


def _same(a, b):
    return [(h.ids, h.score, h.logprob) for h in a] == \
        [(h.ids, h.score, h.logprob) for h in b]


def _sources(rng, n, vocab):
    # varied lengths, including 0 (the model still sees </s>) and repeats
    return [list(rng.integers(2, vocab, size=int(k)))
            for k in rng.integers(0, 14, size=n)]


@pytest.fixture(scope="module")
def tiny_models():
    return [nmt8.random_model(emb=12, hidden=16, src_vocab=40, tgt_vocab=30,
                              seed=s) for s in (3, 4)]


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_encoder_batch_equals_one_sentence(tiny_models, precision):
    m = tiny_models[0].copy(precision)
    rng = np.random.default_rng(1)
    srcs = [s + [0] for s in _sources(rng, 9, 40)]
    for s, e in zip(srcs, m.encode_batch(srcs)):
        alone = m.encode(s)
        if precision == "int8":
            np.testing.assert_array_equal(e.h, alone.h)
            np.testing.assert_array_equal(e.pctx, alone.pctx)
            np.testing.assert_array_equal(e.s0, alone.s0)
        else:  # BLAS may round rows differently in another shape
            np.testing.assert_allclose(e.h, alone.h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 3, 16, 64])
def test_int8_batches_are_invariant(tiny_models, batch):
    m = tiny_models[0].copy("int8")
    rng = np.random.default_rng(batch)
    srcs = _sources(rng, 70, 40)
    alone = [beam_search(m, s, beam=4, n_best=3) for s in srcs]
    got = []
    for i in range(0, len(srcs), batch):
        got += beam_search_batch(m, srcs[i:i + batch], beam=4, n_best=3)
    assert len(got) == len(srcs)
    assert all(_same(a, b) for a, b in zip(alone, got))


def test_int8_ensemble_batches_are_invariant(tiny_models):
    ms = [m.copy("int8") for m in tiny_models]
    srcs = _sources(np.random.default_rng(5), 12, 40)
    alone = [beam_search(ms, s, beam=3) for s in srcs]
    got = beam_search_batch(ms, srcs, beam=3)
    assert all(_same(a, b) for a, b in zip(alone, got))


def test_options_reach_every_sentence(tiny_models):
    m = tiny_models[0].copy("int8")
    srcs = _sources(np.random.default_rng(6), 7, 40)
    kw = {"beam": 3, "min_len": 4, "normalize": False, "alignment": True}
    lens = [3, 0, 9, 1, 5, 2, 6]
    got = beam_search_batch(m, srcs, max_lens=lens, **kw)
    for s, ml, g in zip(srcs, lens, got):
        a = beam_search(m, s, max_len=ml, **kw)
        assert _same(a, g)
        for h1, h2 in zip(a, g):
            if h1.alignment is None:
                assert h2.alignment is None
            else:
                np.testing.assert_array_equal(h1.alignment, h2.alignment)


def test_shipped_model_int8_batch_equals_alone(shipped):
    from nmt8.testing import DEMO_SENTENCES, GOLDEN_PAIRS

    tr = nmt8.Translator(shipped, precision="int8")
    lines = [de for de, _ in GOLDEN_PAIRS] + DEMO_SENTENCES
    ids = [tr.src_bpe.encode(x) for x in lines]
    alone = [beam_search(tr.models, s, beam=5) for s in ids]
    for batch in (2, len(ids)):
        got = []
        for i in range(0, len(ids), batch):
            got += beam_search_batch(tr.models, ids[i:i + batch], beam=5)
        assert all(_same(a, b) for a, b in zip(alone, got))


def test_bad_arguments(tiny_models):
    m = tiny_models[0]
    with pytest.raises(ValueError, match="n_best"):
        beam_search_batch(m, [[3]], beam=2, n_best=3)
    with pytest.raises(ValueError, match="out of range"):
        beam_search_batch(m, [[3], [10**6]], beam=2)
    assert beam_search_batch(m, [], beam=2) == []


def test_every_pair_of_lengths_in_one_batch(tiny_models):
    # sentences of equal and different lengths side by side, both orders
    m = tiny_models[1].copy("int8")
    rng = np.random.default_rng(9)
    for a, b in itertools.product((0, 1, 5), repeat=2):
        srcs = [list(rng.integers(2, 40, size=a)), list(rng.integers(2, 40, size=b))]
        got = beam_search_batch(m, srcs, beam=2)
        for s, g in zip(srcs, got):
            assert _same(beam_search(m, s, beam=2), g)


def test_plan_sorts_each_window_and_keeps_every_sentence():
    lengths = [5, 0, 3, 9, 1, 1, 7, 2, 0, 4]
    batches = plan(lengths, 2, window=5)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == [i for i, n in enumerate(lengths) if n > 0]
    assert all(len(b) <= 2 for b in batches)
    # sorted within a window, windows in input order
    assert flat[:4] == [4, 2, 0, 3] and set(flat[4:]) == {5, 6, 7, 9}
    with pytest.raises(ValueError, match="batch_size"):
        plan(lengths, 0)
    with pytest.raises(TypeError, match="batch_size"):
        plan(lengths, True)


def test_translate_ids_keeps_input_order_and_empty_sources(tiny_models):
    m = tiny_models[0].copy("int8")
    srcs = _sources(np.random.default_rng(11), 25, 40)
    srcs[3] = []
    got = translate_ids(m, srcs, batch_size=4, window=8, beam=3)
    for s, g in zip(srcs, got):
        assert g == [] if not s else _same(beam_search(m, s, beam=3), g)

