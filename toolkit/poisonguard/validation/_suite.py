"""Inferring a Great Expectations suite from trusted data, and reading and writing suite files.

A suite file is exactly what Great Expectations writes (``ExpectationSuite.to_json_dict()``):
GE users open and edit it with GE itself. poisonguard's notes live in ``meta``: the suite's
``meta["poisonguard"]`` records the label, the trusted input and the inference parameters, and
each expectation's ``meta["poisonguard"]["why"]`` says why it is there. Which failures fail
the gate is GE's own ``severity`` field (see :mod:`poisonguard.validation`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._io import atomic_write_json
from .._version import __version__
from ..data import MISSING_MARKERS, TabularDataset, as_dataset, data_stem, sort_key
from ..config import Key, Policy
from ..errors import SuiteError

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations import ExpectationSuite

__all__ = ["INFER_PARAMS", "infer_suite", "load_suite", "read_suite_json", "suite_columns", "suite_from_dict", "write_suite"]

#: kwargs that name a column of the data.
_COLUMN_KEYS = ("column", "column_A", "column_B")
_COLUMN_LIST_KEYS = ("column_list", "column_set")

CRITICAL, WARNING = "critical", "warning"


# -- reading ----------------------------------------------------------------------------------
def load_suite(path: str | os.PathLike[str]) -> ExpectationSuite:
    """Read a suite file written by Great Expectations (or by :func:`write_suite`).

    Parameters
    ----------
    path : path-like
        The suite's JSON file.

    Returns
    -------
    great_expectations.ExpectationSuite

    Raises
    ------
    SuiteError
        The file is missing or unreadable, is not JSON, is not a suite, or holds an
        expectation of an unknown type or with invalid arguments.
    """
    return suite_from_dict(read_suite_json(path), where=str(path))


def read_suite_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of a suite file; :class:`SuiteError` when missing, unreadable or not JSON."""
    p = Path(path)
    if not p.exists():
        raise SuiteError(f"{p}: no such suite file; write one with `poisonguard expectations infer TRUSTED "
                         f"--label COL --out {p}`")
    if p.is_dir():
        raise SuiteError(f"{p}: is a folder, not a suite file; name the suite's .json file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{p}: cannot be read as UTF-8 text ({exc}); give a Great Expectations suite JSON file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         "fix the file or infer it again with `poisonguard expectations infer`") from None


def suite_from_dict(data: Any, *, where: str = "the suite", check: bool = True) -> ExpectationSuite:
    """Build a Great Expectations suite from its JSON dict, checking every expectation.

    Great Expectations itself logs and silently drops an expectation it cannot build; this
    function refuses the whole suite instead, naming the expectation.

    Parameters
    ----------
    data : dict
        A suite as written by ``ExpectationSuite.to_json_dict()``.
    where : str, default="the suite"
        Name of the source used in error messages.
    check : bool, default=True
        Build every expectation once on its own first, to name the one that is invalid
        (skip only for a dict that Great Expectations itself just wrote).

    Raises
    ------
    SuiteError
        Not a suite, an unknown expectation type, or invalid expectation arguments.
    """
    from ._gx import gx

    g = gx()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        got = type(data).__name__ if not isinstance(data, dict) else f"keys {sorted(data)[:8]}"
        raise SuiteError(f"{where}: not a Great Expectations suite (expected an object with 'name' and an "
                         f"'expectations' list, got {got}); infer one with `poisonguard expectations infer`")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{where}: the suite has no 'name' (a non-empty string); add one")
    known = set(list_registered_expectation_implementations())
    for i, exp in enumerate(data["expectations"] if check else ()):
        label = f"{where}: expectation #{i}"
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str) or not isinstance(exp.get("kwargs"), dict):
            raise SuiteError(f"{label} is not an object with a 'type' string and a 'kwargs' object")
        etype = exp["type"]
        if etype not in known:
            hint = _closest(etype, known)
            raise SuiteError(f"{label} has the unknown expectation type {etype!r}"
                             f"{f' (did you mean {hint!r}?)' if hint else ''}; use a Great Expectations "
                             "expectation type or one of poisonguard's custom ones")
        try:
            ExpectationConfiguration(**exp).to_domain_obj()
        except Exception as exc:  # noqa: BLE001 - GE raises pydantic, TypeError, GE errors: all mean "bad config"
            msg = " ".join(str(getattr(exc, "message", exc)).split())
            raise SuiteError(f"{label} ({etype}) has invalid arguments: {msg[:300]}; fix its 'kwargs'") from None
    try:
        suite = g.ExpectationSuite(name=name, expectations=data["expectations"], meta=data.get("meta"),
                                   notes=data.get("notes"), id=data.get("id"),
                                   suite_parameters=data.get("suite_parameters"))
    except (TypeError, ValueError) as exc:
        raise SuiteError(f"{where}: cannot be built as a Great Expectations suite ({exc}); check its top-level "
                         "'meta', 'notes' and 'id'") from None
    if len(suite.expectations) != len(data["expectations"]):  # pragma: no cover - checked above
        raise SuiteError(f"{where}: Great Expectations dropped {len(data['expectations']) - len(suite.expectations)} "
                         "expectations it could not build; check the suite")
    return suite


