"""Seeded poisoning simulators, to test a pipeline's defences.

Every attack takes a :class:`~poisonguard.data.TabularDataset` (with its label column) and
returns an :class:`AttackResult`: a poisoned *copy* of the frame (the input is never
modified), the boolean truth mask of poisoned rows, and a description. The same seed gives
the same poison.

Attacks
-------
``random_flip``
    ``rate`` of the rows get a uniformly random other label.
``class_flip``
    ``rate`` of the rows of one class (default: the second most frequent) are relabelled to
    another (default: the most frequent) — a targeted flip.
``boundary_flip``
    ``rate`` of the rows, chosen among the least confident of a clean cross-validated model,
    are flipped to their most probable other class — flips placed where they look natural.
``batch_class_flip``
    A poisoned batch: ``rate`` (typically 0.5-0.7) of the rows of one class from row ``start``
    on are relabelled to another.
``outliers``
    ``rate`` of the rows get some of their numeric features shifted far out, and a random label.
``backdoor``
    A trigger (fixed values of a few numeric features) is stamped on ``rate`` of the rows from
    other classes, which are relabelled to the target class.
``dup_conflict``
    Copies of ``rate`` of the labelled rows are appended, each with a random other label.
``new_source``
    A batch drawn from the data with shifted features is appended, under a new value of the
    source column.

More attacks register themselves in :data:`ATTACKS` with :func:`register_attack`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .data import TabularDataset
from .errors import DataError, UsageError

__all__ = ["ATTACKS", "AttackResult", "boundary_flip", "class_flip", "clean_model_proba", "poison", "random_flip",
           "register_attack"]


@dataclasses.dataclass(frozen=True)
class AttackResult:
    """A poisoned copy of a dataset and which rows were poisoned.

    Attributes
    ----------
    frame : pandas.DataFrame
        The poisoned copy (same columns, same row order; attacks that add rows append them).
    mask : ndarray of bool, shape (len(frame),)
        True for poisoned rows.
    attack : str
        Attack name.
    params : dict
        The parameters used (rate, seed, classes...).
    label, id_column : str or None
        The label and id columns of the attacked dataset (for :attr:`dataset`).
    """

    frame: pd.DataFrame
    mask: np.ndarray
    attack: str
    params: dict[str, Any]
    label: str | None = None
    id_column: str | None = None

    @property
    def dataset(self) -> TabularDataset:
        """The poisoned copy as a :class:`~poisonguard.data.TabularDataset` (same label and id columns)."""
        return TabularDataset.from_frame(self.frame, label=self.label, id_column=self.id_column)

    @property
    def n_poisoned(self) -> int:
        """Number of poisoned rows."""
        return int(self.mask.sum())

    def describe(self) -> str:
        """One line for people."""
        extras = ", ".join(f"{k}={v}" for k, v in self.params.items() if k not in ("seed",))
        return f"{self.attack}: {self.n_poisoned} of {len(self.frame)} rows poisoned ({extras}, seed={self.params.get('seed')})"


AttackFn = Callable[..., AttackResult]
ATTACKS: dict[str, AttackFn] = {}


def register_attack(name: str) -> Callable[[AttackFn], AttackFn]:
    """Register an attack function under ``name`` (refuses to overwrite)."""

    def deco(fn: AttackFn) -> AttackFn:
        if name in ATTACKS:
            raise ValueError(f"an attack named {name!r} is already registered")

        @functools.wraps(fn)
        def attack(ds: TabularDataset, **params: Any) -> AttackResult:
            return dataclasses.replace(fn(ds, **params), label=ds.label, id_column=ds.id_column)

        ATTACKS[name] = attack
        return attack

    return deco


def _labels(ds: TabularDataset) -> tuple[pd.Series, list[Any]]:
    if ds.label is None:
        raise UsageError("label attacks need a label column; pass --label")
    y = ds.frame[ds.label]
    classes = list(ds.classes_)
    if len(classes) < 2:
        raise UsageError("label attacks need at least two classes")
    return y, classes


def _check_rate(rate: float, upper: float = 1.0) -> float:
    if not (0.0 < rate <= upper):
        raise UsageError(f"the attack rate must be in (0, {upper}]; got {rate}")
    return float(rate)


def _with_labels(ds: TabularDataset, rows: np.ndarray, new_values: np.ndarray) -> pd.DataFrame:
    frame = ds.frame.copy()
    col = frame[ds.label]
    values = col.to_numpy(dtype=object, na_value=None).copy()
    values[rows] = new_values
    frame[ds.label] = pd.Series(values, index=frame.index).astype(col.dtype)
    return frame


@register_attack("random_flip")
def random_flip(ds: TabularDataset, *, rate: float = 0.1, seed: int = 0) -> AttackResult:
    """Give ``rate`` of the labelled rows a uniformly random other label."""
    rate = _check_rate(rate)
    y, classes = _labels(ds)
    rng = np.random.default_rng(seed)
    labelled = np.flatnonzero(y.notna().to_numpy())
    rows = np.sort(rng.choice(labelled, size=max(1, round(rate * len(labelled))), replace=False))
    codes = ds.label_codes()[rows]
    shift = rng.integers(1, len(classes), size=rows.size)
    new = np.asarray(classes, dtype=object)[(codes + shift) % len(classes)]
    mask = np.zeros(ds.n_rows, dtype=bool)
    mask[rows] = True
    return AttackResult(_with_labels(ds, rows, new), mask, "random_flip", {"rate": rate, "seed": seed})


@register_attack("class_flip")
def class_flip(ds: TabularDataset, *, rate: float = 0.2, source: Any = None, target: Any = None,
               seed: int = 0) -> AttackResult:
    """Relabel ``rate`` of the rows of class ``source`` as ``target``.

    Defaults: ``source`` the second most frequent class, ``target`` the most frequent.
    """
    rate = _check_rate(rate)
    y, classes = _labels(ds)
    counts = y.value_counts()
    order = counts.index.tolist()
    source = order[1] if source is None else _match_class(source, classes)
    target = order[0] if target is None else _match_class(target, classes)
    if source == target:
        raise UsageError(f"class_flip needs two different classes; got source = target = {source!r}")
    rng = np.random.default_rng(seed)
    members = np.flatnonzero((y == source).to_numpy())
    rows = np.sort(rng.choice(members, size=max(1, round(rate * members.size)), replace=False))
    mask = np.zeros(ds.n_rows, dtype=bool)
    mask[rows] = True
    new = np.full(rows.size, target, dtype=object)
    return AttackResult(_with_labels(ds, rows, new), mask, "class_flip",
                        {"rate": rate, "source": _plain(source), "target": _plain(target), "seed": seed})


def clean_model_proba(ds: TabularDataset, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The clean model :func:`boundary_flip` places its flips by: the labelled rows and their 5-fold
    cross-validated HistGradientBoosting probabilities (columns: ``ds.classes_``)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y, classes = _labels(ds)
    labelled = np.flatnonzero(y.notna().to_numpy())
    codes = ds.label_codes()[labelled]
    counts = np.bincount(codes, minlength=len(classes))
    if (counts < 2).any():  # a stratified split needs two rows of every class
        rare = [classes[i] for i in np.flatnonzero(counts < 2)[:3]]
        raise DataError(f"{ds.path or 'the data'}: the clean model of boundary_flip needs at least 2 labelled rows "
                        f"of every class; {len(np.flatnonzero(counts < 2))} class(es) have fewer (e.g. {rare!r}). "
                        "Drop or merge those classes, or use random_flip / class_flip")
    folds = max(2, min(5, int(counts.min())))
    proba = cross_val_predict(HistGradientBoostingClassifier(random_state=seed), ds.encode()[labelled], codes,
                              cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba")
    return labelled, proba


@register_attack("boundary_flip")
def boundary_flip(ds: TabularDataset, *, rate: float = 0.1, seed: int = 0, pool: float = 3.0) -> AttackResult:
    """Flip ``rate`` of the rows chosen among the least confident of a clean model.

    A 5-fold cross-validated HistGradientBoosting model is fitted on the clean data; the
    ``pool * rate`` least confident rows (lowest probability of their own label) form the pool
    from which ``rate`` of the rows are drawn, and each is flipped to its most probable other class.
    """
    rate = _check_rate(rate, 0.5)
    y, classes = _labels(ds)
    labelled, proba = clean_model_proba(ds, seed=seed)
    codes = ds.label_codes()[labelled]
    own = proba[np.arange(len(codes)), codes]
    n_flip = max(1, round(rate * len(labelled)))
    n_pool = min(len(labelled), max(n_flip, round(pool * n_flip)))
    rng = np.random.default_rng(seed)
    pool_idx = np.argsort(own + rng.uniform(0, 1e-9, own.size), kind="stable")[:n_pool]
    chosen = np.sort(rng.choice(pool_idx, size=n_flip, replace=False))
    other = proba[chosen].copy()
    other[np.arange(chosen.size), codes[chosen]] = -1.0
    new = np.asarray(classes, dtype=object)[other.argmax(axis=1)]
    rows = labelled[chosen]
    order = np.argsort(rows)
    mask = np.zeros(ds.n_rows, dtype=bool)
    mask[rows] = True
    return AttackResult(_with_labels(ds, rows[order], new[order]), mask, "boundary_flip",
                        {"rate": rate, "pool": pool, "seed": seed})


def _match_class(value: Any, classes: list[Any]) -> Any:
    for c in classes:
        if c == value or str(c) == str(value):
            return c
    raise UsageError(f"unknown class {value!r}; the classes are {[_plain(c) for c in classes]}")


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def poison(ds: TabularDataset, attack: str, **params: Any) -> AttackResult:
    """Apply the attack named ``attack`` (see :data:`ATTACKS`) with ``params``.

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.data import TabularDataset
    >>> from poisonguard.attacks import poison
    >>> ds = TabularDataset.from_frame(pd.DataFrame({"x": range(10), "y": ["a", "b"] * 5}), label="y")
    >>> poison(ds, "random_flip", rate=0.2, seed=1).n_poisoned
    2
    """
    try:
        fn = ATTACKS[attack]
    except KeyError:
        raise UsageError(f"unknown attack {attack!r}; choose one of: {', '.join(sorted(ATTACKS))}") from None
    return fn(ds, **params)


# ---------------------------------------------------------------------------------------------
# Feature-space attacks (issue 3): injected outliers, backdoor triggers, conflicting duplicates.
# ---------------------------------------------------------------------------------------------

__all__ += ["backdoor", "dup_conflict", "outliers"]


def _numeric_features(ds: TabularDataset) -> list[str]:
    return [c for c in ds.feature_columns if ds.kinds[c] == "numeric"]


def _column_values(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _set_numeric(frame: pd.DataFrame, col: str, rows: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` into ``frame[col]`` at ``rows``, keeping integer columns integer (rounded)."""
    s = frame[col]
    if pd.api.types.is_integer_dtype(s.dtype):
        values = np.round(values)
        new = s.to_numpy(dtype="float64", na_value=np.nan).copy()
        new[rows] = values
        frame[col] = pd.Series(new, index=frame.index).astype(s.dtype)
    else:
        new = _column_values(frame, col).copy()
        new[rows] = values
        frame[col] = new


