"""Model-output drift: compare a candidate run with the champion on the trusted canary.

Some poisoning survives every data check and shows only in what the trained model does.
:func:`drift` compares the candidate's stored canary predictions with the champion's (the
registered model's ``champion`` alias, else the last accepted run of the experiment):

* canary accuracy and macro-F1 change, per-class recall change;
* prediction churn: the share of canary rows whose predicted class changed;
* the shift of the predicted-class distribution (Jensen–Shannon divergence, base 2, in [0, 1]);
* the shift of the mean confidence (highest class probability);
* **trigger probes**: each suspected trigger rule (for instance from the backdoor detector's
  section of a scan report) is stamped on canary rows of the other classes, and the share the
  candidate now predicts as the rule's target is compared with the champion's share.

Any threshold crossed (:class:`DriftThresholds`) makes the run *suspected*; the verdict is
recorded on the candidate run as the tags ``poisonguard.suspected`` / ``poisonguard.reasons``,
``drift.*`` metrics and the ``poisonguard/results/drift.json`` artifact.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import _kernel
from ..errors import ConfigError, DataError, TrackingError, UsageError
from ._canary import Canary, CanaryRecord, canary_metrics, load_canary, read_canary_record
from ._log import load_model_of_run
from ._result import ClassDrift, DriftResult, TriggerProbe
from ._store import CHAMPION_ALIAS, Store, open_store

if TYPE_CHECKING:  # pragma: no cover
    from ..detectors._trigger_rules import Condition

__all__ = [
    "DriftThresholds",
    "compare_predictions",
    "drift",
    "find_champion",
    "js_divergence",
    "load_trigger_rules",
    "probe_triggers",
    "stamp_rule",
]

_MAX_TAG = 5000


@dataclasses.dataclass(frozen=True)
class DriftThresholds:
    """Thresholds of :func:`drift`; crossing any one makes the run suspected.

    The defaults suit binary or few-class canaries of about 2,000 rows. Measured on the Adult
    data (2,000-row canary, 6,000-row training samples, the default model), against one champion:
    clean retrains on other samples and seeds (8 seeds) had class-recall changes >= -0.007 and a
    predicted-class Jensen-Shannon <= 0.0002, while 20 % targeted label flips (8 seeds) lowered
    the target's source-class recall by 0.089-0.155 with Jensen-Shannon 0.0019-0.0046; backdoored
    candidates raised the trigger rate by 0.997, clean ones by <= 0.026. Accuracy, macro-F1,
    churn and confidence thresholds are set for gross damage only: targeted poisoning barely
    moves them. Sampling noise grows as ``1/sqrt(rows)``: widen the thresholds for smaller canaries.

    Parameters
    ----------
    max_accuracy_drop : float, default=0.03
        Largest accepted fall of canary accuracy.
    max_macro_f1_drop : float, default=0.05
        Largest accepted fall of canary macro-F1.
    max_class_recall_drop : float, default=0.07
        Largest accepted fall of any class's canary recall (classes with at least
        ``min_class_support`` canary rows).
    max_churn : float, default=0.15
        Largest accepted share of canary rows whose prediction changed.
    max_js : float, default=0.001
        Largest accepted Jensen–Shannon divergence (base 2) between the predicted-class
        distributions.
    max_confidence_shift : float, default=0.05
        Largest accepted change (either way) of the mean highest class probability.
    max_trigger_rate_increase : float, default=0.2
        Largest accepted increase of the share of trigger-stamped canary rows predicted as
        the rule's target, candidate minus champion.
    min_class_support : int, default=30
        Classes with fewer canary rows are reported but not judged.
    min_probe_rows : int, default=20
        Trigger probes on fewer stamped rows are reported but not judged.
    """

    max_accuracy_drop: float = 0.03
    max_macro_f1_drop: float = 0.05
    max_class_recall_drop: float = 0.07
    max_churn: float = 0.15
    max_js: float = 0.001
    max_confidence_shift: float = 0.05
    max_trigger_rate_increase: float = 0.2
    min_class_support: int = 30
    min_probe_rows: int = 20

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name.startswith("min_"):
                if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                    raise ConfigError(f"The {f.name!r} parameter of DriftThresholds must be an int >= 1. "
                                      f"Got {v!r} instead.")
            elif not isinstance(v, (int, float, np.number)) or isinstance(v, bool) or not (0.0 <= v <= 1.0):
                raise ConfigError(f"The {f.name!r} parameter of DriftThresholds must be a float in [0, 1]. "
                                  f"Got {v!r} instead.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> DriftThresholds:
        """Build from a mapping (``params.yaml``'s ``drift:`` section); unknown keys are refused."""
        values = dict(values or {})
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise ConfigError(f"unknown drift threshold(s) {unknown}; the thresholds are: {', '.join(sorted(valid))}")
        return cls(**values)


# -- the comparison ---------------------------------------------------------------------------
def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) between two distributions."""
    return _kernel.js_divergence(p, q)


def compare_predictions(champion: pd.DataFrame, candidate: pd.DataFrame,
                        thresholds: DriftThresholds | None = None
                        ) -> tuple[dict[str, float], tuple[ClassDrift, ...], list[str]]:
    """Compare two models' canary predictions (:func:`~poisonguard.tracking.predict_canary` frames).

    Returns
    -------
    metrics : dict of str to float
    classes : tuple of ClassDrift
    reasons : list of str
        One line per crossed threshold.
    """
    metrics, classes, coded = _compare(champion, candidate, thresholds)
    return metrics, classes, [msg for _, msg in coded]


def _compare(champion: pd.DataFrame, candidate: pd.DataFrame, thresholds: DriftThresholds | None
             ) -> tuple[dict[str, float], tuple[ClassDrift, ...], list[tuple[str, str]]]:
    """:func:`compare_predictions` with each reason as ``(code, message)`` (the codes of ``REASON_CODES``)."""
    t = thresholds or DriftThresholds()
    if len(champion) != len(candidate) or not np.array_equal(champion["row"].to_numpy(), candidate["row"].to_numpy()):
        raise DataError("the two runs' canary predictions are not over the same rows; log both runs with the "
                        "same canary")
    a, b = canary_metrics(champion), canary_metrics(candidate)
    pa = champion["prediction"].astype(str).to_numpy()
    pb = candidate["prediction"].astype(str).to_numpy()
    labels = sorted(set(pa) | set(pb) | set(a["recall"]))
    dist_a = np.array([(pa == c).mean() for c in labels])
    dist_b = np.array([(pb == c).mean() for c in labels])
    metrics = {
        "champion_accuracy": a["accuracy"], "candidate_accuracy": b["accuracy"],
        "accuracy_delta": b["accuracy"] - a["accuracy"],
        "champion_macro_f1": a["macro_f1"], "candidate_macro_f1": b["macro_f1"],
        "macro_f1_delta": b["macro_f1"] - a["macro_f1"],
        "churn": float((pa != pb).mean()),
        "js_divergence": js_divergence(dist_a, dist_b),
    }
    if math.isfinite(a["mean_confidence"]) and math.isfinite(b["mean_confidence"]):
        metrics["champion_mean_confidence"] = a["mean_confidence"]
        metrics["candidate_mean_confidence"] = b["mean_confidence"]
        metrics["confidence_shift"] = b["mean_confidence"] - a["mean_confidence"]
    reasons: list[tuple[str, str]] = []
    if -metrics["accuracy_delta"] > t.max_accuracy_drop:
        reasons.append(("accuracy_drop", f"canary accuracy fell by {-metrics['accuracy_delta']:.3f} "
                        f"({a['accuracy']:.3f} -> {b['accuracy']:.3f}), more than max_accuracy_drop={t.max_accuracy_drop}"))
    if -metrics["macro_f1_delta"] > t.max_macro_f1_drop:
        reasons.append(("macro_f1_drop", f"canary macro-F1 fell by {-metrics['macro_f1_delta']:.3f} "
                        f"({a['macro_f1']:.3f} -> {b['macro_f1']:.3f}), more than max_macro_f1_drop={t.max_macro_f1_drop}"))
    classes = []
    for c in sorted(a["recall"]):
        ra, rb, n = a["recall"][c], b["recall"].get(c, 0.0), a["support"][c]
        classes.append(ClassDrift(label=c, support=n, champion_recall=ra, candidate_recall=rb, delta=rb - ra))
        if n >= t.min_class_support and ra - rb > t.max_class_recall_drop:
            reasons.append(("class_recall_drop", f"recall of class {c!r} fell by {ra - rb:.3f} ({ra:.3f} -> {rb:.3f} "
                            f"on {n} canary rows), more than max_class_recall_drop={t.max_class_recall_drop}"))
    judged = [c.delta for c in classes if c.support >= t.min_class_support] or [c.delta for c in classes]
    if judged:
        metrics["worst_class_recall_delta"] = min(judged)
    if metrics["churn"] > t.max_churn:
        reasons.append(("churn", f"{metrics['churn']:.1%} of the canary rows changed prediction, more than "
                        f"max_churn={t.max_churn}"))
    if metrics["js_divergence"] > t.max_js:
        shares = ", ".join(f"{c} {x:.1%}->{y:.1%}" for c, x, y in zip(labels, dist_a, dist_b))
        reasons.append(("js_divergence", f"the predicted-class distribution shifted (Jensen-Shannon "
                        f"{metrics['js_divergence']:.4f} > max_js={t.max_js}: {shares})"))
    shift = metrics.get("confidence_shift")
    if shift is not None and abs(shift) > t.max_confidence_shift:
        reasons.append(("confidence_shift", f"the mean confidence moved by {shift:+.3f} ({a['mean_confidence']:.3f} "
                        f"-> {b['mean_confidence']:.3f}), more than max_confidence_shift={t.max_confidence_shift}"))
    return metrics, tuple(classes), reasons


# -- trigger rules and probes -----------------------------------------------------------------
#: Keys of a detector's report section that list trigger rules.
_RULE_KEYS = ("triggers", "rules")


def _parse_rule(rule: Any) -> tuple[Condition, ...]:
    """The rule's conditions, parsed into the backdoor detector's :class:`Condition`, or
    :class:`ConfigError` (no mapping, no ``conditions`` list, no ``target``, a bad condition)."""
    from ..detectors._trigger_rules import Condition  # lazily: not the detectors' imports on `import tracking`

    if not isinstance(rule, Mapping):
        raise ConfigError(f"a trigger rule must be a mapping with 'conditions' and 'target'; got {rule!r}")
    conds = rule.get("conditions")
    if not isinstance(conds, Sequence) or isinstance(conds, (str, bytes)) or not conds:
        raise ConfigError(f"trigger rule {dict(rule)!r} has no 'conditions' list; give "
                          "[{'column': ..., 'op': ..., 'value': ...}, ...]")
    if "target" not in rule:
        raise ConfigError(f"trigger rule {dict(rule)!r} has no 'target' class")
    return tuple(Condition.parse(c) for c in conds)


def _normalise_rule(rule: Any) -> dict[str, Any]:
    """The rule as given, its conditions in the canonical ``{"column", "op", "value"}`` form
    (aliases resolved: :meth:`Condition.parse`), or :class:`ConfigError`."""
    conds = _parse_rule(rule)
    return {**dict(rule), "conditions": [c.as_given() for c in conds], "target": rule["target"]}


def load_trigger_rules(source: str | os.PathLike[str] | Sequence[Mapping[str, Any]]
                       ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]], str | None]:
    """Read trigger rules from a scan report JSON, a rules JSON, or a list of dicts.

    In a scan report (read through :meth:`ScanResult.from_dict <poisonguard._result.StageResult.from_dict>`,
    so a report of a schema this version does not read is refused), the rules are the
    ``triggers`` (suspected triggers, as the backdoor detector writes them) and ``rules`` lists
    found in any detector's report section — not the unconfirmed ``candidates``; a bare JSON
    list, or ``{"rules": [...]}``, also works.

    Returns
    -------
    rules : list of dict
        The well-formed rules.
    bad : list of (dict, str)
        Rules found in a report that could not be read, with the reason (reported as skipped probes).
    note : str or None
        Why there are no rules at all, else None.
    """
    if not isinstance(source, (str, os.PathLike)):
        return [_normalise_rule(r) for r in source], [], (None if source else "no trigger rules given")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: no such rules file; pass a scan report (report.json) or a JSON list of rules")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON file ({exc}); pass a scan report or a JSON list of rules") from None
    raw: list[Any] = []
    if isinstance(data, list):
        raw = data
    elif isinstance(data, dict) and isinstance(data.get("rules"), list):
        raw = data["rules"]
    elif isinstance(data, dict) and data.get("kind") == "scan":
        from ..scan import ScanResult  # lazily: drift needs the scan's result class only for this

        for det in ScanResult.from_dict(data, source=str(path)).detectors:  # schema checked, file named
            for key in _RULE_KEYS:
                if isinstance(det.section.get(key), list):
                    raw.extend(det.section[key])
    rules, bad = [], []
    for r in raw:
        try:
            rules.append(_normalise_rule(r))
        except ConfigError as exc:
            bad.append((dict(r) if isinstance(r, Mapping) else {"rule": r}, str(exc)))
    note = None if (rules or bad) else f"no trigger rules in {path} (no detector section lists 'triggers')"
    return rules, bad, note


def stamp_rule(frame: pd.DataFrame, rule: Mapping[str, Any]) -> pd.DataFrame:
    """A copy of ``frame`` with every row made to satisfy the rule's conditions.

    ``==`` / ``>=`` / ``<=`` set the value, ``>`` / ``<`` the next value past it (±1 for
    integers), ``in`` the first listed value. Raises ``ValueError`` for a condition that cannot be
    stamped (an unknown column, another operator).
    """
    out = frame.copy()
    for cond in _parse_rule(rule):
        col = cond.column
        if col not in out.columns:
            raise ValueError(f"the model does not use column {col!r}")
        s = out[col]
        value = cond.stamp_value(s)
        dtype: Any = s.dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
            dtype = object  # a stamped category may be new to the column
        elif pd.api.types.is_integer_dtype(dtype) and isinstance(value, (float, np.floating)):
            if float(value).is_integer():
                value = int(value)
            else:
                dtype = "float64"
        out[col] = pd.Series([value] * len(out), index=out.index, dtype=dtype)
    return out


def probe_triggers(champion_model: Any, candidate_model: Any, canary: Canary, features: Sequence[str],
                   rules: Sequence[Mapping[str, Any]], thresholds: DriftThresholds | None = None
                   ) -> tuple[TriggerProbe, ...]:
    """Stamp each rule on the canary rows of other classes and compare the two models' target rates."""
    t = thresholds or DriftThresholds()
    X = canary.features(features)
    y = canary.labels
    probes = []
    for rule in rules:
        target = str(rule["target"])
        others = y != target
        n = int(others.sum())
        try:
            stamped = stamp_rule(X.loc[others], rule)
        except (ValueError, TypeError) as exc:
            probes.append(TriggerProbe(rule=dict(rule), target=target, n_rows=n, skipped=str(exc)))
            continue
        if n == 0:
            probes.append(TriggerProbe(rule=dict(rule), target=target, skipped="no canary rows of other classes"))
            continue
        ra = float((np.asarray(champion_model.predict(stamped)).astype(str) == target).mean())
        rb = float((np.asarray(candidate_model.predict(stamped)).astype(str) == target).mean())
        judged = n >= t.min_probe_rows
        probes.append(TriggerProbe(rule=dict(rule), target=target, n_rows=n, champion_rate=ra, candidate_rate=rb,
                                   increase=rb - ra, suspected=judged and rb - ra > t.max_trigger_rate_increase))
    return tuple(probes)


