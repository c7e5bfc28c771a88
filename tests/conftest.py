"""Shared fixtures: small real datasets with known injected poison (from poisonguard's own
attack simulator), paths to the shared datasets, and a quiet environment for third parties.

Runners: ``cli`` runs ``poisonguard`` in-process and returns a :class:`CliResult`; ``shell`` runs
a command (``dvc``, ``git``, ``poisonguard``) in a subprocess as a user's shell would (see
``_dvc.py``). Data: ``banknote`` (the shared UCI banknote set, loaded once per session),
``adult_small``, ``blobs``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NamedTuple

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
def banknote(banknote_path):
    """The banknote data set (label ``class``), loaded once; tests must not modify it in place."""
    from poisonguard.data import load_dataset

    return load_dataset(banknote_path, label="class")


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


class CliResult(NamedTuple):
    """One CLI run: the exit code and what it printed (unpacks as ``code, out, err``)."""

    code: int
    out: str
    err: str


@pytest.fixture()
def cli(capsys):
    """Run the CLI in-process: ``cli("scan", path, ...)`` returns a :class:`CliResult`."""
    from poisonguard.cli import main

    def _run(*args: object) -> CliResult:
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(rc, captured.out, captured.err)

    return _run


class Shell:
    """Run a command in a subprocess with the test's environment first on ``PATH`` (``_dvc.env``)."""

    def __init__(self) -> None:
        from _dvc import BIN

        self.bin = BIN

    def __call__(self, args: list[str], cwd: Path, timeout: int = 900, check: bool = False
                 ) -> subprocess.CompletedProcess:
        from _dvc import run

        proc = run([str(a) for a in args], cwd, timeout)
        if check:
            assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
        return proc


@pytest.fixture(scope="session")
def shell() -> Shell:
    """``shell(["dvc", "repro"], cwd)`` -> :class:`subprocess.CompletedProcess`; ``check=True``
    asserts exit 0 with the output in the message."""
    return Shell()


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ from the current output "
                          "(also POISONGUARD_UPDATE_GOLDEN=1); review the diff before committing")


@pytest.fixture(scope="session")
def update_golden(pytestconfig) -> bool:
    """Whether golden-file tests rewrite their files instead of comparing (``--update-golden``)."""
    return bool(pytestconfig.getoption("--update-golden")) or os.environ.get("POISONGUARD_UPDATE_GOLDEN") == "1"
