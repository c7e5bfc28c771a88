"""SARIF 2.1.0 of a verdict, so code-scanning views list the poisoned rows where they are.

One run of the ``poisonguard`` tool. Its rules are the fixed catalogue of
:data:`~poisonguard.reports._findings.RULES`: one rule per kind of finding (a detector, an
expectation type, a kind of provenance finding, a drift comparison, a stage that did not run),
never one per path, column or value, so the rule set is the same in every run. Its results are
the findings of :func:`~poisonguard.reports._findings.collect_findings`, each located in a file:

* **scan**: one result per quarantined row (``ScanResult.quarantined``) and per detector that
  gave a reason for it, located in the scanned data file with a ``region`` whose ``startLine``
  is the line where the row starts (CSV: header on line 1, quoted line breaks followed; JSON
  Lines: one row per line). Parquet rows carry the row without a line;
* **validation**: one result per row that broke an expectation, or one per failed expectation
  without rows, located in the validated data file;
* **provenance**: one result per finding, located at the source it is about (the manifest for
  findings about the envelope);
* **drift**: one result per failed canary comparison and per suspicious trigger probe, at the canary;
* a required stage that did not run: one result at the policy file.

Levels: ``error`` when the check fails the gate, ``warning`` for warnings. Notes (rows
quarantined by a detector whose batch verdict is clean, optional stages that did not run) are
left out unless ``include_notes=True`` (``poisonguard gate --sarif-all``): a passing gate gives an
empty result list. Relative paths are given against ``%SRCROOT%`` (the root the gate ran in);
``partialFingerprints`` hash stable identities only (stage, rule, path, check, row), never the
message or a measured number, so they are the same in every run over the same data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._version import __version__
from ._findings import MAX_RESULTS_PER_RULE, RULES, Finding, collect_findings

if TYPE_CHECKING:  # pragma: no cover
    from ..verdict import Verdict

__all__ = ["SARIF_SCHEMA", "render_sarif", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: The key of the fingerprint in ``partialFingerprints`` (bumped when what it hashes changes).
FINGERPRINT_KEY = "poisonguardFinding/v2"

_RULE_INDEX = {rid: i for i, rid in enumerate(RULES)}


def _descriptors() -> list[dict[str, Any]]:
    return [{
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.short},
        "fullDescription": {"text": r.full},
        "help": {"text": f"{r.short}. {r.full}"},
        "defaultConfiguration": {"level": r.level},
        "properties": {"tags": ["data-poisoning", "poisonguard", r.kind]},
    } for r in RULES.values()]


def _location(f: Finding) -> list[dict[str, Any]]:
    if not f.path:
        return []
    if "://" in f.path:
        art = {"uri": f.path}
    elif Path(f.path).is_absolute():
        art = {"uri": Path(f.path).as_uri()}
    else:
        art = {"uri": quote(f.path), "uriBaseId": "%SRCROOT%"}
    phys: dict[str, Any] = {"artifactLocation": art}
    if f.line is not None:
        phys["region"] = {"startLine": int(f.line)}
    loc: dict[str, Any] = {"physicalLocation": phys}
    if f.row is not None:
        loc["logicalLocations"] = [{"name": f"row {f.row}", "kind": "element"}]
    return [loc]


def _result(f: Finding) -> dict[str, Any]:
    res: dict[str, Any] = {
        "ruleId": f.rule, "ruleIndex": _RULE_INDEX[f.rule], "level": f.level, "message": {"text": f.message[:4000]},
        "locations": _location(f), "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
    }
    props = {**f.properties, "check": f.check}
    res["properties"] = props
    return res


def sarif_log(verdict: Verdict, *, root: str | Path | None = None, policy_file: str | None = None,
              include_notes: bool = False, max_results_per_rule: int = MAX_RESULTS_PER_RULE) -> dict[str, Any]:
    """The SARIF log as a dict.

    Parameters
    ----------
    verdict : Verdict
        The gate's answer (with its loaded reports).
    root : path, default=None
        The folder relative paths are taken from (``%SRCROOT%``); default: the current folder.
    policy_file : str, default=None
        Where the policy came from (the location of "stage not run" results).
    include_notes : bool, default=False
        Also give note-level results (rows quarantined under a clean batch verdict, optional
        stages that did not run); by default only what fails or warns.
    max_results_per_rule : int, default=1000
        Results kept per rule; the number left out is in the run's ``properties``.
    """
    root_p = Path(root) if root is not None else Path.cwd()
    found = collect_findings(verdict, root=root_p, policy_file=policy_file, include_notes=include_notes,
                             max_results_per_rule=max_results_per_rule)
    props: dict[str, Any] = {"verdict": verdict.verdict, "counts": dict(verdict.counts)}
    if found.left_out:
        props["resultsLeftOut"] = dict(found.left_out)
    if found.notes_left_out:
        props["notesLeftOut"] = found.notes_left_out
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "poisonguard", "version": __version__, "semanticVersion": __version__,
                                "rules": _descriptors()}},
            "automationDetails": {"id": "poisonguard/gate/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_p.resolve().as_uri() + "/"}},
            "invocations": [{"executionSuccessful": True, "exitCode": verdict.return_code}],
            "results": [_result(f) for f in found.findings],
            "properties": props,
        }],
    }


def render_sarif(verdict: Verdict, **kwargs: Any) -> str:
    """The SARIF log as JSON text (see :func:`sarif_log` for the options)."""
    return json.dumps(sarif_log(verdict, **kwargs), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
