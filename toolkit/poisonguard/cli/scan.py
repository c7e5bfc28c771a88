"""``poisonguard scan`` and ``poisonguard detectors``."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import echo_doc, exit_zero_option, finish, format_option, load_params, metrics_option, old_name


@click.command("scan")
@click.argument("data", type=click.Path(path_type=str))
@click.option("--label", "-l", help="The label column.")
@click.option("--out-dir", "out", type=click.Path(path_type=Path), metavar="DIRECTORY",
              help="Folder for report.json, scores.csv, clean.* and quarantine.* (byte-identical for the same "
                   "data, parameters and seed) and timings.json (per-detector seconds: changes every run).")
@click.option("--detectors", "-d", multiple=True,
              help="Detectors to run (repeat or comma-separate); default: the registry's defaults.")
@click.option("--skip", multiple=True, help="Default detectors to leave out (repeat or comma-separate).")
@click.option("--set", "sets", multiple=True, metavar="DETECTOR.PARAM=VALUE",
              help="Set one detector parameter, e.g. --set label_flip.n_neighbors=30, or one key of its batch "
                   "policy, e.g. --set outliers.policy.max_flag_rate=0.02 (value parsed as YAML; wins over "
                   "--params).")
@click.option("--params", type=click.Path(path_type=Path), metavar="FILE",
              help="A params.yaml (no such file or no `scan` section: the defaults); its `scan` section may hold "
                   "`detectors`, `skip`, `seed`, `decision` (`level`, `review_level`, `choose_level`), `reference_shift` (the "
                   "comparison's policy) and one mapping of parameters per detector name (see "
                   "docs/configuration.md). Every key is checked before anything is read: a misspelled one "
                   "exits 2.")
@click.option("--id-column", help="A column that identifies rows, reported beside `row`.")
@click.option("--seed", type=int, default=None,
              help="Seed of every randomised detector (wins over the params file's scan.seed; default 0).")
@click.option("--reference", "reference", type=click.Path(path_type=Path),
              help="Trusted version of the data: detectors that can score new rows (label_flip, outliers) are "
                   "fitted on it and score the added and changed rows; the report gains a `reference` section "
                   "(row delta, label and distribution shift).")
@click.option("--reference-rev", metavar="REV",
              help="Git revision of the trusted version, read through DVC: the file --reference names (default: "
                   "DATA itself), path relative to the DVC repository root, as it was at REV (e.g. HEAD~1).")
@click.option("--source-column", help="Column naming each row's source: the reference comparison is also made "
                                      "per source (needs --reference or --reference-rev).")
@click.option("--engine", type=click.Choice(["pandas", "spark", "auto"]), default=None,
              help="pandas (one process; the default, or the params file's scan.engine), spark (Apache Spark: "
                   "Parquet or CSV files, folders of partitions, s3a:// paths; local[*] unless --spark-master or "
                   "SPARK_REMOTE; needs poisonguard[spark] and Java 17+), or auto (spark for s3a:// and inputs of "
                   "1 GiB or more). With spark, --out-dir gets the Parquet datasets scores/, clean/, quarantine/.")
@click.option("--spark-master", metavar="URL",
              help="Spark master for --engine spark: spark://HOST:7077, yarn, local[4], or sc://HOST:15002 (Spark "
                   "Connect); default local[*].")
@click.option("--sample-rows", type=int, default=None, metavar="N",
              help="--engine spark: rows the detectors are fitted on (a sample stratified so that every class keeps "
                   "at least 1000 rows; default 200000), applied to every row in partitions.")
@metrics_option
@exit_zero_option
@format_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@old_name("--out", "-o", dest="out", new="--out-dir", type=click.Path(path_type=Path))
def scan(data: str, label: str | None, out: Path | None, detectors: tuple[str, ...], skip: tuple[str, ...],
         sets: tuple[str, ...], params: Path | None, id_column: str | None, seed: int | None, reference: Path | None,
         reference_rev: str | None, source_column: str | None, engine: str | None, spark_master: str | None,
         sample_rows: int | None, metrics_file: Path | None, exit_zero: bool, fmt: str, quiet: bool) -> int:
    """Scan DATA (CSV, TSV or JSON Lines, optionally .gz/.bz2/.xz/.zst; or Parquet) for poisoned rows.

    Every row is decided keep, review or quarantine: its detectors' p-values are combined and
    Benjamini-Hochberg over the rows at --set decision.level=... (default 0.1) quarantines; rows
    that are merely unusual are listed for review and stay in the clean split. Quarantined rows
    are written to quarantine.<ext> with their reasons, the rest to clean.<ext>; scores.csv has
    one line per input row with its `decision`. Exit 0 when the batch looks clean (noisy rows may
    still be quarantined), 1 when poisoning is suspected (0 with --exit-zero), 2 on bad usage or
    input, 3 when a detector failed and nothing was suspected.

    With --reference / --reference-rev the comparison's policy is set with
    --set reference_shift.KEY=VALUE or a `reference_shift` mapping in the params file's `scan` section.
    """
    from .._io import guard_outputs
    from ..scan import rich_progress
    from ..scan import scan as run_scan
    from . import echo_result

    from ..errors import UsageError
    from ..spark._engine import choose_engine

    names, det_params, seed = _configure(params, detectors, skip, sets, seed,
                                                  with_reference=reference is not None or reference_rev is not None)
    if engine is None:
        engine = _engine_of(params)
    if choose_engine(engine, data) == "spark":
        return _scan_spark(data, label=label, out=out, names=names, det_params=det_params, id_column=id_column,
                           seed=seed, with_reference=reference is not None or reference_rev is not None,
                           source_column=source_column, master=spark_master, sample_rows=sample_rows,
                           metrics_file=metrics_file, exit_zero=exit_zero, fmt=fmt, quiet=quiet)
    if spark_master is not None or sample_rows is not None:
        raise UsageError("--spark-master and --sample-rows need --engine spark (or auto on a large input)")
    path = Path(data)
    written = [("--metrics", metrics_file)]
    if out is not None:
        from ..data import detect_format, output_name

        kind = detect_format(path)
        written += [("--out-dir", out / n) for n in ("report.json", "timings.json", "scores.csv",
                                                 output_name(kind, "clean"), output_name(kind, "quarantine"))]
    guard_outputs(inputs=[("DATA", path), ("--reference", reference), ("--params", params)],
                  out_dirs=[("--out-dir", out)], outputs=written)
    bar, cb = rich_progress()
    with bar:
        result = run_scan(path, label=label, detectors=names, params=det_params, id_column=id_column, seed=seed,
                          out=out, progress=cb, reference=reference, reference_rev=reference_rev,
                          source_column=source_column)
    if not quiet:
        echo_result(result, fmt)
    return finish(result, exit_zero=exit_zero, metrics_file=metrics_file)


def _engine_of(params: Path | None) -> str | None:
    """The params file's ``scan.engine`` (None when not set), checked."""
    from ..errors import ConfigError
    from ..spark._engine import ENGINES

    value = load_params(params, "scan").get("engine")
    if value is not None and value not in ENGINES:
        raise ConfigError(f"{params}: scan.engine must be one of {', '.join(ENGINES)}, got {value!r}; fix the file")
    return value


