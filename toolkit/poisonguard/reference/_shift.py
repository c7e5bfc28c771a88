"""Effect sizes of a distribution shift: PSI and scaled Wasserstein-1 of numeric columns, Jensen-Shannon of categories."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._kernel import js_divergence, robust_scale
from ..data import TabularDataset
from ._policy import MISSING


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
    return s.astype(object).where(s.notna(), MISSING).map(str).value_counts()


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


def distribution_shift(trusted: TabularDataset, t_rows: np.ndarray | None, new: TabularDataset, n_rows: np.ndarray,
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


def shift_text(col: str, st: Mapping[str, Any]) -> str:
    if st["kind"] == "numeric":
        return f"{col!r} (PSI {st['psi']:.2f}, W1 {st['wasserstein']:.2f} sd)"
    return f"{col!r} (JS {st['js']:.2f})"


def shares(counts: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    tot = counts.sum()
    return {n: round(float(c / tot), 4) if tot else 0.0 for n, c in zip(names, counts) if c > 0}
