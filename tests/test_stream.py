"""nmt8.serve.stream and its parts (lines, windows, the pool): line ends, bad
lines, signals, broken pipes, bounded memory.

The line reader is checked against ``str.splitlines`` (which ends lines at
``\\n``, ``\\r\\n`` and ``\\r`` too); signals and pipes are checked on a real
``nmt8.serve.stream.run`` in a subprocess with a fake translate callable.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt8.serve import lines as stream_lines
from nmt8.serve import windows
from nmt8.serve.lines import read_lines
from nmt8.serve.windows import translate_stream, translate_stream_parallel

ROOT = Path(__file__).resolve().parents[1]


# -- fake translators (module level: spawned workers import them) --------------
class Upper:
    """``make_translate`` for ``translate(lines) = [line.upper() ...]``,
    sleeping ``delay`` seconds per call; refuses lines containing "BAD"."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def __call__(self):
        def translate(lines):
            time.sleep(self.delay)
            for n, line in enumerate(lines, 1):
                if "BAD" in line:
                    raise ValueError(f"line {n}: refused")
            return [line.upper() for line in lines]
        return translate


def _read(data: bytes, name="in"):
    return list(read_lines(io.BytesIO(data), name))


# -- reading -------------------------------------------------------------------
@pytest.mark.parametrize("data, lines", [
    (b"a\rb\rc\r", ["a", "b", "c"]),  # CR only (old Mac)
    (b"a\r\nb\r\n", ["a", "b"]),  # CRLF
    (b"a\nb\r\nc\rd\n", ["a", "b", "c", "d"]),  # mixed
    (b"a\nb", ["a", "b"]),  # no final newline
    (b"\n\na\n\n", ["", "", "a", ""]),  # empty lines kept
    (b"\r\r\n\n", ["", "", ""]),  # \r, then \r\n, then \n: three lines
    (b"", []),
    (b"\xef\xbb\xbfHund\n", ["Hund"]),  # UTF-8 byte-order mark dropped
    ("Bäume\u2028Häuser\n".encode(), ["Bäume\u2028Häuser"]),  # not a line end
])
def test_read_lines_line_ends(data, lines):
    assert _read(data) == list(enumerate(lines, 1))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab é\r\n", max_size=60), st.integers(1, 5))
def test_read_lines_matches_splitlines_at_any_read_size(text, read_bytes):
    # reads of 1..5 bytes cut \r\n and two-byte characters at every place
    old = stream_lines.READ_BYTES
    stream_lines.READ_BYTES = read_bytes
    try:
        got = _read(text.encode())
    finally:
        stream_lines.READ_BYTES = old
    assert got == list(enumerate(text.splitlines(), 1))


def test_read_lines_is_incremental():
    # the first line comes out before the rest of the input is produced
    r, w = os.pipe()
    os.write(w, b"Ein Hund.\nZwei")
    with open(r, "rb") as fh:
        it = read_lines(fh, "pipe")
        assert next(it) == (1, "Ein Hund.")
        os.write(w, b" Katzen.\n")
        os.close(w)
        assert list(it) == [(2, "Zwei Katzen.")]


def test_read_lines_names_the_bad_line():
    it = read_lines(io.BytesIO(b"gut\r\nauch gut\n\xffschlecht\ngut\n"), "x.de")
    assert next(it) == (1, "gut")
    assert next(it) == (2, "auch gut")
    with pytest.raises(ValueError, match=r"^x\.de, line 3: not valid UTF-8"):
        next(it)


def test_read_lines_refuses_a_line_too_long(monkeypatch):
    monkeypatch.setattr(stream_lines, "MAX_LINE_BYTES", 10)
    monkeypatch.setattr(stream_lines, "READ_BYTES", 4)
    it = read_lines(io.BytesIO(b"kurz\n" + b"x" * 30 + b"\n"), "in")
    assert next(it) == (1, "kurz")
    with pytest.raises(ValueError, match="line 2: longer than 10 bytes"):
        next(it)


