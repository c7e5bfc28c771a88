"""Duplicates (``duplicates``): conflicting copies found with recall 1.0, exact and near groups,
the approximate neighbour search against the exact one, and the batch policy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from poisonguard.attacks import poison
from poisonguard.data import TabularDataset
from poisonguard.detectors import DuplicateDetector
from poisonguard.detectors.duplicates import near_pairs, row_hashes
from poisonguard.scan import scan


def _fit(ds: TabularDataset, **kw) -> DuplicateDetector:
    return DuplicateDetector(random_state=0, **kw).scan_fit(ds, ds.encode(), None)


@pytest.mark.parametrize("seed", [0, 1])
def test_conflicting_copies_recall_one(banknote, adult_small, seed):
    for base in (banknote, TabularDataset.from_frame(adult_small, label="income")):
        res = poison(base, "dup_conflict", seed=seed)
        ds = res.dataset
        det = _fit(ds)
        flagged = det.labels_ == -1
        assert flagged[res.mask].all()                                    # recall 1.0 (issue 3)
        assert res.mask[flagged].mean() >= 0.45                           # original + copy: ~0.5
        assert det.batch_finding(ds)[0]
        reasons = det.row_reasons(ds, np.flatnonzero(res.mask)[:3])
        assert all(r.startswith("duplicates: conflicting duplicate of row(s)") and "labels" in r for r in reasons)


def test_clean_data_has_no_conflicts_and_is_not_suspected(banknote):
    det = _fit(banknote)
    summary = det.summary()
    assert summary["exact_groups"] > 0 and summary["conflicting_rows"] == 0  # banknote holds same-label copies
    assert not (det.labels_ == -1).any() and det.batch_finding(banknote) == (False, "")
    flag_all = _fit(banknote, flag="all")
    assert (flag_all.labels_ == -1).sum() >= summary["extra_copies"]


def test_near_duplicates_and_near_conflicts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    y = rng.choice(["a", "b"], 500)
    near = X[:10] + rng.normal(scale=1e-3, size=(10, 5))
    frame = pd.DataFrame(np.vstack([X, near]), columns=[f"f{i}" for i in range(5)])
    frame["label"] = np.r_[y, np.where(y[:10] == "a", "b", "a")]  # near copies with the other label
    ds = TabularDataset.from_frame(frame, label="label")
    det = _fit(ds)
    for i in range(10):
        assert det.near_group_[i] >= 0 and det.near_group_[i] == det.near_group_[500 + i]
    assert det.near_conflicting_[:10].all() and not (det.labels_ == -1).any()  # default: exact conflicts only
    det2 = _fit(ds, flag="conflicts+near")
    assert set(np.flatnonzero(det2.labels_ == -1)) == set(range(10)) | set(range(500, 510))
    section = det2.report_section(ds)
    json.dumps(section, allow_nan=False)
    assert section["near_conflicting_groups"] == 10
    assert section["near_groups_listed"][0]["kind"] == "near-conflicting"


def test_sorted_neighbourhood_search_matches_exact_search():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6000, 12)).astype(np.float32)
    src = rng.choice(np.arange(200, 6000), size=200, replace=False)
    X[:200] = X[src] + rng.normal(scale=0.005, size=(200, 12))
    i, j, method = near_pairs(X, 0.05)
    ia, ja, method_a = near_pairs(X, 0.05, exact_rows=100, random_state=0)
    assert (method, method_a) == ("exact", "sorted-neighbourhood")
    exact = set(zip(i.tolist(), j.tolist()))
    approx = set(zip(ia.tolist(), ja.tolist()))
    assert approx <= exact and len(approx) >= 0.99 * len(exact) and len(exact) >= 200
    # each pair once, i < j, in (i, j) order: the dense 1-D case finds each pair in many windows
    d1 = rng.normal(size=(30_000, 1)).astype(np.float32)
    i1, j1, m1 = near_pairs(d1, 0.05, exact_rows=1000, random_state=0)
    key = i1 * d1.shape[0] + j1
    assert m1 == "sorted-neighbourhood" and i1.size > 30_000
    assert (i1 < j1).all() and (np.diff(key) > 0).all()
    assert (np.abs(d1[i1, 0] - d1[j1, 0]) <= 0.05 + 1e-6).all()


def test_hash_ignores_label_and_id_but_reads_text():
    frame = pd.DataFrame({"id": ["r1", "r2", "r3"], "x": [1.0, 1.0, 1.0], "note": ["same", "same", "other"],
                          "label": ["a", "b", "a"]})
    ds = TabularDataset.from_frame(frame, label="label", id_column="id")
    det = _fit(ds)
    assert det.conflicting_.tolist() == [True, True, False]
    assert row_hashes(frame[["x", "note"]])[0] == row_hashes(frame[["x", "note"]])[1]


def test_scan_lists_groups_and_quarantines_conflicts(banknote, tmp_path):
    res = poison(banknote, "dup_conflict", rate=0.02, seed=3)
    out = scan(res.frame, label="class", detectors=["duplicates"], seed=0, out=tmp_path)
    section = out.detectors[0].section
    assert section["conflicting_rows"] >= 2 * res.n_poisoned - 2
    group = section["exact_groups_listed"][0]
    assert group["kind"] == "conflicting" and len(group["labels"]) == 2
    assert out.suspected
    q = pd.read_csv(tmp_path / "quarantine.csv")
    copies = set(np.flatnonzero(res.mask).tolist())
    # the relabelled copies are quarantined, never the whole group: their originals stay clean
    assert len(copies & set(q["row"])) >= 0.9 * len(copies)
    assert len(set(q["row"]) - copies) <= 0.1 * len(copies)


def test_poisson_binomial_cdf_matches_enumeration_and_the_binomial():
    from itertools import product

    from scipy import stats

    from poisonguard.detectors.duplicates import poisson_binomial_cdf

    q = np.array([0.1, 0.5, 0.5, 0.9, 0.3, 0.3, 0.7])
    outcomes = np.array(list(product([0, 1], repeat=q.size)))
    weight = np.prod(np.where(outcomes == 1, q, 1 - q), axis=1)
    total = outcomes.sum(axis=1)
    for x in range(q.size + 2):
        le, lt = poisson_binomial_cdf(q, x)
        assert le == pytest.approx(weight[total <= x].sum(), abs=1e-12)
        assert lt == pytest.approx(weight[total <= x - 1].sum(), abs=1e-12)
    same = np.full(3000, 0.2)  # past exact_max: the normal approximation, near the binomial
    assert poisson_binomial_cdf(same, 630)[0] == pytest.approx(stats.binom.cdf(630, 3000, 0.2), abs=0.01)
    assert poisson_binomial_cdf(same, 630, exact_max=5000)[0] == pytest.approx(stats.binom.cdf(630, 3000, 0.2),
                                                                               abs=1e-9)


def _coarse(seed: int, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Three features of 12 values each and a label drawn from a smooth P(y=1 | x): identical rows
    are common (most in pairs) and, where P is near 1/2, carry both labels by chance."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 12, size=(n, 3)).astype(float)
    p1 = 1 / (1 + np.exp(-(X[:, 0] - 5.5) / 1.5))
    return X, (rng.random(n) < p1).astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conflicts_that_chance_explains_do_not_raise_the_batch(seed):
    X, y = _coarse(seed)
    det = DuplicateDetector(random_state=0, policy={"chance_level": 0.01}).fit(X, y)
    chance = det.chance_conflicts_
    assert det.conflicting_.sum() > 0.1 * y.size                           # the count rule alone would fire
    assert not det.batch_finding(None)[0]
    assert min(chance["p_more"], chance["p_fewer"]) > 0.01
    assert abs(chance["observed"] - chance["expected"]) < 3 * np.sqrt(chance["expected"])
    suspected, why = DuplicateDetector(random_state=0).fit(X, y).batch_finding(None)  # default: off
    assert suspected and f"chance would make {chance['expected']:.1f} conflicting groups" in why


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_copies_given_another_label_raise_the_batch_in_both_regimes(seed):
    rng = np.random.default_rng(seed)
    # coarse values (conflicts by chance too) and copied records (labels always agree): 5 % copies relabelled
    Xc, yc = _coarse(seed)
    Xr = rng.normal(size=(1000, 4))
    Xr = np.vstack([Xr, Xr[:300]])                                        # 300 records copied with their label
    yr = (Xr[:, 0] + 0.8 * rng.normal(size=Xr.shape[0]) > 0).astype(int)
    yr[1000:] = yr[:300]
    for X, y in ((Xc, yc), (Xr, yr)):
        rows = rng.choice(y.size, size=y.size // 20, replace=False)
        Xa, ya = np.vstack([X, X[rows]]), np.concatenate([y, 1 - y[rows]])
        det = DuplicateDetector(random_state=0, policy={"chance_level": 0.01}).fit(Xa, ya)
        suspected, why = det.batch_finding(None)
        assert suspected and "chance would make" in why, why
        chance = det.chance_conflicts_
        assert min(chance["p_more"], chance["p_fewer"]) <= 0.01


def test_the_count_rule_stands_where_no_neighbourhood_is_left():
    X = np.repeat(np.arange(6.0), 40)[:, None]                             # 6 values, 40 rows each
    y = np.tile([0, 1], 120)                                               # every group conflicts
    det = DuplicateDetector(random_state=0, policy={"chance_level": 0.01}).fit(X, y)
    assert det.chance_conflicts_["groups_tested"] == 0
    assert det.batch_finding(None)[0]