@register_attack("outliers")
def outliers(ds: TabularDataset, *, rate: float = 0.02, shift: tuple[float, float] = (6.0, 10.0),
             feature_fraction: float = 0.5, seed: int = 0) -> AttackResult:
    """Shift ``feature_fraction`` of the numeric features of ``rate`` of the rows far out, random label.

    Each poisoned row gets ``ceil(feature_fraction * n_numeric)`` of its numeric features (drawn per
    row) moved by ``U(shift) * sd`` of the column, in a random direction, and (when the data are
    labelled) a uniformly random label. Integer columns stay integer (the shift is rounded).
    """
    rate = _check_rate(rate, 0.5)
    num = _numeric_features(ds)
    if not num:
        raise UsageError("the outliers attack shifts numeric features; the data have none")
    lo, hi = float(shift[0]), float(shift[1])
    if not 0 < lo <= hi:
        raise UsageError(f"shift must be (low, high) with 0 < low <= high; got {shift!r}")
    rng = np.random.default_rng(seed)
    n = ds.n_rows
    rows = np.sort(rng.choice(n, size=max(1, round(rate * n)), replace=False))
    k = max(1, int(np.ceil(feature_fraction * len(num))))
    frame = ds.frame.copy()
    # per row, k features drawn without replacement: the k smallest of uniform keys
    chosen = np.argsort(rng.random((rows.size, len(num))), axis=1)[:, :k]
    for j, col in enumerate(num):
        hit = (chosen == j).any(axis=1)
        if not hit.any():
            continue
        v = _column_values(frame, col)
        sd = float(np.nanstd(v)) or 1.0
        base = np.where(np.isnan(v[rows[hit]]), float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0,
                        v[rows[hit]])
        amount = rng.uniform(lo, hi, size=int(hit.sum())) * sd * rng.choice([-1.0, 1.0], size=int(hit.sum()))
        _set_numeric(frame, col, rows[hit], base + amount)
    params: dict[str, Any] = {"rate": rate, "shift": [lo, hi], "feature_fraction": feature_fraction,
                              "n_features_shifted": k, "seed": seed}
    if ds.label is not None and ds.frame[ds.label].notna().any():
        classes = list(ds.classes_)
        new = np.asarray(classes, dtype=object)[rng.integers(0, len(classes), size=rows.size)]
        tmp = TabularDataset(frame=frame, label=ds.label, kinds=ds.kinds)
        frame = _with_labels(tmp, rows, new)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return AttackResult(frame, mask, "outliers", params)


