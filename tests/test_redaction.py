"""Issue 18, point 8: personal data planted as integers, as the id column and as categories never
reaches an output unmasked: clean / quarantine files, report.json, the inferred suite,
validation.json, gate.json and report.html."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CARD = 4111111111111111          # Visa test number (Luhn-valid), stored as an integer
SSN = 123456789                  # stored as an integer in a column named ssn
EMAIL_ID = "jane.doe{}@example.com"
CATEGORY = "bob@corp-mail.com"   # a category value that is an email


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "user": [EMAIL_ID.format(i) for i in range(n)],
        "card": np.full(n, CARD, dtype=np.int64) + np.arange(n) * 0,
        "ssn": np.full(n, SSN, dtype=np.int64),
        "contact": rng.choice([CATEGORY, "none", "phone"], n),
        "x": rng.normal(size=n),
        "label": rng.choice(["a", "b"], n),
    })
    frame.loc[7, "x"] = 1e6   # an outlier: flagged, so it is in the quarantine and report.json
    d = tmp_path_factory.mktemp("planted")
    src = d / "data.csv"
    frame.to_csv(src, index=False)
    return d, src


def _raw_in(text: str) -> list[str]:
    return [v for v in (str(CARD), str(SSN), "jane.doe7@", CATEGORY) if v in text]


def test_scan_outputs_hold_no_raw_value(planted, cli):
    d, src = planted
    code, out, err = cli("scan", str(src), "--label", "label", "--id-column", "user",
                          "--detectors", "outliers,sensitive_data", "--out", str(d / "scan"))
    assert code in (0, 1), err
    for name in ("report.json", "clean.csv", "quarantine.csv", "scores.csv"):
        assert _raw_in((d / "scan" / name).read_text()) == [], name
    assert "7" in pd.read_csv(d / "scan" / "quarantine.csv")["row"].astype(str).tolist()
    report = (d / "scan" / "report.json").read_text()
    assert "****-****-****-1111" in report and "*****6789" in (d / "scan" / "clean.csv").read_text()
    assert _raw_in(out) == []


def test_suite_validation_and_gate_hold_no_raw_value(planted, cli):
    d, src = planted
    suite = d / "suite.json"
    code, _, err = cli("expectations", "infer", str(src), "--label", "label", "--out", str(suite))
    assert code == 0, err
    text = suite.read_text()
    assert _raw_in(text) == [] and '"redacted"' in text and "contact" in text
    code, _, err = cli("validate", str(src), "--suite", str(suite), "--out", str(d / "val"))
    assert code in (0, 1), err
    assert _raw_in((d / "val" / "validation.json").read_text()) == []
    cli("scan", str(src), "--label", "label", "--id-column", "user", "--detectors", "outliers,sensitive_data",
        "--out", str(d / "scan2"))
    cli("gate", str(d / "val" / "validation.json"), str(d / "scan2" / "report.json"), "--out", str(d / "gate"),
        "--report", "json", "--report", "html", "--root", str(d))
    for name in ("gate.json", "report.html"):
        assert (d / "gate" / name).exists() and _raw_in((d / "gate" / name).read_text()) == [], name
