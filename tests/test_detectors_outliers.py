"""Feature-space outliers (``outliers``): quality floors on injected outliers, clean-data flag
rates, the per-class view, the cascade used at scale, and the scan's handling of a failing detector."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from poisonguard import detectors
from poisonguard.attacks import poison
from poisonguard.data import TabularDataset
from poisonguard.detectors import BaseDetector, OutlierEnsemble
from poisonguard.detectors.outliers import TailScore
from poisonguard.scan import scan

#: Documented floors (benchmarks/RESULTS.md has the full figures: AP 1.000 on banknote, >= 0.99 on adult).
AP_FLOOR = 0.95
CLEAN_MAX_FLAG_RATE = 0.01


def _fit(ds: TabularDataset, **kw) -> OutlierEnsemble:
    return OutlierEnsemble(random_state=0, **kw).scan_fit(ds, ds.encode(), None)


@pytest.mark.parametrize("seed", [0, 1])
def test_quality_floor_on_injected_outliers_banknote(banknote, seed):
    res = poison(banknote, "outliers", seed=seed)
    ds = res.dataset
    det = _fit(ds)
    assert average_precision_score(res.mask, det.raw_scores_) >= AP_FLOOR
    flagged = det.labels_ == -1
    assert flagged[res.mask].mean() >= 0.95
    assert det.batch_finding(ds)[0]


def test_quality_floor_mixed_kinds_adult(adult_small):
    base = TabularDataset.from_frame(adult_small, label="income")
    res = poison(base, "outliers", seed=0)
    ds = res.dataset
    det = _fit(ds)
    assert average_precision_score(res.mask, det.raw_scores_) >= AP_FLOOR
    reasons = det.row_reasons(ds, np.flatnonzero(res.mask & (det.labels_ == -1))[:5])
    assert reasons and all(r.startswith("outliers: unusual") for r in reasons)
    assert any("above its usual range" in r or "below its usual range" in r for r in reasons)


def test_clean_data_flags_few_rows_and_is_not_suspected(banknote, adult_small):
    for ds in (banknote, TabularDataset.from_frame(adult_small, label="income")):
        det = _fit(ds)
        assert (det.labels_ == -1).mean() <= CLEAN_MAX_FLAG_RATE
        assert det.batch_finding(ds) == (False, "")


def test_row_odd_for_its_label_is_caught_by_the_class_view():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, size=(300, 2))
    b = rng.normal(8, 1, size=(300, 2))
    X = np.vstack([a, b, [[8.0, 8.0]]])
    y = np.array(["a"] * 300 + ["b"] * 300 + ["a"])  # ordinary overall, odd for label "a"
    det = OutlierEnsemble(random_state=0).fit(X, y)
    odd = X.shape[0] - 1
    assert det.class_score_[odd] > det.overall_score_[odd] + 2
    assert det.labels_[odd] == -1
    ds = TabularDataset.from_frame(pd.DataFrame({"f0": X[:, 0], "f1": X[:, 1], "label": y}), label="label")
    det2 = _fit(ds)
    assert det2.labels_[odd] == -1
    assert "for its label" in det2.row_reasons(ds, np.array([odd]))[0]


def test_cascade_at_scale_keeps_quality(banknote):
    res = poison(banknote, "outliers", seed=2)
    ds = res.dataset
    det = _fit(ds, max_fit_rows=300, max_density_rows=400)  # sample fit + density cascade
    assert average_precision_score(res.mask, det.raw_scores_) >= AP_FLOOR


def test_inductive_scoring_and_sklearn_polarity():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    det = OutlierEnsemble(random_state=0).fit(X)
    new = np.array([[0.0, 0.0, 0.0, 0.0], [12.0, -12.0, 12.0, 0.0]])
    assert det.predict(new).tolist() == [1, -1]
    assert det.decision_function(new)[0] > 0 > det.decision_function(new)[1]
    s = det.suspicion(new)
    assert s[0] < 0.5 < s[1]


def test_report_section_is_json(banknote):
    res = poison(banknote, "outliers", seed=0)
    ds = res.dataset
    section = _fit(ds).report_section(ds)
    json.dumps(section, allow_nan=False)
    assert section["n_flagged"] >= res.n_poisoned * 0.9 and section["top_features"]


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.floats(5.0, 50.0))
def test_an_injected_extreme_row_is_never_less_suspicious_than_inliers(seed, shift):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 3))
    X[0] = X[0] + shift
    det = OutlierEnsemble(random_state=0).fit(X)
    assert np.all(np.isfinite(det.raw_scores_)) and det.raw_scores_.shape == (120,)
    assert det.raw_scores_[0] >= det.raw_scores_[1:].max()


def test_tail_score_identical_rows_score_alike():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 3))
    Z[10] = Z[11] = [7.0, 0.0, -7.0]
    t = TailScore().fit(Z)
    s = t.score(Z)
    assert s[10] == s[11] > s[np.r_[0:10, 12:200]].max()


class _Broken(BaseDetector):
    """Raises in fit: the scan must record it and finish."""

    name = "test_broken_issue3"
    family = "outlier"
    _parameter_constraints: dict = {}

    def __init__(self) -> None:
        pass

    def _fit_raw(self, X, y):
        raise RuntimeError("deliberate failure for the test")


def test_failing_detector_is_recorded_and_scan_finishes(monkeypatch, banknote, tmp_path):
    monkeypatch.setitem(detectors._REGISTRY, _Broken.name, _Broken)  # removed again after the test
    res = scan(banknote, detectors=[_Broken.name, "outliers", "duplicates"], seed=0, out=tmp_path)
    assert [(f.detector, f.error) for f in res.failures] == [(_Broken.name, "RuntimeError")]
    assert "deliberate failure" in res.failures[0].message
    assert {d.name for d in res.detectors} == {"outliers", "duplicates"}
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == banknote.n_rows and "outliers" in scores and _Broken.name not in scores
    assert res.return_code == 3


def test_each_family_runs_by_default_and_can_be_switched_off(banknote):
    assert {"outliers", "backdoor", "duplicates", "sensitive_data"} <= set(detectors.default())
    res = scan(banknote, detectors=["outliers", "duplicates"], seed=0)
    assert res.scores is not None and "backdoor" not in res.scores and "outliers" in res.scores


def test_new_rows_get_the_density_view_on_the_fit_cascade_terms(banknote, monkeypatch):
    """Fitted with the density cascade, rows scored as new get the density view only above the
    fit's cut of the cheap views (the others its calibrated median, 0); a far outlier still does."""
    from poisonguard.detectors import outliers as mod

    ds = banknote
    X = ds.encode()
    det = _fit(ds, max_density_rows=400)
    g = det.overall_
    assert g.density_cut_ is not None
    searched = []
    score = g.lof_.score
    monkeypatch.setattr(g.lof_, "score", lambda Q, *a, **k: (searched.append(len(Q)), score(Q, *a, **k))[1])
    new = np.vstack([X[:300], X[:1] + 25.0])
    views = g.score_new(new)
    above = mod._cheap_views(views) >= g.density_cut_
    assert searched == [int(above.sum())] and 0 < above.sum() < len(new) and above[-1]
    assert np.all(views["density"][~above] == 0.0) and views["density"][-1] > 0
    # without the cascade (few rows), every new row gets the view
    small = _fit(ds)
    assert getattr(small.overall_, "density_cut_", None) is None
    assert np.count_nonzero(small.overall_.score_new(X[:50])["density"]) > 0
