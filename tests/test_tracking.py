"""poisonguard.tracking against real MLflow (a sqlite store in a temporary folder).

One module-scoped store holds a champion trained on clean Adult data, five clean retrains
(other samples, other seeds), a candidate trained with 20 % targeted label flips and one with a
stamped backdoor trigger. Every candidate is compared with the champion on the same trusted
2,000-row canary. Nothing is mocked: the ``pickle`` functions are replaced only to prove that
loading a model never calls them.
"""

from __future__ import annotations

import functools
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from poisonguard.attacks import poison
from poisonguard.data import TabularDataset, load_dataset
from poisonguard.errors import ConfigError, DataError, TrackingError, UsageError

# third-party noise from MLflow's own use of SQLAlchemy and pandas, not from poisonguard
pytestmark = [pytest.mark.slow,  # MLflow: a real sqlite store and model logging; `make test-fast` skips it
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
              pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments")]

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "data" / "adult.csv.gz"
LABEL = "income"
CLEAN_SEEDS = (1, 2, 3, 4, 5)
N_TRAIN = 6000
N_CANARY = 2000
#: The trigger stamped by the backdoor candidate: two numeric features set out of range.
RULE = {"conditions": [{"column": "fnlwgt", "op": "==", "value": 1_600_000},
                       {"column": "education_num", "op": "==", "value": 0}],
        "target": ">50K"}


def _backdoor(frame: pd.DataFrame, seed: int, rate: float = 0.03) -> pd.DataFrame:
    """Stamp RULE on ``rate`` of the rows, drawn from the other class, and relabel them to its target."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    others = np.flatnonzero((out[LABEL] != RULE["target"]).to_numpy())
    rows = rng.choice(others, size=round(rate * len(out)), replace=False)
    for cond in RULE["conditions"]:
        out.loc[rows, cond["column"]] = cond["value"]
    out.loc[rows, LABEL] = RULE["target"]
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The default store (POISONGUARD_PROJECT_DIR, no MLFLOW_TRACKING_URI) with all the runs."""
    from threadpoolctl import threadpool_limits

    from poisonguard.tracking import drift, promote, train_and_log

    tmp = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as mp, threadpool_limits(limits=1):
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        mp.setenv("POISONGUARD_PROJECT_DIR", str(tmp))
        mp.chdir(tmp)
        full = load_dataset(ADULT, label=LABEL).frame.sample(frac=1.0, random_state=123).reset_index(drop=True)
        canary_path = tmp / "canary.csv"
        full.iloc[:N_CANARY].to_csv(canary_path, index=False)
        pool = full.iloc[N_CANARY:].reset_index(drop=True)

        def sample(seed: int) -> pd.DataFrame:
            return pool.sample(n=N_TRAIN, random_state=seed).reset_index(drop=True)

        def fit(frame: pd.DataFrame, seed: int, name: str) -> str:
            return train_and_log(frame, label=LABEL, canary=canary_path, seed=seed, run_name=name).run_id

        champion = fit(sample(0), 0, "champion")
        first = promote(champion)
        assert first.promoted and first.version == "1", str(first)
        runs: dict[str, str] = {f"clean-{s}": fit(sample(s), s, f"clean-{s}") for s in CLEAN_SEEDS}
        flipped = poison(TabularDataset.from_frame(sample(101), label=LABEL), "class_flip", rate=0.2, seed=1)
        runs["flip"] = fit(flipped.frame, 101, "flip-20pc")
        runs["backdoor"] = fit(_backdoor(sample(201), seed=1), 201, "backdoor")
        results = {name: drift(run_id, canary_path, label=LABEL, rules=[RULE]) for name, run_id in runs.items()}
        yield {"tmp": tmp, "canary": canary_path, "champion": champion, "runs": runs, "results": results,
               "pool": pool, "sample": sample}


def _client() -> Any:
    from mlflow.tracking import MlflowClient

    from poisonguard.tracking import tracking_uri

    return MlflowClient(tracking_uri=tracking_uri())


# -- the acceptance criteria ------------------------------------------------------------------
def test_default_store_lives_in_the_project(world: Any) -> None:
    tmp = world["tmp"]
    assert (tmp / "mlflow.db").is_file()
    assert (tmp / "mlartifacts" / "poisonguard").is_dir()
    assert not (tmp / "mlruns").exists()
    from poisonguard.tracking import tracking_uri

    assert tracking_uri() == f"sqlite:///{(tmp / 'mlflow.db').as_posix()}"


@pytest.mark.parametrize("seed", CLEAN_SEEDS)
def test_clean_retrain_is_not_flagged(world: Any, seed: int) -> None:
    result = world["results"][f"clean-{seed}"]
    assert not result.suspected, str(result)
    assert result.return_code == 0 and result.reasons == ()
    assert result.champion_run_id == world["champion"]
    assert result.champion_source.startswith("models:/poisonguard@champion")
    assert len(result.probes) == 1 and result.probes[0].increase is not None
    assert result.probes[0].increase < 0.1
    tags = _client().get_run(world["runs"][f"clean-{seed}"]).data.tags
    assert tags["poisonguard.suspected"] == "false" and tags["poisonguard.reasons"] == ""


def test_targeted_flip_is_flagged_with_reasons(world: Any) -> None:
    result = world["results"]["flip"]
    assert result.suspected and result.return_code == 1, str(result)
    assert any("recall of class '>50K' fell" in r for r in result.reasons), result.reasons
    assert any("Jensen-Shannon" in r for r in result.reasons), result.reasons
    worst = min(result.classes, key=lambda c: c.delta)
    assert worst.label == ">50K" and worst.delta < -0.07
    assert not result.probes[0].suspected  # the flip planted no trigger
    tags = _client().get_run(world["runs"]["flip"]).data.tags
    assert tags["poisonguard.suspected"] == "true"
    assert "recall of class '>50K' fell" in tags["poisonguard.reasons"]


def test_backdoor_is_flagged_by_the_trigger_probe(world: Any) -> None:
    from poisonguard.tracking import drift

    result = world["results"]["backdoor"]
    assert result.suspected, str(result)
    probe = result.probes[0]
    assert probe.suspected and probe.n_rows > 1000
    assert probe.champion_rate is not None and probe.champion_rate < 0.1
    assert probe.candidate_rate is not None and probe.candidate_rate > 0.8
    assert result.reasons and all(r.startswith("trigger rule ") for r in result.reasons), result.reasons
    # the output metrics alone do not see it: the probe is what catches a backdoor
    blind = drift(world["runs"]["backdoor"], world["canary"], label=LABEL, record=False)
    assert not blind.suspected and blind.probes == ()
    assert blind.probes_note == "no trigger rules given: trigger probes skipped"


def test_clean_runs_stay_well_inside_the_thresholds(world: Any) -> None:
    """No false alarm with a margin: the clean runs use at most half of each threshold."""
    from poisonguard.tracking import DriftThresholds

    t = DriftThresholds()
    for seed in CLEAN_SEEDS:
        m = world["results"][f"clean-{seed}"].metrics
        assert -m["worst_class_recall_delta"] < t.max_class_recall_drop / 2, m
        assert m["js_divergence"] < t.max_js / 2, m
        assert -m["accuracy_delta"] < t.max_accuracy_drop / 2, m
        assert m["churn"] < t.max_churn / 2, m
        assert m["max_trigger_increase"] < t.max_trigger_rate_increase / 2, m


def test_logged_models_load_without_unpickling(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import cloudpickle

    from poisonguard.tracking import SKOPS_TRUSTED_TYPES, load_canary, load_model, predict_canary
    from poisonguard.tracking._canary import read_canary_record
    from poisonguard.tracking._store import open_store

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was unpickled")

    for mod in (pickle, cloudpickle):
        monkeypatch.setattr(mod, "load", refuse)
        monkeypatch.setattr(mod, "loads", refuse)
    canary = load_canary(world["canary"], label=LABEL)
    for run_id in (world["champion"], world["runs"]["flip"], world["runs"]["backdoor"]):
        model = load_model(run_id)
        with open_store() as store:
            stored = read_canary_record(store, run_id)
        again = predict_canary(model, canary, stored.features)
        assert again["prediction"].tolist() == stored.predictions["prediction"].tolist()
        probas = [c for c in again.columns if c.startswith("proba:")]
        assert probas and np.array_equal(again[probas].to_numpy(), stored.predictions[probas].to_numpy())
    # the model is stored in MLflow's skops format, with no pickle beside it
    from mlflow.models import Model

    client = _client()
    uri = client.get_run(world["champion"]).data.tags["poisonguard.model_uri"]
    import mlflow.artifacts

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(world["tmp"] / "dl"),
                                                     tracking_uri=client.tracking_uri))
    flavor = Model.load(str(local)).flavors["sklearn"]
    assert flavor["serialization_format"] == "skops" and flavor["pickled_model"] == "model.skops"
    assert set(flavor["skops_trusted_types"]) <= set(SKOPS_TRUSTED_TYPES)
    assert not list(local.rglob("*.pkl"))
    assert (local / "requirements.txt").read_text().count("==") >= 2


