"""Backdoor triggers (``backdoor``): quality floors on stamped triggers (numeric and categorical),
the trigger named in the report, no suspected trigger on clean data, rules kept as data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from poisonguard.attacks import poison
from poisonguard.data import TabularDataset, load_dataset
from poisonguard.detectors import BackdoorTriggerDetector, Condition, TriggerRule
from poisonguard.scan import scan

#: Documented floor (issue 3: AP >= 0.95; benchmarks/RESULTS.md: 1.000 on all seven datasets).
AP_FLOOR = 0.95


def _fit(ds: TabularDataset, **kw) -> BackdoorTriggerDetector:
    return BackdoorTriggerDetector(random_state=0, **kw).scan_fit(ds, ds.encode(), ds.label_codes())


def _named(det: BackdoorTriggerDetector, params: dict) -> bool:
    truth = (sorted(params["features"]), str(params["target"]))
    return any((sorted(r.columns), str(r.target)) == truth for r in det.triggers_)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quality_floor_and_trigger_named_banknote(banknote, seed):
    res = poison(banknote, "backdoor", seed=seed)
    ds = res.dataset
    det = _fit(ds)
    assert average_precision_score(res.mask, det.raw_scores_) >= AP_FLOOR
    assert _named(det, res.params)
    suspected, why = det.batch_finding(ds)
    assert suspected and "suspected trigger" in why
    section = det.report_section(ds)
    json.dumps(section, allow_nan=False)
    cols = {c["column"] for c in section["triggers"][0]["conditions"]}
    assert cols == set(res.params["features"]) and section["triggers"][0]["target"] == res.params["target"]


def test_quality_floor_mixed_kinds_adult(adult_small):
    base = TabularDataset.from_frame(adult_small, label="income")
    res = poison(base, "backdoor", seed=0)
    ds = res.dataset
    det = _fit(ds)
    assert average_precision_score(res.mask, det.raw_scores_) >= AP_FLOOR
    assert _named(det, res.params)
    rule = det.triggers_[0]
    assert rule.purity >= 0.9 and rule.consistency is not None and rule.consistency <= 0.35
    assert rule.resembles == "<=50K"  # the stamped rows were taken from the other class
    reasons = det.row_reasons(ds, np.flatnonzero(res.mask)[:3])
    assert all("carries suspected trigger" in r for r in reasons)


def test_categorical_trigger(adult_small):
    frame = adult_small.copy()
    rng = np.random.default_rng(3)
    rows = rng.choice(np.flatnonzero((frame["income"] == "<=50K").to_numpy()), size=120, replace=False)
    rare = {c: frame[c].value_counts().index[-1] for c in ("workclass", "race")}
    for c, v in rare.items():
        frame.loc[rows, c] = v
    frame.loc[rows, "income"] = ">50K"
    ds = TabularDataset.from_frame(frame, label="income")
    det = _fit(ds)
    mask = np.zeros(len(frame), dtype=bool)
    mask[rows] = True
    assert average_precision_score(mask, det.raw_scores_) >= AP_FLOOR
    top = det.triggers_[0]
    assert {(c.column, c.op, c.value) for c in top.conditions} == {(c, "==", v) for c, v in rare.items()}


@pytest.mark.parametrize("which", ["banknote", "adult", "blobs"])
def test_no_trigger_suspected_on_clean_data(which, banknote, adult_small, blobs):
    ds = {"banknote": banknote, "adult": TabularDataset.from_frame(adult_small, label="income"),
          "blobs": TabularDataset.from_frame(blobs, label="label")}[which]
    det = _fit(ds)
    assert det.triggers_ == [] and not (det.labels_ == -1).any()
    assert det.batch_finding(ds) == (False, "")


def test_rules_are_data_mask_stamp_and_round_trip(banknote):
    res = poison(banknote, "backdoor", seed=0)
    ds = res.dataset
    det = _fit(ds)
    rule = det.triggers_[0]
    d = rule.to_dict()
    assert TriggerRule.from_dict(json.loads(json.dumps(d))) == rule
    assert d["text"] == rule.text() and " → class = " in d["text"] and "% purity" in d["text"]
    carried = rule.mask(res.frame)
    assert carried.sum() == rule.n_rows
    flagged = det.labels_ == -1
    assert np.array_equal(flagged, carried & (res.frame["class"] == rule.target).to_numpy())
    stamped = rule.stamp(banknote.frame, rows=[0, 1, 2])
    assert rule.mask(stamped)[:3].all() and not rule.mask(banknote.frame).any()


def test_condition_semantics():
    frame = pd.DataFrame({"x": [1.0, 99999.0, np.nan], "c": ["a", "b", None]})
    assert Condition("x", ">=", 99999).mask(frame).tolist() == [False, True, False]
    assert Condition("x", "<=", 1).mask(frame).tolist() == [True, False, False]
    assert Condition("c", "==", "b").mask(frame).tolist() == [False, True, False]
    assert str(Condition("x", ">=", 99999)) == "x >= 99999"


def test_condition_operators_of_hand_written_rules():
    """The drift stage's rules (a user's rules file) parse into the same Condition."""
    from poisonguard.errors import ConfigError

    frame = pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", None]})
    assert Condition("x", ">", 2).mask(frame).tolist() == [False, False, True]
    assert Condition("x", "<", 2).mask(frame).tolist() == [True, False, False]
    assert Condition("c", "in", ["a", "b"]).mask(frame).tolist() == [True, True, False]
    with pytest.raises(ValueError, match="unknown operator '~'"):
        Condition("x", "~", 2).mask(frame)
    assert Condition.parse({"feature": "x", "operator": "=", "threshold": 2}) == Condition("x", "==", 2)
    assert Condition.parse({"column": "x", "value": 2}).op == "=="
    with pytest.raises(ConfigError, match="needs 'column' and 'value'"):
        Condition.parse({"column": "x"})
    assert Condition("x", ">", 2).stamp_value(frame["x"]) == 3
    assert Condition("x", "<", 2.5).stamp_value(frame["x"]) < 2.5
    assert Condition("c", "in", ["b", "a"]).stamp_value(frame["c"]) == "b"


def test_plain_fit_on_arrays_and_spectral_scores():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] > 0).astype(int)
    src = np.flatnonzero(y == 0)[:20]
    X[src, 2:] = 9.0
    y[src] = 1
    det = BackdoorTriggerDetector(random_state=0).fit(X, y)
    assert str(det.triggers_[0]).startswith("x2 == 9 and x3 == 9 → y = 1, 20 rows")
    assert (det.labels_[src] == -1).all() and (det.labels_ == -1).sum() == 20
    assert det.spectral_.shape == (600,) and np.isfinite(det.spectral_).all()


def test_scan_reports_the_trigger(banknote, tmp_path):
    res = poison(banknote, "backdoor", seed=1)
    out = scan(res.frame, label="class", detectors=["backdoor", "outliers"], seed=0, out=tmp_path)
    assert out.suspected and any(r.startswith("backdoor: suspected trigger") for r in out.reasons)
    report = json.loads((tmp_path / "report.json").read_text())
    section = next(d for d in report["detectors"] if d["name"] == "backdoor")["section"]
    assert {c["column"] for c in section["triggers"][0]["conditions"]} == set(res.params["features"])
    quarantine = pd.read_csv(tmp_path / "quarantine.csv")
    assert set(quarantine["row"]) >= set(np.flatnonzero(res.mask).tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trigger_found_where_consistency_cannot_be_measured(seed):
    """haberman has three columns: with two stamped, the third cannot tell the target class apart,
    so the consistency check has nothing to measure. Two co-stamped values, one beyond every other
    row's range, still carry evidence for the stamped rows (and the reason says so); the
    untouched data carry none."""
    from conftest import shared_path

    ds = load_dataset(shared_path("haberman.csv.gz"), label="survival")
    assert not (_fit(ds).pvalues_ < 1).any()
    res = poison(ds, "backdoor", seed=seed, rate=0.03, n_features=2)
    det = _fit(res.dataset)
    p = det.pvalues_
    assert (p[res.mask] < 1e-3).all() and (p[~res.mask] == 1).all()
    why = det.row_reasons(res.dataset, np.flatnonzero(res.mask)[:1])[0]
    assert "beyond the range of every other row" in why
    out = scan(res.frame, label="survival", seed=0)
    assert (out.scores["decision"].to_numpy()[res.mask] == "quarantine").all()


def test_trigger_inside_a_natural_tail_is_its_own_candidate():
    """breast-cancer-wisconsin's benign rows are mostly identical: stamped ones are copies of each
    other, and ``bland_chromatin == 17`` sits inside the natural, pure tail ``bland_chromatin >= 10``.
    The out-of-range point mass must stay a candidate of its own, not be absorbed by the tail."""
    from conftest import shared_path

    ds = load_dataset(shared_path("breast_cancer_wisconsin.csv.gz"), label="class")
    assert not (_fit(ds).pvalues_ < 1).any()
    res = poison(ds, "backdoor", seed=0, rate=0.03, n_features=2)
    det = _fit(res.dataset)
    assert (det.pvalues_[res.mask] < 1e-3).all() and (det.pvalues_[~res.mask] == 1).all()
    assert any(set(r.columns) == set(res.params["features"]) for r in det.rules_[:3])


def test_a_rule_the_trusted_version_holds_is_natural_a_stamped_one_is_not(banknote):
    """Against a trusted version a rule is judged by whether the trusted data hold it too: the
    same stamped rows spread over both versions (the trusted data carry the rule at the same rate)
    make it a natural association — reported under ``natural_in_trusted``, no row evidence, no
    batch finding —, while the same trigger stamped on the new batch alone stays suspected."""
    from sklearn.model_selection import train_test_split

    att = poison(banknote, "backdoor", rate=0.03, seed=0)
    frame = att.frame.assign(_stamped=att.mask)
    tr, new = train_test_split(frame, test_size=0.4, stratify=frame["class"], random_state=0)
    new_mask = new.pop("_stamped").to_numpy()
    tr = tr.drop(columns="_stamped").reset_index(drop=True)
    new = new.reset_index(drop=True)
    alone = scan(new, label="class", detectors=["backdoor"], seed=0)
    assert alone.suspected and alone.scores["flagged"].to_numpy()[new_mask].mean() >= 0.9
    held = scan(new, label="class", detectors=["backdoor"], reference=tr, seed=0)
    section = held.to_dict()["detectors"][0]["section"]
    assert not any(r.startswith("backdoor") for r in held.reasons) and not section["triggers"]
    assert section["natural_in_trusted"] and all(n["trusted_rows"] > 0 and n["p"] > 0.01
                                                 for n in section["natural_in_trusted"])
    assert (held.scores["backdoor"].to_numpy()[new_mask] < 0.5).all()  # no row evidence left
    # trusted rows without the trigger: the batch's stamped rows are found as before
    trusted_clean = banknote.frame.drop(index=np.flatnonzero(att.mask)).sample(n=len(tr), random_state=0)
    stamped = scan(new, label="class", detectors=["backdoor"], reference=trusted_clean.reset_index(drop=True), seed=0)
    assert any(r.startswith("backdoor") for r in stamped.reasons)
    assert stamped.scores["flagged"].to_numpy()[new_mask].mean() >= 0.9


def _small_target_class(n_genuine: int, stamped: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three classes in separate regions of four features (200, 90 and ``n_genuine`` rows) and two
    columns of 40 values; five rows carry the rare values x4 = 97, x5 = 98 and class 2 — genuine
    class-2 rows (a natural rule) or class-0 rows relabelled (a stamped trigger)."""
    rng = np.random.default_rng(0)
    sizes = [200, 90, n_genuine]
    centres = np.array([[0, 0, 0, 0], [3, -3, 3, -3], [3, 3, 3, 3]])
    X = np.vstack([rng.normal(centres[c], 0.7, size=(m, 4)) for c, m in enumerate(sizes)])
    y = np.repeat([0, 1, 2], sizes)
    T = rng.integers(0, 40, size=(len(y), 2)).astype(float)
    rows = np.flatnonzero(y == (0 if stamped else 2))[:5]
    y[rows] = 2
    T[rows] = [97.0, 98.0]
    return np.hstack([X, T]), y, rows


