"""Loading tabular data into a :class:`TabularDataset`, and the shared numeric encoding.

Every stage reads data through :func:`load_dataset`, so every stage agrees on what a row is:
``row`` is the 0-based position of the record in the input file (header excluded), and it
is what reports, quarantine files and scores refer to. :meth:`TabularDataset.encode` turns
the feature columns into one numeric matrix (impute, one-hot with rare categories capped,
scale) that all detectors share, computed once per scan.

Supported formats: CSV (``.csv``, ``.tsv``, optionally ``.gz``/``.bz2``/``.zst``), Parquet
(``.parquet``, ``.pq``) and JSON Lines (``.jsonl``, ``.ndjson``, optionally ``.gz``).
"""

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

from ._io import atomic_open, sha256_file
from .errors import DataError, SchemaError

__all__ = [
    "MISSING_MARKERS",
    "Encoder",
    "TabularDataset",
    "csv_chunks",
    "detect_format",
    "load_dataset",
    "write_frame",
]

#: Cell values read as missing in text formats.
MISSING_MARKERS: tuple[str, ...] = ("", "?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None")

Format = Literal["csv", "tsv", "parquet", "jsonl"]
Kind = Literal["numeric", "categorical", "id", "text", "label", "other"]

_COMPRESSIONS = (".gz", ".bz2", ".zst", ".xz")
_ID_NAME = re.compile(r"^(id|uuid|guid|key|index|.*[_\- ]id|.*Id|.*ID)$")
_SNIFF = 1 << 16

#: Label-flip detection refuses data with fewer labelled rows than this, ...
MIN_LABELLED_ROWS = 10
#: ... or with more classes than this (or than half the labelled rows): it could only flag every row.
MAX_CLASSES = 1000


def detect_format(path: str | os.PathLike[str]) -> tuple[Format, str | None]:
    """Return ``(format, compression)`` from a file name, or raise :class:`DataError`."""
    name = Path(path).name.lower()
    compression = None
    for ext in _COMPRESSIONS:
        if name.endswith(ext):
            compression = ext[1:]
            name = name[: -len(ext)]
            break
    if name.endswith(".csv") or name.endswith(".txt"):
        return "csv", compression
    if name.endswith(".tsv"):
        return "tsv", compression
    if name.endswith((".parquet", ".pq")):
        if compression:
            raise DataError(f"{path}: compressed Parquet files are not supported; Parquet compresses itself, "
                            "decompress the file first")
        return "parquet", None
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl", compression
    raise DataError(f"{path}: unknown file type; use .csv, .tsv, .parquet or .jsonl "
                    "(optionally .gz for text formats)")


def _open_input(path: Path, compression: str | None) -> Any:
    """The decompressed bytes of a text input as a binary stream (Arrow's codecs; the stdlib for xz)."""
    if compression == "xz":
        import lzma

        return lzma.open(path, "rb")
    import pyarrow as pa

    codec = {"gz": "gzip", "bz2": "bz2", "zst": "zstd"}.get(compression or "", None)
    return pa.input_stream(str(path), compression=codec)


def _lzma_error() -> type[Exception]:
    import lzma

    return lzma.LZMAError


def _open_sniff(path: Path, compression: str | None) -> bytes:
    import pyarrow as pa

    try:
        with _open_input(path, compression) as fh:
            return bytes(fh.read(_SNIFF))
    except (OSError, EOFError, pa.ArrowInvalid, _lzma_error()) as exc:  # click would take EOFError for ^D
        raise DataError(f"{path}: cannot be read as a {compression or 'plain'} file ({exc}); "
                        "check that the file name's extension matches its content") from None


def _check_text(path: Path, head: bytes) -> None:
    if not head.strip():
        raise DataError(f"{path}: the file is empty; give a file with a header row and at least one data row")
    if b"\x00" in head:
        raise DataError(f"{path}: the file holds binary bytes (NUL), not text; give a CSV or JSON Lines file, "
                        "or name a Parquet file .parquet")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            raise DataError(f"{path}: the file is not UTF-8 text (bad byte at offset {exc.start}); "
                            "re-encode it as UTF-8") from None


