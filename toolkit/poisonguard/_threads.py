"""Thread limits for small data (scikit-learn's OpenMP code, the BLAS).

On small data a second thread buys little (measured here, 2 cores, gradient boosting with 100
iterations: 2,000 rows 0.87 s with one thread or two; 20,000 rows 1.7 s vs 1.1 s; 100,000 rows
4.3 s vs 2.8 s), but when other processes keep the cores busy, the threads of a parallel region wait
at every barrier for one that is not running: a label-flip fit on 1,000 rows that takes 0.4 s took
283 s beside another boosting job (4.5 s single-threaded). Small data therefore run on one thread;
larger data keep the libraries' defaults (or the user's ``OMP_NUM_THREADS`` and friends).
"""

from __future__ import annotations

import contextlib
from typing import Any

#: Work on fewer rows than this runs with one OpenMP and one BLAS thread.
SMALL_FIT_ROWS = 20_000


def threads_for(n_rows: int) -> Any:
    """A context manager: one thread in every native thread pool when ``n_rows < SMALL_FIT_ROWS``,
    else a no-op. Nests (the innermost limit applies)."""
    if n_rows >= SMALL_FIT_ROWS:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)
