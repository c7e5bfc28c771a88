"""``poisonguard.evidence``: one scale for every detector's evidence, and the scan's one decision.

Every detector turns its raw scores into **p-values**: for each row, the probability that a row
of the data's own clean bulk scores at least as high (small = strong evidence of poisoning).
"1 in 10,000 under the clean bulk" then means the same for outliers, triggers, duplicates and
labels. Each detector picks the null that fits its score (see ``_pvalues`` of each detector);
the generic one, :func:`tail_pvalues`, fits an exponential tail to the upper half of the
scores; :func:`class_conformal_pvalues` ranks a score among those of reference rows taken to be
clean (the label evidence's plausible rows, or the trusted rows of ``scan --reference``).

The scan then decides once, here, for all detectors (``decide``):

1. **combine** — each row's p-values over the detectors that gate and test it are combined by
   the Bonferroni-corrected minimum, ``p = min(1, D_i * min_d p_d)`` (valid under any dependence
   between detectors, and as strong as the strongest detector). ``D_i`` counts the tests made on
   row ``i``: label flips and outliers test every row; triggers only the rows a stamped rule
   covers, duplicates only the members of a conflicting group (a detector declares this with
   ``sparse_evidence``: its p = 1 then means "not tested");
   **Screened first** (:func:`screen`): a detector enters the combination only when its own
   column holds evidence against its global null ("no row is poison of this kind") at the
   family-wise level ``level``: Simes' test of the column (over the rows it tests), Bonferroni
   over the ``D`` detectors that test any row, ``D * simes <= level``. A detector with nothing to find then
   enters with probability at most ``level / D``, and its null rows' smallest p-values (about
   ``1 / n`` among ``n`` rows) no longer dilute a detector that does find something — a two-stage
   "families first" procedure (Benjamini & Bogomolov, *Selective inference on multiple families
   of hypotheses*, JRSS-B 2014; Simes rejects exactly when BH rejects at least one row of the
   column). When no detector enters, nothing is quarantined on evidence, and ``suspicion`` and
   the review list come from the combination of every detector;
2. **quarantine** — the Benjamini–Hochberg step-up procedure over all rows at level ``level``
   (default 0.1): the quarantined set's expected share of clean rows (false discovery rate) is
   at most ``level`` when the null p-values are valid (Benjamini & Hochberg, JRSS-B 1995);
3. **review** — rows that BH accepts only at the looser ``review_level`` (default 0.25), or that
   a detector's own threshold flags, and that are not quarantined: merely unusual rows, listed
   ranked for a person, kept in the clean split;
4. **level** — with a trusted reference (``scan --reference``) and a suspected batch, a looser BH level replaces
   ``level`` when a model trained on the rows it keeps is significantly more accurate on the
   trusted rows (:func:`poisonguard.reference.choose_level`, applied by :func:`relevel`).

The evidence scale is ``s = L / (L + 2)`` with ``L = -log10 p`` (:func:`suspicion_from_p`): p = 1
gives 0, p = 0.01 gives 0.5, p = 1e-4 gives 0.67, p = 1e-10 gives 0.83; every detector's column in
``scores.csv`` is that map of its own p-value, so the columns are on one scale.

The combined ``suspicion`` is the scan's ranking (:func:`ranked_suspicion`). The rows the decision
reaches (combined p-value at most BH's threshold at the looser of the two levels) get that map of
their combined p-value, so the quarantine and the review list come first, in the order of their
evidence. Every other row ranks below them, in the order of the detectors' own ranking scores:
each detector's upper-tail shares (:meth:`~poisonguard.detectors.BaseDetector.ranking_shares`,
``#{rows scoring at least as high} / n``), combined as the p-values are (the same columns, the
same Bonferroni count). For most detectors a row's share is that of the rows whose p-value is
at most its own, so that every detector ranks there on one scale whatever the tail of its null
(a parametric tail gives p-values far below ``1 / n``, a count test cannot). The label evidence is a neighbourhood count test, coarse where the ranking score
(the blend's posterior) is fine: ordered by the evidence, label flips below the decision rank
at mean AP 0.63 under random flips over 42 attacked cases, by the two tiers at 0.71, by the
posterior alone 0.75 (``benchmarks/RESULTS.md``, issue 15). The decision does not move; the
combined p-value is ``scores.csv``'s ``p_value``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .config import Key, Policy

__all__ = [
    "DEFAULT_DECISION",
    "Decision",
    "TailNull",
    "bh_threshold",
    "class_conformal_pvalues",
    "combine_pvalues",
    "decide",
    "decision_levels",
    "label_pvalues",
    "p_from_suspicion",
    "ranked_suspicion",
    "relevel",
    "screen",
    "screen_note",
    "simes_pvalue",
    "suspicion_from_p",
    "tail_null",
    "tail_pvalues",
    "tested_mask",
    "upper_tail_shares",
]

#: The scan's decision levels (``params.yaml``: ``scan: decision: {level, review_level, choose_level}``).
DECISION = Policy(
    "the scan's decision",
    Key("level", "number", 0.1, "Benjamini-Hochberg level of the quarantine: expected share of clean rows in it at "
        "most this", low=0, high=1, low_open=True, high_open=True),
    Key("review_level", "number", 0.25, "rows BH accepts only at this looser level are listed for review (kept); "
        "at least level", low=0, high=1, low_open=True, high_open=True),
    Key("choose_level", "bool", True, "with a trusted reference (scan --reference) and a suspected batch: keep a "
        "looser BH level when a "
        "model trained on the rows it keeps is significantly more accurate on the trusted rows "
        "(poisonguard.reference.choose_level)"),
    kind="key",
)
#: Default levels of :data:`DECISION`.
DEFAULT_DECISION: dict[str, float] = dict(DECISION.defaults())
#: The smallest p-value reported (keeps ``-log10 p`` finite).
P_FLOOR = 1e-300


def suspicion_from_p(p: np.ndarray) -> np.ndarray:
    """The common ``suspicion`` scale: ``L / (L + 2)`` with ``L = -log10 p`` (p = 0.01 maps to 0.5)."""
    p = np.clip(np.asarray(p, dtype=np.float64), P_FLOOR, 1.0)
    L = -np.log10(p)
    return L / (L + 2.0)


def p_from_suspicion(s: np.ndarray) -> np.ndarray:
    """Inverse of :func:`suspicion_from_p`."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0 - 1e-12)
    return np.clip(10.0 ** (-2.0 * s / (1.0 - s)), P_FLOOR, 1.0)


