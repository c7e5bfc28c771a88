"""The quarantine's level against the model trained afterwards, and whether the data can choose it
(issue 14), run by hand.

    .venv/bin/python benchmarks/bench_levels.py --jobs 2          # 16 datasets, none + three flip families, seeds 0-2
    .venv/bin/python benchmarks/bench_levels.py --datasets iris wine --attacks random_flip --seeds 0

The scan quarantines by Benjamini-Hochberg at ``decision.level`` (0.1). This benchmark asks what
other levels would have given, on ``bench_defence.py``'s cases (same splits, attacks, and the
attacked rows and baselines it caches: what is not cached yet is computed and cached here).
Per dataset x attack x seed and per level ``c`` in ``--levels``, the quarantine is the scan's own
plus every row whose BH-adjusted combined p-value (``scores.csv``'s ``p_value``) is ``<= c``:

* the share of clean and of poisoned rows quarantined, the test accuracy of
  ``HistGradientBoostingClassifier(random_state=0)`` trained on the rows kept, and won back =
  (level - all) / (oracle - all) over the datasets where oracle - all >= 0.01, as in
  ``bench_defence.py``;
* **the level chosen without the test split**: 5-fold cross-validation on the attacked rows, a
  model per level fitted on the training folds' kept rows and scored on the held-out rows'
  *own (possibly poisoned) labels* — the only labels a user without trusted data has. Under
  symmetric noise, accuracy on noisy labels is an increasing affine function of accuracy on clean
  ones, so it ranks the models the same way (Chen et al., "Robustness of accuracy metric and its
  inspirations in learning with noisy labels", AAAI 2021). Rules reported: the level of highest
  cross-validated accuracy (``cv-argmax``); a looser level only when its paired per-row gain
  over the configured level has z above 1.645 (``cv-z1.64``) or above the Bonferroni point over
  the looser levels (``cv-bonferroni``, the rule ``poisonguard.reference.choose_level`` uses on
  trusted rows).

Writes one line per case to ``benchmarks/results/levels.csv`` (git-ignored) and prints the
summary (also ``levels.md``). One thread per process; ``--jobs`` runs cases in parallel.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from statistics import NormalDist  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_defence as bd  # noqa: E402
from _common import ALL_DATASETS, dataset_names, markdown_table  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "levels.csv"
LEVELS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
ATTACKS = ("none", "random_flip", "class_flip", "boundary_flip")
FOLDS = 5


def cv_correct(X: np.ndarray, y: np.ndarray, quarantines: list[np.ndarray], seed: int) -> np.ndarray | None:
    """Per level (rows) and row (columns): 1.0 where the model fitted on the other folds' kept rows
    predicts the row's own label; None when a class has fewer rows than two folds."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y)
    k = int(min(FOLDS, counts[counts > 0].min())) if (counts > 0).sum() > 1 else 0
    if k < 2:
        return None
    out = np.full((len(quarantines), len(y)), np.nan)
    for tr, te in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y):
        for i, q in enumerate(quarantines):
            keep = tr[~q[tr]]
            if keep.size < 20 or np.unique(y[keep]).size < 2:
                continue
            model = HistGradientBoostingClassifier(random_state=0).fit(X[keep], y[keep])
            out[i, te] = model.predict(X[te]) == y[te]
    return None if np.isnan(out).any() else out


def run_case(dataset: str, attack: str, seed: int, levels: tuple[float, ...]) -> dict[str, Any]:
    from poisonguard import scan
    from poisonguard.reference import bh_adjusted

    warnings.simplefilter("ignore")
    case = bd.Case(dataset, attack, seed)
    base, _ = bd.cached_baseline(case)
    result = scan(case.train.frame, label=case.label, seed=seed)
    sc = result.scores
    own = (sc["decision"] == "quarantine").to_numpy()
    q = bh_adjusted(sc["p_value"].to_numpy(float))
    sets = [own | (q <= c) if c > levels[0] else own for c in levels]
    correct = cv_correct(case.X, case.y, sets, seed)
    z = [None] * len(levels)
    if correct is not None:
        for i in range(1, len(levels)):
            d = correct[i] - correct[0]
            se = float(d.std(ddof=1)) / np.sqrt(d.size)
            z[i] = float(d.mean()) / se if se > 0 else 0.0
    poisoned = case.mask
    return {"dataset": dataset, "attack": attack, "seed": seed, "suspected": bool(result.suspected),
            "acc_all": base["models"]["all"]["acc"], "acc_oracle": base["models"]["oracle"]["acc"],
            "acc": [case.model(~s)["acc"] for s in sets],
            "clean_q": [float(s[~poisoned].mean()) for s in sets],
            "poisoned_q": [float(s[poisoned].mean()) if poisoned.any() else None for s in sets],
            "cv_acc": None if correct is None else [float(c.mean()) for c in correct], "z": z}


