"""nmt8.lab.speed.measure (and the PyTorch peer it times): arithmetic and wiring.

Tests assert; they never time anything against a threshold. A fake clock
moves only when a fake system "works", so the tests do not depend on how
often measure reads the clock.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nmt8
from nmt8.lab.speed import measure


class Clock:
    """A stand-in for perf_counter: time moves only when work "runs"."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(measure.time, "perf_counter", c)
    return c


def test_wps_and_wpcs():
    assert measure.wps(646, 1.0) == 646
    assert measure.wpcs(646, 1.0, cores=20) == pytest.approx(32.3)  # Section 3
    assert measure.wpcs(100, 2.0) == 50.0
    assert measure.wpcs(100, 2.0, cores=4) == 12.5
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


def test_median_of(clock):
    durations = [9.0, 9.0, 3.0, 1.0, 2.0, 5.0, 4.0]  # 2 warm-ups, then 5 runs

    def work():
        clock.now += durations.pop(0)

    med, runs = measure.median_of(work, n=5, warmup=2)
    assert runs == [3.0, 1.0, 2.0, 5.0, 4.0]  # warm-up runs are not timed
    assert med == 3.0 and durations == []
    with pytest.raises(ValueError):
        measure.median_of(lambda: None, n=0)


class FakeTranslator:
    """Each sentence "takes" the next of ``durations`` on the clock and reports
    it as its decode time, with the BLAS threads it ran with."""

    def __init__(self, clock, durations, name="fake", log=None):
        self.clock, self.durations, self.name = clock, list(durations), name
        self.calls, self.log = [], log if log is not None else []
        self.blas = []

    def translate_ids(self, sentences, max_len=None, with_seconds=False):
        self.calls.append((sentences, max_len))
        self.log.append(self.name)
        self.blas.append({p["num_threads"] for p in threadpool_info()
                          if p["user_api"] == "blas"})
        dt = self.durations.pop(0)
        self.clock.now += dt
        return nmt8.Timed([[1]], [dt]) if with_seconds else [[1]]


def test_speed_is_median_of_runs(clock):
    # 3 runs of 2 sentences, each after an untimed warm-up sentence (100 s)
    tr = FakeTranslator(clock, [100, 1, 3, 100, 0.5, 1.5, 100, 2, 6])
    r = measure.speed(tr, [[5, 6], [7]], words=10, runs=3, max_lens=[3, 2])
    assert r["runs"] == [4.0, 2.0, 8.0]
    assert r["seconds"] == 4.0
    assert r["wps"] == r["wpcs"] == 2.5
    assert tr.calls[:3] == [([[5, 6]], 3), ([[5, 6]], 3), ([[7]], 2)]
    assert r["latency_s"] == [1.0, 3.0]  # each sentence's median over runs
    assert r["mean_latency_ms"] == 2000.0


def test_speeds_interleave_runs_and_rotate_order(clock):
    # two systems, 2 runs each: run 1 times a then b, run 2 times b then a
    log = []
    a = FakeTranslator(clock, [0, 0.5, 0.5, 0, 1, 1], "a", log)
    b = FakeTranslator(clock, [0, 5, 5, 0, 10, 10], "b", log)
    r = measure.speeds({"a": a, "b": b}, [[5], [6]], words=4, runs=2)
    assert log == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3
    assert r["a"]["runs"] == [1.0, 2.0] and r["b"]["runs"] == [10.0, 20.0]
    assert r["a"]["seconds"] == 1.5 and r["b"]["wpcs"] == 4 / 15.0
    with pytest.raises(ValueError):
        measure.speeds({}, [[5]], words=1)


def test_speeds_fall_back_to_last_seconds(clock):
    # a system without with_seconds (the PyTorch peer, for now)
    class Old:
        def translate_ids(self, sentences, max_len=None):
            clock.now += 2.0
            self.last_seconds = [0.75]
            return [[1]]

    r = measure.speed(Old(), [[5]], words=1, runs=1)
    assert r["runs"] == [2.0] and r["latency_s"] == [0.75]


