"""The gate: policy, checks per stage, "not run" never counts as passed, the CLI."""

from __future__ import annotations

import json

import pytest

from poisonguard.errors import ConfigError, DataError
from poisonguard.gate import GatePolicy, Verdict, gate, load_policy
from poisonguard.provenance import Finding, ProvenanceResult, SourceStatus
from poisonguard.scan import DetectorSummary, Failure, ScanResult
from poisonguard.tracking import DriftResult
from poisonguard.tracking._result import ClassDrift, TriggerProbe
from poisonguard.validation import ExpectationOutcome, ValidationResult

ALL = {"required": ["provenance", "validation", "scan"], "optional": ["drift"]}


def scan_result(*, suspected: bool = False, failures: tuple = (), n_quarantined: int = 5) -> ScanResult:
    dets = (DetectorSummary("label_flip", "label_flip", True, n_quarantined, suspected,
                            "12% of the labels disagree" if suspected else "", {}),
            DetectorSummary("sensitive_data", "sensitive", False, 0, False, "", {}))
    return ScanResult(inputs={"data": {"path": "data/in.csv", "label": "y"}}, parameters={}, n_rows=100,
                      n_quarantined=n_quarantined, suspected=suspected,
                      reasons=("label_flip: 12% of the labels disagree",) if suspected else (),
                      detectors=dets, failures=failures)


def validation_result(*, critical: bool = False, warning: bool = False) -> ValidationResult:
    outs = [ExpectationOutcome("expect_table_row_count_to_be_between", None, {"min_value": 1}, True, observed_value=100),
            ExpectationOutcome("expect_column_values_to_be_in_set", "colour", {"value_set": ["red"]}, not critical,
                               unexpected_count=2 if critical else None, unexpected_rows=(3, 7) if critical else ()),
            ExpectationOutcome("expect_column_mean_to_be_between", "x", {"min_value": 0, "max_value": 1}, not warning,
                               severity="warning", observed_value=3.0)]
    return ValidationResult(suite_name="s", outcomes=tuple(outs), inputs={"data": {"path": "data/in.csv", "rows": 100}})


def provenance_result(*, tampered: bool = False) -> ProvenanceResult:
    findings = (Finding("data/in.csv", "digest_mismatch", "data/in.csv: SHA-256 mismatch"),) if tampered else ()
    return ProvenanceResult(operation="verify", sources=(SourceStatus("data/in.csv", "ab" * 32, 10,
                                                                      "failed" if tampered else "ok"),),
                            findings=findings, keyids=("k" * 64,))


def drift_result(*, suspected: bool = False, probe: bool = False) -> DriftResult:
    reasons = ("recall of class 'a' fell by 0.2",) if suspected else ()
    codes = ("class_recall_drop",) if suspected else ()
    probes = (TriggerProbe(rule={"conditions": [{"column": "x", "op": "==", "value": 9}], "target": "b"}, target="b",
                           n_rows=50, champion_rate=0.1, candidate_rate=0.9, increase=0.8, suspected=probe),)
    if probe:
        reasons += ("trigger rule x == 9 -> b: the candidate predicts 'b' for 90.0%",)
        codes += ("trigger",)
    return DriftResult(run_id="run1", champion_run_id="run0", champion_source="test", canary={"path": "canary.csv"},
                       parameters={}, metrics={"churn": 0.01}, classes=(ClassDrift("a", 40, 0.9, 0.7, -0.2),),
                       probes=probes, suspected=bool(reasons), reasons=reasons, reason_codes=codes)


def clean_results() -> list:
    return [provenance_result(), validation_result(), scan_result(), drift_result()]


def test_all_clean_passes_with_one_check_per_item():
    v = gate(clean_results(), ALL)
    assert isinstance(v, Verdict) and v.verdict == "pass" and v.return_code == 0
    ids = [c.id for c in v.checks]
    assert "provenance/data/in.csv" in ids and "scan/label_flip" in ids and "drift/canary" in ids
    assert "validation/expect_column_values_to_be_in_set[colour]" in ids
    assert v.counts == {"checks": len(v.checks), "passed": len(v.checks), "failed": 0, "warnings": 0, "skipped": 0}
    assert [s.stage for s in v.stages] == ["provenance", "validation", "scan", "drift"]


def test_missing_required_stage_is_not_run_and_fails():
    v = gate([provenance_result(), validation_result()], ALL)
    assert v.verdict == "fail"
    not_run = {c.stage: c for c in v.checks if c.status == "not_run"}
    assert set(not_run) == {"scan", "drift"}
    assert not_run["scan"].fails_gate and "did not run" in not_run["scan"].message
    assert not not_run["drift"].fails_gate  # optional: reported, not failing
    assert v.counts["failed"] == 1 and v.counts["skipped"] == 1
    assert any(r.startswith("scan/not-run") for r in v.reasons)


def test_missing_report_file_counts_as_not_run(tmp_path):
    v = gate([tmp_path / "nope" / "report.json"], {"required": ["scan"], "optional": []})
    assert v.verdict == "fail"
    assert v.inputs[0]["status"] == "missing"
    assert "nope/report.json" in v.checks[0].message


