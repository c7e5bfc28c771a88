"""Great Expectations custom expectations that a poisoning defence needs and GE lacks.

Both are real Great Expectations 1.x expectations: subclasses of GE's expectation base
classes, backed by GE metric providers, registered in GE's registries when this module is
imported, so GE itself can load a suite that uses them and run it::

    import poisonguard.validation  # noqa: F401  (registers on first use of the API)
    from poisonguard.validation import register_custom_expectations
    register_custom_expectations()   # then gx.ExpectationSuite(**json) works

:class:`ExpectColumnValueProportionsToMatchReference`
    A column aggregate expectation: the share of each value of a column (the label) stays
    within ``tolerance`` of a reference distribution, plus an allowance for sampling noise of
    ``sampling_z`` standard errors (computed from the batch's and the reference's sizes, so a
    small clean batch does not fail and a large poisoned one does not pass). A targeted label
    flip moves mass from one class to another and breaks it.

:class:`ExpectColumnPairValuesToBeWithinClassRanges`
    A column pair map expectation: the value of a feature (``column_A``) lies within the range
    seen for the row's label (``column_B``) in trusted data. A row whose label was flipped often
    carries features outside the range of its new class; the rows are reported. Labels absent
    from ``class_ranges`` are not judged here (the label's value set is).

Label values are compared as text through :func:`label_key` (``5``, ``5.0`` and ``"5"`` are
the same class), because JSON object keys are strings.

Both carry GE renderers, so Data Docs and GE's rendered content describe them in words instead
of raw kwargs: the prescriptive renderer (legacy ``renderer.prescriptive``, used by Data Docs)
and the atomic summary (``atomic.prescriptive.summary``, through ``_prescriptive_template``) say
what is expected; the observed-value renderer of the label distribution names the largest shift.

This module imports Great Expectations at import time; ``import poisonguard.validation`` imports
it (and so registers both expectations with GE).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, List, Literal, Optional, Tuple, Union

import numpy as np
import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnAggregateExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_value,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnPairMapMetricProvider,
    column_pair_condition_partial,
)
from great_expectations.render import (
    LegacyDiagnosticRendererType,
    LegacyRendererType,
    RenderedStringTemplateContent,
)
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import RendererConfiguration, RendererValueType

__all__ = [
    "ColumnPairValuesWithinClassRanges",
    "ColumnValueCountsByKey",
    "ExpectColumnPairValuesToBeWithinClassRanges",
    "ExpectColumnValueProportionsToMatchReference",
    "label_key",
    "label_keys",
]

PROPORTIONS_METRIC = "column.poisonguard_value_counts_by_key"
CLASS_RANGES_METRIC = "column_pair_values.poisonguard_within_class_ranges"

_LIBRARY_METADATA: Dict[str, Union[str, list, bool]] = {
    "maturity": "experimental",
    "tags": ["poisonguard", "data poisoning"],
    "contributors": ["poisonguard developers"],
    "requirements": [],
    "has_full_test_suite": True,
    "manually_reviewed_code": True,
}


def label_key(value: Any) -> str:
    """The text key of a label value: integral numbers without a decimal point, others as text.

    Examples
    --------
    >>> label_key(5), label_key(5.0), label_key("5"), label_key(True), label_key(0.25)
    ('5', '5', '5', 'True', '0.25')
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f) and f.is_integer():
            return str(int(f))
        return repr(f)
    return str(value)


def label_keys(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Factorize a column into integer codes and the text key of each distinct value.

    Returns ``(codes, keys)`` where ``codes`` is -1 for missing values. Vectorised: only the
    distinct values are turned into text.
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), [label_key(u) for u in list(uniques)]


# -- renderers -------------------------------------------------------------------------------
def _number(value: Any) -> str:
    if value is None:
        return "open"
    f = float(value)
    return str(int(f)) if f.is_integer() else f"{f:.6g}"