def test_cli_drift_results_are_visible_through_mlflow_client(world: Any, cli: Any) -> None:
    out = world["tmp"] / "reports" / "drift.json"
    run_id = world["runs"]["flip"]
    rc, stdout, stderr = cli("drift", "--run", run_id, "--canary", world["canary"], "--label", LABEL, "--out", out)
    assert rc == 1, stderr
    assert "POISONING SUSPECTED" in stdout and "recall of class '>50K' fell" in stdout
    from poisonguard.tracking import DriftResult

    data = json.loads(out.read_text())
    assert data["kind"] == "drift" and data["return_code"] == 1
    assert DriftResult.from_dict(data).reasons == tuple(data["reasons"])
    client = _client()
    run = client.get_run(run_id)
    assert run.data.tags["poisonguard.suspected"] == "true"
    assert run.data.tags["poisonguard.drift.champion_run"] == world["champion"]
    for key in ("drift.churn", "drift.js_divergence", "drift.accuracy_delta", "drift.worst_class_recall_delta",
                "drift.suspected", "canary.accuracy", "canary.macro_f1", "canary.recall.gt50K"):
        assert key in run.data.metrics, key
    assert run.data.metrics["drift.suspected"] == 1.0
    paths = {a.path for a in client.list_artifacts(run_id, "poisonguard/canary")}
    paths |= {a.path for a in client.list_artifacts(run_id, "poisonguard/results")}
    assert {"poisonguard/canary/predictions.csv", "poisonguard/canary/canary.json",
            "poisonguard/results/drift.json"} <= paths
    inputs = {_context(i): i for i in run.inputs.dataset_inputs}
    assert set(inputs) >= {"training", "canary"}
    train_tags = {t.key: t.value for t in inputs["training"].tags}
    assert train_tags["poisonguard.rows"] == str(N_TRAIN)
    canary_tags = {t.key: t.value for t in inputs["canary"].tags}
    assert len(canary_tags["poisonguard.sha256"]) == 64
    assert run.data.tags["poisonguard.canary.sha256"] == canary_tags["poisonguard.sha256"]
    rc, stdout, _ = cli("drift", "--run", world["runs"]["clean-1"], "--canary", world["canary"], "--label", LABEL,
                        "--format", "json")
    assert rc == 0 and json.loads(stdout)["suspected"] is False


