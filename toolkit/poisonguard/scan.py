"""``poisonguard.scan``: run the detectors on a dataset, combine them, split clean / quarantine.

The scan loads the data once, encodes it once (:meth:`TabularDataset.encode`), fits every
chosen detector through the registry (it never special-cases a detector's name), and decides
every row once, in one place (:mod:`poisonguard.evidence`): each gating detector gives every row
a p-value under the data's own clean bulk, the detectors whose column passes its global test enter
(:func:`poisonguard.evidence.screen`), their p-values are combined per row (Bonferroni over them),
and Benjamini–Hochberg over the rows at ``decision.level`` (default 0.1) quarantines.
Rows that BH accepts only at ``decision.review_level``, or that a detector's own threshold flags,
are listed for **review** and kept in the clean split. A detector that raises is recorded in
``failures`` and the scan goes on. Detectors that learn from the other rows
(``learns_from_rows``: label evidence) are fitted last, without the rows the others' evidence
quarantines on its own (:func:`held_back`; their report section's ``held_out``), and score those
rows as new rows; the report keeps the order the detectors were asked for.

Two levels of answer:

* **rows**: ``decision`` is ``keep``, ``review`` or ``quarantine``; quarantined rows go to the
  quarantine file with their reasons (never deleted);
* **batch**: ``suspected`` is true when a detector's batch policy says so (for
  label flips: see :meth:`poisonguard.detectors.LabelFlipDetector.batch_finding`), not
  whenever a row is quarantined — real data always holds some natural noise.

Outputs of ``scan(..., out=DIR)``: ``report.json`` (the :class:`ScanResult`), ``scores.csv``
(one line per input row: ``row,suspicion,flagged,decision,p_value`` then one column per detector,
each on the common suspicion scale of :func:`poisonguard.evidence.suspicion_from_p`; ``p_value`` is
the combined evidence, ``suspicion`` the ranking of :func:`poisonguard.evidence.ranked_suspicion`; ``flagged`` is
``decision == "quarantine"``, the rows the report calls ``quarantined``; the column keeps its
name for the readers of ``scores.csv``), ``clean.<ext>`` (keep and review rows) and ``quarantine.<ext>``
in the input's format (the quarantine keeps every column plus ``row``, ``suspicion`` and
``reasons``).

**Against a trusted reference** (``reference=`` and/or ``reference_rev=``): both versions are
encoded by the encoder fitted on the trusted data; detectors that can score new rows (they
implement ``_score_raw``) are fitted on the trusted rows and score the added and changed rows
(inductive mode; a label detector's batch decision is the comparison's label shift, a
feature-space one (``outliers``) makes the batch suspected when Simes' test of its p-values over
the added and changed rows is significant, :func:`poisonguard.reference.inductive_batch_test`);
the others run on the new data as usual.
An inductive detector's evidence for a new row is a split-conformal p-value of its suspicion
against the suspicions it gives the trusted rows (:func:`poisonguard.reference.inductive_pvalues`),
decided with the other detectors' p-values (rows its own threshold flags go to review); the
comparison's rows (``reference_shift`` above 0.5) are quarantined. When the batch is suspected, the
BH level may then be loosened if a model trained on the rows a looser level keeps is significantly
more accurate on the trusted rows (``decision.choose_level``, :func:`poisonguard.reference.choose_level`). Rows
already in the trusted version are never flagged. :func:`poisonguard.reference.compare` adds the ``reference_shift`` column (label shift seen by a trusted model, unseen labels) and the
report's ``reference`` section (row delta, label and distribution shift, per source); its policy
(``params["reference_shift"]``) can make the batch suspected.
"""

from __future__ import annotations

import dataclasses
import html
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from . import detectors as _registry
from . import evidence as _evidence
from . import reference as _reference
from ._result import StageResult
from ._threads import threads_for
from .data import TabularDataset, as_dataset, output_name, write_frame
from .errors import ConfigError, UsageError
from .evidence import suspicion_from_p

if TYPE_CHECKING:  # pragma: no cover
    from .verdict import CheckBuilder

__all__ = ["DetectorSummary", "Failure", "FlaggedRow", "ScanResult", "check_config", "scan"]

#: Flagged rows listed in ``report.json`` at most (all of them are in the quarantine file).
MAX_REPORTED_ROWS = 1000
#: The key of the decision's levels among the scan's parameters (``params.yaml``: ``scan: decision:``).
DECISION_KEY = "decision"
#: A detector gives its reason for every row whose own p-value is at most this (and every row it flags).
EVIDENCE_REASON_P = 0.01


@dataclasses.dataclass(frozen=True)
class DetectorSummary:
    """What one detector did in a scan.

    ``seconds`` (wall-clock time) is kept in memory and printed, but is not part of
    ``report.json``: timings go to ``timings.json`` beside it, so that the report is
    byte-identical for identical inputs and seeds.
    """

    name: str
    family: str
    gates: bool
    n_flagged: int
    suspected: bool
    reason: str
    section: dict[str, Any]
    seconds: float = dataclasses.field(default=0.0, metadata={"serialize": False})


@dataclasses.dataclass(frozen=True)
class Failure:
    """A detector that raised: recorded, not swallowed."""

    detector: str
    error: str
    message: str


@dataclasses.dataclass(frozen=True)
class FlaggedRow:
    """One quarantined row."""

    row: int
    suspicion: float
    reasons: tuple[str, ...]
    id: Any = None
    label: Any = None


