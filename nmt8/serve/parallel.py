"""One worker process per core, each translating one sentence at a time.

This is how the paper deploys its decoder (Section 3: "each CPU core
translates a single sentence at a time") and how ``nmt8 translate --jobs N``
and the multi-core throughput of ``nmt8.lab.speed.measure`` run. Workers are separate
processes (started with ``spawn``), each with its own ``nmt8.Translator``,
which decodes with one BLAS thread (its ``blas_threads`` default), so N
workers use N cores and no more. Results come back in input order.

A model may be a name, a path, a ``Model`` (pickled to every worker) or a
picklable zero-argument callable that builds it inside the worker.

:func:`translate_parallel` checks everything before a worker starts: it
builds one Translator here and tokenizes every line, so a bad setting or a
bad line is named at once, as with one job; the workers get subword ids.

Does not: batch sentences inside a worker, or share memory between workers
(each loads its own copy of the model, as separate cores of a server would).
"""

from __future__ import annotations

import multiprocessing as mp
import os

from nmt8.model.model import Model
from nmt8.serve.threads import check_threads
from nmt8.serve.translator import Timed, Translator

_translator = None  # the worker process's own Translator
_init_error = None  # why it could not be built (raised at the first sentence)


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_jobs(jobs) -> int:
    """``jobs`` as an int >= 1 (None: one per core), or the clear error of
    ``nmt8.serve.threads.check_threads``."""
    jobs = check_threads(jobs, "jobs")
    return cores() if jobs is None else jobs


def _resolve(item):
    if callable(item) and not isinstance(item, Model):
        return item()  # e.g. functools.partial(random_model, ...)
    return item


def make_translator(**translator_kwargs) -> Translator:
    """``nmt8.Translator(**translator_kwargs)``, building callable models."""
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
    try:
        _translator = make_translator(**translator_kwargs)
    except Exception as err:  # noqa: BLE001 - re-raised in _ready()
        _init_error = err


def _ready() -> Translator:
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
    (out,), (seconds,) = _ready().translate_ids([ids], max_len=max_len,
                                                with_seconds=True)
    return out, seconds


def _translate_to_text(ids):
    tr = _ready()
    return tr.detokenize(tr.translate_ids([ids])[0])


class WorkerPool:
    """``jobs`` worker processes, each holding a ready Translator.

    ``with WorkerPool(2, model_or_models="de-en", precision="int8") as pool:
    pool.translate(lines)``. Keyword arguments are those of
    ``nmt8.Translator``; see the module docstring for the models.
    """

    def __init__(self, jobs: int | None = None, **translator_kwargs):
        self.jobs = check_jobs(jobs)
        self.pool = mp.get_context("spawn").Pool(
            self.jobs, initializer=_init, initargs=(translator_kwargs,))

    def translate(self, lines, chunksize: int = 1) -> list[str]:
        """Text of each line; a bad line is named by a worker."""
        return self.pool.map(_translate_line, list(enumerate(lines, 1)),
                             chunksize=chunksize)

    def translate_tokenized(self, src_ids, chunksize: int = 1) -> list[str]:
        """Text of each source id list (checked by ``Translator.tokenize``)."""
        return self.pool.map(_translate_to_text, [list(s) for s in src_ids],
                             chunksize=chunksize)

    def translate_ids(self, sentences, max_lens=None, concurrent: bool = True):
        """``Timed(outputs, per-sentence decode seconds)``, in input order.

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
        return Timed([r[0] for r in res], [r[1] for r in res])

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
    lines are translated in this process. Empty lines stay empty. Every
    line is tokenized (and so checked) here before any worker starts.
    """
    jobs = check_jobs(jobs)
    tr = make_translator(**translator_kwargs)
    src = tr.tokenize(lines)  # names a bad line before any work
    if jobs <= 1 or len(src) <= 1:
        return [tr.detokenize(out) for out in tr.translate_ids(src)]
    del tr  # the workers hold their own copies
    chunk = max(1, len(src) // (8 * jobs))
    with WorkerPool(min(jobs, len(src)), **translator_kwargs) as pool:
        return pool.translate_tokenized(src, chunksize=chunk)
