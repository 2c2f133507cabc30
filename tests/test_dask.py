"""nmt8.serve.dask on a LocalCluster of two single-threaded worker processes.

Every output is compared with the single-process int8 ``Translator`` on the
same lines (our own sentences, the shipped de-en model), including a run in
which a worker is killed while it translates.
"""

from __future__ import annotations

import functools
import io
import os
import signal
import sys

import pytest

import nmt8
from nmt8.testing import DEMO_SENTENCES, GOLDEN_PAIRS

dask_bag = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

from nmt8.serve import dask as nd

SETTINGS = {"model_or_models": "de-en", "precision": "int8", "beam": 2}
SENTENCES = [src for src, _ in GOLDEN_PAIRS] + DEMO_SENTENCES
LINES = [s for i in range(3) for s in SENTENCES[i:] + [""]]  # 27 lines


@pytest.fixture(scope="module")
def reference():
    tr = nmt8.Translator(SETTINGS["model_or_models"], precision="int8", beam=2)
    return dict(zip(SENTENCES + [""], tr.translate(SENTENCES + [""])))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, processes=True,
                                  threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


BUILDS = 0  # models loaded by LoadCounting, in each worker process


class LoadCounting:
    """A model given as a callable (built in the worker), counting builds."""

    def __call__(self):
        global BUILDS
        BUILDS += 1
        return nmt8.load_model("de-en")


def test_translate_bag_keeps_order_and_builds_once_per_worker(client, reference):
    bag = dask_bag.from_sequence(LINES, npartitions=6)
    settings = dict(SETTINGS, model_or_models=LoadCounting())
    got = nd.translate_bag(bag, **settings).compute()
    assert got == [reference[s] for s in LINES]
    # six partitions, two workers: each loaded the model once at most
    builds = client.run(
        lambda: getattr(sys.modules.get("tests.test_dask"), "BUILDS", 0))
    assert sorted(builds.values()) in ([0, 1], [1, 1])


class KillOnFirstWrite(io.StringIO):
    """Output that kills a busy worker when the first partition arrives."""

    def __init__(self, client):
        super().__init__()
        self.client, self.killed = client, None

    def write(self, s):
        if self.killed is None:
            busy = [w for w, keys in self.client.processing().items() if keys]
            assert busy, "no worker is translating"
            pids = self.client.run(os.getpid, workers=busy[:1])
            self.killed = next(iter(pids.values()))
            os.kill(self.killed, signal.SIGKILL)
        return super().write(s)


def test_translate_file_in_order_when_a_worker_dies(client, reference):
    out = KillOnFirstWrite(client)
    n = nd.translate_file(iter(LINES), out, client, partition_size=2,
                          max_in_flight=6, **SETTINGS)
    assert out.killed is not None
    assert n == len(LINES)
    # no line lost, none repeated, input order
    assert out.getvalue() == "".join(reference[s] + "\n" for s in LINES)


def test_translate_file_stops_at_a_refused_line(client, reference, tmp_path):
    lines = SENTENCES[:5] + ["Hund " * 1200] + SENTENCES[5:]  # line 6: too long
    path = tmp_path / "in.de"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    out = io.BytesIO()
    with pytest.raises(ValueError, match=r"in\.de, line 6: .*more than the limit"):
        nd.translate_file(path, out, client, partition_size=2, **SETTINGS)
    assert out.getvalue().decode() == "".join(reference[s] + "\n"
                                              for s in SENTENCES[:5])


def test_bad_scheduler_and_settings():
    with pytest.raises(ValueError, match="scheduler must be 'local'"):
        nd.translate_file(["a"], io.StringIO(), "host:8786", **SETTINGS)
    with pytest.raises(ValueError, match="partition_size must be"):
        nd.translate_file(["a"], io.StringIO(), "local", partition_size=0)
    with pytest.raises(TypeError, match="not both"):
        nd.translate_file(["a"], io.StringIO(), "local", make_translate=dict,
                          beam=2)


def test_missing_dask_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'nmt8\[dask\]'"):
        nd.translate_bag(dask_bag.from_sequence(["a"]), **SETTINGS)


def test_run_with_dask_is_what_the_command_does(client, reference):
    from nmt8.serve.parallel import TranslatorFactory
    from nmt8.serve.stream import run

    src = io.BytesIO("\n".join(LINES[:8]).encode())
    src.name = "in.de"
    out = io.BytesIO()
    driver = functools.partial(nd.translate_file, scheduler=client)
    status = run(TranslatorFactory(SETTINGS), driver=driver, in_file=src,
                 out_file=out, progress=False)
    assert status == 0
    assert out.getvalue().decode() == "".join(reference[s] + "\n"
                                              for s in LINES[:8])


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (its workers and theirs)."""
    import pathlib

    parents = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(
                stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found.update(kids)
        todo += kids
    return found


def test_ctrl_c_with_dask_local_is_one_line_and_leaves_no_worker(tmp_path, toy_dir):
    """Ctrl-C (SIGINT to the whole process group) during `nmt8 translate
    --dask local`: one line, exit status 130, complete lines, no worker left
    (it was 99 lines and 6 tracebacks, from the workers)."""
    import subprocess
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    german = [src for src, _ in GOLDEN_PAIRS] + [""]
    src, out = tmp_path / "in.de", tmp_path / "out.en"
    src.write_text("".join(german[i % 6] + "\n" for i in range(3000)),
                   encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nmt8.cli", "translate", "--model", str(toy_dir),
         "--beam", "2", "--dask", "local", "--input", str(src)],
        stdout=out.open("wb"), stderr=subprocess.PIPE, cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root)), start_new_session=True)
    try:
        t0 = time.monotonic()
        while out.stat().st_size == 0:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() - t0 < 300, "no output"
            time.sleep(0.05)
        workers = _descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    got = out.read_bytes()
    n = got.count(b"\n")
    assert proc.returncode == 130
    assert err.decode().splitlines() == [
        f"nmt8 translate: interrupted (SIGINT) after {n} lines"]
    assert got.endswith(b"\n") and 0 < n < 3000
    t0 = time.monotonic()
    while any(_running(p) for p in workers):
        assert time.monotonic() - t0 < 60, "a worker is left"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
