"""Results of the tracking stage: :class:`DriftResult` (``drift``) and :class:`PromotionResult`."""

from __future__ import annotations

import dataclasses
import html
from typing import TYPE_CHECKING, Any, ClassVar

from .._result import StageResult

if TYPE_CHECKING:  # pragma: no cover
    from ..verdict import CheckBuilder

#: What a drift reason is about (``DriftResult.reason_codes``): the canary threshold it crossed
#: (named after it in :class:`~poisonguard.tracking.DriftThresholds`), or ``trigger`` for a trigger
#: probe; ``canary`` for a reason of a schema 1.0 report, which recorded no codes.
REASON_CODES = ("accuracy_drop", "macro_f1_drop", "class_recall_drop", "churn", "js_divergence", "confidence_shift",
                "trigger", "canary")

__all__ = ["ClassDrift", "DriftResult", "PromotionResult", "TriggerProbe"]


@dataclasses.dataclass(frozen=True)
class ClassDrift:
    """Recall of one canary class under the champion and the candidate.

    Attributes
    ----------
    label : str
        The class.
    support : int
        Canary rows of that class.
    champion_recall, candidate_recall : float
        Recall of the class on the canary.
    delta : float
        ``candidate_recall - champion_recall``.
    """

    label: str
    support: int
    champion_recall: float
    candidate_recall: float
    delta: float


@dataclasses.dataclass(frozen=True)
class TriggerProbe:
    """One suspected trigger rule stamped on canary rows of the other classes.

    Attributes
    ----------
    rule : dict
        The rule as given: ``{"conditions": [{"column", "op", "value"}, ...], "target": ...}``.
    target : str
        The class the trigger aims at.
    n_rows : int
        Canary rows (of other classes) the rule was stamped on.
    champion_rate, candidate_rate : float or None
        Share of the stamped rows each model predicts as ``target``.
    increase : float or None
        ``candidate_rate - champion_rate``.
    suspected : bool
        The increase is above the threshold.
    skipped : str or None
        Why the probe did not run (unknown column, an operator that cannot be stamped, ...).
    """

    rule: dict[str, Any]
    target: str
    n_rows: int = 0
    champion_rate: float | None = None
    candidate_rate: float | None = None
    increase: float | None = None
    suspected: bool = False
    skipped: str | None = None

    def describe(self) -> str:
        """The rule as one line: ``capital_gain >= 99999 & hours_per_week == 99 -> >50K``."""
        conds = self.rule.get("conditions") or []
        parts = [f"{c.get('column')} {c.get('op', '==')} {c.get('value')!r}" for c in conds if isinstance(c, dict)]
        return f"{' & '.join(parts) or '<no conditions>'} -> {self.target}"


