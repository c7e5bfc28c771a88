"""The public surface: sorted ``__all__`` that matches what the package exports, and a fast CLI."""

from __future__ import annotations

import subprocess
import sys

import poisonguard
from poisonguard import detectors


def test_all_is_sorted_and_exported():
    assert list(poisonguard.__all__) == sorted(poisonguard.__all__)
    for name in poisonguard.__all__:
        assert hasattr(poisonguard, name), name
    public = {n for n in dir(poisonguard) if not n.startswith("_") and not isinstance(getattr(poisonguard, n), type(sys))}
    assert public <= set(poisonguard.__all__) | {"annotations"}


def test_detectors_all_sorted():
    assert list(detectors.__all__) == sorted(detectors.__all__)


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from poisonguard.cli import main; rc = main(['--help']); "
            "heavy = [m for m in ('great_expectations', 'mlflow', 'dvc', 'sklearn.ensemble') if m in sys.modules]; "
            "print(heavy); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "scan" in out.stdout and "validate" in out.stdout


def test_version_option(cli):
    rc, out, _ = cli("--version")
    assert rc == 0 and poisonguard.__version__ in out
