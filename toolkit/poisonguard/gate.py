"""``poisonguard.gate``: one verdict from all stage results, under a policy from ``params.yaml``.

:func:`gate` reads the stage results (``report.json`` of the scan, ``validation.json``,
the provenance and drift reports -- paths, dicts or result objects), turns each into *checks*
and returns one :class:`Verdict`: ``return_code`` 0 (pass) or 1 (fail). The renderers in
:mod:`poisonguard.reports` turn the verdict into a Markdown summary, JUnit XML, SARIF and HTML.

Checks
------
One check per thing that can fail, so that CI views list them one by one:

========== ==================================================================================
stage      checks
========== ==================================================================================
provenance one per source of the manifest (and per finding about the manifest itself):
           failed on an error finding (digest mismatch, bad signature, missing, unlisted...)
validation one per expectation: failed when a *critical* expectation failed, warning when a
           non-critical one did
scan       one per detector: failed when the detector's batch policy suspects poisoning;
           a detector that raised fails its check (``fail_on_detector_error``); optionally
           the share of rows quarantined (``max_quarantine_share``)
drift      the canary comparison (accuracy, recall per class, churn, distribution,
           confidence), and one per trigger probe
========== ==================================================================================

A stage result whose ``return_code`` is not 0 always fails, even when no single check explains
why (a newer report format, say): the check ``<stage>/result`` says so.

Policy (``params.yaml``, section ``gate``)
------------------------------------------
``required`` : list, default: the stages whose reports are given
    Stages that must have run. A required stage with no result among the reports is
    **"not run", and that fails the gate** -- a missing stage is never taken as passed.
    Left out, every stage whose report is given is required (less the optional and advisory
    ones), and a report path given that does not exist fails the gate (``report/not-run``):
    ``poisonguard gate reports/scan/report.json`` needs no policy in a pipeline that has only
    a scan. List the stages to require them whatever reports are given.
``optional`` : list, default ``[drift]``
    Stages checked when their result is there; when it is not, they are reported as
    "not run" without failing.
``advisory`` : list, default ``[]``
    Stages whose failures are reported as warnings and never fail the gate.
``fail_on_warnings`` : bool, default false
    Also fail on warnings (non-critical expectations, provenance warnings).
``fail_on_detector_error`` : bool, default true
    A detector that raised fails its scan check (else it is a warning).
``max_quarantine_share`` : float in (0, 1] or null, default null
    Fail when the scan quarantines more than this share of the rows, whatever the batch verdict.

A stage has one role: one listed under two of ``required``, ``optional`` and ``advisory`` is a
:class:`~poisonguard.errors.ConfigError` (a default role yields to a role given: ``advisory:
[drift]`` alone takes drift out of the default ``optional``). A result file whose
``schema_version`` is not of the major version the gate reads (:data:`SCHEMA_VERSIONS`) is a
one-line :class:`~poisonguard.errors.DataError` naming the file.

Stage names are the results' kinds (``provenance``, ``validation``, ``scan``, ``drift``);
``validate`` is accepted for ``validation``. A stage that is neither required, optional nor
advisory is still checked when its result is given. Results of an unknown kind are checked
through their ``return_code`` alone.

Examples
--------
>>> from poisonguard.gate import gate
>>> v = gate([{"kind": "scan", "return_code": 0, "verdict": "clean", "n_rows": 10, "n_flagged": 0,
...            "detectors": [], "failures": [], "input": {}}], {"required": ["scan"], "optional": []})
>>> v.verdict, v.return_code
('pass', 0)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ._io import sha256_file
from ._result import StageResult
from .errors import ConfigError, DataError

__all__ = ["Check", "GatePolicy", "LoadedReport", "StageOutcome", "Verdict", "gate", "load_policy"]

#: Accepted spellings of stage names in the policy.
STAGE_ALIASES = {"validate": "validation", "validations": "validation", "scans": "scan"}
#: The stages poisonguard knows how to check one by one.
KNOWN_STAGES = ("provenance", "validation", "scan", "drift")
#: The roles a stage can be given in the policy (one role per stage).
ROLES = ("required", "optional", "advisory")
#: The result schema versions the gate reads, by kind (the major version must match). A result
#: file written by another major version is refused with a one-line error naming the file.
SCHEMA_VERSIONS = {"provenance": "1.0", "validation": "1.0", "scan": "2.0", "drift": "1.0"}
#: Check statuses.
STATUSES = ("passed", "failed", "warning", "skipped", "not_run")
_MAX_MESSAGE = 2000


def _stage_name(name: Any) -> str:
    s = str(name).strip().lower()
    return STAGE_ALIASES.get(s, s)


@dataclasses.dataclass(frozen=True)
class GatePolicy:
    """What the gate requires and what fails it (``params.yaml``, section ``gate``).

    Parameters
    ----------
    required : tuple of str or None, default=None
        Stages that must have run; a missing one fails the gate ("not run"). None: the stages
        whose reports are given are required, and a given report path that does not exist fails.
    optional : tuple of str, default=("drift",)
        Stages checked when present, reported as "not run" (without failing) when missing.
    advisory : tuple of str, default=()
        Stages whose failures are warnings only.
    fail_on_warnings : bool, default=False
        Warnings fail the gate too.
    fail_on_detector_error : bool, default=True
        A detector that raised fails the scan.
    max_quarantine_share : float or None, default=None
        Fail when the scan quarantines more than this share of the rows.
    """

    required: tuple[str, ...] | None = None
    optional: tuple[str, ...] = ("drift",)
    advisory: tuple[str, ...] = ()
    fail_on_warnings: bool = False
    fail_on_detector_error: bool = True
    max_quarantine_share: float | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> GatePolicy:
        """Build a policy from ``params.yaml``'s ``gate`` section, refusing unknown keys and bad values."""
        values = dict(values or {})
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ConfigError(f"unknown gate policy key(s) {unknown}; the keys are: {', '.join(valid)}")
        kwargs: dict[str, Any] = {}
        for key in ROLES:
            if key in values:
                v = values[key]
                if v is None:
                    v = []
                if isinstance(v, str) or not isinstance(v, Sequence):
                    raise ConfigError(f"The 'gate.{key}' policy key must be a list of stage names "
                                      f"(e.g. [provenance, validation, scan]). Got {v!r} instead.")
                kwargs[key] = tuple(dict.fromkeys(_stage_name(s) for s in v))
        # a stage has one role: two roles given for it is an error; a default role yields to a given one
        given = {key: set(kwargs[key]) for key in ROLES if key in kwargs}
        for i, a in enumerate(ROLES):
            for b in ROLES[i + 1:]:
                both = sorted(given.get(a, set()) & given.get(b, set()))
                if both:
                    raise ConfigError(f"gate: stage(s) {', '.join(both)} listed as both {a} and {b} in the gate "
                                      "policy; give each stage one role")
        taken = set().union(*given.values()) if given else set()
        defaults = cls()
        for key in ("optional", "advisory"):
            if key not in kwargs:
                kwargs[key] = tuple(s for s in getattr(defaults, key) if s not in taken)
        for key in ("fail_on_warnings", "fail_on_detector_error"):
            if key in values:
                if not isinstance(values[key], bool):
                    raise ConfigError(f"The 'gate.{key}' policy key must be true or false. Got {values[key]!r} instead.")
                kwargs[key] = values[key]
        if "max_quarantine_share" in values:
            v = values["max_quarantine_share"]
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1):
                raise ConfigError("The 'gate.max_quarantine_share' policy key must be a number in (0, 1] or null. "
                                  f"Got {v!r} instead.")
            kwargs["max_quarantine_share"] = None if v is None else float(v)
        return cls(**kwargs)

    def role(self, stage: str) -> str:
        """``required``, ``optional``, ``advisory`` or ``extra`` (checked, not listed)."""
        if stage in (self.required or ()):
            return "required"
        if stage in self.advisory:
            return "advisory"
        if stage in self.optional:
            return "optional"
        return "extra"


