"""The Spark session poisonguard runs on: local Spark by default, a cluster or Spark Connect by configuration.

* no master given and no ``SPARK_REMOTE``: ``local[*]`` (every core of this machine), the driver
  memory of :data:`DEFAULT_DRIVER_MEMORY` (``POISONGUARD_SPARK_DRIVER_MEMORY`` overrides it), no
  web UI, Arrow for the pandas round trips, Spark's own log off on the terminal (poisonguard
  reports failures in one line; ``POISONGUARD_SPARK_LOG4J`` names a log4j2.properties of your own);
* ``master="spark://host:7077"``, ``"yarn"``, ``"local-cluster[2,1,1024]"``, ...: that master;
* ``master="sc://host:15002"`` or ``SPARK_REMOTE`` set: Spark Connect (the ``spark`` extra brings
  ``pyspark[connect]``). The cluster's Python workers need poisonguard installed;
  ``SPARK_REMOTE=local[2]`` starts a Connect server on this machine (its workers run this
  interpreter). The scan and validation run on Connect; ``manifest create --engine spark`` needs a
  classic session (it runs tasks over a list of files, an RDD, which Connect has not).

A session already running in this process is reused as it is (a notebook's, a test's).
Missing pieces end in a one-line :class:`~poisonguard.errors.UsageError` (exit 2): no
``pyspark`` (``pip install 'poisonguard[spark]'``), no Java (Spark 4 runs on Java 17 or 21).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = ["DEFAULT_DRIVER_MEMORY", "is_connect", "java_version", "master_of", "parallelism", "session"]

#: Driver memory of the local session (``spark.driver.memory``); in local mode the executors run
#: inside the driver's JVM, so this bounds the JVM's heap.
DEFAULT_DRIVER_MEMORY = "2g"
_LOG4J = Path(__file__).with_name("log4j2.properties")


def java_version() -> str:
    """The first line ``java -version`` prints, or a :class:`UsageError` when there is no Java."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not java:
        raise UsageError("--engine spark needs Java 17 or 21 and none was found (no java on PATH, no JAVA_HOME); "
                         "install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or run --engine pandas")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--engine spark: {java} -version failed ({exc}); fix the Java installation or run "
                         "--engine pandas") from None
    first = (out.stderr or out.stdout).strip().splitlines()
    return first[0] if first else java


def _pyspark() -> Any:
    try:
        import pyspark
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs PySpark: pip install 'poisonguard[spark]' (or run --engine pandas)") \
            from None
    del pyspark
    return SparkSession


def session(master: str | None = None, *, app: str = "poisonguard") -> Any:
    """A Spark session: the active one, else a new one on ``master`` (see the module docstring).

    Parameters
    ----------
    master : str, default=None
        Spark master URL; ``sc://...`` for Spark Connect. None: ``SPARK_REMOTE`` when set,
        else ``local[*]``.
    app : str, default="poisonguard"
        Application name shown by the cluster manager.
    """
    SparkSession = _pyspark()
    remote = master if master and master.startswith("sc://") else (None if master else os.environ.get("SPARK_REMOTE"))
    if remote:
        # a local Connect server (SPARK_REMOTE=local[N]) starts its Python workers from this interpreter;
        # a cluster's workers need poisonguard installed there
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.remote(remote).appName(app)
        if remote.startswith("local"):  # a server this process starts: the settings of local[*] below
            builder = (builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                       .config("spark.driver.extraJavaOptions", _log_option())
                       .config("spark.sql.shuffle.partitions", str(max(2, 2 * (os.cpu_count() or 1))))
                       .config("spark.sql.session.timeZone", "UTC"))
        try:
            with warnings.catch_warnings():  # the launch settings are also tried as runtime ones: refused, said
                warnings.filterwarnings("ignore", message="Failed to set spark", category=UserWarning)
                return builder.getOrCreate()
        except ImportError as exc:
            raise UsageError(f"Spark Connect ({remote}) needs pyspark[connect]: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the server's error, in one line
            raise UsageError(f"cannot connect to Spark Connect at {remote}: {str(exc).splitlines()[0][:300]}") from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    java_version()  # a one-line error before Spark prints a JVM launch failure
    # the Python workers must run this interpreter (its numpy, pandas, pyarrow and poisonguard)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    log = _log_option()
    builder = (SparkSession.builder.master(master or "local[*]").appName(app)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", log)
               .config("spark.executor.extraJavaOptions", log))
    if not master or master.startswith("local"):
        builder = builder.config("spark.driver.memory",
                                 os.environ.get("POISONGUARD_SPARK_DRIVER_MEMORY", DEFAULT_DRIVER_MEMORY))
        builder = builder.config("spark.sql.shuffle.partitions", str(max(2, 2 * (os.cpu_count() or 1))))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - a JVM that does not start: one line, not its stack trace
        raise UsageError(f"Spark did not start on {master or 'local[*]'}: {str(exc).splitlines()[0][:300]}") from None
    if not os.environ.get("POISONGUARD_SPARK_LOG4J"):
        spark.sparkContext.setLogLevel("OFF")
    return spark


def _log_option() -> str:
    log4j = Path(os.environ["POISONGUARD_SPARK_LOG4J"]) if os.environ.get("POISONGUARD_SPARK_LOG4J") else _LOG4J
    return f"-Dlog4j.configurationFile={log4j.resolve().as_uri()}"


def is_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect session (no ``sparkContext``, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def master_of(spark: Any) -> str:
    """The session's master URL (for a Spark Connect session: the server's ``spark.master``, or ``connect``)."""
    if not is_connect(spark):
        return str(spark.sparkContext.master)
    try:
        return f"connect ({spark.conf.get('spark.master')})"
    except Exception:  # noqa: BLE001 - a server that does not tell
        return "connect"


def parallelism(spark: Any) -> int:
    """Cores the session's tasks run on: ``defaultParallelism``; on Spark Connect, half the server's
    ``spark.sql.shuffle.partitions`` (its conventional two partitions a core)."""
    if not is_connect(spark):
        return int(spark.sparkContext.defaultParallelism)
    try:
        return max(1, int(spark.conf.get("spark.sql.shuffle.partitions")) // 2)
    except Exception:  # noqa: BLE001 - a server that does not tell
        return 1