def test_missing_optional_stage_alone_does_not_fail():
    v = gate(clean_results()[:3], ALL)
    assert v.verdict == "pass"
    assert [s.status for s in v.stages if s.stage == "drift"] == ["not_run"]


def test_suspected_scan_fails_naming_the_detector():
    v = gate([provenance_result(), validation_result(), scan_result(suspected=True)], ALL)
    assert v.verdict == "fail"
    assert [c.id for c in v.failed_checks] == ["scan/label_flip"]
    assert "12% of the labels" in v.reasons[0]


def test_validation_critical_fails_warning_does_not():
    v = gate([provenance_result(), validation_result(warning=True), scan_result()], ALL)
    assert v.verdict == "pass" and v.counts["warnings"] == 1
    v = gate([provenance_result(), validation_result(critical=True), scan_result()], ALL)
    assert v.verdict == "fail"
    (failed,) = v.failed_checks
    assert failed.id == "validation/expect_column_values_to_be_in_set[colour]" and "3, 7" in failed.message


def test_fail_on_warnings():
    v = gate([provenance_result(), validation_result(warning=True), scan_result()], {**ALL, "fail_on_warnings": True})
    assert v.verdict == "fail"


def test_advisory_stage_failure_is_a_warning():
    pol = {"required": ["provenance", "validation", "scan"], "advisory": ["drift"], "optional": []}
    v = gate([*clean_results()[:3], drift_result(suspected=True)], pol)
    assert v.verdict == "pass"
    assert [c.status for c in v.checks if c.id == "drift/canary"] == ["warning"]


def test_provenance_tampering_fails_at_the_source():
    v = gate([provenance_result(tampered=True), validation_result(), scan_result()], ALL)
    (failed,) = v.failed_checks
    assert failed.id == "provenance/data/in.csv" and failed.location == "data/in.csv"
    assert "digest_mismatch" in failed.message


def test_detector_error_policy():
    res = scan_result(failures=(Failure("outliers", "ValueError", "boom"),))
    assert res.return_code == 3
    v = gate([provenance_result(), validation_result(), res], ALL)
    assert [c.id for c in v.failed_checks] == ["scan/outliers"]
    v = gate([provenance_result(), validation_result(), res], {**ALL, "fail_on_detector_error": False})
    # the result's own return code (3) still fails the stage: an unexplained non-zero code never passes
    assert v.verdict == "fail" and [c.id for c in v.failed_checks] == ["scan/result"]


def test_max_quarantine_share():
    v = gate([provenance_result(), validation_result(), scan_result(n_quarantined=30)], {**ALL, "max_quarantine_share": 0.25})
    assert [c.id for c in v.failed_checks] == ["scan/quarantine-share"]
    v = gate([provenance_result(), validation_result(), scan_result(n_quarantined=20)], {**ALL, "max_quarantine_share": 0.25})
    assert v.verdict == "pass"


def test_drift_probe_and_canary_checks():
    v = gate([*clean_results()[:3], drift_result(probe=True)], ALL)
    assert [c.id for c in v.failed_checks] == ["drift/trigger[x == 9 -> b]"]
    v = gate([*clean_results()[:3], drift_result(suspected=True)], ALL)
    assert [c.id for c in v.failed_checks] == ["drift/canary"]


def test_unknown_kind_is_checked_by_its_return_code():
    v = gate([*clean_results()[:3], {"kind": "promotion", "return_code": 1}], ALL)
    assert [c.id for c in v.failed_checks] == ["promotion/result"]


def test_plain_dicts_and_report_files(tmp_path):
    paths = []
    for i, r in enumerate(clean_results()):
        p = tmp_path / f"r{i}.json"
        r.write_json(p)
        paths.append(p)
    v = gate(paths, ALL)
    assert v.verdict == "pass" and all(i["sha256"] for i in v.inputs)
    assert gate([json.loads(p.read_text()) for p in paths], ALL).counts == v.counts


def test_bad_reports_are_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    for name in ("bad.json", "other.json"):
        with pytest.raises(DataError):
            gate([tmp_path / name])
    with pytest.raises(DataError):
        gate([tmp_path])


@pytest.mark.parametrize("bad", [{"requird": ["scan"]}, {"required": "scan"}, {"fail_on_warnings": "yes"},
                                 {"max_quarantine_share": 2}, {"required": ["scan"], "optional": ["scan"]}])
def test_policy_is_validated(bad):
    with pytest.raises(ConfigError):
        GatePolicy.from_mapping(bad)


