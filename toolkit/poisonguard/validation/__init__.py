"""Data contracts with Great Expectations: infer a suite from trusted data, keep it in
``expectations/``, validate every new batch against it.

Three functions do the work, each a thin layer over Great Expectations 1.x:

- :func:`infer_suite` writes the first suite (GE 1.x has no profiler): exact column set, types,
  not-null, ranges with a margin, value sets, the label's value set and distribution, a
  row-count band, mean and standard-deviation bands, id uniqueness, class-conditional ranges.
- :func:`validate` / :func:`validate_frame` run a suite with GE in an ephemeral context (no
  ``gx/`` folder, no network, analytics off) and return a :class:`ValidationResult`.
- :func:`validate_checkpoint` runs a Checkpoint of an existing GX project instead (its actions,
  its stores, its Data Docs) and returns the same :class:`ValidationResult`.
- :func:`load_suite` / :func:`write_suite` read and write GE's own suite JSON.

Severity policy (what fails the gate)
-------------------------------------
The policy is Great Expectations' own per-expectation ``severity`` field, so GE users see and
edit it with GE. A failed expectation whose severity is ``"critical"`` makes
``ValidationResult.return_code`` 1 (``poisonguard validate`` exits 1); ``"warning"`` and
``"info"`` failures are reported and never fail the gate. An expectation GE could not evaluate
(a missing column) counts as failed. Inferred suites mark as critical what is crude breakage or
crude poisoning: the column set, the row-count band, types, not-null / null share, value sets,
numeric ranges, id uniqueness, the label's value set and the label distribution. They mark as
warnings the statistical bands that move with honest drift: means, standard deviations, and
class-conditional ranges (whose rows are reported for review). Each expectation's
``meta["poisonguard"]["why"]`` says why it is there.

Errors: a missing or malformed suite file, an unknown expectation type, or a suite for other
columns (more than half of the columns it names are not in the data) raise
:class:`poisonguard.errors.SuiteError` (CLI exit 2). A renamed column is a validation finding
(the column-set expectation fails), not an error.

Custom expectations (:class:`ExpectColumnValueProportionsToMatchReference`,
:class:`ExpectColumnPairValuesToBeWithinClassRanges`) are real GE expectations with GE renderers
(Data Docs describe them in words). Importing this package registers them with GE, so
``import poisonguard.validation`` is the one line a GE user needs before
``gx.ExpectationSuite(**json)`` or ``context.suites.get(...)`` on a poisonguard suite
(``import poisonguard.validation.expectations`` does the same).

Reader options: a suite records in ``meta["poisonguard"]["na_values"]`` the cell values that
were read as missing when it was inferred (``?`` in the Adult data); :func:`validate` reads a
data file with those, and whoever reads the data for GE alone should pass them to pandas
(``pd.read_csv(path, na_values=..., keep_default_na=False)``).

Importing this package imports Great Expectations (seconds); the CLI imports it only inside
the commands that validate, so ``poisonguard --help`` and the gate never pay for it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._checkpoint import validate_checkpoint
from ._run import ExpectationOutcome, ValidationResult, suite_na_values, validate, validate_frame
from ._suite import infer_suite, load_suite, suite_columns, suite_from_dict, write_suite

__all__ = [
    "ExpectColumnPairValuesToBeWithinClassRanges",
    "ExpectColumnValueProportionsToMatchReference",
    "ExpectationOutcome",
    "ValidationResult",
    "infer_suite",
    "load_suite",
    "register_custom_expectations",
    "suite_columns",
    "suite_from_dict",
    "suite_na_values",
    "validate",
    "validate_checkpoint",
    "validate_frame",
    "write_suite",
]

_CUSTOM = ("ExpectColumnPairValuesToBeWithinClassRanges", "ExpectColumnValueProportionsToMatchReference")


def register_custom_expectations() -> None:
    """Import Great Expectations and register poisonguard's custom expectations and metrics with it.

    Call it before loading a suite that uses them with Great Expectations directly
    (``gx.ExpectationSuite(**json)``); poisonguard's own functions call it themselves. Idempotent.
    """
    from ._gx import gx

    gx()


register_custom_expectations()  # GE alone can then load and render a poisonguard suite


def __getattr__(name: str) -> Any:
    if name in _CUSTOM:
        register_custom_expectations()
        return getattr(importlib.import_module("._custom", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
