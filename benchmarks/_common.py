"""Shared helpers of the benchmarks (run by hand, not by `make test`).

Datasets: the twelve shared UCI copies in ../shared/datasets (adult falling back to the embedded
demo data) and scikit-learn's bundled digits, breast-cancer, wine and iris. By default the
benchmarks run the seven of ../shared/ANCHOR-RESULTS.md (:data:`ANCHOR_DATASETS`); ``all`` among
the names asks for every one (:func:`dataset_names`). Protocol as in
../shared/ANCHOR-RESULTS.md: a clean stratified 30 % test split is held out, the attack is
applied to the remaining 70 %, scores are judged against the truth mask of poisoned rows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POISONGUARD_SHARED", ROOT.parent / "shared")) / "datasets"

# name -> (file, label column); ../shared/datasets/README.md
SHARED_DATASETS: dict[str, tuple[str, str]] = {
    "adult": ("adult_train.csv.gz", "income"),
    "wine-white": ("winequality_white.csv.gz", "quality"),
    "banknote": ("banknote.csv.gz", "class"),
    "pima": ("pima_diabetes.csv.gz", "outcome"),
    "wheat-seeds": ("wheat_seeds.csv.gz", "variety"),
    "adult-test": ("adult_test.csv.gz", "income"),
    "wine-red": ("winequality_red.csv.gz", "quality"),
    "haberman": ("haberman.csv.gz", "survival"),
    "new-thyroid": ("new_thyroid.csv.gz", "class"),
    "breast-cancer-wisconsin": ("breast_cancer_wisconsin.csv.gz", "class"),
    "horse-colic": ("horse_colic.csv.gz", "outcome"),
    "breast-cancer-ljubljana": ("breast_cancer_ljubljana.csv.gz", "class"),
}
# columns that identify rows rather than describe them: dropped by load_frame
ID_COLUMNS: dict[str, tuple[str, ...]] = {"horse-colic": ("hospital_number",)}
SKLEARN_DATASETS = ("digits", "breast-cancer", "wine", "iris")
# the columns of ../shared/ANCHOR-RESULTS.md: the default of iter_datasets
ANCHOR_SHARED = ("adult", "wine-white", "banknote", "pima", "wheat-seeds")
ANCHOR_DATASETS = (*ANCHOR_SHARED, "digits", "breast-cancer")
ALL_DATASETS = (*SHARED_DATASETS, *SKLEARN_DATASETS)


def load_frame(name: str) -> tuple[pd.DataFrame, str]:
    """Frame and label column of a benchmark dataset."""
    from poisonguard.data import load_dataset

    if name in SHARED_DATASETS:
        file, label = SHARED_DATASETS[name]
        path = SHARED / file
        if not path.exists() and name == "adult":
            path = ROOT / "data" / "adult.csv.gz"
        frame = load_dataset(path, label=label).frame.drop(columns=list(ID_COLUMNS.get(name, ())))
        # rows without a label (one in horse-colic) can be neither stratified nor scored
        return frame[frame[label].notna()].reset_index(drop=True), label
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast-cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine, "iris": datasets.load_iris}[name]
    bunch = loader(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "label"})
    return frame, "label"


def split_70_30(frame: pd.DataFrame, label: str, seed: int, *, with_test: bool = False) -> Any:
    """The 70 % of a stratified 70/30 split that the attack is applied to; with ``with_test``,
    ``(train, test)``, the 30 % held out clean."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=0.3, stratify=frame[label], random_state=seed)
    train = train.reset_index(drop=True)
    return (train, test.reset_index(drop=True)) if with_test else train


def attacked_splits(datasets: Iterable[str], seeds: Iterable[int], attack: str,
                    **params: Any) -> Iterator[tuple[str, int, Any]]:
    """``(dataset, seed, AttackResult)`` for each dataset and seed: the attack (``poisonguard.attacks``)
    applied to the stratified 70 % of :func:`split_70_30`, seeded like the split."""
    from poisonguard.attacks import poison
    from poisonguard.data import TabularDataset

    for name in datasets:
        frame, label = load_frame(name)
        for seed in seeds:
            base = TabularDataset.from_frame(split_70_30(frame, label, seed), label=label)
            yield name, seed, poison(base, attack, seed=seed, **params)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def ap_f1(truth: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, f1_score

    return float(average_precision_score(truth, scores)), float(f1_score(truth, flags, zero_division=0))


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def single_thread_note() -> str:
    return f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cores={os.cpu_count()}"


def dataset_names(names: Iterable[str] | None = None, default: Iterable[str] = ANCHOR_DATASETS) -> list[str]:
    """The names asked for, ``all`` expanded to :data:`ALL_DATASETS` (``default`` when none are)."""
    out: list[str] = []
    for n in names or default:
        for m in ALL_DATASETS if n == "all" else (n,):
            if m not in ALL_DATASETS:
                raise SystemExit(f"unknown dataset {m!r}; choose from: all, {', '.join(ALL_DATASETS)}")
            if m not in out:
                out.append(m)
    return out


def iter_datasets(names: list[str] | None = None) -> Iterator[str]:
    yield from dataset_names(names)
