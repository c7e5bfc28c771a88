"""Duplicates: exact copies, conflicting copies (same features, different labels), near copies.

* **Exact duplicates** are found by hashing every row's feature cells
  (:func:`pandas.util.hash_pandas_object`, 64 bits; every column but the label and id columns,
  text included): rows with equal hashes form a group. With 64-bit hashes the chance of any
  false match among a million rows is about 3e-8.
* **Conflicting duplicates** are exact-duplicate groups whose rows carry different labels —
  a cheap and common poisoning (copy a row, change its label). They are flagged by default.
* **Near duplicates** are rows within ``radius`` of each other on the shared encoding
  (numeric columns in robust units, a category mismatch counts 1): an exact radius search up to
  ``exact_rows`` distinct rows, above that a sorted-neighbourhood search — rows are sorted by a
  key of three coarse random projections (cells of ``4 * radius``) and a fine fourth, and each
  row is compared with the next ``window`` rows; three rounds with fresh projections (about
  ``O(n log n + n * window * d)``).
  Near copies with different labels are "near conflicts".

Raw scores (higher = more suspicious): 2-3 for members of a conflicting group (more for the
minority label of the group and for a label the row's nearest other rows disagree with: a copy
given another label rarely fits its neighbourhood), 1.5-2 for members of a near-conflicting group, 1 for extra exact
copies, 0.95 for near copies, 0.5 for the first row of an exact group, 0 otherwise. ``flag``
chooses the threshold: ``"conflicts"`` (default) flags conflicting groups, ``"conflicts+near"``
adds near conflicts, ``"all"`` adds every extra copy and near copy.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._kernel import knn_label_vote, label_shares, nearest_neighbors
from ..config import Key, Policy
from ._base import BaseDetector

__all__ = ["DuplicateDetector", "chance_conflicts", "near_pairs", "poisson_binomial_cdf", "row_hashes"]

#: Batch policy (see :meth:`DuplicateDetector.batch_finding`): ``scan.duplicates.policy`` in params.yaml.
POLICY = Policy(
    "duplicates",
    Key("max_conflict_rows", "int", 10, "the batch is suspected when more rows than this are conflicting duplicates",
        low=0),
    Key("max_conflict_rate", "number", 0.005, "... and more than this share of the rows", low=0, high=1),
    Key("chance_level", "number", None, "... unless labels drawn at random from their neighbourhood explain the "
        "conflicting groups' count: neither tail of its chance distribution below this (null: off; for data whose "
        "copies are coincidences of few values, not copied records)", low=0, high=1, nullable=True),
)
#: Defaults of :data:`POLICY`.
DEFAULT_POLICY: dict[str, Any] = dict(POLICY.defaults())
_THRESHOLDS = {"conflicts": 1.95, "conflicts+near": 1.45, "all": 0.9}
#: Neighbours consulted for the labels of conflicting rows.
NEIGHBOURS = 20


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """64-bit hash of each row's cells (column order as given; missing values hash alike)."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def near_pairs(X: np.ndarray, radius: float, *, exact_rows: int = 20_000, window: int = 10, rounds: int = 3,
               random_state: Any = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Pairs ``(i, j)``, ``i < j``, of rows within ``radius`` (Euclidean) of each other.

    Exact (a radius search) up to ``exact_rows`` rows; above, the sorted-neighbourhood search
    described in the module docstring (it may miss a few pairs; it never reports a false one).
    Returns ``(i, j, method)``.
    """
    n = X.shape[0]
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), "exact"
    if n <= exact_rows:
        nn = NearestNeighbors(radius=radius, algorithm="brute" if X.shape[1] > 15 else "auto").fit(X)
        g = nn.radius_neighbors_graph(X, mode="connectivity").tocoo()
        keep = g.row < g.col
        return g.row[keep].astype(np.int64), g.col[keep].astype(np.int64), "exact"
    rng = check_random_state(random_state)
    Xf = np.asarray(X, dtype=np.float32)
    r2 = np.float32(radius) ** 2
    cell = 4.0 * radius
    found_i, found_j = [], []
    for _ in range(rounds):
        U = rng.normal(size=(X.shape[1], 4)).astype(np.float32)
        U /= np.linalg.norm(U, axis=0, keepdims=True)
        P = Xf @ U
        off = rng.uniform(0, cell, size=3)
        keys = [P[:, 3]] + [np.floor((P[:, k] + off[k]) / cell) for k in (2, 1, 0)]
        order = np.lexsort(keys)
        Xs = Xf[order]
        for j in range(1, window + 1):
            for start in range(0, n - j, 200_000):
                stop = min(start + 200_000, n - j)
                d = Xs[start + j:stop + j] - Xs[start:stop]
                hit = np.flatnonzero(np.einsum("ij,ij->i", d, d) <= r2)
                if hit.size:
                    a, b = order[start + hit], order[start + hit + j]
                    found_i.append(np.minimum(a, b))
                    found_j.append(np.maximum(a, b))
    if not found_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), "sorted-neighbourhood"
    # one int64 key per pair (i * n + j < n**2 fits for n < 3e9), sorted and deduplicated by hand:
    # ``np.unique(axis=0)`` sorts rows as structured records and NumPy 2's 1-D ``np.unique`` hashes
    # (70 s and 33 s for the 30 M pairs of 1 M rows of one feature; a sort takes 3 s)
    key = np.concatenate(found_i).astype(np.int64) * n + np.concatenate(found_j)
    key.sort()
    key = key[np.concatenate(([True], key[1:] != key[:-1]))]
    return key // n, key % n, "sorted-neighbourhood"


class DuplicateDetector(BaseDetector):
    """Exact, conflicting and near duplicates, with the groups they form (registered as ``duplicates``).

    Parameters
    ----------
    radius : float, default=0.05
        Near-duplicate radius on the encoded features (robust units; a category mismatch is 1).
    near : bool, default=True
        Whether to look for near duplicates.
    flag : {"conflicts", "conflicts+near", "all"}, default="conflicts"
        Which duplicates are flagged (see the module docstring).
    exact_rows : int, default=20000
        Largest number of distinct rows searched exactly for near duplicates.
    window : int, default=10
        Rows compared with each row in the sorted-neighbourhood search.
    max_groups : int, default=100
        Groups listed in the report, per kind (all are counted).
    policy : dict, default=None
        Overrides of :data:`DEFAULT_POLICY`: the batch is suspected when more rows than
        ``max_conflict_rows`` and than ``max_conflict_rate`` of the rows are in conflicting groups,
        unless chance explains them (``chance_level``; see :meth:`batch_finding`).
    contamination : "auto" or float in (0, 0.5], default="auto"
        "auto" uses ``flag``; a float flags that fraction of the rows.
    random_state : int, RandomState or None, default=None
        Seeds the projections of the sorted-neighbourhood search.

    Attributes
    ----------
    exact_group_ : ndarray of shape (n_samples,)
        Exact-duplicate group of each row (-1: no copy).
    near_group_ : ndarray of shape (n_samples,)
        Near-duplicate group of each row (-1: none).
    conflicting_ : ndarray of bool, shape (n_samples,)
        Rows in an exact group with more than one label.
    near_conflicting_ : ndarray of bool, shape (n_samples,)
        Rows in a near group with more than one label (and no exact conflict).
    near_method_ : str
        ``"exact"`` or ``"sorted-neighbourhood"`` (``"off"`` when ``near=False``).
    chance_conflicts_ : dict or None
        The conflicting groups' count against chance (:func:`chance_conflicts`): ``observed``,
        ``expected``, ``p_more`` and ``p_fewer``; None without labels or without a conflict.
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> from poisonguard.detectors import DuplicateDetector
    >>> X = np.array([[0.0, 1.0], [0.0, 1.0], [5.0, 5.0], [9.0, 1.0]]); y = np.array([0, 1, 0, 0])
    >>> det = DuplicateDetector().fit(X, y)
    >>> det.conflicting_.tolist(), det.labels_.tolist()
    ([True, True, False, False], [-1, -1, 1, 1])
    """

    name: ClassVar[str] = "duplicates"
    POLICY: ClassVar[Policy | None] = POLICY
    sparse_evidence: ClassVar[bool] = True
    spark_rows: ClassVar[str] = "copies"  # exact copies: every copy is in the fit set of a scan on Spark
    family: ClassVar[str] = "duplicates"
    requires_y: ClassVar[bool] = False
    requires_features: ClassVar[bool] = False  # exact copies are found on every column, text included

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseDetector._parameter_constraints,
        "radius": [Interval(Real, 0, None, closed="left")],
        "near": ["boolean"],
        "flag": [StrOptions(set(_THRESHOLDS))],
        "exact_rows": [Interval(Integral, 2, None, closed="left")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "max_groups": [Interval(Integral, 0, None, closed="left")],
        "policy": [dict, None],
        "random_state": ["random_state"],
    }

    def __init__(self, *, radius: float = 0.05, near: bool = True, flag: str = "conflicts",
                 exact_rows: int = 20_000, window: int = 10, max_groups: int = 100,
                 policy: dict[str, Any] | None = None, contamination: str | float = "auto",
                 random_state: Any = None) -> None:
        self.radius = radius
        self.near = near
        self.flag = flag
        self.exact_rows = exact_rows
        self.window = window
        self.max_groups = max_groups
        self.policy = policy
        self.contamination = contamination
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> DuplicateDetector:
        """Find duplicates among the rows of ``X`` (conflicts need ``y``). Returns ``self``."""
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        codes = None
        if y is not None:
            yy = column_or_1d(y, warn=False)
            if yy.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} rows but y has {yy.shape[0]}")
            _, codes = np.unique(yy, return_inverse=True)
        self._label_names: list[str] | None = None
        self._fit_all(row_hashes(pd.DataFrame(np.asarray(X))), np.asarray(X), codes)
        return self

    def scan_fit(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> DuplicateDetector:
        """Hash every column of ``ds`` but the label and id columns; labels from the dataset."""
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1, ensure_min_features=0)
        skip = {ds.label, ds.id_column}
        cols = [c for c in ds.frame.columns if c not in skip and ds.kinds.get(c) != "id"]
        codes = ds.label_codes() if ds.label is not None else None
        self._label_names = [str(c) for c in ds.classes_] if ds.label is not None else None
        self._fit_all(row_hashes(ds.frame[cols]), np.asarray(X), codes)
        return self

    def _fit_all(self, h: np.ndarray, X: np.ndarray, codes: np.ndarray | None) -> None:
        n = h.size
        _, first, inv, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
        in_group = counts[inv] > 1
        # exact groups numbered in order of first appearance
        gid = np.full(n, -1, dtype=np.int64)
        multi = np.flatnonzero(counts > 1)
        order = np.argsort(first[multi], kind="stable")
        remap = np.full(counts.size, -1, dtype=np.int64)
        remap[multi[order]] = np.arange(multi.size)
        gid[in_group] = remap[inv[in_group]]
        is_first = np.zeros(n, dtype=bool)
        is_first[first] = True
        self._codes = codes
        conflicting = np.zeros(n, dtype=bool)
        minority = np.zeros(n)
        if codes is not None and in_group.any():
            conflicting, minority = _conflicts(gid, codes)
        # near duplicates among the distinct rows (one representative per exact group)
        near_gid = np.full(n, -1, dtype=np.int64)
        near_conf = np.zeros(n, dtype=bool)
        near_minority = np.zeros(n)
        self.near_method_ = "off"
        if self.near and n >= 2 and X.shape[1] > 0:
            reps = np.sort(first)
            i, j, self.near_method_ = near_pairs(X[reps], self.radius, exact_rows=self.exact_rows, window=self.window,
                                                 random_state=self.random_state)
            if i.size:
                m = reps.size
                graph = sparse.coo_matrix((np.ones(i.size), (i, j)), shape=(m, m))
                _, comp = connected_components(graph, directed=False)
                csize = np.bincount(comp)
                rep_of_row = np.searchsorted(reps, first[inv])  # each row's representative position
                comp_row = comp[rep_of_row]
                has = csize[comp_row] > 1
                uniq_c, near_ids = np.unique(comp_row[has], return_inverse=True)
                near_gid[has] = near_ids
                if codes is not None:
                    near_conf, near_minority = _conflicts(near_gid, codes)
                    near_conf &= ~conflicting
        self.exact_group_ = gid
        self.near_group_ = near_gid
        self.conflicting_ = conflicting
        self.near_conflicting_ = near_conf
        raw = np.zeros(n)
        raw[(near_gid >= 0)] = 0.95
        raw[in_group & is_first] = np.maximum(raw[in_group & is_first], 0.5)
        raw[in_group & ~is_first] = 1.0
        raw[near_conf] = 1.5 + 0.49 * near_minority[near_conf]
        self._row_p = np.ones(n)
        self.chance_conflicts_ = None
        if conflicting.any():
            # order the rows of a conflicting group: the minority label of the group, and the label
            # the row's nearest other rows disagree with, come first (a copy's new label rarely fits)
            ref = _distinct_reference(codes, conflicting, first, self.random_state)
            disagree = _neighbour_disagreement(X, codes, conflicting, ref)
            odd = 0.5 * minority + 0.5 * disagree
            raw[conflicting] = 2.0 + 0.99 * odd[conflicting]
            self._row_p = _conflict_pvalues(gid, codes, conflicting, disagree)
            self.chance_conflicts_ = chance_conflicts(X, codes, gid, conflicting, first, ref)
        self._set_threshold(raw)

    def _auto_threshold(self, raw: np.ndarray) -> float:
        return _THRESHOLDS[self.flag]

    def _pvalues(self, raw: np.ndarray) -> np.ndarray:
        """Evidence against the label of a member of a conflicting group (see :func:`_conflict_pvalues`);
        1 for every other row: a copy, or a near copy, is not poison by itself."""
        return self._row_p

    # ------------------------------------------------------------------ scan hooks
    def _label(self, code: int) -> str:
        if code < 0:
            return "<missing>"
        return self._label_names[code] if self._label_names is not None else str(code)

    def _members(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by exact group (for listing group mates)."""
        order = np.argsort(self.exact_group_, kind="stable")
        return order, self.exact_group_[order]

    def row_reasons(self, ds: Any, rows: np.ndarray) -> list[str]:
        check_is_fitted(self)
        rows = np.asarray(rows, dtype=np.int64)
        out = []
        e_order, e_sorted = self._members()
        n_order = np.argsort(self.near_group_, kind="stable")
        n_sorted = self.near_group_[n_order]
        for r in rows.tolist():
            if self.exact_group_[r] >= 0:
                g = self.exact_group_[r]
                lo, hi = np.searchsorted(e_sorted, [g, g + 1])
                kind = "conflicting duplicate" if self.conflicting_[r] else "exact duplicate"
                mates = e_order[lo:hi]
            elif self.near_group_[r] >= 0:
                g = self.near_group_[r]
                lo, hi = np.searchsorted(n_sorted, [g, g + 1])
                kind = "near duplicate with a different label" if self.near_conflicting_[r] else "near duplicate"
                mates = n_order[lo:hi]
            else:
                out.append(f"{self.name}: suspicion {self.suspicion_[r]:.2f}")
                continue
            others = [int(x) for x in mates.tolist() if x != r]
            shown = ", ".join(map(str, others[:3])) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            label = ""
            if self._codes is not None:
                counts = pd.Series(self._codes[mates]).value_counts()
                label = " (labels " + ", ".join(f"{self._label(int(c))!r} x{int(k)}" for c, k in counts.items()) + ")"
            out.append(f"{self.name}: {kind} of row(s) {shown}{label}")
        return out

    def _groups(self, gid: np.ndarray, flag_rows: np.ndarray, kind_yes: str, kind_no: str) -> list[dict[str, Any]]:
        if self.max_groups == 0 or not (gid >= 0).any():
            return []
        idx = np.flatnonzero(gid >= 0)
        order = idx[np.argsort(gid[idx], kind="stable")]
        g_sorted = gid[order]
        starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
        bounds = np.r_[starts, g_sorted.size]
        conf_first = flag_rows[order[starts]]
        # conflicting groups first, then the largest
        sizes = np.diff(bounds)
        pick = np.lexsort((-sizes, ~conf_first))[: self.max_groups]
        out = []
        for p in pick.tolist():
            members = order[bounds[p]:bounds[p + 1]]
            d: dict[str, Any] = {"kind": kind_yes if conf_first[p] else kind_no, "size": int(members.size),
                                 "rows": [int(x) for x in members[:20].tolist()]}
            if self._codes is not None:
                counts = pd.Series(self._codes[members]).value_counts()
                d["labels"] = {self._label(int(c)): int(k) for c, k in counts.items()}
            out.append(d)
        return out

    def summary(self) -> dict[str, int]:
        """Counts of groups and rows of each kind."""
        check_is_fitted(self)
        eg, ng = self.exact_group_, self.near_group_
        n_exact_groups = int(eg.max() + 1) if (eg >= 0).any() else 0
        n_near_groups = int(ng.max() + 1) if (ng >= 0).any() else 0
        conflict_groups = np.unique(eg[self.conflicting_]).size
        near_conflict_groups = np.unique(ng[self.near_conflicting_]).size
        return {
            "exact_groups": n_exact_groups,
            "exact_rows": int((eg >= 0).sum()),
            "extra_copies": int((eg >= 0).sum() - n_exact_groups),
            "conflicting_groups": int(conflict_groups),
            "conflicting_rows": int(self.conflicting_.sum()),
            "near_groups": n_near_groups,
            "near_rows": int((ng >= 0).sum()),
            "near_conflicting_groups": int(near_conflict_groups),
            "near_conflicting_rows": int(self.near_conflicting_.sum()),
        }

    def report_section(self, ds: Any) -> dict[str, Any]:
        check_is_fitted(self)
        return {
            "n_flagged": int((self.labels_ == -1).sum()),
            "threshold": float(self.threshold_),
            "flag": self.flag,
            "radius": float(self.radius),
            "near_method": self.near_method_,
            **self.summary(),
            "exact_groups_listed": self._groups(self.exact_group_, self.conflicting_, "conflicting", "exact"),
            "near_groups_listed": self._groups(self.near_group_, self.near_conflicting_, "near-conflicting", "near"),
            "chance_conflicts": getattr(self, "chance_conflicts_", None),
            "policy": dict(self._batch_policy()),
        }

    def batch_finding(self, ds: Any) -> tuple[bool, str]:
        """Suspected when more rows than ``max_conflict_rows`` and than ``max_conflict_rate`` of the
        rows are conflicting duplicates (the shared datasets' 70 % splits hold 0-10 such rows). The
        reason says how many conflicting groups chance would make; with ``chance_level`` set, a
        count that chance explains does not raise the batch.

        Identical feature rows arise two ways. A record copied (a join, a re-export) keeps its label,
        so natural copies never conflict. Rows that coincide because the features take few values
        (ages and counts, categories) carry labels drawn from what the features leave open, so
        identical rows of an ambiguous region conflict as often as their label distribution makes
        two draws differ. :func:`chance_conflicts` counts the conflicting groups against the second
        model: each group conflicts with probability ``1 - sum_c pi_c ** m`` (``m`` labelled members,
        ``pi`` the label shares of the group's nearest other distinct values), independently, and
        the count is compared with that Poisson-binomial distribution (``chance_conflicts_``, in the
        report section and the reason).

        ``chance_level`` (default null: off) clears the batch when neither tail is below it: the
        conflicts are what coinciding values of an ambiguous region make. Too many conflicts (an
        attacker's copies) reject the upper tail; too few reject the lower one, the mark of copied
        records, whose labels agree far more than chance would have them. Where no neighbourhood is
        left to read labels in (every distinct value in a conflicting group), the count rule stands.
        It is off by default because random label flips raise the neighbourhoods' label mix as much
        as the conflicts they make: on breast-cancer-wisconsin (copied records, no natural
        conflict) chance then explains the flips' conflicts, and 10 % random flips went unnoticed on
        all three seeds (``benchmarks/RESULTS.md``, 2026-12-07, night). It suits data whose copies
        are coincidences of few values (there it cleared the count rule's false alarms on haberman
        and breast-cancer-ljubljana as they are, and kept every relabelled-copies attack).
        """
        check_is_fitted(self)
        pol = self._batch_policy()
        k = int(self.conflicting_.sum())
        n = self.conflicting_.size
        if k > pol["max_conflict_rows"] and k > pol["max_conflict_rate"] * n:
            chance = getattr(self, "chance_conflicts_", None)
            level = pol.get("chance_level")
            if (level is not None and chance is not None and chance["groups_tested"]
                    and min(chance["p_more"], chance["p_fewer"]) > level):
                return False, ""
            groups = np.unique(self.exact_group_[self.conflicting_]).size
            why = ""
            if chance is not None:
                why = (f"; chance would make {chance['expected']:.1f} conflicting groups "
                       f"(P(at least {chance['observed']}) = {chance['p_more']:.2g}, "
                       f"P(at most) = {chance['p_fewer']:.2g})")
            return True, (f"{k} rows ({k / n:.1%}) in {groups} groups of identical features with different labels "
                          f"(policy: at most {pol['max_conflict_rows']} rows and {pol['max_conflict_rate']:.1%}){why}")
        return False, ""