@dataclasses.dataclass(frozen=True)
class ScanResult(StageResult):
    """Result of :func:`scan`.

    Attributes
    ----------
    inputs : dict
        ``{"data": {...}}``: path, SHA-256, format, rows, columns and label of the scanned data (as
        ``inputs`` of the other stage results; schema 2.x called it ``input``, read still).
    parameters : dict
        Detectors, their parameters and the seed.
    n_rows, n_quarantined : int
        Rows scanned; rows quarantined (the decision ``"quarantine"``; schema 3.x called it ``n_flagged``).
    n_review : int
        Rows listed for review (unusual, kept in the clean split).
    suspected : bool
        The batch-level answer: poisoning suspected (as ``suspected`` of the drift result and of each
        detector; schema 3.x said ``verdict: "suspected"``). :attr:`status` says it for people.
    reasons : tuple of str
        Why the batch is suspected (empty when clean).
    detectors : tuple of DetectorSummary
        Per detector: its own flags (``n_flagged``: rows its threshold flags, which may only go to
        review), batch decision and its report section (its time in memory only: see :meth:`timings`).
    quarantined : tuple of FlaggedRow
        The quarantined rows with the highest suspicion, at most :data:`MAX_REPORTED_ROWS`.
    review : tuple of FlaggedRow
        The review rows with the highest suspicion, at most :data:`MAX_REPORTED_ROWS`.
    decision : dict
        How rows were decided: method, levels, thresholds and counts (see :mod:`poisonguard.evidence`).
    failures : tuple of Failure
        Detectors that raised.
    outputs : dict
        Paths of the files written.
    reference : dict or None
        Trusted-reference comparison, when a reference was given.
    scores : pandas.DataFrame or None
        Per-row scores (``row``, ``suspicion``, ``flagged``, ``decision``, one column per detector);
        kept in memory, written to ``scores.csv``, not part of ``to_dict()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard import scan
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> result = scan(frame, label="target", seed=0)
    >>> result.suspected, result.status, len(result.scores) == len(frame)
    (False, 'clean', True)
    """

    KIND: ClassVar[str] = "scan"
    #: 2.0: per-detector ``seconds`` moved to timings.json; 3.0: ``input`` became ``inputs["data"]``;
    #: 4.0: ``verdict`` became the boolean ``suspected``, ``n_flagged`` and ``flagged`` became
    #: ``n_quarantined`` and ``quarantined``.
    SCHEMA_VERSION: ClassVar[str] = "4.0"
    READS_SCHEMAS: ClassVar[tuple[int, ...] | None] = (1, 2, 3, 4)

    inputs: dict[str, Any]
    parameters: dict[str, Any]
    n_rows: int
    n_quarantined: int
    suspected: bool
    reasons: tuple[str, ...] = ()
    detectors: tuple[DetectorSummary, ...] = ()
    quarantined: tuple[FlaggedRow, ...] = ()
    n_review: int = 0
    review: tuple[FlaggedRow, ...] = ()
    decision: dict[str, Any] | None = None
    failures: tuple[Failure, ...] = ()
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    reference: dict[str, Any] | None = None
    scores: pd.DataFrame | None = dataclasses.field(default=None, repr=False, compare=False,
                                                    metadata={"serialize": False})

    @classmethod
    def _upgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        """Schema 1.x and 2.x: ``input`` -> ``inputs["data"]`` (1.x's per-detector ``seconds`` is read as
        is); 1.x to 3.x: ``verdict`` -> ``suspected`` (``verdict == "suspected"``), ``n_flagged`` and
        ``flagged`` -> ``n_quarantined`` and ``quarantined``."""
        if "input" in data and "inputs" not in data:
            data["inputs"] = {"data": data.pop("input")}
        if "verdict" in data and "suspected" not in data:
            data["suspected"] = data.pop("verdict") == "suspected"
        for old, new in (("n_flagged", "n_quarantined"), ("flagged", "quarantined")):
            if old in data and new not in data:
                data[new] = data.pop(old)
        return data

    @property
    def input(self) -> dict[str, Any]:
        """The scanned data's path, SHA-256, format, rows, columns and label (``inputs["data"]``).

        Kept for code written against schema 2.x; use ``inputs["data"]``.
        """
        return dict(self.inputs.get("data") or {})

    @property
    def verdict(self) -> str:
        """``"suspected"`` or ``"clean"``: :attr:`suspected` as schema 3.x spelled it.

        Kept for code written against schema 3.x; use :attr:`suspected` (or :attr:`status`, for people).
        """
        return "suspected" if self.suspected else "clean"

    @property
    def n_flagged(self) -> int:
        """:attr:`n_quarantined`, as schema 3.x named it; kept for code written against 3.x."""
        return self.n_quarantined

    @property
    def flagged(self) -> tuple[FlaggedRow, ...]:
        """:attr:`quarantined`, as schema 3.x named it; kept for code written against 3.x."""
        return self.quarantined

    @property
    def return_code(self) -> int:
        """1 when poisoning is suspected; 3 when a detector failed and nothing was suspected; else 0."""
        if self.suspected:
            return 1
        return 3 if self.failures else 0

    @property
    def status(self) -> str:
        """``"suspected"``; ``"incomplete"`` when a detector failed and nothing was suspected (never
        "clean" then: exit code 3); else ``"clean"``."""
        return "incomplete" if self.return_code == 3 else ("suspected" if self.suspected else "clean")

    def to_dict(self) -> dict[str, Any]:
        """:meth:`StageResult.to_dict` plus ``status`` (see :attr:`status`)."""
        return {**super().to_dict(), "status": self.status}

    def flat_metrics(self) -> dict[str, int | float]:
        """``failed`` (poisoning suspected or a detector failed), ``rows``, ``quarantined``,
        ``quarantined_share``, ``review``, ``detector_failures``, and per detector
        ``<name>_suspected`` (0/1) and ``<name>_flagged`` (its own flags)."""
        out: dict[str, int | float] = {
            **super().flat_metrics(), "rows": self.n_rows, "quarantined": self.n_quarantined,
            "quarantined_share": round(self.n_quarantined / self.n_rows, 6) if self.n_rows else 0.0,
            "review": self.n_review, "detector_failures": len(self.failures)}
        for d in self.detectors:
            out[f"{d.name}_suspected"] = int(d.suspected)
            out[f"{d.name}_flagged"] = d.n_flagged
        return out

    def gate_checks(self, checks: CheckBuilder) -> None:
        """One check per detector (failed when its batch policy suspects poisoning and it gates, a
        warning when it does not gate), one per detector that raised (failed under the policy's
        ``fail_on_detector_error``, else a warning), ``quarantine-share`` under the policy's
        ``max_quarantine_share``, and ``batch`` when the batch is suspected and no check says why."""
        loc = self.input.get("path")
        for det in self.detectors:
            if det.suspected:
                checks.add(det.name, "failed" if det.gates else "warning",
                           f"poisoning suspected: {det.reason or 'the batch policy fired'} ({det.n_flagged} rows flagged)",
                           loc)
            else:
                note = "" if det.gates else " (reported only: this detector does not gate)"
                checks.add(det.name, "passed", f"batch not suspected; its own threshold flags {det.n_flagged} rows{note}",
                           loc)
        for f in self.failures:
            status = "failed" if checks.policy.fail_on_detector_error else "warning"
            checks.add(f.detector, status, f"the detector raised {f.error}: {f.message}", loc)
        share = self.n_quarantined / self.n_rows if self.n_rows else 0.0
        limit = checks.policy.max_quarantine_share
        if limit is not None:
            checks.add("quarantine-share", "failed" if share > limit else "passed",
                       f"{self.n_quarantined} of {self.n_rows} rows quarantined ({share:.1%}); the policy allows {limit:.1%}",
                       loc)
        if self.suspected and not checks.any_failed:
            checks.add("batch", "failed", "poisoning suspected: " + "; ".join(self.reasons), loc)

    def summary(self) -> str:
        """Rows, quarantined share and review count, the decision's level and the batch answer, in one line."""
        share = self.n_quarantined / self.n_rows if self.n_rows else 0.0
        ref = " against a trusted reference" if self.reference else ""
        level = (self.decision or {}).get("level")
        how = f" (BH at level {level:g})" if isinstance(level, (int, float)) else ""
        return (f"{self.n_rows} rows of {self.input.get('path') or 'in-memory data'}{ref}: {self.n_quarantined} quarantined "
                f"({share:.1%}){how}, {self.n_review} for review; batch {'SUSPECTED' if self.suspected else 'clean'}")

    def timings(self) -> dict[str, Any]:
        """Wall-clock seconds per detector (``timings.json``): what changes from run to run, kept out of
        ``report.json`` so that the report only changes when the data, parameters or seed do."""
        return {"kind": "scan-timings", "unit": "seconds",
                "detectors": {d.name: d.seconds for d in self.detectors},
                "total": round(sum(d.seconds for d in self.detectors), 3)}

    def __str__(self) -> str:
        src = self.input.get("path") or "<frame>"
        head = {"suspected": "POISONING SUSPECTED", "incomplete": f"INCOMPLETE ({len(self.failures)} detector(s) "
                "failed; not a clean result)"}.get(self.status, self.status)
        lines = [f"scan of {src}: {head}",
                 f"  {self.n_rows} rows: {self.n_quarantined} quarantined ({self.n_quarantined / max(self.n_rows, 1):.1%}), "
                 f"{self.n_review} for review (kept in the clean split)"]
        if self.decision:
            lines.append(f"  quarantine: Benjamini-Hochberg at level {self.decision['level']:g} on the combined "
                         f"evidence of {self.decision['n_detectors_combined']} detector(s)")
            if note := _evidence.screen_note(self.decision):
                lines.append(f"  ({note})")
            from .reference._level import level_note

            if note := level_note(self.decision):
                lines.append(f"  ({note})")
        if self.reference:
            d = self.reference["delta"]
            t = self.reference["trusted"]
            lines.append(f"  against trusted {t.get('path') or '<frame>'}{'@' + t['rev'] if t.get('rev') else ''}: "
                         f"{d['added']} added, {d['changed']} changed, {d['unchanged']} unchanged, "
                         f"{d['removed']} removed ({d['new_fraction']:.1%} of the rows are new)")
        for r in self.reasons:
            lines.append(f"  - {r}")
        for d in self.detectors:
            mark = "SUSPECTED" if d.suspected else "ok"
            lines.append(f"  {d.name:<20} {d.n_flagged:>8} flagged  {d.seconds:7.1f}s  {mark}")
        for f in self.failures:
            lines.append(f"  {f.detector:<20} FAILED: {f.error}: {f.message}")
        for k, v in self.outputs.items():
            lines.append(f"  {k}: {v}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        verdict = {"suspected": "<b style='color:#b00'>poisoning suspected</b>",
                   "incomplete": "<b style='color:#b60'>incomplete (a detector failed)</b>"}.get(self.status, "<b>clean</b>")
        rows = "".join(
            f"<tr><td>{esc(d.name)}</td><td>{esc(d.family)}</td><td>{d.n_flagged}</td><td>{d.seconds:.1f}</td>"
            f"<td>{esc(d.reason) or 'ok'}</td></tr>" for d in self.detectors)
        fl = "".join(f"<tr><td>{r.row}</td><td>{r.suspicion:.3f}</td><td>{esc(str(r.label))}</td>"
                     f"<td>{esc('; '.join(r.reasons))}</td></tr>" for r in self.quarantined[:20])
        return (f"<div><p>Scan of <code>{esc(str(self.input.get('path') or '<frame>'))}</code>: {verdict} — "
                f"{self.n_rows} rows, {self.n_quarantined} quarantined.</p>"
                + "".join(f"<p>{esc(r)}</p>" for r in self.reasons)
                + "<table><tr><th>detector</th><th>family</th><th>flagged</th><th>s</th><th>batch</th></tr>"
                f"{rows}</table><p>Most suspicious rows:</p><table><tr><th>row</th><th>suspicion</th>"
                f"<th>label</th><th>reasons</th></tr>{fl}</table></div>")


