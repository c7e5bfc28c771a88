"""The notebooks as committed: every one linked from the README, outputs cleared or small.

(Running them is ``make test``'s job: pytest collects ``notebooks/`` with nbmake.)
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_three_notebooks_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [p.name for p in NOTEBOOKS] == ["01_find_poisoned_rows.ipynb", "02_new_batch_vs_trusted.ipynb",
                                           "03_model_output_drift.ipynb"]
    for nb in NOTEBOOKS:
        assert f"](notebooks/{nb.name})" in readme, nb.name


def test_committed_outputs_are_small():
    total = 0
    for nb in NOTEBOOKS:
        doc = json.loads(nb.read_text(encoding="utf-8"))
        assert doc["nbformat"] == 4 and doc["cells"][0]["cell_type"] == "markdown", nb.name
        total += sum(len(json.dumps(c.get("outputs", []))) for c in doc["cells"] if c["cell_type"] == "code")
    assert total < 1_000_000
