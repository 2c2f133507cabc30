"""A soak run: `nmt8 translate` streams 100,000 lines with its resident memory
sampled from /proc (psutil is not a dependency); the memory stays flat.
Slow (about a minute): `pytest -m "not slow"` leaves it out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINES = 100_000


def tree_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` and of its worker processes, in KiB (None once it
    has ended)."""
    own = rss_kib(pid)
    if own is None:
        return None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                own += rss_kib(int(stat.parent.name)) or 0
        except (OSError, ValueError, IndexError):
            continue
    return own


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB (None once it has ended)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_memory_stays_flat_over_100000_lines(tmp_path, toy_dir, jobs):
    words = ["Hund.", "Ein Hund.", "", "Katze.", "Zwei Kinder.", "Ein Mann."]
    src = tmp_path / "in.de"
    src.write_text("".join(words[i % len(words)] + "\n" for i in range(LINES)),
                   encoding="utf-8")
    out = tmp_path / "out.en"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nmt8.cli", "translate", "--model", str(toy_dir),
         "--beam", "1", "--batch-size", "64", "--jobs", str(jobs),
         "--input", str(src), "--output", str(out)],
        stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ,
                                                   PYTHONPATH=str(ROOT)))
    samples = []  # (bytes written so far, resident KiB of the command)
    try:
        while proc.poll() is None:
            kib = tree_kib(proc.pid)
            done = out.stat().st_size if out.exists() else 0
            if kib is not None:
                samples.append((done, kib))
            time.sleep(0.1)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.read_bytes().count(b"\n") == LINES
    # the samples taken while the second and the last quarter of the
    # output were written: the memory of the first is where it stays
    size = out.stat().st_size
    early = [k for d, k in samples if size / 4 <= d < size / 2]
    late = [k for d, k in samples if d >= 3 * size / 4]
    assert len(early) >= 5 and len(late) >= 5, (len(early), len(late))
    assert max(late) <= 1.05 * max(early) + 2048, (max(early), max(late))