def _scan_spark(data: str, *, label: str | None, out: Path | None, names: list[str], det_params: dict[str, dict],
                id_column: str | None, seed: int | None, with_reference: bool, source_column: str | None,
                master: str | None, sample_rows: int | None, metrics_file: Path | None, exit_zero: bool, fmt: str,
                quiet: bool) -> int:
    """``scan --engine spark`` (:func:`poisonguard.spark.scan`)."""
    from .._io import guard_outputs
    from ..errors import UsageError
    from ..scan import rich_progress
    from ..spark import DEFAULT_SAMPLE_ROWS
    from ..spark import scan as spark_scan
    from . import echo_result

    if with_reference or source_column is not None:
        raise UsageError("--engine spark does not compare with a trusted reference yet; run --reference with "
                         "--engine pandas")
    written = [("--metrics", metrics_file)]
    local = None if "://" in data else Path(data)
    if out is not None:
        written += [("--out-dir", out / n) for n in ("report.json", "timings.json")]
        for n in ("scores", "clean", "quarantine"):  # folders of parts, replaced as a whole
            if local is not None and local.resolve().is_relative_to((out / n).resolve()):
                raise UsageError(f"--out-dir {out} would replace the input {data} (its {n}/ folder); choose another "
                                 "output folder")
    guard_outputs(inputs=[("DATA", local)] if local is not None else [], out_dirs=[("--out-dir", out)],
                  outputs=written)
    bar, cb = rich_progress()
    with bar:
        result = spark_scan(data, label=label, detectors=names, params=det_params, id_column=id_column, seed=seed,
                            out=out, master=master, progress=cb,
                            sample_rows=DEFAULT_SAMPLE_ROWS if sample_rows is None else sample_rows)
    if not quiet:
        echo_result(result, fmt)
    return finish(result, exit_zero=exit_zero, metrics_file=metrics_file)


