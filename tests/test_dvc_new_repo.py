"""Issue 17.3: the stages of ``pipelines/README.md`` pasted into a new repository, with a CSV of its own.

The set-up commands (the ``bash`` block after "Before the first run") and the ``dvc.yaml`` (the
``yaml`` block after it) are read out of the README itself, so this test fails when the docs
drift from what works. A new git + DVC repository gets synthetic data (not the demo's), runs the
set-up as written, then ``dvc repro`` of the snippet through the real DVC, MLflow (a sqlite store
in the repository), Great Expectations and the poisonguard CLI -- with no ``params.yaml`` at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _dvc import BIN, run

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "pipelines" / "README.md"

pytestmark = pytest.mark.slow


def _snippets() -> tuple[str, str]:
    """The set-up commands and the dvc.yaml of the README's "Adding the stages" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Adding the stages to your own `dvc.yaml`"):]
    section = section[: section.index("\n## ", 5)]
    setup = re.search(r"Before the first run.*?```bash\n(.*?)```", section, re.S)
    pipeline = re.search(r"Then `dvc.yaml`:\s*```yaml\n(.*?)```", section, re.S)
    assert setup and pipeline, "pipelines/README.md: the set-up (bash) or dvc.yaml (yaml) block is gone"
    return setup.group(1), pipeline.group(1)


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Data of the user's own: two numeric features, a categorical one, the label `income`."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    hours = rng.normal(40, 8, n).round(2)
    sector = rng.choice(["public", "private", "self"], n, p=[0.3, 0.5, 0.2])
    score = 0.04 * (age - 40) + 0.08 * (hours - 40) + (sector == "self") * 0.8 + rng.normal(0, 0.3, n)
    return pd.DataFrame({"age": age, "hours": hours, "sector": sector,
                         "income": np.where(score > 0.3, ">50K", "<=50K")})


def test_snippet_has_no_shell_idioms():
    _, pipeline = _snippets()
    for idiom in ("||", "$(", "test $?", "&&"):
        assert idiom not in pipeline, idiom


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # MLflow's SQLAlchemy use
def test_readme_stages_run_in_a_new_repository(tmp_path, shell):
    setup, pipeline = _snippets()
    repo = tmp_path / "my-project"
    (repo / "data").mkdir(parents=True)
    frame = _frame(2200, 1).drop_duplicates().reset_index(drop=True)  # disjoint sets: the canary never trained on
    frame.iloc[:800].to_csv(repo / "data" / "trusted.csv", index=False)
    frame.iloc[800:1600].to_csv(repo / "data" / "train.csv", index=False)
    frame.iloc[1600:2100].to_csv(repo / "data" / "canary.csv", index=False)
    (repo / ".gitignore").write_text("/reports/\n/mlflow.db\n/mlartifacts/\n", encoding="utf-8")

    res = shell(["bash", "-euo", "pipefail", "-c", setup], repo)
    assert res.returncode == 0, f"the README's set-up failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    (repo / "dvc.yaml").write_text(pipeline, encoding="utf-8")
    assert not (repo / "params.yaml").exists()  # the stages need none

    res = shell([str(BIN / "dvc"), "repro"], repo)
    assert res.returncode == 0, f"dvc repro failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    gate = json.loads((repo / "reports" / "gate.json").read_text(encoding="utf-8"))
    stages = {s["stage"]: (s["role"], s["status"]) for s in gate["stages"]}
    # no policy: the stages whose reports were given are required, and they all ran and passed
    assert stages == {"provenance": ("required", "passed"), "validation": ("required", "passed"),
                      "scan": ("required", "passed"), "drift": ("optional", "passed")}, gate["reasons"]
    assert gate["verdict"] == "pass", gate["reasons"]
    metrics = json.loads((repo / "metrics" / "gate.json").read_text(encoding="utf-8"))
    assert metrics["failed"] == 0 and metrics["checks"] == gate["counts"]["checks"]
    for name in ("provenance", "validate", "scan", "train", "drift"):
        doc = json.loads((repo / "metrics" / f"{name}.json").read_text(encoding="utf-8"))
        assert doc and all(isinstance(v, (int, float)) for v in doc.values()), (name, doc)
    assert json.loads((repo / "metrics" / "train.json").read_text())["train_rows"] > 0

    # the run ids are for MLflow; the rest is reproducible: a second repro does nothing
    res = shell([str(BIN / "dvc"), "repro"], repo)
    assert res.returncode == 0 and "Running stage" not in res.stdout, res.stdout[-3000:]

    # the gate still fails on what it is given: tamper with the data -> provenance (exit 0: --exit-zero)
    frame = pd.read_csv(repo / "data" / "train.csv")
    frame.loc[0, "income"] = ">50K" if frame.loc[0, "income"] == "<=50K" else "<=50K"
    frame.to_csv(repo / "data" / "train.csv", index=False)
    res = shell([str(BIN / "dvc"), "repro"], repo)
    assert res.returncode == 0, res.stderr[-3000:]
    gate = json.loads((repo / "reports" / "gate.json").read_text(encoding="utf-8"))
    assert gate["verdict"] == "fail" and any(r.startswith("provenance/") for r in gate["reasons"]), gate["reasons"]
    assert json.loads((repo / "metrics" / "provenance.json").read_text())["failed"] == 1


def test_snippet_yaml_is_the_documented_stage_set():
    _, pipeline = _snippets()
    stages = yaml.safe_load(pipeline)["stages"]
    assert list(stages) == ["provenance", "validate", "scan", "train", "drift", "gate"]
    for name, stage in stages.items():  # every stage writes a flat metrics file, kept in git
        metrics = [next(iter(m)) if isinstance(m, dict) else m for m in stage.get("metrics") or []]
        assert metrics == [f"metrics/{name}.json"], (name, metrics)
        assert all(m[next(iter(m))] == {"cache": False} for m in stage["metrics"]), name


def test_demo_train_script_uses_public_api_only():
    # pipelines/train.py is the model for a user's own training stage: no private module or name of poisonguard
    import ast

    tree = ast.parse((ROOT / "pipelines" / "train.py").read_text(encoding="utf-8"))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("poisonguard"):
            imported += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            imported += [(a.name, "") for a in node.names if a.name.startswith("poisonguard")]
    assert imported, "train.py imports nothing of poisonguard any more: update this test"
    private = [(m, n) for m, n in imported if any(p.startswith("_") for p in m.split(".")) or n.startswith("_")]
    assert not private, private
