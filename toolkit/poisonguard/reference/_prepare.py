"""Preparing both versions (common encoding, common classes, row delta) and the inductive use of the detectors."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..data import Encoder, TabularDataset, sort_key
from ..errors import SchemaError, UsageError



@dataclasses.dataclass
class Prepared:
    """Both versions made comparable (built by :func:`prepare`, shared by the scan and :func:`compare`).

    Attributes
    ----------
    new, trusted : TabularDataset
        The versions; the source column is not a feature; ``new`` caches its encoding by the
        encoder fitted on ``trusted``.
    classes : list
        The trusted classes (sorted) followed by labels seen only in the new version.
    codes, trusted_codes : ndarray of int or None
        Label codes into ``classes`` (-1 for missing).
    status : ndarray of int8
        Per new row: 0 unchanged, 1 added, 2 changed.
    removed : ndarray of bool
        Per trusted row: no longer in the new version.
    previous_label : ndarray of object or None
        For changed rows, the label of the matching trusted row (None elsewhere).
    trusted_duplicated : ndarray of bool
        Per trusted row: its feature values occur in another trusted row too.
    trusted_in_new : ndarray of bool or None
        Per trusted row: the same row (every common column) occurs in the new version.
    schema : dict
        Columns added, removed, or of another kind in the new version.
    """

    new: TabularDataset
    trusted: TabularDataset
    classes: list[Any]
    codes: np.ndarray | None
    trusted_codes: np.ndarray | None
    status: np.ndarray
    removed: np.ndarray
    previous_label: np.ndarray | None
    schema: dict[str, Any]
    trusted_duplicated: np.ndarray
    source_column: str | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    trusted_in_new: np.ndarray | None = None

    def shift_base(self, min_rows: int) -> np.ndarray | None:
        """The trusted rows the focus rows' distributions are compared with (None: all of them).

        When the new version replaced most of the trusted rows (half or more removed: a batch,
        not an update of the trusted file), its rows that equal a trusted row are coincidental
        copies of common values — natural in data with few distinct values — and leaving them
        out of the focus rows alone would make the focus look shifted toward the rare values
        (breast-cancer-wisconsin, a random 40 % batch: 109 of 280 rows equal a trusted row, PSI
        0.28 against 0.02). Then the same values are left out of the trusted side too: the trusted
        rows that occur in the new version are not compared, when at least ``min_rows`` others remain.
        """
        if self.trusted_in_new is None or not self.trusted_in_new.any() or not self.removed.size:
            return None
        if self.removed.mean() < 0.5:
            return None
        rest = np.flatnonzero(~self.trusted_in_new)
        return rest if rest.size >= min_rows else None

    @property
    def focus(self) -> np.ndarray:
        """Mask of new rows that are added or changed: what the detectors look at."""
        return self.status > 0

    @property
    def n_classes_trusted(self) -> int:
        """Number of classes of the trusted data (the first entries of :attr:`classes`)."""
        return 0 if self.trusted_codes is None else int(len(self.trusted.classes_))


def _not_a_feature(ds: TabularDataset, column: str | None) -> TabularDataset:
    if column is None or column not in ds.frame.columns or ds.kinds.get(column) == "other":
        return ds
    return dataclasses.replace(ds, kinds={**ds.kinds, column: "other"})  # a copy encodes anew


def _isin(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    return pd.Series(values, dtype=object).isin(pd.Series(pool, dtype=object)).to_numpy()


def prepare(new: TabularDataset, trusted: TabularDataset, *, source_column: str | None = None,
            info: Mapping[str, Any] | None = None) -> Prepared:
    """Make two versions comparable: one encoder (fitted on ``trusted``), one class list, the row delta.

    Parameters
    ----------
    new, trusted : TabularDataset
        The new and the trusted version, with the same label column.
    source_column : str, default=None
        A column naming each row's source; it must be in ``new``. It is not used as a feature.
    info : mapping, default=None
        Where the trusted data came from (see :func:`load_reference`).

    Returns
    -------
    Prepared
    """
    if new.label != trusted.label:
        raise SchemaError(f"the label columns differ: {new.label!r} in the new data, {trusted.label!r} in the trusted")
    if source_column is not None and source_column not in new.frame.columns:
        shown = ", ".join(map(str, list(new.frame.columns)[:30]))
        raise SchemaError(f"no source column {source_column!r}; the columns are: {shown}. Pass --source-column "
                          "with one of them")
    if source_column is not None and source_column == new.label:
        raise UsageError("the source column cannot be the label column")
    trusted = _not_a_feature(trusted, source_column)
    new = _not_a_feature(new, source_column)
    # the new data must carry the trusted feature columns; Encoder.transform says which are missing
    encoder: Encoder = trusted.encoder
    new = new.encoded_by(encoder)

    cols_new, cols_tr = list(new.frame.columns), list(trusted.frame.columns)
    common = [c for c in cols_tr if c in set(cols_new)]
    schema = {"added_columns": [c for c in cols_new if c not in set(cols_tr)],
              "removed_columns": [c for c in cols_tr if c not in set(cols_new)],
              "kind_changes": {c: [trusted.kinds.get(c), new.kinds.get(c)] for c in common
                               if trusted.kinds.get(c) != new.kinds.get(c) and c != source_column}}

    # -- classes and codes
    classes: list[Any] = []
    codes = tcodes = None
    if new.label is not None:
        classes = list(trusted.classes_)
        seen = set(map(_class_key, classes))
        unseen = sorted({v for v in new.frame[new.label].dropna().unique().tolist() if _class_key(v) not in seen},
                        key=sort_key)
        classes += unseen
        codes = new.label_codes(classes)
        tcodes = trusted.label_codes(classes)

    # -- row delta, over the columns both versions have
    full_new = new.row_digests(common) if common != cols_new or common != cols_tr else new.row_digests()
    full_tr = trusted.row_digests(common) if common != cols_new or common != cols_tr else trusted.row_digests()
    unchanged = _isin(full_new, full_tr)
    previous = None
    if new.id_column is not None and new.id_column in trusted.frame.columns:
        ids_new = new.frame[new.id_column].astype(object).to_numpy()
        ids_tr = trusted.frame[new.id_column].astype(object).to_numpy()
        known = _isin(ids_new, ids_tr)
        removed = ~_isin(ids_tr, ids_new)
        key_new, key_tr = ids_new, ids_tr
    else:
        content = [c for c in common if c != new.label]
        if new.label is not None and content:
            key_new, key_tr = new.row_digests(content), trusted.row_digests(content)
            known = _isin(key_new, key_tr)
        else:
            key_new, key_tr = full_new, full_tr
            known = unchanged
        removed = ~_isin(key_tr, key_new)
    status = np.where(unchanged, 0, np.where(known, 2, 1)).astype(np.int8)
    if new.label is not None and (status == 2).any():
        lookup = pd.Series(trusted.frame[trusted.label].to_numpy(dtype=object), index=pd.Index(key_tr, dtype=object))
        lookup = lookup[~lookup.index.duplicated()]
        previous = np.full(new.n_rows, None, dtype=object)
        ch = np.flatnonzero(status == 2)
        previous[ch] = lookup.reindex(pd.Index(np.asarray(key_new, dtype=object)[ch])).to_numpy(dtype=object)
    feats = trusted.feature_columns
    dup = (pd.Series(trusted.row_digests(feats), dtype=object).duplicated(keep=False).to_numpy() if feats
           else np.zeros(trusted.n_rows, dtype=bool))
    return Prepared(new=new, trusted=trusted, classes=classes, codes=codes, trusted_codes=tcodes, status=status,
                    removed=removed, previous_label=previous, schema=schema, trusted_duplicated=dup,
                    source_column=source_column, info=dict(info or {}), trusted_in_new=_isin(full_tr, full_new))


def _class_key(v: Any) -> Any:
    return float(v) if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else v


def can_score_new(det: Any) -> bool:
    """Whether a detector can be fitted on the trusted rows and score new ones (it implements ``_score_raw``)."""
    from ..detectors import BaseDetector

    return type(det)._score_raw is not BaseDetector._score_raw


def fit_inductive(det: Any, prep: Prepared) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Fit ``det`` on the trusted rows and score the new focus rows.

    Returns the new rows scored, their suspicion, and the detector's report section (of its fit).
    """
    trusted = prep.trusted
    Xt = trusted.encode()
    rows = np.flatnonzero(prep.focus)
    y_new = None
    if det.requires_y:
        assert prep.trusted_codes is not None and prep.codes is not None
        lab = np.flatnonzero(prep.trusted_codes >= 0)
        view = trusted if lab.size == trusted.n_rows else trusted.take(lab)
        det.scan_fit(view, Xt[lab], prep.trusted_codes[lab])
        rows = rows[prep.codes[rows] >= 0]
        y_new = prep.codes[rows]
    else:
        view = trusted
        det.scan_fit(trusted, Xt, None)
        if prep.codes is not None:
            y_new = prep.codes[rows]
    X = prep.new.encode()
    sus = det.suspicion(X[rows], y_new) if rows.size else np.zeros(0)
    section = {"mode": "inductive: fitted on the trusted reference, scored the added and changed rows",
               "n_scored": int(rows.size), "fit": det.report_section(view)}
    return rows, np.asarray(sus, dtype=np.float64), section


