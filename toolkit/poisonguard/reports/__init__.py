"""Renderers of the gate's verdict for CI systems and for people.

All of them read the same :class:`~poisonguard.gate.Verdict` (and the stage results it loaded):

* :func:`render_markdown` -- a summary for a CI job summary (``summary.md``);
* :func:`render_junit` -- JUnit XML, one test case per check (``junit.xml``);
* :func:`render_sarif` -- SARIF 2.1.0, one result per finding located at its data row, rules from a
  fixed catalogue (``results.sarif``);
* :func:`render_code_quality` -- the same findings as a GitLab Code Quality report
  (``gl-code-quality-report.json``);
* :func:`render_html` -- one self-contained HTML page with plots, working offline (``report.html``);
* :func:`plot_data` -- the tables behind the plots, also written for ``dvc plots`` (``plots/*.csv``).

:func:`write_reports` writes them all (atomically, through :mod:`poisonguard._io`) next to the
verdict's own JSON (``gate.json``). matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._io import atomic_write_text
from ._plots import plot_data, write_plot_tables
from .codequality import code_quality_issues, render_code_quality
from .html import render_html
from .junit import render_junit
from .markdown import render_markdown
from .sarif import render_sarif, sarif_log

if TYPE_CHECKING:  # pragma: no cover
    from ..verdict import Verdict

__all__ = ["FORMATS", "code_quality_issues", "plot_data", "render_code_quality", "render_html", "render_junit",
           "render_markdown", "render_sarif", "sarif_log", "write_reports"]

#: Report -> file name in the output folder.
FORMATS = {"json": "gate.json", "markdown": "summary.md", "junit": "junit.xml", "sarif": "results.sarif",
           "codequality": "gl-code-quality-report.json", "html": "report.html", "plots": "plots"}


def write_reports(verdict: Verdict, out: str | os.PathLike[str], *, formats: Sequence[str] | None = None,
                  root: str | os.PathLike[str] | None = None, policy_file: str | None = None,
                  include_notes: bool = False) -> dict[str, Path]:
    """Write the verdict's reports into ``out`` and return their paths.

    Parameters
    ----------
    verdict : Verdict
        The gate's answer.
    out : path-like
        The folder (created when missing).
    formats : sequence of str, default=None
        Among :data:`FORMATS`; None writes them all.
    root : path-like, default=None
        The folder the paths in the stage results are relative to (default: the current folder).
    policy_file : str, default=None
        Where the policy came from (named in SARIF results of stages that did not run).
    include_notes : bool, default=False
        SARIF and Code Quality: also list note-level findings (by default only what fails or warns).
    """
    chosen = list(FORMATS) if formats is None else list(formats)
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown:
        from ..errors import UsageError

        raise UsageError(f"unknown report format(s) {unknown}; choose among {', '.join(FORMATS)}")
    out_p = Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    root_p = Path(root) if root is not None else Path.cwd()
    paths = {k: out_p / FORMATS[k] for k in chosen}
    rel = {label: FORMATS[k] for label, k in (("HTML report", "html"), ("SARIF", "sarif"), ("JUnit XML", "junit"),
                                               ("Gate result (JSON)", "json")) if k in chosen}
    if "json" in paths:
        verdict.write_json(paths["json"])
    if "markdown" in paths:
        md_links = {label: str(out_p / name) for label, name in rel.items()}
        atomic_write_text(paths["markdown"], render_markdown(verdict, links=md_links))
    if "junit" in paths:
        atomic_write_text(paths["junit"], render_junit(verdict))
    if "sarif" in paths:
        atomic_write_text(paths["sarif"], render_sarif(verdict, root=root_p, policy_file=policy_file,
                                                       include_notes=include_notes))
    if "codequality" in paths:
        atomic_write_text(paths["codequality"], render_code_quality(verdict, root=root_p, policy_file=policy_file,
                                                                    include_notes=include_notes))
    if "html" in paths:
        html_links = {label: name for label, name in rel.items() if name != FORMATS["html"]}
        atomic_write_text(paths["html"], render_html(verdict, root=root_p, links=html_links))
    if "plots" in paths:
        write_plot_tables(plot_data(verdict, root_p), paths["plots"])
    return paths
