"""The :class:`TabularDataset`: a table with its label, feature kinds, stable row ids and row digests."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError, SchemaError
from ._encoder import Encoder, category_codes

__all__ = ["Kind", "MAX_CLASSES", "MIN_LABELLED_ROWS", "MISSING_MARKERS", "TabularDataset", "sort_key"]

#: Cell values read as missing in text formats.
MISSING_MARKERS: tuple[str, ...] = ("", "?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None")

Kind = Literal["numeric", "categorical", "id", "text", "label", "other"]
_ID_NAME = re.compile(r"^(id|uuid|guid|key|index|.*[_\- ]id|.*Id|.*ID)$")

#: Label-flip detection refuses data with fewer labelled rows than this, ...
MIN_LABELLED_ROWS = 10
#: ... or with more classes than this (or than half the labelled rows): it could only flag every row.
MAX_CLASSES = 1000


def _infer_kind(name: str, s: pd.Series, n: int) -> Kind:
    dtype = s.dtype
    nonnull = s.dropna()
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        if (pd.api.types.is_integer_dtype(dtype) and n >= 20 and _ID_NAME.match(name)
                and nonnull.is_unique and len(nonnull) == n):
            return "id"
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype):
        return "other"
    if len(nonnull) == 0:
        return "categorical"
    values = nonnull.astype(str)
    nunique = values.nunique()
    if n >= 20 and nunique == len(values) and len(values) == n:
        lengths = values.str.len()
        return "text" if (lengths.mean() > 40 or values.str.contains(r"\s", regex=True).mean() > 0.5) else "id"
    if n >= 20 and nunique > max(100, 0.5 * len(values)):
        return "text"
    return "categorical"


@dataclasses.dataclass
class TabularDataset:
    """A labelled (or unlabelled) table read from a file, with stable row ids and feature kinds.

    Build one with :func:`load_dataset` (from a file) or :meth:`from_frame` (from memory).

    Attributes
    ----------
    frame : pandas.DataFrame
        Every column as read, missing markers turned into missing values. Never modified in place.
    label : str or None
        Name of the label column.
    kinds : dict of str to str
        Kind of every column: ``"numeric"``, ``"categorical"``, ``"id"``, ``"text"``, ``"label"``
        or ``"other"``. Only numeric and categorical columns are encoded for the detectors.
    path : pathlib.Path or None
        The file it was read from.
    format : {"csv", "tsv", "parquet", "jsonl"}
        The file format; outputs are written in the same format.
    compression : str or None
        ``"gz"`` etc. for compressed text files.
    sha256 : str or None
        SHA-256 of the input file's bytes.
    id_column : str or None
        A column that identifies rows, reported next to ``row``.

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.data import TabularDataset
    >>> ds = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "a"]}), label="y")
    >>> ds.n_rows, ds.feature_columns, ds.classes_.tolist()
    (3, ['x'], ['a', 'b'])
    """

    frame: pd.DataFrame
    label: str | None = None
    kinds: dict[str, str] = dataclasses.field(default_factory=dict)
    path: Path | None = None
    format: str = "csv"
    compression: str | None = None
    sha256: str | None = None
    id_column: str | None = None
    # caches, never copied by dataclasses.replace (a copy with other rows or kinds encodes anew);
    # take() and encoded_by() carry them over where they stay true
    _encoded: np.ndarray | None = dataclasses.field(default=None, init=False, repr=False, compare=False)
    _encoder: Encoder | None = dataclasses.field(default=None, init=False, repr=False, compare=False)
    _digests: np.ndarray | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, label: str | None = None, id_column: str | None = None,
                   kinds: dict[str, str] | None = None, path: str | os.PathLike[str] | None = None,
                   format: str = "csv", compression: str | None = None, sha256: str | None = None,
                   require_classes: int = 0) -> TabularDataset:
        """Wrap an in-memory frame (its index is replaced by 0..n-1 ``row`` positions).

        Parameters
        ----------
        frame : pandas.DataFrame
            The data; it is copied, never modified.
        label : str, default=None
            The label column.
        id_column : str, default=None
            A column that identifies rows.
        kinds : dict, default=None
            Override the inferred kind of some columns.
        require_classes : int, default=0
            Raise :class:`DataError` when the label has fewer distinct values than this.
        """
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        where = str(path) if path is not None else "the data"
        if len(frame.columns) != len(set(frame.columns)):
            dups = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
            raise SchemaError(f"{where}: duplicate column names {dups}; give every column a distinct name")
        if len(frame) == 0:
            raise DataError(f"{where}: no data rows (only a header); give a file with at least one data row")
        for role, col in (("label", label), ("id", id_column)):
            if col is not None and col not in frame.columns:
                shown = ", ".join(map(str, list(frame.columns)[:30]))
                raise SchemaError(f"{where}: no {role} column {col!r}; the columns are: {shown}. "
                                  f"Pass --{role} with one of them")
        inferred: dict[str, str] = {}
        n = len(frame)
        for col in frame.columns:
            if col == label:
                inferred[col] = "label"
            elif col == id_column:
                inferred[col] = "id"
            else:
                inferred[col] = _infer_kind(col, frame[col], n)
        if kinds:
            unknown = set(kinds) - set(frame.columns)
            if unknown:
                raise SchemaError(f"{where}: kinds given for unknown columns {sorted(unknown)}")
            inferred.update(kinds)
        ds = cls(frame=frame, label=label, kinds=inferred,
                 path=Path(path) if path is not None else None, format=format, compression=compression,
                 sha256=sha256, id_column=id_column)
        if label is not None:
            ds._check_label(require_classes)
        return ds

    def _check_label(self, require_classes: int) -> None:
        assert self.label is not None
        where = str(self.path) if self.path else "the data"
        s = self.frame[self.label]
        if s.isna().all():
            raise DataError(f"{where}: the label column {self.label!r} is empty in every row; "
                            "name the column that holds the labels with --label")
        k = s.nunique(dropna=True)
        if require_classes and k < require_classes:
            only = s.dropna().iloc[0]
            raise DataError(f"{where}: the label column {self.label!r} has a single class ({only!r}); "
                            f"label-flip detection needs at least {require_classes} classes")
        if require_classes:
            self._check_learnable(k)

    def _check_learnable(self, k: int) -> None:
        """Refuse data that label-flip detection cannot learn from (it would flag every row)."""
        assert self.label is not None
        where = str(self.path) if self.path else "the data"
        s = self.frame[self.label]
        n = int(s.notna().sum())
        other = "; scan without --label, e.g. --detectors outliers,duplicates, to look for other poisoning"
        if n < MIN_LABELLED_ROWS:
            raise DataError(f"{where}: only {n} labelled rows; label-flip detection needs at least "
                            f"{MIN_LABELLED_ROWS} (its models are cross-validated){other}")
        if pd.api.types.is_float_dtype(s.dtype) and k > n / 2 and (s.dropna() % 1 != 0).any():
            raise DataError(f"{where}: the label column {self.label!r} looks continuous ({k} distinct values in {n} "
                            f"rows): label-flip detection needs class labels; bin it into classes first{other}")
        if k > MAX_CLASSES or k > n / 2:
            raise DataError(f"{where}: too many classes for the rows: the label column {self.label!r} has {k} "
                            f"distinct values in {n} labelled rows; label-flip detection needs at most "
                            f"{MAX_CLASSES} classes and at least 2 rows per class on average. Check that --label "
                            f"names the class column{other}")
        self.require_features("label-flip detection", "to learn the label from")

    def require_features(self, who: str, why: str = "", *, todo: str = "") -> None:
        """Refuse (:class:`DataError`, one line) data without numeric or categorical feature columns.

        ``who`` names what needs them (``"label-flip detection"``, ``"detector(s) ['outliers']"``).
        """
        if self.feature_columns:
            return
        where = str(self.path) if self.path else "the data"
        shown = ", ".join(f"{c} ({kind})" for c, kind in list(self.kinds.items())[:10])
        raise DataError(f"{where}: no feature columns{' ' + why if why else ''} (the columns are: {shown}); "
                        f"{who} needs numeric or categorical columns besides the label and id{todo}")

    # -- basic views --------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return len(self.frame)

    @property
    def rows(self) -> np.ndarray:
        """The ``row`` id of every record: its 0-based position in the input file."""
        return np.arange(len(self.frame), dtype=np.int64)

    @property
    def feature_columns(self) -> list[str]:
        """Numeric and categorical columns, in file order: what :meth:`encode` uses."""
        return [c for c in self.frame.columns if self.kinds.get(c) in ("numeric", "categorical")]

    def columns_of_kind(self, *kinds: str) -> list[str]:
        """Columns whose kind is one of ``kinds``, in file order."""
        return [c for c in self.frame.columns if self.kinds.get(c) in kinds]

    @property
    def label_missing(self) -> np.ndarray:
        """Boolean mask of rows whose label is missing."""
        if self.label is None:
            return np.zeros(self.n_rows, dtype=bool)
        return self.frame[self.label].isna().to_numpy()

    @property
    def classes_(self) -> np.ndarray:
        """Sorted distinct label values (missing excluded)."""
        if self.label is None:
            raise DataError("this dataset has no label column; pass --label")
        return np.asarray(sorted(self.frame[self.label].dropna().unique().tolist(), key=sort_key), dtype=object)

    def label_codes(self, classes: Sequence[Any] | None = None) -> np.ndarray:
        """Labels as integer codes into ``classes`` (default :attr:`classes_`); -1 for missing or unseen."""
        if self.label is None:
            raise DataError("this dataset has no label column; pass --label")
        classes = list(self.classes_ if classes is None else classes)
        return category_codes(self.frame[self.label], classes)

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, encoder: Encoder | None = None) -> np.ndarray:
        """The shared numeric matrix of the feature columns (float32, shape ``(n_rows, n_encoded)``).

        Parameters
        ----------
        encoder : Encoder, default=None
            A fitted encoder (for instance fitted on trusted reference data). When None, an
            :class:`Encoder` is fitted on this dataset. The result is cached per encoder.
        """
        if encoder is None:
            if self._encoded is None or self._encoder is None:
                self._encoder = Encoder().fit(self)
                self._encoded = self._encoder.transform(self)
            return self._encoded
        if encoder is self._encoder and self._encoded is not None:
            return self._encoded
        return encoder.transform(self)

    @property
    def encoder(self) -> Encoder:
        """The encoder fitted by :meth:`encode` (fitted on first use)."""
        if self._encoder is None:
            self.encode()
        assert self._encoder is not None
        return self._encoder

    # -- digests ------------------------------------------------------------------------------
    def row_digests(self, columns: Sequence[str] | None = None) -> np.ndarray:
        """SHA-256 (hex) of each row's canonical encoding.

        The canonical encoding sorts columns by name and writes ``name=value`` pairs joined by
        the unit separator, numbers in shortest float form and missing values as ``\\x00``, so the
        digest does not depend on column order, file format or int/float spelling.

        Parameters
        ----------
        columns : sequence of str, default=None
            Columns to include (default: all). Cached for the default.
        """
        if columns is None and self._digests is not None:
            return self._digests
        cols = sorted(self.frame.columns if columns is None else columns)
        parts = []
        for col in cols:
            s = self.frame[col]
            if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
                text = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan).astype(str), dtype=object)
                text = text.where(s.notna().to_numpy(), "\x00")
            else:
                text = s.astype(object).where(s.notna(), "\x00").astype(str)
            parts.append((col + "=") + text)
        joined = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
        digests = np.array([hashlib.sha256(v.encode("utf-8")).hexdigest() for v in joined.tolist()], dtype=object)
        if columns is None:
            self._digests = digests
        return digests

    # -- subsets and copies -------------------------------------------------------------------
    def take(self, rows: np.ndarray | Sequence[int]) -> TabularDataset:
        """A dataset of the rows at positions ``rows`` (ints, or a boolean mask), in that order.

        The copy keeps the label, id column, kinds and file information, and the encoding, encoder
        and row digests already computed (their rows taken): detectors fitted on a subset see the
        same encoding as on the whole. Its ``row`` ids are positions in the subset, ``0..len-1``:
        ``np.asarray(rows)`` (or ``np.flatnonzero(mask)``) maps them back.

        Examples
        --------
        >>> import pandas as pd
        >>> from poisonguard.data import TabularDataset
        >>> ds = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "a"]}), label="y")
        >>> sub = ds.take([2, 0])
        >>> sub.frame["x"].tolist(), bool((sub.encode() == ds.encode()[[2, 0]]).all())
        ([3.0, 1.0], True)
        """
        idx = np.asarray(rows)
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < -self.n_rows or idx.max() >= self.n_rows):
            raise DataError(f"rows out of range for a dataset of {self.n_rows} rows")
        out = dataclasses.replace(self, frame=self.frame.iloc[idx].reset_index(drop=True))
        if self._encoded is not None:
            out._encoded, out._encoder = self._encoded[idx], self._encoder
        if self._digests is not None:
            out._digests = self._digests[idx]
        return out

    def encoded_by(self, encoder: Encoder) -> TabularDataset:
        """A copy whose :meth:`encode` and :attr:`encoder` are ``encoder``'s (fitted elsewhere, e.g. on trusted data).

        The data is encoded now, so a column the encoder needs and the data lacks raises here.
        """
        out = dataclasses.replace(self)
        out._encoded, out._encoder = encoder.transform(self), encoder
        out._digests = self._digests
        return out

    def _with_roles(self, label: str | None, id_column: str | None) -> TabularDataset:
        """The same table with other label and id columns (kinds re-inferred for the columns that change role)."""
        moved = {self.label, self.id_column, label, id_column} - {None}
        kinds = {c: k for c, k in self.kinds.items() if c not in moved}
        return TabularDataset.from_frame(self.frame, label=label, id_column=id_column, kinds=kinds, path=self.path,
                                         format=self.format, compression=self.compression, sha256=self.sha256)

    # -- output -------------------------------------------------------------------------------
    def subset(self, mask: np.ndarray) -> pd.DataFrame:
        """The rows where ``mask`` is true, as a frame (a copy)."""
        return self.frame.loc[np.asarray(mask, dtype=bool)].copy()


def sort_key(v: Any) -> tuple[int, Any]:
    """Sort key for mixed values (labels, categories): numbers first by value, then the rest as text."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return (0, float(v))
    return (1, str(v))
