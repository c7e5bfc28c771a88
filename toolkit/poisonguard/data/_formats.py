"""One table from a file name's suffix to its format and its codecs (pandas', Arrow's, the stdlib's).

Reading (:func:`poisonguard.data.load_dataset`), writing (:func:`poisonguard.data.write_frame`),
hashing (:func:`poisonguard.provenance.tabular_summary`) and the reports (line numbers, cell
values) all look a file up here, so they agree on what ``d.jsonl.zst`` is and how to open it.
This module imports nothing heavy at import time (pyarrow and the codecs load when a file opens).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, Literal

from ..errors import DataError

__all__ = ["COMPRESSIONS", "Compression", "FORMATS", "FileFormat", "Format", "data_stem", "detect_format",
           "open_input", "open_output", "output_name", "read_errors", "supported_suffixes"]

Format = Literal["csv", "tsv", "parquet", "jsonl"]


@dataclasses.dataclass(frozen=True)
class Compression:
    """A compression of text files, named by its suffix.

    Attributes
    ----------
    name : str
        The suffix without its dot (``"gz"``): what :attr:`TabularDataset.compression` holds.
    pandas : str
        Its name for pandas' ``compression=`` (``"gzip"``).
    arrow : str or None
        Its Arrow codec (``"gzip"``); None where the stdlib does the work (xz, through :mod:`lzma`).
    magic : bytes
        The first bytes of every file so compressed.
    """

    name: str
    pandas: str
    arrow: str | None
    magic: bytes

    @property
    def suffix(self) -> str:
        """The file name suffix, ``".gz"``."""
        return "." + self.name


@dataclasses.dataclass(frozen=True)
class FileFormat:
    """A tabular file format.

    Attributes
    ----------
    name : {"csv", "tsv", "parquet", "jsonl"}
    suffixes : tuple of str
        Suffixes that name it; outputs are named with the first.
    delimiter : str or None
        The field delimiter of delimited text formats.
    compressible : bool
        Whether a :class:`Compression` suffix may follow (Parquet compresses itself).
    """

    name: Format
    suffixes: tuple[str, ...]
    delimiter: str | None = None
    compressible: bool = True


COMPRESSIONS: dict[str, Compression] = {c.name: c for c in (
    Compression("gz", "gzip", "gzip", b"\x1f\x8b"),
    Compression("bz2", "bz2", "bz2", b"BZh"),
    Compression("xz", "xz", None, b"\xfd7zXZ\x00"),
    Compression("zst", "zstd", "zstd", b"\x28\xb5\x2f\xfd"),
)}

FORMATS: dict[str, FileFormat] = {f.name: f for f in (
    FileFormat("csv", (".csv", ".txt"), ","),
    FileFormat("tsv", (".tsv",), "\t"),
    FileFormat("parquet", (".parquet", ".pq"), compressible=False),
    FileFormat("jsonl", (".jsonl", ".ndjson")),
)}


def supported_suffixes() -> list[str]:
    """Every file name ending that :func:`detect_format` accepts: ``.csv``, ``.csv.gz``, ... ``.pq``."""
    return [s + c for f in FORMATS.values() for s in f.suffixes
            for c in ("", *(k.suffix for k in COMPRESSIONS.values() if f.compressible))]


def _split(name: str) -> tuple[str, Compression | None]:
    lower = name.lower()
    for comp in COMPRESSIONS.values():
        if lower.endswith(comp.suffix):
            return name[: -len(comp.suffix)], comp
    return name, None


def detect_format(path: str | os.PathLike[str]) -> tuple[Format, str | None]:
    """Return ``(format, compression)`` from a file name, or raise :class:`DataError`."""
    name, comp = _split(Path(path).name)
    for fmt in FORMATS.values():
        if name.lower().endswith(fmt.suffixes):
            if comp is not None and not fmt.compressible:
                raise DataError(f"{path}: compressed Parquet files are not supported; Parquet compresses itself, "
                                "decompress the file first")
            return fmt.name, comp.name if comp else None
    kinds = ", ".join(s for f in FORMATS.values() for s in f.suffixes)
    raise DataError(f"{path}: unknown file type; use {kinds} (text formats optionally compressed: "
                    f"{', '.join(c.suffix for c in COMPRESSIONS.values())})")


def data_stem(path: str | os.PathLike[str]) -> str:
    """The file name without its compression suffix and its last extension: ``adult`` for ``adult.csv.gz``."""
    name, _ = _split(Path(path).name)
    return name.rsplit(".", 1)[0]


def _compression(compression: str | None) -> Compression | None:
    if not compression:
        return None
    try:
        return COMPRESSIONS[compression]
    except KeyError:
        raise DataError(f"unknown compression {compression!r}; use one of: {', '.join(COMPRESSIONS)}") from None


def open_input(path: str | os.PathLike[str], compression: str | None) -> Any:
    """The decompressed bytes of a file as a binary Arrow stream (``read``, ``close``, a context manager).

    Arrow's codecs decompress; xz goes through the stdlib's :mod:`lzma`, wrapped as an Arrow file.
    """
    import pyarrow as pa

    comp = _compression(compression)
    if comp is not None and comp.arrow is None:
        import lzma

        return pa.PythonFile(lzma.open(path, "rb"), mode="r")
    return pa.input_stream(str(path), compression=comp.arrow if comp else None)


def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged or mislabelled compressed stream raises (Arrow, the stdlib's codecs)."""
    import lzma

    import pyarrow as pa

    # EOFError: a truncated stream (click would take it for ^D if it escaped)
    return (pa.ArrowInvalid, OSError, EOFError, lzma.LZMAError)


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


def open_output(fh: Any, compression: str | None) -> Any:
    """A binary writer onto the open file ``fh`` that compresses as ``compression`` says (None: ``fh`` itself).

    A context manager; leaving it finishes the compressed stream and leaves ``fh`` open.
    """
    comp = _compression(compression)
    if comp is None:
        return contextlib.nullcontext(fh)
    if comp.name == "gz":
        import gzip

        return gzip.GzipFile(fileobj=fh, mode="wb", mtime=0)  # mtime=0: the same rows give the same bytes
    if comp.name == "bz2":
        import bz2

        return bz2.BZ2File(fh, mode="wb")
    if comp.name == "xz":
        import lzma

        return lzma.LZMAFile(fh, mode="wb")
    import pyarrow as pa

    return pa.CompressedOutputStream(pa.PythonFile(_KeepOpen(fh), mode="w"), comp.arrow)


def output_name(ds: Any, stem: str) -> str:
    """File name for an output written in the dataset's format: ``clean.csv.gz`` etc.

    ``ds`` is a :class:`~poisonguard.data.TabularDataset` or a ``(format, compression)`` pair, as
    :func:`detect_format` returns.
    """
    fmt, compression = ds if isinstance(ds, tuple) else (ds.format, ds.compression)
    comp = _compression(compression)
    return stem + FORMATS[fmt].suffixes[0] + (comp.suffix if comp else "")
