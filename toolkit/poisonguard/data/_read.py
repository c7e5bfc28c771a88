"""Reading CSV / TSV, Parquet and JSON Lines files into frames, and :func:`load_dataset` / :func:`as_dataset`.

Every file is looked up in the one format table (:mod:`poisonguard.data._formats`) and read
with Arrow's parsers (JSON Lines through pandas, on Arrow's decompressed stream).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import sha256_file
from ..errors import DataError, SchemaError, UsageError
from ._dataset import MISSING_MARKERS, TabularDataset
from ._formats import Format, detect_format, open_input, read_errors

__all__ = ["as_dataset", "load_dataset"]

_SNIFF = 1 << 16


def _open_sniff(path: Path, compression: str | None) -> bytes:
    try:
        with open_input(path, compression) as fh:
            return bytes(fh.read(_SNIFF))
    except read_errors() as exc:
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

    source = open_input(path, compression)
    try:
        table = pacsv.read_csv(
            source,
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(null_values=list(missing), strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
        )
    except read_errors() as exc:
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
    with open_input(path, compression) as fh:
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
        with open_input(path, compression) as stream:  # decompressed as every reader does (pandas' names differ)
            frame = pd.read_json(stream, lines=True, dtype=False)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: the file is not UTF-8 text ({_bad_utf8_at(path, compression)}: {exc.reason}); "
                        "re-encode it as UTF-8") from None
    except (ValueError, *read_errors()) as exc:  # type: ignore[misc]  # a tuple built at run time
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


def as_dataset(data: Any, *, label: str | None = None, id_column: str | None = None, require_classes: int = 0,
               missing_markers: Sequence[str] = MISSING_MARKERS, what: str = "the data") -> TabularDataset:
    """``data`` as a :class:`TabularDataset`: a file path is read, a frame wrapped, a dataset passed on.

    The one coercion every stage that takes "a path, a frame or a dataset" goes through.
    ``label`` and ``id_column``, when given, are honoured for a dataset too: one whose own label
    or id column differs is returned as a copy with the roles asked for (its file information
    kept); when not given, a dataset keeps its own.

    Parameters
    ----------
    data : path-like, pandas.DataFrame or TabularDataset
        The data.
    label, id_column : str, default=None
        The label and id columns.
    require_classes : int, default=0
        Raise :class:`DataError` when the label has fewer classes than this (see :func:`load_dataset`).
    missing_markers : sequence of str, default=MISSING_MARKERS
        Cell values read as missing (files only).
    what : str, default="the data"
        What the data is, for the error message ("the canary").

    Raises
    ------
    UsageError
        ``data`` is none of the three.
    DataError
        As :func:`load_dataset` and :meth:`TabularDataset.from_frame`.
    """
    if isinstance(data, TabularDataset):
        ds = data
        if (label is not None and label != ds.label) or (id_column is not None and id_column != ds.id_column):
            ds = ds._with_roles(label if label is not None else ds.label,
                                id_column if id_column is not None else ds.id_column)
        if require_classes and ds.label is not None:
            ds._check_label(require_classes)
        return ds
    if isinstance(data, pd.DataFrame):
        return TabularDataset.from_frame(data, label=label, id_column=id_column, require_classes=require_classes)
    if isinstance(data, (str, os.PathLike)):
        return load_dataset(data, label=label, id_column=id_column, require_classes=require_classes,
                            missing_markers=missing_markers)
    raise UsageError(f"{what} must be a file path, a pandas DataFrame or a TabularDataset; got {type(data).__name__}")
