"""Streaming digests of files and S3 bodies, and row counts / schema fingerprints of tabular files.

Nothing here holds a whole file in memory: bytes are read into one reused buffer
(``readinto`` + ``memoryview``) and fed to :mod:`hashlib`, which releases the GIL on large
updates. Tabular summaries are computed with pyarrow's streaming readers, batch by batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import DataError

__all__ = ["CHUNK_SIZE", "FileDigest", "hash_chunks", "hash_file", "read_body", "tabular_summary"]

#: Read buffer size: large enough that per-call overhead vanishes, small enough for any machine.
CHUNK_SIZE = 4 << 20


@dataclasses.dataclass(frozen=True)
class FileDigest:
    """Digest of a byte stream.

    Attributes
    ----------
    sha256 : str
        Hex SHA-256.
    size : int
        Number of bytes read.
    md5 : str or None
        Hex MD5, computed in the same pass only when asked (to compare with DVC's record).
    """

    sha256: str
    size: int
    md5: str | None = None


def hash_file(path: str | os.PathLike[str], *, md5: bool = False, chunk_size: int = CHUNK_SIZE) -> FileDigest:
    """SHA-256 (and optionally MD5) of a file, streamed in chunks.

    Parameters
    ----------
    path : path-like
        The file.
    md5 : bool, default=False
        Also compute MD5 in the same pass (DVC's digest).
    chunk_size : int, default=CHUNK_SIZE
        Read buffer size in bytes.

    Returns
    -------
    FileDigest

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> hash_file(p).sha256[:16]
    'ba7816bf8f01cfea'
    """
    sha = hashlib.sha256()
    mdh = hashlib.md5(usedforsecurity=False) if md5 else None
    size = 0
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := fh.readinto(buf):  # type: ignore[attr-defined]
            chunk = view[:n]
            sha.update(chunk)
            if mdh is not None:
                mdh.update(chunk)
            size += n
    return FileDigest(sha.hexdigest(), size, mdh.hexdigest() if mdh is not None else None)


def hash_chunks(chunks: Iterable[bytes]) -> FileDigest:
    """SHA-256 of a stream given as an iterable of byte chunks (an S3 body)."""
    sha = hashlib.sha256()
    size = 0
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
    return FileDigest(sha.hexdigest(), size)


def _fingerprint(columns: list[list[str]]) -> str:
    return hashlib.sha256(json.dumps(columns, separators=(",", ":")).encode("utf-8")).hexdigest()


def _csv_summary(path: Path, delimiter: str, compression: str | None) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ..data import MISSING_MARKERS, open_input

    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    read = pacsv.ReadOptions(block_size=1 << 20)
    convert = pacsv.ConvertOptions(null_values=list(MISSING_MARKERS), strings_can_be_null=True,
                                   quoted_strings_can_be_null=True)
    # pass 1: column names and the types pyarrow infers from the first block (1 MiB)
    with open_input(path, compression) as stream:
        reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
        schema = reader.schema
    names = list(schema.names)
    # pass 2: count rows reading one column as text (no type conversion can fail)
    rows = 0
    if names:
        count_convert = pacsv.ConvertOptions(include_columns=[names[0]], column_types={names[0]: pa.string()})
        with open_input(path, compression) as stream:
            for batch in pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=1 << 24),
                                        parse_options=parse, convert_options=count_convert):
                rows += batch.num_rows
    columns = [[f.name, str(f.type)] for f in schema]
    return {"rows": rows, "columns": columns}


def _parquet_summary(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(str(path))
    columns = [[f.name, str(f.type)] for f in pf.schema_arrow]
    return {"rows": int(pf.metadata.num_rows), "columns": columns}


def _jsonl_summary(path: Path, compression: str | None) -> dict[str, Any]:
    import pyarrow.json as pajson

    from ..data import open_input

    rows = 0
    with open_input(path, compression) as stream:
        reader = pajson.open_json(stream, read_options=pajson.ReadOptions(block_size=1 << 22))
        schema = reader.schema
        for batch in reader:
            rows += batch.num_rows
    return {"rows": rows, "columns": [[f.name, str(f.type)] for f in schema]}


def tabular_summary(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Row count and schema fingerprint of a CSV / TSV / Parquet / JSON Lines file, streamed.

    Formats are recognised by :func:`poisonguard.data.detect_format`; other files give ``None``.
    Column types are those pyarrow infers from the first MiB (Parquet: the file's schema),
    with :data:`poisonguard.data.MISSING_MARKERS` read as missing, as :func:`load_dataset` does.
    Row counts use the same parser options as :func:`poisonguard.data.load_dataset`.

    Returns
    -------
    dict or None
        ``{"format", "compression", "rows", "columns": [[name, type], ...], "schema_sha256"}``,
        where ``schema_sha256`` is the SHA-256 of the compact JSON of ``columns``.

    Raises
    ------
    DataError
        The file has a tabular extension but cannot be parsed.
    """
    from ..data import detect_format, read_errors

    p = Path(path)
    try:
        fmt, compression = detect_format(p)
    except DataError:
        return None
    try:
        if fmt in ("csv", "tsv"):
            summary = _csv_summary(p, "\t" if fmt == "tsv" else ",", compression)
        elif fmt == "parquet":
            summary = _parquet_summary(p)
        else:
            summary = _jsonl_summary(p, compression)
    except read_errors() as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{p}: cannot be read as {fmt} for its row count ({first[:160]})") from None
    return {"format": fmt, "compression": compression, **summary,
            "schema_sha256": _fingerprint(summary["columns"])}


def read_body(body: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterable[bytes]:
    """Yield a streaming body (boto3 ``StreamingBody``) in chunks of ``chunk_size`` bytes."""
    while chunk := body.read(chunk_size):
        yield chunk
