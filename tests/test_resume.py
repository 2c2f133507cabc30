"""``nmt8 translate --input FILE --output FILE --resume``: a run interrupted by
SIGINT or killed with SIGKILL goes on where it stopped, and the finished file
is byte-identical to an uninterrupted run's."""

from __future__ import annotations

import io
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nmt8.serve.lines import read_lines
from nmt8.serve.stream import resume_output, skip_lines
from nmt8.testing import PAIRS

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def nmt8_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "nmt8.cli", *args]


@pytest.fixture(scope="module")
def job(tmp_path_factory, toy_dir):
    """An input of 240 lines (our sentences, empty lines, a lone \\r line
    end), the options of the run, and the bytes an uninterrupted run
    writes."""
    folder = tmp_path_factory.mktemp("resume")
    german = [de for de, _ in PAIRS] + [""]
    lines = [german[i % len(german)] for i in range(240)]
    src = folder / "in.de"
    src.write_bytes(("\n".join(lines[:100]) + "\r" + "\n".join(lines[100:])
                     + "\n").encode())
    options = ["--model", str(toy_dir), "--beam", "2", "--window", "4"]
    whole = folder / "whole.en"
    r = subprocess.run(nmt8_cmd("translate", *options, "--input", str(src),
                                "--output", str(whole)),
                       capture_output=True, cwd=ROOT, env=ENV, timeout=900,
                       check=False)
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert whole.read_bytes().count(b"\n") == 240
    return src, options, whole.read_bytes()


def _interrupted(tmp_path, job, sig, jobs) -> tuple[Path, bytes]:
    """Start the run into a new file, wait for its first lines, send
    ``sig``; returns the output file and stderr."""
    src, options, _ = job
    out = tmp_path / "out.en"
    proc = subprocess.Popen(nmt8_cmd("translate", *options, "--jobs", str(jobs),
                                     "--input", str(src), "--output", str(out)),
                            stderr=subprocess.PIPE, cwd=ROOT, env=ENV,
                            start_new_session=True)
    try:
        t0 = time.monotonic()
        while not (out.exists() and out.stat().st_size > 0):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() - t0 < 300, "no output"
            time.sleep(0.02)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C: the whole process group
        else:
            proc.send_signal(sig)  # kill -9 of the command
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return out, err


def _resume(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, cwd=ROOT, env=ENV,
                          timeout=900, check=False)


@pytest.mark.parametrize("jobs", [1, 2])
def test_resume_after_ctrl_c_is_byte_identical(tmp_path, job, jobs):
    src, options, whole = job
    out, err = _interrupted(tmp_path, job, signal.SIGINT, jobs)
    (line,) = err.decode().splitlines()
    done = out.read_bytes()
    assert done.endswith(b"\n") and whole.startswith(done)  # complete lines
    n = done.count(b"\n")
    assert 0 < n < 240, "not interrupted mid-run"
    # the message says how many lines, and the exact command that goes on
    head, command = line.split("; to go on: ")
    assert head == f"nmt8 translate: interrupted (SIGINT) after {n} lines"
    words = shlex.split(command)
    assert words[0] == "nmt8" and words[-1] == "--resume"
    assert words[1:-1] == ["translate", *options, "--jobs", str(jobs),
                           "--input", str(src), "--output", str(out)]
    r = _resume(nmt8_cmd(*words[1:]))
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert out.read_bytes() == whole


def test_resume_after_kill_9_is_byte_identical(tmp_path, job):
    src, options, whole = job
    out, _ = _interrupted(tmp_path, job, signal.SIGKILL, 2)
    left = out.read_bytes()
    assert whole.startswith(left)  # complete lines, perhaps a partial one
    assert 0 < left.count(b"\n") < 240, "not killed mid-run"
    r = _resume(nmt8_cmd("translate", *options, "--input", str(src), "--output",
                         str(out), "--resume"))
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert out.read_bytes() == whole


@pytest.mark.parametrize("cut", [0, 1, 7])
def test_a_partial_last_line_is_translated_again(tmp_path, job, cut):
    """What a SIGKILL in the middle of a write leaves: complete lines, then
    the first bytes of the next."""
    src, options, whole = job
    lines = whole.splitlines(keepends=True)
    out = tmp_path / "out.en"
    out.write_bytes(b"".join(lines[:100]) + lines[100][:cut])
    r = _resume(nmt8_cmd("translate", *options, "--input", str(src), "--output",
                         str(out), "--resume"))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == whole


