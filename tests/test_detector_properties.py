"""Property tests (hypothesis) over every registered detector: invariants any detector must keep.

The detectors come from the registry (a plugin registered in the session is tested too). The data
are small random tables drawn by hypothesis (rows, columns, seed, optional rounding that makes ties
and duplicated rows), so hypothesis shrinks a failure to a small case. Settings stay small: the
properties run in the fast lane (``make test-fast``).

Properties, for every detector:

* contract: one finite-or-inf raw score per row, ``suspicion_`` in [0, 1], ``labels_`` in {+1, -1},
  ``suspicion_ > 0.5`` exactly for flagged rows;
* determinism: the same ``random_state`` gives the same scores;
* row order: permuting the rows permutes the scores, for data without tied distances (except
  detectors listed in ``ORDER_DEPENDENT``, each with its reason), and identical rows get identical
  scores;
* a constant column and duplicated rows keep the contract;
* label detectors: renaming the classes changes no score;
* outlier detectors: an injected extreme row is at least as suspicious as every other row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poisonguard import detectors

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Detectors whose scores depend on row order by design, with the reason (row-order and
#: identical-row properties do not apply). An entry must name a
#: registered detector (``test_order_dependent_names_are_registered``).
ORDER_DEPENDENT: dict[str, str] = {
    "confident_learning": "out-of-fold probabilities: the folds follow the row order",
    "label_flip": "out-of-fold probabilities: the folds follow the row order",
    "duplicates": "the first occurrence of a row is the original (raw 0.5), later copies score 1.0",
}

NAMES = detectors.available()


def _make(name: str) -> Any:
    """The registered detector with a fixed seed and, where it has one, a cheap setting: the
    properties are about the detector, not about its default classifier's cost."""
    cls = detectors.get(name)
    params = cls().get_params()
    kw: dict[str, Any] = {}
    if "random_state" in params:
        kw["random_state"] = 0
    if "cv" in params:
        kw["cv"] = 3
    if "estimator" in params:
        from sklearn.linear_model import LogisticRegression

        kw["estimator"] = LogisticRegression(max_iter=200)
    if "n_estimators" in params:
        kw["n_estimators"] = 25
    return cls(**kw)


