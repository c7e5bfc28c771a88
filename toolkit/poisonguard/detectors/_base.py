"""The detector base class and the one place where raw scores become ``suspicion``.

A detector implements how raw scores are computed (``_fit_raw``: one score per training
row, higher = more suspicious) and, optionally, its own natural threshold
(``_auto_threshold``). :class:`BaseDetector` turns raw scores into the scikit-learn
polarity (``score_samples`` lower = more abnormal, ``offset_``, ``decision_function``,
``predict`` in {+1, -1}) and into the reports' ``suspicion`` in [0, 1] through
:func:`to_suspicion`, which every report and plot uses.

``suspicion`` is a map of the raw score centred on the detector's threshold: a row exactly at
the threshold gets 0.5, a row with the training set's median raw score gets 0.05. So for every
detector ``suspicion > 0.5`` if and only if the row is flagged. Below the threshold the map is
logistic; above it, it approaches 1 like ``1 - 1 / (2 + z)`` instead of exponentially, so that the
order of strongly flagged rows survives in float64 (a logistic reaches 1.0 exactly at 37 scales
above the threshold, and ties there cost wine-red's random flips 0.19 of AP).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._kernel import robust_scale
from .._threads import threads_for
from ..config import Policy

__all__ = ["BaseDetector", "OutlierDetectorMixin", "suspicion_scale", "to_suspicion"]

_LN19 = math.log(19.0)


def suspicion_scale(raw: np.ndarray, threshold: float) -> float:
    """Scale of the suspicion map: the median raw score maps to suspicion 0.05.

    Falls back to a robust spread of the scores (then 1.0) when the threshold does not lie
    above the median (for instance when most rows are flagged on purpose).
    """
    raw = np.asarray(raw, dtype=np.float64)
    finite = raw[np.isfinite(raw)]
    if finite.size == 0:
        return 1.0
    med = float(np.median(finite))
    if threshold > med:
        return (threshold - med) / _LN19
    spread = robust_scale(finite, tol=0, keep_nan=True, default=0.0)  # IQR or std
    return spread if spread > 1e-12 else 1.0


def to_suspicion(raw: np.ndarray, threshold: float, scale: float) -> np.ndarray:
    """Map raw scores (higher = more suspicious) to ``suspicion`` in [0, 1].

    Parameters
    ----------
    raw : ndarray of shape (n,)
        Raw scores; non-finite values count as the most suspicious (+inf) or least (-inf, NaN).
    threshold : float
        Raw score at which a row is flagged (maps to 0.5; flagged rows lie strictly above).
    scale : float
        Scale of ``z = (raw - threshold) / scale``, see :func:`suspicion_scale`.

    Returns
    -------
    suspicion : ndarray of shape (n,)
        ``1 / (1 + exp(-z))`` for ``z <= 0``, ``(1 + z) / (2 + z)`` above: continuous with a
        continuous slope at the threshold, strictly increasing, and equal to 1 only at ``raw = +inf``.
    """
    raw = np.asarray(raw, dtype=np.float64)
    z = (raw - threshold) / (scale if scale > 0 else 1.0)
    z = np.where(np.isnan(z), -np.inf, z)
    return np.where(z > 0, 1.0 - 1.0 / (2.0 + np.maximum(z, 0.0)), expit(np.minimum(z, 0.0)))


class BaseDetector(BaseEstimator):
    """Base of every poisonguard detector (scikit-learn estimator conventions).

    Subclasses define ``_fit_raw(X, y)`` returning one raw score per training row
    (higher = more suspicious), optionally ``_auto_threshold(raw)`` for
    ``contamination="auto"``, and ``_score_raw(X, y)`` to score new rows with the fitted
    state (inductive use, for instance against a trusted reference).

    Class attributes
    ----------------
    name : str
        Registry name, also the column name in ``scores.csv``.
    family : str
        ``"label_flip"``, ``"outlier"``, ``"backdoor"``, ``"duplicates"``, ``"sensitive"``...
    requires_y : bool
        Whether ``fit`` needs labels.
    requires_features : bool
        Whether the detector needs numeric or categorical feature columns (the encoded matrix); a
        scan of data without any is refused up front for it (text-only detectors set False).

    Attributes
    ----------
    raw_scores_ : ndarray of shape (n_samples,)
        Raw score of every training row, higher = more suspicious.
    threshold_ : float
        Raw score above which a row is flagged.
    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_`` (scikit-learn polarity).
    scale_ : float
        Scale of the map from raw score to suspicion.
    suspicion_ : ndarray of shape (n_samples,)
        Suspicion of every training row in [0, 1]; > 0.5 exactly for flagged rows.
    labels_ : ndarray of shape (n_samples,)
        +1 for inliers, -1 for flagged rows (as scikit-learn's outlier detectors).
    pvalues_ : ndarray of shape (n_samples,)
        Evidence of every training row on the scan's common scale: the p-value of its score under
        the data's own clean bulk (small = unlikely to be clean; see :mod:`poisonguard.evidence`).
        The scan's decision combines these; ``labels_`` is the detector's own flag, which the scan
        lists for review.
    n_features_in_ : int
        Number of features seen during ``fit``.
    """

    name: ClassVar[str] = "base"
    family: ClassVar[str] = "generic"
    requires_y: ClassVar[bool] = False
    requires_features: ClassVar[bool] = True
    #: Whether the detector's flags count towards "poisoning suspected" (the sensitive-data
    #: family reports privacy risk instead, in its own section).
    gates: ClassVar[bool] = True
    #: Whether p = 1 in ``pvalues_`` means "this row was not tested" (the detector's hypothesis
    #: applies only to some rows: rule members, conflicting copies); the scan's Bonferroni
    #: correction then counts the detector only on the rows it tested.
    sparse_evidence: ClassVar[bool] = False
    #: Whether the detector judges a row by what the other rows say about it (models and
    #: neighbours learnt from them: label evidence). A scan then fits it after the detectors that
    #: do not, and leaves out of its fit the rows their evidence alone quarantines: a backdoor's
    #: stamped rows would otherwise teach its models the trigger, and make the clean rows beside
    #: the trigger look mislabelled (:func:`poisonguard.scan.held_back`).
    learns_from_rows: ClassVar[bool] = False
    #: The rows a scan on Spark fits the detector on (:mod:`poisonguard.spark`): ``"sample"`` (a
    #: bounded uniform sample; the other rows are scored by :meth:`pvalues_new`) or ``"copies"``
    #: (the sample and every row with an exact copy anywhere in the data: detectors of copies,
    #: whose evidence on a row without copies is "not tested").
    spark_rows: ClassVar[str] = "sample"
    #: The declared batch policy (:class:`poisonguard.config.Policy`) of detectors that take a
    #: ``policy`` parameter: its keys, types, ranges and defaults, checked by :meth:`check_config`.
    POLICY: ClassVar[Policy | None] = None

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    }

    # ----------------------------------------------------------------- scikit-learn plumbing
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.requires_y
        return tags

    def _validate_fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray | None]:
        if self.requires_y:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2)
            return X, np.asarray(y)
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        return X, None

    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit on ``X`` (and ``y`` for label detectors) and score every training row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Encoded features (see :meth:`poisonguard.data.TabularDataset.encode`).
        y : array-like of shape (n_samples,), default=None
            Labels; required by label-flip detectors.

        Returns
        -------
        self : object
        """
        self._validate_params()
        X, y = self._validate_fit_data(X, y)
        with threads_for(X.shape[0]):
            raw = np.asarray(self._fit_raw(X, y), dtype=np.float64)
        self._set_threshold(raw)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return +1 (inlier) / -1 (flagged) for every training row."""
        return self.fit(X, y).labels_

    def _set_threshold(self, raw: np.ndarray) -> None:
        raw = np.where(np.isnan(raw), -np.inf, raw)
        self.raw_scores_ = raw
        self.tail_null_ = None  # fitted on first use by pvalues_new
        if self.contamination == "auto":
            thr = float(self._auto_threshold(raw))
        else:
            finite = raw[np.isfinite(raw)]
            thr = float(np.quantile(finite, 1.0 - float(self.contamination))) if finite.size else 0.0
        self.threshold_ = thr
        self.offset_ = -thr
        self.scale_ = suspicion_scale(raw, thr)
        self.suspicion_ = to_suspicion(raw, thr, self.scale_)
        self.labels_ = np.where(raw > thr, -1, 1)
        self.pvalues_ = np.asarray(self._pvalues(raw), dtype=np.float64)

    def _pvalues(self, raw: np.ndarray) -> np.ndarray:
        """Evidence of every training row on the common scale (see :mod:`poisonguard.evidence`):
        p-values under the data's own bulk. Default: :func:`~poisonguard.evidence.tail_pvalues`
        of the raw scores; detectors with a natural null (labels, duplicates, rules) override it."""
        from ..evidence import tail_pvalues

        return tail_pvalues(raw)

    def ranking_shares(self) -> np.ndarray:
        """The order of the training rows below the scan's decision, as shares in (0, 1] (small = first).

        The scan orders the rows its decision reaches by their evidence (``pvalues_``) and every
        other row by this (see :mod:`poisonguard.evidence`, "suspicion"): the share of the rows
        it tests whose p-value is at most its own (:func:`~poisonguard.evidence.upper_tail_shares`
        of ``-pvalues_``; 1 for rows a detector with ``sparse_evidence`` did not test), so that
        every detector ranks on one scale there, the share of rows that outrank a row, whatever the
        tail of its null. A detector whose evidence is a different statistic from its ranking score
        (label flips: a neighbourhood count test beside the blend's posterior) returns the
        upper-tail shares of its raw scores instead.
        """
        from ..evidence import upper_tail_shares

        check_is_fitted(self)
        p = np.asarray(self.pvalues_, dtype=np.float64)
        tested = p < 1.0 if self.sparse_evidence else np.ones(p.size, dtype=bool)
        out = np.ones(p.size)
        out[tested] = upper_tail_shares(-p[tested])
        return out

    def _auto_threshold(self, raw: np.ndarray) -> float:
        """Default natural threshold: a robust z-score of 3.5 above the median."""
        finite = raw[np.isfinite(raw)]
        med = float(np.median(finite))
        # the MAD unless <= 1e-12, then the standard deviation unless 0, then 1
        mad = robust_scale(finite, estimators=("mad", "std"), tol=(1e-12, 0), keep_nan=True)
        return med + 3.5 * mad

    # ----------------------------------------------------------------- configuration
    def check_config(self, where: str | None = None) -> None:
        """Check every parameter (names, types, ranges) and the batch policy without fitting.

        The scan calls this on every detector before it reads or fits anything, so that a bad
        value is a one-line :class:`~poisonguard.errors.ConfigError` (exit 2), not a detector
        failure after the fit. ``where`` names the detector's place in the configuration in the
        messages (default ``scan.<name>``).

        Raises
        ------
        ConfigError
            A parameter value refused by ``_parameter_constraints``, a policy key not declared
            in :attr:`POLICY` or a value it refuses, or what :meth:`_check_config` refuses.
        """
        from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

        from ..errors import ConfigError

        where = where or f"scan.{self.name}"
        params = self.get_params(deep=False)
        for key, constraints in self._parameter_constraints.items():
            if key not in params:
                continue
            try:
                validate_parameter_constraints({key: constraints}, {key: params[key]},
                                               caller_name=type(self).__name__)
            except InvalidParameterError as exc:
                raise ConfigError(f"{where}.{key}: {exc} Fix the value (--set {self.name}.{key}=VALUE or "
                                  "params.yaml).") from None
        if self.POLICY is not None and "policy" in params:
            self.POLICY.validate(params["policy"], where=f"{where}.policy")
        self._check_config(where)

    def _check_config(self, where: str) -> None:
        """Checks of parameter values that ``_parameter_constraints`` cannot express (override)."""

    def _batch_policy(self) -> Any:
        """:attr:`POLICY`'s defaults with the ``policy`` parameter applied (validated, read-only)."""
        assert self.POLICY is not None
        return self.POLICY.validate(getattr(self, "policy", None), where=f"{self.name}.policy")

    # ----------------------------------------------------------------- overridable hooks
    def _fit_raw(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _score_raw(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} scores only the rows it was fitted on")

    # ----------------------------------------------------------------- hooks used by the scan
    def scan_fit(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> BaseDetector:
        """Fit inside :func:`poisonguard.scan`: ``ds`` is the :class:`~poisonguard.data.TabularDataset`,
        ``X`` its shared encoding, ``y`` the label codes (None for detectors that need none).

        Detectors that need the raw table (duplicates, sensitive data, trigger rules) override this.
        """
        return self.fit(X, y) if self.requires_y else self.fit(X)

    def with_trusted(self, trusted: Any) -> BaseDetector:
        """Before :meth:`scan_fit` on a new version (``scan --reference``): the trusted version
        (a :class:`~poisonguard.data.TabularDataset`), for detectors that judge a finding by
        whether the trusted data hold it too. Stored as ``trusted_``; most detectors ignore it."""
        self.trusted_ = trusted
        return self

    def row_reasons(self, ds: Any, rows: np.ndarray) -> list[str]:
        """One short reason per row in ``rows`` (flagged rows), for the quarantine file and report."""
        check_is_fitted(self)
        return [f"{self.name}: suspicion {s:.2f}" for s in self.suspicion_[rows]]

    def report_section(self, ds: Any) -> dict[str, Any]:
        """JSON-able findings of this detector for ``report.json`` (counts, rules, groups...)."""
        check_is_fitted(self)
        return {"n_flagged": int((self.labels_ == -1).sum()), "threshold": float(self.threshold_)}

    def redact(self, frame: Any) -> Any:
        """A copy of ``frame`` with values this detector must keep out of output files masked
        (the sensitive-data scanner masks what it found); the default returns ``frame`` itself."""
        return frame

    def redactor(self) -> Any:
        """None, or a function ``frame -> frame`` masking in *any* frame what :meth:`redact` masks in the
        fitted one (outputs written in partitions by a scan on Spark); the default: None."""
        return None

    def redact_text(self, texts: list[str]) -> list[str]:
        """``texts`` (reasons, ids, report strings) with what :meth:`redact` masks masked too;
        the default returns ``texts`` itself."""
        return texts

    def batch_finding(self, ds: Any) -> tuple[bool, str]:
        """Batch-level decision: ``(suspected, reason)``. Default: never suspected at batch level."""
        return False, ""

    # ----------------------------------------------------------------- inductive scoring
    def suspicion(self, X: Any, y: Any = None) -> np.ndarray:
        """Suspicion in [0, 1] of new rows, on the scale fitted on the training rows."""
        check_is_fitted(self)
        raw = self._score_new(X, y)
        return to_suspicion(raw, self.threshold_, self.scale_)

    def pvalues_new(self, X: Any, y: Any = None) -> np.ndarray:
        """Evidence for rows the detector was not fitted on, on the scale of ``pvalues_``.

        Rows of the same data that were left out of the fit (a scan on Spark fits on a sample and
        scores the other rows where they are, :mod:`poisonguard.spark`) are scored with the fitted
        state and their raw scores tested under the null fitted on the training rows: by default
        the exponential tail of :func:`~poisonguard.evidence.tail_pvalues`
        (:func:`~poisonguard.evidence.tail_null`), so that a row gets the p-value it would have
        had among the training rows. Detectors whose ``_pvalues`` have another null override this
        (:class:`~poisonguard.detectors.LabelFlipDetector`); those that cannot score new rows raise
        ``NotImplementedError``.
        """
        check_is_fitted(self)
        if type(self)._pvalues is not BaseDetector._pvalues:
            raise NotImplementedError(f"{type(self).__name__} has no evidence for rows it was not fitted on")
        from ..evidence import tail_null

        if getattr(self, "tail_null_", None) is None:
            self.tail_null_ = tail_null(self.raw_scores_)
        return self.tail_null_.pvalues(self._score_new(X, y))

    def prepare_new_rows(self) -> None:
        """Fit now what :meth:`pvalues_new` would fit on first use (default: nothing). ``scan --engine
        spark`` calls it once on the driver before the fitted detector is sent to its tasks, so that
        no task fits it again."""

    def scan_pvalues_new(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """:meth:`pvalues_new` inside a scan: ``ds`` is the :class:`~poisonguard.data.TabularDataset`
        of the new rows, ``X`` their encoding by the training rows' encoder, ``y`` their label codes
        (-1 where missing; rows without a label get p = 1 from label detectors). Detectors that
        read the raw table (trigger rules) override this."""
        p = np.ones(ds.n_rows)
        if self.requires_y:
            if y is None:
                raise ValueError(f"{type(self).__name__} scores labelled rows: pass y")
            lab = np.flatnonzero(np.asarray(y) >= 0)
            if lab.size:
                p[lab] = self.pvalues_new(X[lab], np.asarray(y)[lab])
            return p
        return np.asarray(self.pvalues_new(X), dtype=np.float64)

    def _score_new(self, X: Any, y: Any) -> np.ndarray:
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        with threads_for(max(X.shape[0], len(getattr(self, "raw_scores_", ())))):
            return np.asarray(self._score_raw(X, None if y is None else np.asarray(y)), dtype=np.float64)


def _row_keys(X: np.ndarray) -> np.ndarray:
    """A 64-bit digest of every row's values (equal rows, equal keys; -0.0 counts as 0.0)."""
    words = np.ascontiguousarray(np.asarray(X, dtype=np.float64) + 0.0).view(np.uint64)
    mult = np.uint64(0x9E3779B97F4A7C15)
    h = np.full(words.shape[0], 0xCBF29CE484222325, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = (h ^ words[:, j]) * mult
            h ^= h >> np.uint64(29)
    return h


class OutlierDetectorMixin(OutlierMixin):
    """scikit-learn outlier-detector methods for detectors that score ``X`` alone.

    A :class:`sklearn.base.OutlierMixin` (estimator type ``"outlier_detector"``, so scikit-learn's
    outlier checks apply). The detector is transductive on its training rows, like
    ``LocalOutlierFactor(novelty=False)``: ``fit_predict`` returns ``labels_``, and a row of ``X``
    identical to a training row gets the score that row got in ``fit`` (its own copy left out of
    the density view, its class model applied), so ``fit(X).predict(X)`` equals ``fit_predict(X)``.
    Other rows are scored as new rows with the fitted state. A subclass calls
    ``_remember_training_rows(X)`` in ``fit``.
    """

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit and return +1 (inlier) / -1 (flagged) for every training row (``labels_``)."""
        return self.fit(X, y, **kwargs).labels_  # type: ignore[attr-defined]

    def _remember_training_rows(self, X: np.ndarray) -> None:
        keys, first = np.unique(_row_keys(X), return_index=True)
        self._train_keys, self._train_rows = keys, first

    def score_samples(self, X: Any) -> np.ndarray:
        """Opposite of the raw score: lower = more abnormal (scikit-learn polarity)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)  # type: ignore[arg-type]
        raw = np.array(self._score_new(X, None), dtype=np.float64)  # type: ignore[attr-defined]
        keys = getattr(self, "_train_keys", None)
        if keys is not None and keys.size:
            q = _row_keys(X)
            pos = np.minimum(np.searchsorted(keys, q), keys.size - 1)
            seen = keys[pos] == q
            raw[seen] = self.raw_scores_[self._train_rows[pos[seen]]]  # type: ignore[attr-defined]
        return -raw

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for flagged rows."""
        return self.score_samples(X) - self.offset_  # type: ignore[attr-defined]

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for flagged rows."""
        return np.where(self.decision_function(X) < 0, -1, 1)
