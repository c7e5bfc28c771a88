"""Feature-space outliers: an ensemble of complementary detectors, overall and within each class.

Three views of every row, each strong where the others are weak:

* **tail** — an ECOD-style per-feature tail score (Li et al., "ECOD", TKDE 2022) with a
  robust extrapolation: for each numeric feature, how far the value lies beyond the bulk of
  the column (the 5th-95th percentile range widened by the distance to the median), in units
  of the column's robust spread, summed over features as ``log1p`` — one wild value counts,
  several far values count more;
* **isolation** — scikit-learn's :class:`~sklearn.ensemble.IsolationForest` on the encoded
  features (joint structure, categorical rarity);
* **density** — the local outlier factor (Breunig et al., 2000) against a reference sample of
  rows, own row left out (local density: odd rows in dense regions).

Each view's scores are **calibrated** to one scale before they are combined: a robust z-score
(median and MAD of the view's scores on the fitted rows; the log of the LOF, whose tail is
multiplicative), divided by the view's natural cut-off, so 1.0 means "as unusual as this view
ever calls a row on its own". The tail score is already in robust units and is divided by its
own cut-off. The combined score is the weighted mean of the calibrated views.

The ensemble runs **overall** and **within each class** (when labels are known and the class
has enough rows): a poisoned row can be ordinary overall and odd for its label. A row's raw
score is the mean of the two (a row of a class without its own model counts its overall score twice).

At scale (above ``max_fit_rows``) the models are fitted on a random sample and every row is
scored; the density view, which costs a neighbour search per row, is computed for a random
calibration sample and for the rows the other views rank highest (a cascade): the other rows
get the view's median (they are ordinary by the cheap views). Rows scored later as new rows (the
added rows of a reference comparison, the rows a scan on Spark scores outside its sample) get the
density view on the same terms: only those whose cheap views reach the fit's cut.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._kernel import nearest_neighbors, robust_scale
from ..config import Key, Policy
from ._base import BaseDetector, OutlierDetectorMixin

__all__ = ["OutlierEnsemble", "TailScore", "numeric_columns"]

#: Views and their weights in the combined score.
VIEW_WEIGHTS: dict[str, float] = {"tail": 0.6, "isolation": 0.2, "density": 0.2}
#: Natural cut-off of each view on its calibrated scale (robust z for isolation and density,
#: ``log1p`` robust units beyond the bulk for tail): dividing by it puts the views on one scale.
VIEW_CUTS: dict[str, float] = {"tail": float(np.log1p(3.0)), "isolation": 3.5, "density": 3.5}
#: Upper bound on the rows searched for the density view (reference sample) at any size.
LOF_REFERENCE_ROWS = 4000


def numeric_columns(X: np.ndarray, ds: Any = None) -> np.ndarray:
    """Indices of the encoded columns that carry a numeric feature's value.

    With a :class:`~poisonguard.data.TabularDataset` the encoder says which columns they are
    (missing-value indicators and one-hot columns excluded); without one, columns with more
    than two distinct values count as numeric.
    """
    if ds is not None:
        enc = ds.encoder
        kinds = ds.kinds
        return np.asarray([j for j, (c, s) in enumerate(zip(enc.columns_, enc.source_columns_))
                           if c == s and kinds.get(s) == "numeric"], dtype=np.int64)
    n = X.shape[0]
    sample = X if n <= 2000 else X[np.linspace(0, n - 1, 2000).astype(np.int64)]
    srt = np.sort(sample, axis=0)
    distinct = 1 + (np.diff(srt, axis=0) != 0).sum(axis=0)
    return np.flatnonzero(distinct > 2).astype(np.int64)


class TailScore:
    """ECOD-style per-feature tail score with robust extrapolation (no parameters to tune).

    For each column: the bulk is ``[q05 - (q50 - q05), q95 + (q95 - q50)]`` (for a normal
    distribution about +-3.3 sd, about the 99.9 % range; robust to up to 5 % contamination on
    either side), the unit is ``(q95 - q05) / 3.29`` (falling back to the IQR, then to the
    standard deviation, then to 1). A value's exceedance is its distance beyond the bulk in
    units; the row's score is ``sum_j log1p(exceedance_j)``.
    """

    def fit(self, Z: np.ndarray) -> TailScore:
        Z = np.asarray(Z, dtype=np.float64)
        if Z.shape[1] == 0:
            self.lo_ = self.hi_ = self.unit_ = np.zeros(0)
            return self
        q05, q25, q50, q75, q95 = np.quantile(Z, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        unit = (q95 - q05) / 3.29
        iqr = (q75 - q25) / 1.349
        std = Z.std(axis=0)
        unit = np.where(unit > 1e-12, unit, np.where(iqr > 1e-12, iqr, np.where(std > 1e-12, std, 1.0)))
        self.lo_ = q05 - (q50 - q05)
        self.hi_ = q95 + (q95 - q50)
        self.unit_ = unit
        return self

    def exceedance(self, Z: np.ndarray) -> np.ndarray:
        """Distance beyond the bulk in units, per value (0 inside the bulk); signed: + above, - below."""
        Z = np.asarray(Z)
        dt = np.float32 if Z.dtype == np.float32 else np.float64
        above = np.maximum(Z - self.hi_.astype(dt), 0)
        below = np.maximum(self.lo_.astype(dt) - Z, 0)
        return (above - below) / self.unit_.astype(dt)

    def score(self, Z: np.ndarray) -> np.ndarray:
        if Z.shape[1] == 0:
            return np.zeros(Z.shape[0])
        return np.log1p(np.abs(self.exceedance(Z))).sum(axis=1, dtype=np.float64)


def _robust_location_scale(s: np.ndarray) -> tuple[float, float]:
    s = s[np.isfinite(s)]
    if s.size == 0:
        return 0.0, 1.0
    med = float(np.median(s))
    # the MAD, else the 10th-90th percentile range, each unless <= 1e-12 (or NaN); else std or 1
    mad = robust_scale(s, estimators=("mad", "q10-q90", "std"), tol=(1e-12, 1e-12, 0), keep_nan=(False, False, True))
    return med, mad


class _LocalOutlierFactor:
    """LOF of query rows against a fixed reference sample (own row left out when it is in the sample)."""

    def __init__(self, n_neighbors: int) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, R: np.ndarray) -> _LocalOutlierFactor:
        self.k_ = int(max(1, min(self.n_neighbors, R.shape[0] - 1)))
        self.nn_ = nearest_neighbors(R, self.k_)
        dist, ind = self.nn_.kneighbors(None)  # own row excluded
        kdist = dist[:, -1]
        positive = kdist[kdist > 0]
        # a floor keeps densities finite inside groups of identical rows
        self.floor_ = float(np.median(positive)) * 1e-2 if positive.size else 1e-6
        self.kdist_ = np.maximum(kdist, self.floor_)
        self.lrd_ = self._lrd(dist, ind)
        return self

    def _lrd(self, dist: np.ndarray, ind: np.ndarray) -> np.ndarray:
        reach = np.maximum(np.maximum(dist, self.kdist_[ind]), self.floor_)
        return 1.0 / reach.mean(axis=1)

    def score(self, Q: np.ndarray, self_pos: np.ndarray | None = None, chunk: int = 50_000) -> np.ndarray:
        """LOF of each query row; ``self_pos[i]`` is row i's position in the reference (or -1)."""
        k = self.k_
        out = np.empty(Q.shape[0])
        for start in range(0, Q.shape[0], chunk):
            stop = min(start + chunk, Q.shape[0])
            dist, ind = self.nn_.kneighbors(Q[start:stop], n_neighbors=min(k + 1, self.kdist_.size))
            if dist.shape[1] > k:
                sp = self_pos[start:stop] if self_pos is not None else np.full(stop - start, -1)
                is_self = ind == sp[:, None]
                drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
                keep = np.ones_like(ind, dtype=bool)
                keep[np.arange(ind.shape[0]), drop] = False
                dist = dist[keep].reshape(-1, k)
                ind = ind[keep].reshape(-1, k)
            lrd_q = self._lrd(dist, ind)
            out[start:stop] = self.lrd_[ind].mean(axis=1) / lrd_q
        return out