def _closest(name: str, known: set[str]) -> str | None:
    import difflib

    hits = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
    return hits[0] if hits else None


def suite_columns(suite: ExpectationSuite | dict[str, Any]) -> list[str]:
    """Every column a suite names (in its kwargs), in order of first mention."""
    exps: list[Any] = (suite["expectations"] if isinstance(suite, dict)
                       else [{"kwargs": dict(e.configuration.kwargs)} for e in suite.expectations])
    seen: dict[str, None] = {}
    for exp in exps:
        kwargs: dict[str, Any] = (exp.get("kwargs") or {}) if isinstance(exp, dict) else {}
        for key in _COLUMN_KEYS:
            if isinstance(kwargs.get(key), str):
                seen.setdefault(kwargs[key], None)
        for key in _COLUMN_LIST_KEYS:
            if isinstance(kwargs.get(key), list):
                for col in kwargs[key]:
                    seen.setdefault(str(col), None)
    return list(seen)


def write_suite(suite: ExpectationSuite, path: str | os.PathLike[str]) -> Path:
    """Write ``suite`` atomically as Great Expectations' own JSON (``to_json_dict()``)."""
    return atomic_write_json(path, suite.to_json_dict())


# -- inference --------------------------------------------------------------------------------
#: The tuning parameters of :func:`infer_suite`, declared: ``expectations.infer`` in params.yaml
#: (``poisonguard expectations infer --params params.yaml``; its options win over the file).
INFER_PARAMS = Policy(
    "expectations infer",
    Key("range_margin", "number", 0.1, "margin on each side of numeric ranges, as a share of the trusted range",
        low=0),
    Key("tail_quantile", "number", 0.01, "quantile whose distance to the extreme is the least margin", low=0,
        high=0.5, high_open=True),
    Key("limit_factor", "number", 3.0, "plausible limits: the trusted range widened by this many widths", low=0),
    Key("row_count_factor", "number", 5.0, "row-count band: trusted rows divided and multiplied by this", low=1),
    Key("max_categories", "int", 50, "categorical columns with at most this many values get a value set", low=1),
    Key("label_tolerance", "number", 0.03, "shift of any label's share accepted beyond sampling noise", low=0,
        high=1),
    Key("band_tolerance", "number", 0.1, "shift of a mean or standard deviation accepted, in standard deviations",
        low=0),
    Key("sampling_z", "number", 4.0, "allowance for sampling noise, in standard errors", low=0),
    Key("min_class_rows", "int", 30, "fewest trusted rows of a label for class-conditional ranges", low=1),
    kind="parameter",
)