def _context(dataset_input: Any) -> str:
    return {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"]


# -- what MLflow itself shows: signature, input digests, LoggedModel metrics, the registry ----
def test_pyfunc_model_predicts_on_the_canary_as_read(world: Any) -> None:
    """``mlflow.pyfunc`` (schema enforcement included) accepts the int64 columns pandas reads."""
    import mlflow.pyfunc

    client = _client()
    run = client.get_run(world["runs"]["clean-1"])
    frame = pd.read_csv(world["canary"])
    features = run.data.params["features"].split(",")
    assert any(str(frame[c].dtype) == "int64" for c in features)
    model = mlflow.pyfunc.load_model(run.data.tags["poisonguard.model_uri"])
    inputs = {c.name: c.type.name for c in model.metadata.get_input_schema().inputs}
    assert inputs["age"] == "long" and inputs["workclass"] == "string"
    got = np.asarray(model.predict(frame[features])).astype(str)
    from poisonguard.tracking._store import open_store
    from poisonguard.tracking._canary import read_canary_record

    with open_store() as store:
        stored = read_canary_record(store, run.info.run_id).predictions["prediction"].tolist()
    assert got.tolist() == stored


def test_every_input_carries_its_sha256(world: Any) -> None:
    import hashlib

    from poisonguard.tracking import content_digest

    client = _client()
    run = client.get_run(world["runs"]["clean-2"])
    inputs = {_context(i): i for i in run.inputs.dataset_inputs}
    canary_sha = hashlib.sha256(world["canary"].read_bytes()).hexdigest()
    train_sha = content_digest(TabularDataset.from_frame(world["sample"](2), label=LABEL))  # a frame: no file
    for ctx, sha in (("canary", canary_sha), ("training", train_sha)):
        inp = inputs[ctx]
        tags = {t.key: t.value for t in inp.tags}
        assert inp.dataset.digest and sha.startswith(inp.dataset.digest) and len(inp.dataset.digest) == 36, ctx
        assert tags["poisonguard.sha256"] == sha and len(tags["poisonguard.content_sha256"]) == 64, ctx
    assert run.data.params["train.sha256"] == train_sha


def test_canary_and_drift_metrics_and_the_verdict_are_on_the_logged_model(world: Any) -> None:
    client = _client()
    for name, suspected in (("flip", "true"), ("clean-3", "false")):
        run = client.get_run(world["runs"][name])
        model = client.get_logged_model(run.data.tags["poisonguard.model_id"])
        canary = next(i.dataset for i in run.inputs.dataset_inputs if _context(i) == "canary")
        by_key = {m.key: m for m in model.metrics}
        for key in ("canary.accuracy", "canary.macro_f1", "drift.churn", "drift.accuracy_delta", "drift.suspected"):
            assert key in by_key, (name, key)
            m = by_key[key]
            assert (m.dataset_name, m.dataset_digest) == (canary.name, canary.digest), key
            assert m.value == run.data.metrics[key]
        assert model.tags["poisonguard.suspected"] == suspected
        assert model.tags["poisonguard.drift.champion_run"] == world["champion"]
    champion = client.get_run(world["champion"])
    assert client.get_logged_model(champion.data.tags["poisonguard.model_id"]).tags["poisonguard.accepted"] == "true"


def test_stage_metrics_are_on_the_logged_model_for_the_training_input(world: Any, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import threadpool_limits

    from poisonguard.tracking import train_and_log

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}")
    train = tmp_path / "train.csv"
    world["sample"](8).iloc[:2000].to_csv(train, index=False)
    scan_report = {"kind": "scan", "schema_version": "1.0", "return_code": 0, "n_rows": 2000, "n_flagged": 20,
                   "verdict": "clean", "detectors": [], "failures": []}
    with threadpool_limits(limits=1):
        logged = train_and_log(train, label=LABEL, seed=8, max_iter=10, results=[scan_report])
    client = _client()
    run = client.get_run(logged.run_id)
    training = next(i.dataset for i in run.inputs.dataset_inputs if _context(i) == "training")
    import hashlib

    assert training.digest == hashlib.sha256(train.read_bytes()).hexdigest()[:36]
    model = client.get_logged_model(run.data.tags["poisonguard.model_id"])
    m = {x.key: x for x in model.metrics}["scan.n_flagged"]
    assert m.value == 20 and (m.dataset_name, m.dataset_digest) == (training.name, training.digest)


def test_demo_train_stage_registers_the_champion(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pipelines/train.py: the baseline becomes ``models:/<experiment>@champion`` on the first run, once."""
    import importlib.util

    from threadpoolctl import threadpool_limits

    spec = importlib.util.spec_from_file_location("demo_train", ROOT / "pipelines" / "train.py")
    assert spec is not None and spec.loader is not None
    train_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_mod)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}")
    trusted = tmp_path / "trusted.csv"
    world["sample"](9).iloc[:2000].to_csv(trusted, index=False)
    with threadpool_limits(limits=1):
        first = train_mod._baseline(trusted, world["canary"], LABEL, 0, 10, "demo")
        again = train_mod._baseline(trusted, world["canary"], LABEL, 0, 10, "demo")  # found by its tag, not retrained
    run_id = first.run_id
    assert again.run_id == run_id and again.canary_accuracy == pytest.approx(first.canary_accuracy)
    client = _client()
    mv = client.get_model_version_by_alias("demo", "champion")
    assert mv.run_id == run_id and str(mv.version) == "1"
    assert len(client.search_model_versions("name = 'demo'")) == 1


def test_cli_drift_bad_input_exits_2(world: Any, cli: Any) -> None:
    canary = world["canary"]
    rc, _, err = cli("drift", "--run", "0123456789abcdef", "--canary", canary, "--label", LABEL)
    assert rc == 2 and "no MLflow run '0123456789abcdef'" in err and err.count("\n") == 1
    rc, _, err = cli("drift", "--run", world["runs"]["clean-1"], "--canary", world["tmp"] / "nope.csv",
                     "--label", LABEL)
    assert rc == 2 and "no such file" in err and err.count("\n") == 1
    other = world["tmp"] / "other-canary.csv"
    pd.read_csv(canary).iloc[1:].to_csv(other, index=False)
    rc, _, err = cli("drift", "--run", world["runs"]["clean-1"], "--canary", other, "--label", LABEL)
    assert rc == 2 and "is not the canary the candidate run" in err and err.count("\n") == 1
    rc, _, err = cli("drift", "--run", world["champion"], "--canary", canary, "--label", LABEL)
    assert rc == 2 and "is the champion itself" in err


def test_scan_report_rules_and_missing_rules(world: Any, tmp_path: Path) -> None:
    from poisonguard.tracking import drift

    from poisonguard.scan import DetectorSummary, ScanResult

    def scan_report(path: Path, *sections: tuple[str, dict]) -> Path:
        dets = tuple(DetectorSummary(name, name, True, 0, False, "", section) for name, section in sections)
        ScanResult(inputs={"data": {}}, parameters={}, n_rows=10, n_quarantined=0, suspected=False,
                   detectors=dets).write_json(path)
        return path

    report = scan_report(tmp_path / "report.json", ("label_flip", {"threshold": 0.5}), ("backdoor", {
        "triggers": [{**RULE, "n_rows": 180, "purity": 1.0},
                     {"conditions": [{"column": "age", "op": "!=", "value": 3}], "target": ">50K"}],
        "candidates": [{"conditions": [{"column": "age", "op": ">=", "value": 80}], "target": ">50K"}]}))
    result = drift(world["runs"]["backdoor"], world["canary"], label=LABEL, rules=report, record=False)
    assert result.suspected and result.probes[0].suspected
    assert len(result.probes) == 2  # the unconfirmed candidates are not probed
    assert result.probes[1].skipped and "cannot be stamped" in result.probes[1].skipped
    empty = scan_report(tmp_path / "plain-scan.json", ("label_flip", {}))
    result = drift(world["runs"]["backdoor"], world["canary"], label=LABEL, rules=empty, record=False)
    assert not result.suspected and result.probes == ()
    assert result.probes_note and "no trigger rules in" in result.probes_note and "skipped" in result.probes_note
    assert "trigger probes: no trigger rules in" in str(result)


def test_promote_gate(world: Any, cli: Any) -> None:
    """Runs last among the store's tests: it moves the champion."""
    client = _client()
    flip, clean1, clean2 = world["runs"]["flip"], world["runs"]["clean-1"], world["runs"]["clean-2"]
    rc, out, _ = cli("promote", flip)
    assert rc == 1 and "refused" in out and "drift suspected poisoning" in out
    assert client.get_model_version_by_alias("poisonguard", "champion").run_id == world["champion"]
    rc, _, err = cli("promote", flip, "--force")
    assert rc == 2 and "--reason" in err
    rc, out, _ = cli("promote", clean1)
    assert rc == 0 and "promoted" in out
    mv = client.get_model_version_by_alias("poisonguard", "champion")
    assert mv.run_id == clean1 and mv.tags["poisonguard.suspected"] == "false"
    assert client.get_run(clean1).data.tags["poisonguard.accepted"] == "true"
    # clean-2 was checked against the previous champion: its verdict is stale now
    rc, out, _ = cli("promote", clean2)
    assert rc == 1 and "run `poisonguard drift` again" in out
    rc, out, _ = cli("promote", flip, "--force", "--reason", "accepted by the data owner, ticket 42")
    assert rc == 0 and "OVERRIDING" in out
    mv = client.get_model_version_by_alias("poisonguard", "champion")
    assert mv.run_id == flip
    assert mv.tags["poisonguard.override_reason"] == "accepted by the data owner, ticket 42"
    assert mv.tags["poisonguard.suspected"] == "true"
    assert client.get_run(flip).data.tags["poisonguard.override_reason"].startswith("accepted by")


# -- a second store through MLFLOW_TRACKING_URI -----------------------------------------------
def test_tracking_uri_store_first_champion_and_results(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       cli: Any) -> None:
    from threadpoolctl import threadpool_limits

    from poisonguard.tracking import promote, train_and_log

    uri = f"sqlite:///{(tmp_path / 'store' / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    scan_report = {"kind": "scan", "schema_version": "1.0", "return_code": 0, "n_rows": 3000, "n_flagged": 30,
                   "verdict": "clean", "detectors": [{"name": "label_flip"}], "failures": []}
    with threadpool_limits(limits=1):
        logged = train_and_log(world["sample"](7).iloc[:3000], label=LABEL, canary=world["canary"], seed=7,
                               experiment="other", max_iter=20, results=[scan_report])
    import os

    from poisonguard.tracking import load_model

    assert os.environ["MLFLOW_TRACKING_URI"] == uri  # not changed by the library
    with pytest.raises(TrackingError, match="no MLflow run 'nope'"):
        load_model("nope")
    assert logged.tracking_uri == uri and (tmp_path / "store" / "mlartifacts" / "other").is_dir()
    client = _client()
    run = client.get_run(logged.run_id)
    assert run.data.metrics["scan.n_flagged"] == 30 and run.data.metrics["scan.flagged_share"] == 0.01
    assert run.data.metrics["scan.suspected"] == 0 and run.data.metrics["scan.n_detectors"] == 1
    assert "poisonguard/results/scan.json" in {a.path for a in client.list_artifacts(logged.run_id,
                                                                                     "poisonguard/results")}
    rc, _, err = cli("drift", "--run", logged.run_id, "--canary", world["canary"], "--label", LABEL)
    assert rc == 2 and "no champion to compare run" in err and "poisonguard promote" in err
    first = promote(logged.run_id)  # nothing to compare with: the first champion needs no verdict
    assert first.promoted and client.get_model_version_by_alias("other", "champion").run_id == logged.run_id


# -- library checks without a store -----------------------------------------------------------
def test_store_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from poisonguard.tracking._store import artifact_root, open_store, quiet_mlflow, tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    monkeypatch.setenv("POISONGUARD_PROJECT_DIR", str(tmp_path))
    assert tracking_uri() == "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    assert artifact_root(tracking_uri()) == (tmp_path / "mlartifacts").as_uri()
    assert artifact_root(tracking_uri(), "team/exp 1") == (tmp_path / "mlartifacts" / "team_exp_1").as_uri()
    assert artifact_root("http://127.0.0.1:5000") is None
    monkeypatch.delenv("POISONGUARD_PROJECT_DIR")
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == "sqlite:///" + (tmp_path.resolve() / "mlflow.db").as_posix()
    quiet_mlflow()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///" + (tmp_path / "x.db").as_posix())
    assert tracking_uri().endswith("/x.db")
    with open_store("sqlite:///" + (tmp_path / "y.db").as_posix()) as store:
        assert store.uri.endswith("/y.db")
    assert os.environ["MLFLOW_TRACKING_URI"].endswith("/x.db")


def test_canary_must_not_enter_training_and_models_must_be_skops_safe(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from poisonguard.tracking import log_run

    frame = pd.DataFrame({"x": np.arange(100.0), "z": np.arange(100.0) % 7, "y": ["a", "b"] * 50})
    model = LogisticRegression().fit(frame[["x", "z"]], frame["y"])
    with pytest.raises(DataError, match="the canary must never enter training"):
        log_run(model, frame, label="y", canary=frame.iloc[:20], tracking_uri="sqlite:///" +
                (tmp_path / "never.db").as_posix())
    odd = make_pipeline(FunctionTransformer(functools.partial(np.multiply, 2.0)), LogisticRegression())
    odd.fit(frame[["x", "z"]], frame["y"])
    with pytest.raises(UsageError, match=r"skops does not trust by default: \['functools.partial'\]"):
        log_run(odd, frame, label="y", tracking_uri="sqlite:///" + (tmp_path / "never.db").as_posix())
    assert not (tmp_path / "never.db").exists()


def test_compare_predictions_and_js() -> None:
    from poisonguard.tracking import compare_predictions, js_divergence

    assert js_divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    a = np.array([0.2, 0.8])
    b = np.array([0.3, 0.7])
    assert js_divergence(a, b) == pytest.approx(js_divergence(b, a))
    labels = np.array(["a"] * 60 + ["b"] * 40)

    def frame(pred: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"row": np.arange(100), "label": labels, "prediction": pred, "confidence": 0.9})

    same = frame(labels.copy())
    worse = labels.copy()
    worse[60:80] = "a"  # half of class b now predicted as a
    metrics, classes, reasons = compare_predictions(same, frame(worse))
    assert metrics["churn"] == pytest.approx(0.2)
    assert {c.label: c.delta for c in classes}["b"] == pytest.approx(-0.5)
    assert any("recall of class 'b' fell by 0.500" in r for r in reasons)
    assert any("changed prediction" in r for r in reasons)
    _, _, reasons = compare_predictions(same, same)
    assert reasons == []
    with pytest.raises(DataError, match="same rows"):
        compare_predictions(same, frame(labels).iloc[:50])


def test_thresholds_are_validated() -> None:
    from poisonguard.tracking import DriftThresholds

    with pytest.raises(UsageError, match=r"The 'max_churn' parameter of DriftThresholds must be a float in \[0, 1\]"):
        DriftThresholds(max_churn=2.0)
    with pytest.raises(UsageError, match="unknown drift threshold"):
        DriftThresholds.from_mapping({"max_chrun": 0.1})
    assert DriftThresholds.from_mapping({"max_js": 0.01}).max_js == 0.01


def test_stamp_rule_and_rule_files(tmp_path: Path) -> None:
    from poisonguard.tracking import load_trigger_rules, stamp_rule

    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.1, 0.2], "c": ["x", "y", "z"]})
    rule = {"conditions": [{"column": "a", "op": ">", "value": 10}, {"column": "b", "op": "<=", "value": 0.05},
                           {"column": "c", "op": "in", "value": ["w", "v"]}], "target": "t"}
    out = stamp_rule(frame, rule)
    assert out["a"].tolist() == [11, 11, 11] and out["a"].dtype == frame["a"].dtype
    assert out["b"].tolist() == [0.05] * 3 and out["c"].tolist() == ["w"] * 3
    assert frame["a"].tolist() == [1, 2, 3]  # the input is not modified
    cats = pd.DataFrame({"d": pd.Categorical(["p", "q", "p"])})
    assert stamp_rule(cats, {"conditions": [{"column": "d", "value": "new"}], "target": "t"})["d"].tolist() == ["new"] * 3
    with pytest.raises(ValueError, match="does not use column"):
        stamp_rule(frame, {"conditions": [{"column": "nope", "op": "==", "value": 1}], "target": "t"})
    listed = tmp_path / "rules.json"
    listed.write_text(json.dumps([RULE]))
    rules, bad, note = load_trigger_rules(listed)
    assert rules[0]["target"] == ">50K" and bad == [] and note is None
    with pytest.raises(ConfigError, match="no 'target'"):
        load_trigger_rules([{"conditions": [{"column": "a", "value": 1}]}])
    with pytest.raises(DataError, match="no such rules file"):
        load_trigger_rules(tmp_path / "missing.json")


