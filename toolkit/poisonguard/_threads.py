"""Thread limits for small data (scikit-learn's OpenMP code, the BLAS).

On small data a second thread buys little (measured here, 2 cores, gradient boosting with 100
iterations: 2,000 rows 0.87 s with one thread or two; 20,000 rows 1.7 s vs 1.1 s; 100,000 rows
4.3 s vs 2.8 s), but when other processes keep the cores busy, the threads of a parallel region wait
at every barrier for one that is not running: a label-flip fit on 1,000 rows that takes 0.4 s took
283 s beside another boosting job (4.5 s single-threaded). Small data therefore run on one thread;
larger data keep the libraries' defaults (or the user's ``OMP_NUM_THREADS`` and friends).

Independent pieces of work (the folds of an out-of-fold fit) run side by side instead, each on
one thread (:func:`map_tasks`): there is no barrier between them to wait at, and on a quiet machine
they use the cores as well as the libraries' own threads do or better (5 folds of the default boosted
model on adult's 22,792 rows, 2 cores: 3.56 s on one thread, 2.17 s on two OpenMP threads, 2.31 s
as two single-threaded folds at a time).

Finding the native thread pools (``threadpoolctl`` walks the loaded shared libraries) costs
10-30 ms; a scan enters the limit a dozen times or more, so the pools are looked up once per
process, after scikit-learn (whose OpenMP runtime and BLAS are what is limited) is loaded.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Work on fewer rows than this runs with one OpenMP and one BLAS thread.
SMALL_FIT_ROWS = 20_000


def threads_for(n_rows: int) -> Any:
    """A context manager: one thread in every native thread pool when ``n_rows < SMALL_FIT_ROWS``,
    else a no-op. Nests (the innermost limit applies)."""
    if n_rows >= SMALL_FIT_ROWS:
        return contextlib.nullcontext()
    return one_thread()


def one_thread() -> Any:
    """A context manager: one thread in every native thread pool loaded (for work that is one of
    several parallel tasks, such as a Spark task)."""
    return _controller().limit(limits=1)


_local = threading.local()


@contextlib.contextmanager
def serial() -> Iterator[None]:
    """A context manager: one thread in every native pool, and :func:`map_tasks` runs its tasks one
    after another in the calling thread (for work that is itself one of several parallel tasks,
    such as a Spark task)."""
    depth = getattr(_local, "serial", 0)
    _local.serial = depth + 1
    try:
        with one_thread():
            yield
    finally:
        _local.serial = depth


def task_workers(n_tasks: int) -> int:
    """How many of ``n_tasks`` independent tasks :func:`map_tasks` runs at once: the cores this
    process may use (its CPU affinity), at most ``OMP_NUM_THREADS`` when the user set it, 1 inside
    :func:`serial`."""
    if n_tasks <= 1 or getattr(_local, "serial", 0):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        cores = os.cpu_count() or 1
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        cores = min(cores, int(env))
    return max(1, min(n_tasks, cores))


def map_tasks(fn: Callable[[T], R], items: Sequence[T], *, rows: int = 0) -> list[R]:
    """``[fn(x) for x in items]``, the calls run side by side on :func:`task_workers` threads, each
    with one thread in every native pool (``fn`` should spend its time in code that releases the
    GIL, as scikit-learn's and NumPy's compiled code does). With a single worker, the calls run in
    order under :func:`threads_for` of ``rows``. Results come back in the order of ``items``;
    the first exception raised is raised here."""
    workers = task_workers(len(items))
    if workers <= 1:
        with threads_for(rows):
            return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    def run(x: T) -> R:
        # OpenMP's thread count is per thread (a new thread starts from the default): limit it here;
        # the BLAS's is global, limited once around the pool
        with _controller().limit(limits=1, user_api="openmp"):
            return fn(x)

    with one_thread(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poisonguard-task") as pool:
        return list(pool.map(run, items))


@functools.lru_cache(maxsize=1)
def _controller() -> Any:
    import sklearn  # noqa: F401  - loads the OpenMP runtime and the BLAS the limit is for
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
