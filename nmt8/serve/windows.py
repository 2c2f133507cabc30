"""Translate numbered lines a window at a time: the translating and
writing side of ``nmt8.serve.stream``.

:func:`translate_stream` reads a window of lines, translates it, writes the
window's translations in input order and flushes, then reads the next, so
memory stays bounded whatever the input's size: a window holds at most
``window`` lines (at most ``MAX_WINDOW``) and ``MAX_WINDOW_CHARS``
characters. A window's lines are written with SIGINT and SIGTERM held back
and flushed together, so the output is always a prefix of complete lines
(a process killed with SIGKILL may leave one partial line after them).
:func:`translate_numbered` finds the first line a translator refuses and
names it by its number in the input, after every line before it has been
translated.

:func:`translate_stream_parallel` is the paper's deployment (Section 3: one
sentence at a time on each core): the windows go to the worker processes of
``nmt8.serve.pool`` (at most ``2 * jobs`` in flight) and are written in
input order, the same bytes as one process writes. A worker that dies is
replaced and its window translated again; after ``nmt8.serve.pool.RETRIES``
more deaths on the same window the run stops with ``WorkerDied``, every
window before it written. The helpers here (windows, writer, progress bar)
serve Dask (``nmt8.serve.dask``) too.

Does not: read the input (``nmt8.serve.lines``), or handle signals beyond
holding them during a write (``nmt8.serve.stream.run``).
"""

from __future__ import annotations

import collections
import io
import re
import sys

from nmt8.serve.parallel import check_jobs
from nmt8.serve.pool import Pool, signals_held

DEFAULT_WINDOW = 64  # lines read, translated and written together
MAX_WINDOW = 1 << 14  # 16 x the largest batch (nmt8.search.batch.MAX_BATCH)
MAX_WINDOW_CHARS = 1 << 22  # a window ends early at 4 Mi characters of text


class Interrupted(BaseException):
    """Raised by ``nmt8.serve.stream.run``'s SIGTERM handler (a BaseException, like
    KeyboardInterrupt, so ``except Exception`` does not swallow it)."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


def _renumber(err: ValueError, n: int, name: str) -> ValueError:
    # a translator names the line within the list it was given ("line 1: ...")
    msg = re.sub(r"^line \d+: ", "", str(err))
    return ValueError(f"{name}, line {n}: {msg}")


def translate_numbered(translate, pairs, name: str = "<input>"):
    """``(outputs, error)`` for numbered lines ``[(n, text), ...]``.

    ``outputs`` holds the translation of every line before the first one the
    translator refuses, ``error`` is None or a ValueError naming that line by
    its number in the input. (A refused window is retried line by line to
    find the line: only after an error.)
    """
    texts = [t for _, t in pairs]
    if not texts:
        return [], None
    try:
        outs = list(translate(texts))
    except ValueError:
        outs = []
        for n, text in pairs:
            try:
                outs.extend(translate([text]))
            except ValueError as err:
                return outs, _renumber(err, n, name)
        raise  # refused together, accepted one by one: not a line's fault
    if len(outs) != len(texts):
        raise RuntimeError(f"translate returned {len(outs)} lines for "
                           f"{len(texts)}")
    return outs, None


def line_writer(out):
    """``write(str)`` for ``out``: a text file, or a binary one (UTF-8)."""
    if isinstance(out, io.TextIOBase):
        return out.write
    return lambda s: out.write(s.encode("utf-8"))


def write_lines(write, out, outs) -> None:
    """Write ``outs`` as lines through ``write`` and flush ``out``, with
    SIGINT and SIGTERM held back: whole or not at all."""
    with signals_held():
        write("".join(o + "\n" for o in outs))
        out.flush()


def numbered_windows(lines, window: int):
    """``(block, None)`` for lists of at most ``window`` numbered lines and
    ``MAX_WINDOW_CHARS`` characters; a read error comes last, as ``(lines
    read before it, error)``."""
    block, chars = [], 0
    try:
        for item in lines:
            block.append(item)
            chars += len(item[1])
            if len(block) == window or chars >= MAX_WINDOW_CHARS:
                yield block, None
                block, chars = [], 0
    except ValueError as err:
        yield block, err
        return
    if block:
        yield block, None


def check_window(window) -> int:
    """``window`` if it is an int from 1 to ``MAX_WINDOW``; else ValueError."""
    if isinstance(window, bool) or not isinstance(window, int) \
            or not 1 <= window <= MAX_WINDOW:
        raise ValueError(f"window must be an int from 1 to {MAX_WINDOW}, got "
                         f"{window!r}")
    return window


def progress_bar(progress):
    """A tqdm bar on stderr, or None (``progress=None``: when stderr is a
    terminal)."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(unit=" lines", file=sys.stderr, dynamic_ncols=True)


