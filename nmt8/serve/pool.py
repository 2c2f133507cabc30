"""One pool of worker processes, with one error contract: the paper's
deployment (Section 3: "each CPU core translates a single sentence at a
time") on one machine. ``nmt8 translate --jobs N``
(``nmt8.serve.windows.translate_stream_parallel``), ``translate_parallel``
and the lab's ``WorkerPool`` (``nmt8.serve.parallel``) all run on it.

Each worker is a process (started with ``spawn``) that builds its state once,
``setup()`` (e.g. a Translator), then runs the tasks ``fn(state, *args)``
it is sent over a pipe, one at a time. :meth:`Pool.submit` returns a ticket,
:meth:`Pool.result` waits for it; results come back whatever the order the
workers finish in.

The contract, which the tests check:

* **Workers start as tasks need them**, at most ``jobs``: a pool of 1000
  given one task starts one process.
* **A worker that dies** (``kill -9``, the out-of-memory killer, a crash in
  C) is replaced, and the task it held runs again on the new worker, at
  most ``retries`` times more; then that task's result is a
  :class:`WorkerDied` naming the task and how the worker died. A task is a
  pure function of its arguments, so running it again gives what the first
  run would have.
* **An exception in a worker** (in ``setup`` or in a task) is raised in the
  parent when that task's result is asked for, with its type and the
  worker's message (a RuntimeError naming the type when the exception
  cannot be pickled). It is not retried: it is the task's fault, not the
  worker's.
* **Signals.** Workers ignore SIGINT from their start, so Ctrl-C in a
  terminal (sent to the whole process group) prints nothing from a worker:
  the parent decides. Leaving the ``with`` block
  ends every worker and reaps it (killed, if it left on an exception): no
  orphan. A worker whose parent is killed sees its pipe close and exits.

Does not: share memory between workers, run across machines
(``nmt8.serve.dask``), or know anything of translation.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import pickle
import signal
import threading
from multiprocessing.connection import wait
from multiprocessing.reduction import ForkingPickler

RETRIES = 2  # a task whose worker dies runs at most this many times more
_SIGNALS = {signal.SIGINT, signal.SIGTERM}

__all__ = ["RETRIES", "Pool", "WorkerDied"]


class WorkerDied(RuntimeError):
    """A task's worker process died ``retries + 1`` times running it."""


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait until the block ends (main thread only; its
    Python handlers are swapped), then arrive: what must not be cut (a
    window's lines, reaping the workers) is done whole."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    saved = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in saved:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(pending):
            signal.raise_signal(s)  # now, to the handler that was there


@contextlib.contextmanager
def sigint_ignored_by_children():
    """Processes started inside (and by threads started inside) ignore
    SIGINT from their first instruction: an ignored signal stays ignored
    across exec, so a Ctrl-C while a worker imports prints no traceback.
    Here, SIGINT is blocked meanwhile and arrives at the end (in the main
    thread; from another thread, processes are started as they are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        if signal.SIGINT in signal.sigpending():
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # raises it
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, old)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _portable(err: BaseException) -> BaseException:
    """``err`` if it survives pickling, else a RuntimeError with its words."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 - any failure: send the words instead
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


def _serve(conn, setup) -> None:
    """A worker's life: build the state, then answer tasks until told to
    stop (None) or the parent is gone (the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
    try:
        state, error = setup(), None
    except Exception as err:  # noqa: BLE001 - raised for every task instead
        state, error = None, _portable(err)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if task is None:
            return
        ticket, fn, args = task
        try:
            if error is not None:
                raise error
            reply = (ticket, True, fn(state, *args))
        except Exception as err:  # noqa: BLE001 - the parent raises it
            reply = (ticket, False, _portable(err))
        try:
            data = ForkingPickler.dumps(reply)
        except Exception as err:  # noqa: BLE001 - a result that cannot travel
            data = ForkingPickler.dumps((ticket, False, RuntimeError(
                f"the result cannot be pickled: {type(err).__name__}: {err}")))
        try:
            conn.send_bytes(data)
        except OSError:
            return


def _how(exitcode) -> str:
    """How a worker process ended, in words."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = " (kill -9, or the out-of-memory killer)" if name == "SIGKILL" else ""
        return f"was killed by {name}{why}"
    return f"exited with status {exitcode}"


def _each(state, fn, items) -> list:
    return [fn(state, item) for item in items]


class _Worker:
    __slots__ = ("answered", "conn", "proc", "ticket")

    def __init__(self, proc, conn):
        self.proc, self.conn, self.ticket, self.answered = proc, conn, None, 0


class Pool:
    """At most ``jobs`` worker processes, each holding ``setup()``.

    ``setup``: a picklable zero-argument callable, called once in each
    worker; tasks are picklable module-level functions ``fn(state, *args)``.
    ``retries``: how many times a task whose worker died runs again (on a
    new worker) before its result is :class:`WorkerDied`. Use as a context
    manager; see the module docstring for the contract.
    """

    def __init__(self, jobs: int, setup, retries: int = RETRIES):
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        self.jobs, self.setup, self.retries = jobs, setup, retries
        self.started = 0  # worker processes started, replacements included
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._queue: collections.deque[int] = collections.deque()  # waiting
        self._tasks: dict[int, list] = {}  # ticket -> [fn, args, what, tries]
        self._done: dict[int, tuple[bool, object]] = {}  # ticket -> (ok, value)
        self._dropped: set[int] = set()  # tickets whose results are not wanted
        self._next = 0

    # -- tasks ---------------------------------------------------------------
    def submit(self, fn, *args, what: str = "running a task") -> int:
        """Queue ``fn(state, *args)``; returns its ticket. ``what`` says
        what the task does, for a :class:`WorkerDied` message ("translating
        lines 1-64 of in.de")."""
        ticket, self._next = self._next, self._next + 1
        self._tasks[ticket] = [fn, args, what, 0]
        self._queue.append(ticket)
        self._dispatch()
        return ticket

    def ready(self, ticket: int) -> bool:
        """Whether ``ticket``'s result is in (without waiting, or giving a
        waiting task to a worker: what an interrupted caller asks)."""
        self._poll(0, dispatch=False)
        return ticket in self._done

    def result(self, ticket: int):
        """Wait for ``ticket``'s result; raise the worker's exception, or
        :class:`WorkerDied`."""
        if ticket not in self._done and ticket not in self._tasks:
            raise ValueError(f"no task {ticket!r} in this pool")
        while ticket not in self._done:
            self._poll(None)
        ok, value = self._done.pop(ticket)
        if not ok:
            raise value
        return value

    def apply(self, fn, *args, what: str = "running a task"):
        """``fn(state, *args)`` in a worker, waited for."""
        return self.result(self.submit(fn, *args, what=what))

    def map(self, fn, items, chunksize: int = 1,
            what: str = "running item") -> list:
        """``[fn(state, item) for item in items]`` over the workers,
        ``chunksize`` items a task, in input order (``what``: e.g.
        "translating sentence", numbered in messages). On an error the
        other tasks' results are dropped."""
        items = list(items)
        tickets = []
        for i in range(0, len(items), chunksize):
            j = min(i + chunksize, len(items))
            span = f"{what} {j}" if j == i + 1 else f"{what}s {i + 1}-{j}"
            tickets.append(self.submit(_each, fn, items[i:j], what=span))
        out: list = []
        try:
            for t in tickets:
                out += self.result(t)
        except BaseException:
            self.drop(tickets)
            raise
        return out

    def drop(self, tickets) -> None:
        """Forget these tasks: not run if still waiting, results dropped."""
        for t in tickets:
            self._done.pop(t, None)
            if t in self._tasks:
                self._dropped.add(t)
        queued = [t for t in self._queue if t not in self._dropped]
        for t in set(self._queue) - set(queued):
            del self._tasks[t]
            self._dropped.discard(t)
        self._queue = collections.deque(queued)

    # -- workers -------------------------------------------------------------
    def _start(self) -> _Worker:
        mine, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(theirs, self.setup),
                                 name=f"nmt8-worker-{self.started + 1}",
                                 daemon=True)
        # no traceback from the worker while it imports; no signal here
        # between its start and its record (it could be left behind)
        with signals_held(), sigint_ignored_by_children():
            proc.start()
            theirs.close()  # so the worker's death closes the pipe
            self.started += 1
            w = _Worker(proc, mine)
            self._workers.append(w)
        return w

    def _dispatch(self) -> None:
        """Give waiting tasks to idle workers, starting workers up to jobs."""
        while self._queue:
            w = next((w for w in self._workers if w.ticket is None), None)
            if w is None:
                if len(self._workers) >= self.jobs:
                    return
                w = self._start()
            ticket = self._queue.popleft()
            fn, args = self._tasks[ticket][:2]
            try:
                data = ForkingPickler.dumps((ticket, fn, args))
            except BaseException:
                del self._tasks[ticket]  # the caller's mistake: theirs to see
                raise
            w.ticket = ticket
            try:
                w.conn.send_bytes(data)
            except OSError:  # died while idle: not this task's try (unless
                self._lost(w, counted=not w.answered)  # it never lived)

    def _poll(self, timeout, dispatch: bool = True) -> None:
        """Collect what the busy workers have finished (waiting up to
        ``timeout`` seconds, None: until something happens); ``dispatch``:
        give waiting tasks to idle workers, before and after."""
        if dispatch:
            self._dispatch()
        busy = [w for w in self._workers if w.ticket is not None]
        if not busy:
            return
        by = {w.conn: w for w in busy}
        by.update({w.proc.sentinel: w for w in busy})
        ready = wait(list(by), timeout)
        for w in dict.fromkeys(by[r] for r in ready):
            try:
                answered = w.conn.poll()
            except OSError:
                answered = False
            if not answered:
                self._lost(w)  # only its sentinel: it died
                continue
            try:
                ticket, ok, value = w.conn.recv()
            except (EOFError, OSError):
                self._lost(w)
                continue
            w.ticket = None
            w.answered += 1
            del self._tasks[ticket]
            if ticket in self._dropped:
                self._dropped.discard(ticket)
            else:
                self._done[ticket] = (ok, value)
        if dispatch:
            self._dispatch()

    def _lost(self, w: _Worker, counted: bool = True) -> None:
        """A worker died: reap it, run its task again or give up on it."""
        self._workers.remove(w)
        w.conn.close()
        w.proc.join(5)
        if w.proc.exitcode is None:  # a pipe error, yet alive: end it
            w.proc.kill()
            w.proc.join()
        ticket = w.ticket
        if ticket is None:
            return
        if ticket in self._dropped:
            self._dropped.discard(ticket)
            del self._tasks[ticket]
            return
        task = self._tasks[ticket]
        task[3] += counted
        if task[3] > self.retries:
            del self._tasks[ticket]
            self._done[ticket] = (False, WorkerDied(
                f"worker process {w.proc.pid} {_how(w.proc.exitcode)} while "
                f"{task[2]}; tried {task[3]} times, each on a new worker"))
        else:
            self._queue.appendleft(ticket)  # next, on a new worker

    # -- the end -------------------------------------------------------------
    def close(self) -> None:
        """Let every worker finish its task and exit; reap them."""
        with signals_held():
            for w in self._workers:
                with contextlib.suppress(OSError):
                    w.conn.send(None)
            for w in self._workers:
                w.proc.join(10)
                if w.proc.exitcode is None:
                    w.proc.kill()
                    w.proc.join()
                w.conn.close()
            self._workers = []

    def terminate(self) -> None:
        """Kill every worker now and reap it (its task is abandoned)."""
        with signals_held():  # a second Ctrl-C must not leave one behind
            for w in self._workers:
                w.proc.kill()
            for w in self._workers:
                w.proc.join()
                w.conn.close()
            self._workers = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    def __repr__(self) -> str:
        return (f"Pool(jobs={self.jobs}, {len(self._workers)} worker(s) "
                f"running, {len(self._tasks)} task(s) waiting or running)")
