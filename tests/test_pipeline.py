"""The reference pipeline end to end: ``dvc repro`` of the repository's own ``dvc.yaml`` in a
temporary copy (git + DVC initialised there, small data), run through the real DVC, MLflow (a
sqlite store in the copy), Great Expectations and the poisonguard CLI.

attack none -> the gate passes; a second ``dvc repro`` does nothing, nor do two forced re-runs of
the scan (its outputs are byte-identical; issue 17.2); the flat metrics in ``metrics/`` are
committed; attack flips (a DVC experiment) -> the gate fails and names the scan, and ``dvc exp
show``, ``dvc metrics diff`` and ``dvc plots diff`` compare it with the baseline (issue 17.1).
Slow by nature (two pipeline runs); sizes and detector settings are cut down in the copy's
``params.yaml`` to keep it to a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _dvc import BIN, run

ROOT = Path(__file__).resolve().parents[1]
FILES = ["dvc.yaml", "params.yaml", "pipelines/prepare.py", "pipelines/train.py", "pipelines/demo.py",
         "pipelines/quality.py", "data/adult.csv.gz", ".gitignore"]

pytestmark = pytest.mark.slow


def _repro(project: Path) -> subprocess.CompletedProcess:
    res = run([str(BIN / "dvc"), "repro"], project)
    assert res.returncode == 0, f"dvc repro failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res


def _set_params(project: Path, **prepare: object) -> None:
    p = project / "params.yaml"
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    doc["prepare"].update(prepare)
    p.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    proj = tmp_path_factory.mktemp("pipeline")
    for name in FILES:
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, proj / name)
    doc = yaml.safe_load((proj / "params.yaml").read_text(encoding="utf-8"))
    doc["prepare"]["rows"] = {"trusted": 2000, "incoming": 1000, "canary": 1000}
    doc["scan"]["label_flip"] = {"cv": 3}
    doc["train"]["max_iter"] = 50
    (proj / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    # `dvc exp run` (make demo ATTACK=...) needs a commit to base its experiments on
    for args in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"], ["git", "add", "-A"],
                 ["git", "commit", "-q", "-m", "pipeline"]):
        res = run(args, proj)
        assert res.returncode == 0, res.stderr
    return proj


@pytest.fixture(scope="module")
def clean_run(project):
    _set_params(project, attack="none")
    res = _repro(project)
    # what a user commits after `dvc repro`: dvc.lock and metrics/ (reports/ is git-ignored)
    for args in (["git", "add", "-A"], ["git", "commit", "-q", "-m", "baseline run"]):
        done = run(args, project)
        assert done.returncode == 0, done.stderr
    tracked = run(["git", "ls-files", "metrics"], project).stdout.split()
    assert "metrics/scan.json" in tracked and "metrics/gate.json" in tracked, tracked
    return res


@pytest.fixture(scope="module")
def flips_exp(project, clean_run):
    # what `make demo ATTACK=flips` runs: a DVC experiment (dvc exp run -S prepare.attack=flips)
    return run([sys.executable, "pipelines/demo.py", "--attack", "flips"], project)


def _gate(project: Path) -> dict:
    return json.loads((project / "reports" / "gate.json").read_text(encoding="utf-8"))


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # MLflow's SQLAlchemy use
def test_attack_none_passes(project, clean_run):
    gate = _gate(project)
    assert gate["verdict"] == "pass", gate["reasons"]
    assert {s["stage"]: s["status"] for s in gate["stages"]} == {
        "provenance": "passed", "validation": "passed", "scan": "passed", "drift": "passed"}
    for name in ("prepare.json", "provenance.json", "validate/validation.json", "scan/report.json", "train.json",
                 "drift.json", "gate.json", "summary.md", "junit.xml", "results.sarif", "gl-code-quality-report.json",
                 "report.html"):
        assert (project / "reports" / name).is_file(), name
    assert (project / "mlflow.db").is_file()
    train = json.loads((project / "reports" / "train.json").read_text())
    assert train["run_id"] != train["champion_run_id"]
    # a passing gate floods nothing: no SARIF result, no Code Quality issue
    assert json.loads((project / "reports" / "results.sarif").read_text())["runs"][0]["results"] == []
    assert json.loads((project / "reports" / "gl-code-quality-report.json").read_text()) == []
    # the registry holds the champion under its alias
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(project / 'mlflow.db').as_posix()}")
    mv = client.get_model_version_by_alias(train["experiment"], "champion")
    assert mv.run_id == train["champion_run_id"]


def test_second_repro_does_nothing(project, clean_run):
    res = _repro(project)
    assert "Running stage" not in res.stdout
    assert "Data and pipelines are up to date" in res.stdout


def test_dvc_sees_flat_metrics(project, clean_run):
    res = run([str(BIN / "dvc"), "metrics", "show", "--json"], project)
    assert res.returncode == 0, res.stderr
    shown = next(iter(json.loads(res.stdout).values()))["data"]  # the workspace (DVC names it "")
    names = {"prepare", "provenance", "validate", "scan", "quality", "train", "drift", "gate"}
    assert set(shown) == {f"metrics/{n}.json" for n in names}, list(shown)
    for name, doc in shown.items():  # flat: numbers only, no digests, paths or run ids
        assert all(isinstance(v, (int, float)) for v in doc["data"].values()), (name, doc)
    assert shown["metrics/gate.json"]["data"]["failed"] == 0
    assert shown["metrics/scan.json"]["data"]["rows"] == 1000


def test_scan_rerun_is_byte_identical(project, clean_run):
    # issue 17.2: the scan's outputs do not change with the run (timings go to timings.json, untracked)
    scan = project / "reports" / "scan"
    before = {n: (scan / n).read_bytes() for n in ("report.json", "scores.csv", "clean.csv", "quarantine.csv")}
    lock = (project / "dvc.lock").read_bytes()
    for _ in range(2):
        res = run([str(BIN / "dvc"), "repro", "-f", "-s", "scan"], project)
        assert res.returncode == 0, res.stderr[-3000:]
        assert {n: (scan / n).read_bytes() for n in before} == before
    status = run([str(BIN / "dvc"), "status"], project)
    assert status.returncode == 0 and "Data and pipelines are up to date" in status.stdout, status.stdout
    assert (project / "dvc.lock").read_bytes() == lock
    timings = json.loads((scan / "timings.json").read_text())
    assert timings["kind"] == "scan-timings" and "label_flip" in timings["detectors"]
    assert "seconds" not in (scan / "report.json").read_text()


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_experiments_compare(project, flips_exp):
    # issue 17.1: dvc exp show / metrics diff / plots diff compare the baseline with the experiment
    assert flips_exp.returncode == 0, flips_exp.stderr[-3000:]
    dvc = str(BIN / "dvc")
    shown = run([dvc, "exp", "show", "--json"], project)
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    base = next(r for r in rows if r["rev"] != "workspace")
    exps = [e for x in base.get("experiments") or [] for e in x["revs"]]
    assert base["data"]["params"]["params.yaml"]["data"]["prepare"]["attack"] == "none"
    exp = next(e for e in exps if e["data"]["params"]["params.yaml"]["data"]["prepare"]["attack"] == "flips")

    def metric(row, name, key):
        return row["data"]["metrics"][f"metrics/{name}.json"]["data"][key]

    assert metric(base, "gate", "failed") == 0 and metric(exp, "gate", "failed") == 1
    assert metric(base, "scan", "failed") == 0 and metric(exp, "scan", "failed") == 1
    assert metric(base, "prepare", "poisoned") == 0 and metric(exp, "prepare", "poisoned") == 100
    assert metric(exp, "scan", "quarantined") > metric(base, "scan", "quarantined")
    assert metric(exp, "quality", "recall") >= 0.5 and metric(exp, "quality", "average_precision") > 0.3
    diff = run([dvc, "metrics", "diff", "--json"], project)  # HEAD (the baseline) vs the applied experiment
    assert diff.returncode == 0, diff.stderr
    gate = json.loads(diff.stdout)["metrics/gate.json"]["failed"]
    assert (gate["old"], gate["new"]) == (0, 1)
    plots = run([dvc, "plots", "diff", "--json", "HEAD", exp["name"]], project)
    assert plots.returncode == 0, plots.stderr
    data = json.loads(plots.stdout)
    assert not data.get("errors"), data.get("errors")
    for name in ("reports/scan/scores.csv", "reports/plots/suspicion_histogram.csv"):
        assert sorted(data["data"][name][0]["revisions"]) == sorted(["HEAD", exp["name"]]), name


def test_demo_rejects_an_unknown_attack(project):
    res = run([sys.executable, "pipelines/demo.py", "--attack", "nope"], project)
    assert res.returncode == 2 and "invalid choice: 'nope'" in res.stderr and "Traceback" not in res.stderr


def test_attack_flips_fails_naming_the_scan(project, flips_exp):
    res = flips_exp
    assert res.returncode == 0, f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    assert "$ dvc exp run -S prepare.attack=flips" in res.stdout and "verdict: FAIL" in res.stdout
    gate = _gate(project)
    assert gate["verdict"] == "fail"
    assert any(r.startswith("scan/") for r in gate["reasons"]), gate["reasons"]
    assert {s["stage"]: s["status"] for s in gate["stages"]}["scan"] == "failed"
    prep = json.loads((project / "reports" / "prepare.json").read_text())
    assert prep["attack"] == "flips" and prep["n_poisoned"] == 100
    junit = (project / "reports" / "junit.xml").read_text()
    assert 'failures="0"' not in junit.split("\n")[1]


@pytest.mark.parametrize(("quarantined", "want"), [
    (0, "no rows were poisoned, and the scan quarantined none of the 6000 rows"),
    (12, "no rows were poisoned; the scan quarantined 12 of 6000 rows (0.2%: natural label noise"),
])
def test_demo_caught_line_on_unpoisoned_data(tmp_path, monkeypatch, quarantined, want):
    """The demo's "caught:" line names natural noise only when something was quarantined."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pg_demo", ROOT / "pipelines" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "quality.json").write_text(json.dumps({"poisoned": 0, "quarantined": quarantined}))
    (tmp_path / "metrics" / "prepare.json").write_text(json.dumps({"rows_incoming": 6000}))
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    assert demo._caught().startswith(want)
