"""Backdoor triggers in tabular data: rare feature-value patterns tied to one label.

A backdoor (trigger) attack stamps a small set of feature values — often rare or out of
range — on rows and gives them one target label, so that a model trained on the data learns
"trigger ⇒ target". :class:`BackdoorTriggerDetector` looks for the trigger itself, as a rule:

1. **items**: single conditions on one column — a categorical value (``workclass ==
   Never-worked``), a numeric point mass (``hours_per_week == 99``: a value many rows share
   exactly) or a numeric tail (``capital_gain >= 99999``) — that are rare overall (at most
   ``max_support`` of the rows) yet enriched in one label;
2. **rules**: items of the same target that fall on the same rows far more often than chance
   (a trigger stamps its features together) are joined into one conjunction, up to
   ``max_conditions`` conditions;
3. **evidence**: how unlikely the rule's purity is under the label's base rate (binomial
   tail), plus, for several conditions, how unlikely their co-occurrence is under
   independence (the hypergeometric tail of their overlap) — in log10 units, compared with the number of candidates tested;
4. **consistency**: natural rare-but-pure patterns (``capital_gain == 99999 → >50K``) belong to
   rows whose *other* features also look like the target class; a trigger's rows were taken
   from other classes and look like them. A k-nearest-neighbour vote on the encoded features
   *without* the rule's columns, among rows the rule does not cover, measures where the covered
   rows sit between the other classes (0) and the target class (1): half the uncovered target
   rows are probes and the rest the reference; when the target class has too few uncovered rows
   to split (4 to 9), each uncovered row votes among all the others, itself left out; with fewer,
   a rule of several co-stamped conditions counts as inconsistent.

A rule is a suspected trigger when it looks **stamped** — two or more conditions on exact
values (point masses, categories, out-of-range tails), or one value out of the column's range —
carries at least ``min_support`` of the rows, and is pure (``min_purity``), significant after
the multiple-testing correction, and inconsistent (``max_consistency``); the rows it covers that
carry the target label are flagged. The scan's decision also weighs the rows of stamped, pure
rules that miss only the significance cut-off, and of rules whose consistency cannot be measured
(the other features cannot tell the target class apart) when two co-stamped exact values include
one beyond every other row's range (see ``_pvalues``). Rules are mined over distinct rows (copies of a row are a
duplicate, not a pattern). On the untouched shared datasets no rule passes (see
``benchmarks/RESULTS.md``): natural rare-and-pure values such as ``capital_gain == 15024 → >50K``
are single, in-range conditions, and natural multi-condition rules are consistent. Rules are kept as data (:class:`TriggerRule`, with
:meth:`TriggerRule.mask` to find the rows of any frame that carry it and
:meth:`TriggerRule.stamp` to apply it, for probing trained models) and printed as
``capital_gain >= 99999 and hours_per_week == 99 → income = >50K, 412 rows, 98 % purity``.

A **spectral signature** score (Tran, Li & Madry, "Spectral Signatures in Backdoor Attacks",
NeurIPS 2018) complements the rules: within each class, the squared projection of each
centred, encoded row on the class's top singular vector. Poisoned rows of a class tend to
separate along that direction; the score orders rows that no rule covers (it never flags on
its own: every class of real data has a top direction).
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._kernel import knn_label_vote, nearest_neighbors
from ._backdoor_evidence import distinct_rows, spectral_scores
from ._base import BaseDetector
from ._rule_search import Column, cond_mask, join_items, mine_items, stamped_beyond_range
from ._trigger_rules import Condition, TriggerRule, plain

__all__ = ["BackdoorTriggerDetector", "Condition", "TriggerRule"]

#: Probe rows of the target class the consistency check compares a rule's rows with, at least
#: (half the uncovered target rows; with fewer, each uncovered row votes with itself left out).
MIN_PROBE_ROWS = 5
#: Uncovered target rows the leave-one-out consistency check needs; with fewer, the target class
#: exists (almost) only through the rule's rows and a co-stamped rule counts as inconsistent.
MIN_TARGET_ROWS = 4
#: Rows of the nearest-neighbour reference used by the consistency check, at most.
CONSISTENCY_REFERENCE_ROWS = 20_000
#: Probe rows per group in the consistency check, at most.
CONSISTENCY_PROBE_ROWS = 1_000
#: Least difference in neighbour votes for the target between genuine target rows and other rows
#: for the consistency check to be meaningful.
MIN_SEPARATION = 0.15


class BackdoorTriggerDetector(BaseDetector):
    """Find backdoor triggers as rare feature-value rules that predict one label (registered as ``backdoor``).

    Parameters
    ----------
    max_support : float in (0, 0.5], default=0.1
        A condition covering more than this fraction of the rows is not rare.
    min_rows : int, default=3
        Fewest rows a rule must cover.
    min_support : float in [0, 0.5], default=0.001
        Fewest rows, as a share of the data, a suspected trigger must carry (also at least ``min_rows``).
    min_purity : float in (0.5, 1], default=0.9
        Least share of the target label among a suspected rule's rows.
    max_consistency : float in [0, 1], default=0.35
        Largest consistency (0: the rows look like other classes, 1: like the target class)
        of a suspected rule.
    alpha : float in (0, 1), default=0.01
        Significance level of the evidence, Bonferroni-corrected over the candidates tested.
    max_conditions : int, default=3
        Most conditions in one rule.
    max_values : int, default=50
        Most point-mass or categorical values tried per column (the most frequent ones).
    n_neighbors : int, default=15
        Neighbours in the consistency check.
    max_candidates : int, default=10
        Most rules whose consistency is measured (the strongest eligible ones by evidence).
    contamination : "auto" or float in (0, 0.5], default="auto"
        "auto" flags the rows carrying a suspected trigger; a float flags that fraction of the
        rows with the highest scores.
    random_state : int, RandomState or None, default=None
        Seeds the samples of the consistency check.

    Attributes
    ----------
    rules_ : list of TriggerRule
        Candidate rules, strongest first (``rule.suspected`` marks the triggers).
    classes_ : ndarray
        The distinct labels.
    spectral_ : ndarray of shape (n_samples,)
        Spectral-signature score of each row within its class (robust z of the projection).
    n_tests_ : int
        Candidates tested (items and joined rules), the multiple-testing count.
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector`. Raw scores: 1-2 for rows carrying a
        suspected trigger, 0.5-1 for rows of candidate rules, below 0.5 from the spectral score.

    Examples
    --------
    >>> import numpy as np
    >>> from poisonguard.detectors import BackdoorTriggerDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 4)); y = (X[:, 0] > 0).astype(int)
    >>> rows = np.flatnonzero(y == 0)[:20]   # 20 rows of class 0 ...
    >>> X[rows, 2:] = 9.0; y[rows] = 1       # ... get the trigger x2 = x3 = 9 and the label 1
    >>> det = BackdoorTriggerDetector(random_state=0).fit(X, y)
    >>> print(det.rules_[0])
    x2 == 9 and x3 == 9 → y = 1, 20 rows, 100% purity
    >>> bool((det.labels_[rows] == -1).all()), int((det.labels_ == -1).sum())
    (True, 20)
    """

    name: ClassVar[str] = "backdoor"
    sparse_evidence: ClassVar[bool] = True
    family: ClassVar[str] = "backdoor"
    requires_y: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseDetector._parameter_constraints,
        "max_support": [Interval(Real, 0, 0.5, closed="right")],
        "min_rows": [Interval(Integral, 2, None, closed="left")],
        "min_support": [Interval(Real, 0, 0.5, closed="both")],
        "min_purity": [Interval(Real, 0.5, 1, closed="right")],
        "max_consistency": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "max_conditions": [Interval(Integral, 1, None, closed="left")],
        "max_values": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_candidates": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, max_support: float = 0.1, min_rows: int = 3, min_support: float = 0.001,
                 min_purity: float = 0.9,
                 max_consistency: float = 0.35, alpha: float = 0.01, max_conditions: int = 3,
                 max_values: int = 50, n_neighbors: int = 15, max_candidates: int = 10,
                 contamination: str | float = "auto", random_state: Any = None) -> None:
        self.max_support = max_support
        self.min_rows = min_rows
        self.min_support = min_support
        self.min_purity = min_purity
        self.max_consistency = max_consistency
        self.alpha = alpha
        self.max_conditions = max_conditions
        self.max_values = max_values
        self.n_neighbors = n_neighbors
        self.max_candidates = max_candidates
        self.contamination = contamination
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> BackdoorTriggerDetector:
        """Mine trigger rules on the columns of ``X`` (named ``x0``, ``x1``...) and labels ``y``."""
        self._validate_params()
        X, y = self._validate_fit_data(X, y)
        assert y is not None
        cols = [Column(f"x{j}", "numeric", np.asarray(X[:, j], dtype=np.float64), np.array([j]))
                for j in range(X.shape[1])]
        raw = self._fit_columns(cols, np.asarray(X, dtype=np.float32), y, label="y")
        self._set_threshold(raw)
        return self

    def scan_fit(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> BackdoorTriggerDetector:
        """Mine rules on the raw feature columns of ``ds`` (numeric and categorical values)."""
        self._validate_params()
        X, yv = self._validate_fit_data(X, y)
        assert yv is not None
        enc = ds.encoder
        src = np.asarray(enc.source_columns_, dtype=object)
        cols = []
        for name in ds.feature_columns:
            s = ds.frame[name]
            if ds.kinds[name] == "numeric":
                values = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                kind = "numeric"
            else:
                values = s.astype(object).to_numpy()
                kind = "categorical"
            cols.append(Column(str(name), kind, values, np.flatnonzero(src == name)))
        raw = self._fit_columns(cols, np.asarray(X, dtype=np.float32), yv, label=str(ds.label),
                                class_names=np.asarray(ds.classes_, dtype=object))
        self._set_threshold(raw)
        return self

    def _fit_columns(self, cols: list[Column], X: np.ndarray, y: np.ndarray, *, label: str,
                     class_names: np.ndarray | None = None) -> np.ndarray:
        classes, codes = np.unique(y, return_inverse=True)
        self.classes_ = classes if class_names is None else np.asarray(class_names, dtype=object)[classes]
        codes = codes.astype(np.int64)
        n = codes.size
        k = len(classes)
        self._prior = np.bincount(codes, minlength=k) / n
        self._codes = codes
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(np.iinfo(np.int32).max))
        self.spectral_ = spectral_scores(X, codes, k, seed=self._seed)
        # rules are mined over distinct rows: copies of one row are not a pattern (see duplicates)
        distinct = distinct_rows(X, codes)
        ucols = [dataclasses.replace(c, values=c.values[distinct]) for c in cols]
        items = mine_items(ucols, codes[distinct], k, min_rows=self.min_rows, max_support=self.max_support,
                           max_values=self.max_values) if k >= 2 else []
        rules = join_items(items, codes[distinct], k, min_rows=self.min_rows,
                           max_conditions=self.max_conditions)
        self.n_tests_ = max(1, len(items) + len(rules))
        need = math.log10(self.n_tests_ / self.alpha)
        scored = []
        n_measured = 0
        for r in rules[: 10 * self.max_candidates]:
            rows = np.flatnonzero(np.logical_and.reduce([cond_mask(cols[it.col], it.op, it.value)
                                                         for it in r["items"]]))
            t = r["target"]
            tgt_rows = rows[codes[rows] == t]
            full = {**r, "rows": rows, "target_rows": tgt_rows, "n_target": int(tgt_rows.size),
                    "purity": tgt_rows.size / max(1, rows.size)}
            # a trigger is stamped: two or more co-occurring values (point masses, categories,
            # out-of-range tails), or one out-of-range value; and it covers a share of the data
            anchors = sum(it.kind != "tail" for it in r["items"])
            eligible = (anchors >= 2 or any(it.outside for it in r["items"])) and \
                tgt_rows.size >= max(self.min_rows, self.min_support * n)
            cons, resembles = None, None
            if eligible and full["purity"] >= self.min_purity and n_measured < self.max_candidates:
                cons, resembles = self._consistency(X, codes, full, cols)
                n_measured += 1
            natural = None
            if eligible and full["purity"] >= self.min_purity:
                natural = self._held_by_trusted(full, cols, label)
            suspected = bool(eligible and full["purity"] >= self.min_purity and r["evidence"] >= need
                             and cons is not None and cons <= self.max_consistency and natural is None)
            scored.append({**full, "consistency": cons, "resembles": resembles, "suspected": suspected,
                           "eligible": eligible, "natural": natural})
        scored.sort(key=lambda r: (not r["suspected"], -r["evidence"]))
        scored = scored[: 2 * self.max_candidates]
        self.rules_ = [self._as_rule(r, cols, label, n) for r in scored]
        self.natural_ = [{"rule": self.rules_[i].text(), "trusted_rows": r["natural"][0],
                          "trusted_target": r["natural"][1], "p": round(r["natural"][2], 4)}
                         for i, r in enumerate(scored) if r["natural"] is not None]
        # row evidence: the rows of a stamped, pure rule whose rows do not look like its target
        # otherwise get the rule's Bonferroni-corrected binomial p-value, significant or not: the
        # scan's decision weighs it against every other row's evidence (no "need" cut-off here)
        # When the other features cannot tell the target class apart (consistency not measurable,
        # e.g. two of three columns stamped), a rule still counts when it is stamped beyond doubt:
        # two or more co-occurring exact values, one of them outside the range of every other row.
        self._row_p = np.ones(n)
        self._evidence_rules: list[tuple[int, float]] = []  # (index into rules_, p-value of its rows)
        self._beyond_range: set[int] = set()
        for i, r in enumerate(scored):
            cons = r["consistency"]
            if not r["eligible"] or r["purity"] < self.min_purity or r["natural"] is not None:
                continue
            if cons is None:
                if not stamped_beyond_range(r["items"]):
                    continue
                self._beyond_range.add(i)
            elif cons > self.max_consistency:
                continue
            p_rule = min(1.0, self.n_tests_ * 10.0 ** (-float(r["evidence"])))
            rows = r["target_rows"]
            self._row_p[rows] = np.minimum(self._row_p[rows], p_rule)
            self._evidence_rules.append((i, p_rule))
        # raw score: tiers (suspected rule >= 1 > candidate rule >= 0.5 > spectral only)
        spec = 0.49 * (1.0 - np.exp(-np.maximum(self.spectral_, 0.0) / 10.0))
        raw = spec.copy()
        self._rule_of_row = np.full(n, -1, dtype=np.int64)
        for i, r in reversed(list(enumerate(scored))):
            strength = min(1.0, r["evidence"] / max(need, 1e-9))
            cons = r["consistency"]
            if r["suspected"]:
                tier = 1.0 + 0.25 * strength + 0.24 * (1.0 - cons)
            else:  # a rule stamped beyond the range ranks as an inconsistent one (see above)
                cons = 0.0 if i in self._beyond_range else (1.0 if cons is None or r["natural"] is not None else cons)
                tier = 0.5 + 0.49 * strength * r["purity"] * (1.0 - cons)
            rows = r["target_rows"]
            value = tier + 0.01 * spec[rows]
            better = value > raw[rows]
            raw[rows[better]] = value[better]
            self._rule_of_row[rows[better]] = i
        return raw

    def _auto_threshold(self, raw: np.ndarray) -> float:
        return 1.0

    def _pvalues(self, raw: np.ndarray) -> np.ndarray:
        """Rows carried by a stamped, pure rule whose rows look like other classes by their other
        features get the rule's p-value (binomial purity tail times the number of candidates tested),
        whether or not it reaches the significance a suspected trigger needs. Where the other
        features cannot be compared with the target class (consistency not measurable), the rule
        counts only when two or more of its exact values are co-stamped and one lies beyond every
        other row's range (:func:`~poisonguard.detectors._rule_search.stamped_beyond_range`). Every other row gets 1: the spectral
        signature orders rows, it is never evidence on its own."""
        return np.clip(self._row_p, 1e-300, 1.0)

    def scan_pvalues_new(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """Evidence for rows of ``ds`` the rules were not mined on (a scan on Spark): a row that
        carries a rule behind ``pvalues_`` (:meth:`TriggerRule.mask` on the raw columns) and its
        target label gets that rule's p-value, as a training row would; every other row gets 1.
        ``y``: label codes into the training classes."""
        check_is_fitted(self)
        p = np.ones(ds.n_rows)
        if y is None or not self._evidence_rules:
            return p
        names = list(self.classes_)
        for i, p_rule in self._evidence_rules:
            rule = self.rules_[i]
            if rule.target not in names:
                continue
            hit = rule.mask(ds.frame) & (np.asarray(y) == names.index(rule.target))
            p[hit] = np.minimum(p[hit], p_rule)
        return np.clip(p, 1e-300, 1.0)

    # ------------------------------------------------------------------ consistency check
    def _consistency(self, X: np.ndarray, codes: np.ndarray, rule: dict[str, Any],
                     cols: list[Column]) -> tuple[float | None, Any]:
        """Where the rule's rows sit, by their other features, between other classes (0) and the target (1)."""
        n, d = X.shape
        drop = np.concatenate([cols[it.col].encoded for it in rule["items"]])
        keep = np.setdiff1d(np.arange(d), drop)
        if keep.size == 0:
            return None, None
        t = rule["target"]
        rng = np.random.default_rng(self._seed)
        covered = np.zeros(n, dtype=bool)
        covered[rule["rows"]] = True
        unc = np.flatnonzero(~covered)
        if unc.size < 2 * self.n_neighbors:
            return None, None
        unc_t = unc[codes[unc] == t]
        unc_o = unc[codes[unc] != t]
        m = CONSISTENCY_PROBE_ROWS
        k_cls = len(self.classes_)
        if MIN_TARGET_ROWS <= unc_t.size < 2 * MIN_PROBE_ROWS and unc.size <= CONSISTENCY_REFERENCE_ROWS:
            # too few genuine target rows to split into probes and reference: each uncovered row
            # votes among the others, itself left out
            return self._consistency_loo(X[:, keep], codes, rule, unc, k_cls)
        probe_t = rng.choice(unc_t, size=min(unc_t.size // 2, m), replace=False) if unc_t.size >= 4 else unc_t[:0]
        probe_o = rng.choice(unc_o, size=min(unc_o.size // 2, m), replace=False)
        ref = np.setdiff1d(unc, np.concatenate([probe_t, probe_o]), assume_unique=True)
        if ref.size > CONSISTENCY_REFERENCE_ROWS:
            ref = rng.choice(ref, size=CONSISTENCY_REFERENCE_ROWS, replace=False)
        cov_t = rule["target_rows"]
        if cov_t.size > m:
            cov_t = rng.choice(cov_t, size=m, replace=False)
        kk = int(min(self.n_neighbors, ref.size))
        Xk = X[:, keep]
        nn = nearest_neighbors(Xk[ref], kk)
        prior = np.bincount(codes[ref], minlength=k_cls) / ref.size

        def vote(rows: np.ndarray) -> np.ndarray:
            return knn_label_vote(nn, codes[ref], Xk[rows], n_classes=k_cls, prior=prior)

        p_cov = vote(cov_t)
        resembles = self._resembles(p_cov, t)
        m_cov = float(p_cov[:, t].mean())
        m_oth = float(vote(probe_o)[:, t].mean())
        if probe_t.size >= MIN_PROBE_ROWS:
            return _scaled_consistency(m_cov, m_oth, float(vote(probe_t)[:, t].mean())), resembles
        # the target class exists (almost) only through the rule's rows, so they cannot be compared
        # with genuine members: a rule of several co-stamped conditions counts as inconsistent
        return (0.0 if len(rule["items"]) >= 2 else None), resembles

    def _consistency_loo(self, Xk: np.ndarray, codes: np.ndarray, rule: dict[str, Any], unc: np.ndarray,
                         k_cls: int) -> tuple[float | None, Any]:
        """:meth:`_consistency` with every uncovered row in the reference, each voting with itself left out."""
        t = rule["target"]
        kk = int(min(self.n_neighbors, unc.size - 1))
        nn = nearest_neighbors(Xk[unc], kk)
        prior = np.bincount(codes[unc], minlength=k_cls) / unc.size
        own = knn_label_vote(nn, codes[unc], None, n_classes=k_cls, prior=prior)[:, t]
        p_cov = knn_label_vote(nn, codes[unc], Xk[rule["target_rows"]], n_classes=k_cls, prior=prior)
        is_t = codes[unc] == t
        return (_scaled_consistency(float(p_cov[:, t].mean()), float(own[~is_t].mean()), float(own[is_t].mean())),
                self._resembles(p_cov, t))

    def _resembles(self, p_cov: np.ndarray, target: int) -> Any:
        """The class other than ``target`` the covered rows' neighbours vote for most."""
        other = p_cov.mean(axis=0)
        other[target] = -1.0
        return self.classes_[int(other.argmax())]

    def _held_by_trusted(self, r: dict[str, Any], cols: list[Column], label: str) -> tuple[int, int, float] | None:
        """With a trusted version (:meth:`with_trusted`): ``(rows, target rows, p)`` when the rule is
        part of the trusted data, a natural association rather than a stamped trigger; else None.

        Natural means both (a) the trusted rows the rule covers carry its target beyond the
        trusted base rate (binomial tail at most ``alpha``), and (b) the new data do not hold
        more target rows matching the rule, per row, than the trusted data (Fisher's exact test of
        "more in the new data" not significant at ``alpha``; ``p`` is that test's). A rule the
        trusted data do not hold, or that the new data hold more often — a trigger stamped on a
        batch — stays as it is.
        """
        trusted = getattr(self, "trusted_", None)
        if trusted is None or label not in trusted.frame.columns:
            return None
        frame = trusted.frame
        try:
            hit = np.logical_and.reduce([Condition(cols[it.col].name, it.op, plain(it.value)).mask(frame)
                                         for it in r["items"]])
        except (KeyError, TypeError, ValueError):
            return None  # a column the trusted version lacks or holds in another kind: nothing to compare
        m = int(hit.sum())
        if m == 0:
            return None
        from scipy.stats import binom, fisher_exact

        labels = frame[label].astype(str).to_numpy()
        is_target = labels == str(self.classes_[r["target"]])
        t, n_t = int((hit & is_target).sum()), int(labels.size)
        base = max(float(is_target.mean()), 1e-12)
        if float(binom.sf(t - 1, m, base)) > self.alpha:
            return None  # the trusted data do not hold the association
        t_new, n_new = int(r["n_target"]), int(self._codes.size)
        p = float(fisher_exact([[t_new, n_new - t_new], [t, n_t - t]], alternative="greater")[1])
        return (m, t, p) if p > self.alpha else None

    def _as_rule(self, r: dict[str, Any], cols: list[Column], label: str, n: int) -> TriggerRule:
        conds = tuple(Condition(cols[it.col].name, it.op, plain(it.value)) for it in r["items"])
        t = r["target"]
        cons = r["consistency"]
        # statistics rounded once here, so that to_dict()/from_dict() round-trip exactly
        return TriggerRule(conditions=conds, label=label, target=plain(self.classes_[t]), n_rows=int(r["rows"].size),
                           n_target=int(r["n_target"]), purity=round(float(r["purity"]), 4),
                           support=round(r["rows"].size / n, 6), base_rate=round(float(self._prior[t]), 4),
                           evidence=round(float(r["evidence"]), 2),
                           consistency=None if cons is None else round(float(cons), 3),
                           resembles=plain(r["resembles"]), suspected=bool(r["suspected"]))

    # ------------------------------------------------------------------ scan hooks
    @property
    def triggers_(self) -> list[TriggerRule]:
        """The suspected triggers (rules with ``suspected=True``)."""
        check_is_fitted(self)
        return [r for r in self.rules_ if r.suspected]

    def row_reasons(self, ds: Any, rows: np.ndarray) -> list[str]:
        check_is_fitted(self)
        out = []
        for r in np.asarray(rows, dtype=np.int64).tolist():
            i = int(self._rule_of_row[r])
            if i >= 0:
                rule = self.rules_[i]
                why = " and ".join(str(c) for c in rule.conditions)
                what = "suspected trigger" if rule.suspected else "candidate rule"
                how = (" (its other features cannot be compared with the target class; co-stamped values, "
                       "one beyond the range of every other row)") if i in self._beyond_range else (
                    f" (looks like {rule.resembles!r} otherwise)" if rule.resembles is not None else "")
                out.append(f"{self.name}: carries {what} '{why} → {rule.target}'{how}")
            else:
                out.append(f"{self.name}: spectral-signature outlier within its class (suspicion "
                           f"{self.suspicion_[r]:.2f})")
        return out

    def report_section(self, ds: Any) -> dict[str, Any]:
        check_is_fitted(self)
        return {
            "n_flagged": int((self.labels_ == -1).sum()),
            "threshold": float(self.threshold_),
            "n_tests": int(self.n_tests_),
            "triggers": [r.to_dict() for r in self.rules_ if r.suspected],
            "candidates": [r.to_dict() for r in self.rules_ if not r.suspected][:10],
            **({"natural_in_trusted": self.natural_[:10]} if getattr(self, "natural_", None) else {}),
        }

    def batch_finding(self, ds: Any) -> tuple[bool, str]:
        """Suspected when at least one rule passes every test (see the module docstring)."""
        check_is_fitted(self)
        trig = self.triggers_
        if not trig:
            return False, ""
        return True, "; ".join(f"suspected trigger: {r.text()}" for r in trig[:3]) + (
            f" (and {len(trig) - 3} more)" if len(trig) > 3 else "")


def _scaled_consistency(m_cov: float, m_other: float, m_target: float) -> float | None:
    """Where the covered rows' mean target vote sits between other classes' rows (0) and genuine
    target rows (1); None when the other features cannot tell the target class apart."""
    sep = m_target - m_other
    if sep < MIN_SEPARATION:
        return None
    return float(np.clip((m_cov - m_other) / sep, 0.0, 1.0))
