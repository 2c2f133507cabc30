"""One worker process per core, each translating one sentence at a time.

This is how the paper deploys its decoder (Section 3: "each CPU core
translates a single sentence at a time") and how ``nmt8 translate --jobs N``
and the multi-core throughput of ``nmt8.lab.measure`` run. Workers are separate
processes (started with ``spawn``) with one BLAS thread each, so N workers use
N cores and no more. Results come back in input order.

Does not: batch sentences inside a worker, or share memory between workers
(each loads its own copy of the model, as separate cores of a server would).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_translator = None  # the worker process's own Translator
_init_error = None  # why it could not be built (raised at the first sentence)


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _resolve(item):
    from .model import Model

    if callable(item) and not isinstance(item, Model):
        return item()  # e.g. functools.partial(random_model, ...)
    return item


def make_translator(**translator_kwargs):
    """``nmt8.Translator(**translator_kwargs)``, building callable models."""
    from .translator import Translator

    kw = dict(translator_kwargs)
    models = kw.pop("model_or_models", "de-en")
    if isinstance(models, (list, tuple)):
        models = [_resolve(m) for m in models]
    else:
        models = _resolve(models)
    return Translator(models, **kw)


def _init(translator_kwargs):
    # an exception here would make the pool restart the worker forever, so
    # keep it and raise it for the first sentence instead
    global _translator, _init_error
    from .lab.measure import single_threaded

    single_threaded().__enter__()  # for the life of the worker
    try:
        _translator = make_translator(**translator_kwargs)
    except Exception as err:  # noqa: BLE001 - re-raised in _ready()
        _init_error = err


def _ready():
    if _init_error is not None:
        raise _init_error
    return _translator


def _translate_line(item):
    n, line = item
    try:
        return _ready().translate([line])[0]
    except ValueError as err:  # name the caller's line, not "line 1"
        msg = str(err).removeprefix("line 1: ")
        raise ValueError(f"line {n}: {msg}") from None


def _translate_ids(item):
    ids, max_len = item
    tr = _ready()
    out = tr.translate_ids([ids], max_len=max_len)[0]
    return out, tr.last_seconds[0]


@contextlib.contextmanager
def _one_thread_env():
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class WorkerPool:
    """``jobs`` worker processes, each holding a ready Translator.

    ``with WorkerPool(2, model_or_models="de-en", precision="int8") as pool:
    pool.translate(lines)``. Keyword arguments are those of
    ``nmt8.Translator``; a model may also be a picklable zero-argument
    callable that builds it inside the worker.
    """

    def __init__(self, jobs: int | None = None, **translator_kwargs):
        self.jobs = jobs or cores()
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        with _one_thread_env():
            self.pool = mp.get_context("spawn").Pool(
                self.jobs, initializer=_init, initargs=(translator_kwargs,))

    def translate(self, lines, chunksize: int = 1) -> list[str]:
        return self.pool.map(_translate_line, list(enumerate(lines, 1)),
                             chunksize=chunksize)

    def translate_ids(self, sentences, max_lens=None, concurrent: bool = True):
        """(outputs, per-sentence decode seconds), in input order.

        With ``concurrent=False`` the sentences go out one at a time, so one
        worker is busy at any moment (a one-core measurement).
        """
        sentences = [list(s) for s in sentences]
        max_lens = list(max_lens) if max_lens else [None] * len(sentences)
        items = list(zip(sentences, max_lens))
        if concurrent:
            res = self.pool.map(_translate_ids, items, chunksize=1)
        else:
            res = [self.pool.apply(_translate_ids, (it,)) for it in items]
        return [r[0] for r in res], [r[1] for r in res]

    def close(self):
        self.pool.close()
        self.pool.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self.pool.terminate()
            self.pool.join()


def translate_parallel(lines, jobs: int | None = None,
                       **translator_kwargs) -> list[str]:
    """Translate ``lines`` with one worker process per core; order preserved.

    ``jobs`` defaults to the number of cores; with one job (or one line) the
    lines are translated in this process. Empty lines stay empty.
    """
    lines = list(lines)
    jobs = jobs or cores()
    if jobs <= 1 or len(lines) <= 1:
        return make_translator(**translator_kwargs).translate(lines)
    # validate every line here, so a bad one is named before workers start
    for n, line in enumerate(lines, 1):
        if not isinstance(line, str):
            raise TypeError(f"line {n}: expected str, got {type(line).__name__}")
    chunk = max(1, len(lines) // (8 * jobs))
    with WorkerPool(min(jobs, len(lines)), **translator_kwargs) as pool:
        return pool.translate(lines, chunksize=chunk)
