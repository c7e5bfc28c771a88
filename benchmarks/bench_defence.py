"""The scan's decision judged by the model trained afterwards (issue 14, point 5), run by hand.

    .venv/bin/python benchmarks/bench_defence.py                       # every dataset and attack
    .venv/bin/python benchmarks/bench_defence.py --datasets iris wheat-seeds --attacks none random_flip --quick
    .venv/bin/python benchmarks/bench_defence.py --render benchmarks/results/defence.csv   # summary only

Protocol as in ../shared/ANCHOR-RESULTS.md (``_common.py``): a clean stratified 30 % test split
is held out, the attack (``poisonguard.attacks``, at the anchors' rates, see :data:`ATTACKS`) is
applied to the other 70 %, and the default scan (``poisonguard.scan``) runs on the result. Per
dataset x attack x seed:

* the decision: share of the clean (not truly poisoned) rows quarantined, of the poisoned rows
  quarantined, and of the rows sent to review. The quarantine is ``scores["decision"] ==
  "quarantine"`` when the scores have a ``decision`` column, else ``scores["flagged"]``; review
  rows stay in the clean split;
* test accuracy of ``HistGradientBoostingClassifier(random_state=0)`` trained on all rows, on all
  but the truly poisoned (oracle), on the scan's clean split (the rows not quarantined), on the
  rows cleanlab keeps (``find_label_issues`` on 5-fold HGB out-of-fold probabilities, as in
  ``bench_label_flip``) and, for the backdoor, on the 70 % before the attack (clean). Every model
  sees the same encoding: poisonguard's :class:`~poisonguard.data.Encoder` fitted on the attacked
  70 % (what a user would have), applied to the test split too;
* won back = (scan - all) / (oracle - all), only where oracle - all >= 0.01;
* backdoor attack success: share of the test rows of other classes, stamped with the trigger,
  that a model predicts as the target class. ``attacks.backdoor`` does not expose how to stamp a
  new row; its ``params`` record the trigger (``features``, ``values``, ``target``), and
  :func:`stamp` sets those features of the test rows to those values, as the attack did;
* AP, against the truth mask, of the combined ``suspicion``, of each detector's column, and of
  the anchors run on the same encoding: cleanlab (1 - self-confidence label quality), the kNN
  label-disagreement baseline (k = 10), PyOD's IForest, LOF and ECOD.

Everything that does not depend on the scan (the attacked data, the all / oracle / cleanlab /
clean models, the anchors' APs) is cached in ``benchmarks/.cache/defence/`` (git-ignored), one
JSON (and one pickle of the attacked rows) per dataset / attack / seed, keyed by a digest of the
code it depends on (:func:`baseline_version`): after a change to the scan, a re-run re-runs only
the scan and the model on its clean split. ``--refresh`` recomputes the baselines.

Seeds: datasets with fewer than 3,000 rows run every seed given (default 0-2), larger ones
(adult, adult-test, wine-white) the first only, as the anchors do. ``adult-test`` (the official
test file of the same census data) is one of the datasets, seed 0. An attack a dataset cannot
take (the backdoor needs two numeric features; breast-cancer-ljubljana has one) is reported as
skipped. One thread per process (``OMP_NUM_THREADS=1`` unless set); ``--jobs`` runs cases in
parallel processes.

Writes one line per case to ``benchmarks/results/defence.csv`` (git-ignored: it measures the
scan of the working tree; the acceptance run goes into RESULTS.md by hand) and prints a Markdown
summary, also written next to it as ``defence.md``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / scikit-learn load their thread pools

import argparse  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from _common import ALL_DATASETS, dataset_names, load_frame, markdown_table, single_thread_note, split_70_30  # noqa: E402
from bench_detectors import run_pyod  # noqa: E402
from bench_label_flip import run_cleanlab, run_knn  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "defence"
RESULTS = HERE / "results" / "defence.csv"

#: attack family of ../shared/ANCHOR-RESULTS.md -> (``poisonguard.attacks`` name, parameters); the
#: parameters are written out even where they are the attack's defaults, so that a change of a
#: default does not silently change the benchmark
ATTACKS: dict[str, tuple[str, dict[str, Any]] | None] = {
    "none": None,
    "random_flip": ("random_flip", {"rate": 0.1}),
    # source / target left to the attack: second most frequent class -> most frequent
    "class_flip": ("class_flip", {"rate": 0.2}),
    "boundary_flip": ("boundary_flip", {"rate": 0.1, "pool": 3.0}),
    # target left to the attack: the least frequent class; value: 99.5th percentile + 3 sd
    "backdoor": ("backdoor", {"rate": 0.03, "n_features": 2}),
    "outlier": ("outliers", {"rate": 0.02, "shift": (6.0, 10.0), "feature_fraction": 0.5}),
    "dup_conflict": ("dup_conflict", {"rate": 0.05}),
}
SMALL = 3000  # datasets with fewer rows run every seed
MODELS = ("all", "oracle", "scan", "cleanlab", "clean")
#: bump when the meaning of a cached baseline changes in a way the digest cannot see
BASELINE_FORMAT = 1


# ----------------------------------------------------------------------------------- one case
@functools.lru_cache(maxsize=4)
def _frame(name: str) -> tuple[pd.DataFrame, str]:
    return load_frame(name)


def seeds_for(name: str, seeds: list[int]) -> list[int]:
    return seeds if len(_frame(name)[0]) < SMALL else seeds[:1]


class Case:
    """A dataset's clean split and its attacked 70 % (cached), encoded once for every model."""

    def __init__(self, dataset: str, attack: str, seed: int, *, refresh: bool = False) -> None:
        from poisonguard.attacks import poison
        from poisonguard.data import TabularDataset

        self.dataset, self.attack, self.seed = dataset, attack, seed
        frame, self.label = _frame(dataset)
        self.classes = list(TabularDataset.from_frame(frame, label=self.label).classes_)
        base, test = split_70_30(frame, self.label, seed, with_test=True)
        self.base = TabularDataset.from_frame(base, label=self.label)
        self.key = f"{dataset}__{attack}__s{seed}__{baseline_version()}"
        cached = CACHE / f"{self.key}.attack.pkl"
        if cached.exists() and not refresh:
            attacked, self.mask, self.params = pickle.loads(cached.read_bytes())
        elif ATTACKS[attack] is None:
            attacked, self.mask, self.params = base, np.zeros(len(base), dtype=bool), {}
        else:
            name, params = ATTACKS[attack]
            res = poison(self.base, name, seed=seed, **params)
            attacked, self.mask, self.params = res.frame, res.mask, res.params
        if not cached.exists() or refresh:
            _write_atomic(cached, pickle.dumps((attacked, self.mask, self.params)))
        self.train = TabularDataset.from_frame(attacked, label=self.label)
        self.X = self.train.encode()
        self.y = self.train.label_codes(self.classes)
        test_ds = TabularDataset.from_frame(test, label=self.label)
        self.X_test = self.train.encoder.transform(test_ds)
        self.y_test = test_ds.label_codes(self.classes)
        self.X_stamped = self.target = None
        if attack == "backdoor":
            stamped = stamp(test, self.label, self.params)
            self.X_stamped = self.train.encoder.transform(TabularDataset.from_frame(stamped, label=self.label))
            self.target = [str(c) for c in self.classes].index(str(self.params["target"]))

    def model(self, keep: np.ndarray) -> dict[str, float]:
        """Test accuracy (and backdoor success) of HGB trained on the attacked rows where ``keep``."""
        return self._fit(self.X[keep], self.y[keep])

    def clean_model(self) -> dict[str, float]:
        """The same, trained on the 70 % before the attack."""
        return self._fit(self.train.encoder.transform(self.base), self.base.label_codes(self.classes))

    def _fit(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        from sklearn.ensemble import HistGradientBoostingClassifier

        present = np.unique(y)
        if present.size < 2:  # nothing to learn: the one class left
            predict = lambda Z: np.full(len(Z), present[0] if present.size else 0)  # noqa: E731
        else:
            predict = HistGradientBoostingClassifier(random_state=0).fit(X, y).predict
        out = {"acc": float((predict(self.X_test) == self.y_test).mean())}
        if self.X_stamped is not None:
            out["backdoor"] = float((predict(self.X_stamped) == self.target).mean())
        return out


def stamp(test: pd.DataFrame, label: str, params: dict[str, Any]) -> pd.DataFrame:
    """The test rows of other classes than the backdoor's target, with its trigger set."""
    rows = test[test[label].astype(str) != str(params["target"])].copy()
    for col, value in zip(params["features"], params["values"]):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype("float64")
        rows[col] = float(value)
    return rows.reset_index(drop=True)


def _ap(truth: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(truth, scores)) if truth.any() else None


def baseline(case: Case) -> dict[str, Any]:
    """Everything about a case that does not depend on the scan."""
    t0 = time.perf_counter()
    poisoned = case.mask
    ds = case.train
    cl_scores, cl_issues = run_cleanlab(ds, case.seed)
    models = {"all": case.model(np.ones(len(poisoned), dtype=bool)),
              "oracle": case.model(~poisoned) if poisoned.any() else None,
              "cleanlab": case.model(~cl_issues)}
    models["oracle"] = models["oracle"] or models["all"]
    if case.attack == "backdoor":
        models["clean"] = case.clean_model()
    ap: dict[str, float | None] = {}
    if poisoned.any():
        ap["cleanlab"] = _ap(poisoned, cl_scores)
        ap["knn10"] = _ap(poisoned, run_knn(ds, case.seed)[0])
        for m in ("pyod-iforest", "pyod-lof", "pyod-ecod"):
            ap[m] = _ap(poisoned, run_pyod(m, case.X, case.seed)[0])
    return {"key": case.key, "rows": int(len(poisoned)), "poisoned": int(poisoned.sum()),
            "attack_params": case.params, "models": models, "ap": ap,
            "cleanlab_removed": int(cl_issues.sum()),
            "cleanlab_clean_removed": float(cl_issues[~poisoned].mean()),
            "seconds": time.perf_counter() - t0}


def scan_part(case: Case, base: dict[str, Any]) -> dict[str, Any]:
    """The scan, its decision and the model on its clean split."""
    from poisonguard import scan

    t0 = time.perf_counter()
    result = scan(case.train.frame, label=case.label, seed=case.seed)
    secs = time.perf_counter() - t0
    sc = result.scores
    assert sc is not None and len(sc) == len(case.mask)
    has_decision = "decision" in sc.columns
    quarantine = (sc["decision"] == "quarantine").to_numpy() if has_decision else sc["flagged"].to_numpy(bool)
    review = (sc["decision"] == "review").to_numpy() if has_decision else None
    poisoned = case.mask
    row: dict[str, Any] = {
        "quarantined": int(quarantine.sum()),
        "clean_quarantined": float(quarantine[~poisoned].mean()),
        "poisoned_quarantined": float(quarantine[poisoned].mean()) if poisoned.any() else None,
        "review": float(review.mean()) if review is not None else None,
        "clean_review": float(review[~poisoned].mean()) if review is not None else None,
        "verdict": getattr(result, "status", None) or result.verdict,
        "scan_seconds": secs,
    }
    models = dict(base["models"], scan=case.model(~quarantine))
    for m in MODELS:
        if m in models:
            row[f"acc_{m}"] = models[m]["acc"]
            if "backdoor" in models[m]:
                row[f"backdoor_{m}"] = models[m]["backdoor"]
    gain = models["oracle"]["acc"] - models["all"]["acc"]
    for col, m in (("won_back", "scan"), ("won_back_cleanlab", "cleanlab")):
        row[col] = (models[m]["acc"] - models["all"]["acc"]) / gain if gain >= 0.01 else None
    if poisoned.any():
        row["ap_suspicion"] = _ap(poisoned, sc["suspicion"].to_numpy(float))
        for d in result.detectors:
            if d.name in sc.columns:
                row[f"ap_det:{d.name}"] = _ap(poisoned, sc[d.name].to_numpy(float))
        for a, v in base["ap"].items():
            row[f"ap_anchor:{a}"] = v
    return row


def run_case(dataset: str, attack: str, seed: int, refresh: bool = False) -> dict[str, Any]:
    from poisonguard.errors import UsageError

    warnings.simplefilter("ignore")  # cleanlab / PyOD / scikit-learn chatter would bury the progress lines
    head = {"dataset": dataset, "attack": attack, "seed": seed}
    try:
        return _run_case(head, refresh)
    except UsageError as exc:  # an attack the dataset cannot take
        return {**head, "skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one case failing must not lose a long run
        import traceback

        traceback.print_exc()
        return {**head, "skipped": f"ERROR {type(exc).__name__}: {exc}"}


def cached_baseline(case: Case, refresh: bool = False) -> tuple[dict[str, Any], bool]:
    """The case's :func:`baseline`, from the cache when there (and not ``refresh``), else computed and
    cached; with whether it came from the cache."""
    path = CACHE / f"{case.key}.json"
    if path.exists() and not refresh:
        return json.loads(path.read_text()), True
    base = baseline(case)
    _write_atomic(path, json.dumps(base, indent=1, default=str).encode())
    return base, False


def _run_case(head: dict[str, Any], refresh: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    case = Case(head["dataset"], head["attack"], head["seed"], refresh=refresh)
    base, cached = cached_baseline(case, refresh)
    row = {**head, "rows": base["rows"], "poisoned": base["poisoned"], **scan_part(case, base),
           "cleanlab_clean_removed": base["cleanlab_clean_removed"], "baseline_seconds": base["seconds"],
           "baseline_cached": cached, "case_seconds": time.perf_counter() - t0}
    return row


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@functools.lru_cache(maxsize=1)
def baseline_version() -> str:
    """A digest of what the cached baselines depend on: the attacks, the data loading and encoding,
    the anchors, this file's baseline code and the libraries' versions; not the scan."""
    import cleanlab
    import pyod
    import sklearn

    from poisonguard import attacks, data
    from poisonguard.detectors.label_flip import oof_proba

    parts = [str(BASELINE_FORMAT), json.dumps(ATTACKS, default=str), inspect.getsource(attacks),
             inspect.getsource(data), inspect.getsource(oof_proba), inspect.getsource(run_cleanlab),
             inspect.getsource(run_knn), inspect.getsource(run_pyod), inspect.getsource(_common.load_frame),
             inspect.getsource(_common.split_70_30), inspect.getsource(Case), inspect.getsource(stamp),
             inspect.getsource(baseline), repr(_common.SHARED_DATASETS), repr(_common.ID_COLUMNS),
             *(m.__version__ for m in (np, pd, sklearn, cleanlab, pyod))]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------------- summary
def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return f"{100 * v:.1f}" if pct else f"{v:.3f}"


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds per dataset x attack; won back from the mean accuracies."""
    num = df.select_dtypes("number").columns.drop("seed", errors="ignore")
    cell = df.groupby(["attack", "dataset"], sort=False)[list(num)].mean()
    cell["seeds"] = df.groupby(["attack", "dataset"], sort=False)["seed"].count()
    gain = cell["acc_oracle"] - cell["acc_all"]
    for m, col in (("scan", "won_back"), ("cleanlab", "won_back_cleanlab")):
        cell[col] = ((cell[f"acc_{m}"] - cell["acc_all"]) / gain).where(gain >= 0.01)
    cell["scan_minus_all"] = cell["acc_scan"] - cell["acc_all"]
    det = [c for c in cell.columns if c.startswith("ap_det:")]
    anc = [c for c in cell.columns if c.startswith("ap_anchor:")]
    for cols, what in ((det, "det"), (anc, "anchor")):
        if cols:
            vals = cell[cols].astype(float)
            has = vals.notna().any(axis=1)
            cell[f"ap_best_{what}"] = vals.max(axis=1)
            cell[f"best_{what}"] = pd.Series(None, index=cell.index, dtype=object)
            cell.loc[has, f"best_{what}"] = vals[has].idxmax(axis=1).str.split(":").str[1]
    if det:
        cell["comb_minus_best_det"] = cell["ap_suspicion"] - cell["ap_best_det"]
    return cell.reset_index()


def _pivot(cell: pd.DataFrame, col: str, attacks: list[str], agg: str, pct: bool = False) -> str:
    wide = cell.pivot(index="dataset", columns="attack", values=col).reindex(columns=attacks)
    wide = wide.reindex(list(dict.fromkeys(cell["dataset"])))
    rows = [{"dataset": d, **{a: _fmt(wide.loc[d, a], pct) for a in attacks}} for d in wide.index]
    rows.append({"dataset": f"**{agg}**", **{a: _fmt(getattr(wide[a], agg)(), pct) for a in attacks}})
    return markdown_table(rows, ["dataset", *attacks])


def summarize(df: pd.DataFrame) -> str:
    parts = []
    skipped = df[df["skipped"].notna()] if "skipped" in df else df.iloc[:0]
    df = df.drop(index=skipped.index)
    if df.empty:
        return "no case ran"
    cell = _cells(df)
    attacks = [a for a in ATTACKS if a in set(cell["attack"])]
    has_review = "review" in cell and cell["review"].notna().any()
    parts.append(f"## Defence benchmark: {len(df)} cases ({len(skipped)} skipped), {df['dataset'].nunique()} datasets, "
                 f"{time.strftime('%Y-%m-%d %H:%M')}, {single_thread_note()}\n\n"
                 "Cells are means over the seeds; accuracies on the clean 30 % test split; "
                 "won back = (scan - all) / (oracle - all) from the mean accuracies, blank where oracle - all < 0.01.")
    for attack in attacks:
        sub = cell[cell["attack"] == attack]
        # (header, column, percent?) of this attack's table
        cols = [("clean q %", "clean_quarantined", True)]
        cols += [("review %", "review", True)] if has_review else []
        cols += [("poison q %", "poisoned_quarantined", True)] if attack != "none" else []
        cols += [(f"acc {m}", f"acc_{m}", False) for m in ("all", "oracle", "scan", "cleanlab")
                 if attack != "none" or m != "oracle"]
        cols += [("won back", "won_back", False), ("cleanlab won back", "won_back_cleanlab", False)] \
            if attack != "none" else []
        cols += [(f"success {m}", f"backdoor_{m}", False) for m in ("all", "oracle", "scan", "clean")] \
            if attack == "backdoor" else []
        cols += [("AP comb", "ap_suspicion", False)] if attack != "none" and "ap_suspicion" in sub else []
        cols = [c for c in cols if c[1] in sub]
        table = []
        for r in sub.to_dict("records"):
            t = {"dataset": r["dataset"], "seeds": int(r["seeds"]), **{h: _fmt(r[c], pct) for h, c, pct in cols}}
            if "AP comb" in t:
                t["best det"] = f"{_fmt(r.get('ap_best_det'))} {r.get('best_det') or ''}".strip()
                t["best anchor"] = f"{_fmt(r.get('ap_best_anchor'))} {r.get('best_anchor') or ''}".strip()
            table.append(t)
        table.append({"dataset": "**mean**", **{h: _fmt(sub[c].mean(), pct) for h, c, pct in cols}})
        parts.append(f"### {attack}\n\n" + markdown_table(table, list(table[0])))

    # per-attack means
    fam = []
    for attack in attacks:
        sub = cell[cell["attack"] == attack]
        f = {"attack": attack, "datasets": len(sub), "clean q %": _fmt(sub["clean_quarantined"].mean(), True),
             **({"review %": _fmt(sub["review"].mean(), True)} if has_review else {}),
             "poison q %": _fmt(sub["poisoned_quarantined"].mean() if "poisoned_quarantined" in sub else None, True),
             **{f"acc {m}": _fmt(sub[f"acc_{m}"].mean()) for m in ("all", "oracle", "scan", "cleanlab")},
             "won back (n)": f"{_fmt(sub['won_back'].mean())} ({sub['won_back'].notna().sum()})",
             "cleanlab won back": _fmt(sub["won_back_cleanlab"].mean())}
        if "ap_suspicion" in sub and sub["ap_suspicion"].notna().any():
            anc = [c for c in sub.columns if c.startswith("ap_anchor:")]
            best = sub[anc].mean().idxmax()
            f["AP comb"] = _fmt(sub["ap_suspicion"].mean())
            f["best anchor (mean AP)"] = f"{best[10:]} {_fmt(sub[best].mean())}"
            f["comb / anchor"] = _fmt(sub["ap_suspicion"].mean() / sub[best].mean())
        fam.append(f)
    parts.append("### Per attack (means over datasets)\n\n" + markdown_table(fam, list(max(fam, key=len))))

    parts.append(acceptance(df, cell, attacks, fam, has_review))
    if len(skipped):
        parts.append("Skipped: " + "; ".join(f"{r.dataset} {r.attack} s{r.seed} ({r.skipped})"
                                             for r in skipped.itertuples()))
    return "\n\n".join(parts)


def acceptance(df: pd.DataFrame, cell: pd.DataFrame, attacks: list[str], fam: list[dict[str, Any]],
               has_review: bool) -> str:
    """The acceptance figures of issue 14: a list of the headline numbers, then the tables behind them."""
    bullets, tables = [], []
    ncell = cell[cell["attack"] == "none"]
    if len(ncell):
        none = df[df["attack"] == "none"]
        worst = none.loc[none["clean_quarantined"].idxmax()]
        bullets.append(f"Data as they are: clean rows quarantined, mean **{100 * ncell['clean_quarantined'].mean():.2f} %** "
                       f"over datasets, max **{100 * worst['clean_quarantined']:.2f} %** ({worst['dataset']} seed "
                       f"{worst['seed']}); clean-split accuracy - all-rows accuracy, mean "
                       f"**{ncell['scan_minus_all'].mean():+.4f}** (min {ncell['scan_minus_all'].min():+.4f}, "
                       f"{ncell.loc[ncell['scan_minus_all'].idxmin(), 'dataset']})."
                       + (f" Rows sent to review: mean {100 * ncell['review'].mean():.2f} %." if has_review else ""))
    att = [a for a in attacks if a != "none"]
    per = {a: cell[cell["attack"] == a] for a in att}
    if att:
        bullets.append("Won back, mean over the datasets where oracle - all >= 0.01: " + "; ".join(
            f"{a} {_fmt(c['won_back'].mean()) or '-'} (n={c['won_back'].notna().sum()})" for a, c in per.items()) + ".")
        bullets.append("Worst scan - all accuracy over the datasets: " + "; ".join(
            f"{a} {c['scan_minus_all'].min():+.3f} ({c.loc[c['scan_minus_all'].idxmin(), 'dataset']})"
            for a, c in per.items()) + ".")
        tables.append("#### Won back (scan), per dataset x attack\n\n" + _pivot(cell, "won_back", att, "mean"))
        tables.append("#### Scan - all accuracy, per dataset x attack (the worst per family in the last row)\n\n"
                      + _pivot(cell, "scan_minus_all", attacks, "min"))
    bd = per.get("backdoor")
    if bd is not None and "backdoor_clean" in bd:
        gap = bd["backdoor_scan"] - bd["backdoor_clean"]
        bullets.append(f"Backdoor: attack success of the clean-split model - the clean model's, max **{gap.max():+.3f}** "
                       f"({bd.loc[gap.idxmax(), 'dataset']}), mean {gap.mean():+.3f}.")
        rows = [{"dataset": r.dataset, "success all": _fmt(r.backdoor_all), "success oracle": _fmt(r.backdoor_oracle),
                 "success scan": _fmt(r.backdoor_scan), "success clean": _fmt(r.backdoor_clean),
                 "scan - clean": _fmt(r.backdoor_scan - r.backdoor_clean)} for r in bd.itertuples()]
        tables.append("#### Backdoor: attack success of the clean-split model - the clean model's\n\n"
                      + markdown_table(rows, list(rows[0])))
    if att and "comb_minus_best_det" in cell:
        worst = cell.loc[cell["comb_minus_best_det"].idxmin()]
        bullets.append(f"Combined AP - best single detector column AP: min **{worst['comb_minus_best_det']:+.3f}** "
                       f"({worst['dataset']}, {worst['attack']}, best column {worst['best_det']}).")
        bullets.append("Mean combined AP / best anchor's mean AP: " + "; ".join(
            f"{f['attack']} {f['comb / anchor']} ({f['best anchor (mean AP)']})" for f in fam if "comb / anchor" in f) + ".")
        tables.append("#### Combined AP - best single detector column AP (min in the last row)\n\n"
                      + _pivot(cell, "comb_minus_best_det", att, "min"))
    return "\n\n".join(["### Acceptance figures (issue 14)", "\n".join(f"- {b}" for b in bullets), *tables])


# ----------------------------------------------------------------------------------- main
def _progress(i: int, n: int, row: dict[str, Any]) -> str:
    head = f"[{i}/{n}] {row['dataset']:>23s} {row['attack']:13s} s{row['seed']}"
    if "skipped" in row:
        return f"{head} skipped: {row['skipped']}"
    won = "" if row.get("won_back") is None else f" won back {row['won_back']:+.2f}"
    pq = "" if row.get("poisoned_quarantined") is None else f" poisoned {100 * row['poisoned_quarantined']:.0f}%"
    ap = "" if row.get("ap_suspicion") is None else f" AP {row['ap_suspicion']:.2f}"
    rv = "" if row.get("review") is None else f" review {100 * row['review']:.1f}%"
    return (f"{head} quarantined clean {100 * row['clean_quarantined']:.1f}%{pq}{rv} | acc all {row['acc_all']:.3f} "
            f"oracle {row['acc_oracle']:.3f} scan {row['acc_scan']:.3f} cleanlab {row['acc_cleanlab']:.3f}{won}{ap}"
            f" | scan {row['scan_seconds']:.1f}s, baseline {'cached' if row['baseline_cached'] else 'run'}, "
            f"{row['case_seconds']:.1f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["all"], help=f"default all: {', '.join(ALL_DATASETS)}")
    ap.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help=f"datasets of {SMALL:,} rows or more run the first only")
    ap.add_argument("--quick", action="store_true", help="seed 0 only")
    ap.add_argument("--jobs", type=int, default=1, help="cases run in this many processes")
    ap.add_argument("--refresh", action="store_true", help="recompute the cached baselines")
    ap.add_argument("--out", type=Path, default=RESULTS, help="CSV of one line per case (and .md summary)")
    ap.add_argument("--render", type=Path, default=None, help="only print the summary of a saved CSV")
    args = ap.parse_args()
    if args.render:
        print(summarize(pd.read_csv(args.render)))
        return
    seeds = [0] if args.quick else args.seeds
    cases = [(d, a, s) for d in dataset_names(args.datasets) for s in seeds_for(d, seeds) for a in args.attacks]
    print(f"{len(cases)} cases, baseline version {baseline_version()}, {args.jobs} job(s)", file=sys.stderr)
    rows = []
    if args.jobs <= 1:
        for i, c in enumerate(cases, 1):
            rows.append(run_case(*c, refresh=args.refresh))
            print(_progress(i, len(cases), rows[-1]), file=sys.stderr, flush=True)
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_case, *c, refresh=args.refresh) for c in cases]
            for i, fut in enumerate(as_completed(futures), 1):
                rows.append(fut.result())
                print(_progress(i, len(cases), rows[-1]), file=sys.stderr, flush=True)
    order = {c: i for i, c in enumerate(cases)}
    df = pd.DataFrame(sorted(rows, key=lambda r: order[(r["dataset"], r["attack"], r["seed"])]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    text = summarize(df)
    args.out.with_suffix(".md").write_text(text + "\n")
    print(text)
    print(f"\n(one line per case in {args.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
