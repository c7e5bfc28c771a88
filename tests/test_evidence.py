"""The scan's one decision: p-values on one scale, Bonferroni across detectors, BH across rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poisonguard import evidence, scan
from poisonguard.detectors import BackdoorTriggerDetector, DuplicateDetector
from poisonguard.errors import UsageError


def _bh_reference(p: np.ndarray, q: float) -> np.ndarray:
    """Benjamini-Hochberg written the textbook way, for comparison."""
    m = p.size
    order = np.argsort(p)
    passed = [k for k in range(1, m + 1) if p[order[k - 1]] <= q * k / m]
    out = np.zeros(m, dtype=bool)
    if passed:
        out[order[: max(passed)]] = True
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bh_matches_textbook_procedure(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=300), rng.uniform(0, 1e-3, size=30)])
    t = evidence.bh_threshold(p, 0.1)
    assert np.array_equal(p <= t if t > 0 else np.zeros(p.size, bool), _bh_reference(p, 0.1))


def test_bh_controls_false_discoveries_under_the_global_null():
    rng = np.random.default_rng(0)
    runs = [evidence.bh_threshold(rng.uniform(size=500), 0.1) > 0 for _ in range(400)]
    # under the global null BH rejects anything with probability <= level
    assert np.mean(runs) <= 0.14


def test_suspicion_scale_is_one_monotone_map():
    p = np.array([1.0, 0.1, 0.01, 1e-4, 1e-10])
    s = evidence.suspicion_from_p(p)
    assert s[0] == 0.0 and s[2] == pytest.approx(0.5) and np.all(np.diff(s) > 0)
    np.testing.assert_allclose(evidence.p_from_suspicion(s), p, rtol=1e-9)


def test_tail_pvalues_extreme_rows_are_small_and_bulk_is_one():
    rng = np.random.default_rng(0)
    raw = np.concatenate([rng.exponential(size=2000), [40.0, 60.0]])
    p = evidence.tail_pvalues(raw)
    assert p[-1] < p[-2] < 1e-10
    assert np.all(p[raw <= np.median(raw)] == 1.0)
    # calibrated on the bulk: about 1 % of exponential rows below p = 0.01
    assert np.mean(p[:-2] <= 0.01) < 0.03


def test_tail_pvalues_degenerate_inputs():
    assert np.all(evidence.tail_pvalues(np.zeros(10)) == 1.0)
    p = evidence.tail_pvalues(np.array([0.0, 0.0, 0.0, np.inf, np.nan]))
    assert p[3] == evidence.P_FLOOR and p[4] == 1.0


def test_label_pvalues():
    p = evidence.label_pvalues(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]))
    assert p.tolist() == pytest.approx([1.0, 0.1])
    p3 = evidence.label_pvalues(np.array([[0.2, 0.5, 0.3]]), np.array([2]))
    assert p3[0] == pytest.approx(0.5)  # 0.2 + 0.3: labels at most as likely as its own


def test_combine_is_bonferroni_minimum():
    P = np.array([[0.01, 1.0, 0.5], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(evidence.combine_pvalues(P), [0.03, 1.0])


def test_decide_keep_review_quarantine():
    rng = np.random.default_rng(0)
    P = np.ones((1000, 2))
    P[:, 0] = rng.uniform(size=1000)
    P[:20, 1] = 1e-9  # strong evidence on 20 rows
    own = np.zeros(1000, bool)
    own[500] = True
    forced = np.zeros(1000, bool)
    forced[999] = True
    d = evidence.decide(P, level=0.1, review_level=0.25, own_flags=own, forced=forced)
    assert d.quarantine[:20].all() and d.quarantine[999]
    assert d.decision[500] in ("review", "quarantine")
    assert d.quarantine.sum() < 40  # uniform noise in the other column does not flood the quarantine
    s = d.summary()
    assert s["quarantine"] + s["review"] + s["keep"] == 1000


def test_screen_keeps_a_detector_without_evidence_out_of_the_combination():
    """A column of null (uniform) p-values next to one with real evidence: the null one does not
    enter, so its smallest p-values (about 1 / n) neither dilute the other's rows (Bonferroni over
    one detector, not two) nor outrank them."""
    rng = np.random.default_rng(0)
    n = 2000
    P = np.column_stack([rng.uniform(size=n), rng.uniform(size=n)])
    P[:20, 1] = rng.uniform(1e-7, 5e-4, size=20)  # strong evidence on 20 rows
    P[20:40, 1] = rng.uniform(1e-3, 1.8e-3, size=20)  # and moderate evidence on 20 more
    d = evidence.decide(P, level=0.1)
    assert d.entered.tolist() == [False, True] and d.global_p[0] > 0.1 >= 2 * d.global_p[1]
    unscreened = evidence.decide(P, level=0.1, entered=False)
    assert d.quarantine[:40].sum() > unscreened.quarantine[:40].sum()  # more power for the detector that finds
    assert d.quarantine[40:].sum() <= 0.1 * d.quarantine.sum() + 2
    # the ranking: the 40 rows first, not mixed with the null column's extremes
    def purity(p):
        return float((np.argsort(p, kind="stable")[:40] < 40).mean())
    assert purity(d.p_value) > purity(unscreened.p_value)
    assert d.summary()["n_detectors_combined"] == 1 and unscreened.summary()["n_detectors_combined"] == 2


def test_screen_counts_only_detectors_that_test_a_row_and_falls_back_to_review_only():
    rng = np.random.default_rng(1)
    n = 150
    P = np.ones((n, 3))
    P[:, 0] = rng.uniform(size=n)
    P[:3, 0] = 5e-4  # Simes 5e-4 * 150 / 3 = 0.025: enters only when the untested column is not counted
    tested = evidence.tested_mask(P, [False, True, True])  # the two sparse detectors test no row here
    keep, g = evidence.screen(P, tested, 0.1)
    assert keep.tolist() == [True, False, False] and g[1] == g[2] == 1.0
    # no detector with evidence: nothing is quarantined on evidence, every detector still ranks for review
    Q = rng.uniform(size=(n, 2))
    d = evidence.decide(Q, level=0.1, review_level=0.25)
    assert not d.entered.any() and not d.quarantine.any() and d.threshold == 0.0
    np.testing.assert_allclose(d.p_value, evidence.combine_pvalues(Q))


def test_screen_enters_a_null_detector_with_probability_at_most_the_level():
    rng = np.random.default_rng(2)
    entered = [evidence.screen(rng.uniform(size=(300, 2)), None, 0.1)[0].any() for _ in range(500)]
    assert np.mean(entered) <= 0.13  # Simes + Bonferroni over 2: at most 0.1 (independent uniforms)


@pytest.mark.parametrize("bad", [{"level": 0}, {"level": 1.5}, {"level": "x"}, {"nosuch": 0.1},
                                 {"level": 0.3, "review_level": 0.2}])
def test_bad_decision_levels_are_usage_errors(bad):
    with pytest.raises(UsageError, match="decision"):
        evidence.decision_levels(bad)


def test_duplicates_never_quarantine_a_whole_conflict_group():
    rng = np.random.default_rng(0)
    # a natural group of 40 identical rows with both labels (30/10), in a region of label 0
    X = np.vstack([np.zeros((40, 2)), rng.normal(size=(200, 2))])
    y = np.r_[np.zeros(30), np.ones(10), (rng.uniform(size=200) < 0.2).astype(float)]
    det = DuplicateDetector().fit(X, y)
    members = det.conflicting_
    assert members[:40].all()
    # the majority members carry no evidence; only minority members can
    assert np.all(det.pvalues_[:30] == 1.0)
    assert np.all(det.pvalues_[30:40] < 1.0)


def test_duplicates_pick_the_copy_whose_label_its_neighbours_reject():
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(0, 1, size=(150, 2)), rng.normal(6, 1, size=(150, 2))]
    y = np.r_[np.zeros(150), np.ones(150)]
    X = np.vstack([X, X[:5]])  # five copies of class-0 rows given label 1
    y = np.r_[y, np.ones(5)]
    det = DuplicateDetector().fit(X, y)
    assert np.all(det.pvalues_[300:] < 0.01)      # the relabelled copies
    assert np.all(det.pvalues_[:5] == 1.0)        # their originals


def test_backdoor_rows_get_evidence_without_a_suspected_trigger():
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (frame["a"] + 0.3 * rng.normal(size=n) > 0).astype(int)
    rows = np.flatnonzero(y == 0)[:12]  # stamped: two exact values, relabelled to 1
    frame.loc[rows, "b"] = 7.77
    frame.loc[rows, "c"] = -5.55
    y[rows] = 1
    det = BackdoorTriggerDetector(alpha=1e-30, random_state=0).fit(frame.to_numpy(), y.to_numpy())
    assert not det.triggers_  # alpha so strict that no rule passes every test
    assert np.all(det.pvalues_[rows] < 1e-6)
    assert np.mean(det.pvalues_[np.setdiff1d(np.arange(n), rows)] < 1.0) < 0.01


def test_scan_decision_column_and_clean_split(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    frame["label"] = np.where(frame["x"] > 0, "a", "b")
    frame.loc[:9, "x"] += 60.0  # ten wild outliers
    frame.loc[20, "label"] = None  # a missing label is quarantined whatever its evidence
    res = scan(frame, label="label", detectors=["outliers", "label_flip"], seed=0, out=tmp_path)
    sc = res.scores
    assert list(sc.columns[:4]) == ["row", "suspicion", "flagged", "decision"]
    assert set(sc["decision"]) <= {"keep", "review", "quarantine"}
    assert (sc["flagged"] == sc["decision"].eq("quarantine")).all()
    assert sc.loc[:9, "decision"].eq("quarantine").all() and sc.loc[20, "decision"] == "quarantine"
    assert res.n_quarantined == int(sc["flagged"].sum()) and res.n_review == int(sc["decision"].eq("review").sum())
    clean = pd.read_csv(tmp_path / "clean.csv")
    quarantine = pd.read_csv(tmp_path / "quarantine.csv")
    assert len(clean) + len(quarantine) == n
    assert len(clean) == int(sc["decision"].isin(["keep", "review"]).sum())
    assert res.decision["level"] == 0.1 and res.decision["quarantine"] == res.n_quarantined
    # the reason says which evidence decided
    assert any(r.reasons[0].startswith("quarantine: combined p=") for r in res.quarantined if r.row < 10)
    forced = next(r for r in res.quarantined if r.row == 20)  # quarantined for its missing label, not by BH
    assert "label missing" in forced.reasons and not forced.reasons[0].startswith("quarantine: combined p=")


def test_scan_decision_level_from_params():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "label": rng.integers(0, 2, size=200)})
    res = scan(frame, label="label", detectors=["outliers"], params={"decision": {"level": 0.01}}, seed=0)
    assert res.decision["level"] == 0.01
    with pytest.raises(UsageError):
        scan(frame, label="label", detectors=["outliers"], params={"decision": {"levle": 0.01}}, seed=0)


def test_bonferroni_counts_only_the_tests_made_on_a_row():
    P = np.array([[0.01, 1.0, 1.0], [0.01, 0.5, 1.0]])
    tested = evidence.tested_mask(P, [False, True, True])  # the 2nd and 3rd detectors test only some rows
    np.testing.assert_allclose(evidence.combine_pvalues(P, tested), [0.01, 0.02])
    np.testing.assert_allclose(evidence.combine_pvalues(P), [0.03, 0.03])


def test_cli_decision_level(tmp_path, cli):
    import json

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "label": rng.integers(0, 2, size=200)})
    frame.loc[:4, "x"] += 80.0
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    rc, _, err = cli("scan", path, "--label", "label", "--detectors", "outliers", "--set", "decision.level=0.01",
                     "--out", tmp_path / "o", "--quiet")
    assert rc in (0, 1), err
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    assert rep["parameters"]["decision"]["level"] == 0.01 and rep["decision"]["quarantine"] >= 5
    rc, _, err = cli("scan", path, "--label", "label", "--detectors", "outliers", "--set", "decision.level=2")
    assert rc == 2 and "decision.level must be a number in (0, 1)" in err and "Traceback" not in err


def test_held_back_counts_the_detectors_still_to_come():
    """A row is held out of a label detector's fit only when the other evidence would quarantine it
    in the scan's final decision, whose Bonferroni count includes the dense detectors still to run."""
    from poisonguard.scan import held_back

    n = 1000
    p = np.ones(n)
    p[:20] = 1e-3  # passes BH at 0.1 over 1000 rows alone (1e-3 <= 0.1 * 20 / 1000) ...
    levels = {"level": 0.1, "review_level": 0.25}
    assert held_back([p], [False], 0, levels)[:20].all()
    # ... but not once three more dense detectors count: 4 * 1e-3 > 0.1 * 20 / 1000
    assert not held_back([p], [False], 3, levels).any()
    # a sparse detector tests only the rows it scores, so it adds nothing to the others' count
    sparse = np.ones(n)
    assert held_back([p, sparse], [False, True], 0, levels)[:20].all()
    assert held_back([], [], 1, levels).size == 0


