"""nmt8.lab.measure, nmt8.parallel, nmt8.lab.peer and nmt8.lab.paper: arithmetic and wiring.

Tests assert; they never time anything against a threshold.
"""

import json

import numpy as np
import pytest

import nmt8
from nmt8.lab import measure, paper
from nmt8.lab.reproduce import toy_model
from nmt8.parallel import WorkerPool, translate_parallel


class FakeClock:
    """perf_counter that advances by given durations between start/stop pairs."""

    def __init__(self, durations):
        self.durations, self.now, self.calls = list(durations), 0.0, 0

    def __call__(self):
        self.calls += 1
        if self.calls % 2 == 0:  # a stop: the run took the next duration
            self.now += self.durations.pop(0)
        return self.now


def test_wps_and_wpcs():
    assert measure.wps(646, 1.0) == 646
    assert measure.wpcs(646, 1.0, cores=20) == pytest.approx(32.3)  # Section 3
    assert measure.wpcs(100, 2.0) == 50.0
    assert measure.wpcs(100, 2.0, cores=4) == measure.wps(100, 2.0) / 4
    with pytest.raises(ValueError):
        measure.wpcs(10, 0.0)
    with pytest.raises(ValueError):
        measure.wpcs(10, 1.0, cores=0)


def test_scaling_efficiency():
    assert measure.scaling_efficiency(200.0, 100.0, 2) == 1.0
    assert measure.scaling_efficiency(150.0, 100.0, 2) == 0.75


def test_count_words():
    assert measure.count_words("  Ein Hund  läuft.\t") == 3
    assert measure.count_words("") == 0


def test_median_of(monkeypatch):
    calls = []
    clock = FakeClock([3.0, 1.0, 2.0, 5.0, 4.0])
    monkeypatch.setattr(measure.time, "perf_counter", clock)
    med, runs = measure.median_of(lambda: calls.append(1), n=5, warmup=2)
    assert runs == [3.0, 1.0, 2.0, 5.0, 4.0]
    assert med == 3.0
    assert len(calls) == 7  # warm-up runs are not timed
    with pytest.raises(ValueError):
        measure.median_of(lambda: None, n=0)


class FakeTranslator:
    def __init__(self):
        self.calls, self.last_seconds = [], []

    def translate_ids(self, sentences, max_len=None):
        self.calls.append((sentences, max_len))
        self.last_seconds = [0.25]
        return [[1]]


def test_speed_is_median_of_runs(monkeypatch):
    # 3 timed runs of 2 sentences each, after one untimed warm-up sentence
    monkeypatch.setattr(measure.time, "perf_counter", FakeClock([4.0, 2.0, 8.0]))
    tr = FakeTranslator()
    r = measure.speed(tr, [[5, 6], [7]], words=10, runs=3, max_lens=[3, 2])
    assert r["runs"] == [4.0, 2.0, 8.0]
    assert r["seconds"] == 4.0
    assert r["wps"] == r["wpcs"] == 2.5
    assert len(tr.calls) == 3 * (1 + 2)  # each run: warm-up, then one at a time
    assert tr.calls[1] == ([[5, 6]], 3) and tr.calls[2] == ([[7]], 2)
    assert r["mean_latency_ms"] == 250.0


def test_speeds_interleave_runs_and_rotate_order(monkeypatch):
    # two systems, 2 runs each: run 1 times a then b, run 2 times b then a
    monkeypatch.setattr(measure.time, "perf_counter",
                        FakeClock([1.0, 10.0, 20.0, 2.0]))
    order = []

    class Named(FakeTranslator):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def translate_ids(self, sentences, max_len=None):
            order.append(self.name)
            return super().translate_ids(sentences, max_len)

    r = measure.speeds({"a": Named("a"), "b": Named("b")}, [[5], [6]],
                       words=4, runs=2)
    assert order == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3
    assert r["a"]["runs"] == [1.0, 2.0] and r["b"]["runs"] == [10.0, 20.0]
    assert r["a"]["seconds"] == 1.5 and r["b"]["wpcs"] == 4 / 15.0
    with pytest.raises(ValueError):
        measure.speeds({}, [[5]], words=1)


def test_single_threaded_restores():
    fns = measure._blas_thread_functions()
    before = fns[1]() if fns else None
    with measure.single_threaded():
        if fns:
            assert fns[1]() == 1
    if fns:
        assert fns[1]() == before


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_model(tmp_path_factory.mktemp("toy"), seed=3)


def _src(n=3, vocab=60, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, vocab, size=k).tolist() for k in range(3, 3 + n)]