@register_attack("backdoor")
def backdoor(ds: TabularDataset, *, rate: float = 0.03, n_features: int = 2, features: list[str] | None = None,
             target: Any = None, seed: int = 0) -> AttackResult:
    """Stamp a trigger on ``rate`` of the rows from other classes and relabel them ``target``.

    The trigger sets ``n_features`` numeric features (default: drawn among those with a
    non-zero spread) to a rare value each, the column's 99.5th percentile plus 3 standard
    deviations (rounded for integer columns). ``target`` defaults to the least frequent class.
    ``params`` records ``features``, ``values`` and ``target``: the ground truth of the trigger.
    """
    rate = _check_rate(rate, 0.5)
    y, classes = _labels(ds)
    rng = np.random.default_rng(seed)
    if features is None:
        num = [c for c in _numeric_features(ds) if float(np.nanstd(_column_values(ds.frame, c))) > 0]
        if len(num) < n_features:
            raise UsageError(f"the backdoor attack needs {n_features} numeric features with a spread; "
                             f"the data have {len(num)}")
        features = [num[i] for i in sorted(rng.choice(len(num), size=n_features, replace=False).tolist())]
    else:
        unknown = [c for c in features if c not in ds.frame.columns or ds.kinds.get(c) != "numeric"]
        if unknown:
            raise UsageError(f"backdoor features must be numeric feature columns; got {unknown}")
    target = y.value_counts().index[-1] if target is None else _match_class(target, classes)
    others = np.flatnonzero((y.notna() & (y != target)).to_numpy())
    n_poison = max(1, round(rate * ds.n_rows))
    if others.size < n_poison:
        raise UsageError(f"the backdoor attack needs {n_poison} rows outside class {target!r}; there are {others.size}")
    rows = np.sort(rng.choice(others, size=n_poison, replace=False))
    frame = ds.frame.copy()
    values = []
    for col in features:
        v = _column_values(frame, col)
        value = float(np.nanpercentile(v, 99.5) + 3 * np.nanstd(v))
        if pd.api.types.is_integer_dtype(frame[col].dtype):
            value = float(np.round(value))
        _set_numeric(frame, col, rows, np.full(rows.size, value))
        values.append(_plain(np.float64(value)) if not value.is_integer() else int(value))
    tmp = TabularDataset(frame=frame, label=ds.label, kinds=ds.kinds)
    frame = _with_labels(tmp, rows, np.full(rows.size, target, dtype=object))
    mask = np.zeros(ds.n_rows, dtype=bool)
    mask[rows] = True
    return AttackResult(frame, mask, "backdoor", {"rate": rate, "features": list(features), "values": values,
                                                 "target": _plain(target), "seed": seed})