def infer_suite(data: TabularDataset | pd.DataFrame | str | os.PathLike[str], *, label: str | None = None,
                id_column: str | None = None, name: str | None = None, range_margin: float = 0.1,
                tail_quantile: float = 0.01, limit_factor: float = 3.0, row_count_factor: float = 5.0,
                max_categories: int = 50, label_tolerance: float = 0.03, band_tolerance: float = 0.1,
                sampling_z: float = 4.0, min_class_rows: int = 30) -> ExpectationSuite:
    """Infer a Great Expectations suite from trusted data.

    The suite holds, in this order: the exact column set and a row-count band; then per column
    its type, not-null (with a ``mostly`` threshold where trusted data has missing values), and
    by kind: a usual range with a margin (a small share may fall outside) and plausible limits
    (none may), plus mean and standard-deviation bands (numeric), a
    value set (categorical with at most ``max_categories`` values), uniqueness (id); for the
    label its value set and its distribution (:class:`ExpectColumnValueProportionsToMatchReference`);
    and per numeric feature its range per label (:class:`ExpectColumnPairValuesToBeWithinClassRanges`).
    A label, categorical or integer column holding sensitive values (emails, card numbers, SSNs...:
    see :mod:`poisonguard.detectors.pii`) gets no value set, range or distribution, which would
    copy them into the suite and every report of it; ``meta["poisonguard"]["redacted"]`` says so.

    Bands and thresholds allow for sampling noise of ``sampling_z`` standard errors at the
    smallest batch the suite accepts (``rows / row_count_factor``), so clean batches from the
    same source pass.

    Parameters
    ----------
    data : TabularDataset, pandas.DataFrame or path-like
        Trusted data (see :func:`poisonguard.data.as_dataset`; a path is read with
        :func:`poisonguard.data.load_dataset`).
    label : str, default=None
        The label column (default: the dataset's label).
    id_column : str, default=None
        A column that identifies rows (default: the dataset's; columns inferred to be ids
        also get a uniqueness expectation).
    name : str, default=None
        The suite's name (default: the file's stem, else ``"poisonguard"``).
    range_margin : float, default=0.1
        Margin added on each side of a numeric range, as a share of the trusted range; at least
        the distance between the extreme and its ``tail_quantile`` quantile is added. Ranges of
        non-negative columns do not go below 0; integer columns get integer bounds.
    tail_quantile : float, default=0.01
        See ``range_margin``. The usual range lets a small share of values fall outside (the new
        extremes that a sample of this size leaves room for, plus sampling noise).
    limit_factor : float, default=3.0
        Plausible limits, which no value may cross: the trusted range widened by this many
        times its width on each side (not below 0 for non-negative columns).
    row_count_factor : float, default=5.0
        Row-count band: from ``rows / factor`` to ``rows * factor``.
    max_categories : int, default=50
        Largest number of distinct values for which a categorical column gets a value set.
    label_tolerance : float, default=0.03
        Shift of any label's share accepted beyond sampling noise.
    band_tolerance : float, default=0.1
        Shift of a mean or standard deviation accepted beyond sampling noise, in standard deviations.
    sampling_z : float, default=4.0
        Allowance for sampling noise, in standard errors.
    min_class_rows : int, default=30
        Fewest trusted rows of a label for which class-conditional ranges are written.

    Returns
    -------
    great_expectations.ExpectationSuite

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.data import TabularDataset
    >>> from poisonguard.validation import infer_suite
    >>> ds = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"]}), label="y")
    >>> suite = infer_suite(ds)
    >>> suite.expectations[0].expectation_type
    'expect_table_columns_to_match_set'
    """
    _check_params(range_margin=range_margin, tail_quantile=tail_quantile, limit_factor=limit_factor,
                  row_count_factor=row_count_factor,
                  max_categories=max_categories, label_tolerance=label_tolerance, band_tolerance=band_tolerance,
                  sampling_z=sampling_z, min_class_rows=min_class_rows)
    ds = as_dataset(data, label=label, id_column=id_column, what="the trusted data")
    label = ds.label
    frame = ds.frame
    n = ds.n_rows
    row_min = max(1, math.floor(n / row_count_factor))
    noise = math.sqrt(1.0 / row_min + 1.0 / n)  # standard error factor of a batch statistic vs the trusted one
    exps: list[dict[str, Any]] = []

    def add(etype: str, kwargs: dict[str, Any], severity: str, why: str) -> None:
        exps.append({"type": etype, "kwargs": kwargs, "meta": {"poisonguard": {"why": why}}, "severity": severity})

    add("expect_table_columns_to_match_set", {"column_set": list(frame.columns), "exact_match": True}, CRITICAL,
        "the exact column set of the trusted data: a renamed, missing or extra column breaks every consumer")
    add("expect_table_row_count_to_be_between",
        {"min_value": row_min, "max_value": math.ceil(n * row_count_factor)}, CRITICAL,
        f"row-count band: {n} trusted rows divided and multiplied by {row_count_factor:g}; a batch far "
        "larger or smaller than usual is a broken or stuffed source")

    classes_ok = label is not None and frame[label].nunique(dropna=True) <= max_categories
    redacted: dict[str, list[str]] = {}
    for col in frame.columns:
        s = frame[col]
        kind = ds.kinds.get(col, "other")
        _add_type(add, col, s)
        _add_nulls(add, col, s, sampling_z, noise)
        nonnull = s.dropna()
        if nonnull.empty:
            continue
        if (col == label or pd.api.types.is_integer_dtype(s.dtype)
                or (kind == "categorical" and nonnull.nunique() <= max_categories)):
            sensitive = _sensitive_kinds(nonnull, col)
            if sensitive:  # a value set would copy personal data into the suite and every report of it
                redacted[col] = sensitive
                continue
        if col == label:
            values = sorted(nonnull.unique().tolist(), key=sort_key)
            add("expect_column_values_to_be_in_set", {"column": col, "value_set": _plain(values)}, CRITICAL,
                f"the label's value set in trusted data ({len(values)} values): a new label value is "
                "either a broken source or injected labels")
            if classes_ok:
                _add_label_distribution(add, col, nonnull, label_tolerance, sampling_z)
        elif kind == "numeric":
            _add_numeric(add, col, nonnull, range_margin, tail_quantile, limit_factor, band_tolerance, sampling_z,
                         noise, row_min)
            if classes_ok and label is not None:
                _add_class_ranges(add, col, frame[[col, label]], range_margin, tail_quantile, min_class_rows,
                                  sampling_z, row_min)
        elif kind == "categorical":
            _add_value_set(add, col, nonnull, max_categories, sampling_z, noise)
        elif kind == "id":
            add("expect_column_values_to_be_unique", {"column": col}, CRITICAL,
                "an id column: a repeated id is a duplicated or replayed row")

    from ._gx import gx

    g = gx()
    meta = {
        "great_expectations_version": g.__version__,
        "poisonguard": {
            "tool_version": __version__,
            "label": label,
            "id_column": ds.id_column,
            "na_values": list(MISSING_MARKERS),  # read as missing; `poisonguard validate` reads the data so
            "trusted": {"path": str(ds.path) if ds.path else None, "sha256": ds.sha256, "rows": n,
                        "columns": list(frame.columns)},
            "parameters": {"range_margin": range_margin, "tail_quantile": tail_quantile, "limit_factor": limit_factor,
                           "row_count_factor": row_count_factor, "max_categories": max_categories,
                           "label_tolerance": label_tolerance, "band_tolerance": band_tolerance,
                           "sampling_z": sampling_z, "min_class_rows": min_class_rows},
            "redacted": {col: f"no value set: the column holds sensitive values ({', '.join(k)})"
                         for col, k in redacted.items()},
            "policy": "an expectation whose severity is 'critical' fails `poisonguard validate` (exit 1) when it "
                      "fails; 'warning' and 'info' failures are reported only. Edit 'severity' to change it.",
        },
    }
    suite_name = name or ((data_stem(ds.path) or "poisonguard") if ds.path else "poisonguard")
    return suite_from_dict({"name": suite_name, "expectations": exps, "meta": meta}, where="the inferred suite")