def chance_conflicts(X: np.ndarray, codes: np.ndarray, gid: np.ndarray, conflicting: np.ndarray, first: np.ndarray,
                     ref: np.ndarray, *, n_neighbors: int = NEIGHBOURS) -> dict[str, Any]:
    """The number of conflicting exact-duplicate groups against chance (see
    :meth:`DuplicateDetector.batch_finding`).

    For each group of ``m >= 2`` labelled members, ``pi`` is the label distribution of its
    ``n_neighbors`` nearest distinct feature values outside conflicting groups (``ref``, one row
    each, :func:`_distinct_reference`; the group's own left out), smoothed by one
    pseudo-row spread as their class frequencies; the group conflicts by chance with probability
    ``q = 1 - sum_c pi_c ** m``. Under independent groups the count is Poisson-binomial:
    ``p_more = P(S >= observed)``, ``p_fewer = P(S <= observed)`` (:func:`poisson_binomial_cdf`).

    Leaving the conflicting groups out keeps an attacker's copies from making the neighbourhoods
    look mixed, and errs toward the count rule: where most rows coincide (a few values per
    feature), the groups left in are the purer ones, ``expected`` is too small and the alarm stands
    as before (measured on 100 clean draws of integer features with a smooth label probability:
    ``p_more <= 0.01`` in 2 % of them at 12**3 values and 1,500 rows, in 98 % at 6**4 values and
    3,000 rows). Counting every row instead reads mixed regions as more mixed than they are
    (neighbouring values have other label probabilities) and lost a relabelled-copies attack on
    breast-cancer-ljubljana.
    """
    ok = (gid >= 0) & (codes >= 0)
    n_groups = int(gid.max()) + 1 if (gid >= 0).any() else 0
    n_classes = int(codes.max()) + 1
    size = np.bincount(gid[ok], minlength=n_groups)
    observed = int(np.unique(gid[conflicting]).size)
    out = {"observed": observed, "expected": 0.0, "groups_tested": 0, "p_more": 1.0, "p_fewer": 1.0}
    tested = np.flatnonzero(size >= 2)
    k = min(n_neighbors, ref.size - 1)
    if tested.size == 0 or k < 1 or X.shape[1] == 0:  # no neighbourhood to read labels in: no chance model
        return out
    firsts = np.sort(first)
    grouped = gid[firsts] >= 0
    rep = np.full(n_groups, -1, dtype=np.int64)  # each group's first row
    rep[gid[firsts[grouped]]] = firsts[grouped]
    _, ind = nearest_neighbors(X[ref], k + 1).kneighbors(X[rep[tested]])
    own = gid[ref][ind] == tested[:, None]  # the group's own row: left out
    keep = ~own
    keep[~own.any(axis=1), -1] = False  # else the farthest of the k + 1
    prior = np.bincount(codes[ref], minlength=n_classes) / ref.size
    pi = label_shares(codes[ref][ind][keep].reshape(tested.size, k), n_classes=n_classes, prior=prior)
    q = np.clip(1.0 - (pi ** size[tested][:, None]).sum(axis=1), 0.0, 1.0)
    below = poisson_binomial_cdf(q, observed)  # P(S <= observed), P(S <= observed - 1)
    out.update(expected=float(q.sum()), groups_tested=int(tested.size), p_fewer=float(below[0]),
               p_more=float(max(0.0, 1.0 - below[1])))
    return out


