"""Stage ``quality`` of the reference pipeline (demo only): how well the scan caught the attack.

The demo knows which incoming rows its attack poisoned (``data/prepared/truth.csv``, written by
``prepare``); a real pipeline does not, so this stage is not one to copy. It compares that truth
with the scan's decision and suspicion (``reports/scan/scores.csv``) and writes a flat DVC metrics
file (``metrics/quality.json``) that ``dvc exp show`` / ``dvc metrics diff`` compare between
experiments:

``poisoned``, ``quarantined``, ``caught``
    rows the attack poisoned, rows the scan quarantined, poisoned rows quarantined;
``recall``, ``precision``
    ``caught / poisoned`` and ``caught / quarantined`` (left out when undefined: no poisoned or no
    quarantined row);
``average_precision``
    the ranking quality of ``suspicion`` against the truth (scikit-learn's average precision:
    1 = every poisoned row ranked above every clean one; left out when nothing was poisoned).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from poisonguard._io import atomic_write_json  # the demo's own scripts (prepare, quality) share the writer


def quality(truth: pd.Series, flagged: pd.Series, suspicion: pd.Series) -> dict[str, float]:
    """The figures above from the truth mask, the quarantine mask and the suspicion."""
    from sklearn.metrics import average_precision_score

    t, f = truth.astype(bool).to_numpy(), flagged.to_numpy()
    n_poison, n_flag, hit = int(t.sum()), int(f.sum()), int((t & f).sum())
    out: dict[str, float] = {"poisoned": n_poison, "quarantined": n_flag, "caught": hit}
    if n_poison:
        out["recall"] = round(hit / n_poison, 6)
        out["average_precision"] = round(float(average_precision_score(t, suspicion.to_numpy())), 6)
    if n_flag:
        out["precision"] = round(hit / n_flag, 6)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", type=Path, default=Path("data/prepared/truth.csv"))
    ap.add_argument("--scores", type=Path, default=Path("reports/scan/scores.csv"))
    ap.add_argument("--out", type=Path, default=Path("metrics/quality.json"))
    args = ap.parse_args(argv)
    truth = pd.read_csv(args.truth)["poisoned"]
    scores = pd.read_csv(args.scores)
    if len(truth) != len(scores):
        sys.exit(f"quality: {args.truth} has {len(truth)} rows, {args.scores} {len(scores)}: not the same batch")
    flagged = scores["flagged"].astype(str).str.lower().isin(["true", "1"])
    figures = quality(truth, flagged, scores["suspicion"])
    atomic_write_json(args.out, figures)
    print(f"quality: {json.dumps(figures, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