Progress = Callable[[str, int, int], None]


def check_config(detectors: Sequence[str] | None = None, params: Mapping[str, Any] | None = None, *,
                 seed: int | None = 0, with_reference: bool = False,
                 decision: Mapping[str, Any] | None = None) -> tuple[list[str], list[_registry.BaseDetector],
                                                                    dict[str, Any] | None, dict[str, float]]:
    """Check a scan's configuration before anything is read or fitted; build its detectors.

    Every name is looked up in the registry (never special-cased), every detector's parameter
    names are checked against its ``get_params()``, their values and its batch policy by
    :meth:`~poisonguard.detectors.BaseDetector.check_config`; the reference comparison's policy
    (``params["reference_shift"]``) and the decision's levels (``params["decision"]``) by their
    declared :class:`~poisonguard.config.Policy`. Messages name the key as in params.yaml
    (``scan.outliers.policy.levle``).

    Returns
    -------
    names : list of str
        The detectors to run.
    detectors : list of BaseDetector
        One unfitted instance per name, seeded.
    reference_policy : dict or None
        The comparison's validated policy (None without a reference).
    levels : dict
        The decision's levels.

    Raises
    ------
    ConfigError
        Anything above that is wrong (exit 2 on the command line).
    """
    params = dict(params or {})
    ref_params = params.pop(_reference.NAME, None)
    decision_values = params.pop(DECISION_KEY, None)
    if decision_values is not None and not isinstance(decision_values, Mapping):
        raise ConfigError(f"scan.{DECISION_KEY} must be a mapping (level, review_level, choose_level); got "
                          f"{decision_values!r}. Fix the value.")
    levels = _evidence.decision_levels({**dict(decision_values or {}), **dict(decision or {})})
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(f"scan.seed must be a whole number or null; got {seed!r}. Fix the value.")
    if not with_reference and ref_params:
        raise UsageError(f"{_reference.NAME} parameters need a trusted reference: pass --reference PATH or "
                         "--reference-rev REV")
    ref_policy = _reference.policy(ref_params) if with_reference else None
    names = list(detectors) if detectors is not None else _registry.default()
    if not names:
        raise ConfigError("no detectors to run; name at least one (see `poisonguard detectors`)")
    for n in names:
        _registry.get(n)  # unknown names: a ConfigError listing the registered ones
    for k in params:
        if k not in _registry.available():
            raise ConfigError(f"scan.{k} is not a detector (nor {DECISION_KEY}, {_reference.NAME}); registered "
                              f"detectors: {', '.join(_registry.available())}. Fix the name or remove it.")
    unknown_params = sorted(set(params) - set(names))
    if unknown_params:
        raise ConfigError(f"parameters given for detectors that are not run: {unknown_params}; "
                          f"the detectors run are: {', '.join(names)}")
    return names, [_make_detector(n, params, seed) for n in names], ref_policy, levels


