"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import click


def existing_params(path: Path | None) -> Path | None:
    """``path``; None, with a one-line note on standard error, when no such file exists.

    Every command runs with its defaults without a params.yaml (or without its section in one), so
    that a stage pasted into a new pipeline works before any parameter is set; the note shows a
    mistyped ``--params`` path.
    """
    if path is not None and not path.exists() and not path.is_symlink():
        click.echo(f"poisonguard: note: {path}: no such parameters file; using the defaults", err=True)
        return None
    return path


def load_params(path: Path | None, section: str) -> dict[str, Any]:
    """Read ``section`` of a params.yaml through :func:`poisonguard.config.load_params` (``{}`` when no
    file is given, the file does not exist -- with a note -- or it has no such section)."""
    from ..config import load_params as _load

    return _load(existing_params(path), section)


format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="How to print the result on standard output.")


def echo_doc(doc: Any, fmt: str, text: str) -> None:
    """Print a command's outcome: ``text`` for people, or ``doc`` as one JSON document (``--format json``).

    For the commands whose outcome is not a stage result (``attack``, ``keygen``, ``detectors``,
    ``expectations infer``, ``train-log``): ``doc`` holds the same facts as ``text``, with paths as
    strings, keys sorted, so that scripts need not parse the text.
    """
    if fmt == "json":
        import json

        click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str, ensure_ascii=False))
    else:
        click.echo(text)

exit_zero_option = click.option(
    "--exit-zero", is_flag=True,
    help="Exit 0 when the check finds something (instead of 1), so that a pipeline step (a DVC stage, a "
         "CI job) goes on and a later `poisonguard gate` decides; the result files still say what was "
         "found. Bad usage or input (2) and internal errors (3) still exit non-zero.")

metrics_option = click.option(
    "--metrics", "metrics_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the result's key figures to this file as flat JSON (verdict as `failed` 0/1, counts; no "
         "paths, digests or times): a DVC metrics file for `dvc exp show` / `dvc metrics diff`.")


def finish(result: Any, *, exit_zero: bool = False, metrics_file: Path | None = None) -> int:
    """Write ``--metrics`` and return the command's exit code: the result's, or 0 for 1 with ``--exit-zero``."""
    if metrics_file is not None:
        result.write_metrics(metrics_file)
    rc = int(result.return_code)
    return 0 if exit_zero and rc == 1 else rc


def old_name(*decls: str, dest: str, new: str, type: Any = None, multiple: bool = False) -> Callable[[Any], Any]:
    """Keep an option's old name working, hidden from ``--help``, for pipelines written before the rename.

    One meaning per flag across the commands: ``--out FILE`` is the one file a command writes,
    ``--out-dir DIR`` the folder it writes its files in, ``--report FILE`` a JSON copy of its result,
    ``--metrics FILE`` its flat metrics. ``scan``, ``validate`` and ``gate`` took ``--out DIR`` /
    ``-o DIR`` and ``drift`` took ``--out FILE`` for its result, ``gate`` took ``--report FORMAT``;
    those old names map onto ``new`` (the parameter ``dest``). Giving both is a usage error.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        legacy = f"{dest}__old_name"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(legacy, None)
            if value not in (None, ()):
                if kwargs.get(dest) not in (None, ()):
                    from ..errors import UsageError

                    raise UsageError(f"{decls[0]} is the old name of {new}; give only {new}")
                kwargs[dest] = value
            return fn(*args, **kwargs)

        return click.option(*decls, legacy, hidden=True, type=type, multiple=multiple,
                            default=() if multiple else None)(wrapper)

    return deco
