"""Trusted reference (issue 4): a poisoned batch scanned against the clean version it updates.

Run by hand:  .venv/bin/python benchmarks/bench_reference.py [--datasets banknote adult] [--skip-scale]
                                                             [--scale-rows 1000000] [--json out.json]

Protocol (issue 4's acceptance, restated by issue 14), on every shared dataset (``--datasets all``;
the default is the four with at least 1,000 rows):

* trusted base = a stratified 60 % of the dataset (clean); new batch = the other 40 %, in which
  60 % of the rows of one class are relabelled to another (attack ``batch_class_flip``). Two
  directions: ``default`` (as ``class_flip``: the second most frequent class into the most
  frequent) and ``reverse`` (the most frequent into the second); on the multi-class wine data also
  ``into_rare`` (the second most frequent class into the rarest with >= 1 % of rows). ``poisonguard.scan(new,
  reference=trusted, detectors=["label_flip"])``; recall and precision of the flipped rows among
  the rows the ``reference_shift`` column flags and among all flagged rows; ``P@R.9`` is the best
  precision any threshold on the ``reference_shift`` score reaches at recall >= 0.9 (a ceiling for
  this trusted model), and the verdict's exit code. Issue 14's yardstick: ``F1`` of the scan's
  quarantine against ``oracle_F1`` — gradient boosting fitted on the trusted base, flagging the
  batch rows whose label it finds least likely, at its best threshold (``F1/oracle`` >= 0.90 and
  exit 1 pass). ``--detectors`` chooses the scan's detectors (default: ``label_flip`` alone, as
  issue 4 measured; ``default`` for the scan users run).
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
from _common import ROOT, SHARED_DATASETS, load_frame, markdown_table, single_thread_note  # noqa: E402

WORK = ROOT / "benchmarks" / "_work"
# the shared datasets with at least 1,000 rows (the default; ``all`` asks for every shared dataset)
DATASETS = ("adult", "adult-test", "wine-white", "banknote")


def split_60_40(frame, label: str, seed: int):
    from sklearn.model_selection import train_test_split

    trusted, new = train_test_split(frame, test_size=0.4, stratify=frame[label], random_state=seed)
    return trusted.reset_index(drop=True), new.reset_index(drop=True)


def precision_at_recall(truth: np.ndarray, score: np.ndarray, recall: float = 0.9) -> float:
    from sklearn.metrics import precision_recall_curve

    p, r, _ = precision_recall_curve(truth, score)
    ok = r >= recall
    return float(p[ok].max()) if ok.any() else 0.0


def oracle_f1(trusted, new, label: str, truth: np.ndarray, seed: int) -> tuple[float, float]:
    """Best F1 (over thresholds) and AP of gradient boosting fitted on the trusted base, scoring
    each batch row by how unlikely it finds the row's label (-log P(label))."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, precision_recall_curve

    feats = [c for c in trusted.columns if c != label]
    both = pd.concat([trusted[feats], new[feats]], ignore_index=True)
    for c in feats:
        if not pd.api.types.is_numeric_dtype(both[c]):
            both[c] = both[c].astype("category")
    Xt, Xn = both.iloc[:len(trusted)], both.iloc[len(trusted):]
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    model.fit(Xt, trusted[label].astype(str))
    proba = model.predict_proba(Xn)
    col = {c: i for i, c in enumerate(model.classes_)}
    own = proba[np.arange(len(new)), [col.get(str(v), -1) for v in new[label]]]
    score = -np.log(np.clip(own, 1e-12, 1.0))
    p, r, _ = precision_recall_curve(truth, score)
    f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return float(f1.max()), float(average_precision_score(truth, score))


def _f1(flags: np.ndarray, truth: np.ndarray) -> float:
    tp = float((flags & truth).sum())
    return 2 * tp / max(float(flags.sum() + truth.sum()), 1.0)