# -- the champion -----------------------------------------------------------------------------
def find_champion(store: Store, run: Any, model_name: str | None = None) -> tuple[str, str]:
    """The champion's run id and how it was found, or :class:`TrackingError` when there is none.

    The registered model ``model_name`` (default: the run's experiment name) with its
    ``champion`` alias first; else the experiment's run tagged ``poisonguard.accepted`` most recently.
    """
    from mlflow.exceptions import MlflowException

    client = store.client
    exp = client.get_experiment(run.info.experiment_id)
    name = model_name or exp.name
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        mv = None
    if mv is not None and mv.run_id:
        return str(mv.run_id), f"models:/{name}@{CHAMPION_ALIAS} (version {mv.version})"
    accepted = client.search_runs([run.info.experiment_id], filter_string="tags.`poisonguard.accepted` = 'true'",
                                  max_results=1000)
    accepted = [r for r in accepted if r.info.run_id != run.info.run_id]
    if not accepted:
        raise TrackingError(f"no champion to compare run {run.info.run_id} with: registered model {name!r} has no "
                            f"'{CHAMPION_ALIAS}' alias and experiment {exp.name!r} has no accepted run; promote a "
                            "trusted run first with `poisonguard promote RUN`")
    best = max(accepted, key=lambda r: (r.data.tags.get("poisonguard.accepted_at", ""), r.info.start_time or 0))
    return str(best.info.run_id), f"last accepted run of experiment {exp.name!r}"