def test_read_lines_needs_a_binary_file():
    with pytest.raises(TypeError, match="binary file"):
        next(read_lines(io.StringIO("a\n")))


# -- translating ---------------------------------------------------------------
@pytest.mark.parametrize("window", [1, 2, 3, 64])
def test_translate_stream_keeps_order_and_empty_lines(window):
    data = b"eins\n\nzwei\r\ndrei\rvier"
    out = io.BytesIO()
    n = translate_stream(Upper()(), read_lines(io.BytesIO(data)),
                                out, window=window, progress=False)
    assert n == 5
    assert out.getvalue() == b"EINS\n\nZWEI\nDREI\nVIER\n"


def test_translate_stream_writes_each_window_before_reading_the_next():
    seen = []  # output size when each window reaches the translator
    out = io.StringIO()

    def translate(lines):
        seen.append(out.getvalue().count("\n"))
        return lines

    pairs = list(enumerate("abcdefg", 1))
    translate_stream(translate, iter(pairs), out, window=3, progress=False)
    assert seen == [0, 3, 6]


@pytest.mark.parametrize("window", [1, 2, 4, 10])
def test_non_utf8_line_stops_after_every_line_before_it(window):
    lines = [f"satz {i}".encode() for i in range(1, 8)]
    lines[4] = b"satz \xe4"  # line 5: Latin-1, not UTF-8
    out = io.StringIO()
    with pytest.raises(ValueError, match=r"^in, line 5: not valid UTF-8"):
        translate_stream(Upper()(), read_lines(
            io.BytesIO(b"\n".join(lines)), "in"), out, window=window,
            progress=False)
    assert out.getvalue() == "".join(f"SATZ {i}\n" for i in range(1, 5))


@pytest.mark.parametrize("window", [1, 3, 10])
def test_refused_line_is_named_by_its_input_line(window):
    # the translator says "line 2" of its window; the error names line 5
    text = "a\nb\nc\nd\nBAD\nf\n"
    out = io.StringIO()
    with pytest.raises(ValueError, match=r"^in, line 5: refused$"):
        translate_stream(Upper()(), read_lines(
            io.BytesIO(text.encode()), "in"), out, window=window, progress=False,
            name="in")
    assert out.getvalue() == "A\nB\nC\nD\n"


def test_wrong_line_count_from_translate_is_an_error():
    with pytest.raises(RuntimeError, match="returned 1 lines for 2"):
        translate_stream(lambda lines: lines[:1], iter([(1, "a"), (2, "b")]),
                                io.StringIO(), progress=False)


@pytest.mark.parametrize("window", [0, -1, 1.5, True, windows.MAX_WINDOW + 1])
def test_bad_window(window):
    with pytest.raises(ValueError, match="window must be an int from 1 to"):
        translate_stream(Upper()(), iter([]), io.StringIO(), window=window)


def test_parallel_matches_serial_and_stops_at_a_bad_line():
    text = "".join(f"satz {i}\n" for i in range(1, 30)) + "\n"
    out = io.StringIO()
    n = translate_stream_parallel(
        Upper(), read_lines(io.BytesIO(text.encode())), out, jobs=2,
        window=3, progress=False)
    assert n == 30
    assert out.getvalue() == text.upper()
    bad = text.replace("satz 17\n", "BAD 17\n")
    out = io.StringIO()
    with pytest.raises(ValueError, match=r"^in, line 17: refused$"):
        translate_stream_parallel(
            Upper(), read_lines(io.BytesIO(bad.encode()), "in"), out,
            jobs=2, window=3, progress=False, name="in")
    assert out.getvalue() == "".join(f"SATZ {i}\n" for i in range(1, 17))


def test_progress_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert windows.progress_bar(None) is None  # not a terminal: no bar
    bar = windows.progress_bar(True)
    bar.update(3)
    bar.close()
    assert "3 lines" in sys.stderr.getvalue()


