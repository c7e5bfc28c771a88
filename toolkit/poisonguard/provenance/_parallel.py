"""Hashing many sources at once: threads in this process, or Spark tasks where the data are.

A folder of thousands of partition files, or an S3 prefix of thousands of objects, is hashed one
file per task. Each task streams its file through one reused buffer
(:func:`~poisonguard.provenance._hashing.hash_file`, :meth:`S3Reader.digest`), so memory is bounded
by the number of tasks running at once, whatever the files' sizes. The records come back in the
order of the items, so the manifest is the same, byte for byte, whichever engine made it.

* ``engine="pandas"`` (this process; the name is the other stages'): a thread pool of
  ``workers`` threads (default: :data:`DEFAULT_WORKERS`); :mod:`hashlib` and the reads release the
  GIL, so threads hash in parallel.
* ``engine="spark"``: the items spread over four tasks a core (``sparkContext.parallelize``), on
  the session of :func:`poisonguard.spark.session` (local or a cluster's master; not Spark
  Connect, which has no RDDs). Local paths must be readable by the executors under the same name (local mode,
  or a shared file system); S3 objects are read by each executor with its own boto3 client
  (credentials from the executor's environment or instance role, never shipped with the task).

An error in a task (an object deleted meanwhile, access denied) comes back as the same one-line
error it would be in this process.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_WORKERS", "record_all"]

#: Threads that hash local files and S3 objects at once (file reads and S3 downloads wait on I/O).
DEFAULT_WORKERS = min(16, (os.cpu_count() or 1) + 4)


def _local(item: tuple[Path, str, str | None], base: Path, tabular: bool) -> Any:
    from ._sources import record_local

    path, name, coll = item
    return record_local(path, name, coll, base, tabular=tabular)


@functools.lru_cache(maxsize=4)
def _task_reader(endpoint_url: str | None) -> Any:
    from ._s3 import S3Reader

    return S3Reader(endpoint_url)  # one client per executor process, from its own credentials


def _s3(item: tuple[str, str, str | None], endpoint_url: str | None, reader: Any = None) -> Any:
    from ._s3 import record_s3

    bucket, key, coll = item
    return record_s3(bucket, key, coll, reader if reader is not None else _task_reader(endpoint_url))


def _guarded(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` returning ``("ok", value)`` or ``("error", module, class, message)``: a Spark task's
    error comes back as data, to be raised again on the driver as itself."""

    def task(item: Any) -> Any:
        try:
            return ("ok", fn(item))
        except Exception as exc:  # noqa: BLE001 - re-raised on the driver by _unwrap
            return ("error", type(exc).__module__, type(exc).__qualname__, str(exc))

    return task


def _unwrap(results: list[Any]) -> list[Any]:
    import builtins

    from .. import errors

    out = []
    for r in results:
        if r[0] == "error":
            _, module, qualname, message = r
            # only poisonguard's own errors and builtin ones are raised again as themselves: a name
            # that came back from a task is never imported
            home = errors if module == errors.__name__ else builtins if module == "builtins" else None
            cls: Any = getattr(home, qualname, None) if home is not None and "." not in qualname else None
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                cls = RuntimeError
            try:
                exc = cls(message)
            except TypeError:  # an exception class that takes other arguments
                exc = RuntimeError(message)
            raise exc
        out.append(r[1])
    return out


def record_all(local: Sequence[tuple[Path, str, str | None]], s3: Sequence[tuple[str, str, str | None]], *,
               base: Path, tabular: bool, endpoint_url: str | None, reader: Any = None, engine: str = "pandas",
               master: str | None = None, workers: int | None = None) -> list[tuple[dict[str, Any], list[Any]]]:
    """``(record, findings)`` of every local file, then of every S3 object, in the items' order.

    ``reader`` (an :class:`~poisonguard.provenance._s3.S3Reader`) serves the threads; Spark's tasks
    make their own.
    """
    local_fn = functools.partial(_local, base=base, tabular=tabular)
    if engine == "spark":
        from ..spark import session

        from ..errors import UsageError
        from ..spark._session import is_connect

        remote = master.startswith("sc://") if master else bool(os.environ.get("SPARK_REMOTE"))
        spark = None if remote else session(master)
        if spark is None or is_connect(spark):
            raise UsageError("manifest create --engine spark runs Spark tasks over a list of files, which Spark "
                             "Connect cannot (no RDDs); give a cluster's master URL with --spark-master, or hash "
                             "with threads (--engine pandas)")
        sc = spark.sparkContext
        items = [("l", it) for it in local] + [("s", it) for it in s3]
        if not items:
            return []
        s3_fn = functools.partial(_s3, endpoint_url=endpoint_url)

        def one(tagged: tuple[str, Any]) -> Any:
            tag, it = tagged
            return local_fn(it) if tag == "l" else s3_fn(it)

        # a few items a task: four tasks a core balance files of unequal sizes
        slices = min(len(items), 4 * max(1, sc.defaultParallelism))
        return _unwrap(sc.parallelize(items, numSlices=slices).map(_guarded(one)).collect())
    if engine != "pandas":
        from ..errors import UsageError

        raise UsageError(f"engine {engine!r}: choose pandas (threads in this process) or spark")
    s3_fn = functools.partial(_s3, endpoint_url=endpoint_url, reader=reader)
    n = max(1, int(workers or DEFAULT_WORKERS))
    if n == 1 or len(local) + len(s3) <= 1:
        return [local_fn(it) for it in local] + [s3_fn(it) for it in s3]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="poisonguard-hash") as pool:
        return list(pool.map(local_fn, local)) + list(pool.map(s3_fn, s3))
