"""Which engine runs a stage: ``pandas`` (one process, the default), ``spark`` or ``auto``."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError

__all__ = ["AUTO_SPARK_BYTES", "ENGINES", "choose_engine"]

ENGINES = ("pandas", "spark", "auto")
#: ``auto`` picks Spark for inputs of at least this many bytes on disk (1 GiB: about 8 M rows of 20
#: numeric features in Parquet, whose pandas frame would take ~1.5 GB and the scan several times
#: that), and for ``s3a://`` paths; else pandas.
AUTO_SPARK_BYTES = 1 << 30


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def choose_engine(engine: str | None, data: str | os.PathLike[str]) -> str:
    """``"pandas"`` or ``"spark"`` for ``engine`` (None: pandas) and the input ``data``."""
    engine = engine or "pandas"
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    text = str(data)
    if text.startswith(("s3a://", "s3://")):
        return "spark"
    return "spark" if _size(Path(text)) >= AUTO_SPARK_BYTES else "pandas"
