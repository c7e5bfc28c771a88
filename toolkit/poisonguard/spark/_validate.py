"""``validate`` on Spark: a suite from ``expectations/`` run by Great Expectations' own Spark datasource.

``poisonguard validate DATA --suite S --engine spark`` reads DATA with Spark (Parquet or CSV: a
file, a folder of partitions, ``s3a://``; :func:`poisonguard.spark.read`), gives every row its
``row`` (:func:`~poisonguard.spark.with_row_ids`: position in the files' name order, then line
order) and validates it with Great Expectations 1.x's Spark datasource
(``context.data_sources.add_spark(...).add_dataframe_asset(...)``, a whole-dataframe batch), so
every expectation is computed by GE's ``SparkDFExecutionEngine`` where the data are. The result is
the same :class:`~poisonguard.validation.ValidationResult` with the same exit codes.

What differs from the pandas engine, and why:

* **Types.** A suite written from pandas names pandas dtypes (``int64``, ``float64``, ``str``); GE
  on Spark compares Spark type names (``LongType``...). Each ``expect_column_values_to_be_of_type``
  / ``..._in_type_list`` runs as ``expect_column_values_to_be_in_type_list`` over the Spark types
  that hold that pandas dtype (:data:`SPARK_TYPES`: ``int64`` is ``LongType`` or a narrower integer,
  as Spark's CSV reader infers); the result reports the suite's own expectation. A type name with
  no Spark counterpart is refused (one line, exit 2), never skipped.
* **Row ids.** The suite runs on the data as read. The expectations that *failed* on rows run a
  second time on the data with a ``row`` column (``__pg_row``: :func:`~poisonguard.spark.with_row_ids`),
  which is how GE reports the rows that broke them (``unexpected_index_column_names``): row ids in
  every query doubled the time of the demo suite, and asking GE for the rows of every expectation
  made it 2.7 times slower. An expectation that held with ``mostly`` reports how many rows broke
  it, not which (pandas lists them). When more rows
  broke an expectation than ``max_rows``, which of them are listed is Spark's choice (on pandas:
  the first ones).
* **Missing values.** Parquet nulls are nulls. Cells of text columns equal to one of the suite's
  ``na_values`` are read as missing, as on pandas; Spark's CSV reader infers a numeric column
  holding such a marker as text (give Parquet, or clean the markers upstream).
* **Custom expectations** (the label distribution, class ranges) have Spark implementations of
  their metrics (:mod:`poisonguard.validation._custom`); an expectation GE cannot compute on Spark
  fails with GE's error, it is not skipped.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

from ..errors import DataError, SuiteError, UsageError
from ._scan import read, with_row_ids
from ._session import master_of, session

__all__ = ["SPARK_TYPES", "spark_suite", "validate"]

_INT = ["LongType", "IntegerType", "ShortType", "ByteType"]
_FLOAT = ["DoubleType", "FloatType"]
#: The Spark types (GE's names on Spark) a column of each pandas dtype name of a suite may have.
SPARK_TYPES: dict[str, list[str]] = {
    **{t: _INT for t in ("int64", "int", "Int64", "Int64Dtype", "integer")},
    **{t: ["IntegerType", "ShortType", "ByteType"] for t in ("int32", "Int32")},
    **{t: ["ShortType", "ByteType"] for t in ("int16", "int8")},
    **{t: _FLOAT for t in ("float64", "float", "Float64", "Float64Dtype", "float32", "double")},
    **{t: ["StringType"] for t in ("str", "string", "object", "StringDtype", "category")},
    **{t: ["BooleanType"] for t in ("bool", "boolean", "BooleanDtype")},
    **{t: ["TimestampType", "TimestampNTZType"] for t in ("datetime64[ns]", "datetime64", "datetime")},
    **{t: ["DateType"] for t in ("date",)},
}
ROW_COLUMN = "__pg_row"
_TYPE_EXPECTATIONS = ("expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list")


def _spark_types(names: list[Any], where: str) -> list[str]:
    out: list[str] = []
    for name in names:
        text = str(name)
        if text.endswith("Type"):  # already a Spark type name
            wanted = [text]
        elif text in SPARK_TYPES:
            wanted = SPARK_TYPES[text]
        else:
            raise SuiteError(f"{where}: type {text!r} has no Spark counterpart (known: "
                             f"{', '.join(sorted(SPARK_TYPES))}, or a Spark type name such as LongType); "
                             "validate with --engine pandas or name a Spark type")
        out.extend(t for t in wanted if t not in out)
    return out


def spark_suite(suite: dict[str, Any], where: str = "the suite") -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The suite as GE runs it on Spark (see the module docstring) and, by position, the original
    expectations it changed (``{i: {"type": ..., "kwargs": ...}}``)."""
    out = copy.deepcopy(suite)
    changed: dict[int, dict[str, Any]] = {}
    for i, exp in enumerate(out["expectations"]):
        etype, kw = exp.get("type"), exp.get("kwargs") or {}
        if etype not in _TYPE_EXPECTATIONS:
            continue
        changed[i] = {"type": etype, "kwargs": copy.deepcopy(kw)}
        names = kw.get("type_list") if etype.endswith("type_list") else [kw.get("type_")]
        at = f"{where}: expectation {i} ({etype} on {kw.get('column')!r})"
        exp["type"] = "expect_column_values_to_be_in_type_list"
        exp["kwargs"] = {**{k: v for k, v in kw.items() if k not in ("type_", "type_list")},
                         "type_list": _spark_types(list(names or []), at)}
    return out, changed


