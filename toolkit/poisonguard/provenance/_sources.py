"""Local sources: files, folders, glob patterns and DVC-tracked paths.

A source argument is resolved into files named by their relative POSIX path from a base
folder (the subject names), plus *collections* (the folders and globs they came from) so that
verification can find files added later. DVC-tracked paths are recognised through the
``PATH.dvc`` file beside them, a ``.dvc`` file of a tracked parent folder, or ``dvc.lock``; the
DVC MD5 is recorded beside our SHA-256 (DVC's MD5 is not tamper-evident; ours is the check).
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError, UsageError
from ._hashing import hash_file, tabular_summary
from ._manifest import check_subject_name
from ._result import Finding, SourceStatus

__all__ = ["LocalPlan", "dvc_info", "normpath", "plan_local", "record_local", "verify_local"]

_GLOB_CHARS = set("*?[")


class LocalPlan:
    """Files to record (absolute path, subject name, collection name) and the collections listed."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[Path, str | None]] = {}
        self.collections: dict[str, dict[str, Any]] = {}

    def add_file(self, path: Path, name: str, collection: str | None) -> None:
        self.files.setdefault(name, (path, collection))


def _rel_name(path: Path, base: Path, source: str) -> str:
    try:
        rel = path.absolute().relative_to(base)
    except ValueError:
        raise UsageError(f"{source}: {path} is outside the base folder {base}; names in a manifest are relative "
                         "to it. Pass --base-dir with a folder that contains every source") from None
    name = rel.as_posix()
    return name or "."


def normpath(path: Path) -> Path:
    """``path`` made absolute and normalised (``..`` resolved by name, links not followed)."""
    return Path(os.path.normpath(path.absolute()))


