"""The ``poisonguard`` command line: one thin subcommand per library function.

Each subcommand lives in its own module and is imported only when it runs (or its own
``--help`` is shown): the group's ``--help`` lists the names and one-line helps of
:data:`COMMANDS`, so ``poisonguard --help`` and ``--version`` import no NumPy, pandas or
scikit-learn and start fast. :func:`main` maps the exception tree onto exit codes:
0 clean, 1 gate failed, 2 bad usage or bad input, 3 internal error.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from ..errors import PoisonguardError

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

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
    """A click group whose subcommands are imported only when they are needed.

    Click's pattern for lazily loading subcommands (a :class:`click.Group` that overrides
    ``list_commands`` and ``get_command``), with a static table so that the cheap paths stay cheap:

    ``lazy_subcommands`` maps a name to ``("module:attribute", short help)``. A subcommand's
    module is imported when that subcommand runs or its own ``--help`` is shown. The group's
    ``--help`` listing, the "no such command" message and shell completion of subcommand names
    read the table and import nothing. Commands added the ordinary way (``add_command``) work too.
    """

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, tuple[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands: dict[str, tuple[str, str]] = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._lazy_load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _lazy_load(self, cmd_name: str) -> click.Command:
        target = self.lazy_subcommands[cmd_name][0]
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"subcommand {cmd_name!r}: {target} is a {type(command).__name__}, not a click command")
        return command

    def _rows(self, ctx: click.Context, prefix: str = "") -> list[tuple[str, str]]:
        """(name, short help) of the visible subcommands whose name starts with ``prefix``."""
        rows = []
        for name in self.list_commands(ctx):
            if not name.startswith(prefix):
                continue
            if name in self.lazy_subcommands:
                rows.append((name, self.lazy_subcommands[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str()))
        return rows

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = self._rows(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        # click's own message suggests close names from ``self.commands``, which holds only eager commands
        name = args[0]
        if (not ctx.resilient_parsing and ctx.token_normalize_func is None and not name.startswith("-")
                and name not in self.list_commands(ctx)):
            from difflib import get_close_matches

            close = get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        items = [CompletionItem(name, help=help_) for name, help_ in self._rows(ctx, incomplete)]
        return items + click.Command.shell_complete(self, ctx, incomplete)  # the group's own options


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # the version comes from the installed metadata (importlib.metadata: ~60 ms), so only --version reads it
    if not value or ctx.resilient_parsing:
        return
    from .._version import __version__

    click.echo(f"poisonguard, version {__version__}")
    ctx.exit()


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
def cli() -> None:
    """Defend training data against poisoning.

    Exit codes: 0 clean, 1 gate failed (poisoning suspected, validation failed,
    provenance broken), 2 bad usage or bad input, 3 internal error. The checks take
    --exit-zero (exit 0 instead of 1, e.g. in a DVC stage before the gate) and
    --metrics FILE (flat figures for `dvc metrics`).
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
