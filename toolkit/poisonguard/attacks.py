"""Seeded poisoning simulators, to test a pipeline's defences.

Every attack takes a :class:`~poisonguard.data.TabularDataset` (or a frame and a label
column) and returns an :class:`AttackResult`: a poisoned *copy* of the frame (the input is
never modified), the boolean truth mask of poisoned rows, and a description. The same seed
gives the same poison.

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

More attacks register themselves in :data:`ATTACKS` with :func:`register_attack`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .data import TabularDataset
from .errors import UsageError

__all__ = ["ATTACKS", "AttackResult", "boundary_flip", "class_flip", "poison", "random_flip", "register_attack"]


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
    """

    frame: pd.DataFrame
    mask: np.ndarray
    attack: str
    params: dict[str, Any]

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
        ATTACKS[name] = fn
        return fn

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


@register_attack("boundary_flip")
def boundary_flip(ds: TabularDataset, *, rate: float = 0.1, seed: int = 0, pool: float = 3.0) -> AttackResult:
    """Flip ``rate`` of the rows chosen among the least confident of a clean model.

    A 5-fold cross-validated HistGradientBoosting model is fitted on the clean data; the
    ``pool * rate`` least confident rows (lowest probability of their own label) form the pool
    from which ``rate`` of the rows are drawn, and each is flipped to its most probable other class.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rate = _check_rate(rate, 0.5)
    y, classes = _labels(ds)
    labelled = np.flatnonzero(y.notna().to_numpy())
    X = ds.encode()[labelled]
    codes = ds.label_codes()[labelled]
    min_count = int(np.bincount(codes, minlength=len(classes))[np.bincount(codes) > 0].min())
    folds = max(2, min(5, min_count))
    model = HistGradientBoostingClassifier(random_state=seed)
    proba = cross_val_predict(model, X, codes, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                              method="predict_proba")
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