def load_policy(path: str | os.PathLike[str] | None, section: str = "gate") -> GatePolicy:
    """Read the gate policy from a ``params.yaml`` (the default policy when ``path`` is None)."""
    if path is None:
        return GatePolicy()
    from .config import load_params

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: no such parameters file; check the --params path")
    try:
        return GatePolicy.from_mapping(load_params(p, section))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


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
    """A stage result as read by the gate: its kind, where it came from, its plain data."""

    kind: str
    path: str | None
    data: dict[str, Any]


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
        kind = _stage_name(kind)
        return next((r for r in self.reports if r.kind == kind), None)

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
        from .reports.html import render_html

        return render_html(self, standalone=False)


# -- reading the reports ------------------------------------------------------------------------
ReportArg = str | os.PathLike[str] | Mapping[str, Any] | StageResult


def _load(item: ReportArg) -> tuple[LoadedReport | None, dict[str, Any]]:
    if isinstance(item, StageResult):
        data = item.to_dict()
        return LoadedReport(kind=_stage_name(data.get("kind")), path=None, data=data), {"path": None, "kind": data.get("kind"),
                                                                                         "status": "read"}
    if isinstance(item, Mapping):
        data = dict(item)
        if not data.get("kind"):
            raise DataError("a stage result given to the gate has no 'kind'; pass the result of a poisonguard stage")
        return LoadedReport(kind=_stage_name(data["kind"]), path=None, data=data), {"path": None, "kind": data["kind"],
                                                                                     "status": "read"}
    p = Path(item)
    if not p.exists():
        return None, {"path": str(p), "kind": None, "status": "missing", "sha256": None}
    if p.is_dir():
        raise DataError(f"{p}: is a folder; pass the stage's result file (report.json, validation.json, ...)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: not a JSON stage result ({exc}); pass the JSON a poisonguard stage wrote") from None
    if not isinstance(data, dict) or not data.get("kind"):
        raise DataError(f"{p}: not a poisonguard stage result (no 'kind' field); pass report.json, "
                        "validation.json, the provenance or drift report")
    _check_schema(p, data)
    info = {"path": str(p), "kind": data["kind"], "status": "read", "sha256": sha256_file(p)}
    return LoadedReport(kind=_stage_name(data["kind"]), path=str(p), data=data), info


