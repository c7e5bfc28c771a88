"""Running a suite with Great Expectations and converting its answer into a :class:`ValidationResult`."""

from __future__ import annotations

import dataclasses
import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from .._io import sha256_file
from .._result import StageResult, jsonable
from ..data import MISSING_MARKERS, TabularDataset, load_dataset
from ..errors import SuiteError, UsageError
from ._suite import read_suite_json, suite_columns, suite_from_dict

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations import ExpectationSuite

    from ..verdict import CheckBuilder

__all__ = ["ExpectationOutcome", "ValidationResult", "validate", "validate_frame"]

#: Default bound on the rows reported per expectation.
MAX_ROWS = 1000

_NUMERIC_TYPES = {"int64", "Int64Dtype", "float64", "Float64Dtype", "int", "float"}


@dataclasses.dataclass(frozen=True)
class ExpectationOutcome:
    """What one expectation found, in plain data.

    Attributes
    ----------
    type : str
        The expectation type (``expect_column_values_to_be_between``).
    column : str or None
        The column it is about (``column``, else ``column_A``), None for table expectations.
    kwargs : dict
        Its arguments as in the suite.
    success : bool
        Whether it held.
    severity : {"critical", "warning", "info"}
        Great Expectations' severity; a failed critical expectation fails the gate.
    observed_value : object
        What Great Expectations observed (a mean, a type name, shares of labels...), when it reports one.
    details : dict or None
        Extra facts some expectations report (the worst label of a distribution...).
    unexpected_count : int or None
        Rows that broke a row-level expectation.
    unexpected_rows : tuple of int
        The ``row`` (0-based position in the input) of the first rows that broke it, at most
        ``max_rows`` of them, ascending.
    exception : str or None
        The error when Great Expectations could not evaluate it (a missing column...).
    why : str or None
        The reason recorded in the suite's ``meta`` for this expectation.
    """

    type: str
    column: str | None
    kwargs: dict[str, Any]
    success: bool
    severity: str = "critical"
    observed_value: Any = None
    details: dict[str, Any] | None = None
    unexpected_count: int | None = None
    unexpected_rows: tuple[int, ...] = ()
    exception: str | None = None
    why: str | None = None

    @property
    def critical(self) -> bool:
        """True when a failure of this expectation fails the gate."""
        return self.severity == "critical"

    @property
    def rows_truncated(self) -> bool:
        """True when more rows broke the expectation than are listed."""
        return self.unexpected_count is not None and self.unexpected_count > len(self.unexpected_rows)

    def describe(self) -> str:
        """One line for people: type, column, and what was found."""
        target = f" column={self.column!r}" if self.column is not None else ""
        args = {k: v for k, v in self.kwargs.items() if k not in ("column", "column_A")}
        if args:
            target += f" {_short(args, 80)}"
        if self.exception:
            found = f"could not be evaluated: {self.exception}"
        elif self.unexpected_count:
            shown = ", ".join(map(str, self.unexpected_rows[:10]))
            more = " ..." if self.unexpected_count > min(10, len(self.unexpected_rows)) else ""
            found = f"{self.unexpected_count} rows: {shown}{more}"
        else:
            found = f"observed {_short(self.observed_value)}"
            if self.details:
                found += f" ({_short(self.details)})"
        return f"{self.type}{target}: {found}"


