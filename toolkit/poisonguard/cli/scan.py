"""``poisonguard scan`` and ``poisonguard detectors``."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (echo_doc, exit_zero_option, finish, format_option, load_params, metrics_option, old_name,
                      yaml_value)


@click.command("scan")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--label", "-l", help="The label column.")
@click.option("--out-dir", "out", type=click.Path(path_type=Path), metavar="DIRECTORY",
              help="Folder for report.json, scores.csv, clean.* and quarantine.* (byte-identical for the same "
                   "data, parameters and seed) and timings.json (per-detector seconds: changes every run).")
@click.option("--detectors", "-d", multiple=True,
              help="Detectors to run (repeat or comma-separate); default: the registry's defaults.")
@click.option("--skip", multiple=True, help="Default detectors to leave out (repeat or comma-separate).")
@click.option("--set", "sets", multiple=True, metavar="DETECTOR.PARAM=VALUE",
              help="Set one detector parameter, e.g. --set label_flip.n_neighbors=30 (value parsed as YAML).")
@click.option("--params", type=click.Path(path_type=Path), metavar="FILE",
              help="A params.yaml (no such file or no `scan` section: the defaults); its `scan` section may hold "
                   "`detectors`, `skip`, `seed`, `decision` (`level`, `review_level`) and one mapping of "
                   "parameters per detector name.")
@click.option("--id-column", help="A column that identifies rows, reported beside `row`.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every randomised detector.")
@click.option("--reference", "reference", type=click.Path(path_type=Path),
              help="Trusted version of the data: detectors that can score new rows (label_flip, outliers) are "
                   "fitted on it and score the added and changed rows; the report gains a `reference` section "
                   "(row delta, label and distribution shift).")
@click.option("--reference-rev", metavar="REV",
              help="Git revision of the trusted version, read through DVC: the file --reference names (default: "
                   "DATA itself), path relative to the DVC repository root, as it was at REV (e.g. HEAD~1).")
@click.option("--source-column", help="Column naming each row's source: the reference comparison is also made "
                                      "per source (needs --reference or --reference-rev).")
@metrics_option
@exit_zero_option
@format_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@old_name("--out", "-o", dest="out", new="--out-dir", type=click.Path(path_type=Path))
def scan(data: Path, label: str | None, out: Path | None, detectors: tuple[str, ...], skip: tuple[str, ...],
         sets: tuple[str, ...], params: Path | None, id_column: str | None, seed: int, reference: Path | None,
         reference_rev: str | None, source_column: str | None, metrics_file: Path | None, exit_zero: bool, fmt: str,
         quiet: bool) -> int:
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
    from .. import detectors as registry
    from .._io import guard_outputs
    from ..errors import ConfigError, UsageError
    from ..scan import DECISION_KEY, iter_names, rich_progress
    from ..scan import scan as run_scan
    from . import echo_result

    section = load_params(params, "scan")
    reserved = {"detectors", "skip", "seed"}
    det_params: dict[str, dict] = {}
    for k, v in section.items():
        if k in reserved:
            continue
        if v is not None and not isinstance(v, dict):
            raise ConfigError(f"{params}: scan.{k} must be a mapping of parameter names to values, got "
                              f"{type(v).__name__} {v!r}; fix the file")
        det_params[k] = dict(v or {})
    listed = {}
    for key in ("detectors", "skip"):
        value = section.get(key)
        if value is not None and not (isinstance(value, str) or
                                      (isinstance(value, list) and all(isinstance(x, str) for x in value))):
            raise ConfigError(f"{params}: scan.{key} must be a detector name or a list of names, got {value!r}")
        listed[key] = value
    names = iter_names(detectors) or iter_names(listed["detectors"]) or registry.default()
    skipped = (iter_names(skip) or []) + (iter_names(listed["skip"]) or [])
    for s in skipped:
        registry.get(s)  # unknown names are an error, not a silent no-op
    for n in names:
        registry.get(n)
    names = [n for n in names if n not in skipped]
    if not names:
        raise UsageError(f"--skip leaves no detector to run (skipped: {', '.join(skipped)}); skip fewer, or "
                         "name the detectors to run with --detectors")
    with_reference = reference is not None or reference_rev is not None
    for item in sets:
        det, param, value = _parse_set(item)
        if det == DECISION_KEY:  # the decision's levels (poisonguard.evidence), checked by the scan
            det_params.setdefault(det, {})[param] = value
            continue
        if det != "reference_shift":
            try:
                registry.get(det)  # unknown detector names are an error
            except UsageError as exc:
                raise UsageError(f"--set {item!r}: {exc}") from None
        if det not in names and not (with_reference and det == "reference_shift"):
            why = ("needs --reference or --reference-rev" if det == "reference_shift"
                   else f"is not run (the detectors run are: {', '.join(names)})")
            raise UsageError(f"--set {item!r}: {det} {why}; drop the --set or run that detector")
        det_params.setdefault(det, {})[param] = value
    # parameters of detectors that do not run (listed in params.yaml, then skipped) are ignored
    det_params = {k: v for k, v in det_params.items()
                  if k in names or k == DECISION_KEY or (with_reference and k == "reference_shift")}
    if "seed" in section and seed == 0:
        if isinstance(section["seed"], bool) or not isinstance(section["seed"], int):
            raise ConfigError(f"{params}: scan.seed must be a whole number, got {section['seed']!r}")
        seed = int(section["seed"])
    written = [("--metrics", metrics_file)]
    if out is not None:
        from ..data import detect_format, output_name

        kind = detect_format(data)
        written += [("--out-dir", out / n) for n in ("report.json", "timings.json", "scores.csv",
                                                 output_name(kind, "clean"), output_name(kind, "quarantine"))]
    guard_outputs(inputs=[("DATA", data), ("--reference", reference), ("--params", params)],
                  out_dirs=[("--out-dir", out)], outputs=written)
    bar, cb = rich_progress()
    with bar:
        result = run_scan(data, label=label, detectors=names, params=det_params, id_column=id_column, seed=seed,
                          out=out, progress=cb, reference=reference, reference_rev=reference_rev,
                          source_column=source_column)
    if not quiet:
        echo_result(result, fmt)
    return finish(result, exit_zero=exit_zero, metrics_file=metrics_file)


def _parse_set(item: str) -> tuple[str, str, object]:
    """``DETECTOR.PARAM=VALUE`` into its parts, the value read as YAML."""
    from ..errors import UsageError

    key, sep, value = item.partition("=")
    det, dot, param = key.partition(".")
    if not sep or not dot or not det.strip() or not param.strip():
        raise UsageError(f"--set {item!r}: expected DETECTOR.PARAM=VALUE, e.g. label_flip.n_neighbors=30")
    return det.strip(), param.strip(), yaml_value(item, value)


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