def _check_schema(path: Path, data: Mapping[str, Any]) -> None:
    """A result file of a known kind must carry a ``schema_version`` of the major version the gate reads."""
    kind = _stage_name(data.get("kind"))
    want = SCHEMA_VERSIONS.get(kind)
    if want is None:
        return
    got = data.get("schema_version")
    if not isinstance(got, str) or got.split(".")[0] != want.split(".")[0]:
        raise DataError(f"{path}: a {kind} result of schema_version {got!r}, but this poisonguard reads "
                        f"{kind} results of schema_version {want}; re-run the {kind} stage to rewrite it")


# -- checks per stage -----------------------------------------------------------------------------
def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class _Builder:
    """Collects the checks of one stage, keeping ids unique."""

    def __init__(self, stage: str, policy: GatePolicy, role: str) -> None:
        self.stage, self.policy, self.role = stage, policy, role
        self.checks: list[Check] = []
        self._ids: dict[str, int] = {}

    def add(self, name: str, status: str, message: str, location: str | None = None) -> None:
        if status == "warning" and self.policy.fail_on_warnings:
            status = "failed"
        if status == "failed" and self.role == "advisory":
            status, message = "warning", f"(advisory stage) {message}"
        base = f"{self.stage}/{name}"
        n = self._ids.get(base, 0) + 1
        self._ids[base] = n
        cid = base if n == 1 else f"{base}#{n}"
        self.checks.append(Check(id=cid, stage=self.stage, name=name if n == 1 else f"{name}#{n}", status=status,
                                 message=_clip(message), fails_gate=status == "failed", location=location))

    @property
    def any_failed(self) -> bool:
        return any(c.fails_gate for c in self.checks)