def walk_folder(folder: Path) -> Iterator[Path]:
    """Every file below ``folder`` (hidden ones too; symlinked folders are not followed), sorted."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for f in sorted(files):
            yield Path(root) / f


def folder_links(folder: Path) -> list[Path]:
    """Every symbolic link below ``folder`` (to files or to folders, dangling ones too), sorted."""
    links = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        links += [Path(root) / n for n in dirs + files if (Path(root) / n).is_symlink()]
    return sorted(links)


def link_on_path(path: Path, base: Path) -> Path | None:
    """The first symbolic link among ``path`` and its folders below ``base``, or None."""
    p = Path(os.path.normpath(path.absolute()))
    chain = [p, *p.parents]
    for q in reversed(chain):
        if q != base and q.is_relative_to(base) and q.is_symlink():
            return q
    return None


def _refuse_link(source: str, link: Path) -> None:
    raise UsageError(f"{source}: {link} is a symbolic link (to {os.readlink(link)}); a manifest pins real files "
                     "only, so that no link can lead outside the base folder. Replace the link by the file, "
                     "or name its target") from None


def expand_glob(pattern: str, base: Path) -> list[str]:
    """Files matching ``pattern`` (relative to ``base``; ``**`` recursive), as sorted relative names."""
    hits = _glob.glob(pattern, root_dir=base, recursive=True)
    return sorted(Path(h).as_posix() for h in hits if (base / h).is_file())


def _dvc_outs(dvc_file: Path) -> list[dict[str, Any]]:
    doc = _load_yaml(dvc_file)
    outs = doc.get("outs") if isinstance(doc, dict) else None
    if not isinstance(outs, list):
        raise DataError(f"{dvc_file}: not a DVC file (no 'outs' list)")
    return [o for o in outs if isinstance(o, dict) and "path" in o]


def _load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise DataError(f"{path}: cannot be read as YAML ({type(exc).__name__}); fix or regenerate it "
                        "with dvc") from None


def plan_local(source: str, base: Path, plan: LocalPlan, *, exclude: set[Path]) -> None:
    """Resolve one local source argument into files and collections, added to ``plan``.

    Raises
    ------
    UsageError
        Nothing exists at ``source``, a glob matches nothing, or a path is outside ``base``.
    """
    p = Path(source)
    full = p if p.is_absolute() else base / p
    if full.name.endswith(".dvc") and full.is_file():
        for out in _dvc_outs(full):
            target = normpath(full.parent / str(out["path"]))
            if not target.exists():
                raise UsageError(f"{source}: the DVC-tracked {target.name} is not in the workspace; "
                                 "run `dvc pull` (or `dvc checkout`) first")
            plan_local(str(target), base, plan, exclude=exclude)
        return
    link = link_on_path(full, base) if full.exists() or full.is_symlink() else None
    if link is not None:
        _refuse_link(source, link)
    if full.is_dir():
        folder = normpath(full)
        links = folder_links(folder)
        if links:
            _refuse_link(source, links[0])
        cname = _rel_name(folder, base, source)
        plan.collections.setdefault(cname, {"name": cname, "type": "folder"})
        for f in walk_folder(folder):
            if normpath(f) not in exclude:
                plan.add_file(f, _rel_name(f, base, source), cname)
        return
    if full.is_file():
        f = normpath(full)
        plan.add_file(f, _rel_name(f, base, source), None)
        return
    if _GLOB_CHARS & set(source):
        pattern = _rel_name(normpath(full), base, source) if p.is_absolute() else Path(source).as_posix()
        reason = check_subject_name(pattern)
        if reason:
            raise UsageError(f"{source}: unsafe glob pattern: {reason}")
        names = [n for n in expand_glob(pattern, base) if normpath(base / n) not in exclude]
        for n in names:
            link = link_on_path(base / n, base)
            if link is not None:
                _refuse_link(source, link)
        if not names:
            raise UsageError(f"{source}: the pattern matches no file under {base}")
        plan.collections.setdefault(pattern, {"name": pattern, "type": "glob"})
        for n in names:
            plan.add_file(normpath(base / n), n, pattern)
        return
    raise UsageError(f"{source}: no such file, folder or glob match (relative paths are taken from {base})")


def _repo_root(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / ".dvc").is_dir():
            return parent
    return None


def _dir_member_md5(root: Path, dir_md5: str, relpath: str) -> str | None:
    """MD5 of one file of a DVC-tracked folder, from the folder's ``.dir`` object in the local cache."""
    h = dir_md5.removesuffix(".dir")
    for cache in (root / ".dvc" / "cache" / "files" / "md5", root / ".dvc" / "cache"):
        obj = cache / h[:2] / (h[2:] + ".dir")
        if obj.is_file():
            import json

            try:
                entries = json.loads(obj.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            for e in entries if isinstance(entries, list) else []:
                if isinstance(e, dict) and e.get("relpath") == relpath:
                    return str(e.get("md5")) if e.get("md5") else None
    return None


def dvc_info(path: Path, base: Path) -> dict[str, Any] | None:
    """DVC's record of ``path``: ``{"md5", "hash", "file"}`` or None when the path is not DVC-tracked.

    Looks, in order, for ``PATH.dvc``, an ``outs`` entry of ``dvc.lock`` in the DVC repository
    root, and a ``.dvc`` file of a tracked parent folder (the member's MD5 then comes from the
    folder's ``.dir`` listing in the local cache, when present).
    """
    path = normpath(path)

    def rel(p: Path) -> str:
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            return p.name

    own = path.with_name(path.name + ".dvc")
    if own.is_file():
        for out in _dvc_outs(own):
            if normpath(own.parent / str(out["path"])) == path and out.get("md5"):
                return {"md5": str(out["md5"]), "hash": out.get("hash"), "file": rel(own)}
    root = _repo_root(path)
    if root is not None and (root / "dvc.lock").is_file():
        lock = _load_yaml(root / "dvc.lock")
        stages = lock.get("stages", {}) if isinstance(lock, dict) else {}
        for stage in stages.values() if isinstance(stages, dict) else []:
            for out in (stage.get("outs") or []) if isinstance(stage, dict) else []:
                if (isinstance(out, dict) and out.get("md5") and "path" in out
                        and normpath(root / str(out["path"])) == path):
                    return {"md5": str(out["md5"]), "hash": out.get("hash"), "file": rel(root / "dvc.lock")}
    for parent in path.parents:
        if parent == base.parent or (root is not None and parent == root):
            break
        pdvc = parent.with_name(parent.name + ".dvc")
        if pdvc.is_file():
            for out in _dvc_outs(pdvc):
                if normpath(pdvc.parent / str(out["path"])) == parent and out.get("md5"):
                    member = (_dir_member_md5(root, str(out["md5"]), path.relative_to(parent).as_posix())
                              if root is not None else None)
                    return {"md5": member, "dir_md5": str(out["md5"]), "hash": out.get("hash"), "file": rel(pdvc)}
    return None


def record_local(path: Path, name: str, collection: str | None, base: Path, *,
                 tabular: bool = True) -> tuple[dict[str, Any], list[Finding]]:
    """Hash one file and describe it for the manifest (``sha256`` is moved into the subject)."""
    findings: list[Finding] = []
    dvc = dvc_info(path, base)
    digest = hash_file(path, md5=dvc is not None)
    if dvc is not None:
        comparable = dvc.get("hash") == "md5" and dvc.get("md5")
        dvc["matches"] = (digest.md5 == dvc["md5"]) if comparable else None
        if dvc["matches"] is False:
            findings.append(Finding(name, "dvc_stale", f"{name}: DVC's MD5 in {dvc['file']} does not match the file; "
                                    "run `dvc add` / `dvc commit` so DVC records this content", severity="warning"))
    tab = None
    if tabular:
        try:
            tab = tabular_summary(path)
        except DataError as exc:
            findings.append(Finding(name, "tabular", f"{name}: row count not recorded: {exc}", severity="warning"))
    record = {"name": name, "type": "file", "uri": name, "sha256": digest.sha256, "size": digest.size,
              "collection": collection, "tabular": tab, "dvc": dvc, "s3": None}
    return record, findings


def _short(h: str | None) -> str:
    return (h or "?")[:12] + "…"


def verify_local(records: list[dict[str, Any]], collections: list[dict[str, Any]], base: Path, *,
                 exclude: set[Path]) -> tuple[list[SourceStatus], list[Finding]]:
    """Re-hash every local source and look for files added to listed folders and globs.

    Parameters
    ----------
    records : list of dict
        Local source records (with ``sha256``), names already checked as safe.
    collections : list of dict
        Folder and glob collections, names already checked as safe.
    base : pathlib.Path
        The folder names are relative to.
    exclude : set of pathlib.Path
        Files never reported as unlisted (the manifest itself).
    """
    statuses: list[SourceStatus] = []
    findings: list[Finding] = []
    for rec in records:
        name = rec["name"]
        path = base / name
        link = link_on_path(path, base)
        if link is not None:
            findings.append(Finding(name, "symlink", f"{name}: {link.relative_to(base).as_posix()} is now a symbolic "
                                    f"link (to {os.readlink(link)}); the manifest pinned a real file"))
            statuses.append(SourceStatus(name, rec["sha256"], rec.get("size"), "failed"))
            continue
        if not path.exists():
            findings.append(Finding(name, "missing", f"{name}: listed in the manifest but missing"))
            statuses.append(SourceStatus(name, rec["sha256"], rec.get("size"), "failed"))
            continue
        if not path.is_file():
            findings.append(Finding(name, "missing", f"{name}: listed as a file but is not a regular file"))
            statuses.append(SourceStatus(name, rec["sha256"], rec.get("size"), "failed"))
            continue
        try:
            digest = hash_file(path)
        except OSError as exc:
            findings.append(Finding(name, "unreadable", f"{name}: cannot be read ({exc.strerror})"))
            statuses.append(SourceStatus(name, rec["sha256"], rec.get("size"), "failed"))
            continue
        if digest.sha256 != rec["sha256"]:
            old = rec.get("size")
            size = (f"size {old} -> {digest.size} bytes" + (" (truncated)" if isinstance(old, int)
                                                           and digest.size < old else ""))
            findings.append(Finding(name, "digest_mismatch",
                                    f"{name}: SHA-256 mismatch (manifest {_short(rec['sha256'])}, now "
                                    f"{_short(digest.sha256)}; {size}): the file changed after the manifest was made"))
            statuses.append(SourceStatus(name, digest.sha256, digest.size, "failed"))
        else:
            statuses.append(SourceStatus(name, digest.sha256, digest.size, "ok"))
    listed = {rec["name"] for rec in records}
    for coll in collections:
        cname, ctype = coll["name"], coll.get("type")
        if ctype == "folder":
            folder = base if cname == "." else base / cname
            if not folder.is_dir():
                findings.append(Finding(cname, "missing", f"{cname}: the listed folder is missing"))
                continue
            found = [normpath(f) for f in walk_folder(folder)]
            names = [f.relative_to(base).as_posix() for f in found if f not in exclude]
            for link in folder_links(folder):
                ln = link.relative_to(base).as_posix()
                if ln not in listed:  # listed ones are reported with their record
                    findings.append(Finding(ln, "symlink", f"{ln}: a symbolic link (to {os.readlink(link)}) in the "
                                            f"listed folder {cname!r}, added after the manifest was made"))
            names = [n for n in names if not (base / n).is_symlink()]
        elif ctype == "glob":
            names = [n for n in expand_glob(cname, base) if normpath(base / n) not in exclude]
            for n in names:
                link = link_on_path(base / n, base)
                if link is not None and n not in listed:
                    findings.append(Finding(n, "symlink", f"{n}: matches the listed glob {cname!r} through the "
                                            f"symbolic link {link.relative_to(base).as_posix()}, added after the "
                                            "manifest was made"))
            names = [n for n in names if link_on_path(base / n, base) is None]
        else:
            continue
        for n in names:
            if n not in listed:
                findings.append(Finding(n, "unlisted", f"{n}: a file in the listed {ctype} {cname!r} that is not "
                                        "in the manifest (added after it was made)"))
    return statuses, findings
