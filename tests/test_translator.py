"""nmt8.Translator: settings checked up front, one BLAS thread while decoding,
per-sentence times returned (not left in a shared attribute)."""

import math
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nmt8
from nmt8.model.model import Model
from nmt8.search.sentence import MAX_BEAM
from nmt8.serve.translator import MAX_LEN_RATIO, Timed

NOWHERE = "/nonexistent/model.npz"  # loading it would fail: checks come first


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A tiny random model with BPE models: reads and writes (nonsense) text."""
    from nmt8.testing import toy_model

    return toy_model(tmp_path_factory.mktemp("toy"), seed=3)


def blas_counts() -> set[int]:
    counts = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert counts, "no BLAS library found under numpy: nothing would be tested"
    return counts


@pytest.fixture
def spy_steps(monkeypatch):
    """Record the BLAS thread counts seen inside every decoder step."""
    seen, step = [], Model.step_batch

    def spying(self, *args, **kw):
        seen.append(blas_counts())
        return step(self, *args, **kw)

    monkeypatch.setattr(Model, "step_batch", spying)
    return seen


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_decodes_with_one_blas_thread_and_restores(tiny, spy_steps, precision):
    np.ones((2, 2)) @ np.ones((2, 2))
    tr = nmt8.Translator(tiny, precision=precision, beam=2)
    with threadpool_limits(2):
        assert blas_counts() == {2}
        tr.translate_ids([[3, 4, 5], [6]], max_len=4)
        assert blas_counts() == {2}  # the limit from before is back
    assert spy_steps and all(c == {1} for c in spy_steps)


@pytest.mark.parametrize("n,inside", [(None, {2}), (2, {2}), (1, {1})])
def test_blas_threads_is_overridable(tiny, spy_steps, n, inside):
    tr = nmt8.Translator(tiny, beam=2, blas_threads=n)
    with threadpool_limits(2):
        tr.translate_ids([[3, 4]], max_len=3)
        tr.score([3, 4], [5, 0])
    assert spy_steps and all(c == inside for c in spy_steps)


def test_two_threads_sharing_a_translator_get_their_own_times(tiny):
    tr = nmt8.Translator(tiny, beam=2)
    rng = np.random.default_rng(1)
    src = {k: [rng.integers(2, 40, size=rng.integers(1, 6)).tolist()
               for _ in range(15)] for k in ("a", "b")}
    serial = {k: tr.translate_ids(v, max_len=5) for k, v in src.items()}
    start, got, old = threading.Barrier(2), {}, {}

    def work(k):
        start.wait()
        got[k] = tr.translate_ids(src[k], max_len=5, with_seconds=True)
        with pytest.deprecated_call():
            old[k] = tr.last_seconds  # the deprecated attribute: per thread

    ts = [threading.Thread(target=work, args=(k,)) for k in src]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    for k in src:
        assert isinstance(got[k], Timed)
        assert got[k].outputs == serial[k]
        assert len(got[k].seconds) == 15 and all(s > 0 for s in got[k].seconds)
        assert old[k] == got[k].seconds


def test_translate_with_seconds(toy):
    tr = nmt8.Translator(toy, beam=2)
    lines = ["Ein Hund läuft.", "", "Zwei Kinder spielen."]
    texts, seconds = tr.translate(lines, with_seconds=True)
    assert texts == tr.translate(lines)
    assert len(seconds) == 3 and seconds[1] == 0.0 and seconds[0] > 0


@pytest.mark.parametrize("beam,error", [("5", TypeError), (2.5, TypeError),
                                        (0, ValueError), (MAX_BEAM + 1, ValueError),
                                        (100_000, ValueError)])
def test_bad_beam_before_loading(beam, error):
    with pytest.raises(error, match="beam"):
        nmt8.Translator(NOWHERE, beam=beam)


@pytest.mark.parametrize("kw,error,match", [
    ({"max_len_ratio": 0}, ValueError, "max_len_ratio"),
    ({"max_len_ratio": -1.0}, ValueError, "max_len_ratio"),
    ({"max_len_ratio": math.nan}, ValueError, "max_len_ratio"),
    ({"max_len_ratio": math.inf}, ValueError, "max_len_ratio"),
    ({"max_len_ratio": MAX_LEN_RATIO + 1}, ValueError, "max_len_ratio"),
    ({"max_len_ratio": "2"}, TypeError, "max_len_ratio"),
    ({"length_exponent": math.nan}, ValueError, "length_exponent"),
    ({"length_exponent": -1}, ValueError, "length_exponent"),
    ({"blas_threads": 0}, ValueError, "blas_threads"),
    ({"precision": "int3"}, ValueError, "precision"),
    ({"precision": "int4", "scheme": "per_row"}, ValueError, "group32, group64"),
    ({"kernel": "sse4"}, ValueError,
     ("unknown kernel 'sse4' for precision 'fp32'; choices: numpy, auto, "
      "ref, avx2, avx512")),
    ({"scheme": "per_row"}, ValueError,
     "scheme='per_row' applies to precision 'int8' and 'int16' only, not 'fp32'"),
    ({"scheme": "per_tensor"}, ValueError, "only, not 'fp32'"),
    ({"precision": "msfp16", "scheme": "per_row"}, ValueError,
     "only, not 'msfp16'"),
    ({"precision": "msfp12", "kernel": "auto"}, ValueError,
     "unknown kernel 'auto' for precision 'msfp12'; choices: numpy"),
    ({"precision": "int8", "kernel": "foo"}, ValueError,
     ("unknown kernel 'foo' for precision 'int8'; choices: auto, ref, sse4, "
      "avx2, vnni, maddubs")),
    ({"precision": "int16", "kernel": "maddubs"}, ValueError,
     ("unknown kernel 'maddubs' for precision 'int16'; choices: auto, ref, "
      "sse4, avx2, vnni")),
    ({"precision": "int16", "kernel": "numpy"}, ValueError, "unknown kernel"),
    ({"precision": "int8", "scheme": "per_column"}, ValueError, "unknown scheme"),
    ({"precision": "int8", "embeddings": "int4"}, ValueError,
     "unknown embeddings 'int4'; choices: fp32, fp16, int8"),
    ({"precision": "int8", "kernel": ["ref"]}, TypeError,
     "kernel must be a string, got list"),
    ({"precision": "int16", "scheme": 1}, TypeError, "scheme must be a string"),
    ({"precision": None}, TypeError, "precision must be a string"),
])
def test_bad_settings_before_loading(kw, error, match):
    with pytest.raises(error, match=match):
        nmt8.Translator(NOWHERE, **kw)


def test_unavailable_kernel_says_so(monkeypatch):
    from nmt8.native import kernels

    monkeypatch.setattr(kernels, "available_kernels", lambda: ["ref"])
    with pytest.raises(ValueError, match="'vnni' is not available on this CPU"):
        nmt8.Translator(NOWHERE, precision="int8", kernel="vnni")


def test_int8_options_are_kept(tiny):
    tr = nmt8.Translator(tiny, precision="int8", kernel="ref", scheme="per-row")
    assert (tr.kernel, tr.scheme) == ("ref", "per_row")
    assert tr.models[0].kernel == "ref" and tr.models[0].scheme == "per_row"
    fp = nmt8.Translator(tiny)
    assert (fp.kernel, fp.scheme, fp.embeddings) == ("numpy", None, "fp32")
    assert (tr.embeddings, tr.models[0].embeddings) == ("int8", "int8")


@pytest.mark.parametrize("precision,kernel,embeddings", [
    ("fp32", "numpy", "fp32"), ("fp32", "ref", "fp32"), ("int16", "ref", "fp16"),
    ("int8", "ref", "int8"), ("msfp16", "numpy", "fp32"),
    ("msfp12", "numpy", "fp32")])
def test_every_precision_translates(tiny, precision, kernel, embeddings):
    tr = nmt8.Translator(tiny, precision=precision, kernel=kernel, beam=2)
    assert (tr.precision, tr.kernel, tr.embeddings) == (precision, kernel,
                                                        embeddings)
    assert tr.models[0].precision == precision
    out = tr.translate_ids([[3, 4, 5], [6]], max_len=4)
    assert len(out) == 2 and all(isinstance(i, int) for o in out for i in o)
    assert ("simulated" in repr(tr)) == precision.startswith("msfp")
    assert ("simulated" in repr(tr.models[0])) == precision.startswith("msfp")


def test_auto_is_the_fastest_kernel_of_the_precision(tiny):
    from nmt8.native.fp32 import available_fp32_kernels
    from nmt8.native.int16 import available_int16_kernels

    fp = nmt8.Translator(tiny, kernel="auto")
    assert fp.kernel == available_fp32_kernels()[-1]  # ref < avx2 < avx512
    i16 = nmt8.Translator(tiny, precision="int16")
    assert i16.kernel == available_int16_kernels()[-1]  # ref < ... < vnni


def test_embeddings_are_switchable(tiny):
    for emb in ("fp32", "fp16", "int8"):
        tr = nmt8.Translator(tiny, precision="int8", embeddings=emb)
        assert tr.models[0].Wemb.dtype == tr.models[0].Wemb_dec.dtype == emb


def test_bad_max_len():
    tr = nmt8.Translator(nmt8.random_model(8, 8, 20, 20, seed=0))
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="max_len"):
            tr.translate_ids([[3]], max_len=bad)


def test_length_exponent_defaults_to_the_models():
    m = nmt8.random_model(8, 8, 20, 20, seed=0)
    m.cfg.length_exponent = 0.25
    assert nmt8.Translator(m).length_exponent == 0.25
    assert nmt8.Translator(m, length_exponent=0.0).length_exponent == 0.0


def test_tokenize_is_not_model_encode(toy):
    tr = nmt8.Translator(toy)
    assert not hasattr(tr, "encode")  # renamed, no alias: Model.encode differs
    ids = tr.tokenize(["Ein Hund läuft.", ""])
    assert ids[1] == [] and all(isinstance(i, int) for i in ids[0])
    text = tr.translate(["Ein Hund läuft."])[0]
    assert tr.detokenize(tr.translate_ids(ids)[0]) == text


def test_batch_size_gives_the_same_int8_translations_in_order(shipped):
    from nmt8.testing import COURSE_PAIRS

    lines = [de for de, _ in COURSE_PAIRS][:12]
    lines[3:3] = ["", "   "]
    tr = nmt8.Translator(shipped, precision="int8", beam=3)
    one = tr.translate(lines, with_seconds=True)
    for batch in (2, 5, 64):
        many = tr.translate(lines, with_seconds=True, batch_size=batch)
        assert many.outputs == one.outputs
        assert len(many.seconds) == len(lines)
        assert many.seconds[3] == many.seconds[4] == 0.0
    assert one.outputs[3] == one.outputs[4] == ""


@pytest.mark.parametrize("bad,error", [(0, ValueError), (2000, ValueError),
                                       (2.0, TypeError), ("4", TypeError),
                                       (True, TypeError)])
def test_bad_batch_size(tiny, bad, error):
    tr = nmt8.Translator(tiny, beam=2)
    with pytest.raises(error, match="batch_size"):
        tr.translate_ids([[3, 4]], batch_size=bad)
