"""scikit-learn's estimator checks over every registered detector.

A check is skipped only through ``expected_failed_checks`` with a written reason. scikit-learn
itself skips its array-API check unless SCIPY_ARRAY_API is set (detectors take NumPy input only).
"""

from __future__ import annotations

from functools import partial

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from poisonguard import detectors


def _instances():
    out = []
    for name in detectors.available():
        cls = detectors.get(name)
        params = {}
        if "random_state" in cls().get_params():
            params["random_state"] = 0
        if "cv" in cls().get_params():
            params["cv"] = 3  # the checks use tiny data sets
        if cls().__sklearn_tags__().estimator_type == "outlier_detector":
            # scikit-learn's outlier checks expect both +1 and -1 on three clean Gaussian blobs;
            # "auto" (the detector's natural threshold) rightly flags none there
            params["contamination"] = 0.1
        out.append(cls(**params))
    return out


# Reasons, per detector class name and check, for checks a detector is expected to fail: the
# design departs from what the check assumes. Empty today; an entry must name a check that the
# suite yields for that detector (``test_expected_failures_name_checks_that_run``).
EXPECTED_FAILED: dict[str, dict[str, str]] = {}


def _expected_failed(est):
    return {**EXPECTED_FAILED.get(type(est).__name__, {}), **getattr(est, "_expected_failed_checks", {})}


def _check_name(check) -> str:
    while isinstance(check, partial):
        check = check.func
    return check.__name__


#: Detectors whose checks run in the slow lane only (``make test`` runs them, ``make test-fast``
#: skips them), with the reason.
SLOW_CHECKS: dict[str, str] = {
    "LabelFlipDetector": "each check fits three views with out-of-fold probabilities: ~2 min in all",
}


@parametrize_with_checks([e for e in _instances() if type(e).__name__ not in SLOW_CHECKS],
                         expected_failed_checks=_expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([e for e in _instances() if type(e).__name__ in SLOW_CHECKS],
                         expected_failed_checks=_expected_failed)
def test_sklearn_compatible_slow(estimator, check):
    check(estimator)


def test_slow_checks_name_registered_detectors():
    assert set(SLOW_CHECKS) <= {type(e).__name__ for e in _instances()}
    assert all(reason.strip() for reason in SLOW_CHECKS.values())


@pytest.mark.parametrize("estimator", _instances(), ids=lambda e: type(e).__name__)
def test_expected_failures_name_checks_that_run(estimator):
    """A reason for a check the suite never yields for this detector is stale: it hides nothing."""
    expected = _expected_failed(estimator)
    assert all(isinstance(r, str) and r.strip() for r in expected.values()), "every entry needs a written reason"
    yielded = {_check_name(check) for _, check in estimator_checks_generator(estimator, legacy=True)}
    stale = sorted(set(expected) - yielded)
    assert not stale, f"{type(estimator).__name__}: expected failures for checks that never run: {stale}"


def test_outlier_detectors_get_the_outlier_checks():
    """Every detector with scikit-learn's outlier API is an ``OutlierMixin``, so the outlier checks run."""
    from sklearn.base import OutlierMixin

    for est in _instances():
        if isinstance(est, detectors.OutlierDetectorMixin):
            assert isinstance(est, OutlierMixin)
            yielded = {_check_name(c) for _, c in estimator_checks_generator(est, legacy=True)}
            assert {"check_outliers_train", "check_outliers_fit_predict"} <= yielded, type(est).__name__
    assert any(isinstance(e, detectors.OutlierDetectorMixin) for e in _instances())


def test_fit_predict_equals_predict_on_the_training_rows():
    """Transductive like LocalOutlierFactor(novelty=False): a training row keeps its fitted verdict
    under ``predict`` (own copy left out of the density view, class model applied); a new row does not
    get one by lookup."""
    import numpy as np

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    X[:6] += 6.0
    y = np.repeat([0, 1], 150)
    for est in _instances():
        if isinstance(est, detectors.OutlierDetectorMixin):
            labels = est.fit_predict(X, y)
            np.testing.assert_array_equal(est.predict(X), labels)
            perm = rng.permutation(len(X))
            np.testing.assert_array_equal(est.predict(X[perm]), labels[perm])
            np.testing.assert_allclose(est.score_samples(X[:10]), -est.raw_scores_[:10])
            new = X[:10] + 1e-3
            assert not np.allclose(est.score_samples(new), -est.raw_scores_[:10], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", detectors.available())
def test_registered_detector_contract(name):
    cls = detectors.get(name)
    assert cls.name == name
    assert cls.family
    est = cls()
    assert set(est.get_params()) >= ({"contamination"} if "contamination" in cls._parameter_constraints else set())


def test_registry_refuses_silent_overwrite_and_lists_names():
    from poisonguard.errors import UsageError

    with pytest.raises(ValueError, match="already registered"):
        detectors.register(detectors.ConfidentLearning, name="label_flip")
    with pytest.raises(UsageError, match="available detectors: .*label_flip"):
        detectors.get("nope")
    assert "label_flip" in detectors.default()
    assert set(detectors.default()) <= set(detectors.available())