def test_policy_from_params_and_aliases(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("gate:\n  required: [validate, scan]\n  optional: []\n")
    pol = load_policy(p)
    assert pol.required == ("validation", "scan")
    assert load_policy(None) == GatePolicy()
    with pytest.raises(ConfigError):
        load_policy(tmp_path / "missing.yaml")


def test_verdict_round_trip():
    v = gate(clean_results()[:2], ALL)
    d = v.to_dict()
    assert d["kind"] == "gate" and "reports" not in d and d["return_code"] == 1
    back = Verdict.from_dict(json.loads(json.dumps(d)))
    assert back.checks == v.checks and back.stages == v.stages and back.verdict == v.verdict
    assert "FAIL" in str(v)


def test_cli_gate(cli, tmp_path):
    paths = []
    for i, r in enumerate(clean_results()):
        p = tmp_path / f"r{i}.json"
        r.write_json(p)
        paths.append(str(p))
    params = tmp_path / "params.yaml"
    params.write_text("gate:\n  required: [provenance, validation, scan]\n  optional: [drift]\n")
    rc, out, _ = cli("gate", *paths, "--params", str(params), "--out", str(tmp_path / "out"))
    assert rc == 0 and "gate: PASS" in out
    for name in ("gate.json", "summary.md", "junit.xml", "results.sarif", "report.html"):
        assert (tmp_path / "out" / name).is_file(), name
    rc, out, _ = cli("gate", *paths[:2], "--params", str(params), "--format", "json")
    assert rc == 1 and json.loads(out)["verdict"] == "fail"
    (tmp_path / "bad.json").write_text("[]")
    rc, _, err = cli("gate", str(tmp_path / "bad.json"))
    assert rc == 2 and "not a poisonguard stage result" in err


# -- issue 17: the default policy requires the stages given; flat metrics; --exit-zero ------------------------
def test_default_policy_requires_the_stages_given():
    v = gate([scan_result()])  # a pipeline with only a scan needs no policy
    assert v.verdict == "pass", v.reasons
    assert {s.stage: (s.role, s.status) for s in v.stages} == {"scan": ("required", "passed"),
                                                              "drift": ("optional", "not_run")}
    assert list(v.policy["required"]) == ["scan"]
    v = gate([scan_result(suspected=True), validation_result()])
    assert v.verdict == "fail" and [s.role for s in v.stages if s.stage == "validation"] == ["required"]


def test_default_policy_fails_on_a_report_given_but_missing(tmp_path):
    v = gate([scan_result(), tmp_path / "provenance.json"])
    assert v.verdict == "fail"
    assert [c.id for c in v.failed_checks] == ["report/not-run"]
    assert v.failed_checks[0].location == str(tmp_path / "provenance.json")
    assert {s.stage: s.status for s in v.stages}["report"] == "not_run"


def test_an_explicit_policy_still_requires_stages_not_given():
    v = gate([scan_result()], {"required": ["provenance", "scan"]})
    assert v.verdict == "fail" and [c.id for c in v.failed_checks] == ["provenance/not-run"]


def test_flat_metrics_of_every_result(tmp_path):
    v = gate([provenance_result(tampered=True), validation_result(critical=True), scan_result(suspected=True),
              drift_result(suspected=True)], ALL)
    assert v.flat_metrics() == {"failed": 1, "checks": v.counts["checks"], "checks_failed": v.counts["failed"],
                                "warnings": 0, "skipped": 0, "provenance_failed": 1, "validation_failed": 1,
                                "scan_failed": 1, "drift_failed": 1}
    assert scan_result(suspected=True).flat_metrics() == {
        "failed": 1, "rows": 100, "quarantined": 5, "quarantined_share": 0.05, "review": 0, "detector_failures": 0,
        "label_flip_suspected": 1, "label_flip_flagged": 5, "sensitive_data_suspected": 0, "sensitive_data_flagged": 0}
    assert validation_result(critical=True, warning=True).flat_metrics() == {
        "failed": 1, "expectations": 3, "expectations_failed": 2, "critical_failed": 1, "rows": 100}
    assert provenance_result().flat_metrics() == {"failed": 0, "sources": 1, "errors": 0, "warnings": 0,
                                                  "signatures": 1}
    assert drift_result(probe=True).flat_metrics() == {"failed": 1, "churn": 0.01, "probes": 1,
                                                       "probes_suspected": 1}
    p = scan_result().write_metrics(tmp_path / "m" / "scan.json")
    doc = json.loads(p.read_text())
    assert doc["failed"] == 0 and all(isinstance(x, (int, float)) for x in doc.values())


def test_cli_gate_metrics_and_exit_zero(cli, tmp_path):
    report = tmp_path / "report.json"
    scan_result(suspected=True).write_json(report)
    rc, out, _ = cli("gate", str(report), "--metrics", str(tmp_path / "metrics" / "gate.json"))
    assert rc == 1 and "gate: FAIL" in out
    assert json.loads((tmp_path / "metrics" / "gate.json").read_text())["scan_failed"] == 1
    rc, out, _ = cli("gate", str(report), "--exit-zero")
    assert rc == 0 and "gate: FAIL" in out
    rc, _, err = cli("gate", str(report), "--params", str(tmp_path / "none.yaml"))  # no file: the defaults
    assert rc == 1 and "no such parameters file; using the defaults" in err
    rc, _, err = cli("gate", str(report), "--metrics", str(report))
    assert rc == 2 and "would overwrite the input" in err
