"""``poisonguard drift``, ``promote`` and ``train-log``: thin shells over :mod:`poisonguard.tracking`.

``drift`` prints its :class:`~poisonguard.tracking.DriftResult` (``--format text|json``), writes it
with ``--report FILE`` (atomically), records the verdict on the run and exits 1 when poisoning is
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

from . import echo_result
from ._common import echo_doc, exit_zero_option, finish, format_option, load_params, metrics_option, old_name

__all__ = ["drift_cmd", "promote_cmd", "train_log_cmd"]


def _threshold_options(fn: Any) -> Any:
    from ..tracking._drift import DriftThresholds

    for f in reversed(dataclasses.fields(DriftThresholds)):
        typ = click.IntRange(min=1) if f.name.startswith("min_") else click.FloatRange(0.0, 1.0)
        fn = click.option(f"--{f.name.replace('_', '-')}", f.name, type=typ, default=None,
                          help=f"Threshold (default {f.default}; or `drift: {f.name}:` in --params).")(fn)
    return fn


@click.command("drift")
@click.option("--run", "run_id", default=None, help="The candidate MLflow run id.")
@click.option("--run-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Instead of --run: a file holding the run id (what `poisonguard train-log --run-id-file` writes).")
@click.option("--canary", required=True, type=click.Path(path_type=Path),
              help="The trusted canary file both runs were evaluated on.")
@click.option("--label", required=True, help="The canary's label column.")
@click.option("--rules", type=click.Path(path_type=Path), default=None,
              help="Suspected trigger rules: a scan report (report.json) or a JSON list; without it, no probes.")
@click.option("--model-name", default=None, help="Registered model holding the champion alias "
                                                 "(default: the run's experiment name).")
@click.option("--champion-run", default=None, help="Compare with this run instead of the champion.")
@click.option("--champion-run-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Instead of --champion-run: a file holding that run id.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="params.yaml whose 'drift:' section sets the thresholds (no such file or section: the defaults).")
@_threshold_options
@click.option("--no-record", is_flag=True, help="Do not write the verdict (tags, metrics) on the run.")
@click.option("--report", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result as JSON to this file (atomically).")
@metrics_option
@exit_zero_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the result.")
@old_name("--out", dest="out", new="--report", type=click.Path(dir_okay=False, path_type=Path))
def drift_cmd(run_id: str | None, run_file: Path | None, canary: Path, label: str, rules: Path | None,
              model_name: str | None, champion_run: str | None, champion_run_file: Path | None,
              params_file: Path | None, no_record: bool, out: Path | None, metrics_file: Path | None,
              exit_zero: bool, fmt: str, **thresholds: Any) -> int:
    """Compare run RUN's model with the champion on the canary set.

    The champion is the registered model's `champion` alias, else the last accepted run of
    the experiment. Exit 1 when poisoning is suspected (tags poisonguard.suspected and
    poisonguard.reasons are set on the run), 0 otherwise (0 either way with --exit-zero), 2 for
    an unknown run, no champion, or a missing or different canary.
    """
    from .._io import guard_outputs
    from ..tracking import DriftThresholds, drift

    guard_outputs(inputs=[("--canary", canary), ("--rules", rules), ("--params", params_file),
                          ("--run-file", run_file), ("--champion-run-file", champion_run_file)],
                  outputs=[("--report", out), ("--metrics", metrics_file)])
    run_id = _run_id("--run", run_id, run_file, required=True)
    champion_run = _run_id("--champion-run", champion_run, champion_run_file, required=False)
    assert run_id is not None  # required=True
    values = load_params(params_file, "drift")
    values.update({k: v for k, v in thresholds.items() if v is not None})
    result = drift(run_id, canary, label=label, rules=rules, model_name=model_name,
                   champion_run_id=champion_run, thresholds=DriftThresholds.from_mapping(values),
                   record=not no_record)
    if out is not None:
        result.write_json(out)
    echo_result(result, fmt)
    return finish(result, exit_zero=exit_zero, metrics_file=metrics_file)


def _run_id(option: str, value: str | None, file: Path | None, *, required: bool,
            file_option: str | None = None) -> str | None:
    """The run id of ``--run`` or of the one-line file of ``--run-file`` (exactly one of them when required)."""
    from ..errors import DataError, UsageError

    file_option = file_option or f"{option}-file"
    if value is not None and file is not None:
        raise UsageError(f"give {option} or {file_option} FILE, not both")
    if file is None:
        if value is None and required:
            raise UsageError(f"give the run: {option} or {file_option} FILE")
        return value
    try:
        text = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{file_option} {file}: cannot be read ({getattr(exc, 'strerror', None) or exc}); "
                        "write it with `poisonguard train-log --run-id-file`") from None
    if not text or len(text.split()) != 1:
        raise DataError(f"{file_option} {file}: expected one MLflow run id on one line, got {text[:80]!r}")
    return text


@click.command("promote")
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--run-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Instead of RUN: a file holding the run id (what `poisonguard train-log --run-id-file` writes).")
@click.option("--model-name", default=None, help="Registered model (default: the run's experiment name).")
@click.option("--force", is_flag=True, help="Promote despite a refusal (needs --reason; recorded).")
@click.option("--reason", default=None, help="Why the refusal is overridden; recorded on the run and version.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the result.")
def promote_cmd(run_id: str | None, run_file: Path | None, model_name: str | None, force: bool, reason: str | None,
                fmt: str) -> int:
    """Move the registered model's `champion` alias to run RUN (or the run of --run-file).

    Refused (exit 1) when drift suspected poisoning, or when the run has no drift verdict
    against the current champion, unless --force with --reason. The first champion of a
    model needs no drift verdict.
    """
    from ..tracking import promote

    run = _run_id("RUN", run_id, run_file, required=True, file_option="--run-file")
    assert run is not None  # required=True
    result = promote(run, model_name=model_name, force=force, reason=reason)
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
@click.option("--max-iter", type=click.IntRange(min=1), default=100, show_default=True,
              help="Boosting iterations of the reference model.")
@click.option("--result", "results", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A stage result JSON (scan report, validation, provenance) to log; repeatable.")
@click.option("--run-id-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the new run's id to this one-line file: what `poisonguard drift --run-file` reads.")
@click.option("--metrics", "metrics_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write rows trained on and the canary metrics as flat JSON (a DVC metrics file; no run id).")
@format_option
def train_log_cmd(data: Path, label: str, canary: Path | None, seed: int, experiment: str, run_name: str | None,
                  max_iter: int, results: tuple[Path, ...], run_id_file: Path | None,
                  metrics_file: Path | None, fmt: str) -> int:
    """Train the reference model on DATA and log it to MLflow (skops model, inputs, canary).

    In a pipeline: `--run-id-file reports/train/run_id` for the drift stage (`poisonguard drift
    --run-file reports/train/run_id`), `--metrics metrics/train.json` for `dvc metrics`. The
    MLflow store is MLFLOW_TRACKING_URI, else mlflow.db in the project.
    """
    from .._io import guard_outputs
    from ..errors import DataError
    from ..tracking import train_and_log
    from ..tracking._store import display_uri

    guard_outputs(inputs=[("DATA", data), ("--canary", canary), *[("--result", r) for r in results]],
                  outputs=[("--run-id-file", run_id_file), ("--metrics", metrics_file)])

    loaded = []
    for p in results:
        try:
            loaded.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise DataError(f"{p}: cannot read the result JSON ({exc})") from None
    logged = train_and_log(data, label=label, canary=canary, seed=seed, max_iter=max_iter, experiment=experiment,
                           run_name=run_name, results=loaded)
    if run_id_file is not None:
        logged.write_run_id(run_id_file)
    if metrics_file is not None:
        logged.write_metrics(metrics_file)
    acc = "" if logged.canary_accuracy is None else f", canary accuracy {logged.canary_accuracy:.4f}"
    uri = display_uri(logged.tracking_uri)
    echo_doc({"run_id": logged.run_id, "experiment_id": logged.experiment_id, "model_uri": logged.model_uri,
              "tracking_uri": uri, "train_rows": logged.train_rows, "canary_accuracy": logged.canary_accuracy},
             fmt, f"logged run {logged.run_id} (experiment {logged.experiment_id}{acc}) to {uri}")
    return 0