def upper_tail_shares(raw: np.ndarray) -> np.ndarray:
    """Each score's upper-tail share among ``raw`` (higher = more suspicious): ``#{j: raw_j >= raw_i} / n``,
    in (0, 1]; the highest score gets ``1 / n`` (or the share of its ties), NaN counts as the lowest."""
    raw = np.asarray(raw, dtype=np.float64)
    n = raw.size
    if n == 0:
        return np.ones(0)
    r = np.where(np.isnan(raw), -np.inf, raw)
    return (n - np.searchsorted(np.sort(r), r, side="left")) / n


def ranked_suspicion(p: np.ndarray, shares: np.ndarray | None, reach: float, cap_level: float) -> np.ndarray:
    """The scan's ``suspicion``: the evidence for the rows the decision reaches, the ranking below.

    Rows with ``p <= reach`` (``reach`` > 0) get :func:`suspicion_from_p` of ``p``; every other row
    gets ``suspicion_from_p(cap_level) * suspicion_from_p(share)``, strictly below any row reached
    (they have ``p <= reach <= cap_level``) and ordered by ``shares`` (small = first). ``shares``
    None: :func:`suspicion_from_p` of ``p`` for every row (the order of the evidence throughout).
    """
    s = suspicion_from_p(p)
    if shares is None:
        return s
    below = ~(p <= reach) if reach > 0 else np.ones(s.size, dtype=bool)
    cap = float(suspicion_from_p(np.array([cap_level]))[0])
    s[below] = cap * suspicion_from_p(np.asarray(shares, dtype=np.float64)[below])
    return s


