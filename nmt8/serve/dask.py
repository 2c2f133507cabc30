"""Translation across many machines with Dask: the paper's one sentence per
core (Section 3), scaled out.

Each Dask worker process builds its Translator ONCE (a per-process cache
keyed by the Translator's settings) and translates the partitions it is
given; run workers with one thread each (``--nthreads 1``), one process per
core. Two entry points:

* :func:`translate_bag`: a ``dask.bag.Bag`` of lines in, a Bag of
  translations out, partition order kept (lazy, for Dask pipelines).
* :func:`translate_file`: a file (or lines) in, translations written to
  ``out`` IN INPUT ORDER as partitions complete (out-of-order ones wait in a
  buffer), at most ``max_in_flight`` partitions submitted or waiting at once,
  so memory stays bounded for a file of any size. Bad lines follow
  ``nmt8.serve.stream``'s rule: the run stops at the first one with ONE ValueError
  naming its line, after writing every line before it.

Fault tolerance is Dask's: when a worker dies, the scheduler recomputes the
partitions it held on another worker; the output loses and repeats no line.
Ctrl-C: the workers of ``--dask local`` ignore SIGINT (from their start),
so this process alone stops: it writes what came back in order,
cancels the rest and closes the cluster, with one line on stderr
(``nmt8.serve.stream.run``).

Several machines::

    # on one machine (the scheduler; port 8786)
    dask scheduler
    # on each machine, one single-threaded worker process per core
    dask worker tcp://host:8786 --nworkers N --nthreads 1
    # anywhere: the command reads stdin, writes stdout in order
    nmt8 translate --dask tcp://host:8786 < in.de > out.en

Every worker must have nmt8 and the model installed (``nmt8[dask]``).
``--dask local`` starts a LocalCluster on this machine instead: one
single-threaded worker process per core.

Does not: install anything on the workers, or retry a line the translator
refuses (that is the input's fault, not a worker's).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import threading
import warnings

from nmt8.serve.lines import read_lines
from nmt8.serve.parallel import TranslatorFactory, cores
from nmt8.serve.pool import sigint_ignored_by_children
from nmt8.serve.windows import (
    Interrupted,
    line_writer,
    numbered_windows,
    progress_bar,
    translate_numbered,
    write_lines,
)

DEFAULT_PARTITION = 32  # lines per submitted partition

__all__ = ["DEFAULT_PARTITION", "connect", "translate_bag", "translate_file"]

_cache: dict = {}  # key -> translate callable, in each worker process
_cache_lock = threading.Lock()


def _require_dask():
    try:
        import dask.bag  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as err:
        raise ImportError("nmt8.serve.dask needs Dask: pip install 'nmt8[dask]' "
                          f"(dask[distributed]); {err}") from None


def _key(make_translate) -> str:
    return hashlib.sha256(pickle.dumps(make_translate)).hexdigest()


def _cached(key, make_translate):
    with _cache_lock:  # one build even if a worker runs several threads
        tr = _cache.get(key)
        if tr is None:
            tr = _cache[key] = make_translate()
    return tr


def _translate_partition(lines, key, make_translate):
    return list(_cached(key, make_translate)(list(lines)))


def _translate_window(block, key, make_translate, name):
    return translate_numbered(_cached(key, make_translate), block, name)


def translate_bag(bag, batch_size: int | None = None, **translator_kwargs):
    """A Bag of the translations of ``bag``'s lines, partition by partition.

    Keyword arguments are those of ``nmt8.Translator`` (a model may be a
    picklable zero-argument callable, built in the worker); ``batch_size``
    goes to ``translate`` when given. A refused line fails its partition with
    the translator's ValueError.
    """
    _require_dask()
    factory = TranslatorFactory(translator_kwargs, batch_size)
    return bag.map_partitions(_translate_partition, _key(factory), factory)


@contextlib.contextmanager
def connect(scheduler="local"):
    """A ``distributed.Client``: for ``"local"`` a LocalCluster of one
    single-threaded worker process per core (closed at the end), for an
    address (``tcp://host:8786``) that scheduler's, or ``scheduler`` itself
    when it is a Client (left open)."""
    _require_dask()
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler == "local":
        # the workers ignore SIGINT: Ctrl-C reaches this process alone, which
        # writes what it has and closes the cluster; a Ctrl-C while the
        # cluster starts waits until it has started
        with sigint_ignored_by_children(), warnings.catch_warnings():
            # another cluster's HTTP port: this one takes another, silently
            warnings.filterwarnings("ignore", "Port .* is already in use")
            cluster = LocalCluster(n_workers=cores(), threads_per_worker=1,
                                   processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
        with cluster, Client(cluster) as client:
            yield client
    elif isinstance(scheduler, str) and "://" in scheduler:
        with Client(scheduler) as client:
            yield client
    else:
        raise ValueError("scheduler must be 'local', an address such as "
                         f"'tcp://host:8786' or a distributed.Client, got "
                         f"{scheduler!r}")


def _numbered(source, name):
    """``(n, text)`` pairs from a path, a binary file or an iterable of
    lines (strings, or pairs already numbered)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            yield from read_lines(fh, name or str(source))
        return
    if hasattr(source, "read"):
        yield from read_lines(source, name)
        return
    for n, item in enumerate(source, 1):
        if isinstance(item, tuple):
            yield item
        elif isinstance(item, str):
            yield n, item
        else:
            raise TypeError(f"{name or '<input>'}, line {n}: expected str, got "
                            f"{type(item).__name__}")


def translate_file(source, out, scheduler="local", *,
                   partition_size: int = DEFAULT_PARTITION,
                   max_in_flight: int | None = None, make_translate=None,
                   batch_size: int | None = None, name: str | None = None,
                   progress: bool | None = None, **translator_kwargs) -> int:
    """Translate ``source`` on a Dask cluster into ``out``, in input order.

    source: a path, a binary file, or an iterable of lines; out: a text or
    binary file; scheduler: see :func:`connect`. ``max_in_flight``
    partitions at most are submitted or buffered (default: two per worker
    thread). Translator settings as keywords, or ``make_translate`` (a
    picklable zero-argument callable returning ``translate``). Returns the
    number of lines written.
    """
    _require_dask()
    from distributed import as_completed

    if make_translate is None:
        make_translate = TranslatorFactory(translator_kwargs, batch_size)
    elif translator_kwargs or batch_size is not None:
        raise TypeError("give Translator settings or make_translate, not both")
    if not isinstance(partition_size, int) or partition_size < 1:
        raise ValueError(f"partition_size must be an int >= 1, got "
                         f"{partition_size!r}")
    name = name or str(source if isinstance(source, (str, os.PathLike))
                       else getattr(source, "name", "<input>"))
    key, write = _key(make_translate), line_writer(out)
    bar, done = progress_bar(progress), 0
    with connect(scheduler) as client:
        limit = max_in_flight or max(2, 2 * sum(client.nthreads().values()))
        windows = numbered_windows(_numbered(source, name), partition_size)
        pending = as_completed()
        index = {}  # future key -> partition number
        results = {}  # partition number -> (outputs, error), not yet written
        state = {"submitted": 0, "written": 0, "read_error": None, "more": True}

        def submit():
            while state["more"] and state["submitted"] - state["written"] < limit:
                try:
                    block, read_error = next(windows)
                except StopIteration:
                    state["more"] = False
                    return
                fut = client.submit(_translate_window, block, key, make_translate,
                                    name, pure=False)
                index[fut.key] = state["submitted"]
                state["submitted"] += 1
                pending.add(fut)
                if read_error:
                    state["read_error"], state["more"] = read_error, False

        def flush_ready():
            nonlocal done
            while state["written"] in results:
                outs, error = results.pop(state["written"])
                write_lines(write, out, outs)
                done += len(outs)
                if bar is not None:
                    bar.update(len(outs))
                state["written"] += 1
                if error is not None:
                    raise error

        try:
            submit()
            for fut in pending:
                results[index.pop(fut.key)] = fut.result()
                flush_ready()
                submit()
            if state["read_error"]:
                raise state["read_error"]
        except (KeyboardInterrupt, Interrupted):
            flush_ready()  # what came back in order is complete: write it
            raise
        finally:
            for fut in list(pending.futures):
                fut.cancel()
            if bar is not None:
                bar.close()
    return done