def chosen(row: dict[str, Any], rule: str, n_levels: int) -> int:
    """Index of the level a rule picks from the cross-validation alone (0: the configured level)."""
    cv, z = row["cv_acc"], row["z"]
    if cv is None:
        return 0
    if rule == "cv-argmax":
        return int(np.flatnonzero(np.asarray(cv) >= max(cv) - 1e-12)[0])
    need = 1.645 if rule == "cv-z1.64" else NormalDist().inv_cdf(1 - 0.05 / max(n_levels - 1, 1))
    best = 0
    for i in range(1, n_levels):
        if z[i] is not None and z[i] > need and cv[i] > cv[best]:
            best = i
    return best


RULES = ("cv-argmax", "cv-z1.64", "cv-bonferroni")


def summarize(rows: list[dict[str, Any]], levels: tuple[float, ...]) -> str:
    recs = []
    for r in rows:
        picks = {f"{c:g}": i for i, c in enumerate(levels)} | {rule: chosen(r, rule, len(levels)) for rule in RULES}
        for name, i in picks.items():
            recs.append({"dataset": r["dataset"], "attack": r["attack"], "seed": r["seed"], "choice": name,
                         "all": r["acc_all"], "oracle": r["acc_oracle"], "acc": r["acc"][i],
                         "clean_q": r["clean_q"][i], "poisoned_q": r["poisoned_q"][i]})
    df = pd.DataFrame(recs)
    cell = df.groupby(["attack", "choice", "dataset"], sort=False).mean(numeric_only=True).reset_index()
    out = []
    for att in [a for a in ATTACKS if a in set(df["attack"])]:
        lines = []
        for choice in df["choice"].unique():
            c = cell[(cell["attack"] == att) & (cell["choice"] == choice)]
            cases = df[(df["attack"] == att) & (df["choice"] == choice)]
            gain = c["oracle"] - c["all"]
            won = ((c["acc"] - c["all"]) / gain)[gain >= 0.01]
            lines.append({"level": choice,
                          "won back (n)": "" if att == "none" else f"{won.mean():.3f} ({won.size})",
                          "worst level - all": f"{(c['acc'] - c['all']).min():+.3f}",
                          "mean level - all": f"{(c['acc'] - c['all']).mean():+.4f}",
                          "clean q %, mean / max dataset / max case":
                              f"{100 * c['clean_q'].mean():.2f} / {100 * c['clean_q'].max():.2f} / "
                              f"{100 * cases['clean_q'].max():.2f}",
                          "poisoned q %": "" if att == "none" else f"{100 * c['poisoned_q'].mean():.1f}"})
        out.append(f"#### {att}\n\n" + markdown_table(lines, list(lines[0])))
    return "\n\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["all"], help=f"default all: {', '.join(ALL_DATASETS)}")
    ap.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(bd.ATTACKS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help=f"datasets of {bd.SMALL:,} rows or more run the first only")
    ap.add_argument("--levels", type=float, nargs="+", default=list(LEVELS),
                    help="BH levels, the configured one first (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render", type=Path, default=None, help="only print the summary of a saved CSV")
    args = ap.parse_args()
    levels = tuple(args.levels)
    if args.render:
        saved = pd.read_csv(args.render)
        rows = [{k: (json.loads(v) if k in ("acc", "clean_q", "poisoned_q", "cv_acc", "z") else v)
                 for k, v in r.items()} for r in saved.to_dict("records")]
        print(summarize(rows, levels))
        return
    cases = [(d, a, s) for d in dataset_names(args.datasets) for s in bd.seeds_for(d, args.seeds)
             for a in args.attacks]
    print(f"{len(cases)} cases, levels {levels}, {args.jobs} job(s)", file=sys.stderr)
    rows = []
    with ProcessPoolExecutor(max(args.jobs, 1)) as pool:
        for r in pool.map(run_case, *zip(*cases), [levels] * len(cases)):
            rows.append(r)
            print(f"[{len(rows)}/{len(cases)}] {r['dataset']} {r['attack']} s{r['seed']}: acc "
                  + " ".join(f"{a:.3f}" for a in r["acc"]) + f" (all {r['acc_all']:.3f}, oracle {r['acc_oracle']:.3f})",
                  file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([{k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()} for r in rows])
    frame.to_csv(args.out, index=False)
    text = summarize(rows, levels)
    args.out.with_suffix(".md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