# -- the command in a subprocess -------------------------------------------------
def _script(delay, jobs, window):
    return ("import sys\n"
            "from nmt8.serve import stream\n"
            "from tests.test_stream import Upper\n"
            f"sys.exit(stream.run(Upper({delay}), jobs={jobs}, window={window}))\n")


def _start(tmp_path, text, script, **kw):
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env,
                            stdin=src.open("rb"), **kw)


def _wait_for_output(path, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and path.stat().st_size > 0:
            return
        time.sleep(0.05)
    raise AssertionError("no output")


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130),
                                         (signal.SIGTERM, 143)])
def test_signal_mid_run_leaves_complete_lines_and_no_worker(tmp_path, jobs, sig,
                                                           status):
    psutil = pytest.importorskip("psutil")
    text = "".join(f"satz {i}\n" for i in range(1, 2001))
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = _start(tmp_path, text, _script(0.02, jobs, 4), stdout=out,
                      stderr=err, start_new_session=True)
    try:
        _wait_for_output(out_path)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= (jobs if jobs > 1 else 0)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C: the whole process group
        else:
            proc.send_signal(sig)  # `kill PID`: the parent only
        assert proc.wait(timeout=30) == status
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []  # no worker left behind
    got = out_path.read_text(encoding="utf-8")
    assert got.endswith("\n")
    lines = got.splitlines()
    assert 0 < len(lines) < 2000
    assert lines == [f"SATZ {i}" for i in range(1, len(lines) + 1)]
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    # one line: no traceback from a worker, no leaked-semaphore warning
    what = "interrupted" if status == 130 else "terminated"
    assert err_path.read_text().splitlines() == [
        f"nmt8 translate: {what} ({name}) after {len(lines)} lines"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_broken_pipe_exits_quietly_and_non_zero(tmp_path, jobs):
    text = "".join(f"satz {i}\n" for i in range(1, 100001))
    proc = _start(tmp_path, text, _script(0.0, jobs, 64), stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert first == b"SATZ 1\n"
    assert err == b""


def test_bad_line_exits_1_with_the_lines_before_it(tmp_path):
    text = b"a\nb\nc\n\xff\ne\n"
    src = tmp_path / "in.txt"
    src.write_bytes(text)
    res = subprocess.run([sys.executable, "-c", _script(0.0, 1, 2)], cwd=ROOT,
                         check=False,
                         stdin=src.open("rb"), capture_output=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert res.returncode == 1
    assert res.stdout == b"A\nB\nC\n"
    assert res.stderr.decode().splitlines() == [
        ("nmt8 translate: error: <stdin>, line 4: not valid UTF-8 (invalid "
         "start byte at byte 0)")]


# no pytest in the subprocess: a small baseline shows growth (reading the
# whole file first gives a ratio of about 1.85 here; streaming about 1.0)
_MEMORY = """\
import os, resource, sys
from nmt8.serve import stream
def upper():
    return lambda lines: [s.upper() for s in lines]
with open(sys.argv[1], "rb") as fin, open(os.devnull, "wb") as fout:
    status = stream.run(upper, in_file=fin, out_file=fout)
assert status == 0, status
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kb(tmp_path, n_lines):
    path = tmp_path / f"in{n_lines}.txt"
    line = "Ein Hund läuft über eine grüne Wiese und bellt die Vögel an " * 2
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n_lines):
            fh.write(f"{i} {line}\n")
    res = subprocess.run([sys.executable, "-c", _MEMORY, str(path)], cwd=ROOT,
                         check=False,
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr
    return int(res.stdout)


def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    # 10x the lines (100,000 lines, 12 MB), about the same peak memory
    small, big = _peak_kb(tmp_path, 10_000), _peak_kb(tmp_path, 100_000)
    assert big / small < 1.5, (small, big)