def test_scan_keeps_the_detectors_in_the_order_asked_for():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "z": rng.normal(size=300)})
    frame["label"] = np.where(frame["x"] > 0, "a", "b")
    frame.loc[:5, ["x", "z"]] = 40.0  # outliers: held out of label_flip's fit, which runs last
    res = scan(frame, label="label", detectors=["label_flip", "outliers"], seed=0)
    assert [d.name for d in res.detectors] == ["label_flip", "outliers"]
    assert list(res.scores.columns[4:]) == ["p_value", "label_flip", "outliers"]
    assert res.detectors[0].section["held_out"]["rows"] >= 6
    assert res.scores.loc[:5, "decision"].eq("quarantine").all()


def test_upper_tail_shares():
    s = evidence.upper_tail_shares(np.array([0.5, 3.0, 0.5, np.nan, 1.0]))
    np.testing.assert_allclose(s, [0.8, 0.2, 0.8, 1.0, 0.4])
    assert evidence.upper_tail_shares(np.array([])).size == 0


def test_ranked_suspicion_puts_the_reached_rows_first_in_the_order_of_their_evidence():
    p = np.array([1e-6, 0.01, 0.2, 0.02, 0.9])
    shares = np.array([0.9, 0.9, 0.01, 0.5, 0.2])  # the ranking below the decision disagrees with p
    s = evidence.ranked_suspicion(p, shares, reach=0.01, cap_level=0.25)
    np.testing.assert_allclose(s[:2], evidence.suspicion_from_p(p[:2]))  # reached: the evidence scale
    cap = evidence.suspicion_from_p(np.array([0.25]))[0]
    assert s[2:].max() < cap <= s[:2].min()
    assert list(np.argsort(-s)) == [0, 1, 2, 4, 3]  # below: the shares' order, not p's
    np.testing.assert_allclose(evidence.ranked_suspicion(p, None, 0.01, 0.25), evidence.suspicion_from_p(p))
    # nothing reached: every row ranks by its share, under the cap
    s0 = evidence.ranked_suspicion(p, shares, reach=0.0, cap_level=0.25)
    assert list(np.argsort(-s0, kind="stable")) == [2, 4, 3, 0, 1] and s0.max() < cap