def test_profile_shares_add_up(toy):
    tr = nmt8.Translator(toy, beam=3)
    p = measure.profile(tr, _src(), max_lens=[4, 5, 6])
    assert set(p["share"]) == set(nmt8.timers.CATEGORIES) | {measure.OTHER}
    assert sum(p["share"].values()) == pytest.approx(100.0)
    assert all(v >= 0 for v in p["seconds"].values())
    assert p["calls"]["product fp32 (matrix-vector)"] > 0
    assert p["calls"]["product int8"] == 0


def test_cross_check_rows(toy):
    tr = nmt8.Translator(toy, beam=2)
    cc = measure.cross_check(tr, _src(2), max_lens=[3, 3])
    cats = [r["category"] for r in cc["rows"]]
    assert cats == ["products (all)", "tanh", "sigmoid", "softmax", "rest"]
    for col in ("timers", "cprofile"):
        assert sum(r[col] for r in cc["rows"]) == pytest.approx(100.0)
        assert cc["rows"][0][col] > 0


def test_quality_matches_sacrebleu():
    hyps = ["a dog runs on the grass", "two cats sleep"]
    refs = ["a dog runs on the grass", "two cats are sleeping"]
    q = measure.quality(hyps, refs)
    assert 0 < q["bleu"] < 100 and 0 < q["chrf"] < 100
    assert q["bleu_signature"].startswith("nrefs:1")
    assert measure.quality(refs, refs)["bleu"] == pytest.approx(100.0)
    assert measure.identical(hyps, refs) == 1
    with pytest.raises(ValueError):
        measure.quality(hyps, refs[:1])


def test_translate_parallel_preserves_order(toy):
    lines = ["Ein Hund läuft.", "", "Zwei Kinder spielen am Strand.",
             "Eine Frau liest.", "Der Mann verkauft Obst auf dem Markt."]
    serial = nmt8.Translator(toy, beam=2).translate(lines)
    assert translate_parallel(lines, jobs=2, model_or_models=toy,
                              beam=2) == serial
    assert serial[1] == ""


def test_worker_pool_ids_in_order(toy):
    src = _src(4)
    serial = nmt8.Translator(toy, beam=2).translate_ids(src, max_len=4)
    with WorkerPool(2, model_or_models=toy, beam=2) as pool:
        out, secs = pool.translate_ids(src, max_lens=[4] * len(src))
    assert out == serial
    assert len(secs) == len(src) and all(s > 0 for s in secs)


def test_worker_pool_reports_a_bad_model(tmp_path):
    lines = ["Ein Satz.", "Noch ein Satz."]
    with pytest.raises(FileNotFoundError, match="not found"):
        translate_parallel(lines, jobs=2, model_or_models=str(tmp_path / "none"))
    with pytest.raises(TypeError, match="line 2"):
        translate_parallel(["gut", 3], jobs=2, model_or_models="de-en")


def test_peer_matches_nmt8_fp32(toy):
    pytest.importorskip("torch")
    from nmt8.lab.peer import PeerTranslator, TorchModel

    src = _src(3)
    ours = nmt8.Translator(toy, beam=3).translate_ids(src, max_len=5)
    theirs = PeerTranslator(toy, quantized=False, beam=3).translate_ids(
        src, max_len=5)
    assert theirs == ours
    tm = TorchModel(toy)
    ids = src[0] + [0]
    enc, tenc = toy.encode(ids), tm.encode(ids)
    logits, s, _ = toy.step(enc, enc.s0, np.array([-1]))
    t_logits, t_s, _ = tm.step(tenc, tenc.s0, np.array([-1]))
    np.testing.assert_allclose(t_logits, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(t_s, s, rtol=1e-4, atol=1e-5)
    # the int8 peer runs and produces ids of the right vocabulary
    q = PeerTranslator(toy, quantized=True, beam=3).translate_ids(src, max_len=5)
    assert all(len(o) == 5 and max(o) < toy.cfg.n_words for o in q)


def test_paper_figures():
    sp = paper.table6_speedups()
    assert min(sp.values()) > paper.SPEEDUP_RANGE[0]
    assert max(sp.values()) < paper.SPEEDUP_RANGE[1]
    # Section 3: WPS = WPCS x 20 cores
    assert paper.TABLE3_WPS["NMT 8-bit"] == pytest.approx(
        20 * paper.TABLE3["NMT 8-bit"])
    assert sum(paper.TABLE1.values()) < 100 and sum(paper.TABLE2.values()) < 100
    assert "Quinn & Ballesteros 2018" in paper.LABEL
    json.dumps(paper.as_dict())