def inductive_pvalues(det: Any, prep: Prepared, rows: np.ndarray, sus: np.ndarray) -> np.ndarray:
    """p-values of the new rows' suspicion (from :func:`fit_inductive`) against the trusted rows'.

    Split conformal (Vovk et al. 2005; for anomalies Laxhammar & Falkman 2015): the trusted rows
    are clean by assumption, so a new row's suspicion is ranked among the suspicions the fitted
    detector gave the trusted rows (``suspicion_``; per class for the detectors that read the
    label), ``(1 + #{trusted at least as suspicious}) / (1 + #trusted)``, continued by an
    exponential tail past the most suspicious trusted row
    (:func:`~poisonguard.evidence.class_conformal_pvalues`; where the trusted rows'
    top suspicions are all equal, the count's floor ``1 / (1 + #trusted)``). These p-values enter
    the scan's one decision like any detector's.
    """
    from ..evidence import class_conformal_pvalues

    cal = np.asarray(det.suspicion_, dtype=np.float64)
    if det.requires_y:
        assert prep.trusted_codes is not None and prep.codes is not None
        yc = prep.trusted_codes[prep.trusted_codes >= 0]
        yn = prep.codes[rows]
    else:
        yc, yn = np.zeros(cal.size, dtype=np.int64), np.zeros(rows.size, dtype=np.int64)
    stat = np.concatenate([cal, np.asarray(sus, dtype=np.float64)])
    ref = np.concatenate([np.ones(cal.size, dtype=bool), np.zeros(rows.size, dtype=bool)])
    return class_conformal_pvalues(stat, np.concatenate([yc, yn]), ref, flat=1.0)[cal.size:]


