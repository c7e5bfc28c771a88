"""poisonguard.scan and `poisonguard scan`: outputs, row identity, exit codes, bad input."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from poisonguard import ScanResult, scan
from poisonguard.attacks import poison
from poisonguard.data import TabularDataset, load_dataset


@pytest.fixture(scope="module")
def poisoned_blobs(blobs):
    ds = TabularDataset.from_frame(blobs, label="label")
    return poison(ds, "random_flip", rate=0.1, seed=0)


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["in.csv", "in.csv.gz", "in.parquet", "in.jsonl"])
def test_outputs_one_line_per_row_and_split(poisoned_blobs, write, tmp_path, name):
    src = write(poisoned_blobs.frame, name)
    before = _sha(src)
    result = scan(src, label="label", detectors=["label_flip"], out=tmp_path / "out", seed=0)
    assert _sha(src) == before  # input never modified
    out = tmp_path / "out"
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns[:3]) == ["row", "suspicion", "flagged"] and "label_flip" in scores.columns
    assert scores["row"].tolist() == list(range(len(poisoned_blobs.frame)))
    assert scores["suspicion"].between(0, 1).all()
    ext = name[2:]
    clean = load_dataset(out / f"clean{ext}", label="label")
    quarantine = load_dataset(out / f"quarantine{ext}", label="label")
    assert clean.n_rows + quarantine.n_rows == len(poisoned_blobs.frame)  # nothing lost
    assert {"row", "suspicion", "reasons"} <= set(quarantine.frame.columns)
    q_rows = quarantine.frame["row"].to_numpy()
    assert (scores.loc[q_rows, "flagged"]).all() and scores["flagged"].sum() == quarantine.n_rows
    assert quarantine.frame["reasons"].str.contains("label_flip: labelled").all()
    # quarantined rows keep their original values
    orig = poisoned_blobs.frame.iloc[q_rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(quarantine.frame[orig.columns].reset_index(drop=True), orig, check_dtype=False)
    report = json.loads((out / "report.json").read_text())
    assert report["kind"] == "scan" and report["schema_version"] and report["tool"]["version"]
    assert report["inputs"]["data"]["sha256"] == before and report["inputs"]["data"]["rows"] == len(poisoned_blobs.frame)
    assert report["failures"] == [] and report["detectors"][0]["name"] == "label_flip"
    assert ScanResult.from_dict(report).n_quarantined == result.n_quarantined
    recall = poisoned_blobs.mask[q_rows].sum() / poisoned_blobs.mask.sum()
    # the quarantine needs both the refitted model and the neighbourhood to reject a label (three
    # classes: a neighbourhood with no agreeing row is a 1-in-3,000 event); every flip is listed
    assert recall >= 0.75 and poisoned_blobs.mask[q_rows].mean() >= 0.95
    listed = scores["decision"].isin(["review", "quarantine"]).to_numpy()
    assert listed[poisoned_blobs.mask].mean() >= 0.95


def test_verdict_suspected_on_flips_and_clean_on_clean(blobs, poisoned_blobs):
    assert scan(blobs, label="label", detectors=["label_flip"]).suspected is False
    r = scan(poisoned_blobs.frame, label="label", detectors=["label_flip"])
    assert r.suspected and r.status == "suspected" and r.return_code == 1 and r.reasons


def test_missing_labels_are_quarantined_not_scored(blobs, tmp_path):
    frame = blobs.copy()
    frame.loc[[3, 7], "label"] = None
    r = scan(frame, label="label", detectors=["label_flip"], out=tmp_path)
    q = pd.read_csv(tmp_path / "quarantine.csv")
    assert {3, 7} <= set(q["row"]) and q.set_index("row").loc[3, "reasons"].endswith("label missing")


def test_detector_failure_is_recorded_and_scan_finishes(blobs):
    from poisonguard import detectors
    from poisonguard.detectors import BaseDetector

    class Broken(BaseDetector):
        name = "test_broken_detector"
        family = "test"

        def __init__(self, *, contamination="auto"):
            self.contamination = contamination

        def _fit_raw(self, X, y):
            raise RuntimeError("boom")

    detectors.register(Broken)
    try:
        r = scan(blobs, label="label", detectors=["label_flip", "test_broken_detector"])
    finally:
        detectors._REGISTRY.pop("test_broken_detector")
    assert [f.detector for f in r.failures] == ["test_broken_detector"]
    assert r.failures[0].message == "boom" and r.n_rows == len(blobs)
    assert list(r.scores.columns) == ["row", "suspicion", "flagged", "decision", "p_value", "label_flip"]
    assert r.return_code == 3
    # a failed detector never reads as clean: the headline and report.json say incomplete
    assert r.status == "incomplete" and str(r).splitlines()[0].endswith("INCOMPLETE (1 detector(s) failed; "
                                                                        "not a clean result)")
    assert r.to_dict()["status"] == "incomplete" and "incomplete" in r._repr_html_()


def test_extreme_floats_disable_no_detector(blobs):
    """One 1e308 cell (and -1e308, inf) once overflowed the float32 encoding and failed every detector."""
    import warnings

    frame = blobs.copy()
    frame.loc[5, "f0"], frame.loc[6, "f1"], frame.loc[7, "f2"] = 1e308, -1e308, np.inf
    frame["note"] = "ok"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = scan(frame, label="label", seed=0)
    assert r.failures == () and r.status != "incomplete"
    assert r.scores.loc[[5, 6], "outliers"].min() > 0.5  # the extreme rows stay the most extreme


def test_unknown_parameter_is_a_usage_error(blobs):
    from poisonguard.errors import UsageError

    with pytest.raises(UsageError, match=r"scan\.label_flip\.k is not a parameter of label_flip; allowed: .*n_neighbors"):
        scan(blobs, label="label", params={"label_flip": {"k": 3}})


# -- through the CLI ---------------------------------------------------------------------------------
def test_cli_exit_codes(cli, blobs, poisoned_blobs, write, tmp_path):
    clean = write(blobs, "clean_in.csv")
    dirty = write(poisoned_blobs.frame, "dirty_in.csv")
    rc, out, _ = cli("scan", clean, "--label", "label", "--out", tmp_path / "a")
    assert rc == 0 and "clean" in out
    rc, out, _ = cli("scan", dirty, "--label", "label", "--out", tmp_path / "b", "--format", "json")
    assert rc == 1 and json.loads(out)["suspected"] is True
    # issue 17: --exit-zero for pipeline steps, a flat --metrics file, a missing params file is the defaults
    rc, out, err = cli("scan", dirty, "--label", "label", "--out", tmp_path / "c", "--exit-zero", "--quiet",
                       "--metrics", tmp_path / "metrics" / "scan.json", "--params", tmp_path / "no-params.yaml")
    assert rc == 0 and out == "" and "no-params.yaml: no such parameters file; using the defaults" in err
    metrics = json.loads((tmp_path / "metrics" / "scan.json").read_text())
    assert metrics["failed"] == 1 and metrics["label_flip_suspected"] == 1 and metrics["rows"] == len(poisoned_blobs.frame)


def test_report_is_byte_identical_and_timings_apart(cli, poisoned_blobs, write, tmp_path):
    # issue 17.2: what downstream stages read does not change with the run; the times go to timings.json
    src = write(poisoned_blobs.frame, "in.csv")
    names = ("report.json", "scores.csv", "clean.csv", "quarantine.csv")
    runs = []
    for i in range(2):
        rc, _, _ = cli("scan", src, "--label", "label", "-d", "label_flip,outliers", "--out", tmp_path / "out",
                       "--quiet")
        assert rc == 1
        runs.append({n: (tmp_path / "out" / n).read_bytes() for n in names})
    assert runs[0] == runs[1]
    report = json.loads(runs[0]["report.json"])
    assert report["schema_version"] == "4.0" and all("seconds" not in d for d in report["detectors"])
    timings = json.loads((tmp_path / "out" / "timings.json").read_text())
    assert set(timings["detectors"]) == {"label_flip", "outliers"}
    assert all(v >= 0 for v in timings["detectors"].values()) and timings["unit"] == "seconds"


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (b"", ["--label", "y"], "empty"),
        (b"x,y\n1,a\n2\n", ["--label", "y"], "ragged rows"),
        (b"x,y\n1,a\n2,a\n3,a\n", ["--label", "y"], "single class"),
        (b"x,y\n1,a\n2,b\n", ["--label", "income"], "no label column 'income'"),
        (b"x,y\n\x00\x00\x00", ["--label", "y"], "binary"),
        (b"x,y\n1,?\n2,?\n", ["--label", "y"], "empty in every row"),
        (b"x,y\n1,a\n2,b\n", [], "need labels: pass --label"),
        (b"x,y\n1,a\n2,b\n", ["--label", "y", "--detectors", "nope"], "unknown detector 'nope'"),
        (b"x,y\n" + b"1,a\n2,b\n" * 6, ["--label", "y", "--set", "label_flip.cv=1"],
         "'cv' parameter of LabelFlipDetector"),
        (b"x,y\n1,a\n2,b\n", ["--label", "y"], "only 2 labelled rows"),
    ],
)
def test_cli_bad_input_one_line_exit_2(cli, tmp_path, content, args, needle):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    rc, out, err = cli("scan", p, *args)
    assert rc == 2, err
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_missing_file_exit_2(cli, tmp_path):
    rc, _, err = cli("scan", tmp_path / "nope.csv", "--label", "y")
    assert rc == 2 and "no such file" in err


def test_attack_cli_writes_copy_and_truth(cli, adult_small, write, tmp_path):
    src = write(adult_small, "a.csv")
    before = _sha(src)
    rc, out, err = cli("attack", src, "--label", "income", "--attack", "class_flip", "--rate", "0.2",
                       "--out", tmp_path / "p.csv")
    assert rc == 0, err
    assert _sha(src) == before
    truth = pd.read_csv(tmp_path / "p.truth.csv")
    poisoned = pd.read_csv(tmp_path / "p.csv")
    changed = (poisoned["income"] != adult_small["income"]).to_numpy()
    assert (changed == truth["poisoned"].astype(bool).to_numpy()).all() and changed.sum() > 0


def test_backdoor_stamped_rows_stay_out_of_the_label_evidence_fit():
    """On haberman (306 rows, two of three features stamped, 3 % of the rows) the backdoor's
    evidence quarantines every stamped row; label_flip must then be fitted without them: fitted
    with them, its models learn the trigger and it quarantined the clean rows of the other class
    beside it, so the model trained on the clean split obeyed the trigger more than one trained
    on every row (attack success 0.94 against 0.21 without the poison)."""
    from conftest import shared_path
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    frame = load_dataset(shared_path("haberman.csv.gz"), label="survival").frame
    train, test = train_test_split(frame, test_size=0.3, stratify=frame["survival"], random_state=0)
    base = TabularDataset.from_frame(train.reset_index(drop=True), label="survival")
    att = poison(base, "backdoor", seed=0, rate=0.03, n_features=2)
    res = scan(att.frame, label="survival", seed=0)
    quarantined = res.scores["decision"].eq("quarantine").to_numpy()
    assert quarantined[att.mask].all()
    label_flip = next(s for s in res.detectors if s.name == "label_flip")
    assert label_flip.section["held_out"]["rows"] >= int(att.mask.sum())
    # the other class's test rows, stamped with the trigger
    target = str(att.params["target"])
    stamped = test[test["survival"].astype(str) != target].copy()
    for col, value in zip(att.params["features"], att.params["values"]):
        stamped[col] = float(value)
    train_ds = TabularDataset.from_frame(att.frame, label="survival")
    X, y = train_ds.encode(), train_ds.label_codes(train_ds.classes_)
    X_stamped = train_ds.encoder.transform(TabularDataset.from_frame(stamped, label="survival"))
    t = [str(c) for c in train_ds.classes_].index(target)

    def success(keep: np.ndarray) -> float:
        model = HistGradientBoostingClassifier(random_state=0).fit(X[keep], y[keep])
        return float((model.predict(X_stamped) == t).mean())

    oracle = success(~att.mask)
    assert success(~quarantined) <= oracle + 0.05
    assert (quarantined & ~att.mask).mean() <= 0.05  # few clean rows lost on the way