def test_resume_of_a_finished_run_changes_nothing(tmp_path, job):
    src, options, whole = job
    out = tmp_path / "out.en"
    out.write_bytes(whole)
    r = _resume(nmt8_cmd("translate", *options, "--input", str(src), "--output",
                         str(out), "--resume"))
    assert r.returncode == 0 and out.read_bytes() == whole


def test_resume_on_stdin_names_the_input_file_in_its_command(tmp_path, job):
    src, options, whole = job
    out = tmp_path / "out.en"
    with src.open("rb") as fin:
        proc = subprocess.Popen(nmt8_cmd("translate", *options, "--output",
                                         str(out)),
                                stdin=fin, stderr=subprocess.PIPE, cwd=ROOT,
                                env=ENV, start_new_session=True)
    t0 = time.monotonic()
    while not (out.exists() and out.stat().st_size > 0):
        assert time.monotonic() - t0 < 300
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    command = err.decode().split("; to go on: ")[1].strip()
    assert command.endswith(f"--resume < {src}")
    r = subprocess.run(["sh", "-c", "exec " + command.replace(
        "nmt8 ", f"{sys.executable} -m nmt8.cli ", 1)], capture_output=True,
        cwd=ROOT, env=ENV, timeout=900, check=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == whole


def test_an_output_that_is_the_input_on_stdin_is_refused(job):
    src, options, _ = job
    before = src.read_bytes()
    with src.open("rb") as fin:
        r = subprocess.run(nmt8_cmd("translate", *options, "--output", str(src)),
                           stdin=fin, capture_output=True, cwd=ROOT, env=ENV,
                           timeout=300, check=False)
    assert r.returncode == 1 and b"are the same file" in r.stderr
    assert src.read_bytes() == before


def test_an_output_longer_than_the_input_is_refused(tmp_path, job):
    src, options, whole = job
    out = tmp_path / "out.en"
    out.write_bytes(whole + b"one more\n")
    r = _resume(nmt8_cmd("translate", *options, "--input", str(src), "--output",
                         str(out), "--resume"))
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        (f"nmt8 translate: error: {out} already holds 241 lines, {src} has only "
        f"240: it is not a translation of this input")]
    assert out.read_bytes() == whole + b"one more\n"  # untouched


@pytest.mark.parametrize("args,message", [
    (["--resume"], "--resume continues an --output FILE: give one"),
    (["--input", "IN", "--output", "IN"], ("the input and --output are the same "
                                          "file")),
    (["--input", "/nonexistent/in.de"], ("cannot read /nonexistent/in.de: No such "
                                        "file or directory")),
])
def test_bad_file_options_are_one_line(tmp_path, job, args, message):
    src, options, _ = job
    args = [str(src) if a == "IN" else a for a in args]
    r = _resume(nmt8_cmd("translate", *options, *args))
    assert r.returncode == 1
    (line,) = r.stderr.decode().splitlines()
    assert line.startswith(f"nmt8 translate: error: {message}")
    assert src.read_bytes().count(b"\n") == 239  # the input is untouched


# -- the parts ------------------------------------------------------------------------
@pytest.mark.parametrize("data,lines,kept", [
    (b"", 0, b""),
    (b"a\nb\n", 2, b"a\nb\n"),
    (b"a\nb\npart", 2, b"a\nb\n"),
    (b"part", 0, b""),
    (b"a\n\n\nb\r", 3, b"a\n\n\n"),  # our output ends lines with \n only
])
def test_resume_output_counts_lines_and_cuts_a_partial_one(tmp_path, data, lines,
                                                           kept):
    p = tmp_path / "out"
    p.write_bytes(data)
    assert resume_output(p) == lines
    assert p.read_bytes() == kept
    assert resume_output(tmp_path / "none") == 0


def test_resume_output_needs_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file"):
        resume_output(tmp_path / "fifo")


def test_skip_lines_keeps_the_numbers_of_the_lines_after():
    lines = read_lines(io.BytesIO(b"a\nb\rc\r\nd\n"), "in")
    assert list(skip_lines(lines, 2, "in")) == [(3, "c"), (4, "d")]
    with pytest.raises(ValueError, match="out already holds 5 lines, in has "
                                         "only 4"):
        list(skip_lines(read_lines(io.BytesIO(b"a\nb\nc\nd\n")), 5, "in", "out"))