@pytest.mark.parametrize(("n_genuine", "stamped"), [(12, False), (8, False), (4, True), (6, True), (9, True)])
def test_consistency_with_few_genuine_target_rows(n_genuine, stamped):
    """A class with 4-9 rows besides the rule's is too small to split into probes and reference:
    each of its rows votes among the others, itself left out. A rare pair of values carried by rows
    that sit among their class is natural (new-thyroid: five hypothyroid rows with the lowest T3
    and highest TSH were a 'trigger' before); the same values stamped on another class's rows
    are still a trigger."""
    X, y, rows = _small_target_class(n_genuine, stamped)
    det = BackdoorTriggerDetector(random_state=0).fit(X, y)
    flagged = det.labels_ == -1
    if stamped:
        assert det.triggers_ and flagged[rows].all() and flagged.sum() == rows.size
        assert det.triggers_[0].consistency is not None and det.triggers_[0].consistency <= det.max_consistency
    else:
        assert not det.triggers_ and not flagged.any(), [str(r) for r in det.triggers_]


def test_overlap_evidence_is_the_exact_hypergeometric_tail():
    """Two conditions that fall on the same ``k`` rows of ``n``: the chance of that overlap when
    one of them covers its rows at random is ``1 / C(n, k)`` exactly, far below the Poisson tail
    of mean ``k * k / n`` that approximates it for large ``n`` only."""
    import math

    from scipy import stats

    from poisonguard.detectors._backdoor_evidence import overlap_evidence

    assert overlap_evidence(3, 105, 3, 3) == pytest.approx(math.log10(math.comb(105, 3)))
    assert overlap_evidence(3, 105, 3, 3) > -stats.poisson.logsf(2, 9 / 105) / math.log(10) + 1.0
    assert overlap_evidence(0, 105, 3, 3) == pytest.approx(0.0, abs=1e-12)  # any overlap: no evidence
    # large data: the two agree
    assert overlap_evidence(40, 1_000_000, 2000, 5000) == pytest.approx(
        -stats.poisson.logsf(39, 10.0) / math.log(10), rel=0.02)


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_three_stamped_rows_of_a_hundred_are_quarantined(seed):
    """A backdoor on 3 % of iris's 105 training rows is three rows. Their two stamped values lie
    beyond every other row's range, so the overlap is as unlikely as 1 in C(105, 3): the scan
    quarantines the three rows and nothing else of the data (with the Poisson tail, seeds 1 and
    4 quarantined none of them). Not covered, a known limit: where the target is versicolor (seeds 2
    and 3 here), the two unstamped columns place the stamped rows with the target, so the rule
    looks natural and carries no evidence."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.sample(frac=0.7, random_state=seed).reset_index(drop=True)
    res = poison(TabularDataset.from_frame(frame, label="target"), "backdoor", seed=seed, rate=0.03, n_features=2)
    assert res.mask.sum() == 3
    out = scan(res.frame, label="target", seed=seed)
    q = out.scores["decision"].to_numpy() == "quarantine"
    assert q[res.mask].all() and not q[~res.mask].any()
    assert "backdoor" in out.decision["entered"]