def tail_pvalues(raw: np.ndarray, *, bulk: tuple[float, float] = (0.5, 0.975)) -> np.ndarray:
    """p-values of raw scores (higher = more suspicious) under an exponential tail fitted to the bulk.

    The null is fitted on the scores themselves, robustly: the quantiles ``a`` and ``b`` of
    ``bulk`` (default the median and the 97.5th percentile) fix an exponential upper tail
    ``P(score > a + x) = (1 - lo) * exp(-x / s)`` with ``s = (b - a) / ln((1 - lo) / (1 - hi))``.
    Poison that makes up less than 2.5 % of the rows cannot move the fit, more can only widen it
    (conservative); the fit reaches far enough into the tail that a heavy natural tail gives a
    heavy null. Rows at or below ``a`` get p = 1 (they carry no evidence). When most rows share
    one score, the spread of the rows above it is used instead; scores all equal give p = 1.
    Non-finite raw scores: +inf gets the floor, NaN gets 1.

    Measured before choosing (outlier detector, ten datasets as they are and with 2 % injected
    outliers, BH at 0.1; ``benchmarks/RESULTS.md``): fitting on the 50th-90th percentiles found
    every outlier but quarantined up to 2.9 % of clean rows on naturally heavy-tailed data
    (wine-red, breast-cancer); the 50th-97.5th kept that at 0.0-0.8 % and found every outlier
    except a quarter of adult's, whose natural tail is heavy; the 75th-97.5th missed all of
    adult's. A generalized Pareto tail from two quantiles had too noisy a shape to use.
    """
    return tail_null(raw, bulk=bulk).pvalues(raw)


@dataclasses.dataclass(frozen=True)
class TailNull:
    """The exponential upper tail :func:`tail_pvalues` fits, kept to score other rows on it.

    ``P(score > a + x) = base * exp(-x / s)`` for scores above ``a``; p = 1 at or below ``a``
    (``a`` is None when the fit found nothing to fit: every finite score then gets p = 1).
    Fitted on a detector's training rows (:func:`tail_null`), it gives rows the detector was not
    fitted on evidence on the same scale (:meth:`poisonguard.detectors.BaseDetector.pvalues_new`).
    """

    a: float | None
    s: float = 1.0
    base: float = 0.5

    def pvalues(self, raw: np.ndarray) -> np.ndarray:
        """p-values of raw scores (higher = more suspicious) under this tail."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.a is None:
            p = np.ones(raw.shape)
            p[raw == np.inf] = P_FLOOR
            return p
        with np.errstate(over="ignore", invalid="ignore"):
            tail = self.base * np.exp(-(raw - self.a) / self.s)
        p = np.where(raw > self.a, tail, 1.0)
        p = np.where(np.isnan(raw), 1.0, p)
        return np.clip(p, P_FLOOR, 1.0)


def tail_null(raw: np.ndarray, *, bulk: tuple[float, float] = (0.5, 0.975)) -> TailNull:
    """Fit :func:`tail_pvalues`' exponential tail to the bulk of ``raw`` (see there)."""
    raw = np.asarray(raw, dtype=np.float64)
    finite = raw[np.isfinite(raw)]
    if finite.size < 2:
        return TailNull(None)
    lo, hi = bulk
    a, b = np.quantile(finite, [lo, hi])
    base = 1.0 - lo
    s = (b - a) / math.log(base / (1.0 - hi))
    if not s > 1e-12:
        above = finite[finite > a]
        if above.size == 0:
            return TailNull(None)
        # most rows share one score: spread of the rows above it, on the same tail
        base = above.size / finite.size
        s = float(np.median(above - a)) / math.log(2.0)
        if not s > 1e-12:
            s = 1.0
    return TailNull(float(a), float(s), float(base))


