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

The parts: reading (``nmt8.serve.lines``), translating and writing a
window at a time (``nmt8.serve.windows``), worker processes
(``nmt8.serve.pool``); this module is the command (:func:`run`: signals,
broken pipes, exit status) and re-exports the names of all three.

Does not: translate anything itself (it takes any callable
``translate(list[str]) -> list[str]``, e.g. ``Translator.translate``),
recover a window that a worker process died on (``multiprocessing.Pool``
waits for it forever; ``nmt8.serve.dask`` recomputes it), or run across machines
(``nmt8.serve.dask``).
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading

# the names of the parts, re-exported: nmt8.cli, nmt8.serve.dask and users import
# them from here
from nmt8.serve.lines import MAX_LINE_BYTES, READ_BYTES, read_lines  # noqa: F401
from nmt8.serve.pool import translate_stream_parallel
from nmt8.serve.windows import (
    DEFAULT_WINDOW,
    Interrupted,
    _line_writer,
    translate_stream,
)

EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGPIPE = 130, 143, 141

__all__ = [
    "run",
]


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
    ``functools.partial(nmt8.serve.dask.translate_file, scheduler=ADDRESS)``.
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