def flip_case(name: str, direction: str, seed: int = 0, detectors: tuple[str, ...] | None = ("label_flip",)) -> dict[str, Any]:
    from poisonguard import scan
    from poisonguard.attacks import poison
    from poisonguard.data import TabularDataset

    frame, label = load_frame(name)
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
    res = scan(att.frame, label=label, reference=trusted, detectors=None if detectors is None else list(detectors), seed=seed)
    secs = time.perf_counter() - t0
    truth = att.mask
    o_f1, o_ap = oracle_f1(trusted, att.frame, label, truth, seed)
    ref = res.scores["reference_shift"].to_numpy()
    fl_ref, fl_all = ref > 0.5, res.scores["flagged"].to_numpy()

    def rp(flags: np.ndarray) -> tuple[float, float]:
        tp = float((flags & truth).sum())
        return tp / max(truth.sum(), 1), tp / max(flags.sum(), 1)

    r_ref, p_ref = rp(fl_ref)
    r_all, p_all = rp(fl_all)
    return {"dataset": name, "flip": f"{direction}: {src} -> {tgt}", "rows_new": len(new), "flipped": int(truth.sum()),
            "recall": r_ref, "precision": p_ref, "P@R.9": precision_at_recall(truth, ref),
            "recall_all": r_all, "precision_all": p_all, "F1": _f1(fl_all, truth), "oracle_F1": o_f1,
            "oracle_AP": o_ap, "F1/oracle": _f1(fl_all, truth) / max(o_f1, 1e-12), "exit": res.return_code,
            "pass": bool(_f1(fl_all, truth) >= 0.9 * o_f1 and res.return_code == 1), "s": round(secs, 1)}


def clean_case(name: str, seed: int, detectors: tuple[str, ...] | None = ("label_flip",)) -> dict[str, Any]:
    from poisonguard import scan

    frame, label = load_frame(name)
    trusted, new = split_60_40(frame, label, seed)
    t0 = time.perf_counter()
    res = scan(new, label=label, reference=trusted, detectors=None if detectors is None else list(detectors), seed=seed)
    return {"dataset": name, "seed": seed, "exit": res.return_code, "flagged_ref": int((res.scores["reference_shift"] > 0.5).sum()),
            "quarantined": int(res.scores["flagged"].sum()), "rows_new": len(new),
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
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS), help="names, or 'all' for every shared dataset")
    ap.add_argument("--detectors", nargs="*", default=["label_flip"],
                    help="the scan's detectors; 'default' for the scan's default set")
    ap.add_argument("--directions", nargs="*", default=None,
                    help="flip directions (default, reverse, into_rare); default: default and reverse, into_rare on wine-white")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--scale-rows", type=int, default=1_000_000)
    ap.add_argument("--scale-trusted", type=int, default=200_000)
    ap.add_argument("--scale-detectors", nargs="*", default=["label_flip"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    flips, cleans = [], []
    names = list(SHARED_DATASETS) if "all" in args.datasets else args.datasets
    detectors = None if args.detectors == ["default"] else args.detectors
    for name in names:
        directions = args.directions or (["default", "reverse"] + (["into_rare"] if name == "wine-white" else []))
        for direction in directions:
            flips.append(flip_case(name, direction, detectors=detectors))
            print(json.dumps(flips[-1]), flush=True)
        for seed in range(args.seeds):
            cleans.append(clean_case(name, seed, detectors=detectors))
            print(json.dumps(cleans[-1]), flush=True)
    print("\n" + markdown_table(flips, ["dataset", "flip", "rows_new", "flipped", "recall", "precision", "P@R.9",
                                        "recall_all", "precision_all", "F1", "oracle_F1", "F1/oracle", "oracle_AP", "exit",
                                        "pass", "s"]))
    print("\n" + markdown_table(cleans, ["dataset", "seed", "exit", "rows_new", "quarantined", "flagged_ref", "s",
                                         "reasons"]))
    scale = None
    if not args.skip_scale:
        scale = scale_case(args.scale_rows, args.scale_trusted, args.scale_detectors)
        print("\n" + json.dumps(scale, indent=1))
    print("\n" + single_thread_note())
    if args.json:
        args.json.write_text(json.dumps({"flips": flips, "clean": cleans, "scale": scale}, indent=1))


if __name__ == "__main__":
    main()
