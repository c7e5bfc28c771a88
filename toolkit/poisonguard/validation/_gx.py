"""The one place that imports Great Expectations and builds its ephemeral context.

Great Expectations is heavy to import (seconds), so it is imported here, lazily, by the
functions that need it; ``poisonguard --help`` never pays for it. Analytics are switched
off before the import (``GX_ANALYTICS_ENABLED=False``) and again in the context's config;
the context is ephemeral (in memory: no ``gx/`` folder, no network) and its progress
bars are off, so nothing is written to the terminal by Great Expectations.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from great_expectations.datasource.fluent.interfaces import Batch

__all__ = ["ephemeral_context", "gx", "pandas_batch"]

_READY = False


def gx() -> Any:
    """Import and return ``great_expectations`` with analytics off and our expectations registered."""
    global _READY
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations

    if not _READY:
        from . import _custom  # noqa: F401 - registers the custom expectations and metrics with GE

        _READY = True
    return great_expectations


def pandas_batch(frame: pd.DataFrame) -> Batch:
    """A Great Expectations batch over the whole in-memory ``frame`` in a fresh ephemeral context.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data; it is not copied. Its index should be ``0..n-1`` so that the indices Great
        Expectations reports are ``row`` positions.
    """
    definition = (ephemeral_context().data_sources.add_pandas("poisonguard")
                  .add_dataframe_asset("data")
                  .add_batch_definition_whole_dataframe("whole"))
    return definition.get_batch(batch_parameters={"dataframe": frame})


def ephemeral_context() -> Any:
    """A fresh ephemeral (in-memory) Great Expectations context: analytics and progress bars off."""
    g = gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return g.get_context(mode="ephemeral", project_config=config)
