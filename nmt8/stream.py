"""Translate a file of any size as a stream: a window of lines at a time.

``nmt8 translate`` reads a window of lines, translates it, writes the
window's translations in input order and flushes, then reads the next: memory
stays bounded whatever the file's size, and an interrupted run keeps every
window it finished. The paper's deployment translates one sentence per core
(Section 3); :func:`translate_stream_parallel` does that with one worker
process per core, a bounded number of windows in flight.

The rules, which the tests check:

* **Lines.** :func:`read_lines` reads incrementally and ends a line at
  ``\\n``, ``\\r\\n`` or a lone ``\\r`` (so a file with old Mac line ends keeps
  its line count); a final line without a line end is a line; empty lines
  are kept and translate to empty lines. A UTF-8 byte-order mark at the start
  of the input is dropped. Other Unicode line separators (U+2028, form feed)
  are text, not line ends. A line longer than ``MAX_LINE_BYTES`` is refused.
* **Bad lines.** The run stops at the first bad line (not UTF-8, too long, or
  refused by the translator) with ONE ``ValueError`` naming the input and the
  line number, after writing the translation of every line before it. Lines
  after it are not read.
* **Signals.** A window's lines are written with SIGINT and SIGTERM held
  back, so the output is always a prefix of complete lines. :func:`run`
  turns SIGINT (Ctrl-C) into exit status 130 and SIGTERM into 143, after
  writing every completed window and ONE line on stderr.
* **Broken pipe** (``nmt8 translate < big | head -1``): :func:`run` points
  stdout at ``/dev/null`` (Python's documented recipe, so no second error at
  exit) and returns 141, what a shell reports for a writer killed by SIGPIPE:
  quiet, and never 0 with the output cut short.
* **Progress.** A tqdm bar on stderr (lines, lines per second) only when
  stderr is a terminal (``progress=None``).

Does not: translate anything itself (it takes any callable
``translate(list[str]) -> list[str]``, e.g. ``Translator.translate``),
recover a window that a worker process died on (``multiprocessing.Pool``
waits for it forever; ``nmt8.dask`` recomputes it), or run across machines
(``nmt8.dask``).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import dataclasses
import io
import multiprocessing as mp
import os
import re
import signal
import sys
import threading

DEFAULT_WINDOW = 64  # lines read, translated and written together
MAX_LINE_BYTES = 1 << 20  # far beyond any translatable line (1000 subwords)
READ_BYTES = 1 << 16  # bytes per read
EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGPIPE = 130, 143, 141

_LINE_END = re.compile(rb"\r\n|\r|\n")

__all__ = ["DEFAULT_WINDOW", "Interrupted", "TranslatorFactory", "read_lines",
           "run", "translate_numbered", "translate_stream",
           "translate_stream_parallel"]


class Interrupted(BaseException):
    """Raised by :func:`run`'s SIGTERM handler (a BaseException, like
    KeyboardInterrupt, so ``except Exception`` does not swallow it)."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


# -- reading -------------------------------------------------------------------
def _decode(raw: bytes, n: int, name: str) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise ValueError(f"{name}, line {n}: longer than {MAX_LINE_BYTES} "
                         "bytes; split it")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{name}, line {n}: not valid UTF-8 ({err.reason} at "
                         f"byte {err.start})") from None


def read_lines(binary_file, name: str | None = None):
    """Yield ``(line_number, text)`` from a binary file, reading incrementally.

    Line ends ``\\n``, ``\\r\\n`` and a lone ``\\r``; numbers start at 1; a bad
    line raises ValueError naming ``name`` (default: the file's name) and its
    number, when the iterator reaches it.
    """
    if isinstance(binary_file, io.TextIOBase):
        raise TypeError("read_lines needs a binary file (e.g. sys.stdin.buffer "
                        "or open(path, 'rb')), not a text file")
    name = name or str(getattr(binary_file, "name", "<input>"))
    # read1 returns what is there, so a slow pipe is translated as it arrives
    read = getattr(binary_file, "read1", binary_file.read)
    buf, n, first = b"", 0, True
    while True:
        chunk = read(READ_BYTES)
        eof = not chunk
        buf += chunk
        if first and (len(buf) >= 3 or eof):
            buf, first = buf.removeprefix(codecs.BOM_UTF8), False
        start = 0
        for m in _LINE_END.finditer(buf):
            if m.group() == b"\r" and m.end() == len(buf) and not eof:
                break  # a \r at the end of a read: wait to see if \n follows
            n += 1
            yield n, _decode(buf[start:m.start()], n, name)
            start = m.end()
        buf = buf[start:]
        if eof:
            if buf:
                n += 1
                yield n, _decode(buf, n, name)
            return
        if len(buf) > MAX_LINE_BYTES + 1:
            _decode(buf, n + 1, name)  # raises: too long


