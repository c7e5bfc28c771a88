"""``poisonguard gate``: a thin shell over :func:`poisonguard.gate.gate` and :mod:`poisonguard.reports`.

Reads the stage results, applies the policy of ``--params`` (section ``gate``), writes the
reports into ``--out-dir`` and exits 0 when the gate passes, 1 when it fails; a report that is not a
poisonguard result, or a malformed policy, exits 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import exit_zero_option, existing_params, finish, metrics_option, old_name

__all__ = ["gate_cmd"]


@click.command("gate")
@click.argument("reports", nargs=-1, type=click.Path(path_type=Path))
@click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="params.yaml whose `gate:` section is the policy (default policy, also for a missing file "
                   "or section: every stage whose report is given is required, drift optional).")
@click.option("--out-dir", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for gate.json, summary.md, junit.xml, results.sarif, gl-code-quality-report.json, "
                   "report.html and plots/.")
@click.option("--only", "formats", multiple=True,
              type=click.Choice(["json", "markdown", "junit", "sarif", "codequality", "html", "plots"]),
              help="Write only these reports (repeat); default: all of them.")
@click.option("--sarif-all", "include_notes", is_flag=True, default=False,
              help="SARIF and Code Quality: also list notes (rows quarantined under a clean batch verdict, "
                   "optional stages not run); by default only what fails or warns.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder the paths inside the reports are relative to (default: the current folder).")
@metrics_option
@exit_zero_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="How to print the verdict on standard output.")
@old_name("--out", "-o", dest="out", new="--out-dir", type=click.Path(file_okay=False, path_type=Path))
@old_name("--report", dest="formats", new="--only", multiple=True,
          type=click.Choice(["json", "markdown", "junit", "sarif", "codequality", "html", "plots"]))
def gate_cmd(reports: tuple[Path, ...], params_file: Path | None, out: Path | None, formats: tuple[str, ...],
             root: Path | None, fmt: str, include_notes: bool, metrics_file: Path | None, exit_zero: bool) -> int:
    """Combine the stage results REPORTS into one verdict; exit 0 on pass, 1 on fail.

    REPORTS are the JSON results of the stages (scan report.json, validation.json, the provenance
    and drift reports). A required stage whose report is missing counts as not run, which fails
    the gate: a missing stage is never taken as passed. Without a policy, the stages whose reports
    are given are the required ones, and a REPORTS path that does not exist fails the gate.
    """
    from .._io import guard_outputs
    from ..gate import gate, load_policy
    from ..reports import FORMATS, render_markdown, write_reports

    chosen = list(formats) or list(FORMATS)
    guard_outputs(inputs=[("REPORTS", r) for r in reports] + [("--params", params_file)], out_dirs=[("--out-dir", out)],
                  outputs=[("--out-dir", out / FORMATS[f]) for f in chosen if f != "plots" and out is not None]
                  + [("--metrics", metrics_file)])
    verdict = gate(list(reports), load_policy(existing_params(params_file)))
    if out is not None:
        paths = write_reports(verdict, out, formats=list(formats) or None, root=root,
                              policy_file=str(params_file) if params_file else None, include_notes=include_notes)
    else:
        paths = {}
    if fmt == "json":
        click.echo(verdict.to_json())
    elif fmt == "markdown":
        click.echo(render_markdown(verdict))
    else:
        click.echo(str(verdict))
        for name, p in paths.items():
            click.echo(f"  {name}: {p}")
    return finish(verdict, exit_zero=exit_zero, metrics_file=metrics_file)
