"""The findings of a verdict, once, for the code-scanning renderers (SARIF, GitLab Code Quality).

A finding is one thing a code-scanning view lists: a quarantined row, a row that broke an
expectation, a changed source, a crossed drift threshold, a stage that did not run. Each one
names a rule of the fixed :data:`RULES` catalogue (one rule per *kind* of finding, never per
path, column or value, so the rule set does not change from run to run) and carries a
fingerprint made only of stable identities: the stage, the rule, the path relative to the root,
the check it belongs to (an expectation's ``type[column]``, a source's name, a trigger's
conditions) and the row. Message text and measured numbers (suspicions, rates, counts) are never
part of it, so two runs over the same data give the same fingerprints.

By default only what fails the gate or warns is a finding; ``include_notes=True`` adds the
notes: rows quarantined by a detector whose batch verdict is clean, and optional stages that
did not run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import relpath, resolve, row_lines

if TYPE_CHECKING:  # pragma: no cover
    from ..provenance import ProvenanceResult
    from ..scan import ScanResult
    from ..tracking import DriftResult
    from ..validation import ValidationResult
    from ..verdict import Check, Verdict

__all__ = ["RULES", "Finding", "Rule", "collect_findings"]

#: Default bound on the findings of one rule (code-scanning services cap a run's results).
MAX_RESULTS_PER_RULE = 1000


@dataclasses.dataclass(frozen=True)
class Rule:
    """One kind of finding: a SARIF reporting descriptor, a Code Quality ``check_name``."""

    id: str
    name: str
    short: str
    full: str
    level: str = "error"

    @property
    def kind(self) -> str:
        return self.id.split("/")[0]


_STAGE_HELP = {
    "provenance": "The signed manifest pins every training-data source by its SHA-256 (S3 objects by version); "
                  "find out who changed the data before training on it.",
    "validation": "A Great Expectations expectation of the suite (inferred from trusted data, then reviewed). "
                  "Critical ones fail the gate; the rows listed broke it.",
    "scan": "A poisoning detector. Flagged rows were quarantined (not deleted); the detector fails the gate when "
            "its batch policy suspects poisoning, not for every flagged row.",
    "drift": "The candidate model compared with the champion on the trusted canary set; a crossed threshold or a "
             "trigger that now works means the training data may be poisoned.",
}

_DETECTORS = {
    "label_flip": ("LabelFlip", "rows whose label disagrees with out-of-fold predictions"),
    "confident_learning": ("ConfidentLearning", "rows whose label confident learning finds unlikely"),
    "knn_disagreement": ("KnnDisagreement", "rows whose label disagrees with their nearest neighbours"),
    "outliers": ("Outliers", "rows far outside the data's clean bulk"),
    "backdoor": ("BackdoorTrigger", "rows carrying a candidate backdoor trigger"),
    "duplicates": ("Duplicates", "exact and near duplicate rows"),
    "sensitive_data": ("SensitiveData", "rows holding personal or secret data"),
    "reference_shift": ("ReferenceShift", "added or changed rows whose label a model fitted on the trusted version "
                                          "finds unlikely or a shifted label mix more likely moved, or a label the "
                                          "trusted version never had"),
}

_EXPECTATIONS = {
    "expect_table_columns_to_match_set": "the table's columns differ from the expected set",
    "expect_table_row_count_to_be_between": "the row count is outside the expected band",
    "expect_column_values_to_be_of_type": "a column's type changed",
    "expect_column_values_to_be_in_type_list": "a column's type is not among the expected ones",
    "expect_column_values_to_not_be_null": "more missing values than expected",
    "expect_column_values_to_be_between": "values outside the expected range",
    "expect_column_values_to_be_in_set": "values outside the expected set",
    "expect_column_values_to_be_unique": "duplicate values in a column that should be unique",
    "expect_column_pair_values_to_be_in_set": "pairs of values outside the expected pairs",
    "expect_column_mean_to_be_between": "a column's mean moved out of its band",
    "expect_column_stdev_to_be_between": "a column's standard deviation moved out of its band",
    "expect_column_value_proportions_to_match_reference": "the proportions of a column's values shifted",
    "expect_column_pair_values_to_be_within_class_ranges": "values outside the range of their class",
}

#: Provenance finding kind -> rule (kinds of the same meaning share a rule).
_PROVENANCE_KINDS = {
    "digest_mismatch": "changed", "checksum_mismatch": "changed", "version_replaced": "changed",
    "dvc_stale": "changed", "changed": "changed", "schema": "changed", "volume_jump": "changed",
    "missing": "missing", "version_gone": "missing", "unreadable": "missing", "removed": "missing",
    "moved": "moved", "endpoint": "moved",
    "unlisted": "unlisted", "added": "unlisted",
    "unsigned": "signature", "bad_signature": "signature", "unknown_key": "signature", "not_checked": "signature",
    "inconsistent": "manifest", "unsafe_name": "manifest",
    "no_checksum": "unverifiable", "checksum_unread": "unverifiable", "versioning": "unverifiable",
    "tabular": "unverifiable",
}


def _catalogue() -> dict[str, Rule]:
    rules: list[Rule] = [
        Rule("provenance/changed", "SourceChanged", "A training-data source changed after it was signed",
             "Its SHA-256 (or S3 checksum, version, DVC digest, schema or volume) no longer matches the signed "
             "manifest."),
        Rule("provenance/missing", "SourceMissing", "A signed training-data source is missing or unreadable",
             "The file, object or pinned version named in the manifest can no longer be read."),
        Rule("provenance/moved", "SourceMoved", "A signed source is served from somewhere else",
             "The bucket changed owner or the source is read from another endpoint than the one recorded."),
        Rule("provenance/unlisted", "SourceUnlisted", "Data that the manifest does not list",
             "A file or object inside a listed folder or prefix that was not there when the manifest was signed.",
             "warning"),
        Rule("provenance/signature", "ManifestSignature", "The manifest's signature is missing or not valid",
             "The manifest is unsigned, signed by an unknown key, or its signature does not verify."),
        Rule("provenance/manifest", "ManifestInconsistent", "The manifest is inconsistent or names unsafe paths",
             "Subjects listed twice, records that contradict the subjects, or names that escape the project."),
        Rule("provenance/unverifiable", "SourceUnverifiable", "A source cannot be fully verified",
             "The store keeps no checksum or version for it, or part of its record could not be read.", "warning"),
        Rule("provenance/finding", "ProvenanceFinding", "Another provenance finding",
             "A provenance finding of a kind this version of the catalogue does not name."),
        Rule("provenance/check-incomplete", "ProvenanceIncomplete", "Part of the provenance check could not run",
             "The verification raised before every source was checked."),
    ]
    for etype, short in _EXPECTATIONS.items():
        words = etype.removeprefix("expect_").split("_")
        rules.append(Rule(f"validation/{etype}", "".join(w.capitalize() for w in words),
                          f"Expectation {etype}: {short}", _STAGE_HELP["validation"]))
    rules.append(Rule("validation/expectation", "OtherExpectation", "Another expectation of the suite failed",
                      _STAGE_HELP["validation"]))
    for det, (name, short) in _DETECTORS.items():
        rules.append(Rule(f"scan/{det}", name, f"Detector {det}: {short}", _STAGE_HELP["scan"]))
    rules += [
        Rule("scan/other-detector", "OtherDetector", "A plug-in detector flagged rows", _STAGE_HELP["scan"]),
        Rule("scan/flagged", "FlaggedRow", "A row flagged for another reason", _STAGE_HELP["scan"], "note"),
        Rule("scan/detector-error", "DetectorError", "A detector raised and did not score the data",
             "The scan is incomplete: a detector failed (see the scan report's failures)."),
        Rule("scan/quarantine-share", "QuarantineShare", "More rows quarantined than the policy allows",
             "The share of quarantined rows is above the gate's max_quarantine_share."),
        Rule("scan/batch", "BatchSuspected", "The scan suspects the batch is poisoned", _STAGE_HELP["scan"]),
        Rule("drift/canary", "CanaryDrift", "The candidate model drifted from the champion on the canary set",
             _STAGE_HELP["drift"]),
        Rule("drift/trigger", "TriggerWorks", "A candidate backdoor trigger now steers the model",
             "Canary rows stamped with the trigger are predicted as its target far more often by the candidate "
             "than by the champion."),
    ]
    for kind in ("provenance", "validation", "scan", "drift"):
        rules += [
            Rule(f"{kind}/not-run", f"{kind.capitalize()}NotRun", f"The {kind} stage did not run",
                 f"Its report is missing; a required stage that did not run fails the gate. {_STAGE_HELP[kind]}"),
            Rule(f"{kind}/result", f"{kind.capitalize()}Result", f"The {kind} stage failed",
                 f"The stage's return code is a failure that no single check explains. {_STAGE_HELP[kind]}"),
        ]
    rules += [
        Rule("stage/not-run", "StageNotRun", "A stage of the policy did not run",
             "Its report is missing; a required stage that did not run fails the gate."),
        Rule("stage/result", "StageResult", "A stage failed", "The stage's return code is a failure."),
    ]
    return {r.id: r for r in rules}


#: The fixed rule catalogue, in order (SARIF ``ruleIndex`` is the position here).
RULES: dict[str, Rule] = _catalogue()


@dataclasses.dataclass(frozen=True)
class Finding:
    """One finding, located and fingerprinted.

    Attributes
    ----------
    rule : str
        An id of :data:`RULES`.
    level : {"error", "warning", "note"}
    message : str
    stage : str
        The stage label (``scan``, ``scan#2``...).
    check : str
        The gate check it belongs to (its id: names a path or value; for people, not an identity).
    path : str or None
        Where it is: relative to the root when inside it, absolute or a URL otherwise.
    line, row : int or None
        The 1-based line in ``path`` and the 0-based data row.
    fingerprint : str
        SHA-256 of the stable identity (see the module docstring).
    properties : dict
    """

    rule: str
    level: str
    message: str
    stage: str
    check: str
    path: str | None
    fingerprint: str
    line: int | None = None
    row: int | None = None
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)


def _level(ch: Check) -> str:
    if ch.fails_gate:
        return "error"
    if ch.status == "warning":
        return "warning"
    return "note"


def _base(name: str) -> str:
    """A check name without the ``#n`` the gate adds to repeated names."""
    head, sep, tail = name.rpartition("#")
    return head if sep and tail.isdigit() else name


class _Collector:
    def __init__(self, verdict: Verdict, root: Path, policy_file: str | None, include_notes: bool,
                 max_per_rule: int) -> None:
        self.root, self.policy_file, self.include_notes, self.max_per_rule = root, policy_file, include_notes, max_per_rule
        self.findings: list[Finding] = []
        self.per_rule: dict[str, int] = {}
        self.per_check: dict[str, int] = {}
        self.left_out: dict[str, int] = {}
        self.notes_left_out = 0

    def path(self, path: str | None) -> str | None:
        if not path:
            return None
        return path if "://" in path else relpath(path, self.root)

    def add(self, rule: str, level: str, text: str, ch: Check | None, stage: str, path: str | None, *,
            identity: str = "", line: int | None = None, row: int | None = None,
            props: dict[str, Any] | None = None) -> None:
        assert rule in RULES, rule
        check_id = ch.id if ch is not None else f"{stage}/{rule.split('/', 1)[1]}"
        self.per_check[check_id] = self.per_check.get(check_id, 0) + 1
        if level == "note" and not self.include_notes:
            self.notes_left_out += 1
            return
        n = self.per_rule.get(rule, 0)
        if n >= self.max_per_rule:
            self.left_out[rule] = self.left_out.get(rule, 0) + 1
            return
        self.per_rule[rule] = n + 1
        where = self.path(path)
        key = "\x1f".join([stage, rule, where or "", identity, "" if row is None else str(row)])
        self.findings.append(Finding(rule=rule, level=level, message=text, stage=stage, check=check_id, path=where,
                                     fingerprint=hashlib.sha256(key.encode("utf-8")).hexdigest(), line=line, row=row,
                                     properties=dict(props or {})))


def _stage_rule(kind: str, suffix: str) -> str:
    rid = f"{kind}/{suffix}"
    return rid if rid in RULES else f"stage/{suffix}"


def _scan(c: _Collector, stage: str, result: ScanResult, checks: list[Check]) -> set[str]:
    path = result.inputs.get("data", {}).get("path")
    detectors = {d.name for d in result.detectors}
    errored = {f.detector for f in result.failures}
    by_name = {c_.name: c_ for c_ in checks}
    lines = row_lines(resolve(path, c.root), (r.row for r in result.quarantined))
    for r in result.quarantined:
        row = r.row
        label = f" (label {r.label!r})" if r.label is not None else ""
        for reason in [str(x) for x in r.reasons] or ["flagged"]:
            det, sep, text = reason.partition(": ")
            ch = by_name.get(det) if sep and det in detectors else None
            if ch is None:
                rule, level, text = "scan/flagged", "note", reason
            else:
                rule, level = (f"scan/{det}" if f"scan/{det}" in RULES else "scan/other-detector"), _level(ch)
            c.add(rule, level, f"Row {row}{label} quarantined, suspicion {float(r.suspicion or 0):.3f}: {text}",
                  ch, stage, path, identity=det if ch is not None else "", line=lines.get(row), row=row,
                  props={"row": row, "suspicion": r.suspicion, "stage": stage})
    done = set()
    for ch in checks:
        name = _base(ch.name)
        if name in errored and name not in detectors:
            _check(c, ch, "scan/detector-error", identity=name)
        elif name in ("quarantine-share", "batch"):
            _check(c, ch, f"scan/{name}")
        elif name in detectors and c.per_check.get(ch.id):
            pass  # its rows are its findings
        elif name in detectors:
            _check(c, ch, f"scan/{name}" if f"scan/{name}" in RULES else "scan/other-detector", identity=name)
        else:
            continue
        done.add(ch.id)
    return done


def _validation(c: _Collector, stage: str, result: ValidationResult, checks: list[Check]) -> set[str]:
    path = (result.inputs.get("data") or {}).get("path")
    outcomes = result.outcomes
    pairs = list(zip(outcomes, checks)) if len(checks) >= len(outcomes) else []  # one check per outcome, in order
    bad = ("failed", "warning")
    lines = row_lines(resolve(path, c.root),
                      [int(x) for o, ch in pairs if ch.status in bad for x in o.unexpected_rows])
    for o, ch in pairs:
        if ch.status not in bad:
            continue
        etype = o.type
        rule = f"validation/{etype}" if f"validation/{etype}" in RULES else "validation/expectation"
        props: dict[str, Any] = {"stage": stage, "expectation": etype, "severity": o.severity}
        if o.column is not None:
            props["column"] = o.column
        rows = [int(x) for x in o.unexpected_rows]
        if not rows:
            c.add(rule, _level(ch), f"{ch.name}: {ch.message}", ch, stage, path, identity=ch.name, props=props)
        for row in rows:
            c.add(rule, _level(ch), f"Row {row} breaks {ch.name} ({o.severity}): {ch.message}", ch,
                  stage, path, identity=ch.name, line=lines.get(row), row=row, props={**props, "row": row})
    return {ch.id for _, ch in pairs}


def _provenance(c: _Collector, stage: str, result: ProvenanceResult, checks: list[Check]) -> set[str]:
    manifest = result.manifests[0].path if result.manifests else None
    by_name = {c_.name: c_ for c_ in checks}
    done = set()
    for f in result.findings:
        source = f.source
        ch = by_name.get(source)
        if ch is None:
            continue
        kind = f.kind
        rule = f"provenance/{_PROVENANCE_KINDS.get(kind, 'finding')}"
        level = "error" if f.severity == "error" and ch.fails_gate else "warning"
        c.add(rule, level, f"[{kind}] {f.message}", ch, stage, manifest if source.startswith("(") else source,
              identity=f"{source}\x1f{kind}", props={"kind": kind, "source": source, "stage": stage})
        done.add(ch.id)
    for ch in checks:
        if _base(ch.name) == "check-incomplete":
            _check(c, ch, "provenance/check-incomplete")
            done.add(ch.id)
    return done


def _drift(c: _Collector, stage: str, result: DriftResult, checks: list[Check]) -> set[str]:
    done = set()
    for ch in checks:
        name = _base(ch.name)
        if name == "canary":
            _check(c, ch, "drift/canary")
        elif name.startswith("trigger["):
            _check(c, ch, "drift/trigger", identity=name)  # the trigger's conditions and target: its identity
        else:
            continue
        done.add(ch.id)
    return done


def _check(c: _Collector, ch: Check, rule: str, *, identity: str = "", report_path: str | None = None) -> None:
    if ch.status not in ("failed", "warning", "not_run"):
        return
    where = ch.location or (c.policy_file if ch.status == "not_run" else report_path)
    c.add(rule, _level(ch), f"{ch.id}: {ch.message}", ch, ch.stage, where, identity=identity,
          props={"stage": ch.stage})


#: Stage kind -> the function that places the findings of its typed result.
_STAGES: dict[str, Callable[[_Collector, str, Any, list[Check]], set[str]]] = {
    "scan": _scan, "validation": _validation, "provenance": _provenance, "drift": _drift}


@dataclasses.dataclass(frozen=True)
class Findings:
    """What :func:`collect_findings` returns: the findings and what was left out."""

    findings: tuple[Finding, ...]
    left_out: dict[str, int]
    notes_left_out: int


def collect_findings(verdict: Verdict, *, root: str | Path | None = None, policy_file: str | None = None,
                     include_notes: bool = False, max_results_per_rule: int = MAX_RESULTS_PER_RULE) -> Findings:
    """The verdict's findings, in stage order.

    Parameters
    ----------
    verdict : Verdict
        The gate's answer (with its loaded reports).
    root : path, default=None
        The folder paths are taken relative to; default: the current folder.
    policy_file : str, default=None
        Where the policy came from (the location of "stage not run" findings).
    include_notes : bool, default=False
        Also list the notes (rows quarantined under a clean batch verdict, optional stages not run).
    max_results_per_rule : int, default=1000
        Findings kept per rule; the number left out per rule is in ``left_out``.
    """
    c = _Collector(verdict, Path(root) if root is not None else Path.cwd(), policy_file, include_notes,
                   max_results_per_rule)
    by_stage: dict[str, list[Check]] = {}
    for ch in verdict.checks:
        by_stage.setdefault(ch.stage, []).append(ch)
    done: set[str] = set()
    paths: dict[str, str | None] = {}
    for stage, rep in verdict.labelled_reports().items():
        paths[stage] = rep.path
        fn = _STAGES.get(rep.kind)
        if fn is not None and rep.result is not None:
            done |= fn(c, stage, rep.result, by_stage.get(stage, []))
    for ch in verdict.checks:  # results, stages that did not run, and what a stage function did not place
        if ch.id in done:
            continue
        kind = ch.stage.split("#")[0]
        suffix = _base(ch.name)
        rule = _stage_rule(kind, suffix) if suffix in ("not-run", "result") else _stage_rule(kind, "result")
        _check(c, ch, rule, identity="" if suffix in ("not-run", "result") else ch.name,
               report_path=paths.get(ch.stage))
    return Findings(tuple(c.findings), dict(c.left_out), c.notes_left_out)