def poisson_binomial_cdf(q: np.ndarray, x: int, *, exact_max: int = 2000) -> tuple[float, float]:
    """``(P(S <= x), P(S <= x - 1))`` for ``S`` the number of successes of independent trials of
    success probabilities ``q``.

    Exact for ``x <= exact_max``: the distribution truncated at ``x`` is built by convolving the
    binomial distributions of the trials that share a probability (rounded to 1e-12). Above, the
    normal approximation with continuity correction (mean ``sum q``, variance ``sum q (1 - q)``).
    """
    from scipy import stats

    q = np.asarray(q, dtype=np.float64)
    if x < 0:
        return 0.0, 0.0
    if x >= q.size:
        return 1.0, (1.0 if x - 1 >= q.size else float(1.0 - np.prod(q)))
    if x > exact_max:
        mean, sd = q.sum(), np.sqrt(max((q * (1.0 - q)).sum(), 1e-12))
        return float(stats.norm.cdf((x + 0.5 - mean) / sd)), float(stats.norm.cdf((x - 0.5 - mean) / sd))
    values, counts = np.unique(np.round(q, 12), return_counts=True)
    pmf = np.array([1.0])
    for v, c in zip(values, counts):
        pmf = np.convolve(pmf, stats.binom.pmf(np.arange(min(c, x) + 1), c, v))[: x + 1]
    return float(min(1.0, pmf.sum())), float(min(1.0, pmf[:x].sum()))