def _make_detector(name: str, params: Mapping[str, Any], seed: int | None) -> _registry.BaseDetector:
    cls = _registry.get(name)
    own = params.get(name, {}) or {}
    if not isinstance(own, Mapping):
        raise ConfigError(f"scan.{name} must be a mapping of parameter names to values, got "
                          f"{type(own).__name__} {own!r}; fix the file")
    valid = sorted(cls().get_params(deep=False))
    for key in own:
        if key not in valid:
            raise ConfigError(f"scan.{name}.{key} is not a parameter of {name}; allowed: {', '.join(valid)}. "
                              "Fix the key or remove it.")
    det = cls(**dict(own))
    if seed is not None and "random_state" in valid and "random_state" not in own:
        det.set_params(random_state=int(seed))
    det.check_config(where=f"scan.{name}")  # bad values are the user's to fix (exit 2), not a detector failure
    return det


def scan(data: str | os.PathLike[str] | TabularDataset | pd.DataFrame, *, label: str | None = None,
         detectors: Sequence[str] | None = None, params: Mapping[str, Mapping[str, Any]] | None = None,
         id_column: str | None = None, seed: int | None = 0, out: str | os.PathLike[str] | None = None,
         progress: Progress | None = None,
         reference: str | os.PathLike[str] | TabularDataset | pd.DataFrame | None = None,
         reference_rev: str | None = None, source_column: str | None = None,
         decision: Mapping[str, float] | None = None, engine: str = "pandas",
         spark: Mapping[str, Any] | None = None) -> ScanResult:
    """Scan a dataset for poisoned rows.

    Parameters
    ----------
    data : path, TabularDataset or pandas.DataFrame
        The data. A path is read with :func:`poisonguard.data.load_dataset` (see
        :func:`poisonguard.data.as_dataset`).
    label : str, default=None
        The label column (required by label-flip detectors). Given with a TabularDataset, it
        replaces the dataset's own label column; so does ``id_column``.
    detectors : sequence of str, default=None
        Detector names (see :func:`poisonguard.detectors.available`); None runs the defaults.
    params : mapping, default=None
        Per-detector parameters, ``{"label_flip": {"n_neighbors": 30, "policy": {"max_floor": 0.05}}}``,
        as under ``params.yaml``'s ``scan`` section (see ``docs/configuration.md``), plus
        ``"decision"`` and ``"reference_shift"``. Checked, with the detector names, before
        anything is read (:func:`check_config`).
    id_column : str, default=None
        A column identifying rows, reported beside ``row``.
    seed : int or None, default=0
        Seeds every detector that takes a ``random_state``.
    out : path, default=None
        Folder for ``report.json``, ``scores.csv``, ``clean.*`` and ``quarantine.*``.
    progress : callable, default=None
        Called as ``progress(detector_name, index, total)`` before each detector.
    reference : path, TabularDataset or pandas.DataFrame, default=None
        The trusted version to compare with (see the module docstring). ``params`` may then hold
        a ``"reference_shift"`` entry overriding :data:`poisonguard.reference.DEFAULT_POLICY`.
    reference_rev : str, default=None
        A git revision: the trusted version is ``reference`` (a path; default: ``data``'s own
        path) as it was at that revision, read through DVC (paths are taken relative to the root
        of the DVC repository; DVC-tracked data come from the DVC cache or remote).
    source_column : str, default=None
        A column naming each row's source (needs a reference): every statistic of the comparison
        is also computed per source, and the column is not used as a feature.
    decision : mapping, default=None
        Levels of the decision, ``{"level": 0.1, "review_level": 0.25, "choose_level": True}`` (see
        :mod:`poisonguard.evidence`; also ``params["decision"]``, the ``decision`` key of
        ``params.yaml``'s ``scan`` section).
    engine : {"pandas", "spark", "auto"}, default="pandas"
        ``"spark"`` runs :func:`poisonguard.spark.scan` (``data`` a path of Parquet or CSV, or a
        Spark data frame; no reference); ``"auto"`` picks Spark for ``s3a://`` paths and inputs
        of :data:`poisonguard.spark.AUTO_SPARK_BYTES` or more (see
        :func:`poisonguard.spark.choose_engine`).
    spark : mapping, default=None
        With the Spark engine: ``{"master": ..., "sample_rows": ...}`` for :func:`poisonguard.spark.scan`.

    Returns
    -------
    ScanResult

    Raises
    ------
    ConfigError
        A bad configuration (unknown detector, parameter or policy key, a value of the wrong type
        or out of range), before any data is read or any detector fitted.
    """
    with_reference = reference is not None or reference_rev is not None
    if engine != "pandas":
        from .spark._engine import ENGINES, choose_engine

        if engine not in ENGINES:
            raise UsageError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")

        if isinstance(data, (str, os.PathLike)) and choose_engine(engine, data) == "spark" or (
                engine == "spark" and not isinstance(data, (TabularDataset, pd.DataFrame))):
            if with_reference or source_column is not None:
                raise UsageError("the Spark engine does not compare with a trusted reference yet; use "
                                 "engine='pandas' with a reference")
            from .spark import scan as spark_scan

            return spark_scan(data, label=label, detectors=detectors, params=params, id_column=id_column, seed=seed,
                              out=out, decision=decision, **dict(spark or {}))
        if engine == "spark":
            raise UsageError("engine='spark' reads a path (Parquet or CSV) or a Spark data frame; pass one, or use "
                             "engine='pandas' for an in-memory dataset")
    elif spark:
        raise UsageError("spark=... needs engine='spark' (or 'auto' on a large input)")
    if not with_reference and source_column is not None:
        raise UsageError("--source-column needs a trusted reference: pass --reference PATH or --reference-rev REV")
    # the whole configuration is checked before anything is read or fitted
    names, dets, ref_params, levels = check_config(detectors, params, seed=seed, with_reference=with_reference,
                                                   decision=decision)
    ref_given = dict(params or {}).get(_reference.NAME)  # reported as given; ``ref_params`` is the full policy
    params = {k: v for k, v in dict(params or {}).items() if k not in (_reference.NAME, DECISION_KEY)}
    classes = [type(d) for d in dets]
    needs_y = any(c.requires_y for c in classes)
    no_labels = f"detector(s) {[c.name for c in classes if c.requires_y]} need labels: pass --label COLUMN"
    if needs_y and label is None and not (isinstance(data, TabularDataset) and data.label):
        raise UsageError(no_labels)  # before the data is read
    ds = as_dataset(data, label=label, id_column=id_column, require_classes=2 if needs_y else 0)
    if needs_y and ds.label is None:
        raise UsageError(no_labels)
    featureless = [c.name for c in classes if c.requires_features]
    if featureless:  # refused before any fit (it would fail, and the verdict could not be clean)
        others = [n for n in _registry.available() if not _registry.get(n).requires_features]
        ds.require_features(f"detector {featureless[0]}" if len(featureless) == 1 else f"each of {featureless}",
                            todo=f"; for such data run only --detectors {','.join(others)}" if others else "")
    prepared = None
    if with_reference:
        trusted, ref_info = _reference.load_reference(ds, reference, reference_rev,
                                                      require_classes=2 if ds.label is not None else 0)
        prepared = _reference.prepare(ds, trusted, source_column=source_column, info=ref_info)
        ds = prepared.new  # encoded by the encoder fitted on the trusted data
    X = ds.encode()
    n = ds.n_rows
    lab_missing = ds.label_missing
    lab_idx = np.flatnonzero(~lab_missing)
    y = ds.label_codes() if ds.label is not None else None
    ds_lab = ds if lab_idx.size == n else ds.take(lab_idx)

    columns: dict[str, np.ndarray] = {}
    evidence: dict[str, np.ndarray] = {}  # p-values of the gating detectors (see poisonguard.evidence)
    ranks: dict[str, np.ndarray] = {}  # their ranking shares: the order below the decision (ranked_suspicion)
    own_flags: dict[str, np.ndarray] = {}  # rows each gating detector flags by its own threshold
    forced = np.zeros(n, dtype=bool)  # quarantined whatever the combined evidence (see the docstring)
    sparse: list[bool] = []  # per evidence column: p = 1 means "not tested" (see poisonguard.evidence)
    reasons: list[list[str]] = [[] for _ in range(n)]
    summaries: list[DetectorSummary] = []
    failures: list[Failure] = []
    batch_reasons: list[str] = []
    # small data run single-threaded: no waiting on busy cores (see poisonguard._threads)
    order, later = fit_order(dets)  # label evidence last, without the rows the others quarantine
    with threads_for(max(n, prepared.trusted.n_rows if prepared is not None else 0)):
        for i, j in enumerate(order):
            name, det = names[j], dets[j]
            if progress is not None:
                progress(name, i, len(dets))
            t0 = time.perf_counter()
            try:
                if prepared is not None and _reference.can_score_new(det):
                    idx, sus, section = _reference.fit_inductive(det, prepared)
                    flagged_local = np.flatnonzero(sus > 0.5)
                    row_reasons = [f"{name}: suspicion {v:.2f} (fitted on the trusted reference)"
                                   for v in sus[flagged_local].tolist()]
                    own_local = np.ones(flagged_local.size, dtype=bool)
                    # the batch decision of a label detector against a reference is the comparison's
                    suspected, why = False, ""
                    # evidence against the trusted rows' own suspicions, decided with the others
                    pv = np.ones(n)
                    pv[idx] = _reference.inductive_pvalues(det, prepared, idx, sus)
                    col = suspicion_from_p(pv)
                    shares = pv.copy()  # split-conformal p-values of its suspicion: already its ranking
                    if not det.requires_y and det.gates:  # feature-space evidence: a batch test of its own
                        assert ref_params is not None
                        suspected, why, section["batch_test"] = _reference.inductive_batch_test(pv[idx], ref_params)
                else:
                    if prepared is not None:
                        det.with_trusted(prepared.trusted)
                    held = (held_back(list(evidence.values()), sparse, sum(later[i:]), levels)
                            if det.learns_from_rows and det.gates and evidence else None)
                    fit = fit_on_rows(det, ds, X, y, lab_idx, ds_lab, held=held)
                    idx, pv, flagged_local, row_reasons, own_local = (fit.rows, fit.pvalues, fit.reason_rows,
                                                                      fit.reasons, fit.own)
                    col = suspicion_from_p(pv)
                    shares = fit.shares
                    suspected, why, section = fit.suspected, fit.why, fit.section
                if prepared is not None and det.gates:  # rows of the trusted version are not flagged again
                    keep = prepared.focus[idx[flagged_local]]
                    row_reasons = [r for r, k in zip(row_reasons, keep.tolist()) if k]
                    flagged_local = flagged_local[keep]
                    own_local = own_local[keep]
                    col[~prepared.focus] = 0.0
                    pv[~prepared.focus] = 1.0
                    shares[~prepared.focus] = 1.0
            except (KeyboardInterrupt, UsageError):
                raise
            except Exception as exc:  # noqa: BLE001 - one detector failing must not lose the scan
                failures.append(Failure(detector=name, error=type(exc).__name__, message=str(exc).splitlines()[0][:500]
                                        if str(exc) else ""))
                continue
            secs = time.perf_counter() - t0
            columns[name] = col
            for local, why_row in zip(flagged_local.tolist(), row_reasons):
                reasons[int(idx[local])].append(why_row)
            if det.gates:
                own = np.zeros(n, dtype=bool)
                own[idx[flagged_local[own_local]]] = True
                own_flags[name] = own
                evidence[name] = pv
                ranks[name] = shares
                sparse.append(bool(getattr(det, "sparse_evidence", False)))
            if suspected:
                batch_reasons.append(f"{name}: {why}")
            summaries.append(DetectorSummary(name=name, family=det.family, gates=det.gates,
                                             n_flagged=int(own_local.sum()), seconds=round(secs, 3),
                                             suspected=bool(suspected), reason=why, section=section))
        # back to the order the detectors were asked for
        rank = {nm: k for k, nm in enumerate(names)}
        columns = dict(sorted(columns.items(), key=lambda kv: rank[kv[0]]))
        sparse = [sp for _, sp in sorted(zip(evidence, sparse), key=lambda t: rank[t[0]])]
        evidence = dict(sorted(evidence.items(), key=lambda kv: rank[kv[0]]))
        ranks = {nm: ranks[nm] for nm in evidence}
        own_flags = dict(sorted(own_flags.items(), key=lambda kv: rank[kv[0]]))
        summaries.sort(key=lambda sm: rank[sm.name])

        reference_section = None
        if prepared is not None:
            if progress is not None:
                progress(_reference.NAME, len(dets), len(dets))
            t0 = time.perf_counter()
            try:
                report = _reference.compare(ds, prepared.trusted, params=ref_params, seed=seed, prepared=prepared)
            except (KeyboardInterrupt, UsageError):
                raise
            except Exception as exc:  # noqa: BLE001 - recorded like a detector failure
                failures.append(Failure(detector=_reference.NAME, error=type(exc).__name__,
                                        message=str(exc).splitlines()[0][:500] if str(exc) else ""))
            else:
                columns[_reference.NAME] = report.suspicion
                for r, why_row in report.row_reasons.items():
                    reasons[r].append(why_row)
                forced |= np.asarray(report.suspicion) > 0.5
                batch_reasons += [f"{_reference.NAME}: {r}" for r in report.reasons]
                reference_section = report.to_dict()
                summaries.append(DetectorSummary(
                    name=_reference.NAME, family="reference", gates=True, n_flagged=report.n_flagged,
                    seconds=round(time.perf_counter() - t0, 3), suspected=report.suspected,
                    reason="; ".join(report.reasons), section={"see": "reference"}))

    if ds.label is not None and lab_missing.any():
        forced |= lab_missing
        for r in np.flatnonzero(lab_missing).tolist():
            reasons[r].append("label missing")
    any_own = np.logical_or.reduce(list(own_flags.values())) if own_flags else np.zeros(n, dtype=bool)
    P = np.column_stack(list(evidence.values())) if evidence else np.ones((n, 0))
    R = np.column_stack(list(ranks.values())) if ranks else None
    dec = _evidence.decide(P, level=levels["level"], review_level=levels["review_level"], own_flags=any_own,
                           forced=forced, tested=_evidence.tested_mask(P, sparse), shares=R)
    level_choice = None
    # only for a suspected batch: where no test finds poison, a looser level's model can still look
    # better on the trusted rows for reasons that are not poison (on data whose features say
    # little, dropping minority rows makes it predict the majority class)
    if prepared is not None and levels["choose_level"] and ds.label is not None and batch_reasons:
        level_choice = _reference.choose_level(prepared, dec.p_value, dec.quarantine, level=levels["level"], seed=seed)
        if level_choice is not None and level_choice.level != dec.level:
            dec = _evidence.relevel(dec, level_choice.quarantine, level_choice.level)
    combined = dec.suspicion.copy()
    if forced.any():  # forced rows rank with the strongest evidence of their own detector (or at the top)
        forced_s = np.max([columns[k] for k in own_flags], axis=0) if own_flags else np.ones(n)
        combined[forced] = np.maximum(combined[forced], np.where(forced_s[forced] > 0, forced_s[forced], 1.0))
    flagged = dec.quarantine
    review = dec.review
    _explain_decision(reasons, dec, evidence)
    scores = pd.DataFrame({"row": ds.rows, "suspicion": np.round(combined, 6), "flagged": flagged,
                           "decision": dec.decision, "p_value": dec.p_value})
    for name, col in columns.items():
        scores[name] = np.round(col, 6)

    flagged_rows = _flagged_rows(ds, combined, flagged, reasons)
    review_rows = _flagged_rows(ds, combined, review, reasons)
    result = ScanResult(
        inputs={"data": _input_info(ds)},
        parameters={"detectors": names, "params": {k: dict(v) for k, v in params.items()}, "seed": seed,
                    "decision": dict(levels),
                    **({"reference": {"path": prepared.info.get("path"), "rev": prepared.info.get("rev"),
                                      "source_column": source_column, "policy": dict(ref_given or {})}}
                       if prepared is not None else {})},
        n_rows=n, n_quarantined=int(flagged.sum()), n_review=int(review.sum()),
        decision={**dec.summary(), "forced": int(forced.sum()),
                  "combined": sorted(evidence), "own_flags_reviewed": sorted(own_flags),
                  **_screen_summary(dec, list(evidence)),
                  **({"level_choice": level_choice.summary()} if level_choice is not None else {})},
        suspected=bool(batch_reasons),
        reasons=tuple(batch_reasons), detectors=tuple(summaries), quarantined=flagged_rows, review=review_rows,
        failures=tuple(failures), scores=scores, reference=reference_section,
    )
    if out is not None:
        fitted = [det for name, det in zip(names, dets) if name in columns]
        result = _write_outputs(result, ds, Path(out), flagged, combined, reasons, fitted)
    return result


