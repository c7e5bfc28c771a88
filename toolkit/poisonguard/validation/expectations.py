"""Importing this module registers poisonguard's custom expectations with Great Expectations.

For Great Expectations users who open or run a poisonguard suite with GE itself::

    import great_expectations as gx
    import poisonguard.validation.expectations  # noqa: F401  (registers the custom expectations)

    suite = gx.ExpectationSuite(**json.load(open("expectations/adult.json")))

``import poisonguard.validation`` does the same (this module is kept for the imports that name it).
"""

from __future__ import annotations

from . import register_custom_expectations

__all__ = ["ExpectColumnPairValuesToBeWithinClassRanges", "ExpectColumnValueProportionsToMatchReference"]

register_custom_expectations()

from ._custom import (  # noqa: E402 - after the registration that imports Great Expectations
    ExpectColumnPairValuesToBeWithinClassRanges,
    ExpectColumnValueProportionsToMatchReference,
)
