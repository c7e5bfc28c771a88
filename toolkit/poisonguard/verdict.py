"""``poisonguard.verdict``: the gate's answer and the types it is made of.

:class:`Verdict` (one pass/fail answer with every check), :class:`Check` (one thing that can
fail), :class:`StageOutcome` (one stage as the gate saw it), :class:`LoadedReport` (a stage
result as the gate read it: its typed result, where it came from) and :class:`CheckBuilder`,
through which each stage result adds its own checks (``StageResult.gate_checks``).

This module sits between the stage results and their two readers: :mod:`poisonguard.gate`
builds a :class:`Verdict`, the renderers of :mod:`poisonguard.reports` draw one. Neither of those
imports the other; both import this.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from ._result import StageResult

if TYPE_CHECKING:  # pragma: no cover
    from .gate import GatePolicy

__all__ = ["KNOWN_STAGES", "MAX_MESSAGE", "STAGE_ALIASES", "STATUSES", "Check", "CheckBuilder", "LoadedReport",
           "StageOutcome", "Verdict", "clip", "stage_label_order", "stage_name", "stage_order"]

#: Accepted spellings of stage names in the policy.
STAGE_ALIASES = {"validate": "validation", "validations": "validation", "scans": "scan"}
#: The stages poisonguard knows how to check one by one, in pipeline order.
KNOWN_STAGES = ("provenance", "validation", "scan", "drift")
#: Check statuses.
STATUSES = ("passed", "failed", "warning", "skipped", "not_run")
#: Longest check message kept (the rest is cut with an ellipsis).
MAX_MESSAGE = 2000


def stage_name(name: Any) -> str:
    """A stage name as the gate spells it (``validate`` -> ``validation``, lower case)."""
    s = str(name).strip().lower()
    return STAGE_ALIASES.get(s, s)


def stage_order(stage: str) -> tuple[int, str]:
    """Sort key of a stage kind: pipeline order, then unknown kinds by name."""
    return (KNOWN_STAGES.index(stage) if stage in KNOWN_STAGES else len(KNOWN_STAGES), stage)


def stage_label_order(label: str) -> tuple[int, str]:
    """Sort key of a stage label (``scan``, ``scan#2``): the order of its kind."""
    return stage_order(label.split("#")[0])


@dataclasses.dataclass(frozen=True)
class Check:
    """One check of the gate: one JUnit test case, one SARIF rule.

    Attributes
    ----------
    id : str
        ``<stage>/<name>``, unique in a verdict.
    stage : str
        The stage it belongs to.
    name : str
        What was checked (a detector, an expectation, a source...).
    status : {"passed", "failed", "warning", "skipped", "not_run"}
        ``failed`` fails the gate; ``not_run`` fails it when ``fails_gate`` (a required stage).
    message : str
        One line for people.
    fails_gate : bool
        Whether this check makes the verdict "fail".
    location : str or None
        The file the check is about (a data file, a manifest source), when there is one.
    """

    id: str
    stage: str
    name: str
    status: str
    message: str
    fails_gate: bool = False
    location: str | None = None


@dataclasses.dataclass(frozen=True)
class StageOutcome:
    """One stage as the gate saw it.

    Attributes
    ----------
    stage : str
        The stage (a result kind).
    role : {"required", "optional", "advisory", "extra"}
        What the policy says of it.
    status : {"passed", "failed", "warning", "not_run"}
        ``failed`` when one of its checks fails the gate.
    summary : str
        One line for people.
    return_code : int or None
        The stage result's own return code (None when it did not run).
    report : str or None
        The report it was read from.
    """

    stage: str
    role: str
    status: str
    summary: str
    return_code: int | None = None
    report: str | None = None


@dataclasses.dataclass(frozen=True)
class LoadedReport:
    """A stage result as read by the gate.

    Attributes
    ----------
    kind : str
        The stage (``scan``, ``validation``...).
    path : str or None
        The file it was read from (None for a result object or dict given in memory).
    data : dict
        Its plain JSON (``to_dict()`` of a result object).
    result : StageResult or None
        The typed result (:meth:`StageResult.from_dict` of ``data``): what the gate checks and the
        renderers draw. None for a kind poisonguard has no result class for (checked through its
        ``return_code`` alone).
    """

    kind: str
    path: str | None
    data: dict[str, Any]
    result: StageResult | None = None


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CheckBuilder:
    """Collects the checks of one stage, keeping their ids unique and applying the policy's roles.

    A stage result adds its checks with :meth:`add` (``StageResult.gate_checks``); the builder
    turns warnings into failures under ``fail_on_warnings`` and failures into warnings for an
    advisory stage, so the results never need to know the policy's roles.

    Parameters
    ----------
    stage : str
        The stage label (``scan``, ``scan#2``...).
    policy : GatePolicy
        The policy applied (results read ``fail_on_detector_error``, ``max_quarantine_share``).
    role : {"required", "optional", "advisory", "extra"}
        What the policy says of the stage.
    """

    def __init__(self, stage: str, policy: GatePolicy, role: str) -> None:
        self.stage, self.policy, self.role = stage, policy, role
        self.checks: list[Check] = []
        self._ids: dict[str, int] = {}

    def add(self, name: str, status: str, message: str, location: str | None = None) -> None:
        """Add the check ``<stage>/<name>`` (``#2``, ``#3``... appended to a repeated name)."""
        if status == "warning" and self.policy.fail_on_warnings:
            status = "failed"
        if status == "failed" and self.role == "advisory":
            status, message = "warning", f"(advisory stage) {message}"
        base = f"{self.stage}/{name}"
        n = self._ids.get(base, 0) + 1
        self._ids[base] = n
        cid = base if n == 1 else f"{base}#{n}"
        self.checks.append(Check(id=cid, stage=self.stage, name=name if n == 1 else f"{name}#{n}", status=status,
                                 message=clip(message), fails_gate=status == "failed", location=location))

    @property
    def any_failed(self) -> bool:
        """Whether a check added so far fails the gate."""
        return any(c.fails_gate for c in self.checks)


@dataclasses.dataclass(frozen=True)
class Verdict(StageResult):
    """The gate's answer: pass or fail, with every check that led to it.

    Attributes
    ----------
    verdict : {"pass", "fail"}
        The answer; ``return_code`` is 0 for pass, 1 for fail.
    reasons : tuple of str
        Why it failed, one line per failing check (empty on pass).
    stages : tuple of StageOutcome
        Every stage checked or expected, in pipeline order.
    checks : tuple of Check
        Every check.
    counts : dict
        ``checks``, ``passed``, ``failed`` (checks failing the gate), ``warnings``, ``skipped``
        (checks skipped and stages not run that do not fail the gate).
    policy : dict
        The policy applied.
    inputs : tuple of dict
        The reports read: ``path``, ``sha256``, ``kind``, ``status`` (``read`` / ``missing``).
    reports : tuple of LoadedReport
        The stage results themselves, for the renderers; not part of ``to_dict()``.

    Examples
    --------
    >>> from poisonguard.gate import gate
    >>> v = gate([], {"required": ["scan"], "optional": []})
    >>> v.verdict, [c.status for c in v.checks]
    ('fail', ['not_run'])
    """

    KIND: ClassVar[str] = "gate"
    SCHEMA_VERSION: ClassVar[str] = "1.0"

    verdict: str
    reasons: tuple[str, ...] = ()
    stages: tuple[StageOutcome, ...] = ()
    checks: tuple[Check, ...] = ()
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    policy: dict[str, Any] = dataclasses.field(default_factory=dict)
    inputs: tuple[dict[str, Any], ...] = ()
    reports: tuple[LoadedReport, ...] = dataclasses.field(default=(), repr=False, compare=False,
                                                          metadata={"serialize": False})

    @property
    def return_code(self) -> int:
        """0 when the gate passes, 1 when it fails."""
        return 0 if self.verdict == "pass" else 1

    def flat_metrics(self) -> dict[str, int | float]:
        """``failed`` (the verdict as 0/1), ``checks``, ``checks_failed``, ``warnings``, ``skipped``,
        and ``<stage>_failed`` (0/1) for each stage that ran."""
        c = self.counts
        out: dict[str, int | float] = {**super().flat_metrics(), "checks": c.get("checks", 0),
                                       "checks_failed": c.get("failed", 0), "warnings": c.get("warnings", 0),
                                       "skipped": c.get("skipped", 0)}
        for s in self.stages:
            if s.status != "not_run":
                out[f"{s.stage}_failed"] = int(s.status == "failed")
        return out

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        """The checks that fail the gate."""
        return tuple(c for c in self.checks if c.fails_gate)

    def report(self, kind: str) -> LoadedReport | None:
        """The first loaded result of ``kind`` (None when that stage did not run)."""
        kind = stage_name(kind)
        return next((r for r in self.reports if r.kind == kind), None)

    def labelled_reports(self) -> dict[str, LoadedReport]:
        """The loaded results by stage label (``scan``, then ``scan#2`` for a second scan), in pipeline order:
        the labels of :attr:`stages` and of the checks."""
        out: dict[str, LoadedReport] = {}
        seen: dict[str, int] = {}
        for rep in sorted(self.reports, key=lambda r: stage_order(r.kind)):
            seen[rep.kind] = seen.get(rep.kind, 0) + 1
            out[rep.kind if seen[rep.kind] == 1 else f"{rep.kind}#{seen[rep.kind]}"] = rep
        return out

    def __str__(self) -> str:
        c = self.counts
        head = "PASS" if self.verdict == "pass" else "FAIL"
        lines = [f"gate: {head} - {c.get('checks', 0)} checks: {c.get('passed', 0)} passed, "
                 f"{c.get('failed', 0)} failed, {c.get('warnings', 0)} warnings, {c.get('skipped', 0)} skipped"]
        for s in self.stages:
            lines.append(f"  {s.stage:<11} {s.status.upper():<8} ({s.role}) {s.summary}")
        for r in self.reasons:
            lines.append(f"  - {r}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .reports.html import render_html  # lazily: the renderers import this module

        return render_html(self, standalone=False)