@dataclasses.dataclass
class Fitted:
    """One detector fitted on a dataset's rows inside a scan (:func:`fit_on_rows`).

    ``rows`` are the rows it scored (the labelled ones for label detectors), ``pvalues`` its
    evidence for every row of the dataset (1 where it did not score), ``reason_rows`` the
    positions in ``rows`` that get a reason (``reasons``; ``own`` where its own threshold flags),
    ``shares`` its ranking shares for every row (:meth:`~poisonguard.detectors.BaseDetector.ranking_shares`;
    1 where it did not score; a row left out of its fit and scored as a new row gets the share of
    the fitted rows whose p-value is at most its own, counting itself).
    """

    rows: np.ndarray
    pvalues: np.ndarray
    reason_rows: np.ndarray
    reasons: list[str]
    own: np.ndarray
    suspected: bool
    why: str
    section: dict[str, Any]
    shares: np.ndarray


def fit_on_rows(det: _registry.BaseDetector, ds: TabularDataset, X: np.ndarray, y: np.ndarray | None,
                lab_idx: np.ndarray, ds_lab: TabularDataset, *, held: np.ndarray | None = None) -> Fitted:
    """Fit ``det`` on the dataset's rows (its labelled rows, ``lab_idx`` / ``ds_lab``, when it reads
    labels) and collect what the scan's decision and report need from it.

    ``held`` (boolean, one per row of ``ds``): rows left out of the fit (:func:`held_back`); the
    fitted detector scores them as new rows (:meth:`~poisonguard.detectors.BaseDetector.scan_pvalues_new`).
    """
    n = ds.n_rows
    idx, view = (lab_idx, ds_lab) if det.requires_y else (np.arange(n), ds)
    out = np.zeros(0, dtype=np.int64)
    if held is not None and held[idx].any():
        out, idx = idx[held[idx]], idx[~held[idx]]
        view = ds.take(idx)
    whole = view is ds
    if det.requires_y:
        assert y is not None
        det.scan_fit(view, X if whole else X[idx], y if whole else y[idx])
    else:
        det.scan_fit(view, X if whole else X[idx], None)
    pv = np.ones(n)
    pv[idx] = det.pvalues_
    shares = np.ones(n)
    shares[idx] = det.ranking_shares()
    # reasons for the rows the detector flags itself and for those its evidence may quarantine
    flagged_local = np.flatnonzero((det.labels_ == -1) | (det.pvalues_ <= EVIDENCE_REASON_P))
    row_reasons = det.row_reasons(view, flagged_local) if flagged_local.size else []
    own_local = det.labels_[flagged_local] == -1
    suspected, why = det.batch_finding(view) if det.gates else (False, "")
    section = det.report_section(view)
    if out.size:
        pv[out] = det.scan_pvalues_new(ds.take(out), X[out], y[out] if y is not None else None)
        # ranked among the fitted rows by their evidence, on the shares' scale (the others' evidence quarantines them)
        fitted_p = np.sort(pv[idx])
        shares[out] = (1.0 + np.searchsorted(fitted_p, pv[out], side="right")) / (1.0 + fitted_p.size)
        said = np.flatnonzero(pv[out] <= EVIDENCE_REASON_P)
        row_reasons = list(row_reasons) + [
            f"{det.name}: p={p:.2g}, scored out of its fit (the other detectors' evidence quarantines the row)"
            for p in pv[out[said]].tolist()]
        flagged_local = np.concatenate([flagged_local, idx.size + said])
        own_local = np.concatenate([own_local, np.zeros(said.size, dtype=bool)])
        idx = np.concatenate([idx, out])
        section = {**section, "held_out": {"rows": int(out.size), "why": HELD_OUT_WHY}}
    return Fitted(rows=idx, pvalues=pv, reason_rows=flagged_local, reasons=row_reasons, own=own_local,
                  suspected=bool(suspected), why=why, section=section, shares=shares)


