"""``poisonguard.spark``: the scan past one machine, on Apache Spark (``--engine spark``).

Local Spark (``local[*]``) is the embedded default; the same code runs on a cluster
(``master="spark://..."``, ``"yarn"``) or through Spark Connect (``sc://...``, ``SPARK_REMOTE``).
Models are fitted on a bounded sample on the driver and applied to every row in partitions;
copies are found by a ``groupBy`` over all rows; the decision is one Benjamini–Hochberg over all
rows (see :mod:`poisonguard.spark._scan`). :func:`validate` runs a Great Expectations suite on
GE's Spark datasource (:mod:`poisonguard.spark._validate`). Needs ``pip install 'poisonguard[spark]'`` and Java 17+.

Nothing here is imported by ``import poisonguard``: PySpark loads only when this is used.
"""

from __future__ import annotations

from ._engine import AUTO_SPARK_BYTES, ENGINES, choose_engine
from ._scan import DEFAULT_SAMPLE_ROWS, read, scan, with_row_ids
from ._session import DEFAULT_DRIVER_MEMORY, java_version, session
from ._validate import validate

__all__ = ["AUTO_SPARK_BYTES", "DEFAULT_DRIVER_MEMORY", "DEFAULT_SAMPLE_ROWS", "ENGINES", "choose_engine",
           "java_version", "read", "scan", "session", "validate", "with_row_ids"]
