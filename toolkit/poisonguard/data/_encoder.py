"""The numeric encoding of a dataset's feature columns that every detector shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._kernel import robust_scale
from ..errors import DataError, SchemaError

if TYPE_CHECKING:
    from ._dataset import TabularDataset

__all__ = ["CLIP", "Encoder", "category_codes"]

#: Bound on an encoded numeric value, in robust units (see :class:`Encoder`).
CLIP = 1e6


class Encoder:
    """Numeric encoding of the feature columns shared by all detectors.

    Numeric columns: median imputation, a missing-indicator column where the fitting data has
    missing values, robust scaling (median / IQR, falling back to the standard deviation when
    the IQR is zero, and to 1 when neither is a finite positive number). Scaling is computed in
    float64 and the result clipped to ``[-CLIP, CLIP]`` (:data:`CLIP` = 1e6 robust units) before
    it is stored as float32: an extreme cell (``1e308``) stays the most extreme value of its
    column, and sums of squares over the columns stay finite, so no detector fails on it.
    Categorical columns: one-hot over the ``max_categories - 2`` most frequent values (at least
    one), one column for all rarer values and one for missing (``max(max_categories, 3)`` at most),
    scaled by ``1/sqrt(2)`` so that a category mismatch weighs as much as one robust unit of a
    numeric column.

    Parameters
    ----------
    max_categories : int, default=20
        Cap on one-hot columns per categorical feature, its ``<other>`` and ``<missing>`` columns included
        (at least 3).

    Attributes
    ----------
    columns_ : list of str
        Names of the encoded columns (``age``, ``workclass=Private``, ``age__missing``...).
    source_columns_ : list of str
        The dataset column each encoded column came from.

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.data import Encoder, TabularDataset
    >>> ds = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]}))
    >>> Encoder().fit(ds).transform(ds).shape
    (3, 5)
    """

    def __init__(self, *, max_categories: int = 20) -> None:
        self.max_categories = max_categories

    def fit(self, ds: TabularDataset) -> Encoder:
        """Learn medians, scales and category sets from ``ds``."""
        # one ordered plan, so transform lays columns out exactly as columns_ names them
        self.plan_: list[tuple[str, str, Any]] = []
        self.columns_: list[str] = []
        self.source_columns_: list[str] = []
        for col in ds.feature_columns:
            s = ds.frame[col]
            if ds.kinds[col] == "numeric":
                v = s.to_numpy(dtype="float64", na_value=np.nan)
                finite = v[np.isfinite(v)]
                med, scale = 0.0, 1.0
                if finite.size:
                    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 cells: spreads may overflow
                        med = float(np.median(finite))
                        # IQR, else the standard deviation, else 1 (constant, or a spread too large for float64)
                        scale = robust_scale(finite, finite=True)
                has_missing = bool((~np.isfinite(v)).any())
                self.plan_.append(("numeric", col, (med, scale, has_missing)))
                self.columns_.append(col)
                self.source_columns_.append(col)
                if has_missing:
                    self.columns_.append(f"{col}__missing")
                    self.source_columns_.append(col)
            else:
                counts = s.astype(object).dropna().value_counts()
                keep = counts.index[: max(self.max_categories - 2, 1)].tolist()
                self.plan_.append(("categorical", col, keep))
                for value in keep:
                    self.columns_.append(f"{col}={value}")
                    self.source_columns_.append(col)
                self.columns_ += [f"{col}=<other>", f"{col}=<missing>"]
                self.source_columns_ += [col, col]
        return self

    def categorical_groups(self) -> list[list[int]]:
        """The encoded columns of each categorical feature, in feature order: its one-hot columns,
        ``<other>`` and ``<missing>`` included, so that exactly one of them is set in every row.

        Models that split on categories natively read each group as one feature
        (:class:`poisonguard.detectors.label_flip.OneHotAsCategories`).

        Examples
        --------
        >>> import pandas as pd
        >>> from poisonguard.data import Encoder, TabularDataset
        >>> ds = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]}))
        >>> Encoder().fit(ds).categorical_groups()
        [[2, 3, 4, 5]]
        """
        if not hasattr(self, "columns_"):
            raise DataError("the encoder is not fitted; call fit() first")
        groups, j = [], 0
        for kind, _, spec in self.plan_:
            if kind == "numeric":
                j += 2 if spec[2] else 1
            else:
                width = len(spec) + 2
                groups.append(list(range(j, j + width)))
                j += width
        return groups

    def transform(self, ds: TabularDataset) -> np.ndarray:
        """Encode ``ds`` (which must have the fitted columns) into a float32 matrix."""
        if not hasattr(self, "columns_"):
            raise DataError("the encoder is not fitted; call fit() first")
        n = ds.n_rows
        out = np.zeros((n, len(self.columns_)), dtype=np.float32)
        j = 0
        missing_cols = [c for _, c, _ in self.plan_ if c not in ds.frame.columns]
        if missing_cols:
            raise SchemaError(f"the data lacks columns {missing_cols} that the reference data has; "
                              "give data with the same columns")
        w = np.float32(1 / np.sqrt(2))
        rows = np.arange(n)
        for kind, col, spec in self.plan_:
            if kind == "numeric":
                med, scale, has_missing = spec
                v = pd.to_numeric(ds.frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                miss = ~np.isfinite(v)
                with np.errstate(over="ignore", invalid="ignore"):  # computed in float64, then clipped
                    z = np.where(miss, 0.0, (v - med) / scale)
                out[:, j] = np.clip(np.nan_to_num(z, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)
                j += 1
                if has_missing:
                    out[:, j] = miss
                    j += 1
            else:
                keep = spec
                s = ds.frame[col].astype(object)
                codes = category_codes(s, keep)
                codes = np.where(codes >= 0, codes, np.where(s.isna().to_numpy(), len(keep) + 1, len(keep)))
                out[rows, j + codes] = w
                j += len(keep) + 2
        return out


def category_codes(values: pd.Series, categories: Sequence[Any]) -> np.ndarray:
    """Position of each value in ``categories``; -1 for missing or unseen values."""
    return pd.Index(list(categories), dtype=object).get_indexer(values.astype(object)).astype(np.int64)