def class_conformal_pvalues(stat: np.ndarray, y: np.ndarray, reference: np.ndarray, *, flat: float = 0.0) -> np.ndarray:
    """Class-conditional conformal p-values of ``stat`` (higher = more extreme), with an exponential
    tail beyond the reference's largest value.

    Row ``i``'s p-value is ``(1 + #{j in R_c, j != i : stat_j >= stat_i}) / (1 + |R_c \\ {i}|)``
    with ``c = y_i`` and ``R_c`` the rows of class ``c`` where ``reference`` is true — valid when
    a null row's statistic is exchangeable with those of its class's reference rows. Past the
    largest reference value ``M`` the count is 0 and the p-value would stop at ``1 / (1 + N)``,
    too weak for the error control over many rows when a class is small; there it continues as
    ``1 / (1 + N) * exp(-(stat - M) / s)``, with ``s`` the mean excess of the reference's top
    tenth over its 90th percentile (an exponential tail's maximum-likelihood scale; when those
    values are all equal, ``s`` = 0 and the reference holds no value to compare beyond ``M``:
    p = ``flat / (1 + N)`` there — 0 by default, so that a caller's own test decides; 1 keeps the
    count's floor). A class without reference rows gives p = 1.
    Sorting per class: ``O(n log n)``.
    """
    stat = np.asarray(stat, dtype=np.float64)
    reference = np.asarray(reference, dtype=bool)
    p = np.ones(stat.size)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        ref = np.sort(stat[rows[reference[rows]]])
        if ref.size == 0:
            continue
        own = reference[rows]
        at_least = ref.size - np.searchsorted(ref, stat[rows], side="left") - own
        pc = (1.0 + at_least) / (1.0 + ref.size - own)
        top = ref[int(np.floor(0.9 * (ref.size - 1))):]
        scale = float(np.mean(top - top[0]))
        beyond = stat[rows] > ref[-1]
        if beyond.any():
            excess = stat[rows][beyond] - ref[-1]
            with np.errstate(over="ignore", divide="ignore"):
                pc[beyond] = (np.exp(-excess / scale) if scale > 0 else flat) / (1.0 + ref.size)
        p[rows] = pc
    return np.clip(p, 0.0, 1.0)


def label_pvalues(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p-value of each row's label under class probabilities that did not see it.

    ``p_i = sum of proba[i, c] over the classes c with proba[i, c] <= proba[i, y_i]``: the
    probability that a label drawn from the row's predicted distribution is at most as likely as
    the one it carries (valid when the probabilities are calibrated).
    """
    proba = np.asarray(proba, dtype=np.float64)
    rows = np.arange(len(y))
    own = proba[rows, y]
    p = np.where(proba <= own[:, None] + 1e-15, proba, 0.0).sum(axis=1)
    return np.clip(p, P_FLOOR, 1.0)


def combine_pvalues(P: np.ndarray, tested: np.ndarray | None = None) -> np.ndarray:
    """Bonferroni-corrected minimum over the columns of ``P`` (shape ``(n, D)``): ``min(1, D_i * min p)``.

    ``tested`` (boolean, same shape) says which detectors test which rows; ``D_i`` is the number
    of tests made on row ``i`` (all ``D`` when not given). A detector whose hypothesis does not
    apply to a row (no rule covers it, it has no conflicting copy) makes no test there.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] == 0:
        return np.ones(P.shape[0] if P.ndim else 0)
    D = np.full(P.shape[0], P.shape[1]) if tested is None else np.maximum(np.asarray(tested).sum(axis=1), 1)
    return np.clip(D * P.min(axis=1), P_FLOOR, 1.0)