@dataclasses.dataclass(frozen=True)
class DriftResult(StageResult):
    """Comparison of a candidate run's model with the champion on a trusted canary set.

    Attributes
    ----------
    run_id : str
        The candidate run.
    champion_run_id : str
        The run of the champion it was compared with.
    champion_source : str
        How the champion was found (``models:/NAME@champion (version N)`` or
        ``last accepted run of experiment E``).
    canary : dict
        Path, SHA-256, content digest and rows of the canary.
    parameters : dict
        The thresholds used.
    metrics : dict of str to float
        ``accuracy_delta``, ``macro_f1_delta``, ``churn``, ``js_divergence``,
        ``confidence_shift``, the champion's and candidate's values, ``max_trigger_increase``.
    classes : tuple of ClassDrift
        Per-class recall change.
    probes : tuple of TriggerProbe
        The trigger probes run (or skipped, each with its reason).
    probes_note : str or None
        Why no probe ran at all (no rules given, no rules in the scan report), else None.
    suspected : bool
        Poisoning suspected: at least one threshold crossed.
    reasons : tuple of str
        One line per crossed threshold, for people.
    reason_codes : tuple of str
        What each reason is about, one per reason, among :data:`REASON_CODES`: the threshold it
        crossed (``churn``, ``class_recall_drop``...) or ``trigger`` for a trigger probe. The gate
        reads these, never the wording of ``reasons``.

    Examples
    --------
    >>> from poisonguard.tracking import DriftResult
    >>> r = DriftResult(run_id="abc", champion_run_id="def", champion_source="test", canary={},
    ...                 parameters={}, metrics={"churn": 0.01}, suspected=False)
    >>> r.return_code
    0
    """

    KIND: ClassVar[str] = "drift"
    SCHEMA_VERSION: ClassVar[str] = "1.1"  # 1.1: reason_codes

    run_id: str
    champion_run_id: str
    champion_source: str
    canary: dict[str, Any]
    parameters: dict[str, Any]
    metrics: dict[str, float]
    classes: tuple[ClassDrift, ...] = ()
    probes: tuple[TriggerProbe, ...] = ()
    probes_note: str | None = None
    suspected: bool = False
    reasons: tuple[str, ...] = ()
    reason_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.reason_codes and len(self.reason_codes) != len(self.reasons):
            raise ValueError(f"reason_codes has {len(self.reason_codes)} codes for {len(self.reasons)} reasons; "
                             "give one code per reason")

    @classmethod
    def _upgrade(cls, data: dict[str, Any], version: str) -> dict[str, Any]:
        """Schema 1.0 recorded no ``reason_codes``: a reason about a trigger probe began with "trigger rule";
        the others are ``canary``. The only place where the wording of a reason is read."""
        if "reason_codes" not in data and data.get("reasons"):
            data["reason_codes"] = ["trigger" if str(r).startswith("trigger rule") else "canary"
                                    for r in data["reasons"]]
        return data

    @property
    def codes(self) -> tuple[str, ...]:
        """:attr:`reason_codes`, or ``canary`` for each reason of a result built without codes."""
        return self.reason_codes or ("canary",) * len(self.reasons)

    @property
    def canary_reasons(self) -> tuple[str, ...]:
        """The reasons about the canary comparison (every reason but the trigger probes')."""
        return tuple(r for r, c in zip(self.reasons, self.codes) if c != "trigger")

    @property
    def return_code(self) -> int:
        """1 when poisoning is suspected, else 0."""
        return 1 if self.suspected else 0

    def _canary_line(self) -> str:
        m = self.metrics

        def f(key: str, fmt: str) -> str:
            v = m.get(key)
            return "n/a" if isinstance(v, bool) or not isinstance(v, (int, float)) else format(v, fmt)

        return (f"canary accuracy {f('champion_accuracy', '.3f')} -> {f('candidate_accuracy', '.3f')}, "
                f"churn {f('churn', '.1%')}, predicted-class JS {f('js_divergence', '.4f')}, "
                f"confidence shift {f('confidence_shift', '+.3f')}")

    def gate_checks(self, checks: CheckBuilder) -> None:
        """``canary`` (failed when a canary threshold was crossed), one ``trigger[...]`` per probe
        (failed when suspected, skipped when it could not run), and ``result`` when the result is
        suspected and no check says why. Located at the canary file."""
        loc = self.canary.get("path")
        other = self.canary_reasons
        checks.add("canary", "failed" if other else "passed", "; ".join(other) if other else self._canary_line(), loc)
        for p in self.probes:
            name = f"trigger[{p.describe()}]"
            if p.skipped:
                checks.add(name, "skipped", f"probe skipped: {p.skipped}", loc)
                continue
            cr, ca = p.champion_rate, p.candidate_rate
            text = (f"{p.n_rows} stamped canary rows predicted {p.target!r}: champion "
                    f"{cr if cr is None else format(cr, '.1%')}, candidate {ca if ca is None else format(ca, '.1%')}")
            checks.add(name, "failed" if p.suspected else "passed", text, loc)
        if self.suspected and not checks.any_failed:
            checks.add("result", "failed", "drift suspected poisoning: " + "; ".join(self.reasons))

    def summary(self) -> str:
        """``run R vs champion C: canary accuracy a -> b, churn ..., predicted-class JS ..., confidence shift ...``."""
        return f"run {self.run_id[:12]} vs champion {self.champion_run_id[:12]}: {self._canary_line()}"

    def flat_metrics(self) -> dict[str, int | float]:
        """``failed`` (poisoning suspected), every number of :attr:`metrics` (accuracy and macro-F1 of
        both models and their deltas, churn, JS divergence, confidence shift...), ``probes`` run and
        ``probes_suspected``."""
        numbers = {k: v for k, v in sorted(self.metrics.items())
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        run = [p for p in self.probes if not p.skipped]
        return {**super().flat_metrics(), **numbers, "probes": len(run),
                "probes_suspected": sum(bool(p.suspected) for p in run)}

    def __str__(self) -> str:
        m = self.metrics
        head = "POISONING SUSPECTED" if self.suspected else "no suspicious drift"
        lines = [f"drift of run {self.run_id} vs champion run {self.champion_run_id}: {head}",
                 f"  champion: {self.champion_source}",
                 f"  canary: {self.canary.get('path') or '<frame>'} ({self.canary.get('n_rows')} rows, "
                 f"sha256 {str(self.canary.get('content_sha256'))[:12]}…)"]
        for r in self.reasons:
            lines.append(f"  - {r}")

        def f(key: str, fmt: str = "+.3f") -> str:
            v = m.get(key)
            return "n/a" if v is None else format(v, fmt)

        lines.append(f"  accuracy {f('champion_accuracy', '.3f')} -> {f('candidate_accuracy', '.3f')} "
                     f"({f('accuracy_delta')}); macro-F1 {f('champion_macro_f1', '.3f')} -> "
                     f"{f('candidate_macro_f1', '.3f')} ({f('macro_f1_delta')})")
        lines.append(f"  churn {f('churn', '.1%')}, predicted-class JS {f('js_divergence', '.4f')}, "
                     f"confidence shift {f('confidence_shift')}")
        for c in self.classes:
            lines.append(f"  recall {c.label!s:<16} {c.champion_recall:.3f} -> {c.candidate_recall:.3f} "
                         f"({c.delta:+.3f}, {c.support} rows)")
        for p in self.probes:
            if p.skipped:
                lines.append(f"  probe {p.describe()}: skipped ({p.skipped})")
            else:
                mark = "SUSPECTED" if p.suspected else "ok"
                lines.append(f"  probe {p.describe()}: champion {p.champion_rate:.1%} -> candidate "
                             f"{p.candidate_rate:.1%} on {p.n_rows} rows  {mark}")
        if self.probes_note:
            lines.append(f"  trigger probes: {self.probes_note}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        verdict = ("<b style='color:#b00'>poisoning suspected</b>" if self.suspected
                   else "<b>no suspicious drift</b>")
        metrics = "".join(f"<tr><td>{esc(k)}</td><td>{v:.4f}</td></tr>" for k, v in sorted(self.metrics.items())
                          if isinstance(v, (int, float)))
        classes = "".join(f"<tr><td>{esc(str(c.label))}</td><td>{c.support}</td><td>{c.champion_recall:.3f}</td>"
                          f"<td>{c.candidate_recall:.3f}</td><td>{c.delta:+.3f}</td></tr>" for c in self.classes)
        probes = "".join(
            f"<tr><td>{esc(p.describe())}</td><td>{p.n_rows}</td>"
            f"<td>{'' if p.champion_rate is None else f'{p.champion_rate:.1%}'}</td>"
            f"<td>{'' if p.candidate_rate is None else f'{p.candidate_rate:.1%}'}</td>"
            f"<td>{esc(p.skipped or ('suspected' if p.suspected else 'ok'))}</td></tr>" for p in self.probes)
        note = f"<p>Trigger probes: {esc(self.probes_note)}</p>" if self.probes_note else ""
        return (f"<div><p>Drift of run <code>{esc(self.run_id)}</code> against champion run "
                f"<code>{esc(self.champion_run_id)}</code> ({esc(self.champion_source)}): {verdict}</p>"
                + "".join(f"<p>{esc(r)}</p>" for r in self.reasons)
                + f"<table><tr><th>metric</th><th>value</th></tr>{metrics}</table>"
                f"<table><tr><th>class</th><th>rows</th><th>champion recall</th><th>candidate recall</th>"
                f"<th>change</th></tr>{classes}</table>"
                f"<table><tr><th>trigger rule</th><th>rows</th><th>champion</th><th>candidate</th>"
                f"<th>state</th></tr>{probes}</table>{note}</div>")


@dataclasses.dataclass(frozen=True)
class PromotionResult(StageResult):
    """Outcome of :func:`~poisonguard.tracking.promote`.

    Attributes
    ----------
    run_id : str
        The run asked for.
    model_name : str
        The registered model.
    promoted : bool
        The ``champion`` alias now points at the run's model version.
    version : str or None
        The model version of the run (registered when needed).
    previous_run_id : str or None
        The champion's run before.
    forced : bool
        Promoted against a refusal, with ``reason``.
    reason : str or None
        The recorded override reason.
    refusals : tuple of str
        Why the promotion was refused (or overridden).
    """

    KIND: ClassVar[str] = "promotion"
    SCHEMA_VERSION: ClassVar[str] = "1.0"

    run_id: str
    model_name: str
    promoted: bool
    version: str | None = None
    previous_run_id: str | None = None
    forced: bool = False
    reason: str | None = None
    refusals: tuple[str, ...] = ()

    @property
    def return_code(self) -> int:
        """1 when the promotion was refused, else 0."""
        return 0 if self.promoted else 1

    def __str__(self) -> str:
        if self.promoted:
            head = (f"promoted run {self.run_id} to {self.model_name}@champion (version {self.version})"
                    + (f" OVERRIDING: {self.reason}" if self.forced else ""))
        else:
            head = f"refused to promote run {self.run_id} to {self.model_name}@champion"
        lines = [head] + [f"  - {r}" for r in self.refusals]
        if self.previous_run_id:
            lines.append(f"  previous champion run: {self.previous_run_id}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        return f"<pre>{esc(str(self))}</pre>"
