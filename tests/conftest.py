"""Shared fixtures: small real datasets with known injected poison (from poisonguard's own
attack simulator), paths to the shared datasets, and a quiet environment for third parties."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POISONGUARD_SHARED", ROOT.parent / "shared")) / "datasets"
DEMO = ROOT / "data" / "adult.csv.gz"


def shared_path(name: str) -> Path:
    """A shared dataset; the demo copy stands in for adult when ../shared is absent."""
    p = SHARED / name
    if p.exists():
        return p
    if name == "adult_train.csv.gz":
        return DEMO
    pytest.fail(f"shared dataset {p} is missing: CI runs with ../shared beside the repository")


@pytest.fixture(scope="session")
def banknote_path() -> Path:
    return shared_path("banknote.csv.gz")


@pytest.fixture(scope="session")
def adult_path() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def adult_small() -> pd.DataFrame:
    """4,000 rows of the demo data (numeric, categorical and missing values)."""
    from poisonguard.data import load_dataset

    frame = load_dataset(DEMO, label="income").frame
    return frame.sample(n=4000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def blobs() -> pd.DataFrame:
    """Three well separated Gaussian classes, 600 rows: any label flip is detectable."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=600, centers=3, n_features=4, cluster_std=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    frame["label"] = np.array(["a", "b", "c"])[y]
    return frame


@pytest.fixture()
def write(tmp_path):
    """Write a frame to tmp_path in a format chosen by the file name; return the path."""
    from poisonguard.data import detect_format, write_frame

    def _write(frame: pd.DataFrame, name: str) -> Path:
        p = tmp_path / name
        fmt, comp = detect_format(p)
        write_frame(frame, p, fmt, comp)
        return p

    return _write


@pytest.fixture()
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from poisonguard.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return rc, captured.out, captured.err

    return _run
