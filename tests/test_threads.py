"""nmt8.serve.threads: the one helper that limits native threads, checked with
threadpoolctl's own view of the loaded libraries."""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from nmt8.serve.threads import blas_threads, check_threads, describe, thread_pools


def blas_counts() -> list[int]:
    """Threads of every BLAS library threadpoolctl finds (numpy has one)."""
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    assert counts, "no BLAS library found under numpy: nothing would be tested"
    return counts


def in_a_thread(f):
    """f() in a thread that ends at once: since threadpoolctl 3.7 the thread
    that sets OpenBLAS's (process-wide) limit controls it while it lives."""
    t = threading.Thread(target=f)
    t.start()
    t.join()


@pytest.fixture
def two_threads():
    """Start each test from a limit of 2 BLAS threads (this machine's cores),
    so that a limit of 1 is visible, with no live thread in control of
    OpenBLAS's limit; the limits before come back after."""
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    in_a_thread(lambda: threadpool_limits(2))
    if blas_counts() != [2] * len(blas_counts()):
        pytest.fail("cannot set 2 BLAS threads here: test needs 2 cores")
    yield
    in_a_thread(lambda: threadpool_limits(before))


def test_limits_inside_and_restores_after(two_threads):
    with blas_threads(1):
        assert blas_counts() == [1] * len(blas_counts())
    assert blas_counts() == [2] * len(blas_counts())


def test_nested_blocks_work_as_a_stack(two_threads):
    with blas_threads(1):
        with blas_threads(2):
            assert set(blas_counts()) == {2}
        assert set(blas_counts()) == {1}
    assert set(blas_counts()) == {2}


def test_none_changes_nothing(two_threads):
    with threadpool_limits(1), blas_threads(None):
        assert set(blas_counts()) == {1}
    with blas_threads(None):
        assert set(blas_counts()) == {2}


def test_restores_after_an_exception(two_threads):
    with pytest.raises(RuntimeError), blas_threads(1):
        raise RuntimeError("boom")
    assert set(blas_counts()) == {2}


def test_works_inside_threadpool_limits_of_the_same_thread(two_threads):
    """Inside threadpoolctl's own block this thread controls OpenBLAS's
    limit, and a block of nmt8 in it still limits."""
    with threadpool_limits(2):
        with blas_threads(1):
            assert set(blas_counts()) == {1}
        assert set(blas_counts()) == {2}


def test_overlapping_blocks_in_two_threads_restore_the_original(two_threads):
    # A enters, B enters, A leaves while B still decodes, B leaves: a naive
    # save/restore per block would leave 2 threads during B's work and 1
    # thread for good afterwards
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with blas_threads(1):
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with blas_threads(1):
            b_in.set()
            a_out.wait(10)
            seen["b after a left"] = set(blas_counts())

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert seen["b after a left"] == {1}
    assert set(blas_counts()) == {2}


@pytest.mark.parametrize("n,error", [(0, ValueError), (-2, ValueError),
                                     ("1", TypeError), (1.5, TypeError),
                                     (True, TypeError)])
def test_bad_thread_counts(n, error):
    with pytest.raises(error, match="blas_threads"):
        check_threads(n)
    with pytest.raises(error), blas_threads(n):
        pass


def test_describe_names_the_blas(two_threads):
    assert any(p["user_api"] == "blas" for p in thread_pools())
    with blas_threads(1):
        text = describe()
    assert "(blas): 1 thread" in text


_IMPORT_ALL = r"""
import importlib, json, os, pkgutil, sys
import nmt8
before = dict(os.environ)
done, failed = [], {}
for info in pkgutil.walk_packages(nmt8.__path__, "nmt8."):
    try:
        importlib.import_module(info.name)
        done.append(info.name)
    except ImportError as err:  # an optional extra (torch, dask) missing
        failed[info.name] = str(err)
changed = {k for k in set(before) | set(os.environ)
           if before.get(k) != os.environ.get(k)}
print(json.dumps({"done": done, "failed": failed, "changed": sorted(changed)}))
"""


def test_importing_nmt8_leaves_the_environment_alone():
    # nmt8.lab.kernels.bench used to set OMP_NUM_THREADS & co. at import time, which
    # changed every BLAS started later in the process and its children
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_NUM_THREADS")}
    r = subprocess.run([sys.executable, "-c", _IMPORT_ALL], env=env, check=True,
                       capture_output=True, text=True, timeout=300)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["changed"] == []
    for name in ("nmt8.lab.kernels.bench", "nmt8.lab.speed.measure", "nmt8.serve.parallel",
                 "nmt8.serve.threads", "nmt8.cli"):
        assert name in res["done"], res["failed"].get(name)