def simes_pvalue(p: np.ndarray) -> float:
    """Simes' global test of ``p``: ``min_i p_(i) m / i`` (1 for no p-value).

    A valid p-value of "every null holds" when the p-values are independent or positively
    dependent (PRDS; Simes, Biometrika 1986; Sarkar 1998), which split-conformal p-values that
    share one calibration set are (Bates et al., *Testing for outliers with conformal p-values*,
    Ann. Statist. 2023). It rejects at level ``a`` exactly when Benjamini-Hochberg at ``a``
    rejects at least one of them.
    """
    p = np.sort(np.asarray(p, dtype=np.float64))
    if p.size == 0:
        return 1.0
    return float(min(1.0, np.min(p * p.size / np.arange(1, p.size + 1))))


def bh_threshold(p: np.ndarray, level: float, *, m: int | None = None) -> float:
    """The Benjamini–Hochberg step-up threshold: reject ``p <= t``; ``0`` when nothing is rejected.

    ``m``: the number of hypotheses, when ``p`` holds only some of them — every p-value at most
    ``level`` (the threshold is never above ``level``, so the others cannot change it). A scan on
    Spark brings only those to the driver (:mod:`poisonguard.spark`).
    """
    p = np.asarray(p, dtype=np.float64)
    m = p.size if m is None else int(m)
    if m == 0 or p.size == 0:
        return 0.0
    if p.size > m:
        raise ValueError(f"m={m} hypotheses but {p.size} p-values")
    s = np.sort(p)
    ok = np.flatnonzero(s <= level * np.arange(1, s.size + 1) / m)
    return float(s[ok[-1]]) if ok.size else 0.0


@dataclasses.dataclass(frozen=True)
class Decision:
    """The scan's decision for every row.

    Attributes
    ----------
    p_value : ndarray of shape (n,)
        Combined p-value of each row.
    suspicion : ndarray of shape (n,)
        :func:`ranked_suspicion`: :func:`suspicion_from_p` of ``p_value`` for the rows BH reaches at
        ``review_level`` (or at ``level``, the larger of the two thresholds); below them, the order of
        ``rank_share``.
    decision : ndarray of str, shape (n,)
        ``"keep"``, ``"review"`` or ``"quarantine"``.
    threshold : float
        BH threshold on ``p_value`` at ``level`` (0 when nothing is quarantined).
    review_threshold : float
        BH threshold at ``review_level``.
    level, review_level : float
        The levels used.
    n_tests : int
        Detectors given (``D``).
    entered : ndarray of bool, shape (D,), or None
        Which detectors entered the combination (:func:`screen`); None when not screened.
    global_p : ndarray of shape (D,), or None
        Each detector's global (Simes) p-value, the screen's test.
    relevelled : bool
        The level is not the configured one: :func:`relevel` applied a level chosen on trusted
        rows (:func:`poisonguard.reference.choose_level`).
    rank_share : ndarray of shape (n,), or None
        The combination, as of ``p_value``, of the detectors' ranking shares
        (:meth:`~poisonguard.detectors.BaseDetector.ranking_shares`): the order of the rows the
        decision does not reach. None: they keep the order of ``p_value``.
    """

    p_value: np.ndarray
    suspicion: np.ndarray
    decision: np.ndarray
    threshold: float
    review_threshold: float
    level: float
    review_level: float
    n_tests: int
    relevelled: bool = False
    entered: np.ndarray | None = None
    global_p: np.ndarray | None = None
    rank_share: np.ndarray | None = None

    @property
    def reach(self) -> float:
        """The largest combined p-value the decision acts on: BH's threshold at the looser of the two levels."""
        return max(self.threshold, self.review_threshold)

    @property
    def quarantine(self) -> np.ndarray:
        return self.decision == "quarantine"

    @property
    def review(self) -> np.ndarray:
        return self.decision == "review"

    def summary(self) -> dict[str, Any]:
        """JSON-able description for ``report.json``."""
        n = int(self.decision.size)
        q = int(self.quarantine.sum())
        return {
            "method": ("Benjamini-Hochberg over rows on the Bonferroni-combined p-values of the detectors that pass "
                       "their global (Simes) test" if self.entered is not None else
                       "Benjamini-Hochberg over rows on the Bonferroni-combined detector p-values"),
            "level": self.level, "review_level": self.review_level,
            "n_detectors_combined": self.n_tests if self.entered is None else int(np.sum(self.entered)),
            "p_threshold": self.threshold, "review_p_threshold": self.review_threshold,
            "quarantine": q, "review": int(self.review.sum()), "keep": n - q - int(self.review.sum()),
            # BH's guarantee: expected false share of the quarantine <= level (valid null p-values)
            "expected_false_quarantine_at_most": round(self.level * q, 2),
            # a level chosen on trusted rows (scan --reference) was picked after seeing the data:
            # the bound above is then a description, not BH's guarantee
            "level_chosen_on_trusted": self.relevelled,
        }