class _GroupEnsemble:
    """The three views fitted on one group of rows (all rows, or one class)."""

    def __init__(self, *, numeric: np.ndarray, n_estimators: int, n_neighbors: int, max_fit_rows: int,
                 seed: int) -> None:
        self.numeric = numeric
        self.n_estimators = n_estimators
        self.n_neighbors = n_neighbors
        self.max_fit_rows = max_fit_rows
        self.seed = seed

    def fit_score(self, X: np.ndarray, candidates: int) -> dict[str, np.ndarray]:
        """Fit on ``X`` (a sample of it at scale) and return the calibrated views of every row."""
        rng = np.random.default_rng(self.seed)
        n = X.shape[0]
        fit_idx = np.sort(rng.choice(n, size=self.max_fit_rows, replace=False)) if n > self.max_fit_rows else None
        Xf = X if fit_idx is None else X[fit_idx]
        views: dict[str, np.ndarray] = {}
        self.tail_ = TailScore().fit(Xf[:, self.numeric])
        tail = self.tail_.score(X[:, self.numeric])
        views["tail"] = tail / VIEW_CUTS["tail"]
        from sklearn.ensemble import IsolationForest  # imported here: `poisonguard --help` stays light

        self.iforest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(Xf)
        iso = -self.iforest_.score_samples(X)
        self.iso_loc_, self.iso_scale_ = _robust_location_scale(iso if fit_idx is None else iso[fit_idx])
        views["isolation"] = (iso - self.iso_loc_) / self.iso_scale_ / VIEW_CUTS["isolation"]
        if n > self.n_neighbors + 1:
            m = min(n, LOF_REFERENCE_ROWS)
            ref = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
            self.lof_ = _LocalOutlierFactor(self.n_neighbors).fit(X[ref])
            self_pos = np.full(n, -1, dtype=np.int64)
            self_pos[ref] = np.arange(ref.size)
            if n <= candidates:
                lof = np.log(self.lof_.score(X, self_pos))
                self.lof_loc_, self.lof_scale_ = _robust_location_scale(lof)
                views["density"] = (lof - self.lof_loc_) / self.lof_scale_ / VIEW_CUTS["density"]
            else:
                # cascade: a random calibration sample (40 %) + the rows the cheap views rank highest (60 %)
                partial = _cheap_views(views)
                n_top = int(0.6 * candidates)
                top = np.argpartition(-partial, n_top)[:n_top]
                # new rows (score_new) get the density view on the same terms: only those the cheap
                # views put at least as high as the last of the top rows here
                self.density_cut_ = float(partial[top].min())
                calib = rng.choice(n, size=candidates - n_top, replace=False)
                q, where = np.unique(np.concatenate([top, calib]), return_inverse=True)
                lof_q = np.log(self.lof_.score(X[q], self_pos[q]))
                self.lof_loc_, self.lof_scale_ = _robust_location_scale(lof_q[where[n_top:]])
                dens = np.zeros(n)  # rows left out are ordinary by the cheap views: the calibrated median
                dens[q] = (lof_q - self.lof_loc_) / self.lof_scale_ / VIEW_CUTS["density"]
                views["density"] = dens
        self.views_ = sorted(views)
        return views

    def score_new(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """The calibrated views of rows the group was not fitted on. Where the fit ran the density
        view as a cascade, new rows get it only above the same cut of the cheap views (the others
        get its calibrated median, 0), as the fitted rows did: their scores stay comparable (the
        inductive p-values rank new rows' scores among the fitted ones') and the neighbour search
        runs for a few rows only (a scan on Spark scores every row outside its sample here)."""
        views = {"tail": self.tail_.score(X[:, self.numeric]) / VIEW_CUTS["tail"],
                 "isolation": (-self.iforest_.score_samples(X) - self.iso_loc_) / self.iso_scale_ / VIEW_CUTS["isolation"]}
        if hasattr(self, "lof_"):
            cut = getattr(self, "density_cut_", None)
            rows = np.arange(X.shape[0]) if cut is None else np.flatnonzero(_cheap_views(views) >= cut)
            dens = np.zeros(X.shape[0])
            if rows.size:
                lof = np.log(self.lof_.score(X[rows]))
                dens[rows] = (lof - self.lof_loc_) / self.lof_scale_ / VIEW_CUTS["density"]
            views["density"] = dens
        return views


def _cheap_views(views: dict[str, np.ndarray]) -> np.ndarray:
    """The tail and isolation views' share of the combined score: what the density cascade ranks by."""
    return VIEW_WEIGHTS["tail"] * views["tail"] + VIEW_WEIGHTS["isolation"] * views["isolation"]


def combine(views: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted mean of calibrated views (weights renormalised over the views present)."""
    total = sum(VIEW_WEIGHTS[k] for k in views)
    return np.asarray(sum(VIEW_WEIGHTS[k] * v for k, v in views.items()) / total, dtype=np.float64)


#: Batch policy of :class:`OutlierEnsemble` (see ``batch_finding``): ``scan.outliers.policy`` in params.yaml.
POLICY = Policy(
    "outliers",
    Key("max_flag_rate", "number", 0.015, "the batch is suspected when more than this share of the rows is flagged",
        low=0, high=1),
    Key("min_rows", "int", 10, "... and at least this many rows", low=0),
)
#: Defaults of :data:`POLICY`.
DEFAULT_POLICY: dict[str, Any] = dict(POLICY.defaults())


class OutlierEnsemble(OutlierDetectorMixin, BaseDetector):
    """Feature-space outliers, overall and within each class (registered as ``outliers``).

    See the module docstring for the three views, their calibration and the cascade at scale.

    Parameters
    ----------
    n_estimators : int, default=100
        Trees of the isolation forest.
    n_neighbors : int, default=20
        Neighbours of the local outlier factor.
    per_class : bool, default=True
        Also score rows within their class when labels are given (``fit(X, y)``, or the
        dataset's label in a scan).
    min_class_rows : int, default=50
        Classes with fewer rows are scored overall only.
    max_fit_rows : int, default=50000
        Models are fitted on a random sample of at most this many rows of a group; every row
        is scored.
    max_density_rows : int, default=50000
        Above this many rows in a group the density view is computed for the rows the other views
        rank highest (60 %) and a random calibration sample (40 %), ``max_density_rows`` in all.
        New rows get it where their other views reach the lowest of those top rows.
    threshold : float, default=2.0
        Combined calibrated score above which a row is flagged (``contamination="auto"``): on
        average twice as unusual as each view's own cut-off.
    policy : dict, default=None
        Overrides of :data:`DEFAULT_POLICY`: the batch is suspected when more than
        ``max_flag_rate`` of the rows, and at least ``min_rows``, are flagged.
    contamination : "auto" or float in (0, 0.5], default="auto"
        "auto" uses ``threshold``; a float flags that fraction of the rows.
    random_state : int, RandomState or None, default=None
        Seeds the forest and the samples.

    Attributes
    ----------
    overall_score_ : ndarray of shape (n_samples,)
        Combined calibrated score of every row against all rows.
    class_score_ : ndarray of shape (n_samples,)
        Combined calibrated score against the row's class (the overall score where no class model).
    view_scores_ : dict of str to ndarray
        Calibrated overall score of each view (``"tail"``, ``"isolation"``, ``"density"``).
    numeric_columns_ : ndarray of int
        Encoded columns the tail view reads.
    class_groups_ : dict
        Rows per class that got their own model.
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector`; the raw score is the mean of
        ``overall_score_`` and ``class_score_``.

    Examples
    --------
    >>> import numpy as np
    >>> from poisonguard.detectors import OutlierEnsemble
    >>> X = np.random.default_rng(0).normal(size=(500, 5))
    >>> X[:5, :3] += 9.0
    >>> det = OutlierEnsemble(random_state=0).fit(X)
    >>> det.labels_[:5].tolist(), int((det.labels_[5:] == -1).sum())
    ([-1, -1, -1, -1, -1], 0)
    """

    name: ClassVar[str] = "outliers"
    family: ClassVar[str] = "outlier"
    POLICY: ClassVar[Policy | None] = POLICY
    requires_y: ClassVar[bool] = False

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseDetector._parameter_constraints,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "per_class": ["boolean"],
        "min_class_rows": [Interval(Integral, 2, None, closed="left")],
        "max_fit_rows": [Interval(Integral, 100, None, closed="left")],
        "max_density_rows": [Interval(Integral, 100, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "policy": [dict, None],
        "random_state": ["random_state"],
    }

    def __init__(self, *, n_estimators: int = 100, n_neighbors: int = 20, per_class: bool = True,
                 min_class_rows: int = 50, max_fit_rows: int = 50_000, max_density_rows: int = 50_000,
                 threshold: float = 2.0, policy: dict[str, Any] | None = None,
                 contamination: str | float = "auto", random_state: Any = None) -> None:
        self.n_estimators = n_estimators
        self.n_neighbors = n_neighbors
        self.per_class = per_class
        self.min_class_rows = min_class_rows
        self.max_fit_rows = max_fit_rows
        self.max_density_rows = max_density_rows
        self.threshold = threshold
        self.policy = policy
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> OutlierEnsemble:
        """Fit on ``X``; with ``y``, also within each class. Returns ``self``."""
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        yy = None
        if y is not None and self.per_class:
            yy = column_or_1d(y, warn=False)
            if yy.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} rows but y has {yy.shape[0]}")
        self._fit_all(np.asarray(X), yy, numeric_columns(np.asarray(X)))
        return self

    def scan_fit(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> OutlierEnsemble:
        """Fit inside a scan: the tail view reads the numeric columns; the dataset's labels (when it
        has a label column) give the classes."""
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        codes = None
        if self.per_class and getattr(ds, "label", None) is not None:
            codes = ds.label_codes()
            if y is not None and len(y) == len(codes):
                codes = np.asarray(y)
        self._fit_all(np.asarray(X), codes, numeric_columns(np.asarray(X), ds))
        return self

    def _fit_all(self, X: np.ndarray, y: np.ndarray | None, numeric: np.ndarray) -> None:
        rs = check_random_state(self.random_state)
        seed = int(rs.randint(np.iinfo(np.int32).max))
        n = X.shape[0]
        self._remember_training_rows(X)
        self.numeric_columns_ = numeric
        self.overall_ = _GroupEnsemble(numeric=numeric, n_estimators=self.n_estimators, n_neighbors=self.n_neighbors,
                                       max_fit_rows=self.max_fit_rows, seed=seed)
        views = self.overall_.fit_score(X, self.max_density_rows)
        self.view_scores_ = views
        overall = combine(views)
        cls = overall.copy()
        self.class_models_: dict[Any, _GroupEnsemble] = {}
        self.class_groups_: dict[str, int] = {}
        if y is not None:
            values, inv = np.unique(y, return_inverse=True)
            for ci, value in enumerate(values.tolist()):
                idx = np.flatnonzero(inv == ci)
                if idx.size < self.min_class_rows or idx.size == n or (isinstance(value, (int, np.integer)) and value < 0):
                    continue
                g = _GroupEnsemble(numeric=numeric, n_estimators=self.n_estimators, n_neighbors=self.n_neighbors,
                                   max_fit_rows=self.max_fit_rows, seed=seed + ci + 1)
                cls[idx] = combine(g.fit_score(X[idx], self.max_density_rows))
                self.class_models_[value] = g
                self.class_groups_[str(value)] = int(idx.size)
        self.overall_score_ = overall
        self.class_score_ = cls
        self._y = y
        self._set_threshold((overall + cls) / 2.0)

    def _auto_threshold(self, raw: np.ndarray) -> float:
        return float(self.threshold)

    def _score_raw(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        overall = combine(self.overall_.score_new(X))
        cls = overall.copy()
        if y is not None and self.class_models_:
            y = np.asarray(y)
            for value, g in self.class_models_.items():
                idx = np.flatnonzero(y == value)
                if idx.size:
                    cls[idx] = combine(g.score_new(X[idx]))
        return (overall + cls) / 2.0

    # ------------------------------------------------------------------ scan hooks
    def _feature_names(self, ds: Any) -> list[str]:
        if ds is not None and hasattr(ds, "encoder"):
            return [str(c) for c in ds.encoder.columns_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def row_reasons(self, ds: Any, rows: np.ndarray) -> list[str]:
        check_is_fitted(self)
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return []
        names = self._feature_names(ds)
        num = self.numeric_columns_
        X = ds.encode() if ds is not None and hasattr(ds, "encode") else None
        exc = self.overall_.tail_.exceedance(X[np.ix_(rows, num)]) if X is not None and num.size else None
        out = []
        for i, r in enumerate(rows.tolist()):
            where = "for its label" if self.class_score_[r] > self.overall_score_[r] + 0.5 else "overall"
            parts = []
            if exc is not None:
                top = np.argsort(-np.abs(exc[i]))[:2]
                for j in top.tolist():
                    e = float(exc[i, j])
                    if abs(e) >= 1.0:
                        col = names[num[j]]
                        value = ds.frame[col].iloc[r] if col in ds.frame.columns else None
                        parts.append(f"{col}={_short(value)} is {abs(e):.1f} spreads {'above' if e > 0 else 'below'} "
                                     "its usual range")
            detail = "; ".join(parts) if parts else "unusual combination of feature values"
            out.append(f"{self.name}: unusual {where} (score {self.raw_scores_[r]:.1f}): {detail}")
        return out

    def report_section(self, ds: Any) -> dict[str, Any]:
        check_is_fitted(self)
        flagged = self.labels_ == -1
        names = self._feature_names(ds)
        num = self.numeric_columns_
        drivers: dict[str, int] = {}
        if flagged.any() and num.size and ds is not None and hasattr(ds, "encode"):
            idx = np.flatnonzero(flagged)[:5000]
            exc = np.abs(self.overall_.tail_.exceedance(ds.encode()[np.ix_(idx, num)]))
            for j in np.argmax(exc, axis=1)[exc.max(axis=1) >= 1.0].tolist():
                drivers[names[num[j]]] = drivers.get(names[num[j]], 0) + 1
        return {
            "n_flagged": int(flagged.sum()),
            "flag_rate": round(float(flagged.mean()), 6),
            "threshold": float(self.threshold_),
            "views": {k: VIEW_WEIGHTS[k] for k in sorted(self.view_scores_)},
            "class_models": dict(self.class_groups_),
            "top_features": dict(sorted(drivers.items(), key=lambda kv: -kv[1])[:10]),
            "policy": dict(self._batch_policy()),
        }

    def batch_finding(self, ds: Any) -> tuple[bool, str]:
        """Suspected when more than ``max_flag_rate`` of the rows (and at least ``min_rows``) are flagged.

        On the five shared UCI datasets the natural rate at the default threshold is at most
        0.5 % (see ``benchmarks/RESULTS.md``); 2 % injected outliers take it above 1.5 %.
        """
        check_is_fitted(self)
        pol = self._batch_policy()
        k = int((self.labels_ == -1).sum())
        rate = k / max(1, self.labels_.size)
        if k >= pol["min_rows"] and rate > pol["max_flag_rate"]:
            return True, (f"{k} rows ({rate:.1%}) are feature-space outliers (policy: at most "
                          f"{pol['max_flag_rate']:.1%})")
        return False, ""


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)[:40]
