"""Thread limits for small data (scikit-learn's OpenMP code, the BLAS).

On small data a second thread buys little (measured here, 2 cores, gradient boosting with 100
iterations: 2,000 rows 0.87 s with one thread or two; 20,000 rows 1.7 s vs 1.1 s; 100,000 rows
4.3 s vs 2.8 s), but when other processes keep the cores busy, the threads of a parallel region wait
at every barrier for one that is not running: a label-flip fit on 1,000 rows that takes 0.4 s took
283 s beside another boosting job (4.5 s single-threaded). Small data therefore run on one thread;
larger data keep the libraries' defaults (or the user's ``OMP_NUM_THREADS`` and friends).

Finding the native thread pools (``threadpoolctl`` walks the loaded shared libraries) costs
10-30 ms; a scan enters the limit a dozen times or more, so the pools are looked up once per
process, after scikit-learn (whose OpenMP runtime and BLAS are what is limited) is loaded.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

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


@functools.lru_cache(maxsize=1)
def _controller() -> Any:
    import sklearn  # noqa: F401  - loads the OpenMP runtime and the BLAS the limit is for
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
