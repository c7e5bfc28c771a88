"""Plotting helpers for notebooks and reports (matplotlib, imported lazily).

Every function takes a result object (or its parts), draws on ``ax`` (a new figure when None)
and returns the axes, so notebooks need no plotting boilerplate::

    from poisonguard import plots, scan
    result = scan("data.csv", label="y")
    plots.suspicion_histogram(result)

The four plots the HTML report also embeds (:func:`suspicion_histogram`, :func:`flags_per_class`,
:func:`feature_shift`, :func:`canary_recall`) are drawn by the report's own functions
(``poisonguard.reports._plots``: a table, then ``draw_*`` on an Axes), so a notebook and the
report show the same picture; these helpers build the table from a result and add a title.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["canary_recall", "feature_shift", "flags_per_class", "label_shift", "precision_recall", "projection",
           "suspicion_histogram"]


def _axes(ax: Any, figsize: tuple[float, float] = (6.0, 3.5)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def suspicion_histogram(result: Any, *, truth: np.ndarray | None = None, bins: int = 40, ax: Any = None) -> Any:
    """Histogram of the combined ``suspicion`` (symlog counts), the flagged rows stacked on the
    others; with ``truth``, the poisoned rows instead. The dashed line is the flag threshold (0.5)."""
    from .reports._plots import draw_suspicion_histogram, figure_size, suspicion_table

    s = result.scores["suspicion"].to_numpy()
    if truth is None:
        table, labels = suspicion_table(s, result.scores["flagged"].to_numpy(dtype=bool), bins), ("kept", "flagged")
    else:
        table, labels = suspicion_table(s, np.asarray(truth, dtype=bool), bins), ("clean rows", "poisoned rows")
    ax = _axes(ax, figure_size("suspicion_histogram", table))
    draw_suspicion_histogram(ax, table, labels=labels)
    ax.set_title(f"{result.n_quarantined} of {result.n_rows} rows quarantined")
    return ax


def flags_per_class(result: Any, labels: Sequence[Any], *, ax: Any = None) -> Any:
    """Share of each class's rows that were flagged."""
    import pandas as pd

    from .reports._plots import draw_flagged_per_class, figure_size, per_class_table

    table = per_class_table(pd.Series(labels, dtype=object).astype(str).to_numpy(),
                            result.scores["flagged"].to_numpy(dtype=bool))
    ax = _axes(ax, figure_size("flagged_per_class", table))
    draw_flagged_per_class(ax, table)
    ax.set_title("flagged rows per class")
    return ax


def projection(X: np.ndarray, result: Any, *, truth: np.ndarray | None = None, max_points: int = 5000,
               random_state: int = 0, ax: Any = None) -> Any:
    """A 2-D PCA projection of the encoded features with the flagged rows highlighted
    (and, with ``truth``, the poisoned rows ringed)."""
    from sklearn.decomposition import PCA

    ax = _axes(ax, (5.5, 4.5))
    rng = np.random.default_rng(random_state)
    n = X.shape[0]
    idx = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    Z = PCA(n_components=2, random_state=random_state).fit_transform(X[idx])
    flagged = result.scores["flagged"].to_numpy()[idx]
    ax.scatter(Z[~flagged, 0], Z[~flagged, 1], s=4, c="#bbbbbb", label="not flagged")
    ax.scatter(Z[flagged, 0], Z[flagged, 1], s=8, c="#dd5555", label="flagged")
    if truth is not None:
        t = np.asarray(truth, dtype=bool)[idx]
        ax.scatter(Z[t, 0], Z[t, 1], s=30, facecolors="none", edgecolors="k", lw=0.5, label="poisoned (truth)")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("PCA projection of the encoded features")
    return ax


def precision_recall(result: Any, truth: np.ndarray, *, columns: Sequence[str] | None = None, ax: Any = None) -> Any:
    """Precision–recall curves of the combined suspicion and each detector against known truth;
    the dot marks the quarantine on the combined curve and p = 0.01 (suspicion 0.5) on each
    detector's."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    ax = _axes(ax, (5.0, 4.0))
    truth = np.asarray(truth, dtype=bool)
    scores = result.scores
    cols = list(columns) if columns else [c for c in scores.columns if c not in ("row", "flagged", "decision", "p_value")]
    for col in cols:
        s = scores[col].to_numpy()
        p, r, _ = precision_recall_curve(truth, s)
        line, = ax.plot(r, p, label=f"{col} (AP {average_precision_score(truth, s):.2f})")
        f = scores["flagged"].to_numpy(dtype=bool) if col == "suspicion" and "flagged" in scores else s > 0.5
        if f.any():
            ax.plot([(truth & f).sum() / max(truth.sum(), 1)], [(truth & f).sum() / f.sum()], "o",
                    color=line.get_color())
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, fontsize=8)
    return ax


def canary_recall(drift: Any, *, ax: Any = None) -> Any:
    """Per-class canary recall of the champion and the candidate (a drift result, or its JSON as a dict)."""
    from .reports._plots import canary_table, draw_canary_recall, figure_size
    from .tracking._result import DriftResult

    result = drift if isinstance(drift, DriftResult) else DriftResult.from_dict(dict(drift))
    table = canary_table(result)
    ax = _axes(ax, figure_size("canary_recall", table))
    return draw_canary_recall(ax, table)


_RED, _BLUE = "#dd5555", "#4c72b0"


def feature_shift(report: Any, *, source: str | None = None, top: int = 15, ax: Any = None) -> Any:
    """Per-feature shift of a comparison with a trusted version (:func:`poisonguard.reference.compare`,
    or the ``reference`` section of a scan report): effect size over threshold, shifted columns in
    red, the dashed line at 1 where a column counts as shifted. ``source``: one source's columns."""
    from .reference import shift_table
    from .reports._plots import draw_feature_shift, figure_size

    table = shift_table(report, source).head(top)
    ax = _axes(ax, figure_size("feature_shift", table))
    draw_feature_shift(ax, table, shifted=table["shifted"],
                       xlabel="effect size / threshold (PSI and W1 for numeric columns, JS for categorical)")
    ax.set_title("feature shift vs trusted" + (f": source {source}" if source is not None else ""))
    return ax


def label_shift(report: Any, *, ax: Any = None) -> Any:
    """The trusted model's disagreement with the new labels per class, source and source and class:
    the bar is the observed rate (red when flagged), the dot the rate expected from the trusted
    data, the bar's tick the threshold above which the group is flagged."""
    from .reference import label_shift_table

    table = label_shift_table(report).iloc[::-1].reset_index(drop=True)
    ax = _axes(ax, (6.0, 0.35 * max(len(table), 4) + 1.0))
    if table.empty:
        ax.set_title("no labels compared")
        return ax
    y = np.arange(len(table))
    ax.barh(y, table["disagreement"].astype(float), color=[_RED if f else _BLUE for f in table["flagged"]],
            label="observed")
    ax.plot(table["expected"].astype(float), y, "o", color="k", ms=4, label="expected")
    ax.plot(table["threshold"].astype(float), y, "|", color="k", ms=14, mew=1.5, label="threshold")
    ax.set_yticks(y, [f"{g} ({n})" for g, n in zip(table["group"], table["rows"])])
    ax.set_xlabel("share of labels the trusted model disagrees with")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title("label shift seen by a model of the trusted data")
    return ax