def _sensitive_kinds(nonnull: pd.Series, col: str) -> list[str]:
    """Kinds of sensitive data among a column's distinct values (see :mod:`poisonguard.detectors.pii`)."""
    from ..detectors.pii import SSN_COLUMN, integer_ssns, find_sensitive

    uniq = pd.Series(pd.unique(nonnull.astype(str)), dtype=object)
    kinds = {f.kind for f in find_sensitive(uniq, col)}
    if pd.api.types.is_integer_dtype(nonnull.dtype) and SSN_COLUMN.search(col) and integer_ssns(uniq, col):
        kinds.add("ssn")
    return sorted(kinds)


def _check_params(**params: float) -> None:
    INFER_PARAMS.validate(params, where="infer_suite")


def _plain(values: list[Any]) -> list[Any]:
    """numpy scalars -> Python scalars (JSON)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _floor(x: float, digits: int = 4) -> float:
    return math.floor(x * 10**digits) / 10**digits


def _round_sig(x: float) -> float:
    return float(f"{x:.6g}")


def _add_type(add: Any, col: str, s: pd.Series) -> None:
    dtype = s.dtype
    why = f"the column's type in trusted data ({dtype}): a type change means the source's format changed"
    if pd.api.types.is_bool_dtype(dtype):
        add("expect_column_values_to_be_of_type", {"column": col, "type_": "bool"}, CRITICAL, why)
    elif pd.api.types.is_integer_dtype(dtype):
        # "int64" also matches pandas' nullable Int64 (an integer column with missing values)
        add("expect_column_values_to_be_of_type", {"column": col, "type_": "int64"}, CRITICAL, why)
    elif pd.api.types.is_float_dtype(dtype):
        # a batch of a float column may hold only whole numbers and be read as integers
        add("expect_column_values_to_be_in_type_list",
            {"column": col, "type_list": ["float64", "Float64Dtype", "int64", "Int64Dtype"]}, CRITICAL,
            why + " (whole-number batches, read as integers, are accepted)")
    elif pd.api.types.is_string_dtype(dtype) or dtype == object:
        add("expect_column_values_to_be_of_type", {"column": col, "type_": "str"}, CRITICAL, why)
    else:
        add("expect_column_values_to_be_of_type", {"column": col, "type_": str(dtype)}, CRITICAL, why)


def _add_nulls(add: Any, col: str, s: pd.Series, z: float, noise: float) -> None:
    f = float(s.isna().mean())
    if f == 0.0:
        add("expect_column_values_to_not_be_null", {"column": col}, CRITICAL,
            "no missing values in trusted data: missing values now mean a broken source or dropped cells")
    elif f < 1.0:
        allow = f + z * math.sqrt(f * (1 - f)) * noise
        mostly = max(0.0, _floor(1.0 - allow))
        add("expect_column_values_to_not_be_null", {"column": col, "mostly": mostly}, CRITICAL,
            f"{f:.2%} missing in trusted data; up to {1 - mostly:.2%} allowed (sampling noise of "
            f"{z:g} standard errors at the smallest accepted batch)")


def _range(v: np.ndarray, margin: float, tail_q: float, integer: bool) -> tuple[float, float]:
    lo, hi = float(v.min()), float(v.max())
    width = hi - lo
    q_lo, q_hi = (np.quantile(v, [tail_q, 1 - tail_q]) if tail_q > 0 else (lo, hi))
    low = lo - max(margin * width, float(q_lo) - lo)
    high = hi + max(margin * width, hi - float(q_hi))
    if lo >= 0:
        low = max(low, 0.0)
    if integer:
        return float(math.floor(low)), float(math.ceil(high))
    return _round_sig(low) if low < lo else lo, _round_sig(high) if high > hi else hi


def _outside_allowance(n: int, groups: int, z: float, row_min: int) -> float:
    """Share of new values expected outside ranges fitted on ``n`` rows in ``groups`` groups, plus noise.

    Each group's ``[min, max]`` is exceeded by a new value with probability about ``2 / (n_k + 1)``,
    so over all groups about ``2 * groups / n``; the allowance adds ``z`` standard errors of
    that share at the smallest accepted batch.
    """
    p = min(1.0, 2.0 * groups / (n + groups))
    return p + z * math.sqrt(p / row_min)


def _add_numeric(add: Any, col: str, nonnull: pd.Series, margin: float, tail_q: float, limit_factor: float,
                 band: float, z: float, noise: float, row_min: int) -> None:
    integer = pd.api.types.is_integer_dtype(nonnull.dtype)
    v = nonnull.to_numpy(dtype="float64")
    v = v[np.isfinite(v)]
    if v.size == 0:
        return
    low, high = _range(v, margin, tail_q, integer)
    lo, hi = float(v.min()), float(v.max())
    mostly = max(0.0, _floor(1.0 - _outside_allowance(v.size, 1, z, row_min)))
    add("expect_column_values_to_be_between",
        {"column": col, "min_value": int(low) if integer else low, "max_value": int(high) if integer else high,
         "mostly": mostly},
        CRITICAL, f"usual range: trusted range [{lo:.6g}, {hi:.6g}] widened by {margin:g} of its width or to the "
        f"{tail_q:g}-quantile's distance from the extreme; up to {1 - mostly:.2%} of values may fall outside "
        "(new extremes a sample this size leaves room for), more is a shifted or injected mass")
    width = hi - lo
    p_low, p_high = lo - limit_factor * width, hi + limit_factor * width
    if lo >= 0:
        p_low = max(p_low, 0.0)
    if integer:
        p_low, p_high = float(math.floor(p_low)), float(math.ceil(p_high))
    else:
        p_low, p_high = min(_round_sig(p_low), lo), max(_round_sig(p_high), hi)
    add("expect_column_values_to_be_between",
        {"column": col, "min_value": int(p_low) if integer else p_low,
         "max_value": int(p_high) if integer else p_high},
        CRITICAL, f"plausible limits: the trusted range widened by {limit_factor:g} times its width on each side"
        f"{' (not below 0: the column is never negative)' if lo >= 0 else ''}; any value beyond is a unit change, "
        "a sentinel or a blown-open range")
    if v.size < 2:
        return
    mean, std = float(v.mean()), float(v.std(ddof=1))
    half = z * std * noise + band * std
    add("expect_column_mean_to_be_between", {"column": col, "min_value": _round_sig(mean - half),
                                             "max_value": _round_sig(mean + half)}, WARNING,
        f"trusted mean {mean:.6g} +/- {z:g} standard errors at the smallest accepted batch + {band:g} standard "
        "deviations: a moved mean is drift or a shifted mass of injected rows (a warning: reported, not fatal)")
    if std > 0:
        m4 = float(np.mean((v - mean) ** 4))
        se_std = math.sqrt(max(m4 - std**4, 0.0)) * noise / (2 * std)
        half_s = z * se_std + band * std
        add("expect_column_stdev_to_be_between", {"column": col, "min_value": _round_sig(max(0.0, std - half_s)),
                                                  "max_value": _round_sig(std + half_s)}, WARNING,
            f"trusted standard deviation {std:.6g} +/- {z:g} standard errors (from the fourth moment) + {band:g} "
            "of itself: a changed spread is drift or injected outliers (a warning: reported, not fatal)")


def _add_value_set(add: Any, col: str, nonnull: pd.Series, max_categories: int, z: float, noise: float) -> None:
    counts = nonnull.value_counts()
    if len(counts) > max_categories:
        return
    values = sorted(counts.index.tolist(), key=sort_key)
    singletons = int((counts == 1).sum())
    # The share of values never seen before is about the share of values seen once (Good-Turing),
    # smoothed by one: a sample with no singleton still leaves room for a value it missed.
    p_new = (singletons + 1) / (len(nonnull) + 1)
    mostly = max(0.0, _floor(1.0 - (p_new + z * math.sqrt(p_new) * noise)))
    add("expect_column_values_to_be_in_set", {"column": col, "value_set": _plain(values), "mostly": mostly},
        CRITICAL, f"the {len(values)} values seen in trusted data ({singletons} of them once); up to "
        f"{1 - mostly:.3%} unseen values are allowed (Good-Turing estimate of the unseen share plus sampling "
        "noise), more is a broken source or injected rows")


def _add_label_distribution(add: Any, col: str, nonnull: pd.Series, tolerance: float, z: float) -> None:
    from ._custom import label_keys

    codes, keys = label_keys(nonnull)
    counts = np.bincount(codes, minlength=len(keys))
    total = int(counts.sum())
    shares: dict[str, float] = {}
    for key, c in zip(keys, counts.tolist()):
        shares[key] = shares.get(key, 0.0) + c / total
    shares = {k: round(v, 6) for k, v in sorted(shares.items())}
    drift = 1.0 - sum(shares.values())
    if shares and abs(drift) > 0:
        top = max(shares, key=lambda k: shares[k])
        shares[top] = round(shares[top] + drift, 6)
    add("expect_column_value_proportions_to_match_reference",
        {"column": col, "reference_proportions": shares, "tolerance": tolerance, "sampling_z": z,
         "reference_count": total}, CRITICAL,
        f"the label's share of each class in trusted data, +/- {tolerance:g} plus sampling noise: flipped or "
        "injected labels move mass between classes")


def _add_class_ranges(add: Any, col: str, pair: pd.DataFrame, margin: float, tail_q: float, min_rows: int,
                      z: float, row_min: int) -> None:
    from ._custom import label_key

    feature, label = pair.columns
    both = pair.dropna()
    if both.empty:
        return
    integer = pd.api.types.is_integer_dtype(both[feature].dtype)
    values = both[feature].to_numpy(dtype="float64")
    g_low, g_high = _range(values[np.isfinite(values)], margin, tail_q, integer)
    ranges: dict[str, list[float]] = {}
    for cls, grp in both.groupby(label, sort=True)[feature]:
        v = grp.to_numpy(dtype="float64")
        v = v[np.isfinite(v)]
        if v.size < min_rows:
            continue
        low, high = _range(v, margin, tail_q, integer)
        low, high = max(low, g_low), min(high, g_high)
        if low > g_low or high < g_high:  # only where it says more than the global range
            ranges[label_key(cls)] = [low, high]
    if not ranges:
        return
    mostly = max(0.0, _floor(1.0 - _outside_allowance(len(both), len(ranges), z, row_min)))
    add("expect_column_pair_values_to_be_within_class_ranges",
        {"column_A": feature, "column_B": label, "class_ranges": dict(sorted(ranges.items())), "mostly": mostly},
        WARNING,
        f"the range of {feature!r} per label in trusted data (labels with at least {min_rows} rows, same margin "
        f"as the usual range; up to {1 - mostly:.2%} of rows may fall outside): a row outside its label's range "
        "may carry a flipped label (a warning: the rows are reported for review)")
