"""GitLab Code Quality report of a verdict (``gl-code-quality-report.json``).

A JSON array of issues as GitLab's merge-request widget reads them (``artifacts: reports:
codequality:``): ``description``, ``check_name``, ``fingerprint``, ``severity`` and ``location``
(``path``, ``lines.begin``). The issues are the same findings as the SARIF results
(:func:`~poisonguard.reports._findings.collect_findings`): ``check_name`` is a rule id of the fixed
catalogue and ``fingerprint`` the same stable hash, so an unchanged finding stays the same issue
from pipeline to pipeline. Severities: ``critical`` for what fails the gate, ``minor`` for
warnings, ``info`` for notes (listed only with ``include_notes=True``). A finding with no file
is located at the policy file, or ``.``, with line 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._findings import MAX_RESULTS_PER_RULE, collect_findings

if TYPE_CHECKING:  # pragma: no cover
    from ..verdict import Verdict

__all__ = ["code_quality_issues", "render_code_quality"]

_SEVERITY = {"error": "critical", "warning": "minor", "note": "info"}


def code_quality_issues(verdict: Verdict, *, root: str | Path | None = None, policy_file: str | None = None,
                        include_notes: bool = False,
                        max_results_per_rule: int = MAX_RESULTS_PER_RULE) -> list[dict[str, Any]]:
    """The Code Quality issues as a list of dicts (options as :func:`~poisonguard.reports.sarif_log`)."""
    found = collect_findings(verdict, root=root, policy_file=policy_file, include_notes=include_notes,
                             max_results_per_rule=max_results_per_rule)
    return [{
        "description": f.message[:4000],
        "check_name": f.rule,
        "fingerprint": f.fingerprint,
        "severity": _SEVERITY[f.level],
        "location": {"path": f.path or policy_file or ".", "lines": {"begin": int(f.line or 1)}},
    } for f in found.findings]


def render_code_quality(verdict: Verdict, **kwargs: Any) -> str:
    """The Code Quality report as JSON text (see :func:`code_quality_issues` for the options)."""
    return json.dumps(code_quality_issues(verdict, **kwargs), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
