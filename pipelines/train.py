"""Stage ``train`` of the reference pipeline: train on the scan's clean split, log to MLflow.

The candidate model (poisonguard's reference model: gradient-boosted trees, see
:func:`poisonguard.tracking.default_model`) is trained on the rows the scan did not quarantine
(``reports/scan/clean.csv``), plus the trusted base when ``train.include_trusted`` is true, and
logged to MLflow through :func:`poisonguard.tracking.train_and_log`: the model in skops format,
the training data and the canary as inputs with their digests, the stage results (provenance,
validation, scan) as metrics and artifacts, and the model's predictions on the canary.

The ``drift`` stage compares the candidate with a *champion* on the canary. In this demo the
champion is the model trained on the trusted base alone, with the same seed and canary: it is
trained and logged once (tagged ``poisonguard.demo.baseline`` with the digests it depends on)
and reused by later runs, so that every experiment (``dvc exp run -S prepare.attack=...``) is
compared with the same accepted model. It is registered as the model named after the
experiment with the ``champion`` alias (``models:/poisonguard-demo@champion``) when that alias
does not exist yet, through :func:`poisonguard.tracking.promote` (the first champion needs no
drift verdict). In your own pipeline, promote accepted runs with ``poisonguard promote RUN`` and
let ``poisonguard drift`` find the champion alias.

The MLflow store is ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<project>/mlflow.db``
(``make mlflow-ui`` shows it). Writes ``metrics/train.json`` (the DVC metrics: rows trained on,
canary metrics of the candidate, canary accuracy of the champion; no run ids),
``reports/train.json`` (the same with the run ids, experiment and tracking URI) and the two run
ids as one-line files for ``poisonguard drift --run-file`` (``reports/train/run_id``,
``reports/train/champion_run_id``). It uses poisonguard's public API only (a pipeline of your own
can do the same, or call ``poisonguard train-log``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from poisonguard import TabularDataset, load_dataset
from poisonguard.tracking import LoggedRun, find_run, train_and_log, tracking_uri

BASELINE_TAG = "poisonguard.demo.baseline"


def _params(path: Path) -> tuple[dict[str, Any], str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(doc.get("train") or {}), str((doc.get("prepare") or {}).get("label", "income"))


def _results(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        if p.is_file():  # a stage that has not run yet is simply not logged
            out.append(json.loads(p.read_text(encoding="utf-8")))
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _baseline(trusted: Path, canary: Path, label: str, seed: int, max_iter: int, experiment: str) -> LoggedRun:
    """The run of the model trained on the trusted base (found by its tag, else trained and logged), registered
    as the champion when the registry has none."""
    key = hashlib.sha256(f"{_sha256(trusted)}:{_sha256(canary)}:{label}:{seed}:{max_iter}".encode()).hexdigest()
    run = find_run(experiment, {BASELINE_TAG: key})
    if run is None:
        run = train_and_log(trusted, label=label, canary=canary, seed=seed, max_iter=max_iter, experiment=experiment,
                            run_name="champion: trusted base", tags={BASELINE_TAG: key, "poisonguard.role": "champion"})
    _register_champion(run.run_id, experiment)
    return run


def _register_champion(run_id: str, model_name: str) -> None:
    """Register the baseline and give it the ``champion`` alias, unless the registry already has a champion."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from poisonguard.tracking import CHAMPION_ALIAS, promote

    try:
        MlflowClient(tracking_uri=tracking_uri()).get_model_version_by_alias(model_name, CHAMPION_ALIAS)
        return
    except MlflowException:
        pass
    result = promote(run_id, model_name=model_name)
    print(f"train: registered the champion: models:/{model_name}@{CHAMPION_ALIAS} -> version {result.version} "
          f"(run {run_id})" if result.promoted else f"train: champion not registered: {'; '.join(result.refusals)}")


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--clean", type=Path, default=Path("reports/scan/clean.csv"))
    ap.add_argument("--trusted", type=Path, default=Path("data/prepared/trusted.csv"))
    ap.add_argument("--canary", type=Path, default=Path("data/prepared/canary.csv"))
    ap.add_argument("--result", type=Path, action="append", default=None,
                    help="stage result JSON to log with the run (repeatable)")
    ap.add_argument("--out", type=Path, default=Path("reports/train.json"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics/train.json"))
    ap.add_argument("--ids", type=Path, default=Path("reports/train"))
    args = ap.parse_args(argv)

    p, label = _params(args.params)
    seed, max_iter = int(p.get("seed", 0)), int(p.get("max_iter", 100))
    experiment = str(p.get("experiment", "poisonguard-demo"))
    results = _results(args.result if args.result is not None else
                       [Path("reports/provenance.json"), Path("reports/validate/validation.json"),
                        Path("reports/scan/report.json")])

    champion = _baseline(args.trusted, args.canary, label, seed, max_iter, experiment)

    clean = load_dataset(args.clean, label=label)
    train: Any = clean
    if p.get("include_trusted", False):
        trusted = load_dataset(args.trusted, label=label)
        train = TabularDataset.from_frame(pd.concat([trusted.frame, clean.frame], ignore_index=True), label=label)
    logged = train_and_log(train, label=label, canary=args.canary, seed=seed, max_iter=max_iter,
                           experiment=experiment, run_name="candidate: clean split", results=results,
                           tags={"poisonguard.role": "candidate"},
                           params={"train.include_trusted": bool(p.get("include_trusted", False))})

    figures = {**logged.flat_metrics(), "champion_canary_accuracy": champion.canary_accuracy}
    _write_json(args.metrics, {k: v for k, v in figures.items() if v is not None})
    _write_json(args.out, {**figures, "run_id": logged.run_id, "champion_run_id": champion.run_id,
                           "experiment": experiment, "tracking_uri": tracking_uri(),
                           "canary_accuracy": logged.canary_accuracy})
    logged.write_run_id(args.ids / "run_id")
    champion.write_run_id(args.ids / "champion_run_id")
    acc = champion.canary_accuracy
    print(f"train: logged run {logged.run_id} ({train.n_rows} rows, canary accuracy "
          f"{logged.canary_accuracy:.4f}); champion run {champion.run_id} (canary accuracy "
          f"{'n/a' if acc is None else f'{acc:.4f}'}) in {logged.tracking_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
