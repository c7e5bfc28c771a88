"""A run's output files replaced as one set, in a folder that may hold other files.

:func:`output_set` gives a stage a private staging folder inside the output folder
(``DIR/.poisonguard-run.XXXX/``); the stage writes every file there, then the set is moved
into ``DIR`` under a lock:

1. the staging folder gets a marker (``.complete``, written atomically) naming its files;
2. the old commit file (``report.json``: what says a set is complete) is removed;
3. the other files are renamed into ``DIR``, then the commit file last.

A run killed before step 1 leaves only its staging folder, which the next run removes: the
previous complete output is untouched. A run killed during steps 2-3 (a few renames) leaves a
folder without its commit file (so readers see no complete output) and a staging folder with
its marker: the next run into ``DIR`` finishes that move before anything else (roll forward),
so it never mixes two runs. Hidden temporaries of older versions (``.report.json.XXXX.tmp`` for
the names a run writes) are removed too. Nothing else in ``DIR`` is touched: the user's files,
the input included, are never moved or deleted.

Two runs into the same folder are serialised by an exclusive ``fcntl.flock`` on
``DIR/.poisonguard.lock`` held while a set is written and moved (the computation before it runs
in parallel): the folder then holds the complete set of whichever run moved last. A reader of
several files takes the shared lock (:func:`reading`) to read them all from one set. The lock file
stays (removing a lock file races with its next user); it is empty and hidden.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ._io import atomic_write_json, current_umask

__all__ = ["LOCK_NAME", "STAGING_PREFIX", "output_set", "reading", "recover"]

LOCK_NAME = ".poisonguard.lock"
STAGING_PREFIX = ".poisonguard-run."
_MARKER = ".complete"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(out: Path, shared: bool = False) -> Iterator[None]:
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)  # blocks while a run moves its set in
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def reading(out: str | os.PathLike[str]) -> Iterator[None]:
    """Hold a shared lock on ``out`` while reading several of its files: no run moves a set in
    meanwhile, so they all come from one run (a reader of a single file needs no lock)."""
    with _locked(Path(out), shared=True):
        yield


def _move_in(out: Path, staging: Path, files: list[str], commit: str) -> None:
    if commit not in files or (staging / commit).exists():  # else moved in already: killed while removing staging
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out / commit)  # from here until the end, the folder holds no complete set
        for name in [f for f in files if f != commit] + ([commit] if commit in files else []):
            src = staging / name
            if src.exists():  # absent: moved already by a run that was killed during this step
                dst = out / name
                if src.is_dir() and dst.is_dir() and not dst.is_symlink():
                    # a folder of parts (a Spark run's Parquet dataset): the old one is set aside in the
                    # staging folder, removed with it below
                    os.replace(dst, staging / f".replaced.{name}")
                os.replace(src, dst)
    _fsync_dir(out)
    shutil.rmtree(staging, ignore_errors=True)


def recover(out: str | os.PathLike[str], names: Iterable[str] = ()) -> None:
    """Finish or discard what killed runs left in ``out`` (call with the lock held).

    Staging folders with a complete marker are moved in (oldest first); the others are removed,
    as are hidden temporaries ``.NAME.*.tmp`` of the file names in ``names``.
    """
    out = Path(out)
    pending = []
    for p in out.glob(glob_escape(STAGING_PREFIX) + "*"):
        if not p.is_dir() or p.is_symlink():
            continue
        try:
            info = json.loads((p / _MARKER).read_text(encoding="utf-8"))
            pending.append((p.stat().st_mtime, p, list(info["files"]), str(info["commit"])))
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(p, ignore_errors=True)  # killed while writing: never part of the output
    for _, p, files, commit in sorted(pending, key=lambda t: t[0]):
        _move_in(out, p, files, commit)
    _remove_temporaries(out, names)


def _remove_temporaries(out: Path, names: Iterable[str]) -> None:
    for name in names:
        for tmp in out.glob(f".{glob_escape(name)}.*.tmp"):
            if tmp.is_file() and not tmp.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


@contextlib.contextmanager
def output_set(out: str | os.PathLike[str], *, commit: str = "report.json") -> Iterator[Path]:
    """Yield a staging folder; on success its files replace their namesakes in ``out`` as a set.

    Parameters
    ----------
    out : path-like
        The output folder (created when missing). It may hold other files; they are left alone.
    commit : str, default="report.json"
        The file that marks a set complete: removed first and moved in last.

    Yields
    ------
    pathlib.Path
        The staging folder: write the run's files into it (any writer; atomic ones are fine).
        When the block raises, the staging folder is removed and ``out`` is unchanged.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        from .errors import UsageError

        raise UsageError(f"{out} is a file, not a folder: name an output folder (it is created when missing)")
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        recover(out)  # a killed run's set is finished first, so it never lands after this one
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        try:
            os.chmod(staging, 0o777 & ~current_umask())
            yield staging
            files = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
            _remove_temporaries(out, files)  # older versions' hidden temporaries of these names
            _fsync_dir(staging)
            atomic_write_json(staging / _MARKER, {"files": files, "commit": commit})
            _move_in(out, staging, files, commit)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
