"""nmt8.serve.parallel: worker processes give the serial results, in order, and
every line and setting is checked before a worker starts."""

import io

import pytest

import nmt8
from nmt8.serve import parallel
from nmt8.serve.parallel import WorkerPool, translate_parallel


@pytest.fixture
def no_workers(monkeypatch):
    """Fail the test if a worker pool is started."""
    def refuse(*a, **kw):
        pytest.fail("a worker pool was started")
    monkeypatch.setattr(parallel, "WorkerPool", refuse)


def test_translate_parallel_preserves_order(toy):
    lines = ["Ein Hund läuft.", "", "Zwei Kinder spielen am Strand.",
             "Eine Frau liest.", "Der Mann verkauft Obst auf dem Markt."]
    serial = nmt8.Translator(toy, beam=2).translate(lines)
    assert translate_parallel(lines, jobs=2, model_or_models=toy,
                              beam=2) == serial
    assert serial[1] == ""


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_worker_pool_takes_a_model_object(toy, random_src, precision):
    # the Model is pickled to each worker; the int8 one has been used first,
    # so whatever it caches for the kernels travels too
    model = toy if precision == "fp32" else toy.copy("int8")
    src = random_src(4)
    serial = nmt8.Translator(model, precision=precision, beam=2)
    expect = serial.translate_ids(src, max_len=4)
    with WorkerPool(2, model_or_models=model, precision=precision,
                    beam=2) as pool:
        out, secs = pool.translate_ids(src, max_lens=[4] * len(src))
    assert out == expect
    assert len(secs) == len(src) and all(s > 0 for s in secs)


def test_a_bad_line_is_named_before_any_worker_starts(toy, no_workers):
    # with --jobs 2, line 2 of 2,000 too long once failed after 9 s of work
    lines = ["Ein Hund läuft."] * 2000
    lines[1] = "Hund " * 1200
    with pytest.raises(ValueError, match="line 2: .* limit"):
        translate_parallel(lines, jobs=2, model_or_models=toy)
    with pytest.raises(TypeError, match="line 3"):
        translate_parallel(["gut", "auch", 3], jobs=2, model_or_models=toy)


def test_a_bad_setting_is_named_before_any_worker_starts(toy, no_workers, tmp_path):
    with pytest.raises(ValueError, match="beam"):
        translate_parallel(["Ein Satz.", "Noch einer."], jobs=2,
                           model_or_models=toy, beam=1000)
    with pytest.raises(FileNotFoundError, match="not found"):
        translate_parallel(["Ein Satz.", "Noch einer."], jobs=2,
                           model_or_models=str(tmp_path / "none"))


@pytest.mark.parametrize("jobs,error", [(0, ValueError), (-3, ValueError),
                                        ("2", TypeError), (1.5, TypeError),
                                        (True, TypeError)])
def test_bad_jobs(toy, jobs, error):
    with pytest.raises(error, match="jobs"):
        translate_parallel(["Ein Satz."], jobs=jobs, model_or_models=toy)
    with pytest.raises(error, match="jobs"):
        WorkerPool(jobs, model_or_models=toy)


@pytest.mark.parametrize("jobs", [0, -3, "2", 1.5, True])
def test_the_stream_pool_says_what_check_jobs_says(jobs, no_workers):
    # stream_pool once had its own check: 0 meant every core, and a wrong
    # type was a ValueError in other words
    from nmt8.serve.windows import translate_stream_parallel

    with pytest.raises((TypeError, ValueError)) as expected:
        parallel.check_jobs(jobs)
    with pytest.raises(expected.type) as got:
        translate_stream_parallel(str.upper, iter(["a\n"]), io.StringIO(),
                                  jobs=jobs)
    assert str(got.value) == str(expected.value)


def test_a_worker_reports_a_bad_model(tmp_path):
    pool = WorkerPool(1, model_or_models=str(tmp_path / "none"))
    with pool, pytest.raises(FileNotFoundError, match="not found"):
        pool.translate(["Ein Satz."])


def test_one_job_runs_here(toy, no_workers):
    lines = ["Ein Hund läuft.", "Eine Frau liest."]
    assert translate_parallel(lines, jobs=1, model_or_models=toy) == \
        nmt8.Translator(toy).translate(lines)


def test_check_jobs_is_the_thread_count_check_with_none_for_every_core():
    n = parallel.cores()
    assert parallel.check_jobs(None) == n
    assert parallel.check_jobs(n) == n
    with pytest.warns(RuntimeWarning, match=rf"^jobs={n + 1} is more than the "
                                            rf"{n} core\(s\) .*: using {n}$"):
        assert parallel.check_jobs(n + 1) == n
    with pytest.raises(ValueError, match=r"^jobs must be >= 1, got 0$"):
        parallel.check_jobs(0)
    with pytest.raises(TypeError, match=r"^jobs must be an int >= 1 or None"):
        parallel.check_jobs(2.0)