# -- the stage --------------------------------------------------------------------------------
def _check_canary(record: CanaryRecord, canary: Canary, role: str) -> None:
    if record.content_sha256 != canary.content_sha256:
        raise DataError(f"the canary {canary.path or '<frame>'} (content sha256 {canary.content_sha256[:12]}) is not "
                        f"the canary the {role} run {record.run_id} was evaluated on ({record.content_sha256[:12]}, "
                        f"{record.meta.get('path')}); pass the canary both runs were logged with")


def drift(run_id: str, canary: str | os.PathLike[str] | pd.DataFrame | Canary, *, label: str | None = None,
          rules: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | None = None,
          model_name: str | None = None, champion_run_id: str | None = None,
          thresholds: DriftThresholds | Mapping[str, Any] | None = None, record: bool = True,
          trusted_types: Sequence[str] = (), tracking_uri: str | None = None) -> DriftResult:
    """Compare run ``run_id`` with the champion on the canary; record the verdict on the run.

    Parameters
    ----------
    run_id : str
        The candidate run (logged with :func:`~poisonguard.tracking.log_run` and a canary).
    canary : path-like, DataFrame or Canary
        The canary both runs were evaluated on (checked by digest).
    label : str, default=None
        The canary's label column.
    rules : path-like or list of dict, default=None
        Suspected trigger rules: a scan report JSON (rules from the detectors' sections), a JSON
        list of rules, or the rules themselves. None: no trigger probes (said in the result).
    model_name : str, default=None
        Registered model whose ``champion`` alias names the champion (default: the experiment name).
    champion_run_id : str, default=None
        Compare with this run instead of looking the champion up.
    thresholds : DriftThresholds or mapping, default=None
        The thresholds (defaults: :class:`DriftThresholds`).
    record : bool, default=True
        Set the tags ``poisonguard.suspected`` / ``poisonguard.reasons``, log ``drift.*`` metrics
        and the result JSON on the candidate run.
    trusted_types : sequence of str, default=()
        More skops types to trust when loading the models for the trigger probes.
    tracking_uri : str, default=None
        The store.

    Returns
    -------
    DriftResult

    Raises
    ------
    TrackingError
        Unknown run, no champion, a run without canary predictions or model.
    DataError
        Missing canary, or a canary other than the one the runs were evaluated on.
    """
    t = thresholds if isinstance(thresholds, DriftThresholds) else DriftThresholds.from_mapping(thresholds)
    can = load_canary(canary, label=label)
    bad: list[tuple[dict[str, Any], str]] = []
    note: str | None = "no trigger rules given: trigger probes skipped"
    rule_list: list[dict[str, Any]] = []
    if rules is not None:
        rule_list, bad, note = load_trigger_rules(rules)
        if note:
            note += ": trigger probes skipped"
    with open_store(tracking_uri) as store:
        run = store.get_run(run_id)
        run_id = run.info.run_id
        if champion_run_id:
            champ_id = store.get_run(champion_run_id).info.run_id
            source = f"run {champ_id} given as the champion"
        else:
            champ_id, source = find_champion(store, run, model_name)
        if champ_id == run_id:
            raise UsageError(f"run {run_id} is the champion itself; compare a new candidate run with it")
        cand_rec = read_canary_record(store, run_id)
        champ_rec = read_canary_record(store, champ_id)
        _check_canary(cand_rec, can, "candidate")
        _check_canary(champ_rec, can, "champion")
        metrics, classes, reasons = _compare(champ_rec.predictions, cand_rec.predictions, t)
        probes: tuple[TriggerProbe, ...] = tuple(
            TriggerProbe(rule=r, target=str(r.get("target")), skipped=why) for r, why in bad)
        if rule_list:
            cand_model = load_model_of_run(store, run_id, trusted_types)
            champ_model = load_model_of_run(store, champ_id, trusted_types)
            features = cand_rec.features or champ_rec.features
            probes += probe_triggers(champ_model, cand_model, can, features, rule_list, t)
        ran = [p for p in probes if p.increase is not None]
        if ran:
            metrics["max_trigger_increase"] = max(p.increase for p in ran if p.increase is not None)
        for p in probes:
            if p.suspected:
                reasons.append(("trigger", f"trigger rule {p.describe()}: the candidate predicts {p.target!r} for "
                                f"{p.candidate_rate:.1%} of {p.n_rows} stamped canary rows, the champion for "
                                f"{p.champion_rate:.1%} (increase {p.increase:+.2f} > max_trigger_rate_increase="
                                f"{t.max_trigger_rate_increase})"))
        if rule_list and not ran:
            note = "no trigger probe could run (see the skipped probes)"
        elif rule_list:
            note = None
        result = DriftResult(run_id=run_id, champion_run_id=champ_id, champion_source=source,
                             canary=can.describe(), parameters=dataclasses.asdict(t), metrics=metrics,
                             classes=classes, probes=probes, probes_note=note,
                             suspected=bool(reasons), reasons=tuple(msg for _, msg in reasons),
                             reason_codes=tuple(code for code, _ in reasons))
        if record:
            _record(store, result)
    return result