def _provenance(d: dict[str, Any], b: _Builder) -> str:
    sources = [s for s in d.get("sources") or [] if isinstance(s, dict)]
    findings = [f for f in d.get("findings") or [] if isinstance(f, dict)]
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_source[str(f.get("source", "(manifest)"))].append(f)
    names = list(dict.fromkeys([str(s.get("name")) for s in sources] + list(by_source)))
    for name in names:
        fs = by_source.get(name, [])
        errors = [f for f in fs if f.get("severity", "error") == "error"]
        warnings = [f for f in fs if f.get("severity", "error") != "error"]
        loc = name if not name.startswith("(") else None
        if errors or warnings:
            text = "; ".join(f"[{f.get('kind')}] {f.get('message')}" for f in errors + warnings)
            b.add(name, "failed" if errors else "warning", text, loc)
        else:
            src = next((s for s in sources if str(s.get("name")) == name), {})
            digest = f"sha256 {str(src.get('sha256'))[:16]}…" if src.get("sha256") else "no digest"
            b.add(name, "passed", f"{d.get('operation', 'verify')}: {src.get('status', 'ok')} ({digest})", loc)
    for msg in d.get("failures") or []:
        b.add("check-incomplete", "failed", f"part of the provenance check could not run: {msg}")
    n_err = sum(1 for f in findings if f.get("severity", "error") == "error")
    keyids = d.get("keyids") or []
    signed = f"; signed by {', '.join(str(k)[:16] for k in keyids)}" if keyids else ""
    return (f"manifest {d.get('operation', 'verify')}: {len(sources)} source(s), {n_err} error(s), "
            f"{len(findings) - n_err} warning(s){signed}")


def _describe_outcome(o: dict[str, Any]) -> str:
    if o.get("exception"):
        return f"could not be evaluated: {o['exception']}"
    n = o.get("unexpected_count")
    if n:
        rows = list(o.get("unexpected_rows") or [])
        more = " …" if n > min(10, len(rows)) else ""
        return f"{n} rows broke it: {', '.join(map(str, rows[:10]))}{more}"
    found = f"observed {_short(o.get('observed_value'))}"
    if o.get("details"):
        found += f" ({_short(o['details'])})"
    return found


def _validation(d: dict[str, Any], b: _Builder) -> str:
    outcomes = [o for o in d.get("outcomes") or [] if isinstance(o, dict)]
    data = (d.get("inputs") or {}).get("data") or {}
    loc = data.get("path")
    crit = warn = 0
    for o in outcomes:
        name = str(o.get("type", "expectation"))
        if o.get("column") is not None:
            name += f"[{o['column']}]"
        severity = str(o.get("severity", "critical"))
        args = {k: v for k, v in (o.get("kwargs") or {}).items() if k not in ("column", "column_A")}
        what = f"{_short(args, 120)}: " if args else ""
        if o.get("success"):
            b.add(name, "passed", f"{what}{_describe_outcome(o)}", loc)
        elif severity == "critical":
            crit += 1
            b.add(name, "failed", f"critical expectation failed: {what}{_describe_outcome(o)}", loc)
        else:
            warn += 1
            b.add(name, "warning", f"{severity} expectation failed: {what}{_describe_outcome(o)}", loc)
    suite = d.get("suite_name", "?")
    return (f"suite {suite!r}: {len(outcomes)} expectations, {crit} critical failed, {warn} warning(s); "
            f"data {loc or 'in memory'} ({data.get('rows', '?')} rows)")


def _scan(d: dict[str, Any], b: _Builder) -> str:
    inp = d.get("input") or {}
    loc = inp.get("path")
    n_rows, n_flagged = int(d.get("n_rows") or 0), int(d.get("n_flagged") or 0)
    for det in d.get("detectors") or []:
        if not isinstance(det, dict):
            continue
        name = str(det.get("name"))
        flagged = int(det.get("n_flagged") or 0)
        if det.get("suspected"):
            status = "failed" if det.get("gates", True) else "warning"
            b.add(name, status, f"poisoning suspected: {det.get('reason') or 'the batch policy fired'} "
                                f"({flagged} rows flagged)", loc)
        else:
            note = "" if det.get("gates", True) else " (reported only: this detector does not gate)"
            b.add(name, "passed", f"batch not suspected; its own threshold flags {flagged} rows{note}", loc)
    for f in d.get("failures") or []:
        if isinstance(f, dict):
            status = "failed" if b.policy.fail_on_detector_error else "warning"
            b.add(str(f.get("detector")), status, f"the detector raised {f.get('error')}: {f.get('message')}", loc)
    share = n_flagged / n_rows if n_rows else 0.0
    limit = b.policy.max_quarantine_share
    if limit is not None:
        b.add("quarantine-share", "failed" if share > limit else "passed",
              f"{n_flagged} of {n_rows} rows quarantined ({share:.1%}); the policy allows {limit:.1%}", loc)
    if d.get("verdict") == "suspected" and not b.any_failed:
        b.add("batch", "failed", "poisoning suspected: " + "; ".join(map(str, d.get("reasons") or [])), loc)
    ref = " against a trusted reference" if d.get("reference") else ""
    n_review = int(d.get("n_review") or 0)
    level = (d.get("decision") or {}).get("level")
    how = f" (BH at level {level:g})" if isinstance(level, (int, float)) else ""
    return (f"{n_rows} rows of {loc or 'in-memory data'}{ref}: {n_flagged} quarantined ({share:.1%}){how}, "
            f"{n_review} for review; batch {'SUSPECTED' if d.get('verdict') == 'suspected' else 'clean'}")


