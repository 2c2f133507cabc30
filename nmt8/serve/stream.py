"""Translate a file of any size as a stream: a window of lines at a time.

``nmt8 translate`` reads a window of lines, translates it, writes the
window's translations in input order and flushes, then reads the next: memory
stays bounded whatever the file's size, and an interrupted run keeps every
window it finished. The paper's deployment translates one sentence per core
(Section 3); ``nmt8.serve.windows.translate_stream_parallel`` does that with
one worker process per core, a bounded number of windows in flight.

The rules, which the tests check:

* **Lines.** ``nmt8.serve.lines.read_lines`` reads incrementally and ends a
  line at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (so a file with old Mac line
  ends keeps its line count); a final line without a line end is a line;
  empty lines are kept and translate to empty lines. A UTF-8 byte-order mark
  at the start of the input is dropped. Other Unicode line separators
  (U+2028, form feed) are text, not line ends. A line longer than
  ``MAX_LINE_BYTES`` is refused.
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
* **Write errors** (a full disk, ``> /dev/full``, a closed or read-only
  stdout) and a closed stdin: exit status 1 and ONE line on stderr saying
  what failed and how many lines were written.
* **A worker that dies** (``--jobs``) is replaced and its window translated
  again; a window whose workers keep dying stops the run with one line
  (``nmt8.serve.pool.WorkerDied``), every window before it written.
* **Resuming.** An output file left by an interrupted run holds complete
  lines, then at most one partial line (a SIGKILL during a write).
  :func:`resume_output` cuts the partial line and counts the others;
  :func:`skip_lines` skips as many input lines, so the run goes on where
  the other stopped and the finished file is the same bytes as one run's.
  When given the command that does that (``resume``), :func:`run` prints it
  with the message of an interrupted or failed run.
* **Progress.** A tqdm bar on stderr (lines, lines per second) only when
  stderr is a terminal (``progress=None``).

The parts: reading (``nmt8.serve.lines``), translating and writing a
window at a time (``nmt8.serve.windows``), worker processes
(``nmt8.serve.pool``); this module is the command (:func:`run`: signals,
broken pipes, write errors, exit status) and resuming.

Does not: translate anything itself (it takes any callable
``translate(list[str]) -> list[str]``, e.g. ``Translator.translate``), open
the files it is given, or run across machines (``nmt8.serve.dask``).
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading

from nmt8.model.config import regular_file
from nmt8.serve.lines import read_lines
from nmt8.serve.pool import WorkerDied
from nmt8.serve.windows import (
    DEFAULT_WINDOW,
    Interrupted,
    line_writer,
    translate_stream,
    translate_stream_parallel,
)

EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGPIPE = 130, 143, 141
_SCAN_BYTES = 1 << 20  # bytes read at a time when counting an output's lines

__all__ = [
    "resume_output",
    "run",
    "skip_lines",
]


def _on_sigterm(signum, frame):
    raise Interrupted(signum)


class _WriteFailed(Exception):
    """Writing the output failed (its OSError is the cause)."""


def run(make_translate, *, jobs: int = 1, driver=None,
        window: int | None = None, progress: bool | None = None,
        in_file=None, out_file=None, prog: str = "nmt8 translate",
        skip: int = 0, resume: str | None = None) -> int:
    """Translate ``in_file`` (default stdin) to ``out_file`` (default stdout)
    and return the exit status; what ``nmt8 translate`` calls.

    ``make_translate``: zero-argument callable returning the translate
    callable (``nmt8.serve.parallel.TranslatorFactory`` for a Translator);
    called here with ``jobs=1``, or in each worker with ``jobs > 1``.
    ``driver``: instead, a callable ``driver(lines, out, make_translate=,
    name=, progress=)`` that translates the whole numbered stream, e.g.
    ``functools.partial(nmt8.serve.dask.translate_file, scheduler=ADDRESS)``.
    ``window`` defaults to 1 when the input is a terminal (each typed line is
    answered at once), else ``DEFAULT_WINDOW``. ``skip``: input lines
    already translated in ``out_file`` (:func:`resume_output`); ``resume``:
    the command that would go on from where this run stops, printed when it
    stops early. Exit status: 0; 1 for a bad line or setting, a write error,
    a closed stdin or stdout, or a window whose workers keep dying (one
    line on stderr); 130 on SIGINT, 143 on SIGTERM (one line on stderr);
    141 on a broken pipe (quiet).
    """
    if in_file is None:
        if sys.stdin is None:
            print(f"{prog}: error: stdin is closed: give the input with "
                  f"--input FILE or < FILE", file=sys.stderr)
            return 1
        in_file = sys.stdin.buffer
    if out_file is None:
        if sys.stdout is None:
            print(f"{prog}: error: stdout is closed: give the output with "
                  f"--output FILE or > FILE", file=sys.stderr)
            return 1
        out_file = sys.stdout.buffer
    name = str(getattr(in_file, "name", "<stdin>"))
    if window is None:
        tty = getattr(in_file, "isatty", lambda: False)()
        window = 1 if tty else DEFAULT_WINDOW
    out_name = getattr(out_file, "name", "<stdout>")
    out_name = "<stdout>" if out_name in (1, "<stdout>") else str(out_name)
    done = [skip]  # lines in the output, for the messages
    counting = _Counting(out_file, done)
    then = f"; to go on: {resume}" if resume else ""
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
    try:
        lines = skip_lines(read_lines(in_file, name), skip, name, out_name)
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
    except _WriteFailed as err:
        _silence(out_file)
        why = err.__cause__.strerror or err.__cause__
        print(f"{prog}: error: cannot write {out_name}: {why}; {done[0]} "
              f"lines written{then}", file=sys.stderr)
        return 1
    except WorkerDied as err:
        print(f"{prog}: error: {err}; {done[0]} lines written{then}",
              file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{prog}: error: out of memory; {done[0]} lines written{then}",
              file=sys.stderr)
        return 1
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # reading the input
        print(f"{prog}: error: cannot read {name}: {err.strerror or err}; "
              f"{done[0]} lines written{then}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (SIGINT) after {done[0]} lines{then}",
              file=sys.stderr)
        return EXIT_SIGINT
    except Interrupted:
        print(f"{prog}: terminated (SIGTERM) after {done[0]} lines{then}",
              file=sys.stderr)
        return EXIT_SIGTERM
    finally:
        if main:
            signal.signal(signal.SIGTERM, old_term)


class _Counting(io.TextIOBase):
    """``out`` that counts the lines it has flushed, and turns a failed
    write into ``_WriteFailed`` (a broken pipe stays a BrokenPipeError)."""

    def __init__(self, out, done):
        self._out, self._done, self._pending = out, done, 0
        self._write = line_writer(out)

    def write(self, s: str) -> int:
        try:
            self._write(s)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _WriteFailed() from err
        self._pending += s.count("\n")
        return len(s)

    def flush(self):
        try:
            self._out.flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise _WriteFailed() from err
        self._done[0] += self._pending
        self._pending = 0


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


# -- resuming ------------------------------------------------------------------------
def resume_output(path) -> int:
    """The complete lines of an interrupted run's output file ``path``, after
    cutting any partial last line (the file ends after its last line end):
    0 when there is no file. Reads the file once, a MiB at a time."""
    try:
        regular_file(path, "output")  # before opening: never a FIFO
        fh = open(path, "r+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    except OSError as err:
        raise ValueError(f"cannot resume {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ValueError(f"cannot resume: {err}") from None
    with fh:
        n = end = pos = 0
        while chunk := fh.read(_SCAN_BYTES):
            k = chunk.count(b"\n")
            if k:
                n += k
                end = pos + chunk.rindex(b"\n") + 1
            pos += len(chunk)
        if end != pos:
            fh.truncate(end)  # a partial line, cut in a write: translate again
    return n


def skip_lines(lines, k: int, name: str = "<input>", output: str = "the output"):
    """``lines`` (numbered, from ``read_lines``) after the first ``k``: the
    lines an interrupted run already translated. Raises ValueError when the
    input has fewer than ``k`` lines (``output`` is then not its output)."""
    lines = iter(lines)
    for i in range(k):
        try:
            next(lines)
        except StopIteration:
            raise ValueError(f"{output} already holds {k} lines, {name} has "
                             f"only {i}: it is not a translation of this "
                             f"input") from None
    yield from lines