def _configure(params: Path | None, detectors: tuple[str, ...], skip: tuple[str, ...], sets: tuple[str, ...],
               seed: int | None, *, with_reference: bool) -> tuple[list[str], dict[str, dict], int | None]:
    """The detectors, their parameters and the seed from params.yaml and the options, all checked
    (by :func:`poisonguard.scan.check_config`) before anything is read: every error is one line
    naming where the bad key came from (the params file or the ``--set``)."""
    from .. import detectors as registry
    from ..config import parse_set, set_nested
    from ..errors import ConfigError, UsageError
    from ..reference import NAME as REFERENCE
    from ..scan import DECISION_KEY, check_config, iter_names

    section = load_params(params, "scan")
    reserved = {"detectors", "skip", "seed", "engine"}
    det_params: dict[str, dict] = {}
    origins: dict[str, str] = {}  # dotted key below scan -> where it was set, for the messages
    for k, v in section.items():
        if k in reserved:
            continue
        k = str(k)
        if k not in (DECISION_KEY, REFERENCE) and k not in registry.available():
            raise ConfigError(f"{params}: scan.{k} is not a detector (nor {', '.join(sorted(reserved))}, "
                              f"{DECISION_KEY}, {REFERENCE}); registered detectors: {', '.join(registry.available())}. "
                              "Fix the name or remove it.")
        if v is not None and not isinstance(v, dict):
            raise ConfigError(f"{params}: scan.{k} must be a mapping of parameter names to values, got "
                              f"{type(v).__name__} {v!r}; fix the file")
        det_params[k] = dict(v or {})
        origins[k] = str(params)
    listed = {}
    for key in ("detectors", "skip"):
        value = section.get(key)
        if value is not None and not (isinstance(value, str) or
                                      (isinstance(value, list) and all(isinstance(x, str) for x in value))):
            raise ConfigError(f"{params}: scan.{key} must be a detector name or a list of names, got {value!r}")
        listed[key] = value

    def known(name: str, where: str) -> str:
        try:
            registry.get(name)  # unknown names are an error, not a silent no-op
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return name

    chosen = ([known(n, "--detectors") for n in iter_names(detectors) or []]
              or [known(n, f"{params}: scan.detectors") for n in iter_names(listed["detectors"]) or []]
              or registry.default())
    skipped = ([known(n, "--skip") for n in iter_names(skip) or []]
               + [known(n, f"{params}: scan.skip") for n in iter_names(listed["skip"]) or []])
    names = [n for n in chosen if n not in skipped]
    if not names:
        raise UsageError(f"--skip leaves no detector to run (skipped: {', '.join(skipped)}); skip fewer, or "
                         "name the detectors to run with --detectors")
    for item in sets:
        parts, value = parse_set(item)
        det = parts[0]
        if det not in (DECISION_KEY, REFERENCE):
            known(det, f"--set {item!r}")
            if det not in names:
                raise UsageError(f"--set {item!r}: {det} is not run (the detectors run are: {', '.join(names)}); "
                                 "drop the --set or run that detector")
        elif det == REFERENCE and not with_reference:
            raise UsageError(f"--set {item!r}: {det} needs --reference or --reference-rev; drop the --set or "
                             "give the trusted version")
        set_nested(det_params, parts, value)  # DETECTOR.policy.KEY=VALUE sets one key of the policy
        origins[".".join(parts)] = f"--set {item!r}"
    # parameters of detectors that do not run (listed in params.yaml, then skipped) are ignored
    det_params = {k: v for k, v in det_params.items()
                  if k in names or k == DECISION_KEY or (with_reference and k == REFERENCE)}
    if seed is None:  # an explicit --seed (even 0) wins over params.yaml
        seed = section.get("seed", 0)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"{params}: scan.seed must be a whole number, got {seed!r}; fix the file")
    try:
        check_config(names, det_params, seed=seed, with_reference=with_reference)
    except ConfigError as exc:
        raise ConfigError(f"{_origin(str(exc), origins)}{exc}") from None
    return names, det_params, seed


def _origin(message: str, origins: dict[str, str]) -> str:
    """``"<where>: "`` for an error about ``scan.KEY...``: the --set or the params file that set the longest
    prefix of that key (empty when neither did)."""
    token = message.split(" ", 1)[0].rstrip(":")
    if not token.startswith("scan."):
        return ""
    path = token[len("scan."):].split(".")
    for n in range(len(path), 0, -1):
        where = origins.get(".".join(path[:n]))
        if where is not None:
            return f"{where}: "
    return ""


@click.command("detectors")
@format_option
def detectors_cmd(fmt: str) -> int:
    """List the registered detectors; * marks those that run by default."""
    from .. import detectors as registry

    defaults = set(registry.default())
    rows, lines = [], []
    for name in registry.available():
        cls = registry.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        rows.append({"name": name, "family": cls.family, "default": name in defaults,
                     "requires_labels": bool(cls.requires_y), "summary": doc})
        lines.append(f"{'*' if name in defaults else ' '} {name:<22} {cls.family:<12} {doc}")
    echo_doc(rows, fmt, "\n".join(lines))
    return 0
