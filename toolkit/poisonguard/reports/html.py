"""A self-contained HTML report of a verdict: the verdict first, then each stage with its plots.

One file that works offline and anywhere: inline CSS, plots as PNG ``data:`` URIs (matplotlib,
Agg), no script, no font, no CDN -- and a Content-Security-Policy that forbids loading anything
else, so even a value that escaped escaping could neither run nor call out. Every value that comes
from the data or the reports goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from .._env import source_date
from .._version import __version__
from ._common import STATUS_LABEL, read_columns, resolve
from ._plots import PLOTS, plot_data, png_data_uri, render_png

if TYPE_CHECKING:  # pragma: no cover
    from ..provenance import ProvenanceResult
    from ..scan import ScanResult
    from ..tracking import DriftResult
    from ..verdict import Check, Verdict

__all__ = ["render_html"]

#: Flagged rows shown with their values.
TOP_ROWS = 20
#: Checks listed per stage before the rest is folded away.
MAX_CHECKS = 200

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--warn:#9a6700;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;color:#1f2328}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
.verdict{border-radius:8px;padding:16px 20px;color:#fff;margin-bottom:16px}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}
.verdict .big{font-size:28px;font-weight:700;letter-spacing:.5px}
.verdict ul{margin:8px 0 0;padding-left:20px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;background:var(--muted)}
.badge.passed{background:var(--pass)}.badge.failed,.badge.not_run.fails{background:var(--fail)}
.badge.warning{background:var(--warn)}.badge.skipped,.badge.not_run{background:var(--muted)}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg)}td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}td.reasons{min-width:320px}
code{background:var(--bg);padding:1px 4px;border-radius:4px;font-size:12px;word-break:break-all}
.muted{color:var(--muted)}
figure{margin:8px 0;display:inline-block;vertical-align:top;max-width:100%}
figure img{max-width:100%;border:1px solid var(--line);border-radius:6px}
figcaption{font-size:12px;color:var(--muted);max-width:640px}
details{margin:6px 0}summary{cursor:pointer}
footer{margin-top:32px;font-size:12px;color:var(--muted)}
"""


def e(value: Any) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _badge(status: str, fails: bool = False) -> str:
    cls = f"badge {e(status)}" + (" fails" if fails else "")
    return f"<span class='{cls}'>{e(STATUS_LABEL.get(status, status))}</span>"


def _fmt(v: Any, spec: str = ".4g") -> str:
    if isinstance(v, bool) or v is None:
        return e(v)
    if isinstance(v, (int, float)):
        return e(format(v, spec))
    return e(v)


def _figure(name: str, frame: pd.DataFrame) -> str:
    title, caption = PLOTS[name]
    try:
        uri = png_data_uri(render_png(name, frame))
    except (ValueError, TypeError, KeyError) as exc:  # a plot that cannot be drawn is said, not fatal
        return f"<p class='muted'>Plot {e(title)} could not be drawn: {e(exc)}</p>"
    return (f"<figure id='plot-{e(name)}'><img src='{uri}' alt='{e(title)}' width='640'>"
            f"<figcaption>{e(caption)}</figcaption></figure>")


def _checks_table(checks: list[Check]) -> str:
    if not checks:
        return "<p class='muted'>No checks.</p>"
    order = {"failed": 0, "not_run": 1, "warning": 2, "skipped": 3, "passed": 4}
    ranked = sorted(checks, key=lambda c: (not c.fails_gate, order.get(c.status, 5)))
    shown = [c for c in ranked if c.status != "passed"]
    passed = [c for c in ranked if c.status == "passed"]

    def rows(items: list[Check]) -> str:
        return "".join(f"<tr><td>{_badge(c.status, c.fails_gate)}</td><td><code>{e(c.name)}</code></td>"
                       f"<td>{e(c.message)}</td></tr>" for c in items[:MAX_CHECKS])

    head = "<tr><th>status</th><th>check</th><th>message</th></tr>"
    out = ""
    if shown:
        out += f"<div class='scroll'><table>{head}{rows(shown)}</table></div>"
    if passed:
        more = f" (first {MAX_CHECKS})" if len(passed) > MAX_CHECKS else ""
        out += (f"<details><summary>{len(passed)} checks passed{more}</summary><div class='scroll'><table>{head}"
                f"{rows(passed)}</table></div></details>")
    return out


def _provenance_html(result: ProvenanceResult) -> str:
    if not result.sources:
        return ""
    rows = "".join(f"<tr><td><code>{e(s.name)}</code></td><td><code>{e(s.sha256)}</code></td>"
                   f"<td class='num'>{_fmt(s.size, 'd') if isinstance(s.size, int) else ''}</td>"
                   f"<td>{e(s.status)}</td></tr>" for s in result.sources)
    keys = ", ".join(result.keyids)
    return (f"<p>Valid signature by key <code>{e(keys or 'none')}</code>.</p>"
            f"<div class='scroll'><table><tr><th>source</th><th>sha256</th><th>bytes</th><th>status</th></tr>"
            f"{rows}</table></div>")


