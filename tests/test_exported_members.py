"""The public surface: sorted ``__all__`` that matches what the package exports, and a fast CLI."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np

import poisonguard
from poisonguard import detectors, errors


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


def test_detector_error_is_not_public_since_nothing_raises_it():
    """A detector failing inside a scan is a result (``failures``, return code 3), not an exception."""
    assert not hasattr(poisonguard, "DetectorError") and "DetectorError" not in poisonguard.__all__
    assert not hasattr(errors, "DetectorError") and "DetectorError" not in errors.__all__
    assert "DetectorError" not in inspect.getdoc(errors)
    public = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)
              and obj.__module__ == errors.__name__}
    assert public == set(errors.__all__)


def test_a_failing_detector_is_recorded_not_raised(monkeypatch, blobs):
    from poisonguard.detectors.duplicates import DuplicateDetector
    from poisonguard.scan import scan

    def boom(self, *args, **kwargs):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(DuplicateDetector, "scan_fit", boom)  # a detector failing inside, as a bug would
    res = scan(blobs, detectors=["duplicates"])
    assert res.return_code == 3 and res.status == "incomplete"
    assert [(f.detector, f.error, f.message) for f in res.failures] == [("duplicates", "LinAlgError",
                                                                          "singular matrix")]


def test_data_package_all_is_sorted_and_exported():
    from poisonguard import data

    assert list(data.__all__) == sorted(data.__all__)
    assert all(hasattr(data, name) for name in data.__all__)