def test_timings_run_with_one_blas_thread(clock):
    np.ones((2, 2)) @ np.ones((2, 2))
    tr = FakeTranslator(clock, [1.0] * 4)
    with threadpool_limits(2):
        measure.speed(tr, [[5]], words=1, runs=2)
        after = {p["num_threads"] for p in threadpool_info()
                 if p["user_api"] == "blas"}
    assert tr.blas and all(b == {1} for b in tr.blas)
    assert after == {2}


def test_profile_shares_add_up(toy, random_src):
    tr = nmt8.Translator(toy, beam=3)
    p = measure.profile(tr, random_src(3), max_lens=[4, 5, 6])
    assert set(p["share"]) == set(nmt8.timers.CATEGORIES) | {measure.OTHER}
    assert sum(p["share"].values()) == pytest.approx(100.0)
    assert all(v >= 0 for v in p["seconds"].values())
    assert p["calls"]["product fp32 (matrix-vector)"] > 0
    assert p["calls"]["product int8"] == 0


def test_cross_check_rows(toy, random_src):
    tr = nmt8.Translator(toy, beam=2)
    cc = measure.cross_check(tr, random_src(2), max_lens=[3, 3])
    cats = [r["category"] for r in cc["rows"]]
    assert cats == ["products (all)", "tanh", "sigmoid", "softmax", "rest"]
    for col in ("timers", "cprofile"):
        assert sum(r[col] for r in cc["rows"]) == pytest.approx(100.0)
        assert cc["rows"][0][col] > 0
    # cProfile finds the ops functions by their code objects: each is found
    assert all(r["cprofile"] > 0 for r in cc["rows"][:4])
    # the softmax row counts what TIMERS counts as softmax: the beam's
    # row log-sum-exp (one model), the ensemble's log-softmax
    assert set(measure._CPROFILE_FUNCS["softmax"]) == {
        nmt8.model.ops.log_softmax, nmt8.model.ops.row_logsumexp}


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


def test_peer_matches_nmt8_fp32(toy, random_src):
    pytest.importorskip("torch")
    from nmt8.lab.speed.peer import PeerTranslator, TorchModel

    src = random_src(3)
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


def test_speedup_interval_is_the_ratio_of_medians_with_a_paired_interval():
    base = [2.0, 2.2, 1.9, 2.1, 5.0]  # a slow spell in the last round ...
    fast = [1.0, 1.1, 0.95, 1.05, 2.5]  # ... hit both systems alike
    iv = measure.speedup_interval(base, fast)
    assert iv.ratio == pytest.approx(2.0) and iv.runs == 5
    # every round is exactly 2x, so every paired resample is too
    assert (iv.low, iv.high) == pytest.approx((2.0, 2.0))
    assert iv.above(1.5) and not iv.above(2.5) and iv.below(2.5)
    assert f"{iv:.1f}" == "2.0 [2.0, 2.0]"
    # unpaired noise widens it; the point estimate stays inside
    noisy = measure.speedup_interval([2.0, 2.4, 1.8, 2.2, 2.6],
                                     [1.0, 1.3, 0.9, 1.2, 1.0])
    assert noisy.low <= noisy.ratio <= noisy.high and noisy.low < noisy.high
    assert noisy == measure.speedup_interval([2.0, 2.4, 1.8, 2.2, 2.6],
                                             [1.0, 1.3, 0.9, 1.2, 1.0])
    assert measure.speedup_interval([1.0], [2.0]).ratio == 0.5


def test_a_speedup_is_conclusive_only_when_its_interval_is_clear():
    def iv(low, high):
        return measure.SpeedupInterval((low + high) / 2, low, high, 0.9, 5)

    assert iv(1.8, 2.4).conclusive() and iv(0.3, 0.5).conclusive()
    assert not iv(0.9, 1.6).conclusive()          # includes 1
    assert not iv(1.2, 3.0).conclusive()          # spans more than 2x
    assert iv(1.2, 3.0).conclusive(max_span=3)


@pytest.mark.parametrize("base, other, kw", [
    ([1.0, 2.0], [1.0], {}), ([], [], {}), ([1.0], [0.0], {}),
    ([1.0], [1.0], {"level": 1.0}), ([1.0], [1.0], {"resamples": 0})])
def test_speedup_interval_rejects_bad_input(base, other, kw):
    with pytest.raises(ValueError):
        measure.speedup_interval(base, other, **kw)
