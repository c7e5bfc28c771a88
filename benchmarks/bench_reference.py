"""Trusted reference (issue 4): a poisoned batch scanned against the clean version it updates.

Run by hand:  .venv/bin/python benchmarks/bench_reference.py [--datasets banknote adult] [--skip-scale]
                                                             [--scale-rows 1000000] [--json out.json]

Protocol (the issue's acceptance), on every shared dataset with at least 1,000 rows:

* trusted base = a stratified 60 % of the dataset (clean); new batch = the other 40 %, in which
  60 % of the rows of one class are relabelled to another (attack ``batch_class_flip``). Two
  directions: ``default`` (as ``class_flip``: the second most frequent class into the most
  frequent) and ``reverse`` (the most frequent into the second); on the multi-class wine data also
  ``into_rare`` (the second most frequent class into the rarest with >= 1 % of rows). ``poisonguard.scan(new,
  reference=trusted, detectors=["label_flip"])``; recall and precision of the flipped rows among
  the rows the ``reference_shift`` column flags and among all flagged rows; ``P@R.9`` is the best
  precision any threshold on the ``reference_shift`` score reaches at recall >= 0.9 (a ceiling for
  this trusted model), and the verdict's exit code.
* no false alarm: the same split of clean data, seeds 0-4; the exit code must be 0.
* scale: a 1,000,000-row synthetic clean batch against a 200,000-row trusted base from the same
  generator (20 features, 4 classes, 5 % natural label noise), through the real CLI in a
  subprocess: exit code, wall time, peak memory.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2 shared cores: OpenMP spinning under load costs 10x

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, markdown_table, single_thread_note  # noqa: E402

WORK = ROOT / "benchmarks" / "_work"
# name -> (file, label): the shared datasets with at least 1,000 rows
DATASETS: dict[str, tuple[str, str]] = {
    "adult_train": ("adult_train.csv.gz", "income"),
    "adult_test": ("adult_test.csv.gz", "income"),
    "wine-white": ("winequality_white.csv.gz", "quality"),
    "banknote": ("banknote.csv.gz", "class"),
}


def split_60_40(frame, label: str, seed: int):
    from sklearn.model_selection import train_test_split

    trusted, new = train_test_split(frame, test_size=0.4, stratify=frame[label], random_state=seed)
    return trusted.reset_index(drop=True), new.reset_index(drop=True)


def precision_at_recall(truth: np.ndarray, score: np.ndarray, recall: float = 0.9) -> float:
    from sklearn.metrics import precision_recall_curve

    p, r, _ = precision_recall_curve(truth, score)
    ok = r >= recall
    return float(p[ok].max()) if ok.any() else 0.0


def flip_case(name: str, direction: str, seed: int = 0) -> dict[str, Any]:
    from poisonguard import scan
    from poisonguard.attacks import poison
    from poisonguard.data import TabularDataset, load_dataset

    file, label = DATASETS[name]
    frame = load_dataset(SHARED / file, label=label).frame
    trusted, new = split_60_40(frame, label, seed)
    counts = new[label].value_counts()
    order = counts.index.tolist()
    if direction == "default":
        src, tgt = order[1], order[0]
    elif direction == "reverse":
        src, tgt = order[0], order[1]
    else:  # "into_rare": the second most frequent class into the rarest class with >= 1 % of the rows
        src, tgt = order[1], counts[counts >= 0.01 * len(new)].index[-1]
    att = poison(TabularDataset.from_frame(new, label=label), "batch_class_flip", rate=0.6, source=src, target=tgt,
                 seed=seed)
    t0 = time.perf_counter()
    res = scan(att.frame, label=label, reference=trusted, detectors=["label_flip"], seed=seed)
    secs = time.perf_counter() - t0
    truth = att.mask
    ref = res.scores["reference_shift"].to_numpy()
    fl_ref, fl_all = ref > 0.5, res.scores["flagged"].to_numpy()

    def rp(flags: np.ndarray) -> tuple[float, float]:
        tp = float((flags & truth).sum())
        return tp / max(truth.sum(), 1), tp / max(flags.sum(), 1)

    r_ref, p_ref = rp(fl_ref)
    r_all, p_all = rp(fl_all)
    return {"dataset": name, "flip": f"{direction}: {src} -> {tgt}", "rows_new": len(new), "flipped": int(truth.sum()),
            "recall": r_ref, "precision": p_ref, "P@R.9": precision_at_recall(truth, ref),
            "recall_all": r_all, "precision_all": p_all, "exit": res.return_code,
            "pass": bool(r_ref >= 0.9 and p_ref >= 0.8 and res.return_code == 1), "s": round(secs, 1)}


def clean_case(name: str, seed: int) -> dict[str, Any]:
    from poisonguard import scan
    from poisonguard.data import load_dataset

    file, label = DATASETS[name]
    frame = load_dataset(SHARED / file, label=label).frame
    trusted, new = split_60_40(frame, label, seed)
    t0 = time.perf_counter()
    res = scan(new, label=label, reference=trusted, detectors=["label_flip"], seed=seed)
    return {"dataset": name, "seed": seed, "exit": res.return_code, "flagged_ref": int((res.scores["reference_shift"] > 0.5).sum()),
            "reasons": "; ".join(res.reasons)[:200], "s": round(time.perf_counter() - t0, 1)}


def make_scale(rows: int, trusted_rows: int, seed: int = 0) -> tuple[Path, Path]:
    import pandas as pd
    from sklearn.datasets import make_classification

    WORK.mkdir(parents=True, exist_ok=True)
    new_p, tr_p = WORK / f"ref_new_{rows}.csv", WORK / f"ref_trusted_{trusted_rows}.csv"
    if new_p.exists() and tr_p.exists():
        return new_p, tr_p
    X, y = make_classification(n_samples=rows + trusted_rows, n_features=20, n_informative=12, n_redundant=4,
                               n_classes=4, n_clusters_per_class=1, class_sep=1.5, flip_y=0.05, random_state=seed)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i:02d}" for i in range(20)])
    frame["label"] = y
    frame.iloc[:trusted_rows].to_csv(tr_p, index=False, float_format="%.5g")
    frame.iloc[trusted_rows:].to_csv(new_p, index=False, float_format="%.5g")
    return new_p, tr_p


def scale_case(rows: int, trusted_rows: int, detectors: list[str]) -> dict[str, Any]:
    new_p, tr_p = make_scale(rows, trusted_rows)
    out = WORK / f"ref_scan_{rows}"
    cmd = [str(Path(sys.executable).with_name("poisonguard")), "scan", str(new_p), "--label", "label",
           "--reference", str(tr_p), "--out-dir", str(out), "--format", "json"]
    for d in detectors:
        cmd += ["--detectors", d]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    row: dict[str, Any] = {"rows_new": rows, "rows_trusted": trusted_rows, "detectors": ",".join(detectors) or "none",
                           "exit": proc.returncode, "wall_s": round(wall, 1), "peak_gb": round(peak, 2)}
    try:
        rep = json.loads(proc.stdout)
        row["flagged"] = rep["n_flagged"]
        row["seconds"] = {d["name"]: d["seconds"] for d in rep["detectors"]}
        row["reasons"] = rep["reasons"]
    except (json.JSONDecodeError, KeyError):
        row["stderr"] = proc.stderr[-500:]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--scale-rows", type=int, default=1_000_000)
    ap.add_argument("--scale-trusted", type=int, default=200_000)
    ap.add_argument("--scale-detectors", nargs="*", default=["label_flip"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    flips, cleans = [], []
    for name in args.datasets:
        directions = ["default", "reverse"] + (["into_rare"] if name == "wine-white" else [])
        for direction in directions:
            flips.append(flip_case(name, direction))
            print(json.dumps(flips[-1]), flush=True)
        for seed in range(args.seeds):
            cleans.append(clean_case(name, seed))
            print(json.dumps(cleans[-1]), flush=True)
    print("\n" + markdown_table(flips, ["dataset", "flip", "rows_new", "flipped", "recall", "precision", "P@R.9",
                                        "recall_all", "precision_all", "exit", "pass", "s"]))
    print("\n" + markdown_table(cleans, ["dataset", "seed", "exit", "flagged_ref", "s", "reasons"]))
    scale = None
    if not args.skip_scale:
        scale = scale_case(args.scale_rows, args.scale_trusted, args.scale_detectors)
        print("\n" + json.dumps(scale, indent=1))
    print("\n" + single_thread_note())
    if args.json:
        args.json.write_text(json.dumps({"flips": flips, "clean": cleans, "scale": scale}, indent=1))


if __name__ == "__main__":
    main()
