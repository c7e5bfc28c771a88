"""Helpers shared by the renderers: paths, row-to-line mapping, text clean-up, reading columns."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STATUS_LABEL", "data_rows", "github_run_url", "read_columns", "relpath", "row_lines", "xml_text"]

STATUS_LABEL = {"passed": "passed", "failed": "FAILED", "warning": "warning", "skipped": "skipped",
                "not_run": "NOT RUN"}

# characters XML 1.0 cannot hold at all (a data value may contain them)
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: Any) -> str:
    """``text`` as a string XML 1.0 can hold (invalid characters replaced by U+FFFD)."""
    return _XML_BAD.sub("\ufffd", str(text))


def relpath(path: str | os.PathLike[str] | None, root: Path) -> str | None:
    """``path`` relative to ``root`` with forward slashes when it lies inside it, else absolute."""
    if path is None:
        return None
    p = Path(path)
    absolute = p if p.is_absolute() else (root / p)
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return absolute.resolve().as_posix()


def resolve(path: str | os.PathLike[str] | None, root: Path) -> Path | None:
    """``path`` as an existing file, taken relative to ``root`` when relative (None when it does not exist)."""
    if not path:
        return None
    p = Path(path)
    for cand in ([p] if p.is_absolute() else [root / p, p]):
        if cand.is_file():
            return cand
    return None


def _file_type(path: Path) -> tuple[str | None, str | None]:
    """``(format, compression)`` as the loader reads the file (see :mod:`poisonguard.data`); None for others."""
    from ..data import detect_format
    from ..errors import DataError

    try:
        return detect_format(path)
    except DataError:
        return None, None


def row_lines(path: Path | None, rows: Iterable[int]) -> dict[int, int]:
    """The 1-based line where each wanted ``row`` starts in a CSV, TSV or JSON Lines file.

    ``row`` is the 0-based position among the data rows, as in every poisonguard report. CSV
    records are followed with :mod:`csv` so quoted fields holding line breaks are counted right,
    and blank lines are skipped as the loader skips them. Parquet (no lines) and unreadable
    files give an empty mapping: their findings carry the row without a line.
    """
    from ..data import FORMATS, open_input, read_errors

    wanted = {int(r) for r in rows}
    fmt, comp = _file_type(path) if path is not None else (None, None)
    if path is None or not wanted or fmt in (None, "parquet"):
        return {}
    out: dict[int, int] = {}
    last = max(wanted)
    try:
        with io.TextIOWrapper(open_input(path, comp), encoding="utf-8", newline="") as fh:
            if fmt == "jsonl":
                row = 0
                for lineno, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    if row in wanted:
                        out[row] = lineno
                    row += 1
                    if row > last:
                        break
                return out
            reader = csv.reader(fh, delimiter=FORMATS[fmt].delimiter or ",")
            prev_end = 0
            row = -1  # the header is record -1
            for record in reader:
                start = prev_end + 1
                prev_end = reader.line_num
                if not record:  # blank line
                    continue
                if row >= 0 and row in wanted:
                    out[row] = start
                row += 1
                if row > last:
                    break
    except (UnicodeDecodeError, csv.Error, *read_errors()):  # type: ignore[misc]  # a tuple built at run time
        return {}
    return out


def read_columns(path: Path | None, columns: list[str] | None = None) -> pd.DataFrame | None:
    """Read a data file (CSV/TSV, Parquet, JSON Lines; text formats compressed or not) as a text-preserving frame.

    Only ``columns`` when given. None when the file is missing or unreadable: the renderers then
    leave out what needed it and say so.
    """
    from ..data import FORMATS, open_input, read_errors

    if path is None or not path.is_file():
        return None
    fmt, comp = _file_type(path)
    if fmt is None:
        return None
    try:
        if fmt == "parquet":
            return pd.read_parquet(path, columns=columns)
        with open_input(path, comp) as stream:
            if fmt == "jsonl":
                frame = pd.read_json(stream, lines=True, dtype=False)
                return frame[columns] if columns else frame
            return pd.read_csv(stream, sep=FORMATS[fmt].delimiter, usecols=columns, dtype=str,
                               keep_default_na=False)
    except (ValueError, KeyError, ImportError, *read_errors()):  # type: ignore[misc]  # a tuple built at run time
        return None


def data_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Rows of ``frame`` at positions ``rows`` (positions outside the frame are dropped)."""
    rows = rows[(rows >= 0) & (rows < len(frame))]
    return frame.iloc[rows]


def github_run_url() -> str | None:
    """The URL of the current GitHub Actions run (where its artifacts are), when running in one."""
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return None
