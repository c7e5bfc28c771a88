"""Scale: `poisonguard scan` on 1,000,000 rows x 20 numeric features, 10 classes, 10 % flips.

Run by hand:  .venv/bin/python benchmarks/bench_scale.py [--rows 1000000] [--detectors label_flip]

Generates the data once into benchmarks/_work/ (CSV), then runs the real CLI in a subprocess
and reports its wall time, peak resident memory (getrusage of the child) and detection quality.
Targets: issue 2 (label_flip) <= 120 s and <= 4 GB; issue 3 (all defaults) <= 180 s.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"


def make_data(rows: int, seed: int = 0) -> tuple[Path, np.ndarray]:
    from sklearn.datasets import make_classification

    path = WORK / f"scale_{rows}.csv"
    truth_path = WORK / f"scale_{rows}.truth.npy"
    if path.exists() and truth_path.exists():
        return path, np.load(truth_path)
    WORK.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(n_samples=rows, n_features=20, n_informative=12, n_redundant=4, n_classes=10,
                               n_clusters_per_class=1, class_sep=1.5, random_state=seed)
    rng = np.random.default_rng(seed)
    flip = rng.random(rows) < 0.10
    y_noisy = y.copy()
    y_noisy[flip] = (y[flip] + rng.integers(1, 10, size=flip.sum())) % 10
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i:02d}" for i in range(20)])
    frame["label"] = y_noisy
    frame.to_csv(path, index=False, float_format="%.5g")
    np.save(truth_path, flip)
    return path, flip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--detectors", nargs="*", default=["label_flip"], help="none given = all defaults")
    args = ap.parse_args()
    path, truth = make_data(args.rows)
    out = WORK / f"scan_{args.rows}"
    cmd = [str(Path(sys.executable).with_name("poisonguard")), "scan", str(path), "--label", "label", "--out-dir", str(out)]
    for d in args.detectors:
        cmd += ["--detectors", d]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(proc.stdout[-3000:])
    if proc.returncode not in (0, 1):
        print(proc.stderr[-3000:], file=sys.stderr)
        sys.exit(proc.returncode)
    from sklearn.metrics import average_precision_score, f1_score

    scores = pd.read_csv(out / "scores.csv")
    ap_ = average_precision_score(truth, scores["suspicion"])
    f1 = f1_score(truth, scores["flagged"].astype(bool))
    print(f"| rows | detectors | exit | wall s | peak RSS GB | AP | F1 |\n|---|---|---|---|---|---|---|\n"
          f"| {args.rows:,} | {' '.join(args.detectors) or 'defaults'} | {proc.returncode} | {wall:.1f} | "
          f"{peak_gb:.2f} | {ap_:.3f} | {f1:.3f} |")


if __name__ == "__main__":
    main()
