"""The scan on Apache Spark (``poisonguard.spark``, ``scan --engine spark``).

Every Spark test runs a real Spark 4.1 (PySpark from the dev extra, Java 17 from ``make test``'s
.ci/test-deps): ``local[2]`` in this process for the functional tests, and one end-to-end scan
through the command line on ``local-cluster[2,1,1024]`` (two executor JVMs, so no step can
quietly work on the driver's copy of the data). Nothing is mocked. The inductive evidence the
Spark path relies on (``pvalues_new``, BH over part of the p-values) is tested without Spark.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

ROOT = Path(__file__).resolve().parents[1]
PG = [sys.executable, "-m", "poisonguard"]


def _frame(n: int, seed: int = 0, classes: int = 3) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=8, n_informative=6, n_redundant=0, n_classes=classes,
                               class_sep=2.0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    frame["label"] = np.array(list("abcdefg"))[y]
    return frame


def _poisoned(n: int, attack: str, rate: float, seed: int = 0):
    from poisonguard.attacks import poison
    from poisonguard.data import TabularDataset

    return poison(TabularDataset.from_frame(_frame(n, seed), label="label"), attack, seed=seed, rate=rate)


def _sha(p: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


# ----------------------------------------------------------------- without Spark: the evidence it uses
def test_bh_threshold_over_the_small_pvalues_equals_bh_over_all():
    from poisonguard.evidence import bh_threshold

    rng = np.random.default_rng(0)
    for _ in range(20):
        m = int(rng.integers(50, 5000))
        p = np.concatenate([rng.uniform(size=m - m // 10), rng.uniform(0, 1e-3, size=m // 10)])
        for level in (0.05, 0.1, 0.25):
            full = bh_threshold(p, level)
            part = bh_threshold(p[p <= level], level, m=m)
            assert part == full
    assert bh_threshold(np.array([2e-9]), 0.1, m=10**8) == 0.0  # above 0.1 / 1e8: not rejected
    assert bh_threshold(np.array([5e-10]), 0.1, m=10**8) == 5e-10
    with pytest.raises(ValueError):
        bh_threshold(np.ones(5), 0.1, m=3)


def test_label_flip_evidence_for_rows_it_was_not_fitted_on():
    """Held-out rows get p-values on the training rows' scale: flips found as well, clean rows not."""
    from poisonguard.detectors import LabelFlipDetector

    res = _poisoned(4000, "random_flip", 0.1)
    X = res.dataset.encode()
    y = res.dataset.label_codes()
    tr = np.arange(y.size) % 2 == 0
    det = LabelFlipDetector(random_state=0).fit(X[tr], y[tr])
    p_new = det.pvalues_new(X[~tr], y[~tr])
    ap_train = average_precision_score(res.mask[tr], -np.log(det.pvalues_))
    ap_new = average_precision_score(res.mask[~tr], -np.log(p_new))
    assert ap_new >= 0.9 * ap_train and ap_new >= 0.8
    clean_new = ~res.mask[~tr]
    # as rare among held-out clean rows as among the training rows' clean rows (+ 1 point)
    assert (p_new[clean_new] <= 1e-3).mean() <= (det.pvalues_[~res.mask[tr]] <= 1e-3).mean() + 0.01
    with pytest.raises(ValueError, match="pass y"):
        det.pvalues_new(X[:3])


def test_outlier_evidence_for_new_rows_uses_the_training_tail():
    from poisonguard.detectors import OutlierEnsemble
    from poisonguard.evidence import tail_null, tail_pvalues

    res = _poisoned(3000, "outliers", 0.02)
    X = res.dataset.encode()
    tr = np.arange(X.shape[0]) % 2 == 0
    det = OutlierEnsemble(random_state=0).fit(X[tr])
    p_new = det.pvalues_new(X[~tr])
    assert average_precision_score(res.mask[~tr], -np.log(p_new)) >= 0.95
    assert (p_new[~res.mask[~tr]] <= 1e-3).mean() <= 0.01
    raw = np.random.default_rng(1).exponential(size=500)
    assert np.array_equal(tail_null(raw).pvalues(raw), tail_pvalues(raw))  # one fit, the same p-values


# ----------------------------------------------------------------- a real local Spark
slow = pytest.mark.slow  # a JVM each: make test runs them, make test-fast does not