def inductive_batch_test(p: np.ndarray, pol: Mapping[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    """The batch decision of a detector fitted on the trusted rows that reads no label (``outliers``).

    ``p`` are the added and changed rows' split-conformal p-values (:func:`inductive_pvalues`).
    Under "the new rows are exchangeable with the trusted ones" Simes' test of them
    (:func:`~poisonguard.evidence.simes_pvalue`) is valid; at most ``outlier_alpha`` makes the batch
    suspected (policy ``gate_feature_outliers``). The rows behind it are those Benjamini-Hochberg
    at the same level rejects. Label detectors are left to the comparison's label-shift tests:
    their p-values are calibrated per class, and a small class's tail is too uncertain for a
    batch test at this level.
    """
    from ..evidence import bh_threshold, simes_pvalue

    alpha = float(pol["outlier_alpha"])
    p = np.asarray(p, dtype=np.float64)
    p_batch = simes_pvalue(p)
    t = bh_threshold(p, alpha)
    k = int((p <= t).sum()) if t > 0 else 0
    test = {"method": "Simes' test of the split-conformal p-values of the added and changed rows",
            "rows": int(p.size), "p": p_batch, "alpha": alpha, "rows_behind": k,
            "gates": bool(pol["gate_feature_outliers"])}
    if not (pol["gate_feature_outliers"] and p_batch <= alpha):
        return False, "", test
    why = (f"{k} of the {p.size} added or changed rows are unusual against the trusted rows "
           f"(Simes' test of their split-conformal p-values: p = {p_batch:.2g}; policy: at most {alpha:g})")
    return True, why, test
