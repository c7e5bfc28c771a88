"""``poisonguard validate`` and ``poisonguard expectations infer``: thin shells over
:mod:`poisonguard.validation`.

``validate`` prints its :class:`~poisonguard.validation.ValidationResult` (``--format text|json``),
writes ``DIR/validation.json`` with ``--out-dir DIR`` and exits with its ``return_code`` (0 clean,
1 a critical expectation failed); a missing or malformed suite exits 2 through
:func:`poisonguard.cli.main`. ``expectations infer`` writes a Great Expectations suite.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import echo_result
from ._common import echo_doc, exit_zero_option, finish, format_option, metrics_option, old_name

__all__ = ["expectations", "validate_cmd"]


@click.command("validate")
@click.argument("data")
@click.option("--suite", default=None, type=click.Path(path_type=Path),
              help="The Great Expectations suite JSON (for instance expectations/NAME.json).")
@click.option("--checkpoint", default=None,
              help="Instead of --suite: run this Checkpoint of the GX project (its actions and Data Docs).")
@click.option("--gx-project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="With --checkpoint: the folder that holds the project's gx/.")
@click.option("--out-dir", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the result to DIR/validation.json (atomically).")
@click.option("--max-rows", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Most rows reported per failed expectation.")
@click.option("--engine", type=click.Choice(["pandas", "spark", "auto"]), default="pandas", show_default=True,
              help="pandas (one process), spark (Great Expectations' Spark datasource on Parquet or CSV files, "
                   "folders of partitions, s3a:// paths; local[*] unless --spark-master or SPARK_REMOTE; needs "
                   "poisonguard[spark] and Java 17+), or auto (spark for s3a:// and inputs of 1 GiB or more).")
@click.option("--spark-master", metavar="URL",
              help="Spark master for --engine spark: spark://HOST:7077, yarn, local[4], or sc://HOST:15002.")
@metrics_option
@exit_zero_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the result.")
@old_name("--out", dest="out", new="--out-dir", type=click.Path(file_okay=False, path_type=Path))
def validate_cmd(data: str, suite: Path | None, checkpoint: str | None, gx_project: Path, out: Path | None,
                 max_rows: int, engine: str, spark_master: str | None, metrics_file: Path | None, exit_zero: bool,
                 fmt: str) -> int:
    """Validate DATA against a Great Expectations suite (--suite) or a GX project's Checkpoint (--checkpoint).

    Exit 1 when a critical expectation fails, 0 otherwise (warnings are reported only; 0 either
    way with --exit-zero); 2 for a missing or malformed suite, or a suite for other columns.
    With --engine spark the suite runs on Spark through Great Expectations' Spark datasource (the
    same result; pandas dtype names of type expectations are checked as their Spark types).
    """
    from .._io import guard_outputs
    from ..errors import UsageError
    from ..spark._engine import choose_engine

    if (suite is None) == (checkpoint is None):
        raise UsageError("give either --suite FILE or --checkpoint NAME (with --gx-project DIR)")
    spark = choose_engine(engine, data) == "spark"
    if spark and checkpoint is not None:
        raise UsageError("--checkpoint runs the GX project's own datasource; use --suite FILE with --engine spark")
    if spark_master is not None and not spark:
        raise UsageError("--spark-master needs --engine spark (or auto on a large input)")
    remote = spark and "://" in data
    guard_outputs(inputs=[("--suite", suite)] + ([] if remote else [("DATA", Path(data))]), out_dirs=[("--out-dir", out)],
                  outputs=[("--out-dir", out / "validation.json" if out is not None else None), ("--metrics", metrics_file)])
    if checkpoint is not None:
        from ..validation import validate_checkpoint

        result = validate_checkpoint(Path(data), checkpoint, project=gx_project, max_rows=max_rows)
    elif spark:
        from ..spark._validate import validate as spark_validate

        result = spark_validate(data, suite, max_rows=max_rows, master=spark_master)
    else:
        from ..validation import validate

        result = validate(Path(data), suite, max_rows=max_rows)
    if out is not None:
        result.write_json(out / "validation.json")
    echo_result(result, fmt)
    return finish(result, exit_zero=exit_zero, metrics_file=metrics_file)


@click.group("expectations")
def expectations() -> None:
    """Great Expectations suites kept in expectations/: infer one from trusted data."""


@expectations.command("infer")
@click.argument("trusted", type=click.Path(path_type=Path))
@click.option("--label", default=None, help="The label column.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the suite (for instance expectations/NAME.json).")
@click.option("--id-column", default=None, help="A column that identifies rows (gets a uniqueness expectation).")
@click.option("--name", default=None, help="The suite's name (default: the output file's stem).")
@click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="params.yaml whose `expectations: infer:` section sets the parameters below and the others of "
                   "infer_suite (tail_quantile, limit_factor, band_tolerance, sampling_z, min_class_rows; see "
                   "docs/configuration.md); no such file or section: the defaults. The options win over it.")
@click.option("--range-margin", type=float, default=None,
              help="Margin on each side of numeric ranges, as a share of the trusted range  [default: 0.1]")
@click.option("--label-tolerance", type=float, default=None,
              help="Shift of any label's share accepted beyond sampling noise  [default: 0.03]")
@click.option("--row-count-factor", type=float, default=None,
              help="Row-count band: trusted rows divided and multiplied by this  [default: 5.0]")
@click.option("--max-categories", type=int, default=None,
              help="Categorical columns with at most this many values get a value set  [default: 50]")
@format_option
def infer(trusted: Path, label: str | None, out: Path, id_column: str | None, name: str | None,
          params_file: Path | None, range_margin: float | None, label_tolerance: float | None,
          row_count_factor: float | None, max_categories: int | None, fmt: str) -> int:
    """Infer a Great Expectations suite from TRUSTED data and write it to --out.

    The suite is Great Expectations' own JSON: review it, edit it (with Great Expectations or
    by hand; comment your choices in each expectation's meta) and commit it. The parameters
    (--params, the options) are checked before the data is read.
    """
    from .._io import guard_outputs
    from ..errors import ConfigError
    from ._common import load_params

    values = load_params(params_file, "expectations.infer")
    given = {"range_margin": range_margin, "label_tolerance": label_tolerance,
             "row_count_factor": row_count_factor, "max_categories": max_categories}
    values.update({k: v for k, v in given.items() if v is not None})
    guard_outputs(inputs=[("TRUSTED", trusted), ("--params", params_file)], outputs=[("--out", out)])
    from ..validation import infer_suite, write_suite
    from ..validation._suite import INFER_PARAMS

    try:
        checked = INFER_PARAMS.validate(values, where="expectations.infer")
    except ConfigError as exc:  # name the option or the file the bad key came from
        key = str(exc).split(" ", 1)[0].removeprefix("expectations.infer.")
        where = (f"--{key.replace('_', '-')}" if given.get(key) is not None
                 else str(params_file) if params_file is not None else None)
        raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None
    suite = infer_suite(trusted, label=label, id_column=id_column, name=name or _stem(out), **checked)
    write_suite(suite, out)
    severities = [str(e.severity.value if hasattr(e.severity, "value") else e.severity) for e in suite.expectations]
    critical = severities.count("critical")
    echo_doc({"suite": suite.name, "out": str(out), "trusted": str(trusted), "expectations": len(severities),
              "critical": critical, "warning": len(severities) - critical}, fmt,
             f"wrote {out}: {len(severities)} expectations ({critical} critical, "
             f"{len(severities) - critical} warning) inferred from {trusted}")
    return 0


def _stem(path: Path) -> str:
    return path.name[: -len(".json")] if path.name.endswith(".json") else path.stem