@pytest.fixture(scope="module")
def spark():
    from poisonguard.spark import session

    s = session("local[2]")
    yield s
    s.stop()


@slow
def test_row_ids_are_positions_in_read_order(spark, tmp_path):
    from poisonguard.spark import read, with_row_ids

    frame = _frame(1000)
    frame["pos"] = np.arange(1000)
    frame.to_parquet(tmp_path / "one.parquet")
    df, fmt = read(spark, tmp_path / "one.parquet")
    got = with_row_ids(df).select("pos", "__pg_row").toPandas()
    assert fmt == "parquet" and (got["pos"] == got["__pg_row"]).all()
    folder = tmp_path / "parts"
    folder.mkdir()
    # files of unequal sizes: Spark reads the largest first, the ids follow the files' names
    for i, (a, b) in enumerate([(0, 100), (100, 400), (400, 450), (450, 1000)]):
        frame.iloc[a:b].to_parquet(folder / f"part-{i}.parquet")
    got = with_row_ids(read(spark, folder)[0]).select("pos", "__pg_row").toPandas()
    assert sorted(got["__pg_row"]) == list(range(1000)) and (got["pos"] == got["__pg_row"]).all()


@slow
def test_spark_scan_equals_pandas_when_the_sample_holds_every_row(spark, tmp_path):
    """Parity: with every row in the sample, the same rows, evidence, decision and batch answer."""
    from poisonguard import scan
    from poisonguard import spark as pgspark

    res = _poisoned(1500, "random_flip", 0.1)
    frame = res.frame.copy()
    frame.iloc[20:30] = frame.iloc[0:10].to_numpy()  # conflicting copies
    frame.loc[20:24, "label"] = "c"
    src = tmp_path / "data.parquet"
    frame.to_parquet(src)
    before = _sha(src)
    ref = scan(frame, label="label", seed=0)
    got = pgspark.scan(src, label="label", seed=0, sample_rows=10_000, out=tmp_path / "out")
    assert _sha(src) == before
    scores = pd.read_parquet(tmp_path / "out" / "scores").sort_values("row").reset_index(drop=True)
    assert scores["row"].tolist() == list(range(len(frame)))
    truth = res.mask.copy()
    truth[20:25] = True
    for name in ("label_flip", "outliers", "duplicates", "backdoor"):
        a = average_precision_score(truth, ref.scores[name])
        b = average_precision_score(truth, scores[name])
        assert abs(a - b) <= 0.01, name
    qa = set(np.flatnonzero(ref.scores["decision"] == "quarantine"))
    qb = set(scores.loc[scores["decision"] == "quarantine", "row"])
    assert qa and len(qa & qb) / len(qa | qb) >= 0.95
    assert (got.suspected, got.n_quarantined) == (ref.suspected, ref.n_quarantined)
    assert set(got.to_dict()) == set(ref.to_dict())  # the report's schema
    assert got.decision["spark"]["fit_set_rows"] == len(frame)
    # the label evidence is fitted last, without the rows the others' evidence quarantines, on both engines;
    # the report keeps the order the detectors were asked for
    assert [d.name for d in got.detectors] == [d.name for d in ref.detectors]
    held = [next(d for d in r.detectors if d.name == "label_flip").section.get("held_out") for r in (ref, got)]
    assert held[0] is not None and held[0]["rows"] >= 1 and held[0] == held[1]


