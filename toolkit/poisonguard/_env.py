"""Environment variables that third-party imports would choke on, checked lazily instead.

numpy's ``f2py`` (imported by SciPy) runs ``int(os.environ["SOURCE_DATE_EPOCH"])`` at import
time, so a malformed value would kill every command with a traceback before poisonguard could
say anything. Importing this module (first thing :mod:`poisonguard` does) sets a value that is
not a whole number aside, out of the environment; :func:`source_date_epoch` still returns it,
so only the commands that use it (``manifest create``) refuse it, with exit 2 and a one-line
message.
"""

from __future__ import annotations

import datetime
import os

__all__ = ["source_date", "source_date_epoch"]

_NAME = "SOURCE_DATE_EPOCH"
_shelved: str | None = None


def _shelve() -> None:
    global _shelved
    raw = os.environ.get(_NAME)
    if raw is None:
        return
    try:
        int(raw)
    except ValueError:
        _shelved = raw
        del os.environ[_NAME]


def source_date_epoch() -> str:
    """The raw ``SOURCE_DATE_EPOCH`` (stripped; ``""`` when unset), including a malformed value set aside."""
    value = os.environ.get(_NAME)
    if value is None:
        value = _shelved or ""
    return value.strip()


_shelve()


def source_date() -> datetime.datetime | None:
    """``SOURCE_DATE_EPOCH`` as a UTC datetime, None when it is unset (reproducible-builds convention).

    Raises :class:`~poisonguard.errors.UsageError` (exit 2) when it is set but not a whole number of
    seconds. Used by the manifest's creation time and by the gate's reports, which otherwise record no
    time at all (so that they are byte-identical for identical inputs).
    """
    epoch = source_date_epoch()
    if not epoch:
        return None
    try:
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        from .errors import UsageError

        raise UsageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC; "
                         f"got {epoch!r}. Unset it to record the current time") from None
