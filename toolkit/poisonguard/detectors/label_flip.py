"""Label-flip detectors: confident learning, kNN label disagreement, and their ensemble.

All three estimate, for every training row, a probability vector over the classes that
does not use the row's own label (out-of-fold model probabilities, or the labels of the
row's neighbours), and then apply the same confident-learning scoring
(Northcutt, Jiang & Chuang, "Confident Learning", JAIR 2021):

* per-class thresholds ``t_j`` = mean probability of class ``j`` among rows labelled ``j``, and
  the calibrated confident joint (estimated counts of rows labelled ``i`` whose true class is ``j``);
* the raw score of a row labelled ``i`` (higher = more likely mislabelled) is, for
  :class:`ConfidentLearning` and :class:`KNNLabelDisagreement`, the threshold-normalised margin
  ``max_{j != i} p_j / t_j^a - p_i / t_i^a`` with ``a = 0.75`` (:func:`label_margin`); for
  :class:`LabelFlipDetector`, the mean of two probabilities that the label is wrong, on a blend
  of its views weighted by their out-of-fold log-loss: self-confidence ``1 - p_i`` and the
  posterior under the class-conditional noise the confident joint estimates
  (:func:`label_error_posterior`), which orders rows like a class-normalised margin under a
  class-targeted flip (``benchmarks/RESULTS.md``, issue 15);
* with ``contamination="auto"`` the number of flagged rows is the off-diagonal mass of the
  calibrated confident joint (the estimated number of label errors), and the rows with the
  highest scores among those another class fits better are flagged.

:class:`KNNLabelDisagreement` follows Paudice, Muñoz-González & Lupu, "Label sanitization
against label flipping poisoning attacks" (2018). :class:`LabelFlipDetector` (registered as
``label_flip``, the default) averages three views of each row: out-of-fold probabilities of a
gradient-boosted model (strong on random flips), of a linear model (a smooth boundary), and
the neighbours' labels (strong on flips placed near the decision boundary); its ranking adds a
fourth on data of up to :data:`TREES_AUTO_MAX_ROWS` rows, extremely randomised trees. On small
data its out-of-fold views are the mean of repeated cross-validation (:func:`cv_repeats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._kernel import knn_label_vote, label_shares, nearest_neighbors
from ..config import Key, Policy
from .._threads import map_tasks, threads_for
from ._base import BaseDetector

__all__ = [
    "ConfidentLearning",
    "KNNLabelDisagreement",
    "LabelFlipDetector",
    "OneHotAsCategories",
    "confident_joint",
    "cv_repeats",
    "knn_label_proba",
    "knn_labels",
    "label_error_posterior",
    "label_margin",
    "noise_matrix",
    "oof_proba",
]

#: Largest number of rows searched exactly by the neighbour search; larger data are split
#: into random blocks of about this many rows and neighbours are searched within each block.
KNN_EXACT_ROWS = 25_000
#: Work budget of the blocked neighbour search, in row pairs: past ``KNN_PAIR_BUDGET /
#: KNN_EXACT_ROWS`` rows (500,000) the blocks shrink so that the search compares no more pairs
#: than that (1,000,000 rows: blocks of 12,500), down to :data:`KNN_MIN_BLOCK_ROWS` rows.
KNN_PAIR_BUDGET = 500_000 * KNN_EXACT_ROWS
KNN_MIN_BLOCK_ROWS = 5_000
#: Exponent of the per-class threshold normalisation in the ranking margin (see :func:`label_margin`).
THRESHOLD_POWER = 0.75
#: Pseudo-rows spread over each true class's column of the confident joint (:func:`noise_matrix`).
NOISE_PRIOR = 0.5
#: Above this many rows the ensemble's linear view is left out (``linear="auto"``): it adds
#: little where the boosted model has plenty of data, and costs the most there.
LINEAR_AUTO_MAX_ROWS = 200_000
#: Above this many rows the tree view (extremely randomised trees) is left out of the ranking
#: (``trees="auto"``): its cost grows faster than the boosted model's (at 22,792 rows x 98 columns
#: its five folds took 4.2 s, more than the boosted model's, which stops early), and where the
#: boosted model has that many rows the log-loss weights give the trees little or no weight
#: (adult: 0-0.1; ``benchmarks/RESULTS.md``, issue 15).
TREES_AUTO_MAX_ROWS = 10_000
#: Grid step of the view weights on the simplex (:func:`stack_weights`).
STACK_STEP = 0.1
#: Each fold's model is fitted on at most this many rows (a random sample of the fold's
#: training rows); every row still gets an out-of-fold prediction.
MAX_TRAIN_ROWS = 100_000


#: Work budget of repeated cross-validation (``cv_repeats="auto"``, :func:`cv_repeats`), in rows times
#: the boosted model's trees per round: the repeats never cost more than one cross-validation of
#: a binary problem on this many rows.
REPEAT_CV_ROWS = 3_000
#: Most splits averaged by ``cv_repeats="auto"``; the split-to-split variance of a row's estimate
#: falls as ``1 / repeats``, so past three the cost grows faster than what is left to remove.
MAX_CV_REPEATS = 3


def cv_repeats(n_rows: int, n_classes: int = 2) -> int:
    """Splits the out-of-fold views of ``n_rows`` rows of ``n_classes`` classes are averaged over
    (``cv_repeats="auto"``).

    On small data one 5-fold split is a noisy estimate: which rows share a row's fold moves its
    out-of-fold probability, and with it the row's rank among the suspects (one other split seed
    moved the suite's mean AP under random flips by 0.007, ``benchmarks/RESULTS.md``, issue 15).
    Repeating the split costs little there, and is not done on larger data, where one split is
    steadier and costs the most. The cost is counted as the boosted model's: rows times trees per
    round (one per class, one for two classes): ``min(MAX_CV_REPEATS, REPEAT_CV_ROWS // (n_rows *
    trees))``, at least 1.
    """
    trees = 1 if n_classes <= 2 else int(n_classes)
    return int(max(1, min(MAX_CV_REPEATS, REPEAT_CV_ROWS // max(int(n_rows) * trees, 1))))


#: ``min_samples_leaf`` of the default gradient-boosted model (scikit-learn's default).
HGB_MIN_SAMPLES_LEAF = 20


def default_estimator(random_state: Any = None, min_class_count: int = 100, n_rows: int | None = None,
                      categorical_groups: Sequence[Sequence[int]] | None = None) -> Any:
    """The default label model for data of ``n_rows`` rows whose smallest class has ``min_class_count``
    (also the reference comparison's trusted model).

    With ``categorical_groups`` (the one-hot columns of each categorical feature,
    :meth:`poisonguard.data.Encoder.categorical_groups`), the boosted model reads each group as one
    native categorical feature (:class:`OneHotAsCategories`).

    A tree of the boosted model needs ``2 * min_samples_leaf`` (40) rows to make one split; on fewer,
    each of its 100 rounds adds a single-leaf tree that leaves the baseline unchanged, and its
    probabilities are exactly the class frequencies of its training rows. There the same numbers
    come from :class:`~sklearn.dummy.DummyClassifier` (``strategy="prior"``) without the rounds.
    """
    if n_rows is not None and n_rows < 2 * HGB_MIN_SAMPLES_LEAF:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior")
    from sklearn.ensemble import HistGradientBoostingClassifier

    # early stopping holds out a stratified 10 %: only possible when every class has a few members there
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, early_stopping=min_class_count >= 40,
                                           validation_fraction=0.1, n_iter_no_change=10,
                                           min_samples_leaf=HGB_MIN_SAMPLES_LEAF, random_state=random_state)
    groups = native_groups(categorical_groups, n_rows)
    return OneHotAsCategories(model, groups) if groups else model


#: Widest one-hot group read as one native categorical feature: scikit-learn's gradient boosting
#: bins each feature into at most 255 values plus missing, and a category code is a bin.
MAX_NATIVE_CATEGORIES = 255
#: Rows per category, on average, that a categorical feature needs before the boosted model splits
#: its categories as sets (LightGBM's ``min_data_per_group`` default, its guard against fitting a
#: partition of few rows). Below that, the one-hot columns split one category off at a time.
MIN_ROWS_PER_CATEGORY = 100


def native_groups(groups: Sequence[Sequence[int]] | None, n_rows: int | None = None) -> list[list[int]]:
    """The groups of ``groups`` that :class:`OneHotAsCategories` reads natively for a fit on ``n_rows``
    rows: 2 to :data:`MAX_NATIVE_CATEGORIES` columns, and at least :data:`MIN_ROWS_PER_CATEGORY`
    rows per column (None: no row bound). The others stay plain one-hot columns.

    On few rows a set-valued split fits noise: on breast-cancer-ljubljana (286 rows, nine categorical
    features) the native model's out-of-fold log-loss was 0.580 against the one-hot model's 0.565;
    on adult (32,561 rows) 0.278 against 0.280, at a third of the time.
    """
    return [[int(j) for j in g] for g in (groups or ())
            if 2 <= len(g) <= MAX_NATIVE_CATEGORIES and (n_rows is None or n_rows >= MIN_ROWS_PER_CATEGORY * len(g))]


class OneHotAsCategories(ClassifierMixin, BaseEstimator):
    """A classifier with native categorical splits, fitted on one-hot encoded rows.

    Each group of one-hot columns in ``groups`` (one categorical feature: exactly one of its columns
    is set in a row, as :class:`poisonguard.data.Encoder` writes them) becomes one column holding the
    position of the set column; the other columns pass through. ``estimator`` (a
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier`) is fitted with those columns as its
    ``categorical_features``. A histogram-based model then bins one column per categorical feature
    instead of one per category, and can split a feature's categories into any two sets, where one-hot
    columns split one category off at a time (Fisher, *JASA* 1958, for the ordering that finds the best
    partition; scikit-learn's "Categorical Features Support" in gradient boosting). On adult
    (98 encoded columns, 14 features) its 5-fold fit takes a third of the time at the same log-loss
    (``benchmarks/RESULTS.md``, issue 15).

    Parameters
    ----------
    estimator : classifier, default=None
        Fitted on the compact columns, with ``categorical_features`` set; cloned. None: a
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with its defaults.
    groups : list of list of int
        Column indices of each categorical feature's one-hot columns.

    Attributes
    ----------
    estimator_ : classifier
        The fitted model.
    classes_ : ndarray
        The model's classes.
    """

    def __init__(self, estimator: Any = None, groups: Sequence[Sequence[int]] = ()) -> None:
        self.estimator = estimator
        self.groups = groups

    def _compact(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        grouped = np.zeros(X.shape[1], dtype=bool)
        for g in self.groups:
            grouped[np.asarray(g)] = True
        out = np.empty((X.shape[0], int((~grouped).sum()) + len(self.groups)), dtype=np.float64)
        plain = np.flatnonzero(~grouped)
        out[:, :plain.size] = X[:, plain]
        for j, g in enumerate(self.groups, start=plain.size):
            block = X[:, np.asarray(g)]
            code = np.argmax(block, axis=1).astype(np.float64)
            code[~(block > 0).any(axis=1)] = np.nan  # no column set (not written by the Encoder): missing
            out[:, j] = code
        return out

    def fit(self, X: Any, y: Any) -> OneHotAsCategories:
        """Fit ``estimator`` on the compact columns of ``X``."""
        Xc = self._compact(X)
        n_plain = Xc.shape[1] - len(self.groups)
        mask = np.r_[np.zeros(n_plain, dtype=bool), np.ones(len(self.groups), dtype=bool)]
        if self.estimator is None:
            from sklearn.ensemble import HistGradientBoostingClassifier

            base = HistGradientBoostingClassifier()
        else:
            base = clone(self.estimator)
        self.estimator_ = base.set_params(categorical_features=mask).fit(Xc, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of ``X`` (one-hot encoded as for :meth:`fit`)."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(self._compact(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row of ``X``."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


#: Batch policy of the label-flip detectors (see ``batch_finding``); override with the ``policy``
#: parameter of :class:`LabelFlipDetector` or ``scan.label_flip.policy`` in params.yaml.
POLICY = Policy(
    "label_flip",
    Key("max_floor", "number", 0.04, "noise floor: disagreement allowed in the most certain tenth, at least",
        low=0, high=1),
    Key("floor_ratio", "number", 1.0, "... and at least this times what the evidence's confidence there allows",
        low=0),
    Key("class_ratio", "number", 3.0, "one class stands out (3+ classes): its flag rate this times the others' median",
        low=0),
    Key("min_class_rate", "number", 0.05, "one class stands out: its flag rate at least this", low=0, high=1),
    Key("clean_class_rate", "number", 0.01, "two classes: the other class's flag rate at most this", low=0, high=1),
    Key("max_noise_rate", "number", None, "suspected when the estimated noise rate exceeds this (null: off)",
        low=0, high=1, nullable=True),
)
#: Defaults of :data:`POLICY`.
DEFAULT_POLICY: dict[str, Any] = dict(POLICY.defaults())


def _encode_y(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes, codes = np.unique(y, return_inverse=True)
    return classes, codes.astype(np.int64)


def oof_proba(estimator: Any, X: np.ndarray, y: np.ndarray, n_classes: int, *, cv: int = 5,
              random_state: Any = None, max_train_rows: int | None = None,
              held_out: np.ndarray | None = None, repeats: int = 1,
              _extra: np.ndarray | None = None) -> np.ndarray:
    """Out-of-fold predicted probabilities, shape ``(n, n_classes)``.

    Classes with fewer members than ``cv`` reduce the number of folds (at least 2); a
    class with a single member gets the class prior as its out-of-fold probability. With
    ``max_train_rows``, each fold's model is fitted on a random sample of at most that many of
    its training rows (every row still gets an out-of-fold prediction), which bounds the cost on
    very large data; the number of folds is then also cut to the fewest (at least 2) whose
    training parts still hold ``max_train_rows`` rows, since more folds would only add fits of
    models of the same size (1,000,000 rows: 2 folds of models fitted on 100,000 rows each).
    ``held_out`` (a boolean mask) names rows that no model is fitted on: each gets the mean of
    the fold models' probabilities. With ``repeats`` > 1, the cross-validation is repeated on
    that many different splits (the first is the one ``repeats=1`` makes) and each row gets the
    mean of its out-of-fold probabilities over them (repeated cross-validation, which takes out
    the part of a row's estimate that depends on which rows happened to share its fold:
    Bouckaert & Frank, PAKDD 2004; Kim, *Computational Statistics & Data Analysis* 2009).
    """
    if repeats < 1:
        raise ValueError(f"oof_proba: repeats must be at least 1; got {repeats}")
    n = len(y)
    if held_out is not None and held_out.any():
        keep = np.flatnonzero(~held_out)
        proba = oof_proba(estimator, X[keep], y[keep], n_classes, cv=cv, random_state=random_state,
                          max_train_rows=max_train_rows, held_out=None, repeats=repeats, _extra=X[held_out])
        out = np.full((n, n_classes), np.nan)
        out[keep] = proba[: keep.size]
        out[held_out] = proba[keep.size:]
        return out
    counts = np.bincount(y, minlength=n_classes)
    prior = counts / counts.sum()
    proba = np.tile(prior, (n, 1))
    extra = np.tile(prior, (0 if _extra is None else len(_extra), 1))
    usable = counts[y] >= 2
    present = counts >= 2
    if present.sum() < 2:
        return np.vstack([proba, extra])
    folds = int(max(2, min(cv, counts[present].min())))
    idx = np.flatnonzero(usable)
    if max_train_rows is not None and idx.size > max_train_rows:
        # the fewest folds k with idx.size * (k - 1) / k >= max_train_rows
        folds = max(2, min(folds, int(np.ceil(idx.size / (idx.size - max_train_rows)))))
    Xu, yu = X[idx], y[idx]
    rng = check_random_state(random_state)
    split_seeds = [random_state] + [int(rng.randint(np.iinfo(np.int32).max)) for _ in range(repeats - 1)]
    splits = []
    for seed in split_seeds:
        for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(Xu, yu):
            if max_train_rows is not None and train.size > max_train_rows:
                train = np.sort(rng.choice(train, size=max_train_rows, replace=False))
            splits.append((train, test))

    def fit_fold(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        train, test = split
        model = clone(estimator).fit(Xu[train], yu[train])
        p = model.predict_proba(Xu[test]) if test.size else np.empty((0, len(model.classes_)))
        return model.classes_, p, (model.predict_proba(_extra) if extra.shape[0] else None)

    # the folds are independent: fitted side by side, one thread each (see poisonguard._threads)
    fitted = map_tasks(fit_fold, splits, rows=max(train.size for train, _ in splits))
    extra_sum = np.zeros_like(extra)
    proba_sum = np.zeros((idx.size, n_classes))
    for (_, test), (classes, p, e) in zip(splits, fitted):
        proba_sum[np.ix_(test, classes)] += p
        if e is not None:
            extra_sum[:, classes] += e
    # every usable row is in one test fold of each split
    proba[idx] = proba_sum / len(split_seeds)
    if extra.shape[0] and splits:
        extra = extra_sum / len(splits)
    return np.vstack([proba, extra])


def stack_weights(own: np.ndarray, *, step: float = STACK_STEP, floor: float = 1e-3, max_rows: int = 100_000,
                  random_state: Any = None) -> np.ndarray:
    """Convex weights of ``V`` probability views that minimise the blend's log-loss on the labels.

    ``own`` (shape ``(n, V)``) holds each view's out-of-fold probability of the row's own label.
    The weights are searched on the simplex grid of ``step`` (66 points for three views, 286 for
    four); the log-loss is the mean of ``-log(max(own @ w, floor))`` (the floor bounds what a
    single row can weigh), on a random sample of ``max_rows`` rows on larger data. This is the
    linear opinion pool weighted by its log score (stacking: Wolpert, *Neural Networks* 1992;
    Breiman, *Machine Learning* 1996), on out-of-fold probabilities so that no view is favoured
    for having seen the labels it scores. Ties go to the first weights in the grid's order.
    """
    own = np.asarray(own, dtype=np.float64)
    n, v = own.shape
    if v == 1:
        return np.ones(1)
    if n > max_rows:
        own = own[check_random_state(random_state).choice(n, size=max_rows, replace=False)]
    parts = int(round(1.0 / step))
    grid = np.array([w for w in _compositions(parts, v)], dtype=np.float64) / parts
    loss = np.array([-np.log(np.maximum(own @ w, floor)).mean() for w in grid])
    return grid[int(np.argmin(loss))]


def _compositions(total: int, parts: int) -> Any:
    """Every tuple of ``parts`` non-negative integers summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def knn_label_proba(X: np.ndarray, y: np.ndarray, n_classes: int, *, n_neighbors: int = 10,
                    random_state: Any = None, X_query: np.ndarray | None = None,
                    exact_rows: int = KNN_EXACT_ROWS, block_rows: int | None = None) -> np.ndarray:
    """Class distribution of each row's nearest neighbours (own row excluded), smoothed.

    ``p = (counts + prior) / (k + 1)``: one pseudo-neighbour drawn from the class prior keeps
    probabilities away from 0 and 1. With ``X_query`` given, the neighbours of the query rows
    are searched in ``X`` (no exclusion). Above ``exact_rows`` rows the search runs inside
    random blocks of about ``exact_rows`` rows, which bounds the work at ``O(n * exact_rows)``;
    past :data:`KNN_PAIR_BUDGET` pairs the blocks shrink to keep the work at that budget (each
    block still holds at least :data:`KNN_MIN_BLOCK_ROWS` rows, a neighbourhood as dense as in
    data of that size). ``block_rows`` sets the blocks' size instead (see :func:`knn_labels`).
    """
    counts_all = np.bincount(y, minlength=n_classes).astype(np.float64)
    prior = counts_all / counts_all.sum()
    transductive = X_query is None
    Q = X if X_query is None else X_query
    nq = Q.shape[0]
    k = int(min(n_neighbors, X.shape[0] - (1 if transductive else 0)))
    if k < 1:
        return np.tile(prior, (nq, 1))
    rng = check_random_state(random_state)
    if transductive:
        return label_shares(knn_labels(X, y, k, random_state=rng, exact_rows=exact_rows, block_rows=block_rows),
                            n_classes=n_classes, prior=prior)
    if not transductive and X.shape[0] > 4 * exact_rows:
        sample = rng.choice(X.shape[0], size=4 * exact_rows, replace=False)
        return _knn_counts(X[sample], y[sample], Q, k, n_classes, prior)
    return _knn_counts(X, y, X_query, k, n_classes, prior)


def knn_labels(X: np.ndarray, y: np.ndarray, n_neighbors: int, *, random_state: Any = None,
               exact_rows: int = KNN_EXACT_ROWS, block_rows: int | None = None) -> np.ndarray:
    """Labels of each row's ``n_neighbors`` nearest other rows, nearest first, shape ``(n, k)``.

    The search behind :func:`knn_label_proba` without ``X_query`` (the same random blocks above
    ``exact_rows`` rows, for the same ``random_state``): the shares among the first ``kk`` columns
    (:func:`~poisonguard._kernel.label_shares`) are ``knn_label_proba(..., n_neighbors=kk)``, so
    one search serves neighbourhoods of several sizes. The labels are held in the smallest integer
    type of ``y``'s range (1,000,000 rows x 48 neighbours: 96 MB as int16 rather than 384 MB).
    ``block_rows``: the blocks' size (default :func:`knn_block_rows` of the rows given; a scan on
    Spark fits on a sample and passes the block size of the whole data's row count).
    """
    n = X.shape[0]
    k = int(min(n_neighbors, n - 1))
    yc = y.astype(np.min_scalar_type(-int(y.max()) - 1 if y.size else 0), copy=False)
    if k < 1:
        return np.zeros((n, 0), dtype=yc.dtype)
    size = knn_block_rows(n, exact_rows) if block_rows is None else max(min(int(block_rows), n), k + 1)
    if size >= n:
        return yc[nearest_neighbors(X, k).kneighbors(None)[1]]
    rng = check_random_state(random_state)
    out = np.empty((n, k), dtype=yc.dtype)
    for block in np.array_split(rng.permutation(n), int(np.ceil(n / size))):
        out[block] = yc[block][nearest_neighbors(X[block], k).kneighbors(None)[1]]
    return out


def knn_block_rows(n: int, exact_rows: int = KNN_EXACT_ROWS) -> int:
    """Rows of the random blocks :func:`knn_label_proba` searches in for data of ``n`` rows (``n`` up to
    ``exact_rows``: all of them)."""
    if n <= exact_rows:
        return n
    return max(min(exact_rows, KNN_PAIR_BUDGET // n), min(exact_rows, KNN_MIN_BLOCK_ROWS))


def _knn_counts(X: np.ndarray, y: np.ndarray, Q: np.ndarray | None, k: int, n_classes: int,
                prior: np.ndarray) -> np.ndarray:
    transductive = Q is None
    k = int(min(k, X.shape[0] - (1 if transductive else 0)))
    # Q None: each fitted row's neighbours with the row itself left out
    return knn_label_vote(nearest_neighbors(X, k), y, Q, n_classes=n_classes, prior=prior)


def _class_thresholds(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    n_classes = proba.shape[1]
    sums = np.zeros(n_classes)
    np.add.at(sums, y, proba[np.arange(len(y)), y])
    counts = np.bincount(y, minlength=n_classes)
    t = np.divide(sums, counts, out=np.full(n_classes, 1.0), where=counts > 0)
    return np.clip(t, 1e-6, 1.0)


def label_margin(proba: np.ndarray, y: np.ndarray, thresholds: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Threshold-normalised margin ``max_{j != y} p_j / t_j**a - p_y / t_y**a`` per row (``a = power``).

    ``power=1`` is confident learning's normalisation; ``power=0`` the plain margin. A
    partial normalisation (0.75, the default of the detectors) keeps the benefit on targeted
    flips into a large class without over-trusting labels of rare classes, whose thresholds are low.
    """
    adj = proba / thresholds**power
    rows = np.arange(len(y))
    own = adj[rows, y].copy()
    adj[rows, y] = -np.inf
    return adj.max(axis=1) - own


def noise_matrix(joint: np.ndarray, prior: float = NOISE_PRIOR) -> np.ndarray:
    """Label-noise transition ``T[i, j]`` = P(label ``i`` | true class ``j``) from a confident joint.

    Each column of ``joint`` (rows labelled ``i`` whose true class is ``j``) plus ``prior / K``
    pseudo-rows per cell, normalised to sum to 1: every confusion stays possible.
    """
    joint = np.asarray(joint, dtype=np.float64) + prior / joint.shape[0]
    return joint / joint.sum(axis=0, keepdims=True)


def label_error_posterior(proba: np.ndarray, y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Posterior probability that each row's label is wrong, under a class-conditional noise model.

    With ``p_j`` the row's out-of-fold probability of class ``j`` (taken as its class posterior)
    and ``T = noise`` the transition P(label | true class) (:func:`noise_matrix`), Bayes' rule gives
    P(true class ``j`` | x, label ``i``) proportional to ``p_j T[i, j]``, and the score is
    ``1 - p_i T[i, i] / sum_j p_j T[i, j]``. It adapts to the noise the data show: where the
    confident joint spreads its errors over every pair of classes (random flips) it orders rows
    like self-confidence ``1 - p_i``; where one class took in another's rows (a class-targeted
    flip) only the rows labelled as that class can score high, as a class-normalised margin would
    (the noise-aware posterior of Natarajan et al., NeurIPS 2013, with the transition estimated by
    confident learning, Northcutt et al., JAIR 2021).
    """
    w = proba * noise[y, :]
    rows = np.arange(len(y))
    total = w.sum(axis=1)
    return np.clip(1.0 - np.divide(w[rows, y], total, out=np.zeros(len(y)), where=total > 0), 0.0, 1.0)


def confident_joint(proba: np.ndarray, y: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Calibrated confident joint ``C[i, j]``: estimated count of rows labelled ``i`` whose true class is ``j``."""
    n_classes = proba.shape[1]
    if thresholds is None:
        thresholds = _class_thresholds(proba, y)
    above = proba >= thresholds
    masked = np.where(above, proba, -np.inf)
    j_star = masked.argmax(axis=1)
    has = above.any(axis=1)
    C = np.zeros((n_classes, n_classes))
    np.add.at(C, (y[has], j_star[has]), 1.0)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    row_sums = C.sum(axis=1)
    scale = np.divide(counts, row_sums, out=np.zeros(n_classes), where=row_sums > 0)
    return C * scale[:, None]


class _ProbabilisticLabelDetector(BaseDetector):
    """Shared confident-learning scoring on top of per-row class probabilities."""

    family: ClassVar[str] = "label_flip"
    POLICY: ClassVar[Policy | None] = POLICY
    requires_y: ClassVar[bool] = True
    learns_from_rows: ClassVar[bool] = True
    #: The ranking score: ``"margin"`` (confident learning's), ``"posterior"`` or another rule of a subclass (see :meth:`_rank`).
    ranking: ClassVar[str] = "margin"

    def _label_proba(self, X: np.ndarray, y: np.ndarray, rs: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _fit_raw(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        assert y is not None
        self.classes_, codes = _encode_y(y)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got {len(self.classes_)}")
        self._y = codes
        self._X = X
        rs = check_random_state(self.random_state)
        self._rs_seed = int(rs.randint(np.iinfo(np.int32).max))
        proba = self._label_proba(X, codes, self._rs_seed)
        self.proba_ = proba
        self.class_thresholds_ = _class_thresholds(proba, codes)
        self.confident_joint_ = confident_joint(proba, codes, self.class_thresholds_)
        off = self.confident_joint_.sum() - np.trace(self.confident_joint_)
        self.n_estimated_errors_ = int(round(off))
        self.estimated_noise_rate_ = float(off / len(codes))
        self.noise_matrix_ = noise_matrix(self.confident_joint_)
        self.margin_ = label_margin(proba, codes, self.class_thresholds_, THRESHOLD_POWER)
        return self.margin_ if self.ranking == "margin" else self._fit_rank(proba, codes)

    def _fit_rank(self, proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The training rows' ranking score (raw) from the fitted probabilities (see :meth:`_rank`)."""
        return self._rank(proba, codes)

    def _rank(self, proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The ranking score (raw): confident learning's threshold-normalised margin (:func:`label_margin`),
        or, where ``ranking == "posterior"``, the posterior probability of a label error (:func:`label_error_posterior`)."""
        if self.ranking == "posterior":
            return label_error_posterior(proba, codes, self.noise_matrix_)
        return label_margin(proba, codes, self.class_thresholds_, THRESHOLD_POWER)

    def _pvalues(self, raw: np.ndarray) -> np.ndarray:
        """p-value of each row's label under a model fitted without the suspects.

        Out-of-fold probabilities fitted on every row learn part of the noise they are meant to
        find (a flipped region teaches the model that either label is possible there), so, as in
        cleanlab's "prune, then retrain" (Northcutt et al., JAIR 2021, sec. 6), the rows this
        detector flags (its confident-learning candidates) are held out, the estimator is fitted
        out of fold on the other rows, and every row's label is scored by models that never saw it
        (:func:`poisonguard.evidence.label_pvalues`). :class:`LabelFlipDetector` tests the row's
        neighbourhood instead (see its ``_pvalues``); detectors without a refittable estimator
        score their single-stage probabilities.
        """
        from ..evidence import label_pvalues

        candidates = self.labels_ == -1
        if not hasattr(self, "_make_estimator") or not candidates.any() or candidates.all():
            self.evidence_proba_ = self.proba_
        else:
            self.evidence_proba_ = oof_proba(self._make_estimator(self._rs_seed, self._y[~candidates]), self._X,
                                             self._y, len(self.classes_), cv=self.cv, random_state=self._rs_seed,
                                             max_train_rows=MAX_TRAIN_ROWS, held_out=candidates)
        return label_pvalues(self.evidence_proba_, self._y)

    def ranking_shares(self) -> np.ndarray:
        """The upper-tail share of each training row's ranking score (``raw_scores_``): the order the
        scan gives the rows its decision does not reach. The evidence (``pvalues_``) is a different
        statistic, which ranks rows worse than the ranking score does (``benchmarks/RESULTS.md``,
        issue 15): without this, the review list's tail and everything below it would follow the
        evidence's coarse counts instead of the blend's posterior."""
        from ..evidence import upper_tail_shares

        check_is_fitted(self)
        return upper_tail_shares(self.raw_scores_)

    def pvalues_new(self, X: Any, y: Any = None) -> np.ndarray:
        """Evidence for labelled rows the detector was not fitted on: the p-value of the row's label
        under the probabilities the fitted models give it (:meth:`predict_label_proba`;
        :func:`poisonguard.evidence.label_pvalues`)."""
        from ..evidence import label_pvalues

        check_is_fitted(self)
        if y is None:
            raise ValueError(f"{type(self).__name__} scores labelled rows: pass y")
        return label_pvalues(self.predict_label_proba(X), np.asarray(y, dtype=np.int64))

    def _auto_threshold(self, raw: np.ndarray) -> float:
        # as many rows as the joint estimates errors, at most those another class fits better
        # (threshold-normalised margin > 0), ranked by the raw score
        n_flag = int(min(self.n_estimated_errors_, np.sum(self.margin_ > 0)))
        if n_flag <= 0:
            return float(max(np.max(raw), 0.0))
        order = np.sort(raw)[::-1]
        # halfway between the last flagged and the first unflagged score
        return float((order[n_flag - 1] + order[n_flag]) / 2) if n_flag < raw.size else float(order[-1] - 1e-9)

    # ------------------------------------------------------------------ scan hooks
    def _class_names(self, ds: Any = None) -> list[str]:
        """Label values for ``classes_``: the scan fits on codes into ``ds.classes_``."""
        names = [str(c) for c in self.classes_]
        if ds is not None and getattr(ds, "label", None) and np.issubdtype(self.classes_.dtype, np.integer):
            values = ds.classes_
            if len(self.classes_) and int(self.classes_.max()) < len(values) and int(self.classes_.min()) >= 0:
                names = [str(values[int(c)]) for c in self.classes_]
        return names

    def row_reasons(self, ds: Any, rows: np.ndarray) -> list[str]:
        check_is_fitted(self)
        rows = np.asarray(rows, dtype=np.int64)
        given = self._y[rows]
        p = self.proba_[rows]
        q = p.copy()
        q[np.arange(rows.size), given] = -1.0
        other = q.argmax(axis=1)
        names = self._class_names(ds)
        pg = p[np.arange(rows.size), given]
        po = p[np.arange(rows.size), other]
        return [f"{self.name}: labelled {names[g]!r} but evidence favours {names[o]!r} (p={b:.2f} vs {a:.2f})"
                for g, o, a, b in zip(given.tolist(), other.tolist(), pg.tolist(), po.tolist())]

    def batch_statistics(self, ds: Any = None) -> dict[str, Any]:
        """The statistics the batch policy looks at (see :meth:`batch_finding`)."""
        check_is_fitted(self)
        names = self._class_names(ds)
        y = self._y
        k = len(self.classes_)
        conf = self.proba_.max(axis=1)
        pred = self.proba_.argmax(axis=1)
        top = conf >= np.quantile(conf, 0.9)
        counts = np.bincount(y, minlength=k)
        n_top = int(top.sum())
        flagged = self._batch_flags()
        flag_counts = np.bincount(y[flagged], minlength=k)
        rates = np.divide(flag_counts, counts, out=np.zeros(k), where=counts > 0)
        return {
            "estimated_noise_rate": float(self.estimated_noise_rate_),
            "flag_rate": float(flagged.mean()),
            "top_decile_confidence": float(conf[top].mean()),
            "top_decile_disagreement": float((pred[top] != y[top]).mean()),
            "top_decile_rows": n_top,
            "top_decile_disagreeing": int((pred[top] != y[top]).sum()),
            "class_flag_rates": {c: float(r) for c, r in zip(names, rates)},
            "class_flagged": {c: int(n) for c, n in zip(names, flag_counts)},
            "class_counts": {c: int(n) for c, n in zip(names, counts)},
        }

    def _batch_flags(self) -> np.ndarray:
        """The rows the batch policy counts as flagged (default: those of ``labels_``)."""
        return self.labels_ == -1

    def batch_finding(self, ds: Any) -> tuple[bool, str]:
        """Batch-level policy for label flips in one dataset (no trusted reference).

        Natural label noise sits near the decision boundary; poisoning shows as label errors
        where nature puts none. Suspected when any of:

        * **noise floor**: among the 10 % of rows the evidence is most sure about, the share
          of labels that disagree with it exceeds both ``max_floor`` and ``floor_ratio`` times
          what the evidence's own confidence there allows (``1 - mean confidence``);
        * **one class stands out**: a class of at least 20 rows has a flag rate (the share of its
          rows flagged: ``labels_``; :class:`LabelFlipDetector`'s ``error_candidates_``) of at least
          ``min_class_rate`` and ``class_ratio`` times the median rate of the other classes —
          with three or more classes; with two, only when the other class is nearly clean
          (flag rate at most ``clean_class_rate``), because two-class data often carry
          naturally asymmetric noise;
        * **noise rate**: the confident joint's estimated noise rate exceeds
          ``max_noise_rate`` (off unless set: the natural rate varies between datasets).

        Limits, measured in benchmarks/RESULTS.md (``bench_verdict.py``, ``bench_identifiability.py``):
        two kinds of flips cannot be told from natural noise in one dataset, by this policy or any
        other that looks only at the data.

        * Flips placed near the decision boundary: where classes overlap, most of them set the
          label to what a clean model predicts (wine-white 99 %, pima 88-92 %), so the attacked
          data agree with a model *more* than the real ones do.
        * Targeted flips into a class that carries the same pattern naturally: 20 % of adult's
          ``>50K`` rows relabelled leave 20-25 % disagreement in that class's core and a pure
          core elsewhere, which is what pima's positive class shows as it is (15-19 %).

        Compare with a trusted version (``scan --reference``) to catch them; where rows repeat,
        the ``duplicates`` detector also names identical features with conflicting labels.
        """
        st = self.batch_statistics(ds)
        pol = self._batch_policy()
        reasons = []
        floor, conf = st["top_decile_disagreement"], st["top_decile_confidence"]
        allowed = max(pol["max_floor"], pol["floor_ratio"] * (1.0 - conf))
        if floor > allowed:
            reasons.append(f"{floor:.1%} of the labels disagree with the evidence in the most certain tenth of the "
                           f"data, where its confidence ({conf:.1%}) allows {allowed:.1%}")
        counts = st["class_counts"]
        rates = st["class_flag_rates"]
        two = len(rates) == 2
        for c, r in rates.items():
            others = [v for k2, v in rates.items() if k2 != c and counts[k2] >= 20]
            if counts[c] < 20 or not others:
                continue
            med = float(np.median(others))
            if r < pol["min_class_rate"]:
                continue
            if two and med <= pol["clean_class_rate"] or not two and r >= pol["class_ratio"] * max(med, 1e-3):
                reasons.append(f"class {c!r}: {r:.1%} of its rows flagged vs {med:.1%} in the other "
                               f"class{'' if two else 'es (median)'}")
        if pol["max_noise_rate"] is not None and st["estimated_noise_rate"] > pol["max_noise_rate"]:
            reasons.append(f"estimated label-noise rate {st['estimated_noise_rate']:.1%} exceeds "
                           f"{pol['max_noise_rate']:.1%}")
        return bool(reasons), "; ".join(reasons)

    def report_section(self, ds: Any) -> dict[str, Any]:
        check_is_fitted(self)
        names = self._class_names(ds)
        return {
            "n_flagged": int((self.labels_ == -1).sum()),
            "threshold": float(self.threshold_),
            "n_estimated_errors": int(self.n_estimated_errors_),
            "confident_joint": {g: {t: round(float(v), 2) for t, v in zip(names, row)}
                                for g, row in zip(names, self.confident_joint_)},
            "views": sorted(getattr(self, "view_proba_", {"model": None})),
            **({"ranking_weights": {v: round(w, 2) for v, w in self.view_weights_.items()}}
               if hasattr(self, "view_weights_") else {}),
            "batch": self.batch_statistics(ds),
        }

    @property
    def expected_labels_(self) -> np.ndarray:
        """The class each row's probabilities favour (``classes_[argmax]``)."""
        check_is_fitted(self)
        return self.classes_[self.proba_.argmax(axis=1)]

    def _score_raw(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} scores labelled rows: pass y")
        proba = self._ranking_proba_new(X)
        codes = np.searchsorted(self.classes_, y)
        unseen = (codes >= len(self.classes_)) | (self.classes_[np.minimum(codes, len(self.classes_) - 1)] != y)
        codes = np.where(unseen, 0, codes)
        raw = self._rank(proba, codes)
        return np.where(unseen, np.inf, raw)

    def predict_label_proba(self, X: Any) -> np.ndarray:  # pragma: no cover - per subclass
        raise NotImplementedError

    def _ranking_proba_new(self, X: Any) -> np.ndarray:
        """The probabilities :meth:`_rank` scores new rows with (default: :meth:`predict_label_proba`)."""
        return self.predict_label_proba(X)


class ConfidentLearning(_ProbabilisticLabelDetector):
    """Confident learning on out-of-fold probabilities of a classifier.

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier with ``predict_proba``; cloned for every fold. None uses
        a :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with early stopping (on
        fewer than 40 rows, where it can make no split, the class frequencies it would return).
    cv : int, default=5
        Number of stratified folds for the out-of-fold probabilities.
    categorical_groups : list of list of int, default=None
        The one-hot columns of ``X`` of each categorical feature
        (:meth:`poisonguard.data.Encoder.categorical_groups`). The default boosted model reads each
        group as one native categorical feature (:class:`OneHotAsCategories`) where the data hold
        :data:`MIN_ROWS_PER_CATEGORY` rows per category of it (:func:`native_groups`); a given
        ``estimator`` is used as it is. None: in :func:`poisonguard.scan` (:meth:`scan_fit`), the
        dataset encoder's groups; in :meth:`fit`, none (every column is read as a number).
    contamination : "auto" or float in (0, 0.5], default="auto"
        "auto" flags the number of label errors the confident joint estimates; a float
        flags that fraction of the rows with the largest margins.
    random_state : int, RandomState or None, default=None
        Seeds the folds and the estimator.

    Attributes
    ----------
    classes_ : ndarray
        The distinct labels.
    proba_ : ndarray of shape (n_samples, n_classes)
        Out-of-fold probabilities.
    class_thresholds_ : ndarray of shape (n_classes,)
        Per-class thresholds ``t_j``.
    confident_joint_ : ndarray of shape (n_classes, n_classes)
        Calibrated confident joint (rows: given label, columns: estimated true class).
    n_estimated_errors_ : int
        Off-diagonal mass of the confident joint.
    estimated_noise_rate_ : float
        ``n_estimated_errors_ / n_samples``.
    estimator_ : classifier
        The estimator refitted on all rows, for scoring new rows (fitted on first use).
    categorical_groups_ : list of list of int
        The groups the default model read natively in this fit (empty: none).
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from poisonguard.detectors import ConfidentLearning
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> y[:15] = 1 - y[:15]
    >>> det = ConfidentLearning(random_state=0).fit(X, y)
    >>> det.suspicion_.shape
    (300,)
    """

    name: ClassVar[str] = "confident_learning"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseDetector._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "categorical_groups": [list, None],
        "random_state": ["random_state"],
    }

    def __init__(self, *, estimator: Any = None, cv: int = 5, categorical_groups: list[list[int]] | None = None,
                 contamination: str | float = "auto", random_state: Any = None) -> None:
        self.estimator = estimator
        self.cv = cv
        self.categorical_groups = categorical_groups
        self.contamination = contamination
        self.random_state = random_state

    def scan_fit(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> ConfidentLearning:
        """Fit inside :func:`poisonguard.scan`: ``categorical_groups`` defaults to those of the
        encoder that wrote ``X`` (``ds.encoder``)."""
        enc = ds.encoder
        self._scan_groups = enc.categorical_groups() if len(enc.columns_) == X.shape[1] else None
        try:
            return self.fit(X, y)
        finally:
            del self._scan_groups

    def _fit_raw(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        groups = self.categorical_groups if self.categorical_groups is not None else getattr(self, "_scan_groups", None)
        if any(j < 0 or j >= X.shape[1] for g in groups or () for j in g):  # every group, also those left one-hot
            raise ValueError(f"categorical_groups name columns outside X's {X.shape[1]} columns")
        self.categorical_groups_ = native_groups(groups, X.shape[0])
        return super()._fit_raw(X, y)

    def _make_estimator(self, seed: int, y: np.ndarray | None = None) -> Any:
        """The label model for fits on the rows labelled ``y`` (default: every training row).

        The default's early stopping and single-leaf fallback depend on the class counts of the rows
        it is fitted on, so a refit on part of the rows passes their labels: holding out the
        candidates can leave a class with a single member, which early stopping cannot split.
        """
        if self.estimator is None:
            y = self._y if y is None else y
            counts = np.bincount(y)
            return default_estimator(seed, int(counts[counts > 0].min()), n_rows=int(y.size),
                                     categorical_groups=self.categorical_groups_)
        return clone(self.estimator)

    def _label_proba(self, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
        return oof_proba(self._make_estimator(seed), X, y, len(self.classes_), cv=self.cv, random_state=seed,
                         max_train_rows=MAX_TRAIN_ROWS)

    def predict_label_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of new rows from the estimator refitted on the training rows (a random
        sample of :data:`MAX_TRAIN_ROWS` of them on larger data, as for each fold)."""
        check_is_fitted(self)
        return _class_proba(self._refitted_model(), X, len(self.classes_))

    def _refitted_model(self) -> Any:
        """``estimator_``: the label model refitted on the training rows (on first use)."""
        if not hasattr(self, "estimator_"):
            rows = np.arange(self._y.size)
            if rows.size > MAX_TRAIN_ROWS:
                rows = np.sort(check_random_state(self._rs_seed).choice(rows.size, size=MAX_TRAIN_ROWS, replace=False))
            with threads_for(rows.size):
                self.estimator_ = self._make_estimator(self._rs_seed).fit(self._X[rows], self._y[rows])
        return self.estimator_


class KNNLabelDisagreement(_ProbabilisticLabelDetector):
    """Label disagreement with the nearest neighbours in the encoded feature space.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours consulted per row.
    contamination : "auto" or float in (0, 0.5], default="auto"
        See :class:`ConfidentLearning`.
    random_state : int, RandomState or None, default=None
        Seeds the random blocks used above :data:`KNN_EXACT_ROWS` rows.

    Attributes
    ----------
    classes_, proba_, class_thresholds_, confident_joint_, n_estimated_errors_, estimated_noise_rate_
        See :class:`ConfidentLearning`; ``proba_`` is the smoothed neighbour label distribution.
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector`.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from poisonguard.detectors import KNNLabelDisagreement
    >>> X, y = make_blobs(n_samples=200, centers=2, random_state=0)
    >>> y[0] = 1 - y[0]
    >>> KNNLabelDisagreement().fit(X, y).labels_[0]
    np.int64(-1)
    """

    name: ClassVar[str] = "knn_disagreement"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseDetector._parameter_constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, n_neighbors: int = 10, contamination: str | float = "auto", random_state: Any = None) -> None:
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.random_state = random_state

    def _label_proba(self, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
        return knn_label_proba(X, y, len(self.classes_), n_neighbors=self.n_neighbors, random_state=seed)

    def predict_label_proba(self, X: Any) -> np.ndarray:
        """Neighbour label distribution of new rows among the training rows."""
        check_is_fitted(self)
        return knn_label_proba(self._X, self._y, len(self.classes_), n_neighbors=self.n_neighbors,
                               random_state=self._rs_seed, X_query=np.asarray(X, dtype=self._X.dtype))


class LabelFlipDetector(ConfidentLearning):
    """Ensemble of confident learning views and kNN label disagreement (the default label-flip detector).

    The class probabilities of each row (``proba_``) are the mean of out-of-fold probabilities of
    ``estimator`` (gradient boosting by default), of a logistic regression (``linear``), and
    of the neighbours' label distribution; confident learning's thresholds and joint are computed
    on it, and the evidence behind ``pvalues_`` reads it (see ``_pvalues``).

    The ranking (``raw_scores_``, ``suspicion_``, ``labels_``) reads every view, extremely
    randomised trees (``trees``) included, weighted by their out-of-fold log-loss
    (:func:`stack_weights`; ``view_weights_``), and scores each row by the probability that its
    label is wrong averaged over two models of the noise (see ``_rank``): self-confidence
    ``1 - p_label``, which ranks random and boundary flips best, and the posterior under the
    class-conditional noise the blend's confident joint estimates (:func:`label_error_posterior`;
    ``ranking_noise_matrix_``), which ranks flips targeted into one class best. Each favours
    one noise structure and a dataset does not say which it carries; their mean holds up under
    both (``benchmarks/RESULTS.md``, issue 15).

    Parameters
    ----------
    estimator : classifier, default=None
        See :class:`ConfidentLearning`.
    cv : int, default=5
        Folds for the out-of-fold probabilities.
    n_neighbors : int, default=20
        Neighbours for the kNN view.
    linear : {"auto", True, False}, default="auto"
        Whether to include the logistic-regression view; "auto" includes it up to
        :data:`LINEAR_AUTO_MAX_ROWS` rows.
    trees : {"auto", True, False}, default="auto"
        Whether the ranking includes an extremely-randomised-trees view (100 trees, at least 3
        rows a leaf, out of fold); "auto" includes it from 40 rows (where the boosted model can make
        its first split; on fewer the label models are the class frequencies, see
        :func:`default_estimator`) up to :data:`TREES_AUTO_MAX_ROWS` rows.
    cv_repeats : "auto" or int >= 1, default="auto"
        Splits of repeated cross-validation that the out-of-fold views (boosted, linear, trees)
        average over. "auto" repeats small data (:func:`cv_repeats`): for two classes, three splits
        up to 1,000 rows, two up to 1,500, one above; for ``k`` classes, the same at ``k`` times
        fewer rows.
    knn_rows : int, default=None
        Rows of the whole data the fitted rows are a sample of (by default the rows fitted on). The neighbour
        search runs in random blocks of :func:`knn_block_rows` of this many rows, for the fitted rows
        and for new rows (:meth:`pvalues_new`), so that a fit on a sample of large data searches
        neighbourhoods as dense as a fit on all of it would; ``scan --engine spark`` sets it to the
        data's row count.
    rank_new_below : float in (0, 1], default=None
        :meth:`pvalues_new` breaks the ties of rows whose p-value is at most this by the ranking
        score (of the refitted models' probabilities with the neighbours'); rows above it keep
        the conservative end of the tie-break (``p * (1 + 1e-3)``), and the refitted models are
        not run for them. None: every row (as 1). ``scan --engine spark`` sets it, when None, to
        ``decision.review_level``: no row
        above that level can be reviewed or quarantined (Benjamini-Hochberg's threshold never
        exceeds its level, and the Bonferroni-combined p-value is at least each column's), so
        only the order among rows the decision never reaches changes.
    policy : dict, default=None
        Overrides of :data:`DEFAULT_POLICY`, the batch-level policy of :meth:`batch_finding`.
    categorical_groups : list of list of int, default=None
        The one-hot columns of ``X`` of each categorical feature, read natively by the boosted view
        (see :class:`ConfidentLearning`). The other views read the one-hot columns.
    contamination : "auto" or float in (0, 0.5], default="auto"
        See :class:`ConfidentLearning`.
    random_state : int, RandomState or None, default=None
        Seeds folds, estimators and neighbour blocks.

    Attributes
    ----------
    classes_, proba_, class_thresholds_, confident_joint_, n_estimated_errors_, estimated_noise_rate_, categorical_groups_
        See :class:`ConfidentLearning`; ``proba_`` is the blend.
    noise_matrix_ : ndarray of shape (n_classes, n_classes)
        Estimated P(label ``i`` | true class ``j``) (:func:`noise_matrix` of ``confident_joint_``).
    view_proba_ : dict of str to ndarray of shape (n_samples, n_classes)
        Each view's out-of-fold probabilities (``"model"``, ``"linear"``, ``"knn"``, ``"trees"``).
    view_weights_ : dict of str to float
        The ranking blend's weight of each view (:func:`stack_weights`).
    ranking_noise_matrix_ : ndarray of shape (n_classes, n_classes)
        The noise the ranking's posterior assumes (:func:`noise_matrix` of the ranking blend's confident joint).
    error_candidates_ : ndarray of bool, shape (n_samples,)
        The rows :meth:`batch_finding` counts per class: the confident joint's estimated number of
        errors, ranked by the posterior of ``proba_`` under ``noise_matrix_``.
    cv_repeats_ : int
        Splits the out-of-fold views were averaged over (``cv_repeats``).
    evidence_neighbors_ : int
        Neighbours counted by the label test behind ``pvalues_`` (:func:`neighbour_test_size`).
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from poisonguard.detectors import LabelFlipDetector
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> y[:15] = 1 - y[:15]
    >>> det = LabelFlipDetector(random_state=0).fit(X, y)
    >>> int((det.labels_[:15] == -1).sum()) >= 10
    True
    """

    name: ClassVar[str] = "label_flip"
    ranking: ClassVar[str] = "mixture"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **ConfidentLearning._parameter_constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "linear": [StrOptions({"auto"}), "boolean"],
        "trees": [StrOptions({"auto"}), "boolean"],
        "cv_repeats": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "knn_rows": [Interval(Integral, 1, None, closed="left"), None],
        "rank_new_below": [Interval(Real, 0, 1, closed="right"), None],
        "policy": [dict, None],
    }

    def __init__(self, *, estimator: Any = None, cv: int = 5, n_neighbors: int = 20, linear: str | bool = "auto",
                 trees: str | bool = "auto", cv_repeats: str | int = "auto", knn_rows: int | None = None,
                 rank_new_below: float | None = None,
                 policy: dict[str, Any] | None = None, categorical_groups: list[list[int]] | None = None,
                 contamination: str | float = "auto", random_state: Any = None) -> None:
        self.estimator = estimator
        self.cv = cv
        self.categorical_groups = categorical_groups
        self.n_neighbors = n_neighbors
        self.linear = linear
        self.trees = trees
        self.cv_repeats = cv_repeats
        self.knn_rows = knn_rows
        self.rank_new_below = rank_new_below
        self.policy = policy
        self.contamination = contamination
        self.random_state = random_state

    def _knn_block(self, n: int) -> int:
        """Rows of the random blocks the neighbour search runs in, for ``n`` fitted rows (see ``knn_rows``)."""
        return min(n, knn_block_rows(max(n, int(self.knn_rows or n))))

    def _use_linear(self, n: int) -> bool:
        return bool(self.linear) if self.linear != "auto" else n <= LINEAR_AUTO_MAX_ROWS

    def _use_trees(self, n: int) -> bool:
        return bool(self.trees) if self.trees != "auto" else 2 * HGB_MIN_SAMPLES_LEAF <= n <= TREES_AUTO_MAX_ROWS

    def _repeats(self, n: int) -> int:
        return cv_repeats(n, len(self.classes_)) if self.cv_repeats == "auto" else int(self.cv_repeats)

    def _label_proba(self, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
        k = len(self.classes_)
        self.cv_repeats_ = r = self._repeats(len(y))
        views = {"model": oof_proba(self._make_estimator(seed), X, y, k, cv=self.cv, random_state=seed,
                                    max_train_rows=MAX_TRAIN_ROWS, repeats=r)}
        if self._use_linear(len(y)):
            views["linear"] = oof_proba(_linear_estimator(), X, y, k, cv=self.cv, random_state=seed, repeats=r)
        # one neighbour search serves the view and the label test of _pvalues
        k_test = _test_neighbours(y.size)
        labels = knn_labels(X, y, max(self.n_neighbors, k_test), random_state=seed, block_rows=self._knn_block(y.size))
        prior = np.bincount(y, minlength=k) / y.size
        views["knn"] = label_shares(labels[:, :self.n_neighbors], n_classes=k, prior=prior)
        self._test_knn = label_shares(labels[:, :k_test], n_classes=k, prior=prior) if k_test >= 1 else None
        blend = np.mean(list(views.values()), axis=0)  # the decision's probabilities: the trees are the ranking's only
        if self._use_trees(len(y)):
            views["trees"] = oof_proba(_trees_estimator(seed), X, y, k, cv=self.cv, random_state=seed, repeats=r)
        self.view_proba_ = views
        rows = np.arange(y.size)
        w = stack_weights(np.stack([v[rows, y] for v in views.values()], axis=1), random_state=seed)
        self.view_weights_ = {name: float(x) for name, x in zip(views, w)}
        return blend

    def _fit_rank(self, proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The ranking of the training rows (:meth:`_rank`) on the weighted blend of every view.

        ``proba`` (the decision's blend) does not enter the ranking: the ranking blend weights
        ``view_proba_`` by ``view_weights_``, and its own confident joint sets the noise its
        posterior assumes. ``proba`` sets ``error_candidates_``, the rows the batch policy counts
        per class (:meth:`batch_finding`): as many as the confident joint estimates errors, ranked
        by the posterior of the decision's blend under ``noise_matrix_``, so that the batch
        policy reads one blend, the one its noise floor reads too, and was validated with.
        """
        # the batch policy's flags read the decision's blend, as its noise floor does (``batch_finding``)
        post = label_error_posterior(proba, codes, self.noise_matrix_)
        self.error_candidates_ = post > self._auto_threshold(post)
        P = self._weighted(self.view_proba_.__getitem__)
        self.ranking_noise_matrix_ = noise_matrix(confident_joint(P, codes))
        return self._rank(P, codes)

    def _batch_flags(self) -> np.ndarray:
        return self.error_candidates_

    def _weighted(self, view: Any) -> np.ndarray:
        """The ranking blend: ``sum(w * view(name))`` over the views of weight ``w > 0`` (``view_weights_``)."""
        return sum(w * view(name) for name, w in self.view_weights_.items() if w > 0)

    def _rank(self, proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The ranking score, in [0, 1]: the probability that the row's label is wrong, averaged over two
        models of the noise with equal weight.

        * The label says nothing beyond the features: the error probability is ``1 - p_label``
          (self-confidence, which ranks random and boundary flips best);
        * class-conditional noise as the ranking blend's confident joint estimates it
          (``ranking_noise_matrix_``; :func:`label_error_posterior`), which ranks flips targeted
          into one class best.
        """
        conf = 1.0 - proba[np.arange(codes.size), codes]
        return 0.5 * (conf + label_error_posterior(proba, codes, self.ranking_noise_matrix_))

    def _pvalues(self, raw: np.ndarray) -> np.ndarray:
        """p-value of each row's label: how unusually few of its neighbours share it, for its class.

        1. **The neighbourhood test** (:func:`_neighbour_pvalues`) counts the labels of the row's
           :func:`neighbour_test_size` nearest neighbours (own row excluded): enough of them that
           a row none of whose neighbours share its label reaches p <= 0.01 / n, so that the
           strongest evidence the test can give survives the quarantine's error control over all
           n rows (the blend's 20 neighbours bottom out at p = 6e-4, which Benjamini-Hochberg over
           a thousand rows cannot reject). Its null — a plausible label is at least half as
           common among the neighbours as the locally dominant other label — fails where a class
           is naturally diffuse (adult's high incomes among lower ones): alone it quarantined
           8.7 % of adult's untouched rows.
        2. **Calibrated against the data's own plausible labels** (a class-conditional, "Mondrian"
           conformal p-value; Vovk et al., *Algorithmic Learning in a Random World*, 2005): the
           test's statistic ``-log p`` of the row is ranked among those of the reference rows of
           its class, the rows labelled so whose label the blend's probabilities favour (the
           row itself left out): ``(1 + #{reference rows at least as extreme}) / (1 + #reference)``,
           continued by an exponential tail past the reference's largest value (so that a small
           class is not held to ``1 / (1 + #reference)``; see :func:`poisonguard.evidence.class_conformal_pvalues`).
           Where the class's plausible rows often have few like-labelled neighbours, so does a
           natural row and the evidence is weak; a class the blend never favours has no reference
           and gets p = 1.

        The row's p-value is the larger of the two (valid when either null holds). Measured
        (seed 0, all default detectors, 16 datasets, ``benchmarks/RESULTS.md``, issue 14): on the
        data as they are 0.85 % of clean rows quarantined on average, at most 2.5 % (the test
        alone: 8.7 % of adult's; the earlier model refitted without the candidates and required
        together with a 20-neighbour test: 0.26 %, at most 2.0 %); of the flipped rows 38 % under
        random flips (before: 13 %), 23 % under class flips (3 %), 16 % near the boundary (1 %).

        The counts are discrete, so many rows share a p-value; ties are broken by the ranking
        score (``raw``, see :meth:`_fit_rank`): ``p * (1 + 1e-3 * (1 - r))`` with ``r`` its rank in
        (0, 1] (1 = most suspicious). Only ever larger (conservative), by at most 0.1 %.
        """
        y = self._y
        self._sorted_raw = np.sort(np.asarray(raw, dtype=np.float64))  # pvalues_new ranks new rows' scores in it
        k = _test_neighbours(y.size)
        if k < 1:
            return np.ones(y.size)
        # the shares found by _label_proba's search; dropped once used, so that the fitted detector (pickled to
        # Spark tasks) does not carry n x classes floats, and searched again if this runs a second time
        knn, self._test_knn = getattr(self, "_test_knn", None), None
        if knn is None:
            knn = knn_label_proba(self._X, y, len(self.classes_), n_neighbors=k, random_state=self._rs_seed,
                                  block_rows=self._knn_block(y.size))
        p_test = _neighbour_pvalues(knn, y, k)
        from ..evidence import class_conformal_pvalues

        reference = self.proba_.argmax(axis=1) == y
        p = np.maximum(p_test, class_conformal_pvalues(-np.log(p_test), y, reference))
        order = np.argsort(np.argsort(-np.asarray(raw, dtype=np.float64), kind="stable"), kind="stable")
        rank = 1.0 - order / max(raw.size, 1)  # 1 for the highest margin
        self.evidence_neighbors_ = int(k)
        # kept for pvalues_new: the calibration rows' statistics and the ranking scores' order
        self._evidence_ref_stat = -np.log(p_test[reference])
        self._evidence_ref_y = y[reference]
        return np.minimum(1.0, p * (1.0 + 1e-3 * (1.0 - rank)))

    def pvalues_new(self, X: Any, y: Any = None) -> np.ndarray:
        """Evidence for labelled rows the detector was not fitted on, on the scale of ``pvalues_``.

        The same two steps as ``pvalues_`` (see ``_pvalues``): the neighbourhood test counts the
        row's :attr:`evidence_neighbors_` nearest training rows, among a random block of as many
        training rows as each training row's own neighbourhood was searched in
        (:func:`knn_block_rows`: the same density, so the same calibration; the class prior is the
        training rows'), and its statistic is ranked among the training rows' calibration
        statistics of the row's class (split conformal). Ties are broken by the blend's posterior
        (the models refitted on the training rows and the same neighbours), ranked among the
        training rows' ranking scores. One neighbour search serves both. A label the training rows
        never carried gets the floor p-value.
        """
        from ..evidence import P_FLOOR, class_conformal_pvalues

        check_is_fitted(self)
        if y is None:
            raise ValueError(f"{type(self).__name__} scores labelled rows: pass y")
        Xq = np.asarray(X, dtype=self._X.dtype)
        yv = np.asarray(y)
        if yv.size == 0:
            return np.ones(0)
        codes = np.searchsorted(self.classes_, yv)
        unseen = (codes >= len(self.classes_)) | (self.classes_[np.minimum(codes, len(self.classes_) - 1)] != yv)
        yq = np.where(unseen, 0, codes).astype(np.int64)
        k_ev = getattr(self, "evidence_neighbors_", 0)
        k_view = min(self.n_neighbors, self._y.size)
        k = max(k_ev, k_view)
        if k < 1:
            return np.where(unseen, P_FLOOR, 1.0)
        n_cls = len(self.classes_)
        prior = np.bincount(self._y, minlength=n_cls) / max(self._y.size, 1)
        rng = check_random_state(self._rs_seed)
        block = self._knn_block(self._y.size)
        ref = np.sort(rng.choice(self._y.size, size=block, replace=False)) if block < self._y.size \
            else np.arange(self._y.size)
        k = min(k, ref.size)
        _, ind = nearest_neighbors(self._X[ref], k).kneighbors(Xq)
        labels = self._y[ref][ind]

        def shares(kk: int, rows: Any = slice(None)) -> np.ndarray:  # the kk nearest of the k found
            return label_shares(labels[rows, :min(kk, k)], n_classes=n_cls, prior=prior)

        p = np.ones(yq.size)
        if k_ev >= 1:
            p_test = _neighbour_pvalues(shares(k_ev), yq, min(k_ev, k), prior=prior)
            ref_stat = self._evidence_ref_stat
            stat = np.concatenate([ref_stat, -np.log(p_test)])
            is_ref = np.concatenate([np.ones(ref_stat.size, dtype=bool), np.zeros(yq.size, dtype=bool)])
            p = np.maximum(p_test, class_conformal_pvalues(stat, np.concatenate([self._evidence_ref_y, yq]),
                                                           is_ref)[ref_stat.size:])
        # the tie-break, from the ranking blend's score ranked among the training rows' ranking scores; only
        # where the p-value is at most rank_new_below (the others: rank 0, the conservative end)
        ranked = np.flatnonzero(p <= (1.0 if self.rank_new_below is None else self.rank_new_below))
        rank = np.zeros(yq.size)
        if ranked.size:
            raw = self._rank(self._blend_new(Xq[ranked], shares(k_view, ranked), ranking=True), yq[ranked])
            train = self._sorted_raw
            rank[ranked] = np.searchsorted(train, raw, side="right") / max(train.size, 1)  # 1 above every training row
        p = np.minimum(1.0, p * (1.0 + 1e-3 * (1.0 - rank)))
        return np.where(unseen, P_FLOOR, p)

    def predict_label_proba(self, X: Any) -> np.ndarray:
        """Blend of the refitted models' and the neighbours' probabilities for new rows."""
        return self._blend_rows(X, ranking=False)

    def _ranking_proba_new(self, X: Any) -> np.ndarray:
        """The ranking blend of new rows (every view, weighted by ``view_weights_``)."""
        return self._blend_rows(X, ranking=True)

    def _blend_rows(self, X: Any, *, ranking: bool) -> np.ndarray:
        """:meth:`_blend_new` of new rows ``X``, their neighbours searched among every training row."""
        check_is_fitted(self)
        Xq = np.asarray(X, dtype=self._X.dtype)
        return self._blend_new(Xq, knn_label_proba(self._X, self._y, len(self.classes_), n_neighbors=self.n_neighbors,
                                                   random_state=self._rs_seed, X_query=Xq), ranking=ranking)

    def _blend_new(self, Xq: np.ndarray, knn: np.ndarray, *, ranking: bool = False) -> np.ndarray:
        """The blend for new rows: the refitted models' probabilities (gradient boosting, and the
        logistic regression where it is a view) averaged with the neighbours' label shares ``knn``;
        with ``ranking``, the ranking's blend instead: every view (the trees too), weighted by
        ``view_weights_``; a view of weight 0 is not computed."""
        views = {"model": lambda: ConfidentLearning.predict_label_proba(self, Xq), "linear": lambda: self._linear_proba(Xq),
                 "knn": lambda: knn, "trees": lambda: self._trees_proba(Xq)}
        if ranking:
            return self._weighted(lambda name: views[name]())
        return np.mean([views[name]() for name in self.view_proba_ if name != "trees"], axis=0)

    def _trees_proba(self, Xq: np.ndarray) -> np.ndarray:
        """The tree view of new rows."""
        return _class_proba(self._trees_model(), Xq, len(self.classes_))

    def _trees_model(self) -> Any:
        """``trees_estimator_``: the tree view's model fitted on the training rows (on first use)."""
        if not hasattr(self, "trees_estimator_"):
            self.trees_estimator_ = _trees_estimator(self._rs_seed).fit(self._X, self._y)
        return self.trees_estimator_

    def _linear_model(self) -> Any:
        """``linear_estimator_``: the logistic regression fitted on the training rows (on first use)."""
        if not hasattr(self, "linear_estimator_"):
            self.linear_estimator_ = _linear_estimator().fit(self._X, self._y)
        return self.linear_estimator_

    def prepare_new_rows(self) -> None:
        """Fit the models that :meth:`pvalues_new`'s tie-break refits on first use: those of the views
        the ranking weighs (``view_weights_`` > 0)."""
        check_is_fitted(self)
        fits = {"model": self._refitted_model, "linear": self._linear_model, "trees": self._trees_model}
        for name, w in self.view_weights_.items():
            if w > 0 and name in fits:
                fits[name]()

    def _linear_proba(self, Xq: np.ndarray) -> np.ndarray:
        """The logistic-regression view of new rows."""
        return _class_proba(self._linear_model(), Xq, len(self.classes_))


#: Strength the neighbourhood test must be able to reach: a row none of whose neighbours share its
#: label gets p <= NEIGHBOUR_TEST_P / n (see :func:`neighbour_test_size`).
NEIGHBOUR_TEST_P = 0.01


def neighbour_test_size(n: int) -> int:
    """Neighbours the label test of :class:`LabelFlipDetector` counts for data of ``n`` rows.

    The fewest ``k`` at which a row none of whose ``k`` neighbours share its label has
    ``p = 2 * (1 - s) ** k <= NEIGHBOUR_TEST_P / n`` (``s`` = :data:`NEIGHBOUR_RATIO` / (1 +
    :data:`NEIGHBOUR_RATIO`), the factor 2 the test's Bonferroni over its two notions): 25 at
    100 rows, 31 at 1,000, 39 at 30,000, 48 at 1,000,000 (it grows with the log of ``n``).
    """
    import math

    share = NEIGHBOUR_RATIO / (1.0 + NEIGHBOUR_RATIO)
    return int(math.ceil(math.log(2.0 * max(n, 1) / NEIGHBOUR_TEST_P) / -math.log(1.0 - share)))


def _test_neighbours(n: int) -> int:
    """Neighbours the label test of ``n`` training rows counts: :func:`neighbour_test_size`, at most
    the other rows."""
    return min(neighbour_test_size(n), n - 1)


#: The neighbourhood test's effect size: a label is implausible where it is less than this share
#: of the locally dominant other class (see :func:`_neighbour_pvalues`).
NEIGHBOUR_RATIO = 0.5


def _neighbour_pvalues(knn_proba: np.ndarray, y: np.ndarray, k: int, *, prior: np.ndarray | None = None) -> np.ndarray:
    """How unlikely so few of a row's ``k`` neighbours share its label if the label were plausible there.

    Two notions of plausible, tested together (Bonferroni over the two):

    * **as common as in the whole data**: ``P(Binomial(k, prior) <= a)`` for ``a`` agreeing
      neighbours — strong for two classes, weak for many (a prior of 0.1 makes even no agreeing
      neighbour a 1-in-8 event);
    * **at least** :data:`NEIGHBOUR_RATIO` **times as common as the locally dominant other class**:
      among the neighbours with the row's label (``a``) or the most common other label (``b``),
      ``P(Binomial(a + b, r / (1 + r)) <= a)`` — independent of the number of classes (no agreeing
      neighbour among 20 of one other class is a 1-in-3,300 event).

    Both leave natural overlap alone: where classes mix, each label is common among the
    neighbours. Counts are recovered from :func:`knn_label_proba`'s smoothing
    ``(counts + prior) / (k + 1)``.
    """
    from scipy import stats

    if prior is None:  # the rows' own classes (of the training rows for rows scored as new)
        prior = np.bincount(y, minlength=knn_proba.shape[1]) / max(y.size, 1)
    counts = np.rint(knn_proba * (k + 1) - prior[None, :]).clip(0, k)
    rows = np.arange(y.size)
    a = counts[rows, y].copy()
    counts[rows, y] = -1.0
    b = counts.max(axis=1).clip(0, k)
    share = NEIGHBOUR_RATIO / (1.0 + NEIGHBOUR_RATIO)
    p_ratio = np.where(a + b > 0, stats.binom.cdf(a, a + b, share), 1.0)
    p_prior = stats.binom.cdf(a, k, prior[y])
    # either notion of "plausible here" may fail: Bonferroni over the two
    return np.clip(2.0 * np.minimum(p_ratio, p_prior), 1e-300, 1.0)


def _class_proba(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``model``'s probabilities of ``X`` over all ``n_classes`` classes (0 for those it was not fitted on)."""
    p = np.zeros((len(X), n_classes))
    p[:, model.classes_] = model.predict_proba(X)
    return p


def _trees_estimator(seed: int) -> Any:
    """The tree view's model: 100 extremely randomised trees of at least 3 rows a leaf (Geurts, Ernst
    and Wehenkel, *Machine Learning* 2006). One thread: the folds are fitted side by side."""
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=100, min_samples_leaf=3, n_jobs=1, random_state=seed)


def _linear_estimator() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300, C=1.0)