#: What ``held_out`` in a detector's report section means.
HELD_OUT_WHY = ("rows the other detectors' evidence quarantines on its own (Bonferroni over all the scan's "
                "detectors, Benjamini-Hochberg at the scan's level) were left out of this detector's fit and "
                "scored as new rows: a backdoor's stamped rows or conflicting copies would otherwise teach its "
                "models the poison and make the clean rows beside it look mislabelled")


def fit_order(dets: Sequence[_registry.BaseDetector]) -> tuple[list[int], list[bool]]:
    """The order a scan fits its detectors in: those that learn from the other rows
    (``learns_from_rows`` and gating) last, so that they can be fitted without the rows the others'
    evidence quarantines (:func:`held_back`); otherwise as asked. Also, per position in that order,
    whether the detector is a dense gating one (what :func:`held_back`'s ``n_later`` counts)."""
    order = sorted(range(len(dets)), key=lambda j: bool(dets[j].learns_from_rows and dets[j].gates))
    return order, [bool(dets[j].gates and not dets[j].sparse_evidence) for j in order]


def held_back(P: Sequence[np.ndarray], sparse: Sequence[bool], n_later: int, levels: Mapping[str, Any]) -> np.ndarray:
    """Rows the evidence gathered so far quarantines on its own: left out of the fit of a detector
    that learns from the other rows (``learns_from_rows``, label evidence).

    ``P`` are the p-value columns of the gating detectors fitted so far (``sparse`` as in
    :func:`poisonguard.evidence.tested_mask`); ``n_later`` counts the dense gating detectors still to
    come, which the Bonferroni count includes as they will test every row, so that a row is held
    back only when the scan's final combination of its other evidence would quarantine it too.
    """
    if not len(P):
        return np.zeros(0, dtype=bool)
    cols = list(P) + [np.ones_like(P[0])] * n_later
    M = np.column_stack(cols)
    tested = _evidence.tested_mask(M, list(sparse) + [False] * n_later)
    # the columns so far are screened as the final decision screens them; the later ones count as entering
    k = len(P)
    entered, _ = _evidence.screen(M[:, :k], tested[:, :k], levels["level"], n_later=n_later)
    entered = np.concatenate([entered, np.ones(n_later, dtype=bool)])
    return _evidence.decide(M, level=levels["level"], review_level=levels["review_level"], tested=tested,
                            entered=entered).quarantine