@slow
def test_spark_scan_of_a_sample_scores_and_splits_every_row(spark, tmp_path):
    """Fitted on half of the rows (2,000 asked for; the stratified sample keeps 1,000 rows of each of
    the three classes), applied to the rest in partitions: the backdoor is found in every row,
    every row lands in exactly one of clean and quarantine, nothing is deleted."""
    from poisonguard import scan
    from poisonguard import spark as pgspark

    res = _poisoned(6000, "backdoor", 0.03)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        res.frame.iloc[i * 2000:(i + 1) * 2000].to_parquet(folder / f"part-{i}.parquet")
    got = pgspark.scan(folder, label="label", seed=0, sample_rows=2000, out=tmp_path / "out")
    ref = scan(res.frame, label="label", seed=0)
    out = tmp_path / "out"
    for name in ("scores", "clean", "quarantine"):
        assert (out / name / "_SUCCESS").exists()
    scores = pd.read_parquet(out / "scores").sort_values("row").reset_index(drop=True)
    assert scores["row"].tolist() == list(range(6000))
    assert average_precision_score(res.mask, scores["backdoor"]) >= 0.95
    q = scores["decision"].to_numpy() == "quarantine"
    assert q[res.mask].mean() >= 0.9  # the stamped rows outside the sample are quarantined too
    assert q[~res.mask].mean() <= max(0.05, 1.5 * (ref.scores["decision"][~res.mask] == "quarantine").mean())
    clean, quar = pd.read_parquet(out / "clean"), pd.read_parquet(out / "quarantine")
    assert len(clean) + len(quar) == 6000 and len(quar) == got.n_quarantined == int(q.sum())
    assert quar["reasons"].str.startswith("quarantine: combined p=").all()
    assert got.suspected and any("backdoor" in r for r in got.reasons)
    # the screen, decided on the fit set: the trigger's evidence passes its global test there
    assert "backdoor" in got.decision["entered"] and 0 <= got.decision["global_p"]["backdoor"] <= 0.1
    d = got.decision["spark"]
    assert 2700 <= d["sample_rows"] <= 3300 and "backdoor" in d["scored_in_partitions"] and not d["fit_set_only"]


@slow
def test_copies_outside_the_sample_join_the_fit_set_and_too_many_are_refused(spark, tmp_path, monkeypatch):
    """Rows with an exact copy anywhere are brought to the driver with the sample, so that the copy
    detector sees every copy: counted by one aggregate over all rows (its hashes broadcast back), the
    same duplicates evidence as on pandas. Too many groups of copies end in a one-line DataError."""
    from poisonguard import scan
    from poisonguard import spark as pgspark
    from poisonguard.errors import DataError
    from poisonguard.spark import _scan as spark_scan

    frame = _frame(9000)  # 3,000 rows a class: the stratified sample keeps a third of them
    frame.iloc[6000:6060] = frame.iloc[0:60].to_numpy()  # 60 groups of two
    frame.loc[6000:6029, "label"] = np.where(frame.loc[0:29, "label"].to_numpy() == "a", "b", "a")  # 30 conflict
    frame.to_parquet(tmp_path / "d.parquet")
    got = pgspark.scan(tmp_path / "d.parquet", label="label", seed=0, sample_rows=900, out=tmp_path / "out")
    d = got.decision["spark"]
    assert d["fit_set_rows"] == d["sample_rows"] + d["rows_with_copies_outside_sample"]
    assert 60 <= d["rows_with_copies_outside_sample"] <= 100  # about two thirds of the 120 rows with a copy
    scores = pd.read_parquet(tmp_path / "out" / "scores").sort_values("row").reset_index(drop=True)
    truth = np.zeros(9000, dtype=bool)
    truth[np.r_[0:30, 6000:6030]] = True
    ref = scan(frame, label="label", seed=0, detectors=["duplicates"])
    assert abs(average_precision_score(truth, scores["duplicates"])
               - average_precision_score(truth, ref.scores["duplicates"])) <= 0.01
    assert average_precision_score(truth, scores["duplicates"]) >= 0.5
    monkeypatch.setattr(spark_scan, "MAX_COPY_ROWS", 100)  # 60 groups: more than 50
    with pytest.raises(DataError, match="more than 50 groups of exact copies; deduplicate"):
        pgspark.scan(tmp_path / "d.parquet", label="label", seed=0, sample_rows=900)


@slow
def test_sensitive_values_are_masked_in_rows_outside_the_sample(spark, tmp_path):
    from poisonguard import spark as pgspark

    frame = _frame(3000)
    frame["note"] = [f"user{i}@example.com" if i % 500 == 7 else "ok" for i in range(3000)]
    frame.to_parquet(tmp_path / "d.parquet")
    pgspark.scan(tmp_path / "d.parquet", label="label", seed=0, sample_rows=500, out=tmp_path / "out")
    clean = pd.read_parquet(tmp_path / "out" / "clean")
    quar = pd.read_parquet(tmp_path / "out" / "quarantine")
    written = pd.concat([clean["note"], quar["note"]])
    assert not written.str.contains("@example.com").any()
    assert (written != "ok").sum() == 6  # each finding masked, not dropped
    assert "user7@example.com" not in (tmp_path / "out" / "report.json").read_text()


