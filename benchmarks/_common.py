"""Shared helpers of the benchmarks (run by hand, not by `make test`).

Datasets: the shared UCI copies in ../shared/datasets (falling back to the embedded demo
data) and scikit-learn's bundled digits and breast-cancer. Protocol as in
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

# name -> (file, label column)
SHARED_DATASETS: dict[str, tuple[str, str]] = {
    "adult": ("adult_train.csv.gz", "income"),
    "wine-white": ("winequality_white.csv.gz", "quality"),
    "banknote": ("banknote.csv.gz", "class"),
    "pima": ("pima_diabetes.csv.gz", "outcome"),
    "wheat-seeds": ("wheat_seeds.csv.gz", "variety"),
}
SKLEARN_DATASETS = ("digits", "breast-cancer")


def load_frame(name: str) -> tuple[pd.DataFrame, str]:
    """Frame and label column of a benchmark dataset."""
    from poisonguard.data import load_dataset

    if name in SHARED_DATASETS:
        file, label = SHARED_DATASETS[name]
        path = SHARED / file
        if not path.exists() and name == "adult":
            path = ROOT / "data" / "adult.csv.gz"
        return load_dataset(path, label=label).frame, label
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast-cancer": datasets.load_breast_cancer}[name]
    bunch = loader(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "label"})
    return frame, "label"


def split_70_30(frame: pd.DataFrame, label: str, seed: int) -> pd.DataFrame:
    """The 70 % of a stratified 70/30 split that the attack is applied to."""
    from sklearn.model_selection import train_test_split

    train, _ = train_test_split(frame, test_size=0.3, stratify=frame[label], random_state=seed)
    return train.reset_index(drop=True)


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


def iter_datasets(names: list[str] | None = None) -> Iterator[str]:
    for n in names or [*SHARED_DATASETS, *SKLEARN_DATASETS]:
        yield n
