"""The stage results as data: every result class round-trips through its JSON, and a report of a
schema version this poisonguard does not read is refused, by the gate too, in one line naming the file."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from poisonguard._result import StageResult
from poisonguard.errors import DataError
from poisonguard.gate import gate
from poisonguard.provenance import Finding, ManifestRef, ProvenanceResult, SourceStatus
from poisonguard.scan import DetectorSummary, Failure, FlaggedRow, ScanResult
from poisonguard.tracking import ClassDrift, DriftResult, PromotionResult, TriggerProbe
from poisonguard.validation import ExpectationOutcome, ValidationResult
from poisonguard.verdict import Check, StageOutcome, Verdict


def _scan() -> ScanResult:
    return ScanResult(
        inputs={"data": {"path": "data/in.csv", "sha256": "ab" * 32, "rows": 100, "label": "y"}},
        parameters={"detectors": ["label_flip"], "seed": 0}, n_rows=100, n_quarantined=2, suspected=True,
        reasons=("label_flip: 12% of the labels disagree",),
        detectors=(DetectorSummary("label_flip", "label_flip", True, 2, True, "12% disagree", {"k": [1, 2]}),),
        quarantined=(FlaggedRow(3, 0.9, ("label_flip: labelled 'a'",), id="r3", label="a"),
                 FlaggedRow(7, 0.8, ("label_flip: labelled 'b'",), label="b")),
        n_review=1, review=(FlaggedRow(9, 0.4, ("outliers: far",)),),
        decision={"method": "bh", "level": 0.1, "quarantine": 2, "review": 1, "keep": 97},
        failures=(Failure("outliers", "ValueError", "no numeric column"),),
        outputs={"quarantine": "out/quarantine.csv"}, reference={"delta": {"added": 3}})


def _validation() -> ValidationResult:
    return ValidationResult(
        suite_name="s", inputs={"data": {"path": "data/in.csv", "rows": 100}}, parameters={"max_rows": 10},
        outcomes=(ExpectationOutcome("expect_column_values_to_be_between", "x", {"column": "x", "min_value": 0},
                                     False, unexpected_count=2, unexpected_rows=(1, 5), why="trusted range"),
                  ExpectationOutcome("expect_table_row_count_to_be_between", None, {}, True, severity="warning",
                                     observed_value=100, details={"a": 1})),
        failures=({"type": "expect_x", "column": None, "error": "boom"},), great_expectations_version="1.0")


def _provenance() -> ProvenanceResult:
    return ProvenanceResult(operation="verify", manifests=(ManifestRef("manifest", "m.json", "cd" * 32),),
                            keyids=("ef" * 32,), sources=(SourceStatus("data/in.csv", "ab" * 32, 10, "failed"),),
                            findings=(Finding("data/in.csv", "digest_mismatch", "changed"),
                                      Finding("(manifest)", "unlisted", "extra file", "warning")),
                            parameters={"strict": True}, failures=("s3 unreachable",))


def _drift() -> DriftResult:
    return DriftResult(run_id="run1", champion_run_id="run0", champion_source="test", canary={"path": "c.csv"},
                       parameters={"max_churn": 0.1}, metrics={"churn": 0.2, "accuracy_delta": -0.1},
                       classes=(ClassDrift("a", 40, 0.9, 0.7, -0.2),),
                       probes=(TriggerProbe(rule={"conditions": [{"column": "x", "op": "==", "value": 9}],
                                                  "target": "b"}, target="b", n_rows=5, champion_rate=0.0,
                                            candidate_rate=1.0, increase=1.0, suspected=True),
                               TriggerProbe(rule={"conditions": []}, target="c", skipped="no rows")),
                       probes_note=None, suspected=True, reasons=("20.0% churn", "trigger rule x == 9 -> b: ..."),
                       reason_codes=("churn", "trigger"))


def _promotion() -> PromotionResult:
    return PromotionResult(run_id="run1", model_name="m", promoted=False, refusals=("drift suspected",))


def _verdict() -> Verdict:
    return Verdict(verdict="fail", reasons=("scan/x: bad",),
                   stages=(StageOutcome("scan", "required", "failed", "100 rows", 1, "report.json"),),
                   checks=(Check("scan/x", "scan", "x", "failed", "bad", True, "data/in.csv"),),
                   counts={"checks": 1, "failed": 1}, policy={"required": ["scan"]},
                   inputs=({"path": "report.json", "kind": "scan", "status": "read", "sha256": "ab" * 32},))


BUILDERS: dict[type[StageResult], Callable[[], StageResult]] = {
    ScanResult: _scan, ValidationResult: _validation, ProvenanceResult: _provenance, DriftResult: _drift,
    PromotionResult: _promotion, Verdict: _verdict}


def _all_result_classes() -> set[type]:
    out: set[type] = set()
    todo = list(StageResult.__subclasses__())
    while todo:
        cls = todo.pop()
        out.add(cls)
        todo.extend(cls.__subclasses__())
    return {c for c in out if c.__module__.startswith("poisonguard.")}


def test_every_result_class_has_a_round_trip_case():
    assert _all_result_classes() <= set(BUILDERS)


@pytest.mark.parametrize("cls", list(BUILDERS), ids=lambda c: c.__name__)
def test_from_dict_of_to_dict_is_the_result(cls):
    r = BUILDERS[cls]()
    assert isinstance(r, cls)
    assert cls.from_dict(r.to_dict()) == r
    assert cls.from_dict(json.loads(r.to_json())) == r  # through JSON text too


@pytest.mark.parametrize("version", ["0.9", "99.0", "two", None])
def test_a_schema_version_it_does_not_read_is_refused(version):
    data = _validation().to_dict()
    data["schema_version"] = version
    if version is None:
        del data["schema_version"]
    with pytest.raises(DataError, match="re-run the validation stage with this poisonguard version") as err:
        ValidationResult.from_dict(data, source="reports/validation.json")
    msg = str(err.value)
    assert msg.startswith("reports/validation.json: ") and "\n" not in msg
    assert ("upgrade poisonguard" in msg) == (version == "99.0")


def test_the_gate_refuses_a_stale_report_in_one_line_naming_the_file(tmp_path, cli):
    path = tmp_path / "reports" / "validation.json"
    path.parent.mkdir()
    data = _validation().to_dict()
    data["schema_version"] = "0.1"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=str(path)):
        gate([path])
    rc, out, err = cli("gate", str(path))
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert str(path) in lines[0] and "schema_version '0.1'" in lines[0]
    assert "re-run the validation stage with this poisonguard version" in lines[0]


def test_a_report_missing_fields_is_refused_naming_the_file(tmp_path, cli):
    path = tmp_path / "report.json"
    data = _scan().to_dict()
    del data["n_rows"]
    path.write_text(json.dumps(data))
    rc, _, err = cli("gate", str(path))
    assert rc == 2 and str(path) in err and "not a valid scan result" in err and len(err.strip().splitlines()) == 1


def _old_scan_report(new: ScanResult, version: str) -> dict:
    """``new`` as poisonguard wrote it in scan schema ``version`` (1.x to 3.x): 4.0 renamed ``verdict``
    to the boolean ``suspected``, ``n_flagged`` / ``flagged`` to ``n_quarantined`` / ``quarantined``;
    3.0 renamed ``input`` to ``inputs["data"]``; 2.0 moved the detectors' ``seconds`` to timings.json."""
    old = new.to_dict()
    old["schema_version"] = version
    old["verdict"] = "suspected" if old.pop("suspected") else "clean"
    old["n_flagged"] = old.pop("n_quarantined")
    old["flagged"] = old.pop("quarantined")
    if int(version.split(".")[0]) < 3:
        old["input"] = old.pop("inputs")["data"]
    if version.startswith("1."):
        for det in old["detectors"]:
            det["seconds"] = 0.0
    return old