def translate_stream(translate, lines, out, window: int = DEFAULT_WINDOW,
                     progress: bool | None = None, name: str = "<input>") -> int:
    """Translate numbered lines (from :func:`read_lines`) into ``out``.

    ``translate``: any ``translate(list[str]) -> list[str]``. ``out``: a
    text or binary file (binary gets UTF-8). Writes ``window`` lines at a
    time, flushed, in input order; returns the number of lines written. A bad
    line stops the run after every line before it is written (module
    docstring).
    """
    window = check_window(window)
    write, bar, done = line_writer(out), progress_bar(progress), 0
    try:
        for block, read_error in numbered_windows(lines, window):
            outs, error = translate_numbered(translate, block, name)
            write_lines(write, out, outs)
            done += len(outs)
            if bar is not None:
                bar.update(len(outs))
            if error or read_error:
                raise error or read_error
    finally:
        if bar is not None:
            bar.close()
    return done


def _translate_window(translate, block, name):
    """A worker's task: one window, translated by its ``translate``."""
    return translate_numbered(translate, block, name)


def translate_stream_parallel(make_translate, lines, out, jobs: int | None = None,
                              window: int = DEFAULT_WINDOW,
                              progress: bool | None = None,
                              name: str = "<input>") -> int:
    """:func:`translate_stream` over ``jobs`` worker processes
    (``nmt8.serve.pool``; ``jobs`` None: one per core, capped at the cores).

    ``make_translate``: a picklable zero-argument callable returning the
    translate callable, called once in each worker (e.g.
    ``nmt8.serve.parallel.TranslatorFactory``). Windows go out in order, at
    most ``2 * jobs`` in flight, and are written in input order; workers
    start as windows need them. A worker that dies is replaced and its
    window translated again (``WorkerDied`` after ``RETRIES`` more deaths).
    On KeyboardInterrupt or :class:`Interrupted` the windows the workers
    have finished are written first; on any exception every worker is
    killed and reaped before it propagates. Returns the lines written.
    """
    window = check_window(window)
    jobs = check_jobs(jobs)  # None: one per core
    write, bar, done = line_writer(out), progress_bar(progress), 0
    inflight = collections.deque()  # tickets, in input order

    def emit(outs, error):
        nonlocal done
        write_lines(write, out, outs)
        done += len(outs)
        if bar is not None:
            bar.update(len(outs))
        if error is not None:
            raise error

    try:
        with Pool(jobs, make_translate) as pool:
            try:
                read_error = None
                for block, read_error in numbered_windows(lines, window):
                    if block:
                        what = (f"translating lines {block[0][0]}-"
                                f"{block[-1][0]} of {name}")
                        inflight.append(pool.submit(_translate_window, block,
                                                    name, what=what))
                    while len(inflight) >= 2 * jobs:
                        emit(*pool.result(inflight[0]))
                        inflight.popleft()
                    if read_error:
                        break
                while inflight:
                    emit(*pool.result(inflight[0]))
                    inflight.popleft()
                if read_error:
                    raise read_error
            except (KeyboardInterrupt, Interrupted):
                # a signal: write the windows the workers have finished, in
                # order (a bad line, by contrast, ends the output there)
                while inflight and pool.ready(inflight[0]):
                    try:
                        outs, error = pool.result(inflight.popleft())
                    except Exception:  # noqa: BLE001 - the signal wins
                        break
                    emit(outs, None)
                    if error is not None:
                        break
                raise
    finally:
        if bar is not None:
            bar.close()
    return done