@st.composite
def tables(draw: Any, min_rows: int = 30, max_rows: int = 60, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): Gaussian features (rounded to integers when drawn so, if ``ties``: tied distances
    and duplicated rows) and two classes, of equal size, that depend on the first feature."""
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**16))
    rounded = draw(st.booleans()) if ties else False
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    if rounded:
        X = np.round(X)
    score = X[:, 0] + rng.normal(scale=0.7, size=n)
    y = (score > np.median(score)).astype(np.int64)
    return X, y


def _fit(det: Any, X: np.ndarray, y: np.ndarray) -> Any:
    return det.fit(X, y) if det.requires_y else det.fit(X)


def _assert_contract(det: Any, n: int) -> None:
    raw, sus, labels = det.raw_scores_, det.suspicion_, det.labels_
    assert raw.shape == sus.shape == labels.shape == (n,)
    assert not np.isnan(raw).any()
    assert np.isfinite(sus).all() and (sus >= 0).all() and (sus <= 1).all()
    assert set(np.unique(labels).tolist()) <= {-1, 1}
    np.testing.assert_array_equal(sus > 0.5, labels == -1)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=tables())
def test_contract_and_determinism(name, data):
    X, y = data
    a = _fit(_make(name), X, y)
    _assert_contract(a, len(X))
    b = _fit(_make(name), X, y)
    np.testing.assert_array_equal(a.raw_scores_, b.raw_scores_)
    np.testing.assert_array_equal(a.labels_, b.labels_)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ORDER_DEPENDENT])
@SETTINGS
@given(data=tables(ties=False), perm_seed=st.integers(0, 2**16))
def test_scores_permute_with_the_rows(name, data, perm_seed):
    """In general position: nearest-neighbour searches break ties in distance by row position
    (as scikit-learn's do), so with tied distances the neighbour sets, hence the scores of the
    kNN and density views, may follow the row order."""
    X, y = data
    perm = np.random.default_rng(perm_seed).permutation(len(X))
    a = _fit(_make(name), X, y)
    b = _fit(_make(name), X[perm], y[perm])
    np.testing.assert_allclose(b.raw_scores_, a.raw_scores_[perm], rtol=1e-5, atol=1e-9)  # summation order
    np.testing.assert_array_equal(b.labels_, a.labels_[perm])


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ORDER_DEPENDENT])
@SETTINGS
@given(data=tables(), k=st.integers(1, 5))
def test_identical_rows_get_identical_scores(name, data, k):
    X, y = data
    X2, y2 = np.vstack([X, X[:k]]), np.concatenate([y, y[:k]])  # rows n.. n+k-1 repeat rows 0.. k-1
    det = _fit(_make(name), X2, y2)
    _assert_contract(det, len(X2))
    np.testing.assert_allclose(det.raw_scores_[len(X):], det.raw_scores_[:k], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=tables(), value=st.sampled_from([0.0, 1.0, -3.5, 1e6]), dup=st.integers(0, 10))
def test_constant_column_and_duplicated_rows_keep_the_contract(name, data, value, dup):
    X, y = data
    X = np.column_stack([X, np.full(len(X), value)])
    X, y = np.vstack([X, np.repeat(X[:1], dup, axis=0)]), np.concatenate([y, np.repeat(y[:1], dup)])
    _assert_contract(_fit(_make(name), X, y), len(X))


@pytest.mark.parametrize("name", [n for n in NAMES if detectors.get(n).requires_y])
@SETTINGS
@given(data=tables(), codes=st.sampled_from([(1, 0), (7, 3), (-2, 5)]))
def test_renaming_the_classes_changes_no_score(name, data, codes):
    X, y = data
    renamed = np.where(y == 0, codes[0], codes[1])
    a = _fit(_make(name), X, y)
    b = _fit(_make(name), X, renamed)
    np.testing.assert_allclose(b.raw_scores_, a.raw_scores_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(b.labels_, a.labels_)


@pytest.mark.parametrize("name", [n for n in NAMES if detectors.get(n).family == "outlier"])
@SETTINGS
@given(data=tables(), row=st.integers(0, 29), scale=st.sampled_from([15.0, 50.0, 1e3]))
def test_an_injected_extreme_row_is_the_most_suspicious(name, data, row, scale):
    X, y = data
    X = X.copy()
    X[row] = X.mean(axis=0) + scale * (X.std(axis=0) + 1.0)
    det = _fit(_make(name), X, y)
    assert det.suspicion_[row] >= det.suspicion_.max() - 1e-12
    assert det.labels_[row] == -1


def test_order_dependent_names_are_registered():
    assert set(ORDER_DEPENDENT) <= set(NAMES), sorted(set(ORDER_DEPENDENT) - set(NAMES))
    assert all(reason.strip() for reason in ORDER_DEPENDENT.values())


def test_every_family_with_a_family_property_is_tested():
    """The family-specific properties must have detectors to run on (a renamed family would
    silently leave them without any)."""
    assert any(detectors.get(n).requires_y for n in NAMES)
    assert any(detectors.get(n).family == "outlier" for n in NAMES)


def test_suspicion_keeps_the_order_of_strongly_flagged_rows():
    """to_suspicion: 0.5 at the threshold, 0.05 at the median, strictly increasing far above the
    threshold (a logistic map reaches 1.0 in float64 37 scales up and ties the top of the ranking),
    and 1 only for +inf."""
    from poisonguard.detectors import suspicion_scale, to_suspicion

    raw = np.concatenate([np.linspace(0.0, 1.0, 101), [1.5, 3.0, 10.0, 1e3, 1e6, np.inf]])
    thr = 0.9
    scale = suspicion_scale(raw[:101], thr)
    s = to_suspicion(raw, thr, scale)
    assert to_suspicion(np.array([thr]), thr, scale)[0] == 0.5
    assert to_suspicion(np.array([np.median(raw[:101])]), thr, scale)[0] == pytest.approx(0.05)
    assert np.all(np.diff(s) > 0) and s[-1] == 1.0 and np.all(s[:-1] < 1.0)
    assert (raw[:-1] - thr).max() / scale > 37  # the range the logistic could not order
    eps = 1e-9  # the slope is continuous at the threshold
    lo, mid, hi = to_suspicion(np.array([thr - eps, thr, thr + eps]), thr, 1.0)
    assert (mid - lo) == pytest.approx(hi - mid, rel=1e-3)