def _restore(outcome: Any, original: dict[str, Any] | None) -> Any:
    """The outcome as the suite wrote the expectation (the type expectations ran translated)."""
    from .._result import jsonable

    if original is None:
        return outcome
    return dataclasses.replace(outcome, type=original["type"], kwargs=jsonable(original["kwargs"]))


def spark_batch(frame: Any) -> Any:
    """A Great Expectations batch over the whole Spark data frame, in a fresh ephemeral context
    (:func:`poisonguard.validation._gx.ephemeral_context`)."""
    from ..validation._gx import ephemeral_context

    context = ephemeral_context()
    definition = (context.data_sources.add_spark("poisonguard")
                  .add_dataframe_asset("data")
                  .add_batch_definition_whole_dataframe("whole"))
    return definition.get_batch(batch_parameters={"dataframe": frame})


def validate(data: str | os.PathLike[str], suite: Any, *, max_rows: int | None = None,
             master: str | None = None) -> Any:
    """Validate Parquet or CSV data with Spark against a Great Expectations suite.

    Parameters
    ----------
    data : path
        Parquet or CSV: a file, a folder of partitions, an ``s3a://`` prefix.
    suite : path-like, dict or great_expectations.ExpectationSuite
        As :func:`poisonguard.validation.validate`.
    max_rows : int, default=poisonguard.validation.MAX_ROWS
        Most rows reported per expectation.
    master : str, default=None
        Spark master (see :func:`poisonguard.spark.session`).

    Returns
    -------
    ValidationResult
        ``inputs["data"]`` gives ``engine: "spark"``, the format, rows and columns (no sha256:
        hashing every partition is ``poisonguard manifest create``'s work).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from ..validation._run import (MAX_ROWS, ValidationResult, check_fits, result_order, resolve_suite,
                                   convert_outcome, suite_na_values)

    max_rows = MAX_ROWS if max_rows is None else max_rows
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise UsageError(f"The 'max_rows' parameter of validate must be an int >= 0. Got {max_rows!r} instead.")
    _, suite_json, suite_info = resolve_suite(suite)  # a bad suite is reported before Spark starts
    where = suite_info.get("path") or "the suite"
    reader = suite_na_values(suite_json, suite_info.get("path"))
    run_json, changed = spark_suite(suite_json, where)
    suite_obj, _, _ = resolve_suite(run_json)
    if "://" not in str(data) and not Path(data).exists():
        raise DataError(f"{data}: no such file or folder; give the path of the data")  # before Spark starts
    spark = session(master)
    df, fmt = read(spark, data)
    columns = [str(c) for c in df.columns]
    if ROW_COLUMN in columns:
        raise UsageError(f"{data}: column {ROW_COLUMN!r} is reserved by poisonguard; rename it")
    check_fits(suite_json, columns, suite_info.get("path"))
    markers = [m for m in reader["na_values"] if m != ""] + ([""] if "" in reader["na_values"] else [])
    text_cols = {f.name for f in df.schema.fields if isinstance(f.dataType, StringType)}
    if markers and text_cols:
        df = df.select(*[F.when(F.col(c).isin(markers), F.lit(None)).otherwise(F.col(c)).alias(c)
                         if c in text_cols else F.col(c) for c in columns])
    n = int(df.count())

    from ..validation._gx import gx

    g = gx()
    batch = spark_batch(df)  # without row ids: computing them in every query doubled the time
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": int(max_rows),
                     "return_unexpected_index_query": False, "exclude_unexpected_values": False}
    results = list(batch.validate(suite_obj, result_format=result_format).results)
    orders = [result_order(evr, i) for i, evr in enumerate(results)]  # (0, position in the suite)
    # the rows' ids cost GE more queries per row-level expectation (2.7 x the whole validation of the
    # demo suite when asked for every expectation), so they are asked for only where an expectation
    # failed: those expectations run again, with the ids
    broke = [i for i, evr in enumerate(results) if not evr.success and (evr.result or {}).get("unexpected_count")]
    if broke and max_rows > 0:
        again_json = {**run_json, "expectations": []}
        numbered = {orders[i][1]: i for i in broke if orders[i][0] == 0}
        positions = sorted(numbered)
        again_json["expectations"] = [run_json["expectations"][k] for k in positions]
        again, _, _ = resolve_suite(again_json)
        # GE persisted the data it validated; the ids must come from the files (their names and
        # the rows' order in each), not from that cache, whose rows know no file
        df.unpersist(blocking=True)
        redo = spark_batch(with_row_ids(df, ROW_COLUMN)).validate(again, result_format={**result_format,
                                                    "unexpected_index_column_names": [ROW_COLUMN]}).results
        by_pos = {positions[result_order(evr, j)[1]]: evr for j, evr in enumerate(redo)}
        for k, i in numbered.items():
            if k in by_pos:
                results[i] = by_pos[k]
    converted = []
    for order, evr in zip(orders, results):
        o = convert_outcome(evr, None, max_rows, columns=columns)
        converted.append((order, _restore(o, changed.get(order[1]) if order[0] == 0 else None)))
    df.unpersist()
    outcomes = [o for _, o in sorted(converted, key=lambda pair: pair[0])]
    failures = [{"type": o.type, "column": o.column, "error": o.exception} for o in outcomes if o.exception]
    data_info = {"path": str(data), "sha256": None, "rows": n, "columns": len(columns), "engine": "spark",
                 "format": fmt}
    return ValidationResult(suite_name=suite_obj.name, outcomes=tuple(outcomes),
                            inputs={"data": data_info, "suite": suite_info},
                            parameters={"max_rows": int(max_rows), "engine": "spark",
                                        "master": master_of(spark),
                                        "na_values": reader["na_values"], "na_values_from": reader["from"]},
                            failures=tuple(failures), great_expectations_version=g.__version__)
