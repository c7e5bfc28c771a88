"""Loading the trusted version (a path, a frame, or a file at a git revision through DVC)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..data import TabularDataset, as_dataset, load_dataset
from ..errors import DataError, SchemaError, UsageError



def _read_at_revision(path: Path, rev: str, *, label: str | None, id_column: str | None,
                      require_classes: int) -> tuple[TabularDataset, dict[str, Any]]:
    """Read ``path`` as it was at git revision ``rev``, through DVC (DVC-tracked or git-tracked files)."""
    import dvc.api
    from dvc.repo import Repo

    start = path.resolve().parent
    try:
        root = Path(Repo.find_root(str(start))).resolve()
    except Exception:  # noqa: BLE001 - dvc raises NotDvcRepoError; any failure means the same here
        raise DataError(f"{path}: not inside a DVC repository, so it cannot be read at revision {rev!r}; "
                        "run `dvc init` in the git repository, or give the trusted file with --reference") from None
    try:
        rel = path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise DataError(f"{path}: outside the DVC repository {root}; give a path inside it") from None
    suffix = "".join(Path(rel).suffixes[-2:]) or ".csv"
    with tempfile.TemporaryDirectory(prefix="poisonguard-ref-") as tmp:
        dst = Path(tmp) / f"reference{suffix}"
        try:
            with dvc.api.open(rel, repo=str(root), rev=rev, mode="rb") as src, open(dst, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except Exception as exc:  # noqa: BLE001 - converted to one helpful line, not swallowed
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"cannot read {rel} at revision {rev!r} through DVC ({msg}); check that the revision "
                            "exists, that the file was tracked then, and that its data is in the DVC cache "
                            f"(`dvc fetch --rev {rev}` pulls it from the remote)") from None
        ds = load_dataset(dst, label=label, id_column=id_column, require_classes=require_classes)
    ds = dataclasses.replace(ds, path=None)
    return ds, {"path": rel, "rev": rev, "repo": str(root), "sha256": ds.sha256}


def load_reference(new: TabularDataset, reference: str | os.PathLike[str] | TabularDataset | pd.DataFrame | None,
                   rev: str | None = None, *, require_classes: int = 0) -> tuple[TabularDataset, dict[str, Any]]:
    """Load the trusted version of ``new``.

    Parameters
    ----------
    new : TabularDataset
        The new version (its label and id column are used for the trusted one too).
    reference : path, TabularDataset, pandas.DataFrame or None
        The trusted data. With ``rev``, a path inside the repository (default: ``new``'s own path).
    rev : str, default=None
        A git revision (``HEAD~1``, a tag, a commit): the file is read as it was at that revision
        through :func:`dvc.api.open` (DVC-tracked files come from the DVC cache or remote). The
        path is taken relative to the root of the DVC repository that holds it.
    require_classes : int, default=0
        Raise :class:`~poisonguard.errors.DataError` when the trusted label has fewer classes.

    Returns
    -------
    trusted : TabularDataset
    info : dict
        Path, revision, SHA-256 and row count, for the report.
    """
    label, id_column = new.label, new.id_column
    if rev is not None:
        if reference is None:
            if new.path is None:
                raise UsageError("--reference-rev alone reads the scanned file at that revision, so the data must be "
                                 "given as a path; or name the trusted file with --reference PATH --reference-rev REV")
            target = new.path
        elif isinstance(reference, (str, os.PathLike)):
            target = Path(reference)
        else:
            raise UsageError("reference_rev needs the reference as a path (or none: the scanned file's own path)")
        ds, info = _read_at_revision(target, rev, label=label, id_column=id_column, require_classes=require_classes)
    elif reference is not None:
        if isinstance(reference, TabularDataset) and label is not None and label not in reference.frame.columns:
            raise SchemaError(f"the trusted data has no label column {label!r}; give data with the same columns")
        ds = as_dataset(reference, label=label, id_column=id_column, require_classes=require_classes,
                        what="the trusted reference")
        info = {"path": str(ds.path) if ds.path else None, "rev": None, "sha256": ds.sha256}
    else:
        raise UsageError("no trusted reference given: pass --reference PATH and/or --reference-rev REV")
    info["rows"] = ds.n_rows
    info["format"] = ds.format
    return ds, info
