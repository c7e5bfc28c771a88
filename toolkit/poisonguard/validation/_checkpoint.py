"""Validation through an existing Great Expectations project: its Checkpoint, its actions, its Data Docs.

:func:`validate` runs a suite in an ephemeral context that leaves nothing behind. A team that
already keeps a GX project (``gx/`` with data sources, suites, validation definitions and
checkpoints) wants the run recorded there instead: the checkpoint's actions run (its
``UpdateDataDocsAction`` rebuilds the Data Docs, where poisonguard's custom expectations are
rendered in words), its validation results are stored, and poisonguard still returns the same
:class:`ValidationResult` for the gate.

The checkpoint must hold one validation definition on a pandas dataframe asset: poisonguard
reads DATA (with the suite's ``meta.poisonguard.na_values``) and hands the frame to the
checkpoint as its ``dataframe`` batch parameter, so rows keep their position in the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..data import load_dataset
from ..errors import ConfigError, UsageError
from ._run import MAX_ROWS, ValidationResult, convert_outcome, suite_na_values

__all__ = ["validate_checkpoint"]


def validate_checkpoint(data: str | os.PathLike[str], checkpoint: str, *,
                        project: str | os.PathLike[str] = ".", max_rows: int = MAX_ROWS) -> ValidationResult:
    """Run the checkpoint ``checkpoint`` of the GX project in ``project`` on the data file ``data``.

    Parameters
    ----------
    data : path-like
        The data file, read with :func:`poisonguard.data.load_dataset` and the suite's reader options.
    checkpoint : str
        The checkpoint's name in the project.
    project : path-like, default="."
        The folder holding the project's ``gx/`` folder (GE's ``project_root_dir``).
    max_rows : int, default=1000
        Most rows reported per expectation (the checkpoint's ``result_format`` may report fewer).

    Returns
    -------
    ValidationResult
        Its ``parameters`` name the project, checkpoint and validation definition, and list the
        Data Docs pages the checkpoint's actions updated (``data_docs``).

    Raises
    ------
    ConfigError
        No GX project in ``project``, no such checkpoint, or a checkpoint this function cannot
        feed (not exactly one validation definition, or an asset that is not a dataframe asset).
    """
    from ._gx import gx

    g = gx()
    root = Path(project)
    if not (root / "gx" / "great_expectations.yml").is_file():
        raise ConfigError(f"no Great Expectations project in {root} (no gx/great_expectations.yml); create one "
                          "with great_expectations.get_context(mode='file', project_root_dir=...), or validate "
                          "with --suite instead")
    context = g.get_context(mode="file", project_root_dir=str(root))
    names = sorted(c.name for c in context.checkpoints.all())
    if checkpoint not in names:
        raise ConfigError(f"no checkpoint named {checkpoint!r} in the GX project {root}; its checkpoints: "
                          f"{', '.join(names) or '(none)'}")
    cp = context.checkpoints.get(checkpoint)
    if len(cp.validation_definitions) != 1:
        raise ConfigError(f"checkpoint {checkpoint!r} has {len(cp.validation_definitions)} validation definitions; "
                          "poisonguard validates one data file, so give it a checkpoint with exactly one")
    vd = cp.validation_definitions[0]
    asset = vd.data.data_asset
    if type(asset).__name__ != "DataFrameAsset":
        raise ConfigError(f"the validation definition {vd.name!r} reads a {type(asset).__name__}; poisonguard hands "
                          "the checkpoint the frame it read, so the asset must be a pandas dataframe asset "
                          "(data_source.add_dataframe_asset(...).add_batch_definition_whole_dataframe(...))")
    suite_json = vd.suite.to_json_dict()
    reader = suite_na_values(suite_json, f"suite {vd.suite.name!r}")
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise UsageError(f"The 'max_rows' parameter of validate_checkpoint must be an int >= 0. Got {max_rows!r} "
                         "instead.")
    ds = load_dataset(data, missing_markers=reader["na_values"])
    frame = ds.frame.reset_index(drop=True)
    result = cp.run(batch_parameters={"dataframe": frame})
    suite_result = next(iter(result.run_results.values()))
    order = {str(e.id): i for i, e in enumerate(vd.suite.expectations)}
    evrs = sorted(suite_result.results, key=lambda r: order.get(str(getattr(r.expectation_config, "id", "")), 1 << 30))
    outcomes = tuple(convert_outcome(evr, frame, max_rows) for evr in evrs)
    failures = tuple({"type": o.type, "column": o.column, "error": o.exception} for o in outcomes if o.exception)
    docs = _docs_urls(context) if any(type(a).__name__ == "UpdateDataDocsAction" for a in cp.actions) else []
    return ValidationResult(
        suite_name=vd.suite.name, outcomes=outcomes,
        inputs={"data": {"path": str(ds.path) if ds.path else None, "sha256": ds.sha256, "rows": len(frame),
                         "columns": len(frame.columns)},
                "suite": {"path": None, "sha256": None, "expectations": len(vd.suite.expectations),
                          "gx_project": str(root.resolve())}},
        parameters={"max_rows": int(max_rows), "na_values": reader["na_values"], "na_values_from": reader["from"],
                    "checkpoint": checkpoint, "validation_definition": vd.name, "data_docs": docs},
        failures=failures, great_expectations_version=g.__version__)


def _docs_urls(context: Any) -> list[str]:
    return [str(site["site_url"]) for site in context.get_docs_sites_urls() or [] if site.get("site_url")]