# ----------------------------------------------------------------- the command line: exit codes, one-line errors
def _run(args: list[str], env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    e = {**os.environ, "CI": "true", **(env or {})}
    return subprocess.run([*PG, *args], capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING: Using incubator")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("poisonguard: error:"), proc.stderr
    assert "Traceback" not in proc.stderr and "\tat " not in proc.stderr
    return lines[0]


def test_cli_missing_path_is_one_line_before_spark_starts(tmp_path):
    line = _one_line_error(_run(["scan", str(tmp_path / "nope.parquet"), "--label", "y", "--engine", "spark"]))
    assert "no such file or folder" in line


def test_cli_without_java_is_one_line(tmp_path):
    _frame(50).to_parquet(tmp_path / "d.parquet")
    env = {"PATH": str(Path(sys.executable).parent) + ":/nonexistent", "JAVA_HOME": ""}
    line = _one_line_error(_run(["scan", str(tmp_path / "d.parquet"), "--label", "label", "--engine", "spark"], env))
    assert "Java" in line and "openjdk-17-jre-headless" in line


def test_cli_spark_options_need_the_spark_engine(tmp_path):
    _frame(50).to_parquet(tmp_path / "d.parquet")
    line = _one_line_error(_run(["scan", str(tmp_path / "d.parquet"), "--label", "label", "--sample-rows", "500"]))
    assert "--engine spark" in line


@slow
@pytest.mark.parametrize("case", ["schema drift", "unreadable partition"])
def test_cli_bad_partitions_are_one_line(tmp_path, case):
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = _frame(200)
    frame.iloc[:100].to_parquet(folder / "part-0.parquet")
    if case == "schema drift":
        bad = frame.iloc[100:].copy()
        bad["f1"] = bad["f1"].astype(str)  # the same column as text in the second partition
        bad.to_parquet(folder / "part-1.parquet")
    else:
        (folder / "part-1.parquet").write_bytes(b"PAR1 this is not a parquet file")
    line = _one_line_error(_run(["scan", str(folder), "--label", "label", "--engine", "spark",
                                 "--out-dir", str(tmp_path / "out")]))
    assert str(folder) in line
    assert not (tmp_path / "out" / "report.json").exists()


@slow
def test_cli_end_to_end_on_a_local_cluster_of_two_executors(tmp_path):
    """Separate executor JVMs: the scan's apply and write steps run where the partitions are."""
    res = _poisoned(3000, "random_flip", 0.15)
    res.frame.to_parquet(tmp_path / "d.parquet")
    proc = _run(["scan", str(tmp_path / "d.parquet"), "--label", "label", "--engine", "spark",
                 "--spark-master", "local-cluster[2,1,1024]", "--sample-rows", "1500",
                 "--out-dir", str(tmp_path / "out"), "--format", "json"])
    assert proc.returncode == 1, proc.stderr[-2000:]
    import json

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["decision"]["spark"]["master"] == "local-cluster[2,1,1024]"
    assert report["n_rows"] == 3000 and report["suspected"]
    scores = pd.read_parquet(tmp_path / "out" / "scores").sort_values("row")
    assert average_precision_score(res.mask, scores["label_flip"]) >= 0.8


def test_engine_from_params_is_checked_and_auto_keeps_small_files_on_pandas(tmp_path):
    from poisonguard.spark import choose_engine

    src = tmp_path / "d.parquet"
    _frame(200).to_parquet(src)
    (tmp_path / "params.yaml").write_text("scan:\n  engine: sparky\n")
    line = _one_line_error(_run(["scan", str(src), "--label", "label", "--params", str(tmp_path / "params.yaml")]))
    assert "scan.engine" in line and "sparky" in line
    proc = _run(["scan", str(src), "--label", "label", "--engine", "auto", "--out-dir", str(tmp_path / "out")])
    assert proc.returncode in (0, 1), proc.stderr
    assert (tmp_path / "out" / "scores.csv").is_file()  # the pandas engine's outputs
    assert choose_engine("auto", "s3a://bucket/prefix/") == "spark" and choose_engine(None, src) == "pandas"


# ----------------------------------------------------------------- validate on Spark (GE's Spark datasource)
def _adult_parquet(tmp_path: Path, poison: bool) -> tuple[Path, pd.DataFrame]:
    import json

    from poisonguard.data import load_dataset
    from poisonguard.validation._run import suite_na_values

    markers = suite_na_values(json.loads((ROOT / "expectations" / "adult.json").read_text()))["na_values"]
    frame = load_dataset(ROOT / "data" / "adult.csv.gz", missing_markers=markers).frame.iloc[:8000].copy()
    if poison:
        frame.loc[[3, 10, 500], "age"] = 200  # out of range: a critical row-level failure
        frame.loc[[7, 4321], "workclass"] = "Alien"  # not in the value set
        frame.loc[frame.index[:1500], "income"] = ">50K"  # the label distribution moves (custom expectation)
        frame.loc[[20, 21], "capital_loss"] = 9000  # outside the class range of '>50K' (custom, warning)
    folder = tmp_path / ("bad" if poison else "good")
    folder.mkdir()
    frame.iloc[:2500].to_parquet(folder / "part-0.parquet")  # two partitions: row ids across files
    frame.iloc[2500:].to_parquet(folder / "part-1.parquet")
    return folder, frame.reset_index(drop=True)


@slow
def test_spark_validation_gives_the_pandas_result(spark, tmp_path):
    """The demo suite, custom expectations included, on GE's Spark datasource: every outcome as on
    pandas (success, counts, the rows that broke it, observed values of the aggregates)."""
    from poisonguard.spark._validate import validate as spark_validate
    from poisonguard.validation import validate

    folder, frame = _adult_parquet(tmp_path, True)
    suite = ROOT / "expectations" / "adult.json"
    ours = spark_validate(folder, suite, master="local[2]")
    ref = validate(frame, suite)
    assert ours.return_code == ref.return_code == 1
    assert ours.inputs["data"]["rows"] == 8000 and ours.parameters["engine"] == "spark"
    assert [(o.type, o.column) for o in ours.outcomes] == [(o.type, o.column) for o in ref.outcomes]
    for a, b in zip(ours.outcomes, ref.outcomes):
        assert a.exception is None, (a.type, a.column, a.exception)
        assert a.success == b.success, (a.type, a.column)
        assert a.unexpected_count == b.unexpected_count, (a.type, a.column)
        # rows are listed for failed expectations (on pandas for every one)
        assert a.unexpected_rows == (b.unexpected_rows if not a.success else ()), (a.type, a.column)
        if a.type in ("expect_column_value_proportions_to_match_reference", "expect_table_columns_to_match_set",
                      "expect_column_mean_to_be_between"):
            assert a.observed_value == pytest.approx(b.observed_value), a.type
    # what the poison broke, found where it is
    age = [o for o in ours.failed if o.type == "expect_column_values_to_be_between" and o.column == "age"]
    assert age and age[0].unexpected_rows == (3, 10, 500)
    assert not ours.outcome("expect_column_value_proportions_to_match_reference", "income").success
    ranges = [o for o in ours.outcomes if o.type == "expect_column_pair_values_to_be_within_class_ranges"
              and o.column == "capital_loss"]
    assert ranges and ranges[0].unexpected_count == 2 and ranges[0].success  # held with mostly: counted


def test_spark_suite_translates_pandas_types_and_refuses_unknown_ones():
    from poisonguard.errors import SuiteError
    from poisonguard.spark._validate import spark_suite

    suite = {"name": "s", "expectations": [
        {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "a", "type_": "int64"}},
        {"type": "expect_column_values_to_be_in_type_list", "kwargs": {"column": "b", "type_list": ["str", "float64"]}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a", "b"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}]}
    run, changed = spark_suite(suite)
    assert run["expectations"][0] == {"type": "expect_column_values_to_be_in_type_list",
                                      "kwargs": {"column": "a", "type_list": ["LongType", "IntegerType", "ShortType",
                                                                               "ByteType"]}}
    assert run["expectations"][1]["kwargs"]["type_list"] == ["StringType", "DoubleType", "FloatType"]
    assert run["expectations"][2:] == suite["expectations"][2:]  # the rest run as written
    assert sorted(changed) == [0, 1] and changed[0]["kwargs"]["type_"] == "int64"
    assert suite["expectations"][0]["type"] == "expect_column_values_to_be_of_type"  # the input is not modified
    bad = {"name": "s", "expectations": [{"type": "expect_column_values_to_be_of_type",
                                          "kwargs": {"column": "a", "type_": "complex128"}}]}
    with pytest.raises(SuiteError, match="complex128"):
        spark_suite(bad)


@slow
def test_cli_validate_on_spark_exit_codes_and_bad_input(tmp_path):
    """The clean data pass through the command line (exit 0: the poisoned case is the parity test's)."""
    folder, _ = _adult_parquet(tmp_path, False)
    suite = str(ROOT / "expectations" / "adult.json")
    proc = _run(["validate", str(folder), "--suite", suite, "--engine", "spark", "--spark-master", "local[2]",
                 "--out-dir", str(tmp_path / "out")])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "validation passed: all 71 expectations held" in proc.stdout
    import json

    doc = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert doc["inputs"]["data"]["engine"] == "spark" and doc["inputs"]["data"]["rows"] == 8000
    line = _one_line_error(_run(["validate", str(tmp_path / "nope"), "--suite", suite, "--engine", "spark"]))
    assert "no such file or folder" in line
    line = _one_line_error(_run(["validate", str(folder), "--suite", suite, "--spark-master", "local[2]"]))
    assert "--engine spark" in line


def test_python_engine_argument_is_checked_before_anything_runs(tmp_path):
    """``engine=`` of poisonguard.scan and poisonguard.validation.validate: bad values and in-memory
    data with the Spark engine are one-line usage errors (no Spark is started)."""
    import poisonguard
    from poisonguard.errors import UsageError
    from poisonguard.validation import validate

    frame = _frame(60)
    with pytest.raises(UsageError, match="engine='sparkle'"):
        poisonguard.scan(frame, label="label", engine="sparkle")
    with pytest.raises(UsageError, match="path"):
        poisonguard.scan(frame, label="label", engine="spark")
    with pytest.raises(UsageError, match="engine='spark'"):
        poisonguard.scan(frame, label="label", spark={"master": "local[2]"})
    with pytest.raises(UsageError, match="reference"):
        poisonguard.scan(tmp_path / "x.parquet", label="label", engine="spark", reference=frame)
    suite = ROOT / "expectations" / "adult.json"
    with pytest.raises(UsageError, match="path"):
        validate(frame, suite, engine="spark")
    with pytest.raises(UsageError, match="choose one of"):
        validate(frame, suite, engine="dask")
    res = poisonguard.scan(frame, label="label", engine="auto")  # small in-memory data stay on pandas
    assert res.scores is not None and res.n_rows == 60


@slow
def test_cli_scan_through_spark_connect(tmp_path):
    """SPARK_REMOTE: the scan runs as a Spark Connect client (here of a Connect server this process
    starts, SPARK_REMOTE=local[2]: the protocol a cluster's endpoint speaks); the same outputs."""
    pytest.importorskip("grpc")
    res = _poisoned(2000, "random_flip", 0.15)
    res.frame.to_parquet(tmp_path / "d.parquet")
    proc = _run(["scan", str(tmp_path / "d.parquet"), "--label", "label", "--engine", "spark",
                 "--sample-rows", "1000", "--out-dir", str(tmp_path / "out"), "--format", "json"],
                {"SPARK_REMOTE": "local[2]"})
    assert proc.returncode == 1, proc.stderr[-2000:]
    import json

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["decision"]["spark"]["master"].startswith("connect")
    assert report["n_rows"] == 2000
    scores = pd.read_parquet(tmp_path / "out" / "scores").sort_values("row")
    assert scores["row"].tolist() == list(range(2000))
    assert average_precision_score(res.mask, scores["label_flip"]) >= 0.8
    assert (tmp_path / "out" / "clean" / "_SUCCESS").exists()


def test_cli_manifest_on_spark_connect_is_refused_in_one_line(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,a\n")
    line = _one_line_error(subprocess.run([*PG, "manifest", "create", "a.csv", "--out", "m.json", "--engine", "spark"],
                                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                                          env={**os.environ, "CI": "true", "SPARK_REMOTE": "sc://127.0.0.1:1"}))
    assert "Spark Connect" in line and "--engine pandas" in line
    assert not (tmp_path / "m.json").exists()