def relevel(dec: Decision, quarantine: np.ndarray, level: float) -> Decision:
    """``dec`` with the quarantine of another BH level (``quarantine`` must contain ``dec``'s):
    rows it adds leave review or keep; the threshold is the largest combined p-value quarantined
    by BH at ``level``."""
    quarantine = np.asarray(quarantine, dtype=bool)
    if (dec.quarantine & ~quarantine).any():
        raise ValueError("relevel only widens the quarantine")
    decision = np.where(quarantine, "quarantine", dec.decision).astype(object)
    t = bh_threshold(dec.p_value, level)
    suspicion = ranked_suspicion(dec.p_value, dec.rank_share, max(t, dec.review_threshold),
                                 max(float(level), dec.review_level))
    return dataclasses.replace(dec, decision=decision, threshold=t, level=float(level), relevelled=True,
                               suspicion=suspicion)


def decision_levels(values: Mapping[str, Any] | None, *, where: str = "scan.decision") -> dict[str, float]:
    """The decision's levels (:data:`DECISION`) with defaults; a one-line
    :class:`~poisonguard.errors.ConfigError` on bad input."""
    from .errors import ConfigError

    out = dict(DECISION.validate(values, where=where))
    if out["review_level"] < out["level"]:
        raise ConfigError(f"{where}.review_level ({out['review_level']}) must be at least {where}.level "
                          f"({out['level']}); raise review_level or lower level")
    return out


