"""The reference pipeline end to end: ``dvc repro`` of the repository's own ``dvc.yaml`` in a
temporary copy (git + DVC initialised there, small data), run through the real DVC, MLflow (a
sqlite store in the copy), Great Expectations and the poisonguard CLI.

attack none -> the gate passes; a second ``dvc repro`` does nothing; attack flips -> the gate fails
and names the scan. Slow by nature (two pipeline runs); sizes and detector settings are cut down
in the copy's ``params.yaml`` to keep it to a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FILES = ["dvc.yaml", "params.yaml", "pipelines/prepare.py", "pipelines/train.py", "pipelines/demo.py",
         "data/adult.csv.gz"]

pytestmark = pytest.mark.slow


def _env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "POISONGUARD_PROJECT_DIR")}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "DVC_NO_ANALYTICS": "1", "CI": "true",
                "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com"})
    return env


def _run(args: list[str], project: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=project, env=_env(project), capture_output=True, text=True, timeout=timeout)


def _repro(project: Path) -> subprocess.CompletedProcess:
    res = _run([str(BIN / "dvc"), "repro"], project)
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
        res = _run(args, proj)
        assert res.returncode == 0, res.stderr
    return proj


@pytest.fixture(scope="module")
def clean_run(project):
    _set_params(project, attack="none")
    return _repro(project)


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


def test_dvc_sees_metrics_and_plots(project, clean_run):
    res = _run([str(BIN / "dvc"), "metrics", "show", "--json"], project)
    assert res.returncode == 0, res.stderr
    shown = json.dumps(json.loads(res.stdout))
    for name in ("reports/gate.json", "reports/scan/report.json", "reports/drift.json", "reports/provenance.json"):
        assert name in shown


def test_demo_rejects_an_unknown_attack(project):
    res = _run([sys.executable, "pipelines/demo.py", "--attack", "nope"], project)
    assert res.returncode == 2 and "invalid choice: 'nope'" in res.stderr and "Traceback" not in res.stderr


def test_attack_flips_fails_naming_the_scan(project, clean_run):
    # what `make demo ATTACK=flips` runs: a DVC experiment (dvc exp run -S prepare.attack=flips)
    res = _run([sys.executable, "pipelines/demo.py", "--attack", "flips"], project)
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
