"""Every ``poisonguard`` command written in the docs uses a subcommand and options that exist.

The commands are read from the README, pipelines/README.md, the CI example, dvc.yaml and docs/:
continuation lines joined, comments and shell plumbing (``&&``, ``|``, ``;``, ``||``, redirections)
cut. Each must name an existing subcommand, and each option must be one of that subcommand's
visible options (an old name kept hidden for compatibility is not what the docs should teach).
Running them is the pipeline tests' job (tests/test_pipeline.py, tests/test_dvc_new_repo.py).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from poisonguard.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "pipelines" / "README.md", ROOT / "pipelines" / "ci-example.yml",
        ROOT / "dvc.yaml", *sorted((ROOT / "docs").glob("*.md"))]
PLUMBING = {"&&", "||", "|", ";", ">", ">>", "2>", "2>&1", "&"}


def _commands(text: str) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", text)  # shell continuation lines
    out = []
    for line in text.splitlines():
        for m in re.finditer(r"(?:^|[\s`(\"'$])poisonguard\s+([a-z][^`#\n]*)", line):
            cmd = m.group(1).split(" # ")[0].strip()
            out.append(cmd)
    return out


def _yaml_folded(path: Path) -> str:
    """dvc.yaml / CI YAML: a command folded over indented lines is one command."""
    lines, out = path.read_text(encoding="utf-8").splitlines(), []
    for line in lines:
        if out and re.match(r"^\s+--", line) and "poisonguard" in out[-1]:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def _code(markdown: str) -> str:
    """The code of a Markdown text: fenced blocks, and inline spans one per line."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.S | re.M)
    return "\n".join(blocks + re.findall(r"`([^`\n]+)`", prose))


def _all() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = _yaml_folded(path) if path.suffix in (".yaml", ".yml") else _code(path.read_text(encoding="utf-8"))
        found += [(path.name, c) for c in _commands(text)]
    return found


COMMANDS = _all()


def _resolve(words: list[str]) -> tuple[click.Command, list[str], str]:
    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="poisonguard")
    path = []
    while isinstance(cmd, click.Group) and words and not words[0].startswith("-"):
        sub = cmd.get_command(ctx, words[0])
        if sub is None:
            raise AssertionError(f"no subcommand {' '.join(path + words[:1])!r}")
        path.append(words.pop(0))
        cmd, ctx = sub, click.Context(sub, parent=ctx, info_name=path[-1])
    return cmd, words, " ".join(path)


def test_the_docs_hold_commands():
    assert len(COMMANDS) >= 30
    assert {c.split()[0] for _, c in COMMANDS} >= {"scan", "gate", "validate", "drift", "manifest", "attack"}


def _unknown_options(command: str) -> tuple[str, list[str]]:
    """(subcommand, options of ``command`` that are not visible options of its subcommand)."""
    try:
        words = shlex.split(command)
    except ValueError:  # an unbalanced quote: take the words as they are
        words = command.split()
    cut = next((i for i, w in enumerate(words) if w in PLUMBING or w.startswith(("2>", ">"))), len(words))
    words = words[:cut]
    if not words or words[0] in ("--help", "-h", "--version"):
        return "", []
    cmd, rest, name = _resolve(words)
    if isinstance(cmd, click.Group):
        return name, []  # e.g. `poisonguard manifest --help`
    visible = {d for p in cmd.params if isinstance(p, click.Option) and not p.hidden
               for d in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
    used = {w.split("=", 1)[0] for w in rest if w.startswith("-") and not re.fullmatch(r"-\d.*", w)}
    return name, sorted(used - visible)


def test_the_check_catches_old_and_unknown_names():
    assert _unknown_options("scan d.csv --label y --out o") == ("scan", ["--out"])
    assert _unknown_options("gate r.json --report junit --out-dir o") == ("gate", ["--report"])
    assert _unknown_options("manifest verify m.json --key k.pub --nosuch && echo ok") == ("manifest verify", ["--nosuch"])
    with pytest.raises(AssertionError, match="no subcommand 'scna'"):
        _unknown_options("scna d.csv")


@pytest.mark.parametrize("where,command", COMMANDS, ids=[f"{w}:{c[:50]}" for w, c in COMMANDS])
def test_documented_command_uses_existing_options(where, command):
    name, unknown = _unknown_options(command)
    assert unknown == [], f"{where}: `poisonguard {command}` uses {unknown}, not options of {name}"