def _canary_input(run: Any) -> tuple[str, str] | None:
    """The MLflow ``(name, digest)`` of the run's ``canary`` input, when it has one."""
    for inp in (run.inputs.dataset_inputs if run.inputs else None) or []:
        if any(t.key == "mlflow.data.context" and t.value == "canary" for t in inp.tags or []):
            return str(inp.dataset.name), str(inp.dataset.digest)
    return None


def _record(store: Store, result: DriftResult) -> None:
    """The verdict as tags and ``drift.*`` metrics on the run and on its LoggedModel (for the canary input)."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    reasons = "; ".join(result.reasons)
    if len(reasons) > _MAX_TAG:
        reasons = reasons[: _MAX_TAG - 1] + "…"
    tags = {"poisonguard.suspected": "true" if result.suspected else "false",
            "poisonguard.reasons": reasons,
            "poisonguard.drift.champion_run": result.champion_run_id,
            "poisonguard.drift.canary_content_sha256": str(result.canary.get("content_sha256")),
            "poisonguard.drift.checked_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    run = store.get_run(result.run_id)
    model_id = run.data.tags.get("poisonguard.model_id") or None
    name, digest = _canary_input(run) or (None, None)
    values = {f"drift.{k}": float(v) for k, v in result.metrics.items()
              if isinstance(v, (int, float)) and math.isfinite(v)}
    values["drift.suspected"] = float(result.suspected)
    metrics = [Metric(k, v, now, 0, model_id=model_id, dataset_name=name, dataset_digest=digest)
               for k, v in values.items()]
    store.client.log_batch(result.run_id, metrics=metrics, tags=[RunTag(k, v) for k, v in tags.items()])
    store.client.log_dict(result.run_id, result.to_dict(), "poisonguard/results/drift.json")
    if model_id:
        store.client.set_logged_model_tags(model_id, tags)
