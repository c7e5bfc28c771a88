"""``poisonguard drift``, ``promote`` and ``train-log``: thin shells over :mod:`poisonguard.tracking`.

``drift`` prints its :class:`~poisonguard.tracking.DriftResult` (``--format text|json``), writes it
with ``--out FILE`` (atomically), records the verdict on the run and exits 1 when poisoning is
suspected, 0 otherwise; an unknown run, no champion, a missing canary or a canary other than the
runs' exit 2 through :func:`poisonguard.cli.main`. ``promote`` exits 1 when it refuses.
MLflow is imported only when a command runs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from ._common import load_params

from . import echo_result

__all__ = ["drift_cmd", "promote_cmd", "train_log_cmd"]


def _threshold_options(fn: Any) -> Any:
    from ..tracking._drift import DriftThresholds

    for f in reversed(dataclasses.fields(DriftThresholds)):
        typ = click.IntRange(min=1) if f.name.startswith("min_") else click.FloatRange(0.0, 1.0)
        fn = click.option(f"--{f.name.replace('_', '-')}", f.name, type=typ, default=None,
                          help=f"Threshold (default {f.default}; or `drift: {f.name}:` in --params).")(fn)
    return fn


@click.command("drift")
@click.option("--run", "run_id", required=True, help="The candidate MLflow run id.")
@click.option("--canary", required=True, type=click.Path(path_type=Path),
              help="The trusted canary file both runs were evaluated on.")
@click.option("--label", required=True, help="The canary's label column.")
@click.option("--rules", type=click.Path(path_type=Path), default=None,
              help="Suspected trigger rules: a scan report (report.json) or a JSON list; without it, no probes.")
@click.option("--model-name", default=None, help="Registered model holding the champion alias "
                                                 "(default: the run's experiment name).")
@click.option("--champion-run", default=None, help="Compare with this run instead of the champion.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="params.yaml whose 'drift:' section sets the thresholds.")
@_threshold_options
@click.option("--no-record", is_flag=True, help="Do not write the verdict (tags, metrics) on the run.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the DriftResult JSON to this file (atomically).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the result.")
def drift_cmd(run_id: str, canary: Path, label: str, rules: Path | None, model_name: str | None,
              champion_run: str | None, params_file: Path | None, no_record: bool, out: Path | None,
              fmt: str, **thresholds: Any) -> int:
    """Compare run RUN's model with the champion on the canary set.

    The champion is the registered model's `champion` alias, else the last accepted run of
    the experiment. Exit 1 when poisoning is suspected (tags poisonguard.suspected and
    poisonguard.reasons are set on the run), 0 otherwise, 2 for an unknown run, no champion,
    or a missing or different canary.
    """
    from .._io import guard_outputs
    from ..tracking import DriftThresholds, drift

    guard_outputs(inputs=[("--canary", canary), ("--rules", rules), ("--params", params_file)],
                  outputs=[("--out", out)])
    values = load_params(params_file, "drift")
    values.update({k: v for k, v in thresholds.items() if v is not None})
    result = drift(run_id, canary, label=label, rules=rules, model_name=model_name,
                   champion_run_id=champion_run, thresholds=DriftThresholds.from_mapping(values),
                   record=not no_record)
    if out is not None:
        result.write_json(out)
    echo_result(result, fmt)
    return int(result.return_code)


@click.command("promote")
@click.argument("run_id", metavar="RUN")
@click.option("--model-name", default=None, help="Registered model (default: the run's experiment name).")
@click.option("--force", is_flag=True, help="Promote despite a refusal (needs --reason; recorded).")
@click.option("--reason", default=None, help="Why the refusal is overridden; recorded on the run and version.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the result.")
def promote_cmd(run_id: str, model_name: str | None, force: bool, reason: str | None, fmt: str) -> int:
    """Move the registered model's `champion` alias to run RUN.

    Refused (exit 1) when drift suspected poisoning, or when the run has no drift verdict
    against the current champion, unless --force with --reason.
    """
    from ..tracking import promote

    result = promote(run_id, model_name=model_name, force=force, reason=reason)
    echo_result(result, fmt)
    return int(result.return_code)


@click.command("train-log")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--label", required=True, help="The label column.")
@click.option("--canary", type=click.Path(path_type=Path), default=None,
              help="The trusted canary file: its predictions are stored with the run.")
@click.option("--seed", type=int, default=0, show_default=True, help="The model's random_state.")
@click.option("--experiment", default="poisonguard", show_default=True, help="The MLflow experiment.")
@click.option("--run-name", default=None, help="The run's name.")
@click.option("--result", "results", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A stage result JSON (scan report, validation, provenance) to log; repeatable.")
def train_log_cmd(data: Path, label: str, canary: Path | None, seed: int, experiment: str,
                  run_name: str | None, results: tuple[Path, ...]) -> int:
    """Train the reference model on DATA and log it to MLflow (skops model, inputs, canary)."""
    from ..errors import DataError
    from ..tracking import train_and_log

    loaded = []
    for p in results:
        try:
            loaded.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise DataError(f"{p}: cannot read the result JSON ({exc})") from None
    logged = train_and_log(data, label=label, canary=canary, seed=seed, experiment=experiment,
                           run_name=run_name, results=loaded)
    acc = "" if logged.canary_accuracy is None else f", canary accuracy {logged.canary_accuracy:.4f}"
    click.echo(f"logged run {logged.run_id} (experiment {logged.experiment_id}{acc}) to {logged.tracking_uri}")
    return 0
