"""How many threads the native libraries under numpy may use: one per sentence.

The paper gives every core one sentence at a time (Section 3: "each CPU core
translates a single sentence at a time") and counts speed per core second, so
a decoder must not let OpenBLAS spread one sentence's narrow products over
the other cores: on a busy machine the extra threads only thrash. This module
is the one place nmt8 limits threads, through threadpoolctl:

* :func:`blas_threads` ``(n)``, a context manager: every thread pool
  threadpoolctl finds (BLAS, OpenMP), and PyTorch's own when torch is loaded,
  runs at most ``n`` threads inside the block; the previous limits come back
  after it. ``None`` leaves everything as it is.
* ``DEFAULT_BLAS_THREADS = 1``: what ``nmt8.Translator`` decodes with.
* :func:`thread_pools`: what threadpoolctl sees, for reports and tests.

OpenBLAS's limit (pthreads build, numpy's wheels) belongs to the process,
not to a Python thread, so blocks entered by several threads at once are
counted: the limit stays until the last block ends, then the limits from
before the first block come back. (threadpoolctl >= 3.7 lets only the first
thread that sets OpenBLAS's limit change it, while that thread lives, and
silently ignores the others; so this module orders the threads with its own
lock and makes each change to a pthreads OpenBLAS from a short-lived thread
of its own, which leaves no live controlling thread behind: a block works
in whichever thread enters it. threadpoolctl's public API only.)

Does not: change environment variables (no module of nmt8 does), pin
threads to cores, or start processes (``nmt8.serve.parallel`` does).
"""

from __future__ import annotations

import contextlib
import numbers
import sys
import threading

from threadpoolctl import ThreadpoolController

DEFAULT_BLAS_THREADS = 1  # one sentence per core: one thread per sentence

_lock = threading.Lock()
_controller: ThreadpoolController | None = None
_controller_modules = -1  # len(sys.modules) when _controller was built
_active: list[int] = []  # the n of every block now open, oldest first
_restore = None  # how to undo the first open block: (limiter, torch threads)


def check_threads(n, what: str = "blas_threads") -> int | None:
    """``n`` if it is None or an int >= 1; else a clear TypeError/ValueError
    naming ``what``. Also the check of worker processes
    (``nmt8.serve.parallel.check_jobs``, for which None means one per core)."""
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{what} must be an int >= 1 or None, got "
                        f"{type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"{what} must be >= 1, got {n}")
    return int(n)


def _get_controller() -> ThreadpoolController:
    # building a controller scans the loaded libraries (~0.5 ms): do it again
    # only after an import, which may have loaded a new one (torch's OpenMP)
    global _controller, _controller_modules
    if _controller is None or len(sys.modules) != _controller_modules:
        _controller = ThreadpoolController()
        _controller_modules = len(sys.modules)
    return _controller


def _split(controller: ThreadpoolController):
    """(OpenBLAS on pthreads, every other library) as two controllers: the
    first's limit belongs to the process and, since threadpoolctl 3.7, only
    the thread that first set it may change it while that thread lives."""
    libs = controller.info()
    blas = [lib["filepath"] for lib in libs
            if lib.get("internal_api") == "openblas"
            and lib.get("threading_layer") != "openmp"]
    rest = [lib["filepath"] for lib in libs if lib["filepath"] not in blas]
    return controller.select(filepath=blas), controller.select(filepath=rest)


def _obeyed(controller: ThreadpoolController, limits) -> bool:
    """Whether every library of ``controller`` runs the threads of
    ``limits`` (an int, or {filepath: n})."""
    return all(lib["num_threads"] == (limits if isinstance(limits, int)
                                      else limits[lib["filepath"]])
               for lib in controller.info())


def _in_thread(change) -> None:
    """``change()`` in a thread of its own, which ends at once: it keeps no
    control of OpenBLAS's limit after it. Its exception is raised here."""
    errors: list = []

    def run():
        try:
            change()
        except BaseException as err:  # noqa: BLE001 - raised again below
            errors.append(err)

    t = threading.Thread(target=run, name="nmt8-blas-threads")
    t.start()
    t.join()
    if errors:
        raise errors[0]


def _limit(limits) -> None:
    """Every library at ``limits`` threads (an int, or {filepath: n}).
    OpenBLAS on pthreads is set from a short-lived thread (no thread keeps
    control of it), or, when a live thread controls it (this one, inside
    threadpoolctl's own ``threadpool_limits``), from this thread."""
    blas, rest = _split(_get_controller())
    if rest.lib_controllers:
        rest.limit(limits=limits)
    if blas.lib_controllers:
        _in_thread(lambda: blas.limit(limits=limits))
        if not _obeyed(blas, limits):
            blas.limit(limits=limits)


def _set(n: int) -> None:
    _limit(n)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


@contextlib.contextmanager
def blas_threads(n: int | None = DEFAULT_BLAS_THREADS):
    """At most ``n`` threads in every native thread pool inside the block.

    ``with blas_threads(1): tr.translate(lines)``. ``None`` changes nothing.
    Nested blocks work as a stack; see the module docstring for threads.
    """
    global _restore
    if check_threads(n) is None:
        yield
        return
    with _lock:
        if not _active:  # remember the limits from before
            torch = sys.modules.get("torch")
            before = {lib["filepath"]: lib["num_threads"]
                      for lib in _get_controller().info()}
            _restore = (before,
                        torch.get_num_threads() if torch is not None else None)
        _active.append(n)
        _set(n)
    try:
        yield
    finally:
        with _lock:
            _active.remove(n)
            if _active:
                _set(_active[-1])
            else:
                before, torch_n = _restore
                _limit(before)
                torch = sys.modules.get("torch")
                if torch is not None and torch_n is not None:
                    torch.set_num_threads(torch_n)
                _restore = None


def thread_pools() -> list[dict]:
    """threadpoolctl's view: one dict per library (``user_api``,
    ``internal_api``, ``num_threads``, ``filepath``, ...)."""
    return _get_controller().info()


def describe() -> str:
    """One line: each thread pool and its current number of threads."""
    pools = thread_pools()
    if not pools:
        return "no native thread pools found"
    return ", ".join(f"{p['internal_api']} ({p['user_api']}): "
                     f"{p['num_threads']} thread(s)" for p in pools)
