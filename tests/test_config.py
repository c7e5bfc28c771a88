"""Configuration is checked before any work (issue 16, shape 3).

Every bad configuration -- a misspelled detector, an unknown parameter or policy key, a value out
of range or of the wrong type, a stage given two roles, a stage result of a stale schema -- ends
the command in one line on standard error and exit 2, and the Python API in a ``ConfigError``,
before any detector is fitted (a probe on every registered detector's ``fit`` proves it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import poisonguard
from poisonguard import detectors as registry
from poisonguard import reference as _reference
from poisonguard.config import Key, Policy, load_params, parse_set
from poisonguard.errors import ConfigError, UsageError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": rng.integers(0, 2, n)})
    p = tmp_path / "d.csv"
    frame.to_csv(p, index=False)
    return p


@pytest.fixture()
def no_fit(monkeypatch):
    """Record every fit of every registered detector (and of the reference comparison)."""
    calls: list[str] = []

    def probe(name):
        def record(self, *args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was fitted")
        return record

    for name in registry.available():
        cls = registry.get(name)
        for method in ("fit", "scan_fit"):
            monkeypatch.setattr(cls, method, probe(f"{name}.{method}"))
    monkeypatch.setattr(_reference, "compare", probe("reference.compare"))
    monkeypatch.setattr(_reference, "fit_inductive", probe("reference.fit_inductive"))
    return calls


def _one_line_exit_2(rc: int, out: str, err: str, match: str) -> None:
    import re

    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("poisonguard: error: "), err
    assert re.search(match, lines[0]), (match, lines[0])
    assert "Traceback" not in out + err


# (case id, params.yaml text or None, extra argv, regex on the one error line)
SCAN_CASES = [
    ("set-misspelled-detector", None, ["--set", "labelflip.k=3"],
     r"--set 'labelflip\.k=3': unknown detector 'labelflip'; available detectors: .*label_flip"),
    ("detectors-misspelled", None, ["--detectors", "outlier"], r"--detectors: unknown detector 'outlier'"),
    ("skip-misspelled", None, ["--skip", "duplicate"], r"--skip: unknown detector 'duplicate'"),
    ("params-misspelled-detector", "scan:\n  labelflip: {k: 3}\n", [],
     r"p\.yaml: scan\.labelflip is not a detector .*registered detectors: .*label_flip.*Fix the name"),
    ("params-misspelled-detectors-list", "scan:\n  detectors: [outlier]\n", [],
     r"p\.yaml: scan\.detectors: unknown detector 'outlier'"),
    ("params-unknown-policy-key", "scan:\n  outliers:\n    policy: {levle: 1}\n", ["-d", "outliers"],
     r"p\.yaml: scan\.outliers\.policy\.levle is not a policy key of outliers; allowed: max_flag_rate, min_rows\. "
     r"Fix the key or remove it\."),
    ("set-unknown-policy-key", None, ["-d", "duplicates", "--set", "duplicates.policy.max_rows=3"],
     r"--set 'duplicates\.policy\.max_rows=3': scan\.duplicates\.policy\.max_rows is not a policy key of duplicates"),
    ("set-unknown-label-flip-policy-key", None, ["-d", "label_flip", "--set", "label_flip.policy={floor: 1}"],
     r"scan\.label_flip\.policy\.floor is not a policy key of label_flip"),
    ("set-policy-out-of-range", None, ["-d", "outliers", "--set", "outliers.policy.max_flag_rate=2"],
     r"scan\.outliers\.policy\.max_flag_rate must be a number in \[0, 1\]; got 2"),
    ("params-policy-wrong-type", "scan:\n  duplicates:\n    policy: {max_conflict_rows: many}\n", ["-d", "duplicates"],
     r"p\.yaml: scan\.duplicates\.policy\.max_conflict_rows must be a whole number >= 0; got 'many'"),
    ("set-policy-not-a-mapping", None, ["-d", "outliers", "--set", "outliers.policy=[1]"],
     r"scan\.outliers\.policy: The 'policy' parameter of OutlierEnsemble must be"),
    ("set-unknown-parameter", None, ["-d", "outliers", "--set", "outliers.n_estimator=3"],
     r"scan\.outliers\.n_estimator is not a parameter of outliers; allowed: .*n_estimators"),
    ("set-parameter-out-of-range", None, ["-d", "outliers", "--set", "outliers.n_neighbors=0"],
     r"scan\.outliers\.n_neighbors: The 'n_neighbors' parameter of OutlierEnsemble must be an int"),
    ("params-parameter-wrong-type", "scan:\n  outliers:\n    per_class: maybe\n", ["-d", "outliers"],
     r"p\.yaml: scan\.outliers\.per_class: The 'per_class' parameter"),
    ("set-unknown-kind", None, ["-d", "sensitive_data", "--set", "sensitive_data.kinds=[emial]"],
     r"scan\.sensitive_data\.kinds: 'emial' is not a kind of sensitive_data; allowed: .*email"),
    ("set-decision-out-of-range", None, ["-d", "duplicates", "--set", "decision.level=2"],
     r"scan\.decision\.level must be a number in \(0, 1\); got 2"),
    ("params-decision-unknown-key", "scan:\n  decision: {levle: 0.1}\n", ["-d", "duplicates"],
     r"p\.yaml: scan\.decision\.levle is not a key of the scan's decision"),
    ("params-seed-wrong-type", "scan:\n  seed: abc\n", ["-d", "duplicates"], r"scan\.seed must be a whole number"),
    ("skip-every-default", None, ["--skip", ",".join(registry.default())], r"--skip leaves no detector to run"),
    ("reference-policy-unknown-key", None,
     ["-d", "outliers", "--reference", "d.csv", "--set", "reference_shift.levle=1"],
     r"--set 'reference_shift\.levle=1': scan\.reference_shift\.levle is not a policy key of reference_shift"),
    ("reference-policy-out-of-range", "scan:\n  reference_shift: {bins: 1}\n",
     ["-d", "outliers", "--reference", "d.csv"],
     r"p\.yaml: scan\.reference_shift\.bins must be a whole number >= 2; got 1"),
]


@pytest.mark.parametrize("case", SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_scan_cli_bad_configuration_is_one_line_exit_2_before_any_fit(case, cli, data, no_fit, monkeypatch):
    _, params_text, argv, match = case
    monkeypatch.chdir(data.parent)
    extra = []
    if params_text is not None:
        (data.parent / "p.yaml").write_text(params_text)
        extra = ["--params", "p.yaml"]
    rc, out, err = cli("scan", "d.csv", "-l", "y", *extra, *argv)
    _one_line_exit_2(rc, out, err, match)
    assert no_fit == []


# (case id, detectors, params, kwargs, regex)
API_CASES = [
    ("misspelled-detector", ["labelflip"], None, {}, r"unknown detector 'labelflip'; available detectors"),
    ("misspelled-detector-in-params", ["outliers"], {"outlier": {"n_neighbors": 3}}, {},
     r"scan\.outlier is not a detector"),
    ("unknown-policy-key", ["outliers"], {"outliers": {"policy": {"levle": 1}}}, {},
     r"scan\.outliers\.policy\.levle is not a policy key of outliers"),
    ("policy-out-of-range", ["label_flip"], {"label_flip": {"policy": {"max_noise_rate": 1.5}}}, {},
     r"scan\.label_flip\.policy\.max_noise_rate must be a number in \[0, 1\] or null"),
    ("policy-wrong-type", ["duplicates"], {"duplicates": {"policy": {"max_conflict_rate": "low"}}}, {},
     r"scan\.duplicates\.policy\.max_conflict_rate must be a number"),
    ("unknown-parameter", ["duplicates"], {"duplicates": {"radus": 0.1}}, {},
     r"scan\.duplicates\.radus is not a parameter of duplicates"),
    ("parameter-wrong-type", ["duplicates"], {"duplicates": {"flag": "every"}}, {},
     r"scan\.duplicates\.flag: The 'flag' parameter"),
    ("unknown-kind", ["sensitive_data"], {"sensitive_data": {"kinds": ["emial"]}}, {},
     r"'emial' is not a kind of sensitive_data"),
    ("decision-out-of-range", ["duplicates"], None, {"decision": {"level": 0}}, r"scan\.decision\.level"),
    ("reference-policy", ["outliers"], {"reference_shift": {"z": -1}}, {"reference": "SELF"},
     r"scan\.reference_shift\.z must be a number >= 0"),
    ("seed-wrong-type", ["duplicates"], None, {"seed": "0"}, r"scan\.seed must be a whole number"),
    ("no-detectors", [], None, {}, r"no detectors to run"),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_scan_api_bad_configuration_raises_config_error_before_any_fit(case, data, no_fit):
    _, detectors, params, kwargs, match = case
    kwargs = {k: (data if v == "SELF" else v) for k, v in kwargs.items()}
    with pytest.raises(ConfigError, match=match) as info:
        poisonguard.scan(data, label="y", detectors=detectors, params=params, **kwargs)
    assert "\n" not in str(info.value)
    assert no_fit == []


def test_config_error_is_a_usage_error_and_exits_2():
    assert issubclass(ConfigError, UsageError) and issubclass(ConfigError, ValueError)
    assert ConfigError.exit_code == 2
    from poisonguard import errors

    assert "│   └── ConfigError" in errors.__doc__  # the tree drawn in the docstring says so


# -- the seed -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "seed"), [([], 5), (["--seed", "0"], 0), (["--seed", "3"], 3)])
def test_explicit_seed_wins_over_params_yaml_even_zero(argv, seed, cli, data, monkeypatch):
    monkeypatch.chdir(data.parent)
    (data.parent / "p.yaml").write_text("scan:\n  seed: 5\n")
    rc, out, err = cli("scan", "d.csv", "-l", "y", "-d", "duplicates", "--params", "p.yaml", "--format", "json",
                       *argv)
    assert rc == 0, err
    assert json.loads(out)["parameters"]["seed"] == seed


def test_set_reaches_one_policy_key_and_wins_over_params_yaml(cli, data, monkeypatch):
    monkeypatch.chdir(data.parent)
    (data.parent / "p.yaml").write_text("scan:\n  duplicates:\n    policy: {max_conflict_rows: 4, "
                                        "max_conflict_rate: 0.5}\n")
    rc, out, err = cli("scan", "d.csv", "-l", "y", "-d", "duplicates", "--params", "p.yaml", "--format", "json",
                       "--set", "duplicates.policy.max_conflict_rows=7")
    assert rc == 0, err
    report = json.loads(out)
    assert report["parameters"]["params"]["duplicates"]["policy"] == {"max_conflict_rows": 7,
                                                                      "max_conflict_rate": 0.5}
    section = next(d for d in report["detectors"] if d["name"] == "duplicates")["section"]
    assert section["policy"] == {"max_conflict_rows": 7, "max_conflict_rate": 0.5, "chance_level": None}


# -- the gate -------------------------------------------------------------------------------------
@pytest.fixture()
def scan_report(data: Path) -> Path:
    out = data.parent / "run"
    poisonguard.scan(data, label="y", detectors=["duplicates"], out=out)
    return out / "report.json"


@pytest.mark.parametrize(("policy", "roles"), [
    ("optional: [drift]\n  advisory: [drift]", "optional and advisory"),
    ("required: [scan, drift]\n  optional: [drift]", "required and optional"),
    ("required: [scan]\n  advisory: [validate]\n  optional: [validation]", "optional and advisory"),
    ("required: [scan, provenance]\n  advisory: [provenance]", "required and advisory"),
])
def test_gate_stage_in_two_roles_is_one_line_exit_2(policy, roles, cli, scan_report, tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text(f"gate:\n  {policy}\n")
    rc, out, err = cli("gate", str(scan_report), "--params", str(p))
    _one_line_exit_2(rc, out, err, rf"g\.yaml: gate: stage\(s\) \w+ listed as both {roles}.*one role")
    from poisonguard.gate import GatePolicy

    with pytest.raises(ConfigError, match=f"listed as both {roles}"):
        GatePolicy.from_mapping(__import__("yaml").safe_load(policy.replace("\n  ", "\n")))


def test_gate_a_given_role_takes_a_stage_out_of_a_default_role():
    from poisonguard.gate import GatePolicy

    pol = GatePolicy.from_mapping({"advisory": ["drift"]})
    assert pol.optional == () and pol.advisory == ("drift",)
    assert GatePolicy.from_mapping({"required": ["scan", "drift"]}).optional == ()


@pytest.mark.parametrize("version", ["0.9", "5.0", None, "x"])
def test_gate_refuses_a_stage_result_of_a_stale_schema(version, cli, scan_report, tmp_path):
    d = json.loads(scan_report.read_text())
    if version is None:
        del d["schema_version"]
    else:
        d["schema_version"] = version
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(d))
    rc, out, err = cli("gate", str(stale))
    _one_line_exit_2(rc, out, err, r"stale\.json: a scan result with (no )?schema_version.* does not read \(it "
                                   r"reads scan schema 1\.x, 2\.x, 3\.x, 4\.x\); (upgrade poisonguard, or )?re-run the scan stage")
    from poisonguard.errors import DataError
    from poisonguard.gate import gate

    with pytest.raises(DataError, match="stale.json"):
        gate([stale])


def test_gate_reads_what_each_result_class_writes():
    from poisonguard.provenance._result import ProvenanceResult
    from poisonguard.scan import ScanResult
    from poisonguard.tracking import DriftResult
    from poisonguard.validation import ValidationResult

    for cls in (ProvenanceResult, ValidationResult, ScanResult, DriftResult):
        assert int(cls.SCHEMA_VERSION.split(".")[0]) in (cls.READS_SCHEMAS or (int(cls.SCHEMA_VERSION.split(".")[0]),)), cls


# -- the other stages ---------------------------------------------------------------------------
def test_expectations_infer_params_are_checked_before_the_data_is_read(cli, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("expectations:\n  infer:\n    range_margn: 0.2\n")
    rc, out, err = cli("expectations", "infer", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.json"),
                       "--params", str(p))
    _one_line_exit_2(rc, out, err, r"p\.yaml: expectations\.infer\.range_margn is not a parameter of expectations "
                                   r"infer; allowed: range_margin")
    rc, out, err = cli("expectations", "infer", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.json"),
                       "--max-categories", "0")
    _one_line_exit_2(rc, out, err, r"--max-categories: expectations\.infer\.max_categories must be a whole number")


def test_expectations_infer_reads_its_params(cli, data, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("expectations:\n  infer:\n    row_count_factor: 2\n")
    suite = tmp_path / "s.json"
    rc, _, err = cli("expectations", "infer", str(data), "--label", "y", "--out", str(suite), "--params", str(p))
    assert rc == 0, err
    rows = next(e for e in json.loads(suite.read_text())["expectations"]
                if e["type"] == "expect_table_row_count_to_be_between")["kwargs"]
    assert (rows["min_value"], rows["max_value"]) == (60, 240)


def test_drift_params_are_checked_by_the_one_loader(cli, tmp_path):
    (tmp_path / "c.csv").write_text("a,y\n1,0\n")
    p = tmp_path / "p.yaml"
    p.write_text("drift: [1]\n")
    rc, out, err = cli("drift", "--run", "r1", "--canary", str(tmp_path / "c.csv"), "--label", "y", "--params", str(p))
    _one_line_exit_2(rc, out, err, r"p\.yaml: section 'drift' must be a mapping")


# -- the loader, the --set parser and the declared types ------------------------------------------
def test_load_params(tmp_path):
    assert load_params(None, "scan") == {}
    assert load_params(tmp_path / "missing.yaml", "scan") == {}
    p = tmp_path / "p.yaml"
    p.write_text("scan: {seed: 1}\nprovenance:\n  diff: {volume_threshold: 2}\n")
    assert load_params(p, "scan") == {"seed": 1}
    assert load_params(p, "gate") == {}
    assert load_params(p, "provenance.diff") == {"volume_threshold": 2}
    p.write_text("scan: [1]\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: section 'scan' must be a mapping"):
        load_params(p, "scan")
    p.write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: expected a mapping at the top level"):
        load_params(p, "scan")
    p.write_text("scan: {seed: !!python/object:os.system x}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):  # safe loading only
        load_params(p, "scan")


def test_parse_set():
    assert parse_set("outliers.policy.min_rows=3") == (("outliers", "policy", "min_rows"), 3)
    assert parse_set("label_flip.policy.max_noise_rate=null") == (("label_flip", "policy", "max_noise_rate"), None)
    for bad in ("x=1", "a.b", "a.=1", ".b=1"):
        with pytest.raises(ConfigError, match="expected DETECTOR.PARAM=VALUE"):
            parse_set(bad)
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_set("a.b=[1")


def test_policy_is_frozen_and_validates():
    pol = Policy("demo", Key("rate", "number", 0.5, "a rate", low=0, high=1, high_open=True),
                 Key("n", "int", 1, "a count", low=1), Key("on", "bool", True, "a switch"))
    with pytest.raises(AttributeError):
        pol.owner = "x"  # type: ignore[misc]
    out = pol.validate({"n": 3}, where="s.demo")
    assert dict(out) == {"rate": 0.5, "n": 3, "on": True}
    with pytest.raises(TypeError):
        out["n"] = 4  # type: ignore[index]
    for bad, msg in [({"rate": 1}, r"s\.demo\.rate must be a number in \[0, 1\)"),
                     ({"n": 1.5}, r"s\.demo\.n must be a whole number >= 1"),
                     ({"on": "yes"}, r"s\.demo\.on must be true or false"),
                     ({"rate": True}, r"s\.demo\.rate must be"),
                     ({"rat": 1}, r"s\.demo\.rat is not a policy key of demo; allowed: rate, n, on")]:
        with pytest.raises(ConfigError, match=msg):
            pol.validate(bad, where="s.demo")
    with pytest.raises(ConfigError, match=r"s\.demo must be a mapping"):
        pol.validate([1], where="s.demo")  # type: ignore[arg-type]


def test_every_detector_with_a_policy_parameter_declares_its_policy():
    for name in registry.available():
        cls = registry.get(name)
        if "policy" in cls().get_params():
            assert isinstance(cls.POLICY, Policy), name
            cls(policy=dict(cls.POLICY.defaults())).check_config()  # its defaults pass


# -- the documentation ------------------------------------------------------------------------------
def test_configuration_doc_is_generated_from_the_declared_structures():
    from poisonguard._config_doc import declared_keys, render

    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == render(), "regenerate it: python -m poisonguard._config_doc > docs/configuration.md"
    missing = [k for k in declared_keys() if f"`{k}`" not in doc]
    assert not missing
