"""``poisonguard.gate``: one verdict from all stage results, under a policy from ``params.yaml``.

:func:`gate` reads the stage results (``report.json`` of the scan, ``validation.json``,
the provenance and drift reports -- paths, dicts or result objects), each through its result
class (:meth:`~poisonguard._result.StageResult.from_dict`, which refuses a ``schema_version`` this
version does not read, naming the file), lets each result add its *checks*
(``StageResult.gate_checks``) and summary, and returns one :class:`~poisonguard.verdict.Verdict`:
``return_code`` 0 (pass) or 1 (fail). The renderers in :mod:`poisonguard.reports` turn the
verdict into a Markdown summary, JUnit XML, SARIF and HTML; they read :mod:`poisonguard.verdict`,
never this module.

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
           confidence: the reasons whose ``reason_codes`` are not ``trigger``), and one
           per trigger probe
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
``schema_version`` is not of the major version the gate reads (each result class's ``READS_SCHEMAS``) is a
one-line :class:`~poisonguard.errors.DataError` naming the file.

Stage names are the results' kinds (``provenance``, ``validation``, ``scan``, ``drift``);
``validate`` is accepted for ``validation``. A stage that is neither required, optional nor
advisory is still checked when its result is given. Results of an unknown kind are checked
through their ``return_code`` alone.

Examples
--------
>>> from poisonguard.gate import gate
>>> from poisonguard.scan import ScanResult
>>> scan = ScanResult(inputs={"data": {"path": "in.csv"}}, parameters={}, n_rows=10, n_quarantined=0, suspected=False)
>>> v = gate([scan], {"required": ["scan"], "optional": []})
>>> v.verdict, v.return_code
('pass', 0)
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._io import sha256_file
from ._result import StageResult
from .errors import ConfigError, DataError
# The verdict's types live in poisonguard.verdict, so that the renderers read them without importing
# the gate; they are named here too, where they have always been importable from.
from .verdict import KNOWN_STAGES, STAGE_ALIASES, STATUSES  # noqa: F401
from .verdict import (Check, CheckBuilder, LoadedReport, StageOutcome, Verdict, stage_label_order, stage_name,
                      stage_order)

__all__ = ["Check", "GatePolicy", "LoadedReport", "StageOutcome", "Verdict", "gate", "load_policy"]

#: The roles a stage can be given in the policy (one role per stage).
ROLES = ("required", "optional", "advisory")



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
                kwargs[key] = tuple(dict.fromkeys(stage_name(s) for s in v))
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


# -- reading the reports ------------------------------------------------------------------------
ReportArg = str | os.PathLike[str] | Mapping[str, Any] | StageResult

#: Stage kind -> (module, class) of its result: the gate reads each report through its class
#: (imported when a report of that kind is read, so ``poisonguard gate`` loads only what it needs).
RESULT_CLASSES = {"provenance": ("poisonguard.provenance._result", "ProvenanceResult"),
                  "validation": ("poisonguard.validation._run", "ValidationResult"),
                  "scan": ("poisonguard.scan", "ScanResult"),
                  "drift": ("poisonguard.tracking._result", "DriftResult")}


def result_class(kind: str) -> type[StageResult] | None:
    """The result class of a stage kind (None for a kind the gate checks by return code alone)."""
    where = RESULT_CLASSES.get(stage_name(kind))
    if where is None:
        return None
    cls = getattr(importlib.import_module(where[0]), where[1])
    return typing.cast("type[StageResult]", cls)


def _typed(data: dict[str, Any], path: str | None) -> LoadedReport:
    """``data`` read through its result class (:meth:`StageResult.from_dict`: kind, schema version, fields)."""
    kind = stage_name(data["kind"])
    cls = result_class(kind)
    result = None if cls is None else cls.from_dict(data, source=path or f"the {kind} result given")
    return LoadedReport(kind=kind, path=path, data=data, result=result)


def _load(item: ReportArg) -> tuple[LoadedReport | None, dict[str, Any]]:
    if isinstance(item, StageResult):
        data = item.to_dict()
        kind = stage_name(data.get("kind"))
        result = item if RESULT_CLASSES.get(kind) else None
        return LoadedReport(kind=kind, path=None, data=data, result=result), {"path": None, "kind": data.get("kind"),
                                                                             "status": "read"}
    if isinstance(item, Mapping):
        data = dict(item)
        if not data.get("kind"):
            raise DataError("a stage result given to the gate has no 'kind'; pass the result of a poisonguard stage")
        return _typed(data, None), {"path": None, "kind": data["kind"], "status": "read"}
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
    info = {"path": str(p), "kind": data["kind"], "status": "read", "sha256": sha256_file(p)}
    return _typed(data, str(p)), info


def _checks_of(rep: LoadedReport, b: CheckBuilder) -> tuple[str, int | None]:
    """Add the checks of one loaded report; return its summary and return code."""
    if rep.result is not None:
        rep.result.gate_checks(b)
        return rep.result.summary(), rep.result.return_code
    rc = rep.data.get("return_code")  # a kind without a result class: its return code is all there is
    b.add("result", "passed" if rc == 0 else "failed", f"the stage's return code is {rc}")
    return f"{rep.data.get('kind')} result, return code {rc}", rc if isinstance(rc, int) else None


def gate(reports: Iterable[ReportArg], policy: GatePolicy | Mapping[str, Any] | None = None) -> Verdict:
    """Apply a policy to the stage results and return one :class:`Verdict`.

    Parameters
    ----------
    reports : iterable of path-like, dict or StageResult
        The stage results: files written by the stages (a path that does not exist is recorded
        as missing, and its stage counts as not run), their JSON as dicts, or result objects.
        Files and dicts of a known stage are read through its result class
        (:meth:`StageResult.from_dict`), which checks their ``schema_version``.
    policy : GatePolicy or mapping, default=None
        The policy (``params.yaml``'s ``gate`` section); None: :class:`GatePolicy` defaults.

    Returns
    -------
    Verdict

    Raises
    ------
    DataError
        A report that is not JSON, not a poisonguard stage result, or of a schema version this
        poisonguard does not read (the message names the file and says to re-run the stage).
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
    for rep in sorted(loaded, key=lambda r: stage_order(r.kind)):
        seen[rep.kind] = seen.get(rep.kind, 0) + 1
        label = rep.kind if seen[rep.kind] == 1 else f"{rep.kind}#{seen[rep.kind]}"
        b = CheckBuilder(label, pol, pol.role(rep.kind))
        summary, rc = _checks_of(rep, b)
        if isinstance(rc, int) and rc != 0 and not b.any_failed:
            b.add("result", "failed", f"the {rep.kind} result has return code {rc} "
                                      f"({'an internal error' if rc >= 3 else 'a failure'}) that no single check explains")
        if not b.checks:
            b.add("result", "passed" if rc == 0 else "failed", f"the stage's return code is {rc}")
        status = ("failed" if b.any_failed else
                  "warning" if any(c.status == "warning" for c in b.checks) else "passed")
        stages.append(StageOutcome(stage=label, role=b.role, status=status, summary=summary,
                                   return_code=rc, report=rep.path))
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
    stages.sort(key=lambda s: stage_label_order(s.stage))

    failed = [c for c in checks if c.fails_gate]
    counts = {"checks": len(checks), "passed": sum(c.status == "passed" for c in checks), "failed": len(failed),
              "warnings": sum(c.status == "warning" for c in checks),
              "skipped": sum(c.status in ("skipped", "not_run") and not c.fails_gate for c in checks)}
    reasons = tuple(f"{c.id}: {c.message}" for c in failed)
    return Verdict(verdict="fail" if failed else "pass", reasons=reasons, stages=tuple(stages), checks=tuple(checks),
                   counts=counts, policy=dataclasses.asdict(pol), inputs=tuple(inputs), reports=tuple(loaded))