def _arrow_to_pandas(table: Any) -> pd.DataFrame:
    """Integer columns as int64 (``Int64`` where values are missing), booleans as ``boolean``."""
    import pyarrow as pa

    small_ints = {pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16(), pa.uint32()}
    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    # one cast for the whole table, then one conversion: column by column is quadratic in wide tables
    schema = pa.schema([pa.field(f.name, pa.int64() if f.type in small_ints else f.type) for f in table.schema])
    table = table.cast(schema) if schema != table.schema else table
    masked = [i for i, (f, col) in enumerate(zip(table.schema, table.columns))
              if f.type == pa.bool_() or (f.type in nullable and col.null_count)]
    frame = table.to_pandas()
    for i in masked:
        frame.isetitem(i, table.column(i).to_pandas(types_mapper=nullable.get))
    return frame


def _read_csv(path: Path, delimiter: str, missing: Sequence[str], compression: str | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = _open_input(path, compression)
    try:
        table = pacsv.read_csv(
            source,
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(null_values=list(missing), strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
        )
    except (pa.ArrowInvalid, OSError, EOFError, _lzma_error()) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not isinstance(exc, pa.ArrowInvalid):  # a truncated or damaged compressed stream
            raise DataError(f"{path}: cannot be read as a {compression or 'plain'} file ({msg}); it may be "
                            "truncated or not what its extension says") from None
        if "Empty CSV file" in msg:
            raise DataError(f"{path}: the file is empty; give a file with a header row and data rows") from None
        m = re.search(r"Expected (\d+) columns, got (\d+)", msg)
        if m:
            raise DataError(f"{path}: ragged rows: a row has {m.group(2)} fields where the header has "
                            f"{m.group(1)} ({msg[msg.find(':', 10) + 1:].strip()[:80]!r}); make every row "
                            "as long as the header, quoting fields that contain the delimiter") from None
        if "UTF8" in msg or "utf-8" in msg.lower():
            raise DataError(f"{path}: the file is not UTF-8 text ({msg}); re-encode it as UTF-8") from None
        raise DataError(f"{path}: cannot be parsed as CSV ({msg}); check the delimiter and quoting") from None
    finally:
        source.close()
    _check_names(path, table.column_names)
    binary = [f.name for f in table.schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if binary:  # Arrow keeps a column with invalid UTF-8 as bytes: refuse it rather than write b'...' values
        raise DataError(f"{path}: the file is not UTF-8 text ({_bad_utf8_at(path, compression)}, in column "
                        f"{binary[0]!r}); re-encode it as UTF-8, e.g. `iconv -f latin1 -t utf-8`")
    return _arrow_to_pandas(table)


def _check_names(path: Path, names: Sequence[str]) -> None:
    """Refuse duplicate column names (pandas would silently make one column of two)."""
    seen: set[str] = set()
    dups = sorted({str(c) for c in names if str(c) in seen or seen.add(str(c))})  # type: ignore[func-returns-value]
    if dups:
        raise SchemaError(f"{path}: duplicate column names {dups[:10]}; give every column a distinct name")


def _bad_utf8_at(path: Path, compression: str | None) -> str:
    """Where the first invalid UTF-8 byte of a text file is: ``"bad byte at offset N, line L"``."""
    carry, pos, line = b"", 0, 1
    with _open_input(path, compression) as fh:
        while True:
            chunk = bytes(fh.read(1 << 20))
            data = carry + chunk
            if not data:
                break
            try:
                data.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as exc:
                if chunk and exc.start >= len(data) - 3 and "unexpected end" in exc.reason:
                    carry = data[exc.start:]  # a character cut by the chunk boundary
                    line += data.count(b"\n", 0, exc.start)
                    pos += exc.start
                    continue
                line += data.count(b"\n", 0, exc.start)
                return f"bad byte at offset {pos + exc.start}, line {line}"
            line += data.count(b"\n")
            pos += len(data)
            if not chunk:
                break
    return "bad bytes"


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PAR1":
        raise DataError(f"{path}: not a Parquet file (no PAR1 magic bytes); give a real Parquet file or "
                        "rename it after its format")
    try:
        table = pq.read_table(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: the Parquet file cannot be read ({exc}); it may be truncated") from None
    _check_names(path, table.column_names)
    nested = [f for f in table.schema if pa.types.is_nested(f.type)]
    if nested:
        raise SchemaError(f"{path}: column {nested[0].name!r} holds nested values ({str(nested[0].type)[:60]}); "
                          "poisonguard reads flat tables: flatten it into columns or store it as text")
    return _arrow_to_pandas(table)


def _read_jsonl(path: Path, compression: str | None, missing: Sequence[str]) -> pd.DataFrame:
    try:
        frame = pd.read_json(path, lines=True, dtype=False, compression=compression or "infer")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: the file is not UTF-8 text ({_bad_utf8_at(path, compression)}: {exc.reason}); "
                        "re-encode it as UTF-8") from None
    except (ValueError, EOFError, OSError) as exc:
        raise DataError(f"{path}: cannot be parsed as JSON Lines ({str(exc).splitlines()[0]}); "
                        "give one JSON object per line") from None
    markers = set(missing)
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            s = s.where(~s.isin(markers), None)
            num = pd.to_numeric(s, errors="coerce")
            if num.notna().sum() == s.notna().sum() and s.notna().any():
                frame[col] = num
            else:
                frame[col] = s.astype("str").where(s.notna(), None).astype("str")
    return frame


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
    _encoded: np.ndarray | None = dataclasses.field(default=None, repr=False)
    _encoder: Encoder | None = dataclasses.field(default=None, repr=False)
    _digests: np.ndarray | None = dataclasses.field(default=None, repr=False)

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
        if not self.feature_columns:
            shown = ", ".join(f"{c} ({kind})" for c, kind in list(self.kinds.items())[:10])
            raise DataError(f"{where}: no feature columns to learn the label from (the columns are: {shown}); "
                            "label-flip detection needs numeric or categorical columns besides the label")

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
        return np.asarray(sorted(self.frame[self.label].dropna().unique().tolist(), key=_sort_key), dtype=object)

    def label_codes(self, classes: Sequence[Any] | None = None) -> np.ndarray:
        """Labels as integer codes into ``classes`` (default :attr:`classes_`); -1 for missing or unseen."""
        if self.label is None:
            raise DataError("this dataset has no label column; pass --label")
        classes = list(self.classes_ if classes is None else classes)
        return _codes(self.frame[self.label], classes)

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

    # -- output -------------------------------------------------------------------------------
    def subset(self, mask: np.ndarray) -> pd.DataFrame:
        """The rows where ``mask`` is true, as a frame (a copy)."""
        return self.frame.loc[np.asarray(mask, dtype=bool)].copy()


def _codes(values: pd.Series, categories: Sequence[Any]) -> np.ndarray:
    """Position of each value in ``categories``; -1 for missing or unseen values."""
    return pd.Index(list(categories), dtype=object).get_indexer(values.astype(object)).astype(np.int64)


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return (0, float(v))
    return (1, str(v))


def load_dataset(path: str | os.PathLike[str], *, label: str | None = None, id_column: str | None = None,
                 format: Format | None = None, missing_markers: Sequence[str] = MISSING_MARKERS,
                 kinds: dict[str, str] | None = None, require_classes: int = 0) -> TabularDataset:
    """Read a CSV, Parquet or JSON Lines file into a :class:`TabularDataset`.

    Parameters
    ----------
    path : path-like
        The file. Its format comes from the extension unless ``format`` is given.
    label : str, default=None
        The label column.
    id_column : str, default=None
        A column identifying rows.
    format : {"csv", "tsv", "parquet", "jsonl"}, default=None
        Force a format.
    missing_markers : sequence of str, default=MISSING_MARKERS
        Cell values read as missing in text formats.
    kinds : dict, default=None
        Override inferred column kinds.
    require_classes : int, default=0
        Raise :class:`DataError` when the label has fewer classes than this.

    Raises
    ------
    DataError
        Missing, empty, binary or ragged file; unknown label column; a label that is all missing.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file; check the path (relative paths are taken from {Path.cwd()})")
    if p.is_dir():
        raise DataError(f"{p}: is a folder, not a data file; name a .csv, .parquet or .jsonl file inside it")
    fmt, compression = detect_format(p) if format is None else (format, None)
    if p.stat().st_size == 0:
        raise DataError(f"{p}: the file is empty; give a file with a header row and data rows")
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise DataError(f"{p}: cannot be read ({exc.strerror}); check its permissions") from None
    if fmt == "parquet":
        frame = _read_parquet(p)
    else:
        _check_text(p, _open_sniff(p, compression))
        if fmt in ("csv", "tsv"):
            frame = _read_csv(p, "\t" if fmt == "tsv" else ",", missing_markers, compression)
        else:
            frame = _read_jsonl(p, compression, missing_markers)
    return TabularDataset.from_frame(frame, label=label, id_column=id_column, kinds=kinds, path=p, format=fmt,
                                     compression=compression, sha256=sha256_file(p),
                                     require_classes=require_classes)


#: Rows formatted at a time by :func:`csv_chunks` (bounds the memory of the text being built).
CSV_CHUNK_ROWS = 200_000


def _csv_column(s: pd.Series, sep: str) -> Any:
    """One column as an Arrow string array formatted as ``DataFrame.to_csv`` does, or None when its
    type is not one handled here (the caller falls back to pandas)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(s, type=pa.bool_(), from_pandas=True)
        text = pc.if_else(arr, "True", "False")
    elif pd.api.types.is_integer_dtype(dtype):
        text = pc.cast(pa.array(s, from_pandas=True), pa.string())
    elif pd.api.types.is_float_dtype(dtype):
        text = pc.cast(pa.array(s, type=pa.float64(), from_pandas=True), pa.string())  # NaN -> null
        # pandas writes a float's repr: 31.0, not 31 (so the column reads back as floats)
        text = pc.if_else(pc.match_substring_regex(text, r"^-?[0-9]+$"), pc.binary_join_element_wise(text, ".0", ""),
                          text)
    elif dtype == object or pd.api.types.is_string_dtype(dtype):
        try:
            text = pa.array(s, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None  # mixed Python objects: pandas formats them
        special = pc.match_substring_regex(text, "[" + re.escape(sep) + '"\r\n]')
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(pc.fill_null(special, False), quoted, text)
    else:
        return None
    return pc.fill_null(text, "")


def csv_chunks(frame: pd.DataFrame, sep: str = ",") -> Any:
    """``frame`` as CSV text (header first, ``\\n`` line ends, minimal quoting, missing as empty),
    yielded in chunks of bytes.

    The same text as ``frame.to_csv(index=False, lineterminator="\\n")`` up to number formatting
    (``1e-05`` may be written ``0.00001``; both read back as the same value), formatted with
    vectorised Arrow casts, about ten times faster on large numeric frames. Columns of other types
    (dates, categories, mixed objects) are formatted by pandas.
    """
    import csv
    import io

    import pyarrow as pa
    import pyarrow.compute as pc

    head = io.StringIO()
    csv.writer(head, delimiter=sep, lineterminator="\n").writerow([str(c) for c in frame.columns])
    yield head.getvalue().encode("utf-8")
    for start in range(0, len(frame), CSV_CHUNK_ROWS):
        part = frame.iloc[start:start + CSV_CHUNK_ROWS]
        cols = [_csv_column(part.iloc[:, i], sep) for i in range(part.shape[1])]
        if any(c is None for c in cols) or not cols:
            buf = io.StringIO()
            part.to_csv(buf, sep=sep, index=False, header=False, lineterminator="\n")
            yield buf.getvalue().encode("utf-8")
            continue
        lines = pc.binary_join_element_wise(*cols, sep) if len(cols) > 1 else cols[0]
        lines = pc.binary_join_element_wise(lines, "\n", "")  # each line with its end
        if isinstance(lines, pa.ChunkedArray):
            lines = lines.combine_chunks()
        lines = lines.cast(pa.large_string())
        # the concatenated lines are the array's value buffer between its first and last offsets
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
        yield lines.buffers()[2].to_pybytes()[int(offsets[0]):int(offsets[-1])] if len(lines) else b""


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str], format: str, compression: str | None = None) -> Path:
    """Write ``frame`` atomically in ``format`` (the input's format), returning the path."""
    p = Path(path)
    if format in ("csv", "tsv"):
        sep = "\t" if format == "tsv" else ","
        with atomic_open(p, "wb") as fh:
            with _compressed(fh, compression) as out:
                for chunk in csv_chunks(frame, sep):
                    out.write(chunk)
    elif format == "parquet":
        with atomic_open(p, "wb") as fh:
            frame.to_parquet(fh, index=False)
    elif format == "jsonl":
        comp = {"gz": "gzip"}.get(compression or "", None)
        with atomic_open(p, "wb") as fh:
            frame.to_json(fh, orient="records", lines=True, compression=comp, force_ascii=False)
    else:
        raise DataError(f"cannot write format {format!r}; use csv, tsv, parquet or jsonl")
    return p


class _KeepOpen:
    """A binary file's writer whose ``close`` only flushes (the owner of the file closes it)."""

    closed = False

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: bytes) -> int:
        return int(self._fh.write(data))

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.flush()


def _compressed(fh: Any, compression: str | None) -> Any:
    """A binary writer onto ``fh`` that compresses as ``compression`` says (None: ``fh`` itself)."""
    import contextlib

    if not compression:
        return contextlib.nullcontext(fh)
    if compression == "gz":
        import gzip

        return gzip.GzipFile(fileobj=fh, mode="wb", mtime=0)
    if compression == "bz2":
        import bz2

        return bz2.BZ2File(fh, mode="wb")
    if compression == "xz":
        import lzma

        return lzma.LZMAFile(fh, mode="wb")
    if compression == "zst":
        import pyarrow as pa

        return pa.CompressedOutputStream(pa.PythonFile(_KeepOpen(fh), mode="w"), "zstd")
    raise DataError(f"cannot write {compression!r} compression; use gz, bz2, xz or zst")


def output_name(ds: TabularDataset | tuple[str, str | None], stem: str) -> str:
    """File name for an output written in the dataset's format: ``clean.csv.gz`` etc.

    ``ds`` may also be a ``(format, compression)`` pair, as :func:`detect_format` returns.
    """
    fmt, compression = (ds.format, ds.compression) if isinstance(ds, TabularDataset) else ds
    ext = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "jsonl": ".jsonl"}[fmt]
    return stem + ext + (f".{compression}" if compression else "")


