"""The ``poisonguard`` command line: one thin subcommand per library function.

Each subcommand lives in its own module and is imported only when it runs, so
``poisonguard --help`` starts fast. :func:`main` maps the exception tree onto exit codes:
0 clean, 1 gate failed, 2 bad usage or bad input, 3 internal error.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from .._version import __version__
from ..errors import PoisonguardError

__all__ = ["main", "cli"]

# name -> ("module:attribute", short help). Add a line here when a subcommand lands.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("poisonguard.cli.scan:scan", "Scan a labelled dataset for poisoned rows; split clean / quarantine."),
    "attack": ("poisonguard.cli.attack:attack", "Write a poisoned copy of a dataset and its truth mask (for testing defences)."),
    "detectors": ("poisonguard.cli.scan:detectors_cmd", "List the registered detectors and which run by default."),
    "validate": ("poisonguard.cli.validate:validate_cmd",
                 "Validate data against a Great Expectations suite; exit 1 when a critical expectation fails."),
    "expectations": ("poisonguard.cli.validate:expectations",
                     "Great Expectations suites in expectations/: infer one from trusted data."),
    "keygen": ("poisonguard.cli.provenance:keygen", "Generate an Ed25519 key pair for signing manifests."),
    "manifest": ("poisonguard.cli.provenance:manifest",
                 "Signed manifests of the data sources: create, sign, verify, diff (files, DVC, S3)."),
    "drift": ("poisonguard.cli.drift:drift_cmd",
              "Compare an MLflow run's model with the champion on the canary set; exit 1 when suspected."),
    "promote": ("poisonguard.cli.drift:promote_cmd", "Move the champion alias to an MLflow run drift did not flag."),
    "train-log": ("poisonguard.cli.drift:train_log_cmd",
                  "Train the reference model on data and log it to MLflow with its canary predictions."),
    "gate": ("poisonguard.cli.gate:gate_cmd",
             "Combine the stage results into one verdict (exit 0 pass, 1 fail); write CI and HTML reports."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="poisonguard")
def cli() -> None:
    """Defend training data against poisoning.

    Exit codes: 0 clean, 1 gate failed (poisoning suspected, validation failed,
    provenance broken), 2 bad usage or bad input, 3 internal error.
    """


def _quiet_third_parties() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script calls ``sys.exit`` on it)."""
    _quiet_third_parties()
    args = sys.argv[1:] if argv is None else argv
    try:
        rc = cli.main(args=args, prog_name="poisonguard", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        click.echo("poisonguard: aborted", err=True)
        return 130
    except click.ClickException as exc:  # bad usage: one line, as for every exit 2
        if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):  # a bare group: its help
            exc.show()
            return 2
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        click.echo(f"poisonguard: error: {exc.format_message()}{where}", err=True)
        return 2
    except PoisonguardError as exc:
        click.echo(f"poisonguard: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("poisonguard: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into exit 3
        if os.environ.get("POISONGUARD_DEBUG"):
            raise
        click.echo(f"poisonguard: internal error: {type(exc).__name__}: {exc} "
                   "(set POISONGUARD_DEBUG=1 for the traceback and please report it)", err=True)
        return 3
    if isinstance(rc, int):
        return rc
    return 0


def run() -> None:  # pragma: no cover - console entry point
    sys.exit(main())


def echo_result(result: Any, fmt: str) -> None:
    """Print a result for people (``text``) or machines (``json``)."""
    if fmt == "json":
        click.echo(result.to_json())
    else:
        click.echo(str(result))