def _short(value: Any, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _brief(value: Any, limit: int = 160) -> str:
    """A value as one line of JSON (strings as they are), cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gate_text(o: ExpectationOutcome) -> str:
    """What an outcome found, for the gate's check message."""
    if o.exception:
        return f"could not be evaluated: {o.exception}"
    n = o.unexpected_count
    if n:
        rows = list(o.unexpected_rows)
        more = " …" if n > min(10, len(rows)) else ""
        return f"{n} rows broke it: {', '.join(map(str, rows[:10]))}{more}"
    found = f"observed {_brief(o.observed_value)}"
    if o.details:
        found += f" ({_brief(o.details)})"
    return found


@dataclasses.dataclass(frozen=True)
class ValidationResult(StageResult):
    """The result of validating data against a Great Expectations suite.

    ``return_code`` is 1 when a critical expectation failed, else 0. Build one with
    :func:`validate` or :func:`validate_frame`.

    Attributes
    ----------
    suite_name : str
        The suite's name.
    outcomes : tuple of ExpectationOutcome
        One per expectation, in suite order.
    inputs : dict
        ``{"data": {path, sha256, rows, columns}, "suite": {path, sha256, expectations}}``.
    parameters : dict
        ``{"max_rows": ...}``.
    failures : tuple of dict
        Expectations Great Expectations could not evaluate (``type``, ``column``, ``error``);
        they are also failed outcomes.
    great_expectations_version : str
        The Great Expectations version that ran the suite.

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.data import TabularDataset
    >>> from poisonguard.validation import infer_suite, validate_frame
    >>> trusted = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 10, "y": ["a", "b"] * 20}),
    ...                                     label="y")
    >>> result = validate_frame(trusted, infer_suite(trusted))
    >>> result.return_code, result.outcome("expect_column_values_to_be_between", "x").success
    (0, True)
    """

    KIND: ClassVar[str] = "validation"
    SCHEMA_VERSION: ClassVar[str] = "1.0"

    suite_name: str
    outcomes: tuple[ExpectationOutcome, ...]
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    failures: tuple[dict[str, Any], ...] = ()
    great_expectations_version: str = ""

    @property
    def return_code(self) -> int:
        """1 when a critical expectation failed, else 0."""
        return 1 if self.critical_failures else 0

    @property
    def failed(self) -> tuple[ExpectationOutcome, ...]:
        """Every failed expectation, in suite order."""
        return tuple(o for o in self.outcomes if not o.success)

    @property
    def critical_failures(self) -> tuple[ExpectationOutcome, ...]:
        """Failed expectations whose severity is critical."""
        return tuple(o for o in self.outcomes if not o.success and o.critical)

    def flat_metrics(self) -> dict[str, int | float]:
        """``failed`` (a critical expectation failed), ``expectations``, ``expectations_failed``,
        ``critical_failed`` and ``rows`` (of the data validated)."""
        rows = (self.inputs.get("data") or {}).get("rows")
        return {**super().flat_metrics(), "expectations": len(self.outcomes), "expectations_failed": len(self.failed),
                "critical_failed": len(self.critical_failures), **({"rows": rows} if isinstance(rows, int) else {})}

    def gate_checks(self, checks: CheckBuilder) -> None:
        """One check per expectation, in suite order: failed when a critical one failed, warning when a
        non-critical one did. Named ``<type>[<column>]``, located at the validated data file."""
        loc = (self.inputs.get("data") or {}).get("path")
        for o in self.outcomes:
            name = o.type + (f"[{o.column}]" if o.column is not None else "")
            args = {k: v for k, v in o.kwargs.items() if k not in ("column", "column_A")}
            what = f"{_brief(args, 120)}: " if args else ""
            if o.success:
                checks.add(name, "passed", f"{what}{_gate_text(o)}", loc)
            elif o.critical:
                checks.add(name, "failed", f"critical expectation failed: {what}{_gate_text(o)}", loc)
            else:
                checks.add(name, "warning", f"{o.severity} expectation failed: {what}{_gate_text(o)}", loc)

    def summary(self) -> str:
        """``suite 'S': N expectations, C critical failed, W warning(s); data PATH (R rows)``."""
        data = self.inputs.get("data") or {}
        crit = len(self.critical_failures)
        warn = len(self.failed) - crit
        return (f"suite {self.suite_name!r}: {len(self.outcomes)} expectations, {crit} critical failed, "
                f"{warn} warning(s); data {data.get('path') or 'in memory'} ({data.get('rows', '?')} rows)")

    def outcome(self, type: str, column: str | None = None) -> ExpectationOutcome:
        """The first outcome of expectation ``type`` (on ``column``); KeyError when there is none."""
        for o in self.outcomes:
            if o.type == type and (column is None or o.column == column):
                return o
        raise KeyError(f"no {type} expectation{f' on column {column!r}' if column else ''} in this result")

    def __str__(self) -> str:
        n = len(self.outcomes)
        crit = len(self.critical_failures)
        other = len(self.failed) - crit
        data = self.inputs.get("data", {})
        where = f"data {data.get('path') or 'in memory'} ({data.get('rows', '?')} rows), suite {self.suite_name!r}"
        if crit:
            head = f"validation FAILED: {crit} critical and {other} other of {n} expectations failed; {where}"
        elif other:
            head = f"validation passed with warnings: {other} non-critical of {n} expectations failed; {where}"
        else:
            head = f"validation passed: all {n} expectations held; {where}"
        lines = [head]
        for o in self.failed:
            tag = "FAIL" if o.critical else o.severity.upper()[:4]
            lines.append(f"  {tag:4}  {o.describe()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for o in self.outcomes:
            status = "ok" if o.success else ("FAIL" if o.critical else o.severity)
            found = (o.exception or (f"{o.unexpected_count} rows: " + ", ".join(map(str, o.unexpected_rows[:10]))
                                     if o.unexpected_count else _short(o.observed_value)))
            rows.append(f"<tr><td>{e(status)}</td><td>{e(o.type)}</td><td>{e(str(o.column or ''))}</td>"
                        f"<td>{e(o.severity)}</td><td>{e(str(found))}</td></tr>")
        summary = e(str(self).splitlines()[0])
        return (f"<div><p>{summary}</p><table><thead><tr><th>status</th><th>expectation</th><th>column</th>"
                f"<th>severity</th><th>found</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


# -- running ----------------------------------------------------------------------------------
def validate(data: str | os.PathLike[str] | TabularDataset | pd.DataFrame,
             suite: str | os.PathLike[str] | dict[str, Any] | ExpectationSuite, *,
             max_rows: int = MAX_ROWS, engine: str = "pandas", master: str | None = None) -> ValidationResult:
    """Validate data against a Great Expectations suite, with Great Expectations.

    Parameters
    ----------
    data : path-like, TabularDataset or pandas.DataFrame
        The data; a path is read with :func:`poisonguard.data.load_dataset`, so ``row`` is the
        0-based position in the file, with the suite's ``meta.poisonguard.na_values`` as the
        missing-value markers (see :func:`suite_na_values`; recorded in the result's parameters).
    suite : path-like, dict or great_expectations.ExpectationSuite
        The suite (a file written by ``poisonguard expectations infer`` or by Great Expectations).
    max_rows : int, default=1000
        Most rows reported per expectation (bounded for very dirty data).
    engine : {"pandas", "spark", "auto"}, default="pandas"
        ``"spark"``: a path (Parquet or CSV, a folder of partitions, ``s3a://``) validated on
        Great Expectations' Spark datasource (:func:`poisonguard.spark.validate`); ``"auto"``:
        Spark for ``s3a://`` and inputs of 1 GiB or more.
    master : str, default=None
        With the Spark engine: the Spark master (see :func:`poisonguard.spark.session`).

    Returns
    -------
    ValidationResult

    Raises
    ------
    SuiteError
        Missing or malformed suite, unknown expectation type, or a suite for other columns.
    DataError
        The data cannot be read.
    """
    if engine not in ("pandas", "spark", "auto"):
        raise UsageError(f"engine={engine!r}: choose one of pandas, spark, auto")
    if engine != "pandas" and isinstance(data, (str, os.PathLike)):
        from ..spark._engine import choose_engine

        if choose_engine(engine, data) == "spark":
            from ..spark import validate as spark_validate

            return spark_validate(data, suite, max_rows=max_rows, master=master)
    elif engine not in ("pandas", "auto"):
        raise UsageError(f"engine={engine!r} needs a path (Parquet or CSV) to read with Spark; for an in-memory "
                         "dataset use engine='pandas'")
    if master is not None and engine == "pandas":
        raise UsageError("master=... needs engine='spark'")
    resolved = resolve_suite(suite)  # a bad suite is reported before the data is read
    reader = None
    if isinstance(data, (str, os.PathLike)):
        reader = suite_na_values(resolved[1], resolved[2].get("path"))
        data = load_dataset(data, missing_markers=reader["na_values"])
    return validate_frame(data, suite, max_rows=max_rows, _resolved=resolved, _reader=reader)


def suite_na_values(suite: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    """The cell values a suite expects to be read as missing: ``meta.poisonguard.na_values``.

    Returns ``{"na_values": [...], "from": "suite"}``, or poisonguard's
    :data:`~poisonguard.data.MISSING_MARKERS` with ``"from": "default"`` for a suite that does not
    say (one written by GE, or by an older poisonguard).

    Raises
    ------
    SuiteError
        ``na_values`` that is not a list of strings.
    """
    meta = (suite.get("meta") or {}).get("poisonguard") or {}
    if "na_values" not in meta:
        return {"na_values": list(MISSING_MARKERS), "from": "default"}
    values = meta["na_values"]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SuiteError(f"{where or 'the suite'}: meta.poisonguard.na_values must be a list of strings (the cell "
                         f"values read as missing, e.g. [\"\", \"?\"]); got {values!r}. Fix or remove it.")
    return {"na_values": list(values), "from": "suite"}


def validate_frame(data: TabularDataset | pd.DataFrame,
                   suite: str | os.PathLike[str] | dict[str, Any] | ExpectationSuite, *,
                   max_rows: int = MAX_ROWS, _resolved: tuple[Any, ...] | None = None,
                   _reader: dict[str, Any] | None = None) -> ValidationResult:
    """Validate an in-memory dataset or frame (what :func:`validate` runs after loading).

    Parameters
    ----------
    data : TabularDataset or pandas.DataFrame
        The data; a frame's rows are numbered by position (its index is ignored).
    suite : path-like, dict or great_expectations.ExpectationSuite
        The suite. A suite object is copied, never modified.
    max_rows : int, default=1000
        Most rows reported per expectation.

    Returns
    -------
    ValidationResult
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 0:
        raise UsageError(f"The 'max_rows' parameter of validate must be an int >= 0. Got {max_rows!r} instead.")
    suite_obj, suite_json, suite_info = resolve_suite(suite) if _resolved is None else _resolved
    if isinstance(data, TabularDataset):
        frame = data.frame
        data_info: dict[str, Any] = {"path": str(data.path) if data.path else None, "sha256": data.sha256}
    elif isinstance(data, pd.DataFrame):
        frame = data
        data_info = {"path": None, "sha256": None}
    else:
        raise UsageError(f"validate_frame needs a TabularDataset or a pandas DataFrame; got {type(data).__name__}")
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        frame = frame.reset_index(drop=True)
    columns = [str(c) for c in frame.columns]
    data_info.update({"rows": len(frame), "columns": len(columns)})
    check_fits(suite_json, columns, suite_info.get("path"))

    from ._gx import gx, pandas_batch

    g = gx()
    batch = pandas_batch(frame)
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": int(max_rows),
                     "return_unexpected_index_query": False, "exclude_unexpected_values": False}
    ge_result = batch.validate(suite_obj, result_format=result_format)
    # GE does not return results in suite order; our private copy's ids put them back
    converted = sorted(((result_order(evr, i), convert_outcome(evr, frame, max_rows)) for i, evr in enumerate(ge_result.results)),
                       key=lambda pair: pair[0])
    outcomes = [o for _, o in converted]
    failures = [{"type": o.type, "column": o.column, "error": o.exception} for o in outcomes if o.exception]
    return ValidationResult(suite_name=suite_obj.name, outcomes=tuple(outcomes),
                            inputs={"data": data_info, "suite": suite_info},
                            parameters={"max_rows": int(max_rows),
                                        **({"na_values": _reader["na_values"], "na_values_from": _reader["from"]}
                                           if _reader is not None else {})},
                            failures=tuple(failures),
                            great_expectations_version=g.__version__)


_ID_PREFIX = "poisonguard-order-"


def result_order(evr: Any, fallback: int) -> tuple[int, int]:
    """Sort key of a GE result: ``(0, position in the suite)`` from the id :func:`resolve_suite` gave
    its expectation, else ``(1, fallback)``."""
    eid = str(getattr(evr.expectation_config, "id", "") or "")
    if eid.startswith(_ID_PREFIX) and eid[len(_ID_PREFIX):].isdigit():
        return (0, int(eid[len(_ID_PREFIX):]))
    return (1, fallback)  # pragma: no cover - every expectation of our private copy has an id


def resolve_suite(suite: Any) -> tuple[ExpectationSuite, dict[str, Any], dict[str, Any]]:
    """A private copy of the suite, its JSON dict, and facts about it.

    The copy's expectations get ids that number them, to restore suite order in the result;
    the caller's suite is never modified (GE writes the batch id into a suite it runs).
    """
    check = True
    if isinstance(suite, (str, os.PathLike)):
        p = Path(suite)
        data = read_suite_json(p)
        info: dict[str, Any] = {"path": str(p), "sha256": sha256_file(p)}
    elif isinstance(suite, dict):
        data = suite
        info = {"path": None, "sha256": None}
    elif hasattr(suite, "to_json_dict") and hasattr(suite, "expectations"):
        data, check = suite.to_json_dict(), False
        info = {"path": None, "sha256": None}
    else:
        raise SuiteError(f"a suite must be a path, a dict or a Great Expectations ExpectationSuite; "
                         f"got {type(suite).__name__}")
    where = info["path"] or "the suite"
    if check:
        suite_from_dict(data, where=where)  # names the first bad expectation
    numbered = {**data, "expectations": [{**exp, "id": f"{_ID_PREFIX}{i}"}
                                         for i, exp in enumerate(data["expectations"])]}
    obj = suite_from_dict(numbered, where=where, check=False)
    info["expectations"] = len(obj.expectations)
    return obj, data, info


def check_fits(suite: dict[str, Any], columns: list[str], path: str | None) -> None:
    named = suite_columns(suite)
    if not named:
        return
    present = set(columns)
    missing = [c for c in named if c not in present]
    if len(missing) * 2 > len(named):
        where = path or "the suite"
        shown = ", ".join(map(repr, missing[:6])) + (" ..." if len(missing) > 6 else "")
        raise SuiteError(f"{where}: the suite is for other columns: {len(missing)} of the {len(named)} columns it "
                         f"names are not in the data ({shown}); infer a suite for this data with "
                         "`poisonguard expectations infer DATA --label COL --out SUITE`")


def convert_outcome(evr: Any, frame: pd.DataFrame | None, max_rows: int, *,
                    columns: list[str] | None = None) -> ExpectationOutcome:
    """One GE ExpectationValidationResult -> plain ExpectationOutcome (GE objects are not kept).

    ``frame`` is the data validated, when in memory (the rows of a failed type expectation are found
    in it); else ``columns`` names the data's columns. Row ids GE reports as records (on Spark, with
    ``unexpected_index_column_names``) are read from their ``__pg_row``; the rows are ascending."""
    from great_expectations.util import convert_to_json_serializable

    config = evr.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs or {}).items() if k != "batch_id"}
    column = kwargs.get("column", kwargs.get("column_A"))
    result = dict(evr.result or {})
    exception = _exception_message(evr.exception_info)
    present = set(frame.columns if frame is not None else columns or [])
    missing = [c for c in _columns_of(kwargs) if c not in present]
    if missing:
        exception = f"column {missing[0]!r} is not in the data"
    rows_list = result.get("partial_unexpected_index_list")
    rows = tuple(sorted(int(r["__pg_row"]) if isinstance(r, dict) else int(r) for r in rows_list[:max_rows])) \
        if rows_list else ()
    unexpected_count = result.get("unexpected_count")
    meta = config.meta or {}
    note = meta.get("poisonguard") if isinstance(meta, dict) else None
    why = note.get("why") if isinstance(note, dict) else None
    severity = getattr(config.severity, "value", config.severity) or "critical"
    success = bool(evr.success)
    etype = str(config.type)
    if (not success and exception is None and etype in ("expect_column_values_to_be_of_type",
                                                       "expect_column_values_to_be_in_type_list")
            and isinstance(column, str) and frame is not None):
        expected = kwargs.get("type_list") or [kwargs.get("type_")]
        count, found = _type_offenders(frame[column], expected, max_rows)
        if count:
            unexpected_count, rows = count, found
    observed = convert_to_json_serializable(result.get("observed_value"))
    details = result.get("details")
    return ExpectationOutcome(
        type=etype, column=column if isinstance(column, str) else None,
        kwargs=jsonable(convert_to_json_serializable(kwargs)), success=success, severity=str(severity),
        observed_value=jsonable(observed),
        details=jsonable(convert_to_json_serializable(details)) if details is not None else None,
        unexpected_count=None if unexpected_count is None else int(unexpected_count), unexpected_rows=rows,
        exception=exception, why=why,
    )


def _columns_of(kwargs: dict[str, Any]) -> list[str]:
    return [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]


def _exception_message(info: Any) -> str | None:
    """The first error message in GE's ``exception_info`` (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for c in candidates:
        if c.get("raised_exception") or c.get("exception_message"):
            msg = str(c.get("exception_message") or "error")
            lines = [line for line in msg.strip().splitlines() if line.strip()]
            return " ".join((lines[-1] if lines else "error").split())[:300]
    return None


def _type_offenders(s: pd.Series, expected: list[Any], max_rows: int) -> tuple[int, tuple[int, ...]]:
    """Rows whose value does not fit an expected numeric type (GE judges types per column, not per row)."""
    wanted = {str(t) for t in expected if t is not None}
    if not wanted & _NUMERIC_TYPES:
        return 0, ()
    present = s.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        if wanted & {"float64", "Float64Dtype", "float"}:
            return 0, ()
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = present & (np.floor(v) != v)
    else:
        num = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = present & np.isnan(num)
        if not wanted & {"float64", "Float64Dtype", "float"}:
            with np.errstate(invalid="ignore"):
                bad |= present & ~np.isnan(num) & (np.floor(num) != num)
    idx = np.flatnonzero(bad)
    return int(idx.size), tuple(int(i) for i in idx[:max_rows])