def _top_rows(result: ScanResult, root: Path) -> str:
    flagged = result.quarantined[:TOP_ROWS]
    if not flagged:
        return ""
    q = read_columns(resolve(result.outputs.get("quarantine"), root))
    values: dict[int, dict[str, Any]] = {}
    columns: list[str] = []
    if q is not None and len(q.columns) >= 3:
        row_col = q.columns[-3]
        columns = [str(c) for c in q.columns[:-3]]
        want = {r.row for r in flagged}
        sub = q[pd.to_numeric(q[row_col], errors="coerce").isin(want)]
        for _, rec in sub.iterrows():
            values[int(float(rec[row_col]))] = {c: rec[c] for c in columns}
    head = "<tr><th>row</th><th>suspicion</th><th>reasons</th>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>"
    body = ""
    for r in flagged:
        vals = values.get(r.row, {})
        reasons = "<br>".join(e(x) for x in r.reasons)
        body += (f"<tr><td class='num'>{r.row}</td><td class='num'>{_fmt(r.suspicion, '.3f')}</td>"
                 f"<td class='reasons'>{reasons}</td>" + "".join(f"<td>{e(vals.get(c, ''))}</td>" for c in columns) + "</tr>")
    note = "" if values else "<p class='muted'>The quarantine file was not found: row values left out.</p>"
    return (f"<h3>Most suspicious rows (top {len(flagged)} of {e(result.n_quarantined)} quarantined)</h3>{note}"
            f"<div class='scroll'><table>{head}{body}</table></div>")


def _scan_html(result: ScanResult, root: Path) -> str:
    rows = ""
    for d in result.detectors:
        batch = "SUSPECTED: " + d.reason if d.suspected else "clean"
        rows += (f"<tr><td><code>{e(d.name)}</code></td><td>{e(d.family)}</td>"
                 f"<td class='num'>{_fmt(d.n_flagged, 'd')}</td><td>{e(batch)}</td></tr>")
    out = ""
    dec = result.decision
    if dec:
        out += (f"<p>Decision: <strong>{e(dec.get('quarantine'))} quarantined</strong>, {e(dec.get('review'))} for review "
                f"(kept in the clean split), {e(dec.get('keep'))} kept — Benjamini–Hochberg at level "
                f"{e(dec.get('level'))} on the combined p-values of {e(dec.get('n_detectors_combined'))} detector(s); "
                f"expected clean rows in the quarantine at most {e(dec.get('expected_false_quarantine_at_most'))}.</p>")
        from ..evidence import screen_note
        from ..reference._level import level_note

        if note := screen_note(dec):
            out += f"<p>{e(note[0].upper() + note[1:])}.</p>"
        if note := level_note(dec):
            out += f"<p>{e(note[0].upper() + note[1:])}.</p>"
    for reason in result.reasons:
        out += f"<p><strong>{e(reason)}</strong></p>"
    if rows:
        out += ("<div class='scroll'><table><tr><th>detector</th><th>family</th><th>own flags</th>"
                f"<th>batch</th></tr>{rows}</table></div>")
    for f in result.failures:
        out += f"<p>Detector <code>{e(f.detector)}</code> failed: {e(f.error)}: {e(f.message)}</p>"
    return out + _top_rows(result, root) + _review_rows(result)


def _review_rows(result: ScanResult) -> str:
    review = result.review[:TOP_ROWS]
    if not review:
        return ""
    body = "".join(f"<tr><td class='num'>{r.row}</td><td class='num'>{_fmt(r.suspicion, '.3f')}</td>"
                   f"<td class='reasons'>{'<br>'.join(e(x) for x in r.reasons)}</td></tr>" for r in review)
    return (f"<h3>Rows for review (top {len(review)} of {e(result.n_review)}; kept in the clean split)</h3>"
            f"<div class='scroll'><table><tr><th>row</th><th>suspicion</th><th>reasons</th></tr>{body}</table></div>")


def _drift_html(result: DriftResult) -> str:
    rows = "".join(f"<tr><td>{e(k)}</td><td class='num'>{_fmt(v)}</td></tr>" for k, v in sorted(result.metrics.items()))
    out = (f"<p>Candidate run <code>{e(result.run_id)}</code> against champion run "
           f"<code>{e(result.champion_run_id)}</code> ({e(result.champion_source)}), on canary "
           f"<code>{e(result.canary.get('path'))}</code>.</p>")
    if rows:
        out += f"<details><summary>Canary metrics</summary><table><tr><th>metric</th><th>value</th></tr>{rows}</table></details>"
    if result.probes_note:
        out += f"<p class='muted'>Trigger probes: {e(result.probes_note)}</p>"
    return out


