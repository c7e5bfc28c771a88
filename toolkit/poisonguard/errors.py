"""The exception tree of poisonguard.

Every error the library raises on purpose derives from :class:`PoisonguardError`.
Errors caused by the user's input also derive from the matching built-in, so
``except ValueError`` keeps working for callers who do not know our tree.
The CLI maps the tree onto exit codes through :attr:`PoisonguardError.exit_code`::

    PoisonguardError                       (exit 3, internal)
    ├── UsageError(ValueError)             (exit 2) bad option values, conflicting options
    │   └── ConfigError                    (exit 2) bad params.yaml / --set / policy / suite file
    │       └── SuiteError                 (exit 2) malformed Great Expectations suite
    ├── DataError(ValueError)              (exit 2) unreadable or unusable input data
    │   └── SchemaError                    (exit 2) columns missing, wrong types
    ├── ProvenanceError                    (exit 2) unreadable manifest, bad key, S3 access errors
    │   └── CredentialsError               (exit 2) no or rejected credentials
    └── TrackingError                      (exit 2) MLflow run or model not found

A message says what was wrong, what was expected or received, and what to do next.
Findings (poisoning suspected, validation failed, a tampered source) are not errors:
they are results whose ``return_code`` is 1. Nor is a detector that fails inside a scan: the
scan records it in :attr:`ScanResult.failures <poisonguard.scan.ScanResult.failures>` and goes
on (``return_code`` 3 when nothing was suspected); a detector used on its own raises what
scikit-learn estimators raise (``ValueError`` for bad input, ``NotFittedError``, ...).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CredentialsError",
    "DataError",
    "PoisonguardError",
    "ProvenanceError",
    "SchemaError",
    "SuiteError",
    "TrackingError",
    "UsageError",
]


class PoisonguardError(Exception):
    """Root of every error poisonguard raises on purpose."""

    exit_code: int = 3


class UsageError(ValueError, PoisonguardError):
    """An option or argument has a value that cannot be used."""

    exit_code = 2


class DataError(ValueError, PoisonguardError):
    """Input data cannot be read or cannot be used as asked."""

    exit_code = 2


class SchemaError(DataError):
    """Input data lacks a required column or has one of the wrong type."""


class ConfigError(UsageError):
    """The configuration (params.yaml, ``--set``, a policy, a suite file) is malformed.

    Raised before any work is done (see :mod:`poisonguard.config`): an unknown detector, parameter
    or policy key, a value of the wrong type or out of range, a stage given two roles.
    """


class SuiteError(ConfigError):
    """A Great Expectations suite file is missing, malformed or does not fit the data."""


class ProvenanceError(PoisonguardError):
    """A manifest, key or source cannot be read (not a tamper finding: those are results)."""

    exit_code = 2


class CredentialsError(ProvenanceError):
    """Credentials are missing or were rejected. Never carries the credential itself."""


class TrackingError(PoisonguardError):
    """An MLflow run, experiment or model needed for the comparison cannot be found."""

    exit_code = 2
