"""Options and helpers shared by the subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError


def load_params(path: Path | None, section: str) -> dict[str, Any]:
    """Read ``section`` of a params.yaml (``{}`` when no file is given)."""
    if path is None:
        return {}
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such parameters file; check the --params path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); re-encode it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}); check the --params path") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    value = doc.get(section, {}) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: section {section!r} must be a mapping, got {type(value).__name__}")
    return value


def yaml_value(item: str, value: str) -> Any:
    """The ``VALUE`` of a ``--set ...=VALUE`` option read as YAML; malformed YAML is a usage error."""
    import yaml

    from ..errors import UsageError

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--set {item!r}: the value is not valid YAML ({first}); quote it or fix it") from None


format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="How to print the result on standard output.")