# -- translating ---------------------------------------------------------------
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


# -- several worker processes --------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TranslatorFactory:
    """A picklable recipe for ``Translator(**translator_kwargs).translate``,
    built once in each worker process; ``batch_size`` is passed to
    ``translate`` when given."""

    translator_kwargs: dict
    batch_size: int | None = None

    def __call__(self):
        from .parallel import make_translator

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
    from .parallel import cores

    window = check_window(window)
    jobs = jobs or cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
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


# -- the command ---------------------------------------------------------------
def _on_sigterm(signum, frame):
    raise Interrupted(signum)


def run(make_translate, *, jobs: int = 1, driver=None,
        window: int | None = None, progress: bool | None = None,
        in_file=None, out_file=None, prog: str = "nmt8 translate") -> int:
    """Translate ``in_file`` (default stdin) to ``out_file`` (default stdout)
    and return the exit status; what ``nmt8 translate`` calls.

    ``make_translate``: zero-argument callable returning the translate
    callable (:class:`TranslatorFactory` for a Translator); called here with
    ``jobs=1``, or in each worker with ``jobs > 1``. ``driver``: instead,
    a callable ``driver(lines, out, make_translate=, name=, progress=)``
    that translates the whole numbered stream, e.g.
    ``functools.partial(nmt8.dask.translate_file, scheduler=ADDRESS)``.
    ``window`` defaults to 1 when
    the input is a terminal (each typed line is answered at once), else
    ``DEFAULT_WINDOW``. Exit status: 0; 1 for a bad line or setting (one
    line on stderr); 130 on SIGINT, 143 on SIGTERM (one line on stderr); 141
    on a broken pipe (quiet).
    """
    in_file = sys.stdin.buffer if in_file is None else in_file
    out_file = sys.stdout.buffer if out_file is None else out_file
    name = str(getattr(in_file, "name", "<stdin>"))
    if window is None:
        tty = getattr(in_file, "isatty", lambda: False)()
        window = 1 if tty else DEFAULT_WINDOW
    done = [0]  # lines written, for the interruption message
    counting = _Counting(out_file, done)
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
    try:
        lines = read_lines(in_file, name)
        if driver is not None:
            driver(lines, counting, make_translate=make_translate, name=name,
                   progress=progress)
        elif jobs > 1:
            translate_stream_parallel(make_translate, lines, counting, jobs=jobs,
                                      window=window, progress=progress, name=name)
        else:
            translate_stream(make_translate(), lines, counting, window=window,
                             progress=progress, name=name)
        return 0
    except BrokenPipeError:
        _silence(out_file)
        return EXIT_SIGPIPE
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (SIGINT) after {done[0]} lines",
              file=sys.stderr)
        return EXIT_SIGINT
    except Interrupted:
        print(f"{prog}: terminated (SIGTERM) after {done[0]} lines",
              file=sys.stderr)
        return EXIT_SIGTERM
    finally:
        if main:
            signal.signal(signal.SIGTERM, old_term)


class _Counting(io.TextIOBase):
    """``out`` that counts the lines written through it."""

    def __init__(self, out, done):
        self._out, self._done = out, done
        self._write = _line_writer(out)

    def write(self, s: str) -> int:
        self._write(s)
        self._done[0] += s.count("\n")
        return len(s)

    def flush(self):
        self._out.flush()


def _silence(out_file) -> None:
    # Python's recipe (docs, "Note on SIGPIPE"): the reader is gone, so send
    # what is still buffered to /dev/null instead of failing again at exit
    try:
        fd = out_file.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
