"""SARIF 2.1.0 of a verdict, so code-scanning views list the poisoned rows where they are.

One run of the ``poisonguard`` tool. Its rules are the gate's checks (one per detector,
expectation, manifest source, drift comparison and trigger probe; one per stage that did not
run). Its results are the findings, each located in a file:

* **scan**: one result per flagged row and per detector that flagged it (the ``flagged`` rows of
  ``report.json``, the most suspicious first), located in the scanned data file with a
  ``region`` whose ``startLine`` is the line where the row starts (CSV: header on line 1, quoted
  line breaks followed; JSON Lines: one row per line). Parquet rows carry the row without a line;
* **validation**: one result per row that broke an expectation (the rows the report lists), or one
  per failed expectation without rows, located in the validated data file;
* **provenance**: one result per finding, located at the source it is about (the manifest for
  findings about the envelope);
* **drift**: one result per crossed threshold and per suspicious trigger probe, at the canary;
* a required stage that did not run: one result at the policy file.

Levels: ``error`` when the check fails the gate, ``warning`` for warnings, ``note`` for rows
quarantined by a detector whose batch verdict is clean. Relative paths are given against
``%SRCROOT%`` (the root the gate ran in); ``partialFingerprints`` keep results stable across runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._version import __version__
from ._common import relpath, resolve, row_lines

if TYPE_CHECKING:  # pragma: no cover
    from ..gate import Check, Verdict

__all__ = ["SARIF_SCHEMA", "render_sarif", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: Default bound on the results of one rule (code-scanning services cap a run's results).
MAX_RESULTS_PER_RULE = 1000

_HELP = {
    "provenance": "The signed manifest pins every training-data source by its SHA-256 (S3 objects by version). "
                  "A failure means a source changed, vanished or appeared after signing, or the signature is "
                  "not valid: find out who changed the data before training on it.",
    "validation": "A Great Expectations expectation inferred from trusted data. Critical ones fail the gate; "
                  "the rows listed broke it.",
    "scan": "A poisoning detector. Flagged rows were quarantined (not deleted); the detector fails the gate "
            "when its batch policy suspects poisoning, not for every flagged row.",
    "drift": "The candidate model compared with the champion on the trusted canary set; a crossed threshold "
             "or a trigger that now works means the training data may be poisoned.",
}


def _level(ch: Check) -> str:
    if ch.fails_gate:
        return "error"
    if ch.status == "warning":
        return "warning"
    return "note"


class _Run:
    def __init__(self, verdict: Verdict, root: Path, policy_file: str | None, max_per_rule: int) -> None:
        self.verdict, self.root, self.policy_file, self.max_per_rule = verdict, root, policy_file, max_per_rule
        self.rules: list[dict[str, Any]] = []
        self.rule_index: dict[str, int] = {}
        self.checks = {c.id: c for c in verdict.checks}
        self.results: list[dict[str, Any]] = []
        self.per_rule: dict[str, int] = {}
        self.truncated: dict[str, int] = {}
        for ch in verdict.checks:
            self._rule(ch.id, ch.stage, f"{ch.stage}: {ch.name}", _level(ch) if ch.status != "passed" else "note")

    def _rule(self, rid: str, stage: str, short: str, level: str) -> int:
        if rid in self.rule_index:
            return self.rule_index[rid]
        kind = stage.split("#")[0]
        self.rule_index[rid] = len(self.rules)
        self.rules.append({
            "id": rid,
            "shortDescription": {"text": short[:1000]},
            "fullDescription": {"text": _HELP.get(kind, f"A check of the {kind} stage.")},
            "help": {"text": _HELP.get(kind, f"A check of the {kind} stage.")},
            "defaultConfiguration": {"level": level},
            "properties": {"tags": ["data-poisoning", "poisonguard", kind]},
        })
        return self.rule_index[rid]

    def _location(self, path: str | None, line: int | None = None, row: int | None = None) -> list[dict[str, Any]]:
        if not path:
            return []
        if "://" in path:
            art = {"uri": path}
        else:
            rel = relpath(path, self.root)
            assert rel is not None
            art = ({"uri": quote(rel), "uriBaseId": "%SRCROOT%"} if not Path(rel).is_absolute()
                   else {"uri": Path(rel).as_uri()})
        phys: dict[str, Any] = {"artifactLocation": art}
        if line is not None:
            phys["region"] = {"startLine": int(line)}
        loc: dict[str, Any] = {"physicalLocation": phys}
        if row is not None:
            loc["logicalLocations"] = [{"name": f"row {row}", "kind": "element"}]
        return [loc]

    def add(self, rid: str, level: str, text: str, path: str | None, *, line: int | None = None,
            row: int | None = None, props: dict[str, Any] | None = None) -> None:
        n = self.per_rule.get(rid, 0)
        if n >= self.max_per_rule:
            self.truncated[rid] = self.truncated.get(rid, 0) + 1
            return
        self.per_rule[rid] = n + 1
        key = f"{rid}|{relpath(path, self.root) if path and '://' not in path else path}|{row}|{text if row is None else ''}"
        result: dict[str, Any] = {
            "ruleId": rid, "ruleIndex": self.rule_index[rid], "level": level, "message": {"text": text[:4000]},
            "locations": self._location(path, line, row),
            "partialFingerprints": {"poisonguardFinding/v1": hashlib.sha256(key.encode("utf-8")).hexdigest()},
        }
        if props:
            result["properties"] = props
        self.results.append(result)


def _scan_results(run: _Run, stage: str, data: dict[str, Any]) -> None:
    inp = data.get("input") or {}
    path = inp.get("path")
    flagged = [r for r in data.get("flagged") or [] if isinstance(r, dict)]
    lines = row_lines(resolve(path, run.root), (int(r.get("row", -1)) for r in flagged))
    detectors = {str(d.get("name")) for d in data.get("detectors") or [] if isinstance(d, dict)}
    for r in flagged:
        row = int(r.get("row", -1))
        reasons = [str(x) for x in r.get("reasons") or []] or ["flagged"]
        for reason in reasons:
            det, sep, text = reason.partition(": ")
            rid = f"{stage}/{det}" if sep and det in detectors and f"{stage}/{det}" in run.checks else None
            if rid is None:
                rid = f"{stage}/flagged"
                run._rule(rid, stage, f"{stage}: rows flagged for another reason", "warning")
                text = reason
            ch = run.checks.get(rid)
            level = "error" if ch is not None and ch.fails_gate else ("warning" if ch is None or ch.status == "warning"
                                                                      else "note")
            label = f" (label {r.get('label')!r})" if r.get("label") is not None else ""
            run.add(rid, level, f"Row {row}{label} quarantined, suspicion {float(r.get('suspicion') or 0):.3f}: {text}",
                    path, line=lines.get(row), row=row,
                    props={"row": row, "suspicion": r.get("suspicion"), "stage": stage})


def _validation_results(run: _Run, stage: str, data: dict[str, Any], checks: list[Check]) -> None:
    path = ((data.get("inputs") or {}).get("data") or {}).get("path")
    outcomes = [o for o in data.get("outcomes") or [] if isinstance(o, dict)]
    # the gate made one check per outcome, in order
    pairs = list(zip(outcomes, checks)) if len(checks) >= len(outcomes) else []
    wanted = [int(x) for o, ch in pairs if ch.status in ("failed", "warning") for x in o.get("unexpected_rows") or []]
    lines = row_lines(resolve(path, run.root), wanted)
    for o, ch in pairs:
        if ch.status not in ("failed", "warning"):
            continue
        level = _level(ch)
        rows = [int(x) for x in o.get("unexpected_rows") or []]
        if not rows:
            run.add(ch.id, level, f"{ch.name}: {ch.message}", path, props={"stage": stage})
            continue
        for row in rows:
            run.add(ch.id, level, f"Row {row} breaks {ch.name} ({o.get('severity', 'critical')}): {ch.message}", path,
                    line=lines.get(row), row=row, props={"row": row, "stage": stage})


def _provenance_results(run: _Run, stage: str, data: dict[str, Any]) -> None:
    manifests = [m for m in data.get("manifests") or [] if isinstance(m, dict)]
    manifest = manifests[0].get("path") if manifests else None
    for f in data.get("findings") or []:
        if not isinstance(f, dict):
            continue
        source = str(f.get("source", "(manifest)"))
        rid = f"{stage}/{source}"
        if rid not in run.checks:
            continue
        ch = run.checks[rid]
        level = "error" if f.get("severity", "error") == "error" and ch.fails_gate else "warning"
        where = manifest if source.startswith("(") else source
        run.add(rid, level, f"[{f.get('kind')}] {f.get('message')}", where, props={"kind": f.get("kind"), "stage": stage})


def _other_results(run: _Run, ch: Check, report_path: str | None) -> None:
    where = ch.location or (run.policy_file if ch.status == "not_run" else report_path)
    run.add(ch.id, _level(ch), f"{ch.id}: {ch.message}", where, props={"stage": ch.stage})


def _iter_reports(verdict: Verdict) -> Iterator[tuple[str, Any]]:
    seen: dict[str, int] = {}
    for rep in sorted(verdict.reports, key=lambda r: _stage_order(r.kind)):
        seen[rep.kind] = seen.get(rep.kind, 0) + 1
        yield (rep.kind if seen[rep.kind] == 1 else f"{rep.kind}#{seen[rep.kind]}"), rep


def _stage_order(kind: str) -> tuple[int, str]:
    from ..gate import _order

    return _order(kind)


def sarif_log(verdict: Verdict, *, root: str | Path | None = None, policy_file: str | None = None,
              max_results_per_rule: int = MAX_RESULTS_PER_RULE) -> dict[str, Any]:
    """The SARIF log as a dict.

    Parameters
    ----------
    verdict : Verdict
        The gate's answer (with its loaded reports).
    root : path, default=None
        The folder relative paths are taken from (``%SRCROOT%``); default: the current folder.
    policy_file : str, default=None
        Where the policy came from (the location of "stage not run" results).
    max_results_per_rule : int, default=1000
        Results kept per rule; the number left out is in the run's ``properties``.
    """
    root_p = Path(root) if root is not None else Path.cwd()
    run = _Run(verdict, root_p, policy_file, max_results_per_rule)
    by_stage: dict[str, list[Check]] = {}
    for ch in verdict.checks:
        by_stage.setdefault(ch.stage, []).append(ch)
    handled: set[str] = set()
    for stage, rep in _iter_reports(verdict):
        checks = by_stage.get(stage, [])
        if rep.kind == "scan":
            _scan_results(run, stage, rep.data)
            handled.update(c.id for c in checks if c.name in {str(d.get("name")) for d in rep.data.get("detectors") or []
                                                            if isinstance(d, dict)} and run.per_rule.get(c.id))
        elif rep.kind == "validation":
            _validation_results(run, stage, rep.data, checks)
            handled.update(c.id for c in checks)
        elif rep.kind == "provenance":
            _provenance_results(run, stage, rep.data)
            handled.update(c.id for c in checks if run.per_rule.get(c.id))
        for ch in checks:
            if ch.id not in handled and ch.status in ("failed", "warning", "not_run") and not run.per_rule.get(ch.id):
                _other_results(run, ch, rep.path)
                handled.add(ch.id)
    for ch in verdict.checks:  # stages that did not run
        if ch.id not in handled and ch.status in ("failed", "warning", "not_run") and not run.per_rule.get(ch.id):
            _other_results(run, ch, None)
    props: dict[str, Any] = {"verdict": verdict.verdict, "counts": dict(verdict.counts)}
    if run.truncated:
        props["resultsLeftOut"] = dict(run.truncated)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "poisonguard", "version": __version__, "semanticVersion": __version__,
                                "rules": run.rules}},
            "automationDetails": {"id": "poisonguard/gate/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_p.resolve().as_uri() + "/"}},
            "invocations": [{"executionSuccessful": True, "exitCode": verdict.return_code}],
            "results": run.results,
            "properties": props,
        }],
    }


def render_sarif(verdict: Verdict, **kwargs: Any) -> str:
    """The SARIF log as JSON text (see :func:`sarif_log` for the options)."""
    return json.dumps(sarif_log(verdict, **kwargs), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