def _screen_summary(dec: _evidence.Decision, names: list[str]) -> dict[str, Any]:
    """The screen's part of ``report.json``'s ``decision``: each detector's global p-value and which entered."""
    if dec.entered is None:
        return {}
    out: dict[str, Any] = {"entered": [nm for nm, e in zip(names, dec.entered.tolist()) if e]}
    if dec.global_p is not None:
        out["global_p"] = {nm: float(f"{g:.3g}") for nm, g in zip(names, dec.global_p.tolist())}
    return out


def _explain_decision(reasons: list[list[str]], dec: _evidence.Decision, evidence: Mapping[str, np.ndarray]) -> None:
    """Prefix the reasons of quarantined and reviewed rows with the evidence that decided them."""
    names = list(evidence)
    if not names:
        return
    P = np.column_stack([evidence[k] for k in names])
    if dec.entered is not None and dec.entered.any():  # the strongest of the detectors that entered the combination
        P = np.where(dec.entered[None, :], P, np.inf)
    best = P.argmin(axis=1)
    for r in np.flatnonzero(dec.decision != "keep").tolist():
        p = float(dec.p_value[r])
        if dec.decision[r] == "quarantine" and not p <= dec.threshold:
            continue  # quarantined whatever its evidence (a missing label, a reference flag): its reasons say why
        reasons[r].insert(0, decision_lead(str(dec.decision[r]), p, names[int(best[r])], dec.threshold,
                                           chosen_level=dec.level if dec.relevelled else None))