def _drift(d: dict[str, Any], b: _Builder) -> str:
    m = d.get("metrics") or {}
    canary = d.get("canary") or {}
    loc = canary.get("path")
    reasons = [str(r) for r in d.get("reasons") or []]
    probe_reasons = [r for r in reasons if r.startswith("trigger rule")]
    other = [r for r in reasons if r not in probe_reasons]

    def f(key: str, fmt: str) -> str:
        v = m.get(key)
        return "n/a" if not isinstance(v, (int, float)) else format(v, fmt)

    summary = (f"canary accuracy {f('champion_accuracy', '.3f')} -> {f('candidate_accuracy', '.3f')}, "
               f"churn {f('churn', '.1%')}, predicted-class JS {f('js_divergence', '.4f')}, "
               f"confidence shift {f('confidence_shift', '+.3f')}")
    b.add("canary", "failed" if other else "passed", "; ".join(other) if other else summary, loc)
    for p in d.get("probes") or []:
        if not isinstance(p, dict):
            continue
        conds = p.get("rule", {}).get("conditions") or []
        rule = " & ".join(f"{c.get('column')} {c.get('op', '==')} {c.get('value')!r}" for c in conds
                          if isinstance(c, dict)) or "<no conditions>"
        name = f"trigger[{rule} -> {p.get('target')}]"
        if p.get("skipped"):
            b.add(name, "skipped", f"probe skipped: {p['skipped']}", loc)
            continue
        cr, ca = p.get("champion_rate"), p.get("candidate_rate")
        text = (f"{p.get('n_rows')} stamped canary rows predicted {p.get('target')!r}: champion "
                f"{cr if cr is None else format(cr, '.1%')}, candidate {ca if ca is None else format(ca, '.1%')}")
        b.add(name, "failed" if p.get("suspected") else "passed", text, loc)
    if d.get("suspected") and not b.any_failed:
        b.add("result", "failed", "drift suspected poisoning: " + "; ".join(reasons))
    run = str(d.get("run_id", "?"))
    champ = str(d.get("champion_run_id", "?"))
    return f"run {run[:12]} vs champion {champ[:12]}: {summary}"


_STAGE_FUNCS = {"provenance": _provenance, "validation": _validation, "scan": _scan, "drift": _drift}


def _generic(d: dict[str, Any], b: _Builder) -> str:
    rc = d.get("return_code")
    b.add("result", "passed" if rc == 0 else "failed", f"the stage's return code is {rc}")
    return f"{d.get('kind')} result, return code {rc}"


def _order(stage: str) -> tuple[int, str]:
    return (KNOWN_STAGES.index(stage) if stage in KNOWN_STAGES else len(KNOWN_STAGES), stage)