def _conflicts(gid: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of groups with more than one (known) label, and 1 - share of the row's label in its group."""
    n = gid.size
    ok = (gid >= 0) & (codes >= 0)
    conflicting = np.zeros(n, dtype=bool)
    minority = np.zeros(n)
    if not ok.any():
        return conflicting, minority
    g = gid[ok]
    c = codes[ok].astype(np.int64)
    k = int(c.max()) + 1
    pair = g * k + c
    upair, pinv, pcount = np.unique(pair, return_inverse=True, return_counts=True)
    ug = upair // k
    n_labels = np.bincount(ug, minlength=int(g.max()) + 1)
    size = np.bincount(g, minlength=int(g.max()) + 1)
    rows = np.flatnonzero(ok)
    conf = n_labels[g] > 1
    conflicting[rows] = conf
    minority[rows] = 1.0 - pcount[pinv.reshape(-1)] / size[g]
    minority[~conflicting] = 0.0
    return conflicting, minority


def _conflict_pvalues(gid: np.ndarray, codes: np.ndarray, conflicting: np.ndarray, disagree: np.ndarray,
                      n_neighbors: int = NEIGHBOURS) -> np.ndarray:
    """p-values against the labels of conflicting-group members, 1 for every other row.

    Only a member whose label is not the group's majority can be the poisoned copy: a row whose
    label is the strict majority of its group gets 1, and so does every member of a tie whose
    label its neighbourhood does not disfavour more than its group-mates' labels. For the others
    the evidence is the smaller (times 2, Bonferroni) of two binomial tails under "this label is at
    least as likely as not here": its group's own labels (``P(X <= count | size, 1/2)``: a lone
    label in a large group) and its ``n_neighbors`` nearest distinct rows outside conflicting
    groups (``P(X >= disagreeing | n, 1/2)``: a copy given another label rarely fits where it
    sits). A natural group of common values with mixed labels in a mixed region gets neither.
    """
    from scipy import stats

    n = gid.size
    p = np.ones(n)
    rows = np.flatnonzero(conflicting & (codes >= 0))
    if rows.size == 0:
        return p
    g = gid[rows]
    c = codes[rows].astype(np.int64)
    k = int(c.max()) + 1
    pair = g * k + c
    upair, pinv, pcount = np.unique(pair, return_inverse=True, return_counts=True)
    pinv = pinv.reshape(-1)
    count = pcount[pinv]
    size = np.bincount(g, minlength=int(g.max()) + 1)[g]
    top = np.zeros(int(g.max()) + 1, dtype=np.int64)
    np.maximum.at(top, upair // k, pcount)
    top_count = top[g]
    d = disagree[rows]
    # in a tie, the member(s) whose neighbourhood disagrees most with their label are the candidates
    worst = np.full(int(g.max()) + 1, -np.inf)
    np.maximum.at(worst, g, np.where(count == top_count, d, -np.inf))
    candidate = (count < top_count) | ((count == top_count) & (d >= worst[g]) & (d > 0.5))
    n_dis = np.rint(d * (n_neighbors + 1.0) - 0.5).clip(0, n_neighbors)
    p_group = stats.binom.cdf(count, size, 0.5)
    p_nb = stats.binom.sf(n_dis - 1, n_neighbors, 0.5)
    p_row = np.minimum(1.0, 2.0 * np.minimum(p_group, p_nb))
    p[rows] = np.where(candidate, p_row, 1.0)
    return np.clip(p, 1e-300, 1.0)


def _distinct_reference(codes: np.ndarray, rows_mask: np.ndarray, first: np.ndarray, random_state: Any,
                        max_reference: int = 20_000) -> np.ndarray:
    """The rows neighbour labels are read from: one row per distinct feature value (``first``), labelled
    and outside ``rows_mask`` (the conflicting groups), at most ``max_reference`` of them (sampled)."""
    ref = np.sort(first)
    ref = ref[~rows_mask[ref] & (codes[ref] >= 0)]
    if ref.size > max_reference:
        ref = np.sort(check_random_state(random_state).choice(ref, size=max_reference, replace=False))
    return ref


def _neighbour_disagreement(X: np.ndarray, codes: np.ndarray, rows_mask: np.ndarray, ref: np.ndarray,
                            n_neighbors: int = NEIGHBOURS) -> np.ndarray:
    """For rows in ``rows_mask``: 1 - (smoothed) share of their label among their nearest rows of
    ``ref`` (:func:`_distinct_reference`); 0.5 where it cannot be measured."""
    out = np.full(rows_mask.size, 0.5)
    if ref.size <= n_neighbors:
        return out
    q = np.flatnonzero(rows_mask & (codes >= 0))
    # the vote for each row's own label, with half a pseudo-count
    n_classes = int(max(codes[ref].max(), codes[q].max(initial=0))) + 1
    share = knn_label_vote(nearest_neighbors(X[ref], n_neighbors), codes[ref], X[q], n_classes=n_classes, prior=0.5)
    out[q] = 1.0 - share[np.arange(q.size), codes[q]]
    return out