@pytest.mark.parametrize("version", ["1.0", "2.0", "3.0"])
def test_an_old_scan_report_is_still_read(tmp_path, version):
    """Reports of scan schema 1.x, 2.x and 3.x are brought up to date by ``ScanResult._upgrade``, and the
    gate reads them as it reads a 4.0 report; the 3.x names stay readable as properties."""
    new = _scan()
    old = _old_scan_report(new, version)
    back = ScanResult.from_dict(old)
    assert back == new and back.input == new.inputs["data"]
    assert back.suspected is True and back.n_quarantined == 2 and [r.row for r in back.quarantined] == [3, 7]
    assert (back.verdict, back.n_flagged, back.flagged) == ("suspected", 2, back.quarantined)
    clean = ScanResult.from_dict({**old, "verdict": "clean", "failures": []})
    assert clean.suspected is False and clean.status == "clean" and clean.return_code == 0
    path = tmp_path / "report.json"
    path.write_text(json.dumps(old))
    v_old, v_new = gate([path]), gate([new])
    assert [c.location for c in v_old.checks if c.stage == "scan"][0] == "data/in.csv"
    assert [(c.id, c.status, c.message) for c in v_old.checks] == [(c.id, c.status, c.message) for c in v_new.checks]
    assert v_old.verdict == v_new.verdict == "fail"


