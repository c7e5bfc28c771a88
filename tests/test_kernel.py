"""The shared kernel: robust scale, the kNN label vote, Jensen-Shannon divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poisonguard._kernel import js_divergence, knn_label_vote, nearest_neighbors, robust_scale


# -- robust_scale -------------------------------------------------------------------------------
def test_robust_scale_iqr_of_a_known_sample():
    # quartiles of 1..5 are 2 and 4: IQR 2, sigma 2 / 1.349
    assert robust_scale([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 1.349)


def test_robust_scale_ignores_an_outlier():
    assert robust_scale([1.0, 2.0, 3.0, 4.0, 1e9]) == pytest.approx(2 / 1.349)


def test_robust_scale_mad_and_deciles():
    x = np.arange(11, dtype=float)  # median 5, absolute deviations 0..5: MAD 3
    assert robust_scale(x, estimators=("mad",)) == pytest.approx(3 * 1.4826)
    assert robust_scale(x, estimators=("q10-q90",)) == pytest.approx(8 / 2.563)
    assert robust_scale(x, estimators=("std",)) == pytest.approx(float(x.std()))


def test_robust_scale_falls_back_to_std_when_the_iqr_is_zero():
    x = np.array([0.0] * 8 + [1.0, 2.0])  # quartiles both 0
    assert robust_scale(x) == pytest.approx(float(x.std()))


@pytest.mark.parametrize("kwargs", [{}, {"tol": 0, "keep_nan": True}, {"finite": True},
                                    {"estimators": ("mad", "q10-q90", "std")}])
def test_robust_scale_of_a_constant_is_the_default(kwargs):
    assert robust_scale(np.full(7, 3.25), **kwargs) == 1.0
    assert robust_scale(np.full(7, 3.25), default=0.0, **kwargs) == 0.0


def test_robust_scale_of_an_empty_sample_is_the_default():
    assert robust_scale(np.zeros(0)) == 1.0
    assert robust_scale([], default=0.5) == 0.5


def test_robust_scale_tolerance_per_estimator():
    # an IQR of 1e-13: below 1e-12 it falls through to the std, with tol=0 it is kept
    x = np.array([0.0, 0.0, 1e-13, 1e-13, 1e-13, 5.0])
    iqr = robust_scale(x, estimators=("iqr",), tol=0, default=-1.0)
    assert 0 < iqr < 1e-12
    assert robust_scale(x, tol=0) == iqr
    assert robust_scale(x) == pytest.approx(float(x.std()))
    assert robust_scale(x, tol=(1e-12, 0)) == pytest.approx(float(x.std()))
    with pytest.raises(ValueError, match="2 estimators"):
        robust_scale(x, tol=(1e-12,))


def test_robust_scale_infinite_spread_falls_through_only_when_asked():
    x = np.array([-1.7e308, -1.7e308, 1.7e308, 1.7e308])
    with np.errstate(over="ignore", invalid="ignore"):
        assert robust_scale(x) == np.inf
        assert robust_scale(x, finite=True) == 1.0


def test_robust_scale_keeps_a_float32_sample_in_float32():
    x = np.array([0.1, 0.2, 0.35, 0.4, 0.9], dtype=np.float32)
    q1, q3 = np.percentile(x, [25, 75])
    assert robust_scale(x) == float(q3 - q1) / 1.349


def test_robust_scale_unknown_estimator():
    with pytest.raises(ValueError, match="unknown spread estimator 'sd'"):
        robust_scale([1.0, 2.0], estimators=("sd",))


# -- the kNN label vote -------------------------------------------------------------------------
def _line():
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    return X, y


def test_knn_label_vote_known_shares():
    X, y = _line()
    nn = nearest_neighbors(X, 2)
    prior = np.array([0.5, 0.5])
    shares = knn_label_vote(nn, y, np.array([[0.5], [11.5], [6.4]]), n_classes=2, prior=prior)
    np.testing.assert_allclose(shares, [[2.5 / 3, 0.5 / 3], [0.5 / 3, 2.5 / 3], [1.5 / 3, 1.5 / 3]])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_knn_label_vote_transductive_leaves_each_row_out():
    X, y = _line()
    shares = knn_label_vote(nearest_neighbors(X, 2), y, None, n_classes=2, prior=0.0)
    assert shares.shape == (6, 2)
    np.testing.assert_allclose(shares[:, 0], [2 / 3, 2 / 3, 2 / 3, 0, 0, 0])


def test_knn_label_vote_empty_query_and_empty_class():
    X, y = _line()
    nn = nearest_neighbors(X, 3)
    assert knn_label_vote(nn, y, np.zeros((0, 1)), n_classes=3, prior=0.0).shape == (0, 3)
    # class 2 has no reference rows: only its prior
    shares = knn_label_vote(nn, y, X[:1], n_classes=3, prior=np.array([0.25, 0.25, 0.5]))
    np.testing.assert_allclose(shares, [[3.25 / 4, 0.25 / 4, 0.5 / 4]])


def test_nearest_neighbors_brute_force_above_15_columns():
    rng = np.random.default_rng(0)
    assert nearest_neighbors(rng.normal(size=(20, 16)), 3).algorithm == "brute"
    assert nearest_neighbors(rng.normal(size=(20, 15)), 3).algorithm == "auto"


# -- Jensen-Shannon -----------------------------------------------------------------------------
def test_js_divergence_known_values():
    assert js_divergence([1, 0], [0, 1]) == 1.0  # disjoint supports: the base-2 maximum
    assert js_divergence([3, 1], [6, 2]) == 0.0  # counts normalised first
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4)
    expected = 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)) + 0.5 * math.log2(1 / 0.75)
    assert js_divergence([1, 1], [1, 0]) == pytest.approx(expected)


def test_js_divergence_is_symmetric_and_bounded_by_one():
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = int(rng.integers(1, 8))
        p, q = rng.random(k) * (rng.random(k) < 0.7), rng.random(k) * (rng.random(k) < 0.7)
        d = js_divergence(p, q)
        assert 0.0 <= d <= 1.0 + 1e-12
        assert d == pytest.approx(js_divergence(q, p))


def test_js_divergence_of_an_empty_distribution():
    assert js_divergence([0, 0], [0, 0]) == 0.0
    assert js_divergence([0, 0], [1, 3]) == 0.5


def test_neighbour_search_of_query_rows_is_scikit_learns():
    """The query path (faiss' exact flat index when installed, above 15 columns) finds the neighbours
    scikit-learn finds, nearest first, at the same distances; pickling drops the index, not the answer."""
    import pickle

    from sklearn.neighbors import NearestNeighbors

    from poisonguard._kernel import has_faiss, nearest_neighbors

    rng = np.random.default_rng(0)
    R = rng.normal(size=(3000, 20)).astype(np.float32)
    Q = rng.normal(size=(500, 20)).astype(np.float32)
    nn = nearest_neighbors(R, 15)
    dist, ind = nn.kneighbors(Q)
    ref_d, ref_i = NearestNeighbors(n_neighbors=15, algorithm="brute").fit(R).kneighbors(Q)
    assert ind.shape == (500, 15) and ind.dtype == np.int64
    assert (ind == ref_i).mean() > 0.999  # float32 ties may swap two neighbours, nothing more
    np.testing.assert_allclose(dist, ref_d, rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(dist, axis=1) >= -1e-6)
    again = pickle.loads(pickle.dumps(nn))
    assert again._index is None
    np.testing.assert_array_equal(again.kneighbors(Q)[1], ind)
    own_d, own_i = nn.kneighbors(None)  # the reference rows, each without itself, as scikit-learn finds them
    ref_od, ref_oi = NearestNeighbors(n_neighbors=15, algorithm="brute").fit(R).kneighbors(None)
    assert own_i.shape == (3000, 15) and not np.any(own_i == np.arange(3000)[:, None])
    assert (own_i == ref_oi).mean() > 0.999
    np.testing.assert_allclose(own_d, ref_od, rtol=1e-4, atol=1e-4)
    assert isinstance(has_faiss(), bool)


def test_neighbours_of_identical_rows_leave_only_the_row_itself_out():
    """Rows with identical copies: each row's own position is left out and its copies are found
    at distance 0, whichever search runs (faiss may list a copy before the row itself)."""
    from poisonguard._kernel import nearest_neighbors

    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, size=(40, 20)).astype(np.float64)
    R = np.repeat(base, 5, axis=0)  # every row has four identical copies
    dist, ind = nearest_neighbors(R, 6).kneighbors(None)
    rows = np.arange(R.shape[0])[:, None]
    assert ind.shape == (200, 6) and not np.any(ind == rows)
    assert np.all(ind[:, :4] // 5 == rows // 5) and np.allclose(dist[:, :4], 0.0)