@register_attack("dup_conflict")
def dup_conflict(ds: TabularDataset, *, rate: float = 0.05, seed: int = 0) -> AttackResult:
    """Append copies of ``rate`` of the labelled rows, each with a random other label.

    The copies are appended after the original rows; the truth mask (over the returned
    frame) marks the copies.
    """
    rate = _check_rate(rate, 1.0)
    y, classes = _labels(ds)
    rng = np.random.default_rng(seed)
    labelled = np.flatnonzero(y.notna().to_numpy())
    rows = np.sort(rng.choice(labelled, size=max(1, round(rate * len(labelled))), replace=False))
    codes = ds.label_codes()[rows]
    new = np.asarray(classes, dtype=object)[(codes + rng.integers(1, len(classes), size=rows.size)) % len(classes)]
    copies = ds.frame.iloc[rows].reset_index(drop=True)
    copies[ds.label] = pd.Series(new, dtype=object).astype(ds.frame[ds.label].dtype)
    frame = pd.concat([ds.frame, copies], ignore_index=True)
    mask = np.zeros(len(frame), dtype=bool)
    mask[ds.n_rows:] = True
    return AttackResult(frame, mask, "dup_conflict", {"rate": rate, "n_copies": int(rows.size), "seed": seed})


# ---------------------------------------------------------------------------------------------
# Poisoned-batch scenarios (issue 4): poison that arrives as an update to trusted data.
# ---------------------------------------------------------------------------------------------

__all__ += ["batch_class_flip", "new_source"]


