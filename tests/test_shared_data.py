"""Missing shared data fails loudly, the same way in every test file (never a skip in one file
and a failure in another), and no test names the shared folder by an absolute path."""

from __future__ import annotations

from pathlib import Path

import pytest

import conftest

TESTS = Path(__file__).resolve().parent


def test_a_missing_shared_dataset_fails_the_test(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="banknote.csv.gz is missing"):
        conftest.shared_path("banknote.csv.gz")


def test_validation_tests_fail_on_missing_shared_data_too(monkeypatch, tmp_path):
    import test_validation

    monkeypatch.setattr(conftest, "SHARED", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        test_validation._dataset_path("wheat_seeds")


def test_provenance_tests_fail_on_missing_demo_data(monkeypatch, tmp_path):
    import test_provenance

    monkeypatch.setattr(test_provenance, "DEMO", tmp_path / "adult.csv.gz", raising=False)
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        test_provenance.demo_data()


def test_no_test_hard_codes_the_shared_folder():
    hard_coded = [p.name for p in TESTS.glob("*.py") if p != Path(__file__) and "/work/shared" in p.read_text()]
    assert hard_coded == []
