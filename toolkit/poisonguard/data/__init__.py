"""Loading tabular data into a :class:`TabularDataset`, writing it back, and the shared numeric encoding.

Every stage reads data through :func:`load_dataset` (or :func:`as_dataset`, which also takes a
frame or a dataset), so every stage agrees on what a row is: ``row`` is the 0-based position of
the record in the input file (header excluded), and it is what reports, quarantine files and
scores refer to. :meth:`TabularDataset.encode` turns the feature columns into one numeric matrix
(impute, one-hot with rare categories capped, scale) that all detectors share, computed once per
scan; :meth:`TabularDataset.take` keeps it for a subset of the rows.

Supported files, one table (:data:`FORMATS`, :data:`COMPRESSIONS`) for reading, writing, hashing
and the reports: CSV (``.csv``, ``.txt``), TSV (``.tsv``) and JSON Lines (``.jsonl``,
``.ndjson``), each optionally compressed (``.gz``, ``.bz2``, ``.xz``, ``.zst``), and Parquet
(``.parquet``, ``.pq``). Outputs are written in the input's format and compression.

The package's modules: ``_formats`` (the table, opening files), ``_read`` (readers,
:func:`load_dataset`, :func:`as_dataset`), ``_dataset`` (:class:`TabularDataset`), ``_encoder``
(:class:`Encoder`), ``_write`` (:func:`write_frame`).
"""

from __future__ import annotations

from ._dataset import MAX_CLASSES, MIN_LABELLED_ROWS, MISSING_MARKERS, Kind, TabularDataset, sort_key
from ._encoder import CLIP, Encoder
from ._formats import (
    COMPRESSIONS,
    FORMATS,
    Compression,
    FileFormat,
    Format,
    data_stem,
    detect_format,
    open_input,
    output_name,
    read_errors,
    supported_suffixes,
)
from ._read import as_dataset, load_dataset
from ._write import CSV_CHUNK_ROWS, csv_chunks, write_frame

__all__ = [
    "CLIP",
    "COMPRESSIONS",
    "CSV_CHUNK_ROWS",
    "Compression",
    "Encoder",
    "FORMATS",
    "FileFormat",
    "Format",
    "Kind",
    "MAX_CLASSES",
    "MIN_LABELLED_ROWS",
    "MISSING_MARKERS",
    "TabularDataset",
    "as_dataset",
    "csv_chunks",
    "data_stem",
    "detect_format",
    "load_dataset",
    "open_input",
    "output_name",
    "read_errors",
    "sort_key",
    "supported_suffixes",
    "write_frame",
]
