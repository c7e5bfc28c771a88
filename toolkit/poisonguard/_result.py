"""The base of every stage result (scan, validation, provenance, drift, gate).

A result is a frozen dataclass that owns its exit code (``return_code``), converts to and
from plain JSON-able dicts, and carries ``schema_version`` and the tool version so that a
report read months later says what wrote it. Foreign objects (Great Expectations results,
MLflow runs, boto3 responses) are converted to plain data before they are stored here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from ._io import atomic_write_json
from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .verdict import CheckBuilder

__all__ = ["StageResult", "jsonable"]

R = TypeVar("R", bound="StageResult")


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths, dataclasses, sets and datetimes to JSON types.

    Non-finite floats become ``None`` so that every report is strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.metadata.get("serialize", True)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [jsonable(v) for v in items]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    return obj


def _build(tp: Any, value: Any) -> Any:
    """Rebuild nested dataclasses (and tuples of them) from plain data, following type hints."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _build(arg, value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        hints = typing.get_type_hints(tp)
        kwargs = {f.name: _build(hints.get(f.name, Any), value[f.name])
                  for f in dataclasses.fields(tp) if f.init and f.name in value}
        return tp(**kwargs)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(_build(inner, v) for v in value)
    if origin is list and isinstance(value, list):
        args = typing.get_args(tp)
        return [_build(args[0] if args else Any, v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class StageResult:
    """Common behaviour of the stage results; subclasses are frozen dataclasses.

    Subclasses set ``KIND`` (the stage name) and ``SCHEMA_VERSION``, and implement
    :attr:`return_code` (0 clean, 1 gate failed), :meth:`gate_checks` and :meth:`summary`
    (what the gate says of the stage).

    Schema versions are ``MAJOR.MINOR``: a minor bump adds fields (older readers ignore them), a
    major bump renames or removes some. :meth:`from_dict` reads the majors in ``READS_SCHEMAS``
    (by default only the current one), bringing older ones up to date with ``_upgrade``,
    and refuses any other with a one-line :class:`~poisonguard.errors.DataError` that says to
    re-run the stage.
    """

    KIND: ClassVar[str] = "result"
    SCHEMA_VERSION: ClassVar[str] = "1.0"
    #: The schema majors :meth:`from_dict` reads (None: only the major of ``SCHEMA_VERSION``).
    READS_SCHEMAS: ClassVar[tuple[int, ...] | None] = None

    @property
    def return_code(self) -> int:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def passed(self) -> bool:
        """True when the stage found nothing that fails the gate."""
        return self.return_code == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able dict with ``kind``, ``schema_version``, ``tool_version``, ``return_code``."""
        body = jsonable(self)
        return {
            "kind": self.KIND,
            "schema_version": self.SCHEMA_VERSION,
            "tool": {"name": "poisonguard", "version": __version__},
            "return_code": self.return_code,
            **body,
        }

    @classmethod
    def schema_major(cls, version: Any) -> int | None:
        """The major of a ``MAJOR.MINOR`` schema version (None when it is not one)."""
        head = str(version).split(".")[0] if isinstance(version, (str, int)) and not isinstance(version, bool) else ""
        return int(head) if head.isdigit() else None

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any], *, source: str | None = None) -> R:
        """Rebuild a result from :meth:`to_dict` output (extra keys are ignored).

        Parameters
        ----------
        data : dict
            The result's JSON, with its ``kind`` (taken as this class's when absent) and
            ``schema_version``.
        source : str, default=None
            Where ``data`` came from (a file), named first in the error messages.

        Raises
        ------
        DataError
            Another kind of result; a ``schema_version`` missing, or of a major this version
            does not read (a report written by an older or newer poisonguard); required fields
            missing. One line, naming ``source``, that says what to do.
        """
        from .errors import DataError

        where = f"{source}: " if source else ""
        kind = data.get("kind", cls.KIND)
        if kind != cls.KIND:
            raise DataError(f"{where}expected a {cls.KIND!r} result, got a {kind!r} result; pass the {cls.KIND} report")
        current = typing.cast(int, cls.schema_major(cls.SCHEMA_VERSION))
        readable = cls.READS_SCHEMAS or (current,)
        found = data.get("schema_version")
        major = cls.schema_major(found)
        if major not in readable:
            what = ("no schema_version" if found is None else f"schema_version {found!r}")
            newer = major is not None and major > current
            todo = (f"upgrade poisonguard, or re-run the {cls.KIND} stage with this poisonguard version" if newer
                    else f"re-run the {cls.KIND} stage with this poisonguard version")
            raise DataError(f"{where}a {cls.KIND} result with {what}, which poisonguard {__version__} does not read "
                            f"(it reads {cls.KIND} schema {', '.join(f'{m}.x' for m in readable)}); {todo}")
        data = cls._upgrade(dict(data), str(found))
        try:
            built = _build(cls, {k: v for k, v in data.items()})
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            msg = " ".join(str(exc).split())
            raise DataError(f"{where}not a valid {cls.KIND} result of schema {found} ({msg}); re-run the "
                            f"{cls.KIND} stage with this poisonguard version") from None
        return typing.cast(R, built)

    @classmethod
    def _upgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        """``data`` of schema ``version`` (a major of ``READS_SCHEMAS``, maybe an older minor) in the
        current schema's shape; ``data`` is a copy the method may change."""
        return data

    def gate_checks(self, checks: CheckBuilder) -> None:
        """Add the stage's checks to ``checks`` (one per thing that can fail; see :mod:`poisonguard.gate`).

        This default, for a result with no finer checks, gives one check ``result``: passed when
        :attr:`return_code` is 0.
        """
        rc = self.return_code
        checks.add("result", "passed" if rc == 0 else "failed", f"the stage's return code is {rc}")

    def summary(self) -> str:
        """One line for people: what the stage found (the gate's stage summary)."""
        return f"{self.KIND} result, return code {self.return_code}"

    def to_json(self, indent: int = 2) -> str:
        """The result as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False)

    def write_json(self, path: str | Path) -> Path:
        """Write the result atomically as JSON and return the path."""
        return atomic_write_json(path, self.to_dict())

    def flat_metrics(self) -> dict[str, int | float]:
        """The figures a person compares between runs, as one flat mapping of names to numbers.

        ``failed`` is the stage's verdict as 0/1 (1 when :attr:`return_code` is not 0); each
        stage adds its counts (rows quarantined, expectations failed, drift figures...). No
        paths, digests, run ids or times: this is what ``dvc exp show`` and ``dvc metrics diff``
        compare, so it only changes when the data or the parameters do.
        """
        return {"failed": int(self.return_code != 0)}

    def write_metrics(self, path: str | Path) -> Path:
        """Write :meth:`flat_metrics` atomically as JSON (a DVC metrics file) and return the path."""
        values = {k: float(f"{v:.6g}") if isinstance(v, float) else v  # 6 significant digits: no float noise
                  for k, v in jsonable(self.flat_metrics()).items() if v is not None}  # NaN: left out
        return atomic_write_json(path, values)
