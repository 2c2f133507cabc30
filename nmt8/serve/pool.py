"""Translate numbered lines a window at a time over worker processes: the
paper's deployment (Section 3: "each CPU core translates a single sentence at
a time") for ``nmt8 translate --jobs N``.

:func:`translate_stream_parallel` sends windows to ``jobs`` spawned workers,
at most ``2 * jobs`` in flight, and writes them in input order, as
``nmt8.serve.windows.translate_stream`` does in one process. Each worker
builds its translate callable once from a picklable recipe
(:class:`TranslatorFactory`). On an exception the windows already finished
are written, then the pool is terminated and joined: no worker is left
behind. Workers ignore SIGINT, so Ctrl-C in a terminal prints no worker
traceback.

Does not: recover a window that a worker process died on
(``multiprocessing.Pool`` waits for it forever; ``nmt8.serve.dask`` recomputes it),
or run across machines (``nmt8.serve.dask``).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing as mp
import signal
import threading

from nmt8.serve.parallel import check_jobs
from nmt8.serve.windows import (
    DEFAULT_WINDOW,
    Interrupted,
    _line_writer,
    _progress_bar,
    _signals_held,
    _windows,
    _write,
    check_window,
    translate_numbered,
)


@dataclasses.dataclass(frozen=True)
class TranslatorFactory:
    """A picklable recipe for ``Translator(**translator_kwargs).translate``,
    built once in each worker process; ``batch_size`` is passed to
    ``translate`` when given."""

    translator_kwargs: dict
    batch_size: int | None = None

    def __call__(self):
        from nmt8.serve.parallel import make_translator

        tr = make_translator(**self.translator_kwargs)
        if self.batch_size is None:
            return tr.translate
        bs = self.batch_size
        return lambda lines: tr.translate(lines, batch_size=bs)


_worker_translate = None
_worker_error = None


def _worker_init(make_translate):
    global _worker_translate, _worker_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
    try:
        _worker_translate = make_translate()
    except Exception as err:  # noqa: BLE001 - raised at the first window
        _worker_error = err  # (raising here would restart the worker forever)


def _worker_window(block, name):
    if _worker_error is not None:
        raise _worker_error
    return translate_numbered(_worker_translate, block, name)


@contextlib.contextmanager
def _sigint_ignored():
    # spawned children keep an ignored SIGINT from their start (a handler
    # would be reset by exec), so no worker can die with a traceback while
    # it imports, before _worker_init runs
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def translate_stream_parallel(make_translate, lines, out, jobs: int | None = None,
                              window: int = DEFAULT_WINDOW,
                              progress: bool | None = None,
                              name: str = "<input>") -> int:
    """:func:`translate_stream` over ``jobs`` worker processes (spawn).

    ``make_translate``: a picklable zero-argument callable returning the
    translate callable, called once in each worker (e.g.
    :class:`TranslatorFactory`). Windows go out in order, at most
    ``2 * jobs`` in flight, and are written in input order. On an exception
    (KeyboardInterrupt, :class:`Interrupted`, a bad line) the windows already
    finished are written, then the pool is terminated and joined: no worker
    is left behind. Workers ignore SIGINT, so Ctrl-C in a terminal (sent to
    every process of the group) prints no worker traceback.
    """
    window = check_window(window)
    jobs = check_jobs(jobs)  # None: one per core
    write, bar, done = _line_writer(out), _progress_bar(progress), 0
    inflight = collections.deque()  # AsyncResults, in input order

    def emit(outs, error):
        nonlocal done
        _write(write, out, outs)
        done += len(outs)
        if bar is not None:
            bar.update(len(outs))
        if error is not None:
            raise error

    ctx = mp.get_context("spawn")
    with _sigint_ignored():
        pool = ctx.Pool(jobs, initializer=_worker_init, initargs=(make_translate,))
    try:
        read_error = None
        for block, read_error in _windows(lines, window):
            inflight.append(pool.apply_async(_worker_window, (block, name)))
            while len(inflight) >= 2 * jobs:
                emit(*inflight[0].get())  # popped only once it is written
                inflight.popleft()
            if read_error:
                break
        while inflight:
            emit(*inflight[0].get())
            inflight.popleft()
        if read_error:
            raise read_error
        pool.close()
    except (KeyboardInterrupt, Interrupted):
        # a signal: write the windows the workers have finished, in order,
        # then stop them all (a bad line, by contrast, ends the output there)
        try:
            while inflight and inflight[0].ready() and inflight[0].successful():
                outs, error = inflight.popleft().get()
                emit(outs, None)
                if error is not None:
                    break
        finally:
            pool.terminate()
        raise
    except BaseException:
        pool.terminate()
        raise
    finally:
        with _signals_held():  # a second Ctrl-C must not leave workers behind
            pool.join()
        if bar is not None:
            bar.close()
    return done
