"""Translate numbered lines a window at a time, in this process: the
translating and writing side of ``nmt8.serve.stream``.

:func:`translate_stream` reads a window of lines, translates it, writes the
window's translations in input order and flushes, then reads the next, so
memory stays bounded whatever the input's size. A window's lines are written
with SIGINT and SIGTERM held back, so the output is always a prefix of
complete lines. :func:`translate_numbered` finds the first line a translator
refuses and names it by its number in the input, after every line before it
has been translated. The helpers here (windows, writer, progress bar) serve
the worker pool (``nmt8.serve.pool``) and Dask (``nmt8.serve.dask``) too.

Does not: read the input (``nmt8.serve.lines``), start processes
(``nmt8.serve.pool``), or handle signals beyond holding them during a
write (``nmt8.serve.stream.run``).
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import sys
import threading

DEFAULT_WINDOW = 64  # lines read, translated and written together


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


@contextlib.contextmanager
def _signals_held():
    """SIGINT and SIGTERM wait until the block ends (main thread only), so a
    window is written whole or not at all."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in saved:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(pending):
            signal.raise_signal(s)  # now, to the handler that was there


def _line_writer(out):
    if isinstance(out, io.TextIOBase):
        return out.write
    return lambda s: out.write(s.encode("utf-8"))


def _write(write, out, outs) -> None:
    with _signals_held():
        write("".join(o + "\n" for o in outs))
        out.flush()


def _windows(lines, window: int):
    """Lists of ``window`` numbered lines; a read error comes last, as
    ``(lines read before it, error)``."""
    block = []
    try:
        for item in lines:
            block.append(item)
            if len(block) == window:
                yield block, None
                block = []
    except ValueError as err:
        yield block, err
        return
    if block:
        yield block, None


def check_window(window) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    return window


def _progress_bar(progress):
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
    write, bar, done = _line_writer(out), _progress_bar(progress), 0
    try:
        for block, read_error in _windows(lines, window):
            outs, error = translate_numbered(translate, block, name)
            _write(write, out, outs)
            done += len(outs)
            if bar is not None:
                bar.update(len(outs))
            if error or read_error:
                raise error or read_error
    finally:
        if bar is not None:
            bar.close()
    return done