def decision_lead(decision: str, p: float, strongest: str, threshold: float, *, chosen_level: float | None = None) -> str:
    """The first reason of a quarantined or reviewed row: its combined p-value, the detector with
    the strongest evidence and the quarantine's BH threshold (``chosen_level``: a level chosen on
    trusted rows)."""
    where = f" at level {chosen_level:g}, chosen on the trusted rows" if chosen_level is not None else ""
    return (f"{decision}: combined p={p:.2g} ({strongest} strongest; "
            f"{'BH threshold' if decision == 'quarantine' else 'quarantine threshold'} {threshold:.2g}{where})")


def _input_info(ds: TabularDataset) -> dict[str, Any]:
    return {"path": str(ds.path) if ds.path else None, "sha256": ds.sha256, "format": ds.format,
            "rows": ds.n_rows, "columns": len(ds.frame.columns), "label": ds.label, "id_column": ds.id_column,
            "feature_kinds": {k: v for k, v in ds.kinds.items()}}


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    return v.item() if isinstance(v, np.generic) else v


def _flagged_rows(ds: TabularDataset, combined: np.ndarray, flagged: np.ndarray,
                  reasons: list[list[str]]) -> tuple[FlaggedRow, ...]:
    idx = np.flatnonzero(flagged)
    top = idx[np.argsort(-combined[idx], kind="stable")][:MAX_REPORTED_ROWS]
    labels = ds.frame[ds.label].to_numpy(dtype=object) if ds.label else None
    ids = ds.frame[ds.id_column].to_numpy(dtype=object) if ds.id_column else None
    return tuple(FlaggedRow(row=int(r), suspicion=round(float(combined[r]), 6), reasons=tuple(reasons[r]),
                            id=_plain(ids[r]) if ids is not None else None,
                            label=_plain(labels[r]) if labels is not None else None) for r in top.tolist())


def _extra_name(frame: pd.DataFrame, name: str) -> str:
    while name in frame.columns:
        name = f"pg_{name}"
    return name


def _write_outputs(result: ScanResult, ds: TabularDataset, out: Path, flagged: np.ndarray, combined: np.ndarray,
                   reasons: list[list[str]], fitted: Sequence[Any] = ()) -> ScanResult:
    """Write the run's files as one set (see :mod:`poisonguard._outdir`), masked by the detectors'
    ``redact`` (cells) and ``redact_text`` (every string of report.json, the quarantine's reasons)."""
    from ._io import atomic_write_json
    from ._outdir import output_set
    from ._result import jsonable

    if ds.path is not None and out.resolve() == ds.path.resolve().parent and ds.path.name.startswith(("clean.", "quarantine.")):
        raise UsageError(f"--out-dir {out} would overwrite the input {ds.path}; choose another output folder")
    names = {"report": "report.json", "scores": "scores.csv", "clean": output_name(ds, "clean"),
             "quarantine": output_name(ds, "quarantine"), "timings": "timings.json"}
    assert result.scores is not None
    frame = ds.frame
    for det in fitted:  # e.g. the sensitive-data scanner masks the values it found
        frame = det.redact(frame)

    def scrub(texts: list[str]) -> list[str]:
        for det in fitted:
            texts = det.redact_text(texts)
        return texts

    idx = np.flatnonzero(flagged)
    q = frame.loc[flagged].copy()
    q[_extra_name(q, "row")] = idx
    q[_extra_name(q, "suspicion")] = np.round(combined[idx], 6)
    q[_extra_name(q, "reasons")] = scrub(["; ".join(reasons[i]) for i in idx.tolist()])
    result = dataclasses.replace(result, outputs={k: str(out / v) for k, v in names.items()})

    def masked(rows: tuple[FlaggedRow, ...]) -> tuple[FlaggedRow, ...]:  # ids and labels as in the files
        shown = [r.row for r in rows]
        ids = frame[ds.id_column].iloc[shown].to_numpy(dtype=object) if ds.id_column else [None] * len(shown)
        labels = frame[ds.label].iloc[shown].to_numpy(dtype=object) if ds.label else [None] * len(shown)
        return tuple(dataclasses.replace(r, id=_plain(i) if ds.id_column else r.id,
                                         label=_plain(lab) if ds.label else r.label,
                                         reasons=tuple(scrub(list(r.reasons))))
                     for r, i, lab in zip(rows, ids, labels))

    result = dataclasses.replace(result, quarantined=masked(result.quarantined), review=masked(result.review))
    report = scrub_strings(result.to_dict(), scrub)
    with output_set(out, commit=names["report"]) as stage:
        write_frame(result.scores, stage / names["scores"], "csv")
        write_frame(frame.loc[~flagged], stage / names["clean"], ds.format, ds.compression)
        write_frame(q, stage / names["quarantine"], ds.format, ds.compression)
        atomic_write_json(stage / names["report"], jsonable(report))
        atomic_write_json(stage / names["timings"], result.timings())
    return result


def scrub_strings(obj: Any, scrub: Callable[[list[str]], list[str]]) -> Any:
    """``obj`` (JSON-able) with every string passed through ``scrub`` in one batch."""
    found: list[str] = []

    def collect(o: Any) -> None:
        if isinstance(o, str):
            found.append(o)
        elif isinstance(o, dict):
            for v in o.values():
                collect(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                collect(v)

    collect(obj)
    clean = iter(scrub(found))

    def rebuild(o: Any) -> Any:
        if isinstance(o, str):
            return next(clean)
        if isinstance(o, dict):
            return {k: rebuild(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [rebuild(v) for v in o]
        return o

    return rebuild(obj)


def rich_progress() -> tuple[Any, Progress]:
    """A rich progress display on a terminal (quiet elsewhere) and its callback."""
    import sys

    from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

    enabled = sys.stderr.isatty() and not os.environ.get("CI")
    bar = RichProgress(TextColumn("[bold]scan[/] {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TimeElapsedColumn(), transient=True, disable=not enabled)
    task = bar.add_task("starting", total=None)

    def cb(name: str, i: int, total: int) -> None:
        bar.update(task, description=name, completed=i, total=total)

    return bar, cb


def iter_names(value: Iterable[str] | str | None) -> list[str] | None:
    """Split ``--detectors a,b`` values into names."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    names = [p.strip() for item in items for p in item.split(",") if p.strip()]
    return names or None
