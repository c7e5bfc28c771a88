"""The backdoor detector's rule search: single conditions (items) mined per column, joined into rules.

Works on the distinct rows (copies of one row are not a pattern): :func:`mine_items` finds the
rare values, out-of-range point masses and tails enriched in one label; :func:`join_items` joins
items of one target that co-occur far beyond chance into conjunctions, with their evidence.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from .._kernel import robust_scale
from ._backdoor_evidence import binom_evidence, overlap_evidence
from .pii import looks_sensitive

__all__ = ["MAX_EVIDENCE", "MAX_ITEMS", "TAIL_QUANTILES", "Column", "Item", "cond_mask", "join_items", "mine_items",
           "stamped_beyond_range"]

#: Tail cut points tried for numeric items (quantiles of the column).
TAIL_QUANTILES: tuple[float, ...] = (0.9, 0.95, 0.98, 0.99, 0.995)
#: Most single conditions kept as candidates (plus half as many plain tails).
MAX_ITEMS = 300
#: Cap of the evidence (-log10 p), so reports stay finite.
MAX_EVIDENCE = 300.0

@dataclasses.dataclass
class Item:
    """One candidate condition of a rule, with the (distinct) rows it covers and its evidence."""

    col: int            # index into the detector's column list
    op: str
    value: Any
    kind: str           # "mass" (numeric ==), "category", "range" (out-of-range tail) or "tail"
    outside: bool       # the value lies beyond the other values of the column (a gap of a spread or more)
    rows: np.ndarray    # sorted (distinct-)row indices satisfying the condition
    target: int
    n_target: int
    evidence: float

@dataclasses.dataclass
class Column:
    """One source column of the data as the detector mines it."""

    name: str
    kind: str           # "numeric" or "categorical"
    values: np.ndarray  # float64 (numeric, NaN = missing) or object
    encoded: np.ndarray  # indices of the encoded columns it produced

def mine_items(cols: list[Column], codes: np.ndarray, n_classes: int, *, min_rows: int, max_support: float,
               max_values: int) -> list[Item]:
    """Single conditions that are rare and enriched in one label (on distinct rows)."""
    n = codes.size
    k = n_classes
    prior = np.bincount(codes, minlength=k) / n
    max_rows = max(min_rows, int(max_support * n))
    # (col, op, value, kind, outside, per-class counts)
    cand: list[tuple[int, str, Any, str, bool, np.ndarray]] = []
    quantiles = [*TAIL_QUANTILES, *(1 - q for q in TAIL_QUANTILES)]
    for ci, col in enumerate(cols):
        v = col.values
        if col.kind == "numeric":
            ok = np.isfinite(v)
            if ok.sum() < min_rows:
                continue
            uniq, inv = np.unique(v[ok], return_inverse=True)
            if uniq.size < 2:
                continue
            table = np.bincount(inv * k + codes[ok], minlength=uniq.size * k).reshape(uniq.size, k)
            tot = table.sum(axis=1)
            unit = robust_scale(v[ok], tol=0, keep_nan=True)  # IQR or std or 1
            # point masses: values shared by several rows (the most frequent ones); a mass at
            # either end separated from the other values by a gap is out of range
            if uniq.size > 2:
                pm = np.flatnonzero((tot >= min_rows) & (tot <= max_rows))
                pm = pm[np.argsort(-tot[pm], kind="stable")][: max_values]
                for i in pm.tolist():
                    outside = ((i == uniq.size - 1 and uniq[i] - uniq[i - 1] >= unit)
                               or (i == 0 and uniq[1] - uniq[0] >= unit))
                    cand.append((ci, "==", float(uniq[i]), "mass", bool(outside), table[i]))
            # tails: >= a high cut, <= a low cut; out of range when a gap separates them
            cum = np.cumsum(table, axis=0)
            total = cum[-1]
            seen: set[tuple[str, int]] = set()
            for q, cut in zip(quantiles, np.quantile(v[ok], quantiles).tolist()):
                if q > 0.5:
                    i = int(np.searchsorted(uniq, cut, side="left"))
                    if i == 0 or i >= uniq.size:
                        continue
                    c, op, gap = total - cum[i - 1], ">=", float(uniq[i] - uniq[i - 1])
                else:
                    i = int(np.searchsorted(uniq, cut, side="right")) - 1
                    if i < 0 or i >= uniq.size - 1:
                        continue
                    c, op, gap = cum[i], "<=", float(uniq[i + 1] - uniq[i])
                if (op, i) in seen or not (min_rows <= c.sum() <= max_rows):
                    continue
                seen.add((op, i))
                outside = gap >= unit
                cand.append((ci, op, float(uniq[i]), "range" if outside else "tail", bool(outside), c))
        else:
            s = pd.Series(v)
            ok = s.notna().to_numpy()
            if ok.sum() < min_rows:
                continue
            fcodes, uniq = pd.factorize(s[ok], sort=False)
            table = np.bincount(fcodes * k + codes[ok], minlength=len(uniq) * k).reshape(len(uniq), k)
            tot = table.sum(axis=1)
            sel = np.flatnonzero((tot >= min_rows) & (tot <= max_rows))
            sel = sel[np.argsort(-tot[sel], kind="stable")][: max_values]
            # a value that is itself sensitive (an e-mail address...) never becomes a rule condition,
            # so that no report quotes it
            cand += [(ci, "==", uniq[i], "category", False, table[i]) for i in sel.tolist()
                     if not looks_sensitive(str(uniq[i]))]
    if not cand:
        return []
    tables = np.array([c[5] for c in cand], dtype=np.int64)
    tot = tables.sum(axis=1)
    tgt = tables.argmax(axis=1)
    n_t = tables[np.arange(len(cand)), tgt]
    lift = n_t / tot / prior[tgt]
    keep = np.flatnonzero((lift >= 1.5) & (n_t >= min_rows))
    if keep.size == 0:
        return []
    ev = binom_evidence(n_t[keep], tot[keep], prior[tgt[keep]])
    is_tail = np.array([cand[i][3] == "tail" for i in keep.tolist()])
    order = np.argsort(-ev, kind="stable")
    # every kind of condition gets its share of the candidates (pure natural tails abound)
    chosen = np.concatenate([order[~is_tail[order]][:MAX_ITEMS], order[is_tail[order]][: MAX_ITEMS // 2]])
    items = []
    for j in chosen.tolist():
        i = int(keep[j])
        ci, op, value, kind, outside, _ = cand[i]
        rows = np.flatnonzero(cond_mask(cols[ci], op, value))
        items.append(Item(ci, op, value, kind, outside, rows, int(tgt[i]), int(n_t[i]), float(ev[j])))
    items.sort(key=lambda it: -it.evidence)
    return items

def cond_mask(col: Column, op: str, value: Any) -> np.ndarray:
    """Rows of ``col`` that satisfy ``op value`` (missing: False)."""
    v = col.values
    if col.kind == "categorical":
        return pd.Series(v).eq(value).to_numpy(dtype=bool, na_value=False)
    with np.errstate(invalid="ignore"):
        if op == "==":
            return v == value
        return v >= value if op == ">=" else v <= value

def join_items(items: list[Item], codes: np.ndarray, n_classes: int, *, min_rows: int,
               max_conditions: int) -> list[dict[str, Any]]:
    """Join items of one target that co-occur far beyond chance into conjunctions."""
    from scipy import sparse

    n = codes.size
    m = len(items)
    if m == 0:
        return []
    prior = np.bincount(codes, minlength=n_classes) / n
    indptr = np.cumsum([0] + [it.rows.size for it in items])
    M = sparse.csr_matrix((np.ones(indptr[-1], dtype=np.float64), np.concatenate([it.rows for it in items]),
                           indptr), shape=(m, n))
    both = (M @ M.T).toarray()                      # |A ∩ B|
    tgt = np.array([it.target for it in items])
    both_t = np.zeros((m, m))                       # |A ∩ B| labelled with A's target
    for t in np.unique(tgt).tolist():
        Mt = M[:, np.flatnonzero(codes == t)]
        rows_t = np.flatnonzero(tgt == t)
        both_t[rows_t] = (Mt[rows_t] @ Mt.T).toarray()
    size = np.array([it.rows.size for it in items], dtype=np.float64)
    cols = np.array([it.col for it in items])
    purity = np.diag(both_t) / size
    kind_rank = np.array([0 if it.kind in ("mass", "category") else 1 if it.kind == "range" else 2
                          for it in items])
    outside_mass = np.array([it.kind == "mass" and it.outside for it in items])
    mu = np.outer(size, size) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        pair_ok = ((tgt[:, None] == tgt[None, :]) & (cols[:, None] != cols[None, :])
                   & (both >= min_rows) & (both >= 0.5 * size[:, None])
                   & (both_t / np.maximum(both, 1) >= purity[:, None] - 0.02) & (both >= 2.0 * mu))
    absorbed = np.zeros(m, dtype=bool)
    seen: set[tuple[int, int, int]] = set()
    rules: list[dict[str, Any]] = []
    for a in range(m):
        if absorbed[a]:
            continue
        item = items[a]
        members = [a]
        rows = item.rows
        cooc = 0.0
        partners = np.flatnonzero(pair_ok[a])
        partners = partners[np.lexsort((-np.array([items[b].evidence for b in partners]), kind_rank[partners]))] \
            if partners.size else partners
        for b in partners.tolist():
            if len(members) >= max_conditions:
                break
            if cols[b] in {items[x].col for x in members}:
                continue
            inter = np.intersect1d(rows, items[b].rows, assume_unique=True)
            mu_b = rows.size * size[b] / n
            if (inter.size < min_rows or inter.size < 0.5 * rows.size or inter.size < 2.0 * mu_b
                    or (codes[inter] == item.target).mean() < (codes[rows] == item.target).mean() - 0.02):
                continue
            cooc += overlap_evidence(int(inter.size), n, int(rows.size), int(size[b]))
            members.append(b)
            rows = inter
        # prefer exact values to tails: a member tail is replaced by a point mass of the same
        # column that every covered row shares (``bmi >= 47.9`` -> ``bmi == 81.3``)
        for pos, x in enumerate(members):
            if items[x].kind not in ("tail", "range"):
                continue
            for b in np.flatnonzero((cols == cols[x]) & (kind_rank == 0) & (tgt == item.target)).tolist():
                if np.intersect1d(rows, items[b].rows, assume_unique=True).size == rows.size:
                    members[pos] = b
                    break
        rows = items[members[0]].rows
        for x in members[1:]:
            rows = np.intersect1d(rows, items[x].rows, assume_unique=True)
        # items describing (mostly) the same rows as this rule are not separate candidates; an
        # out-of-range point mass on a small part of its rows stays one (a trigger stamped on
        # some rows of a natural tail: ``bland_chromatin == 17`` inside ``bland_chromatin >= 10``)
        ind = np.zeros(n)
        ind[rows] = 1.0
        inside = M @ ind
        own_part = outside_mass & (inside < 0.5 * rows.size)
        absorbed |= (tgt == item.target) & (inside >= 0.8 * size) & ~own_part
        key = (item.target, rows.size, hash(rows.tobytes()))
        if key in seen:
            continue
        seen.add(key)
        t = item.target
        n_t = int((codes[rows] == t).sum())
        ev = float(binom_evidence(n_t, rows.size, prior[t])) + cooc
        rules.append({"items": [items[x] for x in members], "target": t, "evidence": min(ev, MAX_EVIDENCE)})
    rules.sort(key=lambda r: -r["evidence"])
    return rules

def stamped_beyond_range(items: list[Item]) -> bool:
    """Two or more conditions on exact values, at least one a point mass beyond the column's range.

    Natural data rarely has several rows sharing one value that lies a spread or more beyond every
    other row's, and those same rows sharing a second exact value: that is how a trigger looks."""
    exact = sum(it.kind in ("mass", "category") for it in items)
    return exact >= 2 and any(it.kind == "mass" and it.outside for it in items)