#: Bound on an encoded numeric value, in robust units (see :class:`Encoder`).
CLIP = 1e6


class Encoder:
    """Numeric encoding of the feature columns shared by all detectors.

    Numeric columns: median imputation, a missing-indicator column where the fitting data has
    missing values, robust scaling (median / IQR, falling back to the standard deviation when
    the IQR is zero, and to 1 when neither is a finite positive number). Scaling is computed in
    float64 and the result clipped to ``[-CLIP, CLIP]`` (:data:`CLIP` = 1e6 robust units) before
    it is stored as float32: an extreme cell (``1e308``) stays the most extreme value of its
    column, and sums of squares over the columns stay finite, so no detector fails on it. Categorical columns: one-hot over the ``max_categories - 1`` most frequent
    values, one column for all rarer values and one for missing, scaled by ``1/sqrt(2)`` so that
    a category mismatch weighs as much as one robust unit of a numeric column.

    Parameters
    ----------
    max_categories : int, default=20
        Cap on one-hot columns per categorical feature.

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
                        q1, q3 = np.percentile(finite, [25, 75])
                        scale = float((q3 - q1) / 1.349)
                        if not 1e-12 < scale < np.inf:
                            scale = float(finite.std())
                if not 1e-12 < scale < np.inf:  # constant, or a spread too large for float64
                    scale = 1.0
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
                codes = _codes(s, keep)
                codes = np.where(codes >= 0, codes, np.where(s.isna().to_numpy(), len(keep) + 1, len(keep)))
                out[rows, j + codes] = w
                j += len(keep) + 2
        return out