@register_attack("batch_class_flip")
def batch_class_flip(ds: TabularDataset, *, rate: float = 0.6, source: Any = None, target: Any = None,
                     start: int = 0, seed: int = 0) -> AttackResult:
    """A poisoned batch: relabel ``rate`` (typically 0.5-0.7) of the batch's rows of class ``source`` as ``target``.

    The batch is the rows from ``start`` on (default: all of them); rows before ``start`` (the
    part already trusted, when a batch is appended to a file) are left alone. Flipping half or
    more of a class defeats single-dataset label-noise methods; a trusted reference catches it
    (``poisonguard scan NEW --reference TRUSTED``). Defaults as :func:`class_flip`, counted in the
    batch: ``source`` the second most frequent class, ``target`` the most frequent.
    """
    rate = _check_rate(rate)
    y, classes = _labels(ds)
    if not 0 <= int(start) < ds.n_rows:
        raise UsageError(f"start must be a row in [0, {ds.n_rows - 1}]; got {start}")
    batch = y.iloc[int(start):]
    order = batch.value_counts().index.tolist()
    if len(order) < 2 and (source is None or target is None):
        raise UsageError("the batch holds a single class; name source and target")
    source = order[1] if source is None else _match_class(source, classes)
    target = order[0] if target is None else _match_class(target, classes)
    if source == target:
        raise UsageError(f"batch_class_flip needs two different classes; got source = target = {source!r}")
    members = int(start) + np.flatnonzero((batch == source).to_numpy())
    if members.size == 0:
        raise UsageError(f"the batch has no rows of class {source!r}")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(members, size=max(1, round(rate * members.size)), replace=False))
    mask = np.zeros(ds.n_rows, dtype=bool)
    mask[rows] = True
    return AttackResult(_with_labels(ds, rows, np.full(rows.size, target, dtype=object)), mask, "batch_class_flip",
                        {"rate": rate, "source": _plain(source), "target": _plain(target), "start": int(start),
                         "seed": seed})


@register_attack("new_source")
def new_source(ds: TabularDataset, *, rate: float = 0.2, source_column: str = "source", source: Any = "new_feed",
               shift: float = 1.0, feature_fraction: float = 0.5, seed: int = 0) -> AttackResult:
    """A batch from a new source with shifted features, appended to the data.

    ``round(rate * n_rows)`` rows are drawn from the data (without replacement), get
    ``source_column = source`` and have the same ``ceil(feature_fraction * n_numeric)`` numeric
    features (a feed with a systematic offset) moved by ``shift`` standard deviations of the
    column, in a random direction per feature; labels are kept. The copies are appended after the
    original rows and the truth mask marks them. When the data have no ``source_column`` it is
    added, with the value ``"base"`` for the original rows. ``params`` records the features moved.
    """
    rate = _check_rate(rate, 1.0)
    num = _numeric_features(ds)
    if not num:
        raise UsageError("the new_source attack shifts numeric features; the data have none")
    if not (float(shift) > 0 and 0 < float(feature_fraction) <= 1):
        raise UsageError(f"shift must be > 0 and feature_fraction in (0, 1]; got {shift!r} and {feature_fraction!r}")
    frame = ds.frame.copy()
    if source_column not in frame.columns:
        frame[source_column] = "base"
    elif (frame[source_column].astype(object).map(str) == str(source)).any():
        raise UsageError(f"source {source!r} already occurs in column {source_column!r}; name a new one")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(ds.n_rows, size=max(1, round(rate * ds.n_rows)), replace=False))
    k = max(1, int(np.ceil(feature_fraction * len(num))))
    chosen = [num[i] for i in sorted(rng.choice(len(num), size=k, replace=False).tolist())]
    copies = frame.iloc[rows].reset_index(drop=True)
    signs = {}
    for col in chosen:
        v = _column_values(copies, col)
        sd = float(np.nanstd(_column_values(frame, col))) or 1.0
        signs[col] = float(rng.choice([-1.0, 1.0]))
        _set_numeric(copies, col, np.arange(len(copies)), v + signs[col] * float(shift) * sd)
    copies[source_column] = source
    out = pd.concat([frame, copies], ignore_index=True)
    mask = np.zeros(len(out), dtype=bool)
    mask[ds.n_rows:] = True
    return AttackResult(out, mask, "new_source", {"rate": rate, "source_column": source_column,
                                                  "source": _plain(source), "shift": float(shift),
                                                  "features": chosen, "directions": [signs[c] for c in chosen],
                                                  "seed": seed})
