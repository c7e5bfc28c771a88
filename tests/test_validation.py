"""Tests of poisonguard.validation against real Great Expectations 1.x (no mocks).

Acceptance of issue 5: a suite inferred from 70 % of each shared dataset passes on the other
30 %, and fails, naming the expectation and the rows, on a renamed column, a new label value,
values out of range, a type change, injected nulls and a targeted label flip; a malformed suite,
an unknown expectation type or a suite for other columns is a one-line error with exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import poisonguard.validation as pv
from conftest import DEMO, shared_path
from poisonguard.cli import main
from poisonguard.data import TabularDataset, load_dataset
from poisonguard.errors import SuiteError, UsageError
from poisonguard.validation import ValidationResult, infer_suite, validate, validate_frame, write_suite

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "adult_train": "income",
    "winequality_white": "quality",
    "banknote": "class",
    "pima_diabetes": "outcome",
    "wheat_seeds": "variety",
}
SEED = 20240605


def _dataset_path(name: str) -> Path:
    return shared_path(f"{name}.csv.gz")  # missing: the test fails, as everywhere (see conftest)


_CACHE: dict[str, tuple[TabularDataset, pd.DataFrame, Any]] = {}


def split(name: str) -> tuple[TabularDataset, pd.DataFrame, Any]:
    """Seeded 70/30 split of a shared dataset: (trusted 70 %, held-out 30 % frame, inferred suite)."""
    if name not in _CACHE:
        label = DATASETS[name]
        ds = load_dataset(_dataset_path(name), label=label)
        perm = np.random.default_rng(SEED).permutation(ds.n_rows)
        k = int(0.7 * ds.n_rows)
        trusted = TabularDataset.from_frame(ds.frame.iloc[np.sort(perm[:k])], label=label)
        held_out = ds.frame.iloc[np.sort(perm[k:])].reset_index(drop=True)
        _CACHE[name] = (trusted, held_out, infer_suite(trusted))
    return _CACHE[name]


def failed_types(result: ValidationResult) -> set[str]:
    return {o.type for o in result.failed}


# -- public surface ---------------------------------------------------------------------------
def test_exported_members_are_sorted_and_resolve() -> None:
    assert pv.__all__ == sorted(pv.__all__)
    for name in pv.__all__:
        assert getattr(pv, name) is not None


# -- acceptance: clean held-out data passes ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_inferred_suite_passes_on_held_out_clean_data(name: str) -> None:
    _, held_out, suite = split(name)
    result = validate_frame(held_out, suite)
    assert result.return_code == 0, str(result)
    assert result.failed == (), str(result)  # not even a warning
    assert result.outcome("expect_column_value_proportions_to_match_reference").success


def test_inferred_suite_holds_the_promised_expectations() -> None:
    trusted, _, suite = split("adult_train")
    types = [e.expectation_type for e in suite.expectations]
    assert types[:2] == ["expect_table_columns_to_match_set", "expect_table_row_count_to_be_between"]
    by_col: dict[str, set[str]] = {}
    for e in suite.expectations:
        cfg = e.configuration
        by_col.setdefault(cfg.kwargs.get("column", cfg.kwargs.get("column_A")), set()).add(cfg.type)
    assert {"expect_column_values_to_be_of_type", "expect_column_values_to_not_be_null",
            "expect_column_values_to_be_between", "expect_column_mean_to_be_between",
            "expect_column_stdev_to_be_between",
            "expect_column_pair_values_to_be_within_class_ranges"} <= by_col["age"]
    assert "expect_column_values_to_be_in_set" in by_col["workclass"]
    assert {"expect_column_values_to_be_in_set",
            "expect_column_value_proportions_to_match_reference"} <= by_col["income"]
    # workclass has '?' (missing) in trusted data: not-null with a mostly threshold
    not_null = next(e for e in suite.expectations
                    if e.expectation_type == "expect_column_values_to_not_be_null" and e.column == "workclass")
    share = trusted.frame["workclass"].isna().mean()
    assert 0 < 1 - not_null.mostly - share < 0.02
    # every expectation says why it is there; severity is critical or warning
    for e in suite.expectations:
        assert e.meta["poisonguard"]["why"]
        assert str(getattr(e.severity, "value", e.severity)) in ("critical", "warning")
    assert suite.meta["poisonguard"]["label"] == "income"


def test_id_column_gets_uniqueness() -> None:
    frame = pd.DataFrame({"id": np.arange(100), "x": np.linspace(0, 1, 100), "y": ["a", "b"] * 50})
    ds = TabularDataset.from_frame(frame, label="y", id_column="id")
    suite = infer_suite(ds)
    assert any(e.expectation_type == "expect_column_values_to_be_unique" for e in suite.expectations)
    dup = frame.copy()
    dup.loc[7, "id"] = 3
    result = validate_frame(dup, suite)
    o = result.outcome("expect_column_values_to_be_unique", "id")
    assert not o.success and set(o.unexpected_rows) == {3, 7}
    assert result.return_code == 1


# -- acceptance: breakage fails, naming the expectation and the rows ----------------------------
def test_renamed_column_fails() -> None:
    _, held_out, suite = split("winequality_white")
    result = validate_frame(held_out.rename(columns={"alcohol": "alc"}), suite)
    assert result.return_code == 1
    o = result.outcome("expect_table_columns_to_match_set")
    assert not o.success and o.critical
    assert o.details == {"mismatched": {"missing": ["alcohol"], "unexpected": ["alc"]}}
    per_col = [x for x in result.failed if x.column == "alcohol"]
    assert per_col and all(x.exception == "column 'alcohol' is not in the data" for x in per_col)
    assert "expect_table_columns_to_match_set" in str(result)


@pytest.mark.parametrize("name", ["adult_train", "winequality_white"])
def test_new_label_value_fails_with_its_rows(name: str) -> None:
    _, held_out, suite = split(name)
    label = DATASETS[name]
    broken = held_out.copy()
    rows = [3, 50, 777]
    new_value = "<=60K" if broken[label].dtype != "int64" else 42
    broken.loc[rows, label] = new_value
    result = validate_frame(broken, suite)
    o = result.outcome("expect_column_values_to_be_in_set", label)
    assert not o.success and o.critical and o.unexpected_rows == tuple(rows) and o.unexpected_count == 3
    assert result.return_code == 1


def test_values_out_of_range_fail_with_their_rows() -> None:
    _, held_out, suite = split("adult_train")
    broken = held_out.copy()
    broken.loc[[10, 20], "age"] = 999  # beyond the plausible limits: even two rows fail
    result = validate_frame(broken, suite)
    limits = [o for o in result.failed if o.type == "expect_column_values_to_be_between" and o.column == "age"]
    assert len(limits) == 1 and "mostly" not in limits[0].kwargs
    assert limits[0].unexpected_rows == (10, 20) and result.return_code == 1
    # a mass of values just outside the usual range (inside the plausible limits) fails the usual range
    usual = next(e for e in suite.expectations
                 if e.expectation_type == "expect_column_values_to_be_between" and e.column == "age" and e.mostly < 1)
    shifted = held_out.copy()
    rows = np.arange(0, len(shifted), 50)
    shifted.loc[rows, "age"] = int(usual.max_value) + 5
    result = validate_frame(shifted, suite)
    o = next(o for o in result.failed if o.type == "expect_column_values_to_be_between" and o.column == "age")
    assert o.kwargs.get("mostly") == usual.mostly and o.unexpected_rows == tuple(rows.tolist())


def test_type_change_fails_naming_the_rows() -> None:
    _, held_out, suite = split("winequality_white")
    broken = held_out.astype({"pH": object})
    broken.loc[[4, 8], "pH"] = "n/a!"
    broken["pH"] = broken["pH"].astype(str)
    result = validate_frame(broken, suite)
    o = result.outcome("expect_column_values_to_be_in_type_list", "pH")
    assert not o.success and o.critical and o.unexpected_rows == (4, 8) and o.observed_value == "str"
    assert result.return_code == 1
    # integer column turned fractional: the rows with fractions are named
    _, held, suite_adult = split("adult_train")
    frac = held.astype({"age": "float64"})
    frac.loc[[5, 6], "age"] = 30.5
    o = validate_frame(frac, suite_adult).outcome("expect_column_values_to_be_of_type", "age")
    assert not o.success and o.unexpected_rows == (5, 6)


def test_whole_number_batch_of_a_float_column_is_not_a_type_change() -> None:
    ds = TabularDataset.from_frame(pd.DataFrame({"x": np.linspace(0.5, 50.5, 200), "y": ["a", "b"] * 100}), label="y")
    suite = infer_suite(ds)
    batch = pd.DataFrame({"x": np.arange(1, 101, dtype="int64"), "y": ["a", "b"] * 50})
    o = validate_frame(batch, suite).outcome("expect_column_values_to_be_in_type_list", "x")
    assert o.success


def test_injected_nulls_fail_with_their_rows() -> None:
    _, held_out, suite = split("banknote")
    broken = held_out.copy()
    broken.loc[[1, 2, 99], "entropy"] = np.nan
    result = validate_frame(broken, suite)
    o = result.outcome("expect_column_values_to_not_be_null", "entropy")
    assert not o.success and o.critical and o.unexpected_rows == (1, 2, 99)
    assert result.return_code == 1


def test_targeted_label_flip_fails_the_label_distribution() -> None:
    _, held_out, suite = split("banknote")
    # targeted flip: the 30 % of class-0 rows that look least like class 1 are relabelled 1
    num = held_out.drop(columns=["class"])
    z = (num - num.mean()) / num.std()
    distance = ((z - z[held_out["class"] == 1].mean()) ** 2).sum(axis=1)
    zeros = held_out.index[held_out["class"] == 0]
    flipped = distance.loc[zeros].sort_values(ascending=False).index[: int(0.3 * len(zeros))]
    broken = held_out.copy()
    broken.loc[flipped, "class"] = 1
    result = validate_frame(broken, suite)
    dist = result.outcome("expect_column_value_proportions_to_match_reference", "class")
    assert not dist.success and dist.critical and result.return_code == 1
    assert dist.details["worst_value"] in ("0", "1") and abs(dist.details["deviation"]) > dist.details["allowed"]
    # the rows: class-conditional ranges name flipped rows whose features lie outside class 1's range
    named = {r for o in result.failed if o.type == "expect_column_pair_values_to_be_within_class_ranges"
             for r in o.unexpected_rows}
    assert named and len(named & set(flipped.tolist())) >= 0.9 * len(named)


def test_batch_ten_times_too_large_fails_the_row_count() -> None:
    trusted, held_out, suite = split("wheat_seeds")
    big = pd.concat([trusted.frame] * 10, ignore_index=True)
    result = validate_frame(big, suite)
    assert failed_types(result) >= {"expect_table_row_count_to_be_between"}
    assert result.outcome("expect_table_row_count_to_be_between").observed_value == 10 * trusted.n_rows


def test_reported_rows_are_bounded_on_very_dirty_data() -> None:
    _, held_out, suite = split("adult_train")
    broken = held_out.copy()
    broken["age"] = np.nan
    result = validate_frame(broken, suite, max_rows=100)
    o = result.outcome("expect_column_values_to_not_be_null", "age")
    assert o.unexpected_count == len(held_out) and o.unexpected_rows == tuple(range(100)) and o.rows_truncated


# -- custom expectations are real Great Expectations expectations ------------------------------
def test_great_expectations_loads_and_runs_the_suite_itself(tmp_path: Path) -> None:
    import great_expectations as gx

    _, held_out, suite = split("wheat_seeds")
    path = write_suite(suite, tmp_path / "wheat.json")
    raw = json.loads(path.read_text())
    assert raw == json.loads(json.dumps(suite.to_json_dict()))  # GE's own JSON
    pv.register_custom_expectations()
    loaded = gx.ExpectationSuite(**raw)
    assert len(loaded.expectations) == len(raw["expectations"])
    types = {e.expectation_type for e in loaded.expectations}
    assert {"expect_column_value_proportions_to_match_reference",
            "expect_column_pair_values_to_be_within_class_ranges"} <= types
    context = gx.get_context(mode="ephemeral")
    definition = (context.data_sources.add_pandas("t").add_dataframe_asset("a")
                  .add_batch_definition_whole_dataframe("w"))
    assert definition.get_batch(batch_parameters={"dataframe": held_out}).validate(loaded).success
    everything_one_class = held_out.assign(variety=1)
    res = definition.get_batch(batch_parameters={"dataframe": everything_one_class}).validate(
        gx.ExpectationSuite(**raw))
    failed = {r.expectation_config.type for r in res.results if not r.success}
    assert "expect_column_value_proportions_to_match_reference" in failed


def test_label_distribution_allows_for_sampling_noise() -> None:
    ExpectProportions = pv.ExpectColumnValueProportionsToMatchReference
    ref = {"a": 0.5, "b": 0.5}
    suite = {"name": "d", "expectations": [
        ExpectProportions(column="y", reference_proportions=ref, tolerance=0.0, sampling_z=3.0,
                          reference_count=10_000).configuration.to_json_dict()]}
    small = pd.DataFrame({"y": ["a"] * 12 + ["b"] * 8})  # 60/40 on 20 rows: noise
    large = pd.DataFrame({"y": ["a"] * 6_000 + ["b"] * 4_000})  # 60/40 on 10,000 rows: a shift
    assert validate_frame(small, suite).outcomes[0].success
    o = validate_frame(large, suite).outcomes[0]
    assert not o.success and o.observed_value == {"a": 0.6, "b": 0.4}


def test_class_ranges_judge_each_row_by_its_label() -> None:
    ExpectRanges = pv.ExpectColumnPairValuesToBeWithinClassRanges
    exp = ExpectRanges(column_A="x", column_B="y", class_ranges={"0": [0, 1], "1": [10, 11]})
    suite = {"name": "r", "expectations": [exp.configuration.to_json_dict()]}
    frame = pd.DataFrame({"x": [0.5, 10.5, 10.5, 0.5, np.nan, 5.0], "y": [0, 1, 0, 1, 0, 2]})
    o = validate_frame(frame, suite).outcomes[0]
    assert not o.success and o.unexpected_rows == (2, 3)  # missing x and unknown label 2 are not judged


@pytest.mark.parametrize("bad, match", [
    ({"reference_proportions": {"a": 0.7, "b": 0.7}}, "sum to 1"),
    ({"reference_proportions": {}}, "at least one"),
    ({"reference_proportions": {"a": 1.0}, "tolerance": 2}, "tolerance"),
])
def test_custom_expectation_arguments_are_checked(bad: dict[str, Any], match: str) -> None:
    suite = {"name": "s", "expectations": [
        {"type": "expect_column_value_proportions_to_match_reference", "kwargs": {"column": "y", **bad}}]}
    with pytest.raises(SuiteError, match=match):
        pv.suite_from_dict(suite)


# -- errors: missing / malformed suite, unknown type, other columns -----------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture()
def small_data(tmp_path: Path) -> Path:
    p = tmp_path / "data.csv"
    pd.DataFrame({"x": np.arange(40, dtype=float), "y": ["a", "b"] * 20}).to_csv(p, index=False)
    return p


@pytest.mark.parametrize("content, match", [
    (None, "no such suite file"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a Great Expectations suite"),
    ('{"name": "s", "expectations": [{"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "x"}}]}',
     "unknown expectation type 'expect_column_values_to_be_betwen' \\(did you mean "
     "'expect_column_values_to_be_between'\\?\\)"),
    ('{"name": "s", "expectations": [{"type": "expect_column_values_to_be_between", "kwargs": {"colum": "x"}}]}',
     "invalid arguments"),
    ('{"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},'
     '{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "b"}}]}', "the suite is for other columns"),
])
def test_bad_suites_raise_suite_error_and_exit_2(tmp_path: Path, small_data: Path, capsys: pytest.CaptureFixture[str],
                                                 content: str | None, match: str) -> None:
    suite = tmp_path / "suite.json" if content is None else _write(tmp_path, "suite.json", content)
    with pytest.raises(SuiteError, match=match):
        validate(small_data, suite)
    capsys.readouterr()
    assert main(["validate", str(small_data), "--suite", str(suite)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and err.startswith("poisonguard: error:")


def test_infer_parameters_are_checked(small_data: Path) -> None:
    with pytest.raises(UsageError, match=r"infer_suite\.range_margin must be a number >= 0; got -1\. Fix the value\."):
        infer_suite(small_data, label="y", range_margin=-1)


# -- the result object ------------------------------------------------------------------------
def test_result_round_trips_and_renders(tmp_path: Path) -> None:
    _, held_out, suite = split("pima_diabetes")
    broken = held_out.copy()
    broken.loc[[0, 1], "glucose"] = -50
    result = validate_frame(broken, suite)
    data = json.loads(result.to_json())
    assert data["kind"] == "validation" and data["return_code"] == 1 and data["schema_version"]
    back = ValidationResult.from_dict(data)
    assert back == result and back.return_code == 1
    path = result.write_json(tmp_path / "out" / "validation.json")
    assert ValidationResult.from_dict(json.loads(path.read_text())) == result
    text = str(result)
    assert text.startswith("validation FAILED") and "glucose" in text and "0, 1" in text


def test_html_escapes_everything() -> None:
    frame = pd.DataFrame({"<script>x</script>": np.arange(30.0), "y": ["<b>", "a&b"] * 15})
    suite = infer_suite(TabularDataset.from_frame(frame, label="y"))
    html_text = validate_frame(frame.assign(y="<i>new</i>"), suite)._repr_html_()
    assert "<script>" not in html_text and "&lt;script&gt;" in html_text and "<i>" not in html_text
    assert html_text.startswith("<div>") and "<table>" in html_text


def test_validate_neither_writes_gx_folder_nor_modifies_the_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  small_data: Path) -> None:
    monkeypatch.chdir(tmp_path)
    suite = infer_suite(small_data, label="y")
    before = json.dumps(suite.to_json_dict(), sort_keys=True)
    validate(small_data, suite)
    assert json.dumps(suite.to_json_dict(), sort_keys=True) == before  # no batch_id written into it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


# -- CLI --------------------------------------------------------------------------------------
def test_cli_infer_then_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trusted, held_out, _ = split("wheat_seeds")
    trusted_path, clean_path, broken_path = tmp_path / "t.csv", tmp_path / "c.csv", tmp_path / "b.csv"
    trusted.frame.to_csv(trusted_path, index=False)
    held_out.to_csv(clean_path, index=False)
    held_out.assign(area=held_out["area"] * 1000).to_csv(broken_path, index=False)
    suite = tmp_path / "expectations" / "wheat.json"
    assert main(["expectations", "infer", str(trusted_path), "--label", "variety", "--out", str(suite)]) == 0
    assert json.loads(suite.read_text())["name"] == "wheat"
    capsys.readouterr()
    assert main(["validate", str(clean_path), "--suite", str(suite), "--out", str(tmp_path / "ok")]) == 0
    assert capsys.readouterr().out.startswith("validation passed")
    assert ValidationResult.from_dict(json.loads((tmp_path / "ok" / "validation.json").read_text())).return_code == 0
    assert main(["validate", str(broken_path), "--suite", str(suite), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["return_code"] == 1
    assert any(o["column"] == "area" and o["unexpected_rows"][:3] == [0, 1, 2] for o in out["outcomes"])


def test_cli_help_does_not_import_great_expectations() -> None:
    import subprocess
    import sys

    code = ("import sys; from poisonguard.cli import main; rc = main(['validate', '--help']); "
            "rc2 = main(['expectations', 'infer', '--help']); "
            "print(rc, rc2, 'great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("0 0 False")


# -- the committed demo suite -----------------------------------------------------------------
def test_committed_demo_suite_loads_with_ge_and_passes_on_the_demo_data() -> None:
    suite_path, data_path = ROOT / "expectations" / "adult.json", DEMO
    raw = json.loads(suite_path.read_text())
    assert raw["meta"]["poisonguard"]["review"] and raw["meta"]["poisonguard"]["label"] == "income"
    assert sum("reviewed" in e["meta"]["poisonguard"] for e in raw["expectations"]) >= 5
    assert pv.load_suite(suite_path).to_json_dict() == raw  # GE's own JSON, unchanged by a round trip
    result = validate(data_path, suite_path)
    assert result.return_code == 0 and result.failed == (), str(result)
    assert result.inputs["suite"]["path"] == str(suite_path) and len(result.inputs["suite"]["sha256"]) == 64


def test_one_import_lets_great_expectations_read_a_poisonguard_suite() -> None:
    """``import poisonguard.validation``, then GE alone: every expectation of the suite loads (none dropped)."""
    import subprocess
    import sys

    code = ("import json; import poisonguard.validation; import great_expectations as gx; "
            f"raw = json.load(open({str(ROOT / 'expectations' / 'adult.json')!r})); "
            "s = gx.ExpectationSuite(**raw); "
            "print(len(s.expectations) == len(raw['expectations']), "
            "sorted({e.expectation_type for e in s.expectations if 'class_ranges' in e.expectation_type "
            "or 'proportions' in e.expectation_type}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(maxsplit=1)[0] == "True", out.stderr[-2000:]
    assert "expect_column_pair_values_to_be_within_class_ranges" in out.stdout
    assert "expect_column_value_proportions_to_match_reference" in out.stdout
    assert "not found" not in out.stderr


def test_great_expectations_alone_validates_the_demo_data_with_the_suites_reader_options() -> None:
    """No poisonguard function in the loop: pandas reads the data with the suite's na_values, GE validates.

    Read without them (``?`` kept as a value), the closed value sets fail: the suite depends on
    its reader options, and says so in its meta.
    """
    import subprocess
    import sys

    data_path = ROOT / "data" / "adult.csv.gz"
    code = f"""
