"""``poisonguard.reference``: compare a new data version with a trusted one.

Poisoning usually arrives as an update. Compared with the version that was already trusted,
a poisoned update stands out in ways a scan of the new data alone cannot see, above all a
targeted flip of half or more of one class (which defeats single-dataset label-noise methods:
confident learning assumes fewer than half of each class are mislabelled). :func:`compare`
computes four things, for the whole new version and, with ``source_column``, per source:

**Row delta.** Row digests (:meth:`~poisonguard.data.TabularDataset.row_digests`, over the
columns both versions have) split the new rows into *unchanged* (the same row is in the trusted
version), *changed* (with an ``id_column``: the id is in the trusted version with other values;
without one: every column but the label matches a trusted row, i.e. a label edit) and *added*;
trusted rows that no longer appear are *removed*. Everything else looks only at the **focus**:
the added and changed rows. Unchanged rows were accepted before and are never flagged here.

**Label shift that a trusted model sees.** A gradient-boosted model fitted on the trusted rows
predicts the focus rows. Per class (and per source, and per source and class) the rate at which
it disagrees with the new labels is set against the rate expected from its own cross-validated
error on the trusted rows; a group is flagged when

    observed > expected + max(min_excess, z * sqrt(e (1 - e) (1/n_new + 1/n_trusted)))

(an effect-size margin and a sampling margin, both required; groups under ``min_rows`` rows are
reported, not flagged). The same test runs within two strata of each class, split at the median
confidence of the trusted model on the trusted rows (``core_quantile``, capped at 0.99): the
class's *core*, where natural label noise is rare and a few points of flipped labels stand out that
the class-wide rate hides (margin ``core_min_excess``), and the unsure *rest*, where flips placed
near the decision boundary land. Strata often expect almost no disagreement, so they use an exact
binomial test against the Wilson upper bound of the trusted rate instead of the normal margin.
The expected rate comes from the trusted rows whose feature values occur
only once there: cross-validation predicts a duplicated row from its twin in the training folds,
while focus rows are never copies of trusted rows. A class whose jump the flagged sources explain
(it is not flagged on the other sources' rows) is left to them. The disagreeing rows of a flagged
class or source-and-class group, and of a flagged source in the classes where it exceeds the
expected rate, are flagged with the reason. A label never seen in the trusted data is a finding by
itself (the row is flagged).

**Distribution shift with effect sizes, not p-values** (p-values flag everything at large n).
Numeric columns: population stability index over the trusted deciles (missing values in a bin of
their own) and the Wasserstein-1 distance in units of the trusted robust standard deviation
(IQR / 1.349, else the standard deviation). Categorical columns and the label: Jensen-Shannon
distance (base 2, in [0, 1]). PSI and JS are corrected for their small-sample bias (their
expected value when nothing shifted, ``(B - 1)(1/n_new + 1/n_trusted)`` for PSI over ``B`` bins,
an eighth of that over ``ln 2`` for the JS divergence), so that small sources are not flagged for
being small. A numeric column is shifted when both PSI >= ``psi`` and W1 >= ``wasserstein``
(a large change in shape *and* in location or scale); a categorical one when JS >= ``js``.

**Per source** (``source_column``): all of the above per value of the column. A source that the
trusted version also has (with at least ``min_shift_rows`` rows) is compared with its own trusted
rows; a new source with the whole trusted data. The source column is not used as a feature.

The batch is *suspected* (policy :data:`DEFAULT_POLICY`, every key overridable) when a class,
source or source-and-class group is flagged, a label is unseen, a feature is shifted in the
focus rows or in a source, or the label distribution shifted (for a new source its label mix is
reported only: sources differ in their class mix honestly).
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import Key, Policy
from ._kernel import js_divergence, robust_scale
from ._result import jsonable
from ._threads import threads_for
from .data import Encoder, TabularDataset, as_dataset, load_dataset, sort_key
from .errors import DataError, SchemaError, UsageError

__all__ = ["DEFAULT_POLICY", "NAME", "POLICY", "Prepared", "ReferenceReport", "can_score_new", "compare", "fit_inductive",
           "js_shift", "label_shift_table", "load_reference", "numeric_shift", "policy", "prepare", "shift_table"]

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
)
#: Defaults of :data:`POLICY`.
DEFAULT_POLICY: dict[str, Any] = dict(POLICY.defaults())

_MISSING = "<missing>"


# ---------------------------------------------------------------------------------------------
# loading the trusted version
# ---------------------------------------------------------------------------------------------
def _read_at_revision(path: Path, rev: str, *, label: str | None, id_column: str | None,
                      require_classes: int) -> tuple[TabularDataset, dict[str, Any]]:
    """Read ``path`` as it was at git revision ``rev``, through DVC (DVC-tracked or git-tracked files)."""
    import dvc.api
    from dvc.repo import Repo

    start = path.resolve().parent
    try:
        root = Path(Repo.find_root(str(start))).resolve()
    except Exception:  # noqa: BLE001 - dvc raises NotDvcRepoError; any failure means the same here
        raise DataError(f"{path}: not inside a DVC repository, so it cannot be read at revision {rev!r}; "
                        "run `dvc init` in the git repository, or give the trusted file with --reference") from None
    try:
        rel = path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise DataError(f"{path}: outside the DVC repository {root}; give a path inside it") from None
    suffix = "".join(Path(rel).suffixes[-2:]) or ".csv"
    with tempfile.TemporaryDirectory(prefix="poisonguard-ref-") as tmp:
        dst = Path(tmp) / f"reference{suffix}"
        try:
            with dvc.api.open(rel, repo=str(root), rev=rev, mode="rb") as src, open(dst, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except Exception as exc:  # noqa: BLE001 - converted to one helpful line, not swallowed
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"cannot read {rel} at revision {rev!r} through DVC ({msg}); check that the revision "
                            "exists, that the file was tracked then, and that its data is in the DVC cache "
                            f"(`dvc fetch --rev {rev}` pulls it from the remote)") from None
        ds = load_dataset(dst, label=label, id_column=id_column, require_classes=require_classes)
    ds = dataclasses.replace(ds, path=None)
    return ds, {"path": rel, "rev": rev, "repo": str(root), "sha256": ds.sha256}


def load_reference(new: TabularDataset, reference: str | os.PathLike[str] | TabularDataset | pd.DataFrame | None,
                   rev: str | None = None, *, require_classes: int = 0) -> tuple[TabularDataset, dict[str, Any]]:
    """Load the trusted version of ``new``.

    Parameters
    ----------
    new : TabularDataset
        The new version (its label and id column are used for the trusted one too).
    reference : path, TabularDataset, pandas.DataFrame or None
        The trusted data. With ``rev``, a path inside the repository (default: ``new``'s own path).
    rev : str, default=None
        A git revision (``HEAD~1``, a tag, a commit): the file is read as it was at that revision
        through :func:`dvc.api.open` (DVC-tracked files come from the DVC cache or remote). The
        path is taken relative to the root of the DVC repository that holds it.
    require_classes : int, default=0
        Raise :class:`~poisonguard.errors.DataError` when the trusted label has fewer classes.

    Returns
    -------
    trusted : TabularDataset
    info : dict
        Path, revision, SHA-256 and row count, for the report.
    """
    label, id_column = new.label, new.id_column
    if rev is not None:
        if reference is None:
            if new.path is None:
                raise UsageError("--reference-rev alone reads the scanned file at that revision, so the data must be "
                                 "given as a path; or name the trusted file with --reference PATH --reference-rev REV")
            target = new.path
        elif isinstance(reference, (str, os.PathLike)):
            target = Path(reference)
        else:
            raise UsageError("reference_rev needs the reference as a path (or none: the scanned file's own path)")
        ds, info = _read_at_revision(target, rev, label=label, id_column=id_column, require_classes=require_classes)
    elif reference is not None:
        if isinstance(reference, TabularDataset) and label is not None and label not in reference.frame.columns:
            raise SchemaError(f"the trusted data has no label column {label!r}; give data with the same columns")
        ds = as_dataset(reference, label=label, id_column=id_column, require_classes=require_classes,
                        what="the trusted reference")
        info = {"path": str(ds.path) if ds.path else None, "rev": None, "sha256": ds.sha256}
    else:
        raise UsageError("no trusted reference given: pass --reference PATH and/or --reference-rev REV")
    info["rows"] = ds.n_rows
    info["format"] = ds.format
    return ds, info


# ---------------------------------------------------------------------------------------------
# preparing both versions: common encoding, common classes, row delta
# ---------------------------------------------------------------------------------------------
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
                    source_column=source_column, info=dict(info or {}))


def _class_key(v: Any) -> Any:
    return float(v) if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else v


# ---------------------------------------------------------------------------------------------
# inductive use of the detectors (for the scan)
# ---------------------------------------------------------------------------------------------
def can_score_new(det: Any) -> bool:
    """Whether a detector can be fitted on the trusted rows and score new ones (it implements ``_score_raw``)."""
    from .detectors import BaseDetector

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


# ---------------------------------------------------------------------------------------------
# effect sizes
# ---------------------------------------------------------------------------------------------
def _numeric(ds: TabularDataset, col: str) -> np.ndarray:
    return pd.to_numeric(ds.frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def numeric_shift(trusted: np.ndarray, new: np.ndarray, bins: int = 10) -> dict[str, float]:
    """PSI (deciles of ``trusted``, missing values binned apart) and scaled Wasserstein-1 of two samples.

    Returns ``psi`` (bias-corrected: its expected value without shift subtracted), ``psi_raw``,
    ``wasserstein`` (in trusted robust standard deviations), and the missing rates.
    """
    from scipy.stats import wasserstein_distance

    ft, fn = np.isfinite(trusted), np.isfinite(new)
    tv, nv = trusted[ft], new[fn]
    edges = np.unique(np.quantile(tv, np.linspace(0, 1, bins + 1)[1:-1])) if tv.size else np.zeros(0)

    def hist(v: np.ndarray, finite: np.ndarray) -> np.ndarray:
        c = np.bincount(np.searchsorted(edges, v[finite], side="left"), minlength=edges.size + 1).astype(np.float64)
        return np.append(c, float((~finite).sum()))

    ct, cn = hist(trusted, ft), hist(new, fn)
    keep = (ct + cn) > 0
    ct, cn = ct[keep], cn[keep]
    b = ct.size
    pt = (ct + 0.5) / (ct.sum() + 0.5 * b)
    pn = (cn + 0.5) / (cn.sum() + 0.5 * b)
    psi_raw = float(np.sum((pn - pt) * np.log(pn / pt)))
    null = (b - 1) * (1.0 / max(trusted.size, 1) + 1.0 / max(new.size, 1))
    w = float(wasserstein_distance(tv, nv) / robust_scale(tv)) if tv.size and nv.size else 0.0
    return {"psi": max(psi_raw - null, 0.0), "psi_raw": psi_raw, "wasserstein": w,
            "missing_trusted": float(1 - ft.mean()) if trusted.size else 0.0,
            "missing_new": float(1 - fn.mean()) if new.size else 0.0}


def _category_counts(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), _MISSING).map(str).value_counts()


def js_shift(trusted_counts: pd.Series, new_counts: pd.Series) -> dict[str, float]:
    """Jensen-Shannon distance (base 2) of two count vectors, raw and corrected for sample size."""
    idx = trusted_counts.index.union(new_counts.index)
    a = trusted_counts.reindex(idx, fill_value=0).to_numpy(dtype=np.float64)
    b = new_counts.reindex(idx, fill_value=0).to_numpy(dtype=np.float64)
    na, nb = a.sum(), b.sum()
    if na == 0 or nb == 0:
        return {"js": 0.0, "js_raw": 0.0}
    jsd = js_divergence(a, b)
    null = (idx.size - 1) * (1 / na + 1 / nb) / (8 * math.log(2))
    return {"js": math.sqrt(max(jsd - null, 0.0)), "js_raw": math.sqrt(jsd)}


def _distribution(trusted: TabularDataset, t_rows: np.ndarray | None, new: TabularDataset, n_rows: np.ndarray,
                  columns: Sequence[str], pol: Mapping[str, Any]) -> dict[str, Any]:
    """Per-column effect sizes of ``new[n_rows]`` against ``trusted[t_rows]`` (None: all trusted rows)."""
    out: dict[str, Any] = {}
    for col in columns:
        kind = trusted.kinds[col]
        if kind == "numeric":
            tv = _numeric(trusted, col)
            st = numeric_shift(tv if t_rows is None else tv[t_rows], _numeric(new, col)[n_rows], int(pol["bins"]))
            shifted = st["psi"] >= pol["psi"] and st["wasserstein"] >= pol["wasserstein"]
        else:
            ts = trusted.frame[col] if t_rows is None else trusted.frame[col].iloc[t_rows]
            st = js_shift(_category_counts(ts), _category_counts(new.frame[col].iloc[n_rows]))
            shifted = st["js"] >= pol["js"]
        out[col] = {"kind": kind, **{k: round(v, 4) for k, v in st.items()}, "shifted": bool(shifted)}
    return out


def _shift_text(col: str, st: Mapping[str, Any]) -> str:
    if st["kind"] == "numeric":
        return f"{col!r} (PSI {st['psi']:.2f}, W1 {st['wasserstein']:.2f} sd)"
    return f"{col!r} (JS {st['js']:.2f})"


def _shares(counts: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    tot = counts.sum()
    return {n: round(float(c / tot), 4) if tot else 0.0 for n, c in zip(names, counts) if c > 0}


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
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
        The trusted model's disagreement per class: observed, expected, threshold, flagged; unseen labels.
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


def policy(params: Mapping[str, Any] | None = None, *, where: str = f"scan.{NAME}") -> dict[str, Any]:
    """:data:`POLICY`'s defaults with ``params`` applied; unknown keys and bad values raise
    :class:`~poisonguard.errors.ConfigError` (see :meth:`poisonguard.config.Policy.validate`)."""
    return dict(POLICY.validate(params, where=where))


def _trusted_model(X: np.ndarray, y: np.ndarray, Xq: np.ndarray, k: int, cv: int,
                   seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities on the trusted rows and probabilities of the query rows."""
    from sklearn.base import clone

    from .detectors.label_flip import MAX_TRAIN_ROWS, default_estimator, oof_proba

    counts = np.bincount(y, minlength=k)
    est = default_estimator(seed, int(counts[counts > 0].min()))
    oof = oof_proba(est, X, y, k, cv=cv, random_state=seed, max_train_rows=MAX_TRAIN_ROWS)
    fit_rows = np.arange(y.size)
    if y.size > MAX_TRAIN_ROWS:
        fit_rows = np.sort(np.random.default_rng(seed).choice(y.size, size=MAX_TRAIN_ROWS, replace=False))
    proba = np.zeros((Xq.shape[0], k))
    if Xq.shape[0]:
        with threads_for(fit_rows.size):
            model = clone(est).fit(X[fit_rows], y[fit_rows])
        proba[:, model.classes_] = model.predict_proba(Xq)
    return oof, proba


class _GroupTest:
    """Disagreement of one grouping (classes, sources, source-and-class) against its expectation."""

    def __init__(self, n: np.ndarray, d: np.ndarray, expected: np.ndarray, var: np.ndarray,
                 pol: Mapping[str, Any]) -> None:
        self.n = n
        self.rate = np.divide(d, n, out=np.zeros(n.shape), where=n > 0)
        self.expected = expected
        margin = np.maximum(float(pol["min_excess"]), float(pol["z"]) * np.sqrt(np.maximum(var, 0.0)))
        self.threshold = np.minimum(expected + margin, 1.0)
        self.flagged = (n >= int(pol["min_rows"])) & (self.rate > self.threshold)

    def row(self, i: int) -> dict[str, Any]:
        return {"rows": int(self.n[i]), "disagreement": round(float(self.rate[i]), 4),
                "expected": round(float(self.expected[i]), 4), "threshold": round(float(self.threshold[i]), 4),
                "flagged": bool(self.flagged[i])}


class _StratumTest(_GroupTest):
    """Disagreement in one confidence stratum of each class, where expected rates are often near 0.

    Exact binomial test (normal approximations fail for a handful of expected disagreements): the
    new rows' disagreement count against the Wilson upper bound (``z``) of the trusted rate, at the
    one-sided level of ``z`` standard deviations; and the rate must exceed the expected one by ``excess``.
    """

    def __init__(self, n: np.ndarray, d: np.ndarray, expected: np.ndarray, n_trusted: np.ndarray, excess: float,
                 pol: Mapping[str, Any]) -> None:
        from scipy.stats import binom, norm

        z = float(pol["z"])
        self.n = n
        self.rate = np.divide(d, n, out=np.zeros(n.shape), where=n > 0)
        self.expected = expected
        nt = np.maximum(n_trusted, 1.0)
        upper = (expected + z * z / (2 * nt) + z * np.sqrt(expected * (1 - expected) / nt + z * z / (4 * nt * nt))) \
            / (1 + z * z / nt)
        critical = binom.isf(norm.sf(z), n.astype(np.int64), np.clip(upper, 0.0, 1.0))
        self.threshold = np.minimum(np.maximum(expected + excess, np.divide(critical, n, out=np.ones(n.shape),
                                                                            where=n > 0)), 1.0)
        self.flagged = (n >= int(pol["min_rows"])) & (n_trusted >= int(pol["min_rows"])) & (self.rate > self.threshold)


@dataclasses.dataclass
class _Findings:
    """What the steps of :func:`compare` find, in the order they find it."""

    reasons: list[str]
    suspicion: np.ndarray
    row_reasons: dict[int, str]


@dataclasses.dataclass
class _Sources:
    """The new rows' source codes and names, and the trusted rows' source names (when it has the column)."""

    codes: np.ndarray
    names: list[str]
    trusted: np.ndarray | None


def _row_delta(prep: Prepared) -> dict[str, Any]:
    """The ``delta`` section: added, changed, unchanged and removed rows, and the label edits."""
    new, trusted, status, focus = prep.new, prep.trusted, prep.status, prep.focus
    n = new.n_rows
    delta: dict[str, Any] = {
        "rows_new": n, "rows_trusted": trusted.n_rows,
        "added": int((status == 1).sum()), "changed": int((status == 2).sum()),
        "unchanged": int((status == 0).sum()), "removed": int(prep.removed.sum()),
        "new_fraction": round(float(focus.mean()), 6) if n else 0.0,
        "identity": "id column" if new.id_column and new.id_column in trusted.frame.columns else "row digests",
    }
    if prep.previous_label is not None:
        ch = np.flatnonzero(status == 2)
        pairs = pd.DataFrame({"from": pd.Series(prep.previous_label[ch], dtype=object).map(str),
                              "to": new.frame[new.label].iloc[ch].astype(object).map(str).to_numpy()})
        pairs = pairs[pairs["from"] != pairs["to"]]
        edits = pairs.value_counts().reset_index(name="rows")
        delta["label_edits"] = [{"from": a, "to": b, "rows": int(r)} for a, b, r in edits.itertuples(index=False)][:50]
        delta["n_label_edits"] = int(len(pairs))
    return delta


def _sources(prep: Prepared) -> _Sources | None:
    """Source codes of the new rows (None without a source column)."""
    source_column = prep.source_column
    if source_column is None:
        return None

    def as_names(s: pd.Series) -> np.ndarray:
        return s.astype(object).where(s.notna(), _MISSING).map(str).to_numpy(dtype=object)

    new_src = as_names(prep.new.frame[source_column])
    src_codes_, uniq = pd.factorize(new_src, sort=True)
    tsrc = as_names(prep.trusted.frame[source_column]) if source_column in prep.trusted.frame.columns else None
    return _Sources(src_codes_.astype(np.int64), [str(u) for u in uniq], tsrc)


def _unseen_labels(codes: np.ndarray, focus: np.ndarray, k: int, pol: Mapping[str, Any], names: Sequence[str],
                   found: _Findings) -> dict[str, int]:
    """Focus rows whose label the trusted data never has (code >= ``k``): each flagged, counted per label."""
    unseen = np.flatnonzero(focus & (codes >= k))
    unseen_counts = {names[c]: int(v) for c, v in enumerate(np.bincount(codes[unseen], minlength=len(names)))
                     if v > 0}
    if unseen.size:
        found.suspicion[unseen] = 1.0
        for r in unseen.tolist():
            found.row_reasons[r] = f"{NAME}: label {names[codes[r]]!r} never occurs in the trusted data"
        if pol["gate_unseen_labels"]:
            shown = ", ".join(f"{c!r} ({v})" for c, v in list(unseen_counts.items())[:5])
            found.reasons.append(f"{unseen.size} new rows carry labels never seen in the trusted data: {shown}")
    return unseen_counts


def _model_probabilities(prep: Prepared, tcodes: np.ndarray, lt: np.ndarray, lrows: np.ndarray, pol: Mapping[str, Any],
                         seed: int | None, model_proba: tuple[np.ndarray, np.ndarray] | None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The trusted model's out-of-fold probabilities on the trusted rows ``lt`` and its probabilities on
    the focus rows ``lrows`` (fitted here unless ``model_proba`` gives them)."""
    k = prep.n_classes_trusted
    Xn = prep.new.encode()
    if model_proba is None and lrows.size == 0:  # nothing new to test: no model to fit
        return np.eye(k)[tcodes[lt]], np.zeros((0, k))
    if model_proba is None:
        return _trusted_model(prep.trusted.encode()[lt], tcodes[lt], Xn[lrows], k, int(pol["cv"]), seed)
    oof, proba = (np.asarray(a, dtype=np.float64) for a in model_proba)
    if oof.shape != (lt.size, k) or proba.shape != (lrows.size, k):
        raise UsageError(f"model_proba must have shapes {(lt.size, k)} and {(lrows.size, k)}; got "
                         f"{oof.shape} and {proba.shape}")
    return oof, proba


@dataclasses.dataclass
class _Expected:
    """Expected disagreement per class, from the trusted model's cross-validated error on the trusted rows."""

    yt: np.ndarray  # trusted labels (of the labelled trusted rows)
    dis_t: np.ndarray  # the model disagrees with them (out of fold)
    use: np.ndarray  # the trusted rows the rates come from
    nt_c: np.ndarray  # per class: trusted rows used
    e_c: np.ndarray  # per class: expected rate
    ve_c: np.ndarray  # per class: variance of e_c


def _expected_rates(prep: Prepared, tcodes: np.ndarray, lt: np.ndarray, oof: np.ndarray,
                    pol: Mapping[str, Any]) -> _Expected:
    k = prep.n_classes_trusted
    yt = tcodes[lt]
    dis_t = oof.argmax(axis=1) != yt
    # Expected rates from trusted rows whose features occur once: a duplicated row's twin sits in the
    # training folds and is predicted from memory, while focus rows are never exact copies of trusted
    # rows (counting duplicates made real data, e.g. wine quality, look shifted when it is not).
    once = ~prep.trusted_duplicated[lt]
    n_once = np.bincount(yt[once], minlength=k)
    use = once | (n_once[yt] < int(pol["min_rows"]))  # classes with too few unique rows: all their rows
    nt_c = np.bincount(yt[use], minlength=k).astype(np.float64)
    e_c = np.divide(np.bincount(yt[use], weights=dis_t[use], minlength=k), nt_c, out=np.zeros(k), where=nt_c > 0)
    ve_c = np.divide(e_c * (1 - e_c), nt_c, out=np.zeros(k), where=nt_c > 0)  # variance of e_c
    return _Expected(yt, dis_t, use, nt_c, e_c, ve_c)


def _strata(ex: _Expected, oof: np.ndarray, proba: np.ndarray, y: np.ndarray, dis: np.ndarray, k: int,
            pol: Mapping[str, Any]) -> tuple[float, list[tuple[str, np.ndarray, _StratumTest]]]:
    """The confidence threshold of the classes' cores and the test of each stratum (``core``, ``rest``)."""
    # per class and stratum of the trusted model's confidence: natural label noise sits where the
    # model is unsure, so within a class's "core" (the rows the model is surest about, expected
    # disagreement near 0) a few points of flipped labels stand out that the class-wide rate hides;
    # boundary flips raise the disagreement of the unsure rest.
    # (capped at 0.99: a model that is certain about most rows puts them all in the core)
    use, yt, dis_t = ex.use, ex.yt, ex.dis_t
    conf_t = oof.max(axis=1)
    t_core = min(float(np.quantile(conf_t[use], float(pol["core_quantile"]))), 0.99) if use.any() else 0.99
    core_t = conf_t >= t_core
    core_n = proba.max(axis=1) >= t_core
    strata = []
    for name_s, in_t, in_n, excess in (("core", core_t, core_n, pol["core_min_excess"]),
                                       ("rest", ~core_t, ~core_n, pol["min_excess"])):
        sel_t = use & in_t
        nt_s = np.bincount(yt[sel_t], minlength=k).astype(np.float64)
        e_s = np.divide(np.bincount(yt[sel_t], weights=dis_t[sel_t], minlength=k), nt_s, out=np.zeros(k),
                        where=nt_s > 0)
        n_st = np.bincount(y[in_n], minlength=k).astype(np.float64)
        d_st = np.bincount(y[in_n], weights=dis[in_n], minlength=k)
        test = _StratumTest(n_st, d_st, e_s, nt_s, float(excess), pol)
        strata.append((name_s, in_n, test))
    return t_core, strata


@dataclasses.dataclass
class _SourceTests:
    """The label-shift tests per source and per source-and-class (``m`` sources, ``k`` classes)."""

    sy: np.ndarray  # source code of each tested row
    n_s: np.ndarray
    d_s: np.ndarray
    n_sc: np.ndarray  # (m, k)
    exp_s: np.ndarray
    srt: _GroupTest  # per source
    sct: _GroupTest  # per source-and-class, flattened (s * k + c)
    cell_flag: np.ndarray  # (m, k)
    cell_excess: np.ndarray  # (m, k)
    explained: np.ndarray  # (k,): the class's jump is the flagged sources'
    fav_s: np.ndarray  # (m, k): the classes the model favours for each source's disagreeing rows


def _source_tests(codes_s: np.ndarray, m: int, y: np.ndarray, dis: np.ndarray, pred: np.ndarray, ex: _Expected,
                  n_c: np.ndarray, d_c: np.ndarray, class_flag: np.ndarray, k: int,
                  pol: Mapping[str, Any]) -> _SourceTests:
    e_c, ve_c = ex.e_c, ex.ve_c
    sy = codes_s
    n_s = np.bincount(sy, minlength=m).astype(np.float64)
    d_s = np.bincount(sy, weights=dis, minlength=m)
    n_sc = np.bincount(sy * k + y, minlength=m * k).astype(np.float64).reshape(m, k)
    d_sc = np.bincount(sy * k + y, weights=dis, minlength=m * k).reshape(m, k)
    exp_s = np.divide(n_sc @ e_c, n_s, out=np.zeros(m), where=n_s > 0)
    var_s = (np.divide(n_sc @ (e_c * (1 - e_c)), n_s**2, out=np.zeros(m), where=n_s > 0)
             + np.divide((n_sc**2) @ ve_c, n_s**2, out=np.zeros(m), where=n_s > 0))
    srt = _GroupTest(n_s, d_s, exp_s, var_s, pol)
    var_sc = e_c[None, :] * (1 - e_c[None, :]) * np.divide(1.0, n_sc, out=np.zeros((m, k)),
                                                             where=n_sc > 0) + ve_c[None, :]
    sct = _GroupTest(n_sc.ravel(), d_sc.ravel(), np.tile(e_c, m), var_sc.ravel(), pol)
    cell_flag = sct.flagged.reshape(m, k)
    # within a flagged source, the classes whose disagreement exceeds the expected rate by min_excess
    cell_excess = sct.rate.reshape(m, k) > e_c[None, :] + float(pol["min_excess"])
    # a class jump that the flagged sources explain is theirs, not the class's: retest without them
    rest_n = n_c - n_sc[srt.flagged].sum(axis=0)
    rest_d = d_c - d_sc[srt.flagged].sum(axis=0)
    var_r = e_c * (1 - e_c) * np.divide(1.0, rest_n, out=np.zeros(k), where=rest_n > 0) + ve_c
    rest = _GroupTest(rest_n, rest_d, e_c, var_r, pol)
    explained = class_flag & srt.flagged.any() & (rest_n >= int(pol["min_rows"])) & ~rest.flagged
    fav_s = np.zeros((m, k))
    np.add.at(fav_s, (sy[dis], pred[dis]), 1.0)
    return _SourceTests(sy, n_s, d_s, n_sc, exp_s, srt, sct, cell_flag, cell_excess, explained, fav_s)


def _label_shift(prep: Prepared, codes: np.ndarray, tcodes: np.ndarray, pol: Mapping[str, Any], seed: int | None,
                 model_proba: tuple[np.ndarray, np.ndarray] | None, src: _Sources | None,
                 found: _Findings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``label_shift`` section and each source's ``label_shift`` (keyed by source name).

    Flags unseen labels and the disagreeing rows of flagged groups in ``found``.
    """
    k = prep.n_classes_trusted
    names = [str(c) for c in prep.classes]
    frows = np.flatnonzero(prep.focus)
    unseen_counts = _unseen_labels(codes, prep.focus, k, pol, names, found)
    # the trusted model
    lt = np.flatnonzero(tcodes >= 0)
    lrows = frows[(codes[frows] >= 0) & (codes[frows] < k)]
    oof, proba = _model_probabilities(prep, tcodes, lt, lrows, pol, seed, model_proba)
    ex = _expected_rates(prep, tcodes, lt, oof, pol)
    e_c, ve_c = ex.e_c, ex.ve_c
    y = codes[lrows]
    pred = proba.argmax(axis=1)
    dis = pred != y
    own = proba[np.arange(y.size), y]
    other = proba.copy()
    other[np.arange(y.size), y] = -1.0
    best_other = other.max(axis=1)
    s_row = np.divide(best_other, best_other + own, out=np.full(y.size, 0.5), where=(best_other + own) > 0)
    # per class
    n_c = np.bincount(y, minlength=k).astype(np.float64)
    d_c = np.bincount(y, weights=dis, minlength=k)
    var_c = e_c * (1 - e_c) * np.divide(1.0, n_c, out=np.zeros(k), where=n_c > 0) + ve_c
    cls = _GroupTest(n_c, d_c, e_c, var_c, pol)
    fav_c = np.zeros((k, k))
    np.add.at(fav_c, (y[dis], pred[dis]), 1.0)
    class_flag = cls.flagged.copy()
    explained = np.zeros(k, dtype=bool)
    t_core, strata = _strata(ex, oof, proba, y, dis, k, pol)
    # per source and per source-and-class
    st: _SourceTests | None = None
    if src is not None:
        st = _source_tests(src.codes[lrows], len(src.names), y, dis, pred, ex, n_c, d_c, class_flag, k, pol)
        explained = st.explained
        class_flag &= ~explained
    # rows: disagreeing rows of a flagged class, of a flagged source-and-class cell, or of a flagged
    # source in a class where it exceeds the expected rate; reasons from the most specific group
    flagged_row = np.zeros(y.size, dtype=bool)
    why_row = np.full(y.size, -1, dtype=np.int64)
    texts: list[str] = []

    def mark(hit: np.ndarray, text: str) -> None:
        texts.append(text)
        if pol["gate_label_shift"]:
            found.reasons.append(text)
        new_hit = hit & dis & ~flagged_row
        why_row[new_hit] = len(texts) - 1
        flagged_row[new_hit] = True

    if src is not None and st is not None:
        sy, srt, sct = st.sy, st.srt, st.sct
        for s in range(len(src.names)):
            for c in np.flatnonzero(st.cell_flag[s] & ~class_flag & ~srt.flagged[s]).tolist():
                i = s * k + c
                mark((sy == s) & (y == c),
                     f"source {src.names[s]!r}, class {names[c]!r}: the trusted model disagrees with "
                     f"{sct.rate[i]:.1%} of {int(st.n_sc[s, c])} new rows (expected {e_c[c]:.1%}, policy: "
                     f"at most {sct.threshold[i]:.1%}); it favours {names[int(st.fav_s[s].argmax())]!r}")
            if srt.flagged[s]:
                mark((sy == s) & st.cell_excess[s][y],
                     f"source {src.names[s]!r}: the trusted model disagrees with {srt.rate[s]:.1%} of its "
                     f"{int(st.n_s[s])} new labelled rows (expected {st.exp_s[s]:.1%} for its class mix, policy: "
                     f"at most {srt.threshold[s]:.1%})")
    stratum_text = {"core": "that the trusted model is surest about", "rest": "that the trusted model is unsure about"}
    strata_flag = np.zeros(k, dtype=bool)
    for name_s, in_n, test in strata:
        for c in np.flatnonzero(test.flagged & ~class_flag & ~explained).tolist():
            strata_flag[c] = True
            mark((y == c) & in_n,
                 f"class {names[c]!r}: among the {int(test.n[c])} new rows labelled {names[c]!r} "
                 f"{stratum_text[name_s]} (confidence {'>=' if name_s == 'core' else '<'} {t_core:.2f}), it "
                 f"disagrees with {test.rate[c]:.1%} (expected {test.expected[c]:.1%}, policy: at most "
                 f"{test.threshold[c]:.1%}); it favours {names[int(fav_c[c].argmax())]!r}")
    class_rows: dict[str, Any] = {}
    for c in range(k):
        entry: dict[str, Any] = cls.row(c)
        entry["strata"] = {name_s: test.row(c) for name_s, _, test in strata}
        entry["flagged"] = bool(class_flag[c] or strata_flag[c])
        entry["trusted_rows"] = int(ex.nt_c[c])
        if explained[c]:
            entry["explained_by_sources"] = True
        if d_c[c] > 0:
            entry["favoured"] = names[int(fav_c[c].argmax())]
        class_rows[names[c]] = entry
        if class_flag[c]:
            mark(y == c, f"class {names[c]!r}: the trusted model disagrees with {cls.rate[c]:.1%} of the "
                         f"{int(n_c[c])} new rows labelled {names[c]!r} (expected {e_c[c]:.1%} from its "
                         f"cross-validated error, policy: at most {cls.threshold[c]:.1%}); it favours "
                         f"{entry['favoured']!r} for most of them")
    label_shift = {
        "model": "gradient boosting fitted on the trusted rows; expected rates from its "
                 f"{int(pol['cv'])}-fold cross-validated error there",
        "rows_tested": int(y.size),
        "disagreement": round(float(dis.mean()), 4) if y.size else 0.0,
        "expected": round(float(np.sum(e_c * n_c) / max(n_c.sum(), 1)), 4),
        "classes": class_rows, "unseen_labels": unseen_counts,
        "core_confidence": round(t_core, 4),
        "flagged_classes": [names[c] for c in np.flatnonzero(class_flag | strata_flag).tolist()],
    }
    groups: dict[str, Any] = {}
    if src is not None and st is not None:
        for s in range(len(src.names)):
            g: dict[str, Any] = {"label_shift": {**st.srt.row(s), "classes": {}}}
            if st.d_s[s] > 0:
                g["label_shift"]["favoured"] = names[int(st.fav_s[s].argmax())]
            for c in np.flatnonzero(st.n_sc[s] > 0).tolist():
                g["label_shift"]["classes"][names[c]] = st.sct.row(s * k + c)
            groups[src.names[s]] = g

    # per-row suspicion: disagreeing rows of flagged groups above 0.5, everything else at most 0.5
    # (s_row = p(best other) / (p(best other) + p(label)) in [0, 1], >= 0.5 for disagreeing rows)
    found.suspicion[lrows] = np.where(flagged_row, 0.5 + 0.5 * s_row, 0.5 * s_row)
    prev = prep.previous_label
    for i in np.flatnonzero(flagged_row).tolist():
        r = int(lrows[i])
        text = (f"{NAME}: labelled {names[y[i]]!r} but the trusted model favours {names[pred[i]]!r} "
                f"(p={proba[i, pred[i]]:.2f} vs {own[i]:.2f}); {texts[why_row[i]]}")
        if prev is not None and prev[r] is not None and str(prev[r]) != names[y[i]]:
            text += f"; label edited from {str(prev[r])!r} in the trusted version"
        found.row_reasons[r] = text
    return label_shift, groups


def _label_counts(codes: np.ndarray, kk: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=kk)


def _focus_distribution(prep: Prepared, features: Sequence[str], pol: Mapping[str, Any],
                        found: _Findings) -> dict[str, Any]:
    """The ``distribution`` section: feature and label shift of the focus rows against the trusted data."""
    new, trusted = prep.new, prep.trusted
    frows = np.flatnonzero(prep.focus)
    names = [str(c) for c in prep.classes]
    min_shift = int(pol["min_shift_rows"])
    distribution: dict[str, Any] = {"rows": int(frows.size), "tested": bool(frows.size >= min_shift)}
    if not frows.size:
        return distribution
    feats = _distribution(trusted, None, new, frows, features, pol)
    distribution["features"] = feats
    shifted = [c for c, st in feats.items() if st["shifted"]]
    distribution["shifted_features"] = shifted
    if shifted and frows.size >= min_shift and pol["gate_feature_shift"]:
        shown = ", ".join(_shift_text(c, feats[c]) for c in shifted[:3])
        more = f" and {len(shifted) - 3} more" if len(shifted) > 3 else ""
        found.reasons.append(f"the added and changed rows are shifted against the trusted data in {len(shifted)} "
                             f"column(s): {shown}{more} (policy: PSI >= {pol['psi']:g} and W1 >= "
                             f"{pol['wasserstein']:g} sd, or JS >= {pol['js']:g})")
    if new.label is not None and prep.codes is not None and prep.trusted_codes is not None:
        kk = len(names)
        cn = _label_counts(prep.codes[frows], kk)
        ct = _label_counts(prep.trusted_codes, kk)
        st = js_shift(pd.Series(ct, index=names), pd.Series(cn, index=names))
        sh_t, sh_n = _shares(ct, names), _shares(cn, names)
        lab: dict[str, Any] = {**{k2: round(v, 4) for k2, v in st.items()}, "trusted": sh_t, "new": sh_n,
                               "shifted": bool(st["js"] >= pol["label_js"])}
        distribution["label"] = lab
        if lab["shifted"] and frows.size >= min_shift and pol["gate_label_distribution"]:
            moves = sorted(names, key=lambda c: -abs(sh_n.get(c, 0) - sh_t.get(c, 0)))[:2]
            shown = ", ".join(f"{c!r} {sh_t.get(c, 0):.1%} -> {sh_n.get(c, 0):.1%}" for c in moves)
            found.reasons.append(f"the label distribution of the added and changed rows shifted: JS distance "
                                 f"{st['js']:.2f} (policy: below {pol['label_js']:g}); {shown}")
    return distribution


def _per_source(prep: Prepared, src: _Sources, groups: Mapping[str, Any], features: Sequence[str],
                pol: Mapping[str, Any], found: _Findings) -> dict[str, Any]:
    """The ``sources`` section: each source's delta, label shift (from ``groups``) and distributions."""
    new, trusted, status, focus = prep.new, prep.trusted, prep.status, prep.focus
    src_codes, tsrc = src.codes, src.trusted
    names = [str(c) for c in prep.classes]
    min_shift = int(pol["min_shift_rows"])
    sources: dict[str, Any] = {}
    m = len(src.names)
    st_counts = np.bincount(src_codes * 3 + status, minlength=m * 3).reshape(m, 3)
    trusted_src = pd.Series(tsrc).value_counts() if tsrc is not None else pd.Series(dtype=np.int64)
    removed_src = pd.Series(tsrc[prep.removed]).value_counts() if tsrc is not None else None
    flagged_by_src = np.bincount(src_codes[found.suspicion > 0.5], minlength=m)
    for s, name in enumerate(src.names):
        g = groups.get(name, {})
        n_tr_s = int(trusted_src.get(name, 0))
        rows_s = np.flatnonzero((src_codes == s) & focus)
        entry: dict[str, Any] = {
            "rows": int(st_counts[s].sum()),
            "new_source": (n_tr_s == 0) if tsrc is not None else None,
            "trusted_rows": n_tr_s if tsrc is not None else None,
            "delta": {"added": int(st_counts[s, 1]), "changed": int(st_counts[s, 2]),
                      "unchanged": int(st_counts[s, 0]),
                      "removed": int(removed_src.get(name, 0)) if removed_src is not None else None},
        }
        own_base = tsrc is not None and n_tr_s >= min_shift
        entry["baseline"] = "same source in the trusted data" if own_base else "all trusted data"
        reasons_s: list[str] = []
        if "label_shift" in g:
            entry["label_shift"] = g["label_shift"]
            if g["label_shift"]["flagged"] or any(v["flagged"] for v in g["label_shift"]["classes"].values()):
                reasons_s.append("label shift seen by the trusted model")
        if rows_s.size >= min_shift:
            t_rows = np.flatnonzero(tsrc == name) if own_base else None
            feats = _distribution(trusted, t_rows, new, rows_s, features, pol)
            shifted = [c for c, st in feats.items() if st["shifted"]]
            entry["features"] = feats
            entry["shifted_features"] = shifted
            if shifted:
                shown = ", ".join(_shift_text(c, feats[c]) for c in shifted[:3])
                more = f" and {len(shifted) - 3} more" if len(shifted) > 3 else ""
                what = "a new source" if entry["new_source"] else "source"
                reasons_s.append(f"{len(shifted)} shifted column(s): {shown}{more}")
                if pol["gate_feature_shift"]:
                    found.reasons.append(f"{what} {name!r} ({rows_s.size} added or changed rows) is shifted against "
                                         f"{entry['baseline']} in {len(shifted)} column(s): {shown}{more}")
            if new.label is not None and prep.codes is not None and prep.trusted_codes is not None:
                kk = len(names)
                tc = prep.trusted_codes if t_rows is None else prep.trusted_codes[t_rows]
                ct = _label_counts(tc, kk)
                cn = _label_counts(prep.codes[rows_s], kk)
                stl = js_shift(pd.Series(ct, index=names), pd.Series(cn, index=names))
                lab_s = {**{k2: round(v, 4) for k2, v in stl.items()}, "new": _shares(cn, names),
                         "shifted": bool(stl["js"] >= pol["label_js"])}
                entry["label_distribution"] = lab_s
                if lab_s["shifted"]:
                    reasons_s.append(f"label distribution shifted (JS {stl['js']:.2f})")
                    if own_base and pol["gate_label_distribution"]:
                        found.reasons.append(f"source {name!r}: the label distribution of its added and changed "
                                             f"rows shifted against its trusted rows (JS distance {stl['js']:.2f}, "
                                             f"policy: below {pol['label_js']:g})")
        entry["n_flagged"] = int(flagged_by_src[s])
        entry["suspected"] = bool(reasons_s)
        entry["reasons"] = reasons_s
        sources[name] = entry
    return sources


def compare(new: TabularDataset | pd.DataFrame, trusted: TabularDataset | pd.DataFrame, *, label: str | None = None,
            source_column: str | None = None, params: Mapping[str, Any] | None = None, seed: int | None = 0,
            prepared: Prepared | None = None, model_proba: tuple[np.ndarray, np.ndarray] | None = None
            ) -> ReferenceReport:
    """Compare a new data version with a trusted one: row delta, label shift, distribution shift, per source.

    Parameters
    ----------
    new, trusted : TabularDataset or pandas.DataFrame
        The new version and the trusted one (same label column).
    label : str, default=None
        The label column (default: ``new``'s). Without labels only the delta and the feature
        distributions are compared.
    source_column : str, default=None
        A column naming each row's source: every statistic is also computed per source.
    params : mapping, default=None
        Overrides of :data:`DEFAULT_POLICY`.
    seed : int or None, default=0
        Seeds the trusted model and its folds.
    prepared : Prepared, default=None
        Both versions already prepared by :func:`prepare` (the scan passes it; ``new`` and
        ``trusted`` are then taken from it).
    model_proba : (ndarray, ndarray), default=None
        Instead of fitting the trusted model: its out-of-fold probabilities on the labelled
        trusted rows and its probabilities on the labelled focus rows whose label the trusted
        data knows, over the trusted classes (in :attr:`Prepared.classes` order).

    Returns
    -------
    ReferenceReport
    """
    pol = policy(params)
    if prepared is None:
        new = as_dataset(new, label=label)
        tds, info = load_reference(new, trusted, require_classes=2 if new.label is not None else 0)
        prepared = prepare(new, tds, source_column=source_column, info=info)
    prep = prepared
    new, trusted = prep.new, prep.trusted
    found = _Findings(reasons=[], suspicion=np.zeros(new.n_rows), row_reasons={})
    features = [c for c in trusted.feature_columns if c in new.frame.columns]
    delta = _row_delta(prep)
    src = _sources(prep)
    label_shift: dict[str, Any] | None = None
    groups: dict[str, Any] = {}
    if new.label is not None and prep.codes is not None and prep.trusted_codes is not None:
        label_shift, groups = _label_shift(prep, prep.codes, prep.trusted_codes, pol, seed, model_proba, src, found)
    distribution = _focus_distribution(prep, features, pol, found)
    sources = _per_source(prep, src, groups, features, pol, found) if src is not None else None
    flagged = found.suspicion > 0.5
    return ReferenceReport(
        trusted=dict(prep.info), parameters=pol, suspected=bool(found.reasons), reasons=tuple(found.reasons),
        schema=prep.schema, delta=delta, label_shift=label_shift, distribution=distribution, sources=sources,
        n_flagged=int(flagged.sum()), suspicion=found.suspicion, row_reasons=found.row_reasons)