def gate(reports: Iterable[ReportArg], policy: GatePolicy | Mapping[str, Any] | None = None) -> Verdict:
    """Apply a policy to the stage results and return one :class:`Verdict`.

    Parameters
    ----------
    reports : iterable of path-like, dict or StageResult
        The stage results: files written by the stages (a path that does not exist is recorded
        as missing, and its stage counts as not run), their JSON as dicts, or result objects.
    policy : GatePolicy or mapping, default=None
        The policy (``params.yaml``'s ``gate`` section); None: :class:`GatePolicy` defaults.

    Returns
    -------
    Verdict

    Raises
    ------
    DataError
        A report that is not JSON or not a poisonguard stage result.
    ConfigError
        A malformed policy.
    """
    pol = policy if isinstance(policy, GatePolicy) else GatePolicy.from_mapping(policy)
    loaded: list[LoadedReport] = []
    inputs: list[dict[str, Any]] = []
    for item in reports:
        rep, info = _load(item)
        inputs.append(info)
        if rep is not None:
            loaded.append(rep)
    auto = pol.required is None  # required: the stages whose reports are given
    if auto:
        present = dict.fromkeys(r.kind for r in loaded if r.kind not in (*pol.optional, *pol.advisory))
        pol = dataclasses.replace(pol, required=tuple(present))

    checks: list[Check] = []
    stages: list[StageOutcome] = []
    seen: dict[str, int] = {}
    for rep in sorted(loaded, key=lambda r: _order(r.kind)):
        seen[rep.kind] = seen.get(rep.kind, 0) + 1
        label = rep.kind if seen[rep.kind] == 1 else f"{rep.kind}#{seen[rep.kind]}"
        b = _Builder(label, pol, pol.role(rep.kind))
        summary = _STAGE_FUNCS.get(rep.kind, _generic)(rep.data, b)
        rc = rep.data.get("return_code")
        if isinstance(rc, int) and rc != 0 and not b.any_failed:
            b.add("result", "failed", f"the {rep.kind} result has return code {rc} "
                                      f"({'an internal error' if rc >= 3 else 'a failure'}) that no single check explains")
        if not b.checks:
            b.add("result", "passed" if rc == 0 else "failed", f"the stage's return code is {rc}")
        status = ("failed" if b.any_failed else
                  "warning" if any(c.status == "warning" for c in b.checks) else "passed")
        stages.append(StageOutcome(stage=label, role=b.role, status=status, summary=summary,
                                   return_code=rc if isinstance(rc, int) else None, report=rep.path))
        checks.extend(b.checks)

    missing_paths = [i["path"] for i in inputs if i["status"] == "missing"]
    hint = f" (missing report file(s): {', '.join(missing_paths)})" if missing_paths else ""
    if auto:  # no policy names the stages: a report asked for but not there is a stage that did not run
        for n, path in enumerate(missing_paths, 1):
            checks.append(Check(id="report/not-run" + (f"#{n}" if n > 1 else ""), stage="report",
                                name="not-run" + (f"#{n}" if n > 1 else ""), status="not_run", fails_gate=True,
                                location=path,
                                message=f"the report {path} does not exist: the stage that writes it did not run "
                                        "(a stage that did not run never counts as passed); run it, or leave the "
                                        "path out"))
        if missing_paths:
            stages.append(StageOutcome(stage="report", role="required", status="not_run",
                                       summary=f"{len(missing_paths)} report file(s) missing"))
    for stage in [*(pol.required or ()), *pol.optional, *pol.advisory]:
        if stage in seen:
            continue
        role = pol.role(stage)
        fails = role == "required"
        msg = (f"the {stage} stage did not run: no {stage} result among the reports{hint}"
               + ("; the policy requires it, and a stage that did not run never counts as passed" if fails
                  else f"; it is {role}, so this does not fail the gate"))
        checks.append(Check(id=f"{stage}/not-run", stage=stage, name="not-run", status="not_run", message=msg,
                            fails_gate=fails))
        stages.append(StageOutcome(stage=stage, role=role, status="not_run", summary="not run"))
    stages.sort(key=lambda s: _order(s.stage.split("#")[0]))

    failed = [c for c in checks if c.fails_gate]
    counts = {"checks": len(checks), "passed": sum(c.status == "passed" for c in checks), "failed": len(failed),
              "warnings": sum(c.status == "warning" for c in checks),
              "skipped": sum(c.status in ("skipped", "not_run") and not c.fails_gate for c in checks)}
    reasons = tuple(f"{c.id}: {c.message}" for c in failed)
    return Verdict(verdict="fail" if failed else "pass", reasons=reasons, stages=tuple(stages), checks=tuple(checks),
                   counts=counts, policy=dataclasses.asdict(pol), inputs=tuple(inputs), reports=tuple(loaded))
