"""The demo: poison the embedded data, scan it, print the verdict and what was caught.

Run with ``make demo``. Steps (all through the ``poisonguard`` command line, as a user would):

1. ``poisonguard attack`` writes a poisoned copy of ``data/adult.csv.gz`` (10 % random label flips,
   seed 0) to ``demo-out/incoming.csv.gz`` and its truth mask;
2. ``poisonguard scan`` scans it into ``demo-out/scan/``;
3. this script compares the quarantined rows with the truth mask and prints the summary.

Exits 0 when the demo ran, whatever the verdict.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo-out"
PG = Path(sys.executable).with_name("poisonguard")


def run(*args: str) -> int:
    print("$ poisonguard " + " ".join(args), flush=True)
    return subprocess.run([str(PG), *args], cwd=ROOT, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}).returncode


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    data = ROOT / "data" / "adult.csv.gz"
    incoming = OUT / "incoming.csv.gz"
    if run("attack", str(data), "--label", "income", "--attack", "random_flip", "--rate", "0.1",
           "--seed", "0", "--out", str(incoming), "--truth", str(OUT / "truth.csv")) != 0:
        return 1
    rc = run("scan", str(incoming), "--label", "income", "--out", str(OUT / "scan"))
    if rc not in (0, 1):
        print(f"demo: the scan failed with exit code {rc}", file=sys.stderr)
        return rc
    truth = pd.read_csv(OUT / "truth.csv")["poisoned"].to_numpy().astype(bool)
    scores = pd.read_csv(OUT / "scan" / "scores.csv")
    flagged = scores["flagged"].to_numpy().astype(bool)
    caught = int((truth & flagged).sum())
    print()
    print("=" * 72)
    print(f"verdict: {'POISONING SUSPECTED (exit 1)' if rc == 1 else 'clean (exit 0)'}")
    print(f"injected: {int(truth.sum())} flipped labels in {len(truth)} rows")
    print(f"caught:   {caught} of them quarantined (recall {caught / max(truth.sum(), 1):.0%}); "
          f"{int(flagged.sum())} rows quarantined in all (precision {caught / max(flagged.sum(), 1):.0%})")
    print(f"reports:  {OUT / 'scan' / 'report.json'}  (scores.csv, clean.csv.gz, quarantine.csv.gz beside it)")
    print("=" * 72)
    return 0


if __name__ == "__main__":
    sys.exit(main())