def screen(P: np.ndarray, tested: np.ndarray | None, level: float, *, n_later: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Which detectors (columns of ``P``) enter the combination, and each one's global p-value.

    A column's global p-value is Simes' test (:func:`simes_pvalue`) of its p-values over the rows
    it tests (all rows when ``tested`` is None); it enters when ``D * simes <= level``, Bonferroni
    over the ``D`` columns that test at least one row (a detector that tests no row, a trigger
    search that found no rule, makes no test and neither enters nor counts). ``n_later``: dense
    detectors still to be fitted, counted in ``D`` (:func:`poisonguard.scan.held_back`). See the
    module docstring.
    """
    P = np.asarray(P, dtype=np.float64)
    n_cols = P.shape[1] if P.ndim == 2 else 0
    T = np.ones(P.shape, dtype=bool) if tested is None else np.asarray(tested, dtype=bool)
    has = T.any(axis=0) if n_cols else np.zeros(0, dtype=bool)
    g = np.ones(n_cols)
    for d in np.flatnonzero(has).tolist():
        g[d] = simes_pvalue(P[T[:, d], d])
    D = max(int(has.sum()) + int(n_later), 1)
    return has & (D * g <= level), g


def screen_note(decision: Mapping[str, Any] | None) -> str:
    """One sentence on the screen (from ``report.json``'s ``decision``: ``entered``, ``global_p``), or ``""``."""
    decision = decision or {}
    entered = decision.get("entered")
    if entered is None:
        return ""
    gp = decision.get("global_p") or {}
    if not entered:
        return "no detector's evidence passed its global test: nothing quarantined on evidence"
    left = [f"{nm} (global p={g:.2g})" for nm, g in gp.items() if nm not in entered and g < 1.0]
    return (f"combined: {', '.join(entered)}" +
            (f"; left out, no evidence of their own: {', '.join(left)}" if left else ""))


def decide(P: np.ndarray, *, level: float = DEFAULT_DECISION["level"],
           review_level: float = DEFAULT_DECISION["review_level"], own_flags: np.ndarray | None = None,
           forced: np.ndarray | None = None, tested: np.ndarray | None = None,
           entered: np.ndarray | bool | None = True, shares: np.ndarray | None = None) -> Decision:
    """Combine per-detector p-values (``P``: shape ``(n, D)``) and decide every row.

    Parameters
    ----------
    P : ndarray of shape (n, D)
        p-values, one column per gating detector (1 where a detector did not score a row).
    level, review_level : float
        BH levels of the quarantine and of the review list.
    own_flags : ndarray of bool, shape (n,), default=None
        Rows some detector's own threshold flags: reviewed when not quarantined.
    forced : ndarray of bool, shape (n,), default=None
        Rows quarantined whatever their evidence (for instance a missing label).
    tested : ndarray of bool, shape (n, D), default=None
        Which detectors test which rows (see :func:`combine_pvalues`); all when None.
    entered : True, False or ndarray of bool, shape (D,), default=True
        True: screen the detectors (:func:`screen`, at ``level``); False: combine every one;
        an array: the columns that enter (decided elsewhere, e.g. on a Spark scan's sample).
    shares : ndarray of shape (n, D), default=None
        Each detector's ranking shares (:meth:`~poisonguard.detectors.BaseDetector.ranking_shares`;
        1 where it did not rank a row), combined as ``P`` is (the same columns, the same
        Bonferroni count) into ``rank_share``, which orders the rows the decision does not reach
        (:func:`ranked_suspicion`). None: every row is ordered by its combined p-value.
    """
    P = np.asarray(P, dtype=np.float64)
    n = P.shape[0]
    D = P.shape[1] if P.ndim == 2 else 0
    g = None
    if entered is True and D:
        keep, g = screen(P, tested, level)
    elif entered is False or entered is None or not D:
        keep = np.ones(D, dtype=bool)
    else:
        keep = np.asarray(entered, dtype=bool)
    T = tested if tested is None else np.asarray(tested, dtype=bool)
    R = None if shares is None or not D else np.asarray(shares, dtype=np.float64)
    cols = keep if D and keep.any() else np.ones(D, dtype=bool)  # none entered: all of them rank
    if D:
        p = combine_pvalues(P[:, cols], None if T is None else T[:, cols])
        r = None if R is None else combine_pvalues(R[:, cols], None if T is None else T[:, cols])
    else:
        p, r = np.ones(n), None
    # no detector has evidence to act on: nothing is quarantined on evidence
    t = bh_threshold(p, level) if D and keep.any() else 0.0
    t_rev = bh_threshold(p, review_level)
    quarantine = p <= t if t > 0 else np.zeros(n, dtype=bool)
    review = (p <= t_rev) if t_rev > 0 else np.zeros(n, dtype=bool)
    if own_flags is not None:
        review |= np.asarray(own_flags, dtype=bool)
    if forced is not None:
        quarantine |= np.asarray(forced, dtype=bool)
    decision = np.where(quarantine, "quarantine", np.where(review, "review", "keep")).astype(object)
    return Decision(p_value=p, suspicion=ranked_suspicion(p, r, max(t, t_rev), max(float(level), float(review_level))),
                    decision=decision, threshold=t, review_threshold=t_rev, level=float(level),
                    review_level=float(review_level), n_tests=D, entered=None if entered is False else keep,
                    global_p=g, rank_share=r)


def tested_mask(P: np.ndarray, sparse: list[bool]) -> np.ndarray:
    """Which detectors test which rows: every row for a dense detector, rows with p < 1 for a sparse one."""
    P = np.asarray(P, dtype=np.float64)
    dense = ~np.asarray(sparse, dtype=bool)
    return dense[None, :] | (P < 1.0)
