"""The renderers on real stage results: SARIF against the SARIF 2.1.0 schema, JUnit counts that match
the verdict, Markdown and HTML that escape every value from the data, plots, row-to-line mapping."""

from __future__ import annotations

import base64
import gzip
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from _report_case import PAYLOADS, build_case, frame_row, reports_of

from poisonguard.gate import gate
from poisonguard.reports import code_quality_issues, render_junit, render_markdown, sarif_log, write_reports
from poisonguard.reports._findings import RULES
from poisonguard.reports._common import row_lines

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
POLICY = {"required": ["provenance", "validation", "scan"], "optional": ["drift"]}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = build_case(tmp_path_factory.mktemp("case"))
    verdict = gate(reports_of(c), POLICY)
    c["verdict"] = verdict
    c["paths"] = write_reports(verdict, c["out"], root=c["root"], policy_file="params.yaml")
    return c


def test_the_case_fails_on_scan_and_validation(case):
    v = case["verdict"]
    assert v.verdict == "fail"
    assert {c.stage for c in v.failed_checks} == {"scan", "validation"}
    assert all(p.is_file() or p.is_dir() for p in case["paths"].values())


def test_sarif_validates_against_the_schema(case):
    doc = json.loads(case["paths"]["sarif"].read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert doc["version"] == "2.1.0"


def test_sarif_rules_and_row_locations(case):
    run = json.loads(case["paths"]["sarif"].read_text(encoding="utf-8"))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == list(RULES)  # the fixed catalogue, whatever the data
    assert "scan/outliers" in ids
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["properties"]["check"] in {c.id for c in case["verdict"].checks}
    lines = (case["incoming"]).read_text(encoding="utf-8").splitlines()
    hits = [r for r in run["results"] if r["ruleId"] == "scan/outliers"]
    assert len(hits) == case["scan_result"].n_quarantined
    for res in hits:
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"] == {"uri": "data/incoming.csv", "uriBaseId": "%SRCROOT%"}
        row = res["properties"]["row"]
        line = lines[loc["region"]["startLine"] - 1]  # the row's own line of the CSV (header is line 1)
        assert frame_row(case, row)["fnlwgt"] in line.split(",")
        assert res["level"] == "error"
    planted = {r["properties"]["row"] for r in hits}
    assert set(case["planted_rows"]) <= planted
    val = [r for r in run["results"] if r["ruleId"] == "validation/expect_column_values_to_be_in_set"
           and r["properties"]["column"] == "workclass"]
    assert {r["properties"]["row"] for r in val} == set(case["planted_rows"])


def test_sarif_rule_ids_are_a_fixed_set_without_paths_or_values(case):
    v = gate(reports_of(case), POLICY)
    for notes in (False, True):
        run = sarif_log(v, root=case["root"], include_notes=notes)["runs"][0]
        assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(RULES)
        assert {r["ruleId"] for r in run["results"]} <= set(RULES)
    for rid in RULES:
        assert not any(ch in rid for ch in "[]=.&#"), rid
        assert not rid.count("/") > 1 and rid.split("/")[0] in {"provenance", "validation", "scan", "drift", "stage"}
    for r in RULES.values():
        assert r.short and r.full


def test_sarif_fingerprints_are_the_same_in_two_runs_over_the_same_data(case, tmp_path):
    """A second, independent run (new folder, new signing key, new scan) gives the same fingerprints."""
    again = build_case(tmp_path)
    first = sarif_log(case["verdict"], root=case["root"], policy_file="params.yaml")["runs"][0]["results"]
    second = sarif_log(gate(reports_of(again), POLICY), root=again["root"],
                       policy_file="params.yaml")["runs"][0]["results"]
    fp = [r["partialFingerprints"] for r in first]
    assert fp and fp == [r["partialFingerprints"] for r in second]
    assert len({tuple(d.values()) for d in fp}) == len(fp)  # one fingerprint per finding
    cq1 = code_quality_issues(case["verdict"], root=case["root"], policy_file="params.yaml")
    cq2 = code_quality_issues(gate(reports_of(again), POLICY), root=again["root"], policy_file="params.yaml")
    assert [i["fingerprint"] for i in cq1] == [i["fingerprint"] for i in cq2]
    assert [next(iter(d.values())) for d in fp] == [i["fingerprint"] for i in cq1]


def test_sarif_of_a_passing_gate_has_no_results_unless_notes_are_asked(case):
    policy = {"required": ["provenance", "scan"], "optional": ["drift"],
              "max_quarantine_share": 1.0}
    clean_scan = json.loads(case["scan"].read_text(encoding="utf-8"))
    for det in clean_scan["detectors"]:
        det["suspected"] = False
    clean_scan.update(suspected=False, return_code=0, reasons=[])
    v = gate([case["provenance"], clean_scan], policy)
    assert v.verdict == "pass", v.failed_checks
    run = sarif_log(v, root=case["root"])["runs"][0]
    assert run["results"] == [] and run["properties"]["notesLeftOut"] > 0
    noted = sarif_log(v, root=case["root"], include_notes=True)["runs"][0]["results"]
    assert noted and {r["level"] for r in noted} == {"note"}
    assert {r["ruleId"] for r in noted} >= {"scan/outliers", "drift/not-run"}
    assert code_quality_issues(v, root=case["root"]) == []


def test_code_quality_report(case):
    issues = json.loads(case["paths"]["codequality"].read_text(encoding="utf-8"))
    assert isinstance(issues, list) and issues
    for i in issues:
        assert set(i) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert i["check_name"] in RULES
        assert i["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(i["location"]["path"], str) and i["location"]["path"]
        assert isinstance(i["location"]["lines"]["begin"], int) and i["location"]["lines"]["begin"] >= 1
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    rows = [i for i in issues if i["check_name"] == "scan/outliers"]
    assert rows and {i["location"]["path"] for i in rows} == {"data/incoming.csv"}
    assert {i["severity"] for i in rows} == {"critical"}


def test_sarif_not_run_stage_is_located_at_the_policy(case):
    v = gate([case["scan"]], POLICY)
    run = sarif_log(v, root=case["root"], policy_file="params.yaml")["runs"][0]
    not_run = [r for r in run["results"] if r["ruleId"].endswith("/not-run")]
    assert {r["ruleId"] for r in not_run} == {"provenance/not-run", "validation/not-run"}  # optional drift: a note
    run = sarif_log(v, root=case["root"], policy_file="params.yaml", include_notes=True)["runs"][0]
    not_run = [r for r in run["results"] if r["ruleId"].endswith("/not-run")]
    assert {r["ruleId"] for r in not_run} == {"provenance/not-run", "validation/not-run", "drift/not-run"}
    for r in not_run:
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "params.yaml"
    assert {r["level"] for r in not_run if r["ruleId"] != "drift/not-run"} == {"error"}


def test_junit_parses_and_counts_match_the_verdict(case):
    v = case["verdict"]
    root = ET.fromstring(case["paths"]["junit"].read_bytes())
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == v.counts["checks"]
    failures = root.findall("./testsuite/testcase/failure")
    assert int(root.get("failures")) == len(failures) == v.counts["failed"] == len(v.failed_checks) > 0
    assert int(root.get("skipped")) == len(root.findall("./testsuite/testcase/skipped")) == v.counts["skipped"]
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    assert all(f.get("message") for f in failures)
    assert len({(c.get("classname"), c.get("name")) for c in cases}) == len(cases)


def test_junit_of_a_passing_verdict_has_no_failures(case):
    v = gate([case["provenance"]], {"required": ["provenance"], "optional": ["drift"]})
    root = ET.fromstring(render_junit(v).encode("utf-8"))
    assert v.verdict == "pass" and root.get("failures") == "0" and root.get("skipped") == "1"


def test_junit_survives_characters_xml_cannot_hold():
    from poisonguard.scan import DetectorSummary, ScanResult

    det = DetectorSummary(name="x", family="x", gates=True, n_flagged=1, suspected=True, reason="bad \x00\x1b value",
                          section={})
    scan = ScanResult(inputs={"data": {}}, parameters={}, n_rows=1, n_quarantined=1, suspected=True, detectors=(det,))
    v = gate([scan.to_dict()], {"required": ["scan"], "optional": []})
    root = ET.fromstring(render_junit(v).encode("utf-8"))
    assert "bad" in root.find(".//failure").get("message")


def test_html_escapes_every_value_from_the_data(case):
    html = case["paths"]["html"].read_text(encoding="utf-8")
    for payload in PAYLOADS:
        assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, escaped, in the rows table
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert not re.search(r"<script", html, re.I)
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", html, re.I)  # no event-handler attribute anywhere


def test_html_is_self_contained(case):
    html = case["paths"]["html"].read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    refs = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)""", html)
    assert refs and all(r.startswith(("data:image/png;base64,", "#")) or "://" not in r for r in refs)
    assert not re.search(r"https?://", html.split("<footer>")[0])
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(pngs) >= 4  # suspicion histogram, flagged per class, feature shift, canary recall
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    for plot in ("suspicion_histogram", "flagged_per_class", "feature_shift", "canary_recall"):
        assert f"id='plot-{plot}'" in html
    assert html.index("id='verdict'") < html.index("id='stage-provenance'")  # the verdict comes first


def test_markdown_summary(case):
    md = case["paths"]["markdown"].read_text(encoding="utf-8")
    assert md.startswith("## poisonguard gate: ❌ FAIL")
    assert "### What failed (2)" in md and "scan/outliers" in md
    for payload in PAYLOADS:
        assert payload not in md
    assert "| scan | ❌ failed |" in md
    assert "report.html" in md and "results.sarif" in md and "junit.xml" in md


def test_markdown_links_the_ci_run(case, monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/data")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    assert "https://github.com/acme/data/actions/runs/42" in render_markdown(case["verdict"])


def test_plot_tables_for_dvc(case):
    folder = case["paths"]["plots"]
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["canary_recall.csv", "feature_shift.csv", "flagged_per_class.csv", "suspicion_histogram.csv"]
    hist = (folder / "suspicion_histogram.csv").read_text().splitlines()
    assert hist[0] == "bin,low,high,rows,flagged" and len(hist) == 21
    assert sum(int(line.split(",")[3]) for line in hist[1:]) == case["scan_result"].n_rows


def test_gate_json_is_the_verdict(case):
    d = json.loads(case["paths"]["json"].read_text(encoding="utf-8"))
    assert d["kind"] == "gate" and d["verdict"] == "fail" and d["counts"] == case["verdict"].counts


def test_renderers_work_without_the_stage_files(case, tmp_path):
    """A verdict rebuilt from gate.json alone (no data files) still renders every report."""
    from poisonguard.gate import Verdict

    v = Verdict.from_dict(json.loads(case["paths"]["json"].read_text(encoding="utf-8")))
    paths = write_reports(v, tmp_path / "again", root=tmp_path)
    assert "FAIL" in paths["html"].read_text(encoding="utf-8")
    assert ET.fromstring(paths["junit"].read_bytes()).get("failures") == str(v.counts["failed"])


def test_row_lines_follows_quoted_line_breaks_and_gzip(tmp_path):
    text = 'a,b\n1,"x"\n\n2,"multi\nline"\n3,z\n'
    (tmp_path / "f.csv").write_text(text)
    with gzip.open(tmp_path / "f.csv.gz", "wt") as fh:
        fh.write(text)
    for name in ("f.csv", "f.csv.gz"):
        assert row_lines(tmp_path / name, [0, 1, 2]) == {0: 2, 1: 4, 2: 6}
    (tmp_path / "f.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n')
    assert row_lines(tmp_path / "f.jsonl", [1]) == {1: 3}
    assert row_lines(tmp_path / "missing.csv", [0]) == {}


def test_html_without_drift_and_with_a_not_run_stage(case):
    from poisonguard.reports import render_html

    v = gate([case["scan"]], POLICY)
    html = render_html(v, root=case["root"])
    assert "This stage did not run" in html and "NOT RUN" in html


def test_gate_cli_writes_code_quality_and_sarif_all(case, tmp_path, cli):
    reports = [str(p) for p in reports_of(case)]
    rc, _, err = cli("gate", *reports, "--out", tmp_path / "some", "--root", case["root"],
                     "--report", "sarif", "--report", "codequality")
    assert rc == 1, err
    assert sorted(p.name for p in (tmp_path / "some").iterdir()) == ["gl-code-quality-report.json", "results.sarif"]
    rc, _, err = cli("gate", *reports, "--out", tmp_path / "all", "--root", case["root"], "--sarif-all",
                     "--report", "sarif")
    assert rc == 1, err
    some = json.loads((tmp_path / "some" / "results.sarif").read_text(encoding="utf-8"))["runs"][0]
    everything = json.loads((tmp_path / "all" / "results.sarif").read_text(encoding="utf-8"))["runs"][0]
    assert "note" not in {r["level"] for r in some["results"]}
    assert len(everything["results"]) == len(some["results"]) + some["properties"].get("notesLeftOut", 0)


def test_junit_and_html_are_reproducible(case, monkeypatch):
    # issue 17.2: no wall-clock time in the gate's outputs, unless SOURCE_DATE_EPOCH asks for one
    from poisonguard.reports.html import render_html

    v = case["verdict"]
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert render_junit(v) == render_junit(v) and "timestamp=" not in render_junit(v)
    assert render_html(v) == render_html(v)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert 'timestamp="2026-01-01T00:00:00+00:00"' in render_junit(v)
    assert "at 2026-01-01T00:00:00+00:00." in render_html(v)



def test_every_registered_detector_and_the_reference_comparison_have_their_own_rule():
    """Only a plug-in falls under ``scan/other-detector``; the built-ins and ``reference_shift`` have a rule."""
    from poisonguard import detectors
    from poisonguard.reference import NAME

    missing = [n for n in [*detectors.available(), NAME] if f"scan/{n}" not in RULES]
    assert missing == []
