"""The Markdown summary of a verdict, fit for a CI job summary (``$GITHUB_STEP_SUMMARY``).

What was checked (one line per stage), what failed (every check that fails the gate, with its
message), the warnings, counts, and links to the other reports. Every value that comes from the
data or the reports is escaped: Markdown in CI views also renders raw HTML, so ``<``, ``>`` and
``&`` become entities and Markdown's own punctuation is backslash-escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from ._common import github_run_url

if TYPE_CHECKING:  # pragma: no cover
    from ..scan import ScanResult
    from ..verdict import Verdict

__all__ = ["md_escape", "render_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_ICON = {"passed": "✅", "failed": "❌", "warning": "⚠️", "skipped": "⏭️", "not_run": "⛔"}
#: Most failing checks listed (the rest are counted; all are in the other reports).
MAX_LISTED = 50


def md_escape(text: object, limit: int = 400) -> str:
    """One line of text safe inside Markdown (and inside a table cell)."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", html.escape(s, quote=False))


def render_markdown(verdict: Verdict, *, links: Mapping[str, str] | None = None, title: str = "poisonguard gate") -> str:
    """The summary as Markdown.

    Parameters
    ----------
    verdict : Verdict
        The gate's answer.
    links : mapping of str to str, default=None
        Label -> path or URL of the other reports (``{"HTML report": "reports/report.html"}``).
    title : str, default="poisonguard gate"
        The heading.
    """
    c = verdict.counts
    ok = verdict.verdict == "pass"
    lines = [f"## {md_escape(title)}: {'✅ PASS' if ok else '❌ FAIL'}", ""]
    lines.append(f"**{c.get('checks', 0)} checks**: {c.get('passed', 0)} passed, **{c.get('failed', 0)} failed**, "
                 f"{c.get('warnings', 0)} warnings, {c.get('skipped', 0)} skipped or not run.")
    pol = verdict.policy
    req = ", ".join(pol.get("required") or []) or "none"
    opt = ", ".join(pol.get("optional") or []) or "none"
    lines += [f"Policy: required stages {md_escape(req)}; optional {md_escape(opt)} "
              "(a required stage that did not run fails the gate).", ""]

    lines += ["| stage | status | role | checks | summary |", "| --- | --- | --- | --- | --- |"]
    per_stage: dict[str, list[int]] = {}
    for ch in verdict.checks:
        n = per_stage.setdefault(ch.stage, [0, 0])
        n[0] += 1
        n[1] += ch.fails_gate
    for s in verdict.stages:
        n = per_stage.get(s.stage, [0, 0])
        checks = f"{n[0]} ({n[1]} failed)" if n[1] else str(n[0])
        lines.append(f"| {md_escape(s.stage)} | {_ICON.get(s.status, '')} {s.status.replace('_', ' ')} | {s.role} "
                     f"| {checks} | {md_escape(s.summary, 300)} |")
    lines.append("")

    failed = verdict.failed_checks
    if failed:
        lines += [f"### What failed ({len(failed)})", ""]
        for ch in failed[:MAX_LISTED]:
            where = f" — `{md_escape(ch.location, 120)}`" if ch.location else ""
            lines.append(f"- {_ICON.get(ch.status, '')} **{md_escape(ch.id, 160)}**{where}: {md_escape(ch.message)}")
        if len(failed) > MAX_LISTED:
            lines.append(f"- … and {len(failed) - MAX_LISTED} more (see the JUnit and SARIF reports)")
        lines.append("")
    warnings = [ch for ch in verdict.checks if ch.status == "warning"]
    if warnings:
        lines += [f"<details><summary>Warnings ({len(warnings)})</summary>", ""]
        for ch in warnings[:MAX_LISTED]:
            lines.append(f"- **{md_escape(ch.id, 160)}**: {md_escape(ch.message)}")
        if len(warnings) > MAX_LISTED:
            lines.append(f"- … and {len(warnings) - MAX_LISTED} more")
        lines += ["", "</details>", ""]

    loaded = verdict.report("scan")
    scan = cast("ScanResult | None", loaded.result if loaded is not None else None)
    if scan is not None and scan.quarantined:
        lines += [f"<details><summary>Most suspicious rows (of {scan.n_quarantined} quarantined)</summary>",
                  "", "| row | suspicion | label | reasons |", "| --- | --- | --- | --- |"]
        for r in scan.quarantined[:10]:
            reasons = "; ".join(map(str, r.reasons))
            lines.append(f"| {r.row} | {float(r.suspicion or 0):.3f} | "
                         f"{md_escape(r.label, 60)} | {md_escape(reasons, 240)} |")
        lines += ["", "</details>", ""]

    all_links = dict(links or {})
    run_url = github_run_url()
    if run_url:
        all_links.setdefault("CI run (artifacts)", run_url)
    if all_links:
        lines += ["### Reports", ""]
        for label, target in all_links.items():
            safe = str(target).replace(" ", "%20").replace(")", "%29").replace("(", "%28")
            lines.append(f"- [{md_escape(label, 80)}]({safe}) (`{md_escape(target, 200)}`)")
        lines.append("")
    return "\n".join(lines)