class _Described:
    """GE renderers from one description: ``_describe(kwargs)`` gives a template and its text params.

    The template uses GE's ``$param`` placeholders; every param is plain text, so the same
    description serves the legacy prescriptive renderer (Data Docs) and the atomic summary.
    """

    @classmethod
    def _describe(cls, kwargs: Dict[str, Any]) -> Tuple[str, Dict[str, str]]:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration) -> RendererConfiguration:
        template, params = cls._describe(dict(renderer_configuration.kwargs or {}))
        for name, value in params.items():
            renderer_configuration.add_param(name=name, param_type=RendererValueType.STRING, value=value)
        renderer_configuration.template_str = template
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration: Any = None, result: Any = None,
                               runtime_configuration: Optional[dict] = None, **kwargs: Any) -> list:
        config = configuration if configuration is not None else getattr(result, "expectation_config", None)
        template, params = cls._describe(dict(getattr(config, "kwargs", None) or {}))
        styling = (runtime_configuration or {}).get("styling")
        return [RenderedStringTemplateContent(content_block_type="string_template",
                                              string_template={"template": template, "params": params,
                                                               "styling": styling})]


# -- label distribution ----------------------------------------------------------------------
class ColumnValueCountsByKey(ColumnAggregateMetricProvider):
    """Metric ``column.poisonguard_value_counts_by_key``: non-missing count and counts per label key."""

    metric_name = PROPORTIONS_METRIC

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> dict[str, Any]:
        codes, keys = label_keys(column)
        counts = np.bincount(codes[codes >= 0], minlength=len(keys)) if len(keys) else np.zeros(0, np.int64)
        by_key: dict[str, int] = {}
        for key, count in zip(keys, counts.tolist()):
            by_key[key] = by_key.get(key, 0) + int(count)
        return {"count": int(counts.sum()), "counts": by_key}

    @metric_value(engine=SparkDFExecutionEngine)
    def _spark(cls, execution_engine: SparkDFExecutionEngine, metric_domain_kwargs: Dict[str, Any],
               metric_value_kwargs: Dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # one groupBy where the data are; only the distinct values and their counts reach the driver
        df, _, accessor = execution_engine.get_compute_domain(metric_domain_kwargs, MetricDomainTypes.COLUMN)
        by_key: dict[str, int] = {}
        total = 0
        for value, count in df.groupBy(accessor["column"]).count().collect():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue  # missing, as on pandas
            key = label_key(value)
            by_key[key] = by_key.get(key, 0) + int(count)
            total += int(count)
        return {"count": total, "counts": by_key}


class ExpectColumnValueProportionsToMatchReference(_Described, ColumnAggregateExpectation):
    """Expect the share of each value of a column to stay close to a reference distribution.

    For every value ``k`` seen in the reference or the batch, with reference share ``p`` and
    batch share ``q`` (missing values excluded), the expectation holds when::

        |q - p| <= tolerance + sampling_z * sqrt(p (1 - p) (1/n + 1/reference_count))

    where ``n`` is the batch's non-missing count (the second term is the sampling noise of both
    estimates; without ``reference_count`` only the batch's noise is allowed for).

    Args:
        column (str): The column (usually the label).
        reference_proportions (dict[str, float]): Share of each value in trusted data; keys are
            the values as text (``"5"``, ``">50K"``).
        tolerance (float): Largest real shift of any value's share that is accepted, in [0, 1].
        sampling_z (float): Allowance for sampling noise, in standard errors.
        reference_count (int or None): Number of rows the reference shares were computed on.

    The observed value is the batch's share of each value; ``details`` carries the largest
    deviation, the value it occurred for and the allowance there.
    """

    reference_proportions: Dict[str, float]
    tolerance: float = pydantic.Field(0.03, ge=0.0, le=1.0)
    sampling_z: float = pydantic.Field(4.0, ge=0.0)
    reference_count: Optional[int] = pydantic.Field(None, ge=1)

    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIBRARY_METADATA
    metric_dependencies: ClassVar[Tuple[str, ...]] = (PROPORTIONS_METRIC,)
    success_keys: ClassVar[Tuple[str, ...]] = (
        "reference_proportions", "tolerance", "sampling_z", "reference_count")
    args_keys: ClassVar[Tuple[str, ...]] = ("column", "reference_proportions", "tolerance")

    @pydantic.validator("reference_proportions")
    def _check_reference(cls, v: Dict[str, float]) -> Dict[str, float]:
        if not v:
            raise ValueError("reference_proportions must name at least one value")
        bad = {k: p for k, p in v.items() if not (isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0)}
        if bad:
            raise ValueError(f"reference_proportions must be shares in [0, 1]; got {bad}")
        total = float(sum(v.values()))
        if abs(total - 1.0) > 1e-3:
            raise ValueError(f"reference_proportions must sum to 1; they sum to {total:.6g}")
        return {str(k): float(p) for k, p in v.items()}

    @classmethod
    def _describe(cls, kwargs: Dict[str, Any]) -> Tuple[str, Dict[str, str]]:
        ref = kwargs.get("reference_proportions") or {}
        shares = ", ".join(f"{k!r} {float(p):.1%}" for k, p in sorted(ref.items(), key=lambda kv: -float(kv[1])))
        params = {"column": str(kwargs.get("column")), "reference": shares or "(none)",
                  "tolerance": _number(kwargs.get("tolerance", 0.03)), "sampling_z": _number(kwargs.get("sampling_z", 4.0))}
        template = ("$column: the share of each value must stay within $tolerance of the reference "
                    "($reference), plus $sampling_z standard errors of sampling noise")
        if kwargs.get("reference_count"):
            params["reference_count"] = _number(kwargs["reference_count"])
            template += " (reference of $reference_count rows)"
        return template + ".", params

    @classmethod
    @renderer(renderer_type=LegacyDiagnosticRendererType.OBSERVED_VALUE)
    def _diagnostic_observed_value_renderer(cls, configuration: Any = None, result: Any = None,
                                            runtime_configuration: Optional[dict] = None, **kwargs: Any) -> str:
        details = ((getattr(result, "result", None) or {}).get("details") or {}) if result is not None else {}
        if details.get("worst_value") is None:
            return "--" if result is None else str(details.get("reason") or "no shift")
        return (f"largest shift {float(details['deviation']):+.3f} for {details['worst_value']!r} "
                f"(allowed {float(details['allowed']):.3f}, {details.get('count')} rows)")

    def _validate(self, metrics: Dict, runtime_configuration: Optional[dict] = None,
                  execution_engine: Any = None) -> Dict[str, Any]:
        observed = metrics[PROPORTIONS_METRIC]
        n = int(observed["count"])
        if n == 0:
            return {"success": False, "result": {"observed_value": {},
                                                  "details": {"count": 0, "reason": "no non-missing values"}}}
        shares = {k: c / n for k, c in observed["counts"].items()}
        ref = self.reference_proportions
        inv_ref = 1.0 / self.reference_count if self.reference_count else 0.0
        worst_key, worst_dev, worst_allowed, worst_excess = None, 0.0, 0.0, -math.inf
        for key in sorted(set(ref) | set(shares)):
            p, q = ref.get(key, 0.0), shares.get(key, 0.0)
            allowed = self.tolerance + self.sampling_z * math.sqrt(p * (1.0 - p) * (1.0 / n + inv_ref))
            excess = abs(q - p) - allowed
            if excess > worst_excess:
                worst_key, worst_dev, worst_allowed, worst_excess = key, q - p, allowed, excess
        return {
            "success": worst_excess <= 0.0,
            "result": {
                "observed_value": {k: round(v, 6) for k, v in sorted(shares.items())},
                "details": {"count": n, "worst_value": worst_key, "deviation": round(worst_dev, 6),
                            "allowed": round(worst_allowed, 6)},
            },
        }


# -- class-conditional ranges ----------------------------------------------------------------
class ColumnPairValuesWithinClassRanges(ColumnPairMapMetricProvider):
    """Map metric: ``column_A`` lies within ``class_ranges[label_key(column_B)]`` (unknown labels pass)."""

    condition_metric_name = CLASS_RANGES_METRIC
    condition_value_keys = ("class_ranges",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N803
        ranges: dict[str, list[float | None]] = kwargs.get("class_ranges") or {}
        codes, keys = label_keys(column_B)
        lo = np.array([_bound(ranges.get(k), 0, -np.inf) for k in keys] + [-np.inf], dtype="float64")
        hi = np.array([_bound(ranges.get(k), 1, np.inf) for k in keys] + [np.inf], dtype="float64")
        values = pd.to_numeric(column_A, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        lo_row, hi_row = lo[codes], hi[codes]  # code -1 picks the open range at the end
        with np.errstate(invalid="ignore"):
            ok = (values >= lo_row) & (values <= hi_row)
        return pd.Series(ok, index=column_A.index)

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A: Any, column_B: Any, **kwargs: Any) -> Any:  # noqa: N803
        # the same rule as on pandas, as one Spark expression: the row's label picks its range (a label
        # matches a key as text, or as the same number: 5, 5.0 and "5" are class "5"); labels without
        # a range, and missing labels, pass when the value is a number
        from pyspark.sql import functions as F

        ranges: dict[str, list[float | None]] = kwargs.get("class_ranges") or {}
        value = column_A.cast("double")
        is_number = value.isNotNull() & ~F.isnan(value)
        text, number = column_B.cast("string"), column_B.cast("double")
        picked = []
        for key, pair in ranges.items():
            match = text == F.lit(key)
            try:
                match = match | (number == F.lit(float(key)))
            except ValueError:
                pass
            inside = is_number & (value >= F.lit(_bound(pair, 0, -np.inf))) & (value <= F.lit(_bound(pair, 1, np.inf)))
            picked.append(F.when(match, F.coalesce(inside, F.lit(False))))
        return F.coalesce(*picked, F.coalesce(is_number, F.lit(False)))


def _bound(pair: list[float | None] | None, i: int, default: float) -> float:
    if pair is None:
        return default
    v = pair[i]
    return default if v is None else float(v)


class ExpectColumnPairValuesToBeWithinClassRanges(_Described, ColumnPairMapExpectation):
    """Expect each value of a feature to lie within the range trusted data had for the row's label.

    Args:
        column_A (str): The numeric feature.
        column_B (str): The label column.
        class_ranges (dict[str, list]): ``{label: [min, max]}``, labels as text (see
            :func:`label_key`); ``None`` leaves a side open. Rows whose label is not listed
            are not judged.
        ignore_row_if (str): Rows skipped for missing values; default ``"either_value_is_missing"``
            (missing values are the not-null expectations' business).
        mostly (float): Share of judged rows that must lie within their class's range.

    A value that cannot be read as a number is outside every range.
    """

    class_ranges: Dict[str, List[Optional[float]]]
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")

    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = _LIBRARY_METADATA
    map_metric: ClassVar[Optional[str]] = CLASS_RANGES_METRIC
    success_keys: ClassVar[Tuple[str, ...]] = ("column_A", "column_B", "class_ranges", "ignore_row_if", "mostly")
    args_keys: ClassVar[Tuple[str, ...]] = ("column_A", "column_B", "class_ranges")

    @classmethod
    def _describe(cls, kwargs: Dict[str, Any]) -> Tuple[str, Dict[str, str]]:
        ranges = kwargs.get("class_ranges") or {}
        text = "; ".join(f"{k!r}: {_number(p[0])} to {_number(p[1])}" for k, p in sorted(ranges.items())
                         if isinstance(p, (list, tuple)) and len(p) == 2)
        params = {"column_A": str(kwargs.get("column_A")), "column_B": str(kwargs.get("column_B")),
                  "ranges": text or "(none)"}
        template = "$column_A must lie within the range trusted data had for the row's $column_B ($ranges)"
        mostly = kwargs.get("mostly")
        if mostly is not None and float(mostly) < 1.0:
            params["mostly_pct"] = f"{float(mostly) * 100:.6g}"
            template += ", for at least $mostly_pct % of the rows"
        return template + "; rows whose label is not listed are not judged.", params

    @pydantic.validator("class_ranges")
    def _check_ranges(cls, v: Dict[str, List[Optional[float]]]) -> Dict[str, List[Optional[float]]]:
        if not v:
            raise ValueError("class_ranges must give a range for at least one label")
        for key, pair in v.items():
            if len(pair) != 2:
                raise ValueError(f"class_ranges[{key!r}] must be [min, max]; got {pair!r}")
            lo, hi = pair
            if lo is not None and hi is not None and float(lo) > float(hi):
                raise ValueError(f"class_ranges[{key!r}] has min {lo} > max {hi}")
        return {str(k): list(p) for k, p in v.items()}
