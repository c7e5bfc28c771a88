"""The quarantine level chosen on the trusted rows (``scan --reference``).

The scan quarantines by Benjamini-Hochberg at ``level`` (:mod:`poisonguard.evidence`). That level
bounds the share of clean rows in the quarantine, but it does not ask whether the quarantine
helps the model trained afterwards — and a batch whose poison is visible only as a group (half
of a class relabelled on data where each row's evidence is weak) can be flagged as suspected
while no single row passes BH at 0.1. With a trusted version there is a direct measure of what
users care about: train a model on the rows a level keeps and count how often it is right on
the trusted rows.

:func:`choose_level` does that for the configured level and each looser level of
:data:`CANDIDATE_LEVELS` (BH at level ``c`` quarantines the rows with BH-adjusted p-value
``q <= c``, plus the rows quarantined anyway). A looser level replaces the configured one only
when its model's accuracy on the trusted rows is *significantly* higher: the per-row paired
difference of correctness has a z-statistic above the one-sided 5 % point after a Bonferroni
correction over the candidates (z > 2.33 for five). Among the significant levels the most
accurate is kept; the candidate table is reported (``report.json``: ``decision.level_choice``).

The scan asks only for a *suspected* batch (some test, such as the reference comparison's label
shift, found poison). On an untouched batch of data whose features say little, dropping many
minority rows can make the model predict the majority class and so look more accurate on the
trusted rows — measured on two of the twelve shared datasets (horse-colic, breast-cancer
Ljubljana: 59 of 120 and 36 of 115 clean rows would have been quarantined); the batch-level
test stands guard against that.

The model is the label detectors' default gradient boosting, fitted on the batch's added and
changed rows that the level keeps (at most ``MAX_TRAIN_ROWS``), evaluated on at most
:data:`MAX_EVAL_ROWS` labelled trusted rows. Cost: one model fit per level (six by default).
"""

from __future__ import annotations

import dataclasses
from statistics import NormalDist
from typing import Any

import numpy as np

from .._threads import threads_for
from ._prepare import Prepared

__all__ = ["CANDIDATE_LEVELS", "LevelChoice", "choose_level", "level_note"]

#: BH levels tried beyond the configured one.
CANDIDATE_LEVELS = (0.2, 0.3, 0.5, 0.7, 0.9)
#: Trusted rows the accuracy is measured on (a seeded sample beyond this).
MAX_EVAL_ROWS = 20_000
#: Fewest kept rows a level's model is fitted on.
MIN_TRAIN_ROWS = 20
#: One-sided significance of the accuracy gain (Bonferroni-corrected over the candidates).
ALPHA = 0.05


@dataclasses.dataclass(frozen=True)
class LevelChoice:
    """The level kept and what each level tried scored.

    Attributes
    ----------
    level : float
        The BH level of the quarantine (the configured one unless a looser one won).
    quarantine : ndarray of bool
        Rows quarantined at ``level``.
    table : list of dict
        Per level tried: ``level``, ``quarantined``, ``accuracy`` (None when too few rows or one
        class remain), ``z`` (paired gain over the configured level, in standard errors).
    z_needed : float
        The z a looser level must exceed.
    """

    level: float
    quarantine: np.ndarray
    table: list[dict[str, Any]]
    z_needed: float

    def summary(self) -> dict[str, Any]:
        return {"method": "accuracy on the trusted rows of a model trained on the rows each BH level keeps; a looser "
                          f"level only when its gain is significant (one-sided {ALPHA:g}, Bonferroni over "
                          f"{len(self.table) - 1} levels)",
                "chosen_level": self.level, "z_needed": round(self.z_needed, 3), "levels": self.table}


