"""One worker process per core, each translating one sentence at a time.

This is how the paper deploys its decoder (Section 3: "each CPU core
translates a single sentence at a time") and how ``nmt8 translate --jobs N``
and the multi-core throughput of ``nmt8.lab.speed.measure`` run. Workers are
separate processes of the one pool (``nmt8.serve.pool``: its contract for a
worker that dies, an exception in a worker and Ctrl-C), each with its own
``nmt8.Translator``, which decodes with one BLAS thread (its
``blas_threads`` default), so N workers use N cores and no more. Results
come back in input order.

``jobs`` is at most the cores this process may run on
(``os.sched_getaffinity``): :func:`check_jobs` caps a larger number, with a
warning, since more workers than cores only add memory (a model each).

A model may be a name, a path, a ``Model`` (pickled to every worker) or a
picklable zero-argument callable that builds it inside the worker.
:class:`TranslatorFactory` is the picklable recipe of a Translator's
``translate`` that the streaming command sends to its workers.

:func:`translate_parallel` checks everything before a worker starts: it
builds one Translator here and tokenizes every line, so a bad setting or a
bad line is named at once, as with one job; the workers get subword ids.

Does not: batch sentences inside a worker, or share memory between workers
(each loads its own copy of the model, as separate cores of a server would).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings

from nmt8.model.model import Model
from nmt8.serve.pool import Pool
from nmt8.serve.threads import check_threads
from nmt8.serve.translator import Timed, Translator


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_jobs(jobs) -> int:
    """``jobs`` as an int from 1 to :func:`cores` (None: one per core), or
    the clear error of ``nmt8.serve.threads.check_threads``. More than the
    cores is capped at the cores, with a warning (RuntimeWarning)."""
    jobs = check_threads(jobs, "jobs")
    n = cores()
    if jobs is None:
        return n
    if jobs > n:
        warnings.warn(f"jobs={jobs} is more than the {n} core(s) this process "
                      f"may run on: using {n}", RuntimeWarning, stacklevel=2)
        return n
    return jobs


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


@dataclasses.dataclass(frozen=True)
class TranslatorFactory:
    """A picklable recipe for ``Translator(**translator_kwargs).translate``,
    built once in each worker process; ``batch_size`` is passed to
    ``translate`` when given."""

    translator_kwargs: dict
    batch_size: int | None = None

    def __call__(self):
        tr = make_translator(**self.translator_kwargs)
        if self.batch_size is None:
            return tr.translate
        return functools.partial(tr.translate, batch_size=self.batch_size)


# -- the tasks: fn(the worker's Translator, item) ------------------------------
def _translate_line(tr: Translator, item):
    n, line = item
    try:
        return tr.translate([line])[0]
    except ValueError as err:  # name the caller's line, not "line 1"
        msg = str(err).removeprefix("line 1: ")
        raise ValueError(f"line {n}: {msg}") from None


def _translate_ids(tr: Translator, item):
    ids, max_len = item
    (out,), (seconds,) = tr.translate_ids([ids], max_len=max_len,
                                          with_seconds=True)
    return out, seconds


def _translate_to_text(tr: Translator, ids):
    return tr.detokenize(tr.translate_ids([ids])[0])


class WorkerPool(Pool):
    """``jobs`` worker processes (at most the cores), each holding a
    Translator: the pool of ``nmt8.serve.pool`` with translation tasks.

    ``with WorkerPool(2, model_or_models="de-en", precision="int8") as pool:
    pool.translate(lines)``. Keyword arguments are those of
    ``nmt8.Translator``; see the module docstring for the models. Workers
    start when the first tasks need them.
    """

    def __init__(self, jobs: int | None = None, **translator_kwargs):
        super().__init__(check_jobs(jobs),
                         functools.partial(make_translator, **translator_kwargs))

    def translate(self, lines, chunksize: int = 1) -> list[str]:
        """Text of each line; a bad line is named by a worker."""
        return self.map(_translate_line, list(enumerate(lines, 1)), chunksize,
                        what="translating line")

    def translate_tokenized(self, src_ids, chunksize: int = 1) -> list[str]:
        """Text of each source id list (checked by ``Translator.tokenize``)."""
        return self.map(_translate_to_text, [list(s) for s in src_ids],
                        chunksize, what="translating sentence")

    def translate_ids(self, sentences, max_lens=None, concurrent: bool = True):
        """``Timed(outputs, per-sentence decode seconds)``, in input order.

        With ``concurrent=False`` the sentences go out one at a time, so one
        worker is busy at any moment (a one-core measurement).
        """
        sentences = [list(s) for s in sentences]
        max_lens = list(max_lens) if max_lens else [None] * len(sentences)
        items = list(zip(sentences, max_lens))
        if concurrent:
            res = self.map(_translate_ids, items, what="translating sentence")
        else:
            res = [self.apply(_translate_ids, it,
                              what=f"translating sentence {i}")
                   for i, it in enumerate(items, 1)]
        return Timed([r[0] for r in res], [r[1] for r in res])


def translate_parallel(lines, jobs: int | None = None,
                       **translator_kwargs) -> list[str]:
    """Translate ``lines`` with one worker process per core; order preserved.

    ``jobs`` defaults to the number of cores (and is capped there); with one
    job (or one line) the lines are translated in this process. Empty lines
    stay empty. Every line is tokenized (and so checked) here before any
    worker starts.
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