def test_decide_with_shares_keeps_the_decision_and_reorders_only_below_it():
    rng = np.random.default_rng(1)
    n = 2000
    P = np.column_stack([rng.uniform(size=n), rng.uniform(size=n)])
    P[:30, 0] = 1e-8  # evidence the decision acts on
    R = np.column_stack([rng.uniform(size=n), np.ones(n)])
    plain = evidence.decide(P)
    ranked = evidence.decide(P, shares=R)
    assert (plain.decision == ranked.decision).all()
    np.testing.assert_array_equal(plain.p_value, ranked.p_value)
    reached = ranked.p_value <= ranked.reach
    assert reached[:30].all() and ranked.suspicion[reached].min() > ranked.suspicion[~reached].max()
    np.testing.assert_allclose(ranked.suspicion[reached], evidence.suspicion_from_p(ranked.p_value[reached]))
    # below the decision the order is the combined shares' (of the columns that entered the combination)
    cols = ranked.entered
    r = evidence.combine_pvalues(R[:, cols])
    below = np.flatnonzero(~reached)
    assert (np.diff(r[below][np.argsort(-ranked.suspicion[below], kind="stable")]) >= -1e-12).all()
    # a looser level chosen later (scan --reference) reaches further: what it quarantines ranks above the rest
    wider = evidence.relevel(ranked, ranked.p_value <= evidence.bh_threshold(ranked.p_value, 0.5), 0.5)
    assert wider.quarantine.sum() > ranked.quarantine.sum()
    assert wider.suspicion[wider.quarantine].min() > wider.suspicion[~wider.quarantine].max()


