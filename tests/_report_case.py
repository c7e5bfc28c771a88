"""A small, real set of stage results for the report tests (shared by test_reports and
test_html_chromium): real scan, validation and provenance runs on 600 rows of the demo data, with
hostile values planted in a categorical column of rows the scan will flag, and a drift result
built directly (training models through MLflow is the tracking tests' business).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from poisonguard.data import load_dataset, write_frame

#: Values planted in the ``workclass`` column; none may reach the HTML unescaped.
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "\"><svg onload=alert(3)>")

DEMO = Path(__file__).resolve().parents[1] / "data" / "adult.csv.gz"


def build_case(tmp: Path) -> dict:
    """Write trusted / incoming data, run the stages, return the paths of their results.

    The incoming batch gets 12 rows far outside the trusted ranges (caught by the outlier
    detector) whose ``workclass`` holds :data:`PAYLOADS` (an unexpected value: the validation's
    value-set expectation fails on them too).
    """
    from poisonguard import scan
    from poisonguard.provenance import create_manifest, generate_keypair, verify_manifest
    from poisonguard.tracking import DriftResult
    from poisonguard.tracking._result import ClassDrift, TriggerProbe
    from poisonguard.validation import infer_suite, validate, write_suite

    frame = load_dataset(DEMO, label="income").frame.sample(n=1200, random_state=1).reset_index(drop=True)
    trusted, incoming = frame.iloc[:600].reset_index(drop=True), frame.iloc[600:].reset_index(drop=True).copy()
    rows = np.arange(20, 260, 20)
    incoming["workclass"] = incoming["workclass"].astype(object)
    for i, r in enumerate(rows):
        incoming.loc[r, "workclass"] = PAYLOADS[i % len(PAYLOADS)]
        incoming.loc[r, ["age", "hours_per_week"]] = [90, 99]
        incoming.loc[r, "capital_gain"] = 99999
        incoming.loc[r, "capital_loss"] = 4356
        incoming.loc[r, "fnlwgt"] = 1_400_000 + r
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    write_frame(trusted, data / "trusted.csv", "csv")
    write_frame(incoming, data / "incoming.csv", "csv")

    out = tmp / "reports"
    scan_r = scan(data / "incoming.csv", label="income", detectors=["outliers", "duplicates"], out=out / "scan")
    suite = tmp / "suite.json"
    write_suite(infer_suite(data / "trusted.csv", label="income"), suite)
    val = validate(data / "incoming.csv", suite)
    val.write_json(out / "validation.json")
    keys = generate_keypair(tmp / "keys", name="demo")
    create_manifest([str(data / "trusted.csv"), str(data / "incoming.csv")], tmp / "manifest.json",
                    key=keys.private_key, base_dir=tmp)
    prov = verify_manifest(tmp / "manifest.json", keys=[keys.public_key], base_dir=tmp)
    prov.write_json(out / "provenance.json")
    drift = DriftResult(
        run_id="candidate0001", champion_run_id="champion0001", champion_source="test", parameters={},
        canary={"path": str(data / "trusted.csv"), "n_rows": 600},
        metrics={"champion_accuracy": 0.85, "candidate_accuracy": 0.84, "churn": 0.03, "js_divergence": 0.0002},
        classes=(ClassDrift("<=50K", 450, 0.93, 0.92, -0.01), ClassDrift(">50K", 150, 0.62, 0.60, -0.02)),
        probes=(TriggerProbe(rule={"conditions": [{"column": "workclass", "op": "==", "value": PAYLOADS[0]}],
                                   "target": ">50K"}, target=">50K", skipped="demo probe, not run"),),
    )
    drift.write_json(out / "drift.json")
    return {"root": tmp, "out": out, "scan": out / "scan" / "report.json", "validation": out / "validation.json",
            "provenance": out / "provenance.json", "drift": out / "drift.json", "incoming": data / "incoming.csv",
            "planted_rows": rows.tolist(), "scan_result": scan_r, "validation_result": val}


def reports_of(case: dict) -> list[Path]:
    return [case["provenance"], case["validation"], case["scan"], case["drift"]]


def frame_row(case: dict, row: int) -> pd.Series:
    return pd.read_csv(case["incoming"], dtype=str, keep_default_na=False).iloc[row]
