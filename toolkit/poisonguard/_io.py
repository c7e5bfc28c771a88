"""Atomic file output and digests shared by every stage.

Outputs are written to a temporary file in the destination folder and renamed into
place, so a reader never sees half a file and a crash never leaves a truncated one. Files get
the mode ``0666 & ~umask`` (0644 under the usual umask 022), as ``open()`` would give them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .errors import UsageError

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "check_name",
           "current_umask", "guard_outputs", "sha256_file"]

_CHUNK = 1 << 20


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, perms: int | None = None,
                **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` and rename it onto ``path`` on success.

    Parameters
    ----------
    path : path-like
        The final destination; its folder is created when missing.
    mode : {"w", "wb"}, default="w"
        Text or binary writing.
    perms : int, default=None
        The file's permission bits; None gives ``0o666 & ~umask`` (what :func:`open` gives). Set
        from the start, so a private file (``perms=0o600``) is never readable by others.
    **kwargs
        Passed to :func:`open` (``encoding``, ``newline``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', got {mode!r}")
    dest = Path(path)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:  # the destination's fault, not a bug: say which path and why
        raise UsageError(f"{dest}: cannot be written ({exc.strerror}); choose a writable path") from None
    try:
        os.fchmod(fd, (0o666 & ~current_umask()) if perms is None else perms)  # mkstemp makes 0600
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it (``/proc/self/status`` on Linux; elsewhere set
    and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8) and return the path."""
    with atomic_open(path, "w", newline="") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, perms: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (``perms`` as :func:`atomic_open`) and return the path."""
    with atomic_open(path, "wb", perms=perms) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically and return the path."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk_size: int = _CHUNK) -> str:
    """Return the hex SHA-256 of a file, read in chunks (bounded memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        buf = bytearray(chunk_size)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


Named = tuple[str, "str | os.PathLike[str] | None"]


def _resolve(label: str, path: str | os.PathLike[str]) -> Path:
    try:
        return Path(os.path.realpath(Path(path).expanduser(), strict=False))
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise UsageError(f"{label} {path}: cannot be resolved ({exc}); give a path without a symlink loop") from None


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_writable(label: str, path: Path, given: str | os.PathLike[str], *, folder: bool) -> None:
    if path.is_symlink() and not path.exists():
        raise UsageError(f"{label} {given}: is a symbolic link that leads nowhere (a loop or a missing target); "
                         "remove it or choose another path")
    if path.exists():
        if folder and not path.is_dir():
            raise UsageError(f"{label} {given}: is a file, not a folder; name a folder for the outputs")
        if not folder and path.is_dir():
            raise UsageError(f"{label} {given}: is a folder; name a file to write")
    parent = path if folder else path.parent
    while not parent.exists():  # the nearest folder that exists is where the new ones are made
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{label} {given}: {parent} is a file, so no folder can be made below it; "
                         "choose another path")
    try:  # a real probe: os.access says yes to root even where nothing can be written (/proc, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=".poisonguard-probe.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise UsageError(f"{label} {given}: the folder {parent} is not writable ({exc.strerror}); "
                         "choose a writable path") from None
    os.close(fd)
    os.unlink(probe)


def guard_outputs(inputs: Sequence[Named] = (), outputs: Sequence[Named] = (),
                  hashed_dirs: Sequence[Named] = (), out_dirs: Sequence[Named] = ()) -> None:
    """Refuse, before any work, destinations that would overwrite an input or cannot be written.

    Every path is given with the option that named it (``("--out", path)``); ``None`` paths are
    skipped. Paths are compared resolved (symlinks followed) and with :func:`os.path.samefile`
    where both exist (hard links).

    Parameters
    ----------
    inputs : sequence of (label, path)
        Files the command reads; never a destination.
    outputs : sequence of (label, path)
        Files the command writes: none may be an input, lie inside a hashed folder, be an
        existing folder, or be another output; their folder must be writable.
    hashed_dirs : sequence of (label, path)
        Folders whose content the command records; nothing is written inside them.
    out_dirs : sequence of (label, path)
        Folders the command writes into: they must not be an existing file and must be writable.

    Raises
    ------
    UsageError
        With a one-line message naming the option, the path and what to do.
    """
    def resolved(named: Sequence[Named]) -> list[tuple[str, str | os.PathLike[str], Path]]:
        return [(lab, p, _resolve(lab, p)) for lab, p in named if p is not None]

    def clash(r: Path, among: list[tuple[str, str | os.PathLike[str], Path]]) -> tuple[str, Any] | None:
        return next(((lab, p) for lab, p, other in among if _same(r, other)), None)

    ins, dirs = resolved(inputs), resolved(hashed_dirs)
    for lab, p, r in resolved(out_dirs):
        if (hit := clash(r, ins)) is not None:
            raise UsageError(f"{lab} {p}: is the input {hit[1]} ({hit[0]}); name a folder for the outputs")
        _check_writable(lab, r, p, folder=True)
    seen: list[tuple[str, str | os.PathLike[str], Path]] = []
    for lab, p, r in resolved(outputs):
        if (hit := clash(r, ins)) is not None:
            raise UsageError(f"{lab} {p}: would overwrite the input {hit[1]} ({hit[0]}); inputs are never "
                             "modified, choose another path")
        for dlab, dp, dr in dirs:
            if r.is_relative_to(dr):
                raise UsageError(f"{lab} {p}: is inside the folder {dp} ({dlab}) whose files are hashed; "
                                 "write it outside that folder")
        if (hit := clash(r, seen)) is not None:
            raise UsageError(f"{lab} {p}: is also {hit[0]}; give every output its own path")
        _check_writable(lab, r, p, folder=False)
        seen.append((lab, p, r))


_BAD_NAME = re.compile(r"[/\\\x00]")


def check_name(label: str, name: str) -> str:
    """Return ``name`` when it is a plain file name (no folder part, not ``.``/``..``); else raise UsageError."""
    if not name or name in (".", "..") or _BAD_NAME.search(name) or name.startswith("~") or name != name.strip():
        raise UsageError(f"{label} {name!r}: must be a plain file name, without folders, '..' or leading or "
                         "trailing spaces; put the folder in the folder option instead")
    return name
