"""nmt8.serve.pool: one pool, one error contract. Workers start as tasks need
them; a worker killed with SIGKILL is replaced and its task runs again (then
WorkerDied, after the retries); a worker's exception is raised here with its
message; no worker outlives the pool, or its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nmt8.serve.pool import RETRIES, Pool, WorkerDied

ROOT = Path(__file__).resolve().parents[1]


# -- setups and tasks (module level: spawned workers import them) ---------------
def make_state():
    return {"pid": os.getpid()}


def broken_setup():
    raise FileNotFoundError("model 'x' not found")


def square(state, x):
    return x * x


def pid(state, _=None):
    return state["pid"]


def refuse(state, x):
    raise ValueError(f"item {x}: refused")


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle calls it with one argument: fails
        super().__init__(f"{a} and {b}")


def raise_unpicklable(state, x):
    raise Unpicklable("this", "that")


def die_once(state, marker, x):
    """SIGKILL this worker the first time: the task that creates ``marker``
    (created once, whichever worker comes first)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return x + 1
    os.kill(os.getpid(), signal.SIGKILL)


def always_die(state, x):
    os.kill(os.getpid(), signal.SIGKILL)


def alive(p: int) -> bool:
    try:
        os.kill(p, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{p}/stat") as fh:  # a zombie is not alive
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids, timeout=30.0) -> list[int]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return left


# -- the contract -------------------------------------------------------------------
def test_results_in_order_and_workers_start_as_tasks_need_them():
    with Pool(2, make_state) as pool:
        assert pool.started == 0  # nothing yet
        assert pool.apply(square, 7) == 49
        assert pool.started == 1  # one task: one worker
        assert pool.map(square, range(20), chunksize=3) == [x * x for x in range(20)]
        assert pool.started == 2


def test_a_worker_exception_is_raised_here_with_its_message():
    with Pool(1, make_state) as pool:
        with pytest.raises(ValueError, match=r"^item 3: refused$"):
            pool.apply(refuse, 3)
        # it is the task's fault, not the worker's: the worker goes on
        first = pool.apply(pid)
        with pytest.raises(RuntimeError, match=r"Unpicklable: this and that"):
            pool.apply(raise_unpicklable, 0)
        assert pool.apply(pid) == first and pool.started == 1


def test_a_setup_error_is_raised_at_the_first_task():
    with Pool(1, broken_setup) as pool, \
            pytest.raises(FileNotFoundError, match="model 'x' not found"):
        pool.apply(square, 2)


def test_a_killed_worker_is_replaced_and_its_task_runs_again(tmp_path):
    marker = str(tmp_path / "died")
    with Pool(2, make_state) as pool:
        tickets = [pool.submit(die_once, marker, x) for x in range(6)]
        assert [pool.result(t) for t in tickets] == [1, 2, 3, 4, 5, 6]
        assert Path(marker).exists()  # one died: its task ran again, on the
        assert pool.started in (2, 3)  # other worker or on a replacement


def test_a_task_whose_workers_keep_dying_is_one_clear_error():
    with Pool(1, make_state) as pool:
        with pytest.raises(WorkerDied) as err:
            pool.apply(always_die, 1, what="translating lines 1-8 of in.de")
        assert pool.started == RETRIES + 1
        assert pool.apply(square, 3) == 9  # the pool goes on
    msg = str(err.value)
    assert "was killed by SIGKILL" in msg
    assert "while translating lines 1-8 of in.de" in msg
    assert f"tried {RETRIES + 1} times" in msg


def test_a_worker_killed_between_tasks_is_replaced():
    with Pool(1, make_state) as pool:
        first = pool.apply(pid)
        os.kill(first, signal.SIGKILL)
        assert wait_gone([first]) == []
        assert pool.apply(square, 5) == 25
        assert pool.apply(pid) != first and pool.started == 2


def test_no_worker_outlives_the_pool_even_on_an_error():
    with pytest.raises(KeyError), Pool(2, make_state) as pool:
        pids = pool.map(pid, range(8))
        raise KeyError("the caller's own error")
    assert len(set(pids)) >= 1
    assert wait_gone(set(pids)) == []


def test_a_worker_exits_when_its_parent_is_killed(tmp_path):
    script = ("import sys, time\n"
              "from nmt8.serve.pool import Pool\n"
              "from tests.test_pool import make_state, pid\n"
              "if __name__ == '__main__':\n"
              "    pool = Pool(1, make_state)\n"
              "    print(pool.apply(pid), flush=True)\n"
              "    time.sleep(600)\n")
    path = tmp_path / "parent.py"
    path.write_text(script)
    parent = subprocess.Popen([sys.executable, str(path)], cwd=ROOT,
                              stdout=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        worker = int(parent.stdout.readline())
        assert alive(worker)
        parent.kill()
        parent.wait(30)
        assert wait_gone([worker]) == []  # its pipe closed: it left
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("jobs,retries", [(0, 1), (1.5, 1), (True, 1), (1, -1)])
def test_bad_settings(jobs, retries):
    with pytest.raises(ValueError, match="must be an int"):
        Pool(jobs, make_state, retries=retries)
