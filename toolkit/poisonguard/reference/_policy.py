"""The comparison's name and policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import Key, Policy



#: Name of the comparison's column in ``scores.csv`` and of its entry in ``params`` / params.yaml.
NAME = "reference_shift"


#: Policy of :func:`compare`; override any key with ``params`` (``--set reference_shift.KEY=VALUE``
#: or the ``scan.reference_shift`` section of params.yaml).
POLICY = Policy(
    NAME,
    # label shift seen by the trusted model
    Key("min_rows", "int", 20, "smallest class / source / source-and-class group that is tested", low=1),
    Key("min_excess", "number", 0.05, "absolute margin over the expected disagreement rate", low=0),
    Key("z", "number", 3.0, "sampling margin, in standard errors of the difference", low=0),
    Key("cv", "int", 5, "folds of the trusted model's cross-validated error", low=2),
    Key("core_quantile", "number", 0.5, "a class's core: rows the trusted model is at least this sure about "
        "(quantile)", low=0, high=1),
    Key("core_min_excess", "number", 0.02, "absolute margin over the expected disagreement rate in a class's core",
        low=0),
    # distribution shift (effect sizes)
    Key("bins", "int", 10, "quantile bins of the PSI (deciles of the trusted data)", low=2),
    Key("psi", "number", 0.25, "a numeric column is shifted when its PSI >= psi ...", low=0),
    Key("wasserstein", "number", 0.25, "... and W1 >= this many trusted robust standard deviations", low=0),
    Key("js", "number", 0.2, "a categorical column is shifted when its JS distance >= js", low=0, high=1),
    Key("label_js", "number", 0.2, "the label distribution is shifted when its JS distance >= label_js",
        low=0, high=1),
    Key("min_shift_rows", "int", 50, "smallest group (focus rows, a source) whose distributions are tested", low=1),
    # what makes the batch "suspected"
    Key("gate_label_shift", "bool", True, "label shift seen by the trusted model makes the batch suspected"),
    Key("gate_unseen_labels", "bool", True, "labels the trusted data never had make the batch suspected"),
    Key("gate_feature_shift", "bool", True, "shifted feature distributions make the batch suspected"),
    Key("gate_label_distribution", "bool", True, "a shifted label distribution makes the batch suspected"),
    Key("relabelled", "bool", True, "where the label distribution shifted, flag the rows of classes that gained "
        "share beyond what the features support that are more likely relabelled than not"),
    Key("gate_feature_outliers", "bool", True, "added and changed rows unusual in the trusted rows' feature space "
        "(a detector fitted on the trusted rows that reads no label, e.g. outliers; Simes' test of its split-conformal "
        "p-values) make the batch suspected"),
    Key("outlier_alpha", "number", 0.001, "level of that Simes test (about the one-sided tail of z = 3, as the "
        "label-shift tests)", low=0, high=1, low_open=True, high_open=True),
)


#: Defaults of :data:`POLICY`.
DEFAULT_POLICY: dict[str, Any] = dict(POLICY.defaults())


MISSING = "<missing>"


def policy(params: Mapping[str, Any] | None = None, *, where: str = f"scan.{NAME}") -> dict[str, Any]:
    """:data:`POLICY`'s defaults with ``params`` applied; unknown keys and bad values raise
    :class:`~poisonguard.errors.ConfigError` (see :meth:`poisonguard.config.Policy.validate`)."""
    return dict(POLICY.validate(params, where=where))