def test_the_scan_report_says_suspected_and_quarantined():
    """Schema 4.0: the batch answer is the boolean ``suspected`` (as in the drift result and each
    detector), the rows taken out are ``quarantined``; ``verdict`` and ``n_flagged`` are gone from the JSON."""
    d = _scan().to_dict()
    assert d["schema_version"] == "4.0" and d["suspected"] is True and d["status"] == "suspected"
    assert d["n_quarantined"] == 2 and [r["row"] for r in d["quarantined"]] == [3, 7]
    assert not {"verdict", "n_flagged", "flagged"} & set(d)
    assert all(isinstance(det["suspected"], bool) and "n_flagged" in det for det in d["detectors"])


def test_drift_reasons_are_classified_by_code_not_wording():
    r = _drift()
    assert r.canary_reasons == ("20.0% churn",)
    v = gate([r])
    failed = sorted(c.id for c in v.failed_checks)
    assert failed == ["drift/canary", "drift/trigger[x == 9 -> b]"]
    # a trigger probe's reason worded like anything else is still a trigger reason
    reworded = DriftResult.from_dict({**r.to_dict(), "reasons": ["churn up", "a trigger works"]})
    assert reworded.canary_reasons == ("churn up",)
    # a schema 1.0 report recorded no codes: the reasons' wording is read once, when it is loaded
    old = {**r.to_dict(), "schema_version": "1.0"}
    del old["reason_codes"]
    assert DriftResult.from_dict(old).reason_codes == ("canary", "trigger")
    with pytest.raises(ValueError, match="one code per reason"):
        DriftResult(run_id="a", champion_run_id="b", champion_source="c", canary={}, parameters={}, metrics={},
                    reasons=("x",), reason_codes=("churn", "trigger"))


def test_scan_metrics_for_mlflow_count_every_quarantined_row():
    """``tracking.result_metrics``: ``scan.n_quarantined`` and ``scan.n_review`` are the counts, not the
    length of the (top rows) lists; a 3.x report's JSON keeps its own names."""
    from poisonguard.tracking import result_metrics

    new = dataclasses.replace(_scan(), n_quarantined=40, n_review=9)
    m = result_metrics(new)
    assert (m["scan.n_quarantined"], m["scan.n_review"], m["scan.suspected"]) == (40.0, 9.0, 1.0)
    assert m["scan.quarantined_share"] == 0.4 and "scan.n_flagged" not in m
    old = result_metrics(_old_scan_report(new, "3.0"))
    assert (old["scan.n_flagged"], old["scan.flagged_share"], old["scan.suspected"]) == (40.0, 0.4, 1.0)