import json
import pandas as pd
import great_expectations as gx
import poisonguard.validation  # registers the custom expectations: the only poisonguard line

raw = json.load(open({str(ROOT / 'expectations' / 'adult.json')!r}))
na = raw["meta"]["poisonguard"]["na_values"]
context = gx.get_context(mode="ephemeral")
batch_def = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("w")
def run(frame):
    res = batch_def.get_batch(batch_parameters={{"dataframe": frame}}).validate(gx.ExpectationSuite(**raw))
    return res.success, sorted({{(r.expectation_config.type, r.expectation_config.kwargs.get("column"))
                                 for r in res.results if not r.success}})
ok = run(pd.read_csv({str(data_path)!r}, na_values=na, keep_default_na=False))
naive = run(pd.read_csv({str(data_path)!r}))
print(json.dumps({{"ok": ok, "naive": naive}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ok"][0] is True, res["ok"]
    assert res["naive"][0] is False
    assert ["expect_column_values_to_be_in_set", "workclass"] in res["naive"][1]


def test_custom_expectations_render_in_words_in_data_docs() -> None:
    import great_expectations as gx
    from great_expectations.render.renderer import ExpectationSuitePageRenderer, ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    trusted, held_out, suite = split("wheat_seeds")
    raw = suite.to_json_dict()
    custom = [e for e in gx.ExpectationSuite(**raw).expectations
              if e.expectation_type in ("expect_column_value_proportions_to_match_reference",
                                        "expect_column_pair_values_to_be_within_class_ranges")]
    assert {e.expectation_type for e in custom} == {"expect_column_value_proportions_to_match_reference",
                                                    "expect_column_pair_values_to_be_within_class_ranges"}
    for e in custom:  # GE's atomic rendered content (what GX Cloud and newer Data Docs show)
        e.render()
        template = e.rendered_content[0].value.template
        assert "**$kwargs" not in template and "$expectation_type" not in template, template
    html = DefaultJinjaPageView().render(ExpectationSuitePageRenderer().render(gx.ExpectationSuite(**raw)))
    assert "the share of each value must stay within" in html
    assert "must lie within the range trusted data had for the row" in html
    assert "reference_proportions" not in html and "class_ranges" not in html  # no raw kwargs
    context = gx.get_context(mode="ephemeral")
    batch_def = (context.data_sources.add_pandas("d").add_dataframe_asset("a")
                 .add_batch_definition_whole_dataframe("w"))
    result = batch_def.get_batch(batch_parameters={"dataframe": held_out.assign(variety=1)}).validate(
        gx.ExpectationSuite(**raw))
    page = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
    assert "largest shift" in page and "the share of each value must stay within" in page


def test_validate_reads_the_data_with_the_suites_na_values(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("c,y\na,0\n-,1\nb,0\n?,1\n")
    exp = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c"}, "meta": {}, "severity": "critical"}

    def run(meta: dict[str, Any]) -> Any:
        return validate(data, {"name": "s", "expectations": [exp], "meta": meta})

    default = run({})  # an old or GE-written suite: poisonguard's markers ('?' is missing, '-' is not)
    assert default.outcomes[0].unexpected_rows == (3,)
    assert default.parameters["na_values_from"] == "default" and "?" in default.parameters["na_values"]
    dash = run({"poisonguard": {"na_values": ["-"]}})  # '-' is missing, '?' is a value
    assert dash.outcomes[0].unexpected_rows == (1,) and dash.return_code == 1
    assert dash.parameters == {"max_rows": 1000, "na_values": ["-"], "na_values_from": "suite"}
    with pytest.raises(SuiteError, match="na_values must be a list of strings"):
        run({"poisonguard": {"na_values": "?"}})
    inferred = infer_suite(TabularDataset.from_frame(pd.DataFrame({"c": ["a", "b"] * 20, "y": [0, 1] * 20}),
                                                     label="y"))
    from poisonguard.data import MISSING_MARKERS

    assert inferred.meta["poisonguard"]["na_values"] == list(MISSING_MARKERS)


# -- an existing GX project: Checkpoint, actions, Data Docs --------------------------------------
def _gx_project(root: Path, suite: Any) -> None:
    """A file-backed GX project as a team keeps one: a dataframe asset, the suite, a validation
    definition and a checkpoint that updates the Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    context = gx.get_context(mode="file", project_root_dir=str(root))
    batch = (context.data_sources.add_pandas("seeds").add_dataframe_asset("incoming")
             .add_batch_definition_whole_dataframe("whole"))
    stored = context.suites.add(gx.ExpectationSuite(**suite.to_json_dict()))
    vd = context.validation_definitions.add(gx.ValidationDefinition(name="incoming", data=batch, suite=stored))
    context.checkpoints.add(gx.Checkpoint(name="gate", validation_definitions=[vd],
                                          actions=[UpdateDataDocsAction(name="docs")]))


def test_validate_runs_a_checkpoint_of_an_existing_gx_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    from poisonguard.errors import ConfigError
    from poisonguard.validation import validate_checkpoint

    trusted, held_out, suite = split("wheat_seeds")
    project = tmp_path / "team"
    _gx_project(project, suite)
    clean, flipped = tmp_path / "clean.csv", tmp_path / "flipped.csv"
    held_out.to_csv(clean, index=False)
    held_out.assign(variety=1).to_csv(flipped, index=False)

    ok = validate_checkpoint(clean, "gate", project=project)
    assert ok.return_code == 0 and len(ok.outcomes) == len(suite.expectations)
    assert [o.type for o in ok.outcomes] == [e.expectation_type for e in suite.expectations]  # suite order
    assert ok.parameters["checkpoint"] == "gate" and ok.parameters["na_values_from"] == "suite"
    docs = [Path(u.removeprefix("file://")) for u in ok.parameters["data_docs"]]
    assert docs and all(p.is_file() for p in docs)

    bad = validate_checkpoint(flipped, "gate", project=project)
    assert bad.return_code == 1
    assert "expect_column_value_proportions_to_match_reference" in failed_types(bad)
    pages = [p.read_text(encoding="utf-8") for p in (project / "gx").rglob("validations/**/*.html")]
    assert len(pages) == 2 and any("largest shift" in p for p in pages)  # our renderers, in the team's Data Docs
    assert all("reference_proportions" not in p for p in pages)

    rc = main(["validate", str(flipped), "--checkpoint", "gate", "--gx-project", str(project), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["parameters"]["checkpoint"] == "gate"
    assert main(["validate", str(clean)]) == 2 and "either --suite" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no checkpoint named 'nope'.*gate"):
        validate_checkpoint(clean, "nope", project=project)
    with pytest.raises(ConfigError, match="no Great Expectations project"):
        validate_checkpoint(clean, "gate", project=tmp_path / "empty")