def test_drift_result_renders_and_round_trips() -> None:
    from poisonguard.tracking import ClassDrift, DriftResult, TriggerProbe

    result = DriftResult(
        run_id="cand", champion_run_id="champ", champion_source="models:/m@champion (version 1)",
        canary={"path": "c.csv", "n_rows": 10, "content_sha256": "ab" * 32}, parameters={"max_js": 0.001},
        metrics={"accuracy_delta": -0.1, "churn": 0.2, "js_divergence": 0.01, "champion_accuracy": 0.9,
                 "candidate_accuracy": 0.8},
        classes=(ClassDrift(label="<b>", support=5, champion_recall=1.0, candidate_recall=0.5, delta=-0.5),),
        probes=(TriggerProbe(rule=RULE, target=">50K", n_rows=9, champion_rate=0.0, candidate_rate=1.0,
                             increase=1.0, suspected=True),),
        suspected=True, reasons=("recall of class '<b>' fell",))
    assert result.return_code == 1
    text = str(result)
    assert "POISONING SUSPECTED" in text and "fnlwgt == 1600000 & education_num == 0 -> >50K" in text
    html_out = result._repr_html_()
    assert "<td>&lt;b&gt;</td>" in html_out and "<td><b></td>" not in html_out
    again = DriftResult.from_dict(json.loads(result.to_json()))
    assert again == result


def test_public_surface() -> None:
    import poisonguard.tracking as tracking

    assert tracking.__all__ == sorted(tracking.__all__)
    for name in tracking.__all__:
        assert hasattr(tracking, name), name
