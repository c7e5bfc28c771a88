"""Row evidence of the backdoor detector that needs no rule: tail evidence, spectral scores, distinct rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from .._kernel import robust_scale

__all__ = ["binom_evidence", "distinct_rows", "overlap_evidence", "spectral_scores"]


def binom_evidence(k: Any, n: Any, p: Any) -> Any:
    """-log10 P(X >= k), X ~ Binomial(n, p)."""
    return -stats.binom.logsf(np.asarray(k) - 1, np.asarray(n), np.clip(np.asarray(p), 1e-12, 1 - 1e-12)) / math.log(10)


def overlap_evidence(k: int, n: int, a: int, b: int) -> float:
    """-log10 P(X >= k), X ~ Hypergeometric(n, a, b): the overlap of a set of ``b`` rows drawn at
    random from ``n`` with a given set of ``a`` rows.

    The exact null of "a condition falls on the rows independently of the rule's rows" (given how
    many rows each covers: a permutation test of the one column against the other). Its
    large-``n`` limit is the Poisson tail of mean ``a b / n``, which for small data is far too
    weak: three rows of 105 that share two stamped values have overlap probability
    ``1 / C(105, 3) = 5.3e-6``, the Poisson tail ``1.0e-4``."""
    return float(-stats.hypergeom.logsf(k - 1, n, a, b) / math.log(10))


def spectral_scores(X: np.ndarray, codes: np.ndarray, n_classes: int, min_rows: int = 20,
                     max_rows: int = 50_000, seed: int = 0) -> np.ndarray:
    """Per class: robust z of the squared projection on the top singular vector of the centred rows.

    The direction is estimated on at most ``max_rows`` rows of the class (a random sample); every
    row of the class is projected.
    """
    out = np.zeros(codes.size)
    rng = np.random.default_rng(seed)
    for c in range(n_classes):
        idx = np.flatnonzero(codes == c)
        if idx.size < min_rows:
            continue
        fit = idx if idx.size <= max_rows else np.sort(rng.choice(idx, size=max_rows, replace=False))
        Z = X[fit].astype(np.float64)
        mean = Z.mean(axis=0)
        Z -= mean
        try:
            _, vecs = np.linalg.eigh(Z.T @ Z)
        except np.linalg.LinAlgError:
            continue
        v = vecs[:, -1]
        proj = (X[idx] @ v.astype(X.dtype) - float(mean @ v)).astype(np.float64) ** 2
        med = float(np.median(proj))
        mad = robust_scale(proj, estimators=("mad", "std"), tol=0, keep_nan=True)  # MAD or std or 1
        out[idx] = (proj - med) / mad
    return out


def distinct_rows(X: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sorted indices of the first occurrence of each distinct (encoded row, label).

    Rows are keyed by a random projection (distinct rows collide with probability ~0) and the label.
    """
    proj = np.asarray(X, dtype=np.float64) @ np.random.default_rng(12345).normal(size=X.shape[1])
    order = np.lexsort((np.arange(codes.size), codes, proj))
    p, c = proj[order], codes[order]
    starts = np.r_[True, (p[1:] != p[:-1]) | (c[1:] != c[:-1])]
    return np.sort(order[starts])