def test_scan_ranks_the_rows_below_the_decision_by_the_label_ranking():
    from sklearn.datasets import make_classification
    from sklearn.metrics import average_precision_score

    X, y = make_classification(n_samples=800, n_features=6, n_informative=4, class_sep=1.0, random_state=0)
    flip = np.random.default_rng(0).random(800) < 0.1
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    frame["label"] = np.where(flip, 1 - y, y)
    res = scan(frame, label="label", detectors=["label_flip"], seed=0)
    sc = res.scores
    by_rank = average_precision_score(flip, sc["suspicion"])
    by_evidence = average_precision_score(flip, -np.log(sc["p_value"]))
    assert by_rank >= 0.75 and by_rank > by_evidence
    reached = sc["p_value"] <= max(res.decision["p_threshold"], res.decision["review_p_threshold"])
    assert 0 < reached.sum() < len(sc) and sc.loc[reached, "decision"].ne("keep").all()
    assert sc.loc[reached, "suspicion"].min() > sc.loc[~reached, "suspicion"].max()


def test_default_ranking_shares_rank_the_evidence_among_the_rows_a_detector_tests():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X[:5] += 12.0
    from poisonguard.detectors import OutlierEnsemble

    det = OutlierEnsemble(random_state=0).fit(X)
    sh = det.ranking_shares()
    assert sh.shape == (300,) and (sh > 0).all() and (sh <= 1).all()
    assert set(np.argsort(sh, kind="stable")[:5].tolist()) == set(range(5))  # the strongest evidence first
    assert sh.min() >= 1 / 300  # a share, not a tail probability: no lower than one row in n
    np.testing.assert_array_equal(np.argsort(sh, kind="stable"), np.argsort(det.pvalues_, kind="stable"))
    # a detector whose evidence applies to some rows only: the rows it did not test share 1
    frame = pd.DataFrame({"a": [1.0, 1.0, 1.0, 2.0, 3.0, 4.0] * 5, "b": np.arange(30.0)})
    frame.loc[[0, 1], "b"] = 0.0  # two identical rows with different labels
    y = np.array([0, 1] * 15)
    dup = DuplicateDetector().fit(frame[["a", "b"]].to_numpy(), y)
    sh = dup.ranking_shares()
    untested = dup.pvalues_ >= 1.0
    assert untested.any() and (sh[untested] == 1.0).all() and (sh[~untested] < 1.0).all()