def render_html(verdict: Verdict, *, root: str | Path | None = None, title: str = "poisonguard gate report",
                links: dict[str, str] | None = None, standalone: bool = True) -> str:
    """The report as one HTML document (or an HTML fragment when ``standalone`` is False).

    Parameters
    ----------
    verdict : Verdict
        The gate's answer, with its loaded reports.
    root : path, default=None
        Folder the paths in the reports are relative to (default: the current folder).
    title : str, default="poisonguard gate report"
        The page title.
    links : dict, default=None
        Label -> relative path of the other reports, listed at the end.
    standalone : bool, default=True
        A full document with its CSP and styles; False gives a fragment (notebooks).
    """
    root_p = Path(root) if root is not None else Path.cwd()
    plots = plot_data(verdict, root_p)
    ok = verdict.verdict == "pass"
    c = verdict.counts
    failed = verdict.failed_checks
    parts = [f"<h1>{e(title)}</h1>",
             f"<section class='verdict {'pass' if ok else 'fail'}' id='verdict'>"
             f"<div class='big'>{'PASS' if ok else 'FAIL'}</div>"
             f"<div>{e(c.get('checks', 0))} checks: {e(c.get('passed', 0))} passed, {e(c.get('failed', 0))} failed, "
             f"{e(c.get('warnings', 0))} warnings, {e(c.get('skipped', 0))} skipped or not run.</div>"]
    if failed:
        items = "".join(f"<li><strong>{e(ch.id)}</strong>: {e(ch.message)}</li>" for ch in failed[:30])
        more = f"<li>… and {len(failed) - 30} more below</li>" if len(failed) > 30 else ""
        parts.append(f"<ul>{items}{more}</ul>")
    parts.append("</section>")

    stage_rows = "".join(
        f"<tr><td><a href='#stage-{e(s.stage)}'>{e(s.stage)}</a></td><td>{_badge(s.status, s.status == 'not_run' and s.role == 'required')}</td>"
        f"<td>{e(s.role)}</td><td>{e(s.summary)}</td></tr>" for s in verdict.stages)
    parts.append("<h2 id='stages'>Stages</h2><div class='scroll'><table><tr><th>stage</th><th>status</th><th>role</th>"
                 f"<th>summary</th></tr>{stage_rows}</table></div>")

    by_stage: dict[str, list[Check]] = {}
    for ch in verdict.checks:
        by_stage.setdefault(ch.stage, []).append(ch)
    reports = verdict.labelled_reports()
    shift_source = str(plots["feature_shift"]["source"].iloc[0]) if "feature_shift" in plots else ""
    for s in verdict.stages:
        rep = reports.get(s.stage)
        parts.append(f"<section id='stage-{e(s.stage)}'><h2>{e(s.stage)} {_badge(s.status, s.status == 'not_run' and s.role == 'required')}</h2>"
                     f"<p>{e(s.summary)}</p>")
        if rep is None:
            parts.append(f"<p class='muted'>This stage did not run ({e(s.role)}).</p>")
        else:
            if rep.path:
                parts.append(f"<p class='muted'>Report: <code>{e(rep.path)}</code></p>")
            figs: list[str] = []
            if rep.kind == "scan" and s.stage == "scan":
                figs = [n for n in ("suspicion_histogram", "flagged_per_class") if n in plots]
                if shift_source.startswith("scan"):
                    figs.append("feature_shift")
            elif rep.kind == "validation" and s.stage == "validation" and shift_source.startswith("validation"):
                figs = ["feature_shift"]
            elif rep.kind == "drift" and s.stage == "drift" and "canary_recall" in plots:
                figs = ["canary_recall"]
            parts.extend(_figure(n, plots[n]) for n in figs)
            result = rep.result  # typed by its kind (the gate read it through its result class)
            if rep.kind == "scan" and result is not None:
                parts.append(_scan_html(cast("ScanResult", result), root_p))
            elif rep.kind == "provenance" and result is not None:
                parts.append(_provenance_html(cast("ProvenanceResult", result)))
            elif rep.kind == "drift" and result is not None:
                parts.append(_drift_html(cast("DriftResult", result)))
        parts.append("<h3>Checks</h3>" + _checks_table(by_stage.get(s.stage, [])) + "</section>")

    inputs = "".join(f"<tr><td><code>{e(i.get('path'))}</code></td><td>{e(i.get('kind'))}</td><td>{e(i.get('status'))}</td>"
                     f"<td><code>{e(i.get('sha256'))}</code></td></tr>" for i in verdict.inputs)
    link_items = "".join(f"<li><a href='{e(v)}'>{e(k)}</a> <code>{e(v)}</code></li>" for k, v in (links or {}).items())
    when = source_date()  # no wall-clock time otherwise: the page is byte-identical for identical inputs
    stamp = f" at {when.isoformat()}" if when is not None else ""
    parts.append("<footer><h3>Inputs</h3><div class='scroll'><table><tr><th>report</th><th>kind</th><th>status</th>"
                 f"<th>sha256</th></tr>{inputs}</table></div>"
                 + (f"<h3>Other reports</h3><ul>{link_items}</ul>" if link_items else "")
                 + f"<p>Policy: <code>{e(verdict.policy)}</code></p>"
                 f"<p>Written by poisonguard {e(__version__)}{e(stamp)}.</p></footer>")
    body = "\n".join(parts)
    if not standalone:
        return f"<div class='poisonguard-gate'><style>{_CSS}</style>{body}</div>"
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}: {'PASS' if ok else 'FAIL'}</title><style>{_CSS}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n")
