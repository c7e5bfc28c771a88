"""scikit-learn's estimator checks over every registered detector.

A check is skipped only through ``expected_failed_checks`` with a written reason. scikit-learn
itself skips its array-API check unless SCIPY_ARRAY_API is set (detectors take NumPy input only).
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

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
        out.append(cls(**params))
    return out


# Reasons, per check, for detectors whose design departs from what the check assumes.
_LABEL_REASONS = {
    "check_classifiers_one_label": "label-flip detection needs two classes and says so",
    "check_classifiers_one_label_sample_weights": "no sample weights; two classes needed",
}


def _expected_failed(est):
    reasons = {}
    if getattr(est, "requires_y", False):
        reasons.update(_LABEL_REASONS)
    reasons.update(getattr(est, "_expected_failed_checks", {}))
    return reasons


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)


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
