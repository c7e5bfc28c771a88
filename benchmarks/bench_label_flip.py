"""Label-flip detection: poisonguard's default scan vs cleanlab and a plain kNN baseline.

Run by hand:  .venv/bin/python benchmarks/bench_label_flip.py [--seeds 0 1 2] [--datasets adult pima]

For every dataset x attack (random_flip 10 %, class_flip 20 % of one class, boundary_flip 10 %)
and seed: average precision of each method's scores against the truth mask, F1 of its own
default flags, and wall time. poisonguard's time is the scan's detection work (encoding +
the default label_flip detector fitted as the scan fits it, ``scan_fit`` with the dataset, its
cross-validation included); cleanlab's is its 5-fold
HistGradientBoosting out-of-fold probabilities + ``find_label_issues``.

``--cli``: also, on every case of at least 2,000 rows, the attacked rows are written to a CSV and
``poisonguard scan FILE --label L --detectors label_flip`` is timed through the installed command
(a fresh process: imports, reading, the scan and writing every report), against cleanlab's
in-process time on the same case (issue 15's bar: the sums over those cases).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ap_f1, iter_datasets, load_frame, markdown_table, split_70_30, timed  # noqa: E402

SMALL = 3000  # datasets with fewer rows run every seed

from poisonguard.attacks import poison  # noqa: E402
from poisonguard.data import TabularDataset  # noqa: E402
from poisonguard.detectors import LabelFlipDetector  # noqa: E402
from poisonguard.detectors.label_flip import oof_proba  # noqa: E402

ATTACKS = {"random_flip": {"rate": 0.1}, "class_flip": {"rate": 0.2}, "boundary_flip": {"rate": 0.1}}


def run_ours(ds: TabularDataset, seed: int, **params: object) -> tuple[np.ndarray, np.ndarray]:
    X = ds.encode()  # fitted as the scan fits it: with the dataset (its encoder's categorical groups)
    det = LabelFlipDetector(random_state=seed, **params).scan_fit(ds, X, ds.label_codes())
    return det.suspicion_, det.labels_ == -1


def run_cleanlab(ds: TabularDataset, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = ds.encode()
    y = ds.label_codes()
    proba = oof_proba(HistGradientBoostingClassifier(random_state=seed), X, y, int(y.max()) + 1, cv=5,
                      random_state=seed)
    issues = find_label_issues(y, proba)
    return 1.0 - get_label_quality_scores(y, proba), issues


def run_knn(ds: TabularDataset, seed: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.neighbors import NearestNeighbors

    X = ds.encode()
    y = ds.label_codes()
    _, ind = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(None)
    disagree = (y[ind] != y[:, None]).mean(axis=1)
    return disagree, disagree > 0.5


METHODS = {"poisonguard": run_ours, "cleanlab[hgb]": run_cleanlab, "knn10": run_knn}


def run_cli(ds: TabularDataset, label: str, seed: int) -> float:
    """Wall seconds of ``poisonguard scan --detectors label_flip`` on the rows of ``ds`` (a CSV in a
    temporary folder), through the command installed beside this interpreter."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        ds.frame.to_csv(path, index=False)
        cmd = [str(Path(sys.executable).with_name("poisonguard")), "scan", str(path), "--label", label,
               "--detectors", "label_flip", "--seed", str(seed), "--out-dir", str(Path(tmp) / "out")]
        proc, secs = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
    if proc.returncode not in (0, 1):
        raise SystemExit(f"poisonguard scan failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--datasets", nargs="+", default=None)
    ap.add_argument("--attacks", nargs="+", default=list(ATTACKS))
    ap.add_argument("--first-seed-only", nargs="*", default=None,
                    help="datasets run with the first seed only (default: those of 3,000 rows or more, as in "
                         "../shared/ANCHOR-RESULTS.md)")
    ap.add_argument("--json", type=Path, default=None, help="also write raw results here")
    ap.add_argument("--cli", action="store_true",
                    help="also time `poisonguard scan --detectors label_flip` through the CLI on cases of >= 2,000 rows")
    args = ap.parse_args()

    rows = []
    for name in iter_datasets(args.datasets):
        frame, label = load_frame(name)
        first_only = len(frame) >= SMALL if args.first_seed_only is None else name in args.first_seed_only
        for seed in args.seeds[:1] if first_only else args.seeds:
            base = TabularDataset.from_frame(split_70_30(frame, label, seed), label=label)
            for attack in args.attacks:
                res = poison(base, attack, seed=seed, **ATTACKS[attack])
                for method, fn in METHODS.items():
                    ds = res.dataset  # fresh: encoding is timed too
                    (scores, flags), secs = timed(lambda fn=fn, ds=ds: fn(ds, seed))
                    a, f = ap_f1(res.mask, scores, flags)
                    rows.append({"dataset": name, "attack": attack, "seed": seed, "method": method,
                                 "ap": a, "f1": f, "seconds": secs, "rows": base.n_rows,
                                 "classes": int(base.frame[label].nunique())})
                    print(f"{name:14s} {attack:14s} s{seed} {method:14s} AP {a:.3f} F1 {f:.3f} {secs:6.2f}s",
                          file=sys.stderr, flush=True)
                if args.cli and base.n_rows >= 2000:
                    secs = run_cli(res.dataset, label, seed)
                    rows.append({"dataset": name, "attack": attack, "seed": seed, "method": "poisonguard CLI",
                                 "ap": np.nan, "f1": np.nan, "seconds": secs, "rows": base.n_rows,
                                 "classes": int(base.frame[label].nunique())})
                    print(f"{name:14s} {attack:14s} s{seed} {'CLI':14s} {secs:6.2f}s", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    summarize(rows)


def summarize(rows: list[dict]) -> None:
    import pandas as pd

    df = pd.DataFrame(rows)
    cell = df.groupby(["attack", "dataset", "method"])[["ap", "f1", "seconds"]].mean().reset_index()
    for attack in cell["attack"].unique():
        sub = cell[cell["attack"] == attack]
        table = []
        for method in METHODS:
            r = {"method": method}
            for _, x in sub[sub["method"] == method].iterrows():
                r[x["dataset"]] = f"{x['ap']:.2f} / {x['f1']:.2f} / {x['seconds']:.2g}s"
            table.append(r)
        print(f"\n### {attack} (AP / F1 / time)\n")
        print(markdown_table(table, ["method", *sub["dataset"].unique()]))
    overall = cell.groupby("method")[["ap", "f1", "seconds"]].mean()
    tot = cell.groupby("method")["seconds"].sum()
    print("\n### Overall (mean over datasets x attacks)\n")
    out = [{"method": m, "mean AP": overall.loc[m, "ap"], "mean F1": overall.loc[m, "f1"],
            "total seconds": tot.loc[m]} for m in METHODS if m in overall.index]
    print(markdown_table(out, ["method", "mean AP", "mean F1", "total seconds"]))
    ours = overall.loc["poisonguard", "ap"]
    for m in METHODS:
        if m != "poisonguard" and m in overall.index:
            print(f"\npoisonguard mean AP / {m} mean AP = {ours / overall.loc[m, 'ap']:.3f}")
    if "rows" in df:
        by_family_and_group(df)


def by_family_and_group(df) -> None:
    """Issue 15's figures: per attack, mean AP (over datasets, each the mean of its seeds) and
    poisonguard / the best of cleanlab and kNN; per attack and group (rows scanned under 1,000 /
    1,000 and more; binary / multi-class), poisonguard / cleanlab; time on data of >= 2,000 rows."""
    df = df.assign(size=np.where(df["rows"] < 1000, "<1000", ">=1000"),
                   kind=np.where(df["classes"] == 2, "binary", "multi-class"))
    cell = df.groupby(["attack", "dataset", "method", "size", "kind"])[["ap", "seconds", "rows"]].mean().reset_index()
    fam = cell.pivot_table(index="attack", columns="method", values="ap", aggfunc="mean")
    out = []
    for attack, r in fam.iterrows():
        best = max(r.get("cleanlab[hgb]", 0.0), r.get("knn10", 0.0))
        out.append({"attack": attack, **{m: round(float(r[m]), 3) for m in METHODS if m in r},
                    "poisonguard / best other": round(float(r["poisonguard"]) / best, 3) if best else ""})
    print("\n### Per attack family (mean AP over datasets)\n")
    print(markdown_table(out, ["attack", *METHODS, "poisonguard / best other"]))
    grp = cell.pivot_table(index=["attack", "size", "kind"], columns="method", values="ap", aggfunc="mean")
    n = cell[cell["method"] == "poisonguard"].groupby(["attack", "size", "kind"])["dataset"].nunique()
    out = [{"attack": a, "rows": s, "classes": k, "datasets": int(n.loc[(a, s, k)]),
            **{m: round(float(r[m]), 3) for m in METHODS if m in r},
            "poisonguard / cleanlab": round(float(r["poisonguard"] / r["cleanlab[hgb]"]), 3)}
           for (a, s, k), r in grp.iterrows()]
    print("\n### Per attack family and group (size x class count)\n")
    print(markdown_table(out, ["attack", "rows", "classes", "datasets", *METHODS, "poisonguard / cleanlab"]))
    big = cell[cell["rows"] >= 2000].groupby("method")["seconds"].sum()
    print("\nIn-process seconds on the datasets of >= 2,000 rows scanned (summed over datasets x attacks, seed mean): "
          + ", ".join(f"{m} {big[m]:.1f}" for m in METHODS if m in big))
    if "poisonguard CLI" in big:
        print(f"poisonguard scan --detectors label_flip through the CLI on the same cases: {big['poisonguard CLI']:.1f} s "
              f"({big['poisonguard CLI'] / big['cleanlab[hgb]']:.2f} x cleanlab's in-process time)")


if __name__ == "__main__":
    main()