def bh_adjusted(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): BH at level ``c`` rejects exactly ``q <= c``."""
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    q = np.empty(n)
    q[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    return np.minimum(q, 1.0)


def choose_level(prep: Prepared, p: np.ndarray, quarantine: np.ndarray, *, level: float,
                 candidates: tuple[float, ...] = CANDIDATE_LEVELS, seed: int | None = 0) -> LevelChoice | None:
    """The BH level whose kept rows train the model most accurate on the trusted rows (see the module).

    Parameters
    ----------
    prep : Prepared
        Both versions (the batch's labels in ``prep.codes``, the trusted ones in ``trusted_codes``).
    p : ndarray of shape (n,)
        The combined p-value of each batch row.
    quarantine : ndarray of bool, shape (n,)
        Rows quarantined at ``level`` (BH and the rows quarantined whatever their evidence).
    level : float
        The configured BH level.

    Returns None when there is nothing to compare: no labels on either side, or fewer than
    ``MIN_TRAIN_ROWS`` labelled added or changed rows.
    """
    if prep.codes is None or prep.trusted_codes is None:
        return None
    from sklearn.base import clone

    from ..detectors.label_flip import MAX_TRAIN_ROWS, default_estimator

    k = prep.n_classes_trusted
    codes = np.asarray(prep.codes)
    lab = prep.focus & (codes >= 0) & (codes < k)
    if lab.sum() < MIN_TRAIN_ROWS:
        return None
    tcodes = np.asarray(prep.trusted_codes)
    ev = np.flatnonzero(tcodes >= 0)
    rng = np.random.default_rng(seed)
    if ev.size > MAX_EVAL_ROWS:
        ev = np.sort(rng.choice(ev, size=MAX_EVAL_ROWS, replace=False))
    if ev.size < 2:
        return None
    Xn, Xt, yt = prep.new.encode(), prep.trusted.encode()[ev], tcodes[ev]
    groups = prep.trusted.encoder.categorical_groups()  # the encoding of both: read natively by the boosted model
    q = bh_adjusted(p)
    levels = [float(level)] + [c for c in candidates if c > level]
    quarantine = np.asarray(quarantine, dtype=bool)
    correct: list[np.ndarray | None] = []
    sets: list[np.ndarray] = []
    for c in levels:
        qc = quarantine | ((q <= c) & prep.focus) if c > level else quarantine
        sets.append(qc)
        keep = np.flatnonzero(lab & ~qc)
        y = codes[keep]
        counts = np.bincount(y, minlength=k)
        if keep.size < MIN_TRAIN_ROWS or (counts > 0).sum() < 2:
            correct.append(None)
            continue
        if keep.size > MAX_TRAIN_ROWS:
            keep = np.sort(rng.choice(keep, size=MAX_TRAIN_ROWS, replace=False))
            y = codes[keep]
            counts = np.bincount(y, minlength=k)
        est = default_estimator(seed, int(counts[counts > 0].min()), n_rows=int(keep.size), categorical_groups=groups)
        with threads_for(keep.size):
            model = clone(est).fit(Xn[keep], y)
        correct.append((model.predict(Xt) == yt).astype(np.float64))
    z_needed = NormalDist().inv_cdf(1.0 - ALPHA / max(len(levels) - 1, 1))
    table: list[dict[str, Any]] = []
    best, best_acc = 0, -1.0
    base = correct[0]
    for i, (c, qc, corr) in enumerate(zip(levels, sets, correct)):
        row: dict[str, Any] = {"level": c, "quarantined": int(qc.sum()),
                               "accuracy": None if corr is None else round(float(corr.mean()), 4), "z": None}
        if corr is not None and base is not None and i > 0:
            d = corr - base
            se = float(d.std(ddof=1)) / np.sqrt(d.size)
            z = float(d.mean()) / se if se > 0 else 0.0
            row["z"] = round(z, 3)
            if z > z_needed and corr.mean() > best_acc:
                best, best_acc = i, float(corr.mean())
        table.append(row)
    return LevelChoice(level=levels[best], quarantine=sets[best], table=table, z_needed=float(z_needed))


def level_note(decision: dict[str, Any] | None) -> str:
    """One sentence on a level chosen on the trusted rows (from ``report.json``'s ``decision``), or ``""``."""
    choice = (decision or {}).get("level_choice")
    if not choice or not decision.get("level_chosen_on_trusted"):
        return ""
    rows = {row["level"]: row for row in choice["levels"]}
    base, won = choice["levels"][0], rows.get(choice["chosen_level"], {})
    if base.get("accuracy") is None or won.get("accuracy") is None:
        return ""
    return (f"level {choice['chosen_level']:g} chosen on the trusted rows: a model trained on the rows it keeps is "
            f"right on {won['accuracy']:.1%} of them, against {base['accuracy']:.1%} at level {base['level']:g}")
