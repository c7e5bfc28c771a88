"""The comparison's result, :class:`ReferenceReport`, and its tables."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._result import jsonable
from ..errors import UsageError
from ._policy import DEFAULT_POLICY


@dataclasses.dataclass(frozen=True)
class ReferenceReport:
    """Result of :func:`compare`: the ``reference`` section of a scan report.

    Attributes
    ----------
    trusted : dict
        Where the trusted version came from (path, revision, SHA-256, rows).
    parameters : dict
        The policy used (:data:`DEFAULT_POLICY` with overrides).
    suspected : bool
        Whether the policy calls the batch suspected.
    reasons : tuple of str
        Why (empty when not suspected).
    schema : dict
        Columns added, removed or of another kind in the new version.
    delta : dict
        Rows added, changed (label edits listed), unchanged and removed; ``new_fraction``.
    label_shift : dict or None
        The trusted model's disagreement per class: observed, expected, threshold, flagged; unseen labels;
        ``relabelled`` (where the label distribution shifted): the label mix, the trusted mix, the
        predicted mix of the new and of the trusted rows, whether the population moved, the rows read
        as relabelled.
    distribution : dict
        Per-column effect sizes of the focus rows against the trusted data; the label distribution.
    sources : dict or None
        Everything above per source (with ``source_column``).
    n_flagged : int
        New rows flagged.
    suspicion : ndarray of shape (n_new,)
        Per new row, in [0, 1], > 0.5 exactly for flagged rows (not serialised).
    row_reasons : dict of int to str
        The reason of every flagged row (not serialised).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> import pandas as pd
    >>> from poisonguard.reference import compare
    >>> X, y = make_blobs(n_samples=600, centers=2, random_state=0)
    >>> frame = pd.DataFrame(X, columns=["a", "b"]).assign(label=y)
    >>> new = frame.iloc[400:].copy()
    >>> new.loc[new.index[new["label"] == 1][:60], "label"] = 0
    >>> report = compare(new, frame.iloc[:400], label="label")
    >>> report.suspected, report.n_flagged >= 55
    (True, True)
    """

    trusted: dict[str, Any]
    parameters: dict[str, Any]
    suspected: bool
    reasons: tuple[str, ...]
    schema: dict[str, Any]
    delta: dict[str, Any]
    label_shift: dict[str, Any] | None
    distribution: dict[str, Any]
    sources: dict[str, Any] | None
    n_flagged: int
    suspicion: np.ndarray = dataclasses.field(repr=False, compare=False, metadata={"serialize": False})
    row_reasons: dict[int, str] = dataclasses.field(default_factory=dict, repr=False, compare=False,
                                                    metadata={"serialize": False})

    @property
    def flagged(self) -> np.ndarray:
        """Mask of flagged new rows."""
        return self.suspicion > 0.5

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able dict (the per-row arrays are left out: they are in ``scores.csv``)."""
        return jsonable(self)

    def shift_table(self, source: str | None = None) -> pd.DataFrame:
        """Per-feature effect sizes, largest first (see :func:`shift_table`)."""
        return shift_table(self, source)

    def label_shift_table(self) -> pd.DataFrame:
        """The trusted model's disagreement per class, source and source and class (see :func:`label_shift_table`)."""
        return label_shift_table(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        d = self.delta
        verdict = "<b style='color:#b00'>shift suspected</b>" if self.suspected else "<b>no suspicious shift</b>"
        delta = "".join(f"<td>{d.get(k, '')}</td>" for k in ("added", "changed", "unchanged", "removed"))
        labels = self.label_shift_table()
        label_rows = "".join(
            f"<tr><td>{esc(str(r.group))}</td><td>{r.rows}</td><td>{r.disagreement:.1%}</td><td>{r.expected:.1%}</td>"
            f"<td>{r.threshold:.1%}</td><td>{'<b>flagged</b>' if r.flagged else ''}</td></tr>"
            for r in labels.itertuples())
        shifted = self.shift_table().head(8)
        shift_rows = "".join(f"<tr><td>{esc(r.feature)}</td><td>{esc(r.detail)}</td><td>{r.shift:.2f}</td>"
                             f"<td>{'<b>shifted</b>' if r.shifted else ''}</td></tr>" for r in shifted.itertuples())
        return (f"<div><p>Against the trusted version: {verdict} — {self.n_flagged} new rows flagged.</p>"
                + "".join(f"<p>{esc(r)}</p>" for r in self.reasons)
                + "<table><tr><th>added</th><th>changed</th><th>unchanged</th><th>removed</th></tr>"
                f"<tr>{delta}</tr></table>"
                "<p>Label shift seen by the trusted model (disagreement with the new labels):</p>"
                "<table><tr><th>group</th><th>rows</th><th>observed</th><th>expected</th><th>threshold</th><th></th></tr>"
                f"{label_rows}</table><p>Largest feature shifts (1.00 = threshold):</p>"
                f"<table><tr><th>feature</th><th>effect size</th><th>shift</th><th></th></tr>{shift_rows}</table></div>")

    def __str__(self) -> str:
        d = self.delta
        head = "SHIFT SUSPECTED" if self.suspected else "no suspicious shift"
        lines = [f"against the trusted version: {head}",
                 f"  {d['added']} added, {d['changed']} changed, {d['unchanged']} unchanged, {d['removed']} removed "
                 f"({d['new_fraction']:.1%} of the new version is new); {self.n_flagged} rows flagged"]
        lines += [f"  - {r}" for r in self.reasons]
        rel = (self.label_shift or {}).get("relabelled") or {}
        if rel.get("rows"):
            lines.append(f"  {rel['rows']} rows more likely relabelled than not (the labels' class mix moved, the "
                         "trusted model's predictions of the rows did not)")
        return "\n".join(lines)


def _as_dict(report: ReferenceReport | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(report, ReferenceReport):  # its sections are plain dicts already: no JSON round trip
        return {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    return report


def shift_table(report: ReferenceReport | Mapping[str, Any], source: str | None = None) -> pd.DataFrame:
    """Per-feature effect sizes of a comparison as a table, the largest shift first.

    ``shift`` is the effect size over its threshold, so 1 is where a column counts as shifted:
    numeric columns ``min(PSI / psi, W1 / wasserstein)`` (both must pass), categorical ones
    ``JS / js``, with the thresholds the comparison used.

    Parameters
    ----------
    report : ReferenceReport or mapping
        A :class:`ReferenceReport` or its dict (the ``reference`` section of a scan's ``report.json``).
    source : str, default=None
        One source's columns (a comparison made with ``source_column``); None: the focus rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``, ``kind``, ``shift``, ``detail``, ``shifted``; empty when nothing was tested.
    """
    d = _as_dict(report)
    if source is None:
        feats = (d.get("distribution") or {}).get("features")
    else:
        sources = d.get("sources") or {}
        if source not in sources:
            raise UsageError(f"no source {source!r} in this comparison; its sources are: {', '.join(map(str, sources))}")
        feats = sources[source].get("features")
    pol = {**DEFAULT_POLICY, **(d.get("parameters") or {})}
    rows = []
    for name, f in (feats or {}).items():
        if not isinstance(f, Mapping):
            continue
        if isinstance(f.get("psi"), (int, float)) and isinstance(f.get("wasserstein"), (int, float)):
            value = min(f["psi"] / float(pol["psi"]), f["wasserstein"] / float(pol["wasserstein"]))
            detail = f"PSI {f['psi']:.3g}, W1 {f['wasserstein']:.3g} sd"
        elif isinstance(f.get("js"), (int, float)):
            value, detail = f["js"] / float(pol["js"]), f"JS {f['js']:.3g}"
        else:
            continue
        rows.append({"feature": str(name), "kind": str(f.get("kind", "")), "shift": round(float(value), 6),
                     "detail": detail, "shifted": bool(f.get("shifted"))})
    frame = pd.DataFrame(rows, columns=["feature", "kind", "shift", "detail", "shifted"])
    return frame.sort_values("shift", ascending=False, kind="stable").reset_index(drop=True)


def label_shift_table(report: ReferenceReport | Mapping[str, Any]) -> pd.DataFrame:
    """The trusted model's disagreement with the new labels per group, as a table.

    One row per class of the focus rows (group ``class <c>``), then per source (``source <s>``) and
    per source and class (``source <s> / class <c>``) when the comparison had a ``source_column``.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``source``, ``class``, ``rows``, ``disagreement``, ``expected``,
        ``threshold``, ``flagged``; empty when the comparison had no labels.
    """
    d = _as_dict(report)
    cols = ["group", "source", "class", "rows", "disagreement", "expected", "threshold", "flagged"]
    keys = ["rows", "disagreement", "expected", "threshold", "flagged"]
    rows: list[dict[str, Any]] = []
    for c, v in ((d.get("label_shift") or {}).get("classes") or {}).items():
        rows.append({"group": f"class {c}", "source": None, "class": c, **{k: v.get(k) for k in keys}})
    for s, entry in (d.get("sources") or {}).items():
        ls = entry.get("label_shift")
        if not ls:
            continue
        rows.append({"group": f"source {s}", "source": s, "class": None, **{k: ls.get(k) for k in keys}})
        for c, v in (ls.get("classes") or {}).items():
            rows.append({"group": f"source {s} / class {c}", "source": s, "class": c, **{k: v.get(k) for k in keys}})
    return pd.DataFrame(rows, columns=cols)
