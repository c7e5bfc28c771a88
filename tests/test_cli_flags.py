"""One meaning per flag across the commands, ``--format json`` wherever a result is printed,
``python -m poisonguard``, shell completion, and the old flag names still working.

The command tree is walked through click itself (every subcommand of :data:`poisonguard.cli.COMMANDS`,
groups included), so a command added later is checked without editing this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from poisonguard.cli import cli, main

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit"

# The vocabulary (also in poisonguard.cli._common.old_name and the README): what each shared flag takes.
VOCABULARY = {"--out": "file", "--out-dir": "dir", "--report": "file", "--metrics": "file", "--params": "file",
              "--format": "choice", "-o": "file"}


def _leaves(group: click.Group, ctx: click.Context, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            out += _leaves(cmd, click.Context(cmd, parent=ctx, info_name=name), f"{prefix}{name} ")
        else:
            out.append((f"{prefix}{name}", cmd))
    return out


LEAVES = _leaves(cli, click.Context(cli, info_name="poisonguard"))


def _kind(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    t = param.type
    if isinstance(t, click.Choice):
        return "choice"
    if isinstance(t, click.Path):
        # a loose Path (checked by poisonguard's own guard, with a better message) says its kind in its metavar
        if param.metavar in ("FILE", "DIRECTORY"):
            return {"FILE": "file", "DIRECTORY": "dir"}[param.metavar]
        if not t.dir_okay:
            return "file"
        if not t.file_okay:
            return "dir"
        return "path"
    return t.name


def _visible_options() -> dict[str, set[tuple[str, str]]]:
    seen: dict[str, set[tuple[str, str]]] = {}
    for name, cmd in LEAVES:
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                for decl in (*p.opts, *p.secondary_opts):
                    seen.setdefault(decl, set()).add((name, _kind(p)))
    return seen


def test_the_tree_has_every_command():
    names = {n for n, _ in LEAVES}
    assert {"scan", "gate", "validate", "drift", "attack", "keygen", "detectors", "train-log", "promote",
            "manifest create", "manifest verify", "manifest diff", "manifest sign", "expectations infer"} <= names


def test_a_shared_flag_takes_one_kind_of_value_everywhere():
    """``--out`` is always a file, ``--out-dir`` a folder, ``--report`` a JSON file ... (visible options)."""
    clashes = {}
    for decl, uses in _visible_options().items():
        kinds = {k for _, k in uses}
        if decl in VOCABULARY:
            wrong = sorted(n for n, k in uses if k != VOCABULARY[decl])
            if wrong:
                clashes[decl] = f"not a {VOCABULARY[decl]} in {wrong}"
        elif len(kinds) > 1:
            clashes[decl] = sorted(uses)
    assert clashes == {}


def test_every_command_can_print_json():
    missing = [n for n, cmd in LEAVES
               if not any(isinstance(p, click.Option) and "--format" in p.opts and isinstance(p.type, click.Choice)
                          and "json" in p.type.choices for p in cmd.params)]
    assert missing == []


def _json_of(capsys, *args: str) -> object:
    rc = main(list(args))
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_json_output_of_the_commands_that_print_no_stage_result(tmp_path, capsys, banknote_csv):
    rows = _json_of(capsys, "detectors", "--format", "json")
    assert {r["name"] for r in rows} >= {"label_flip", "outliers", "duplicates", "backdoor"}
    assert all(set(r) == {"name", "family", "default", "requires_labels", "summary"} for r in rows)
    assert any(r["default"] for r in rows) and not all(r["default"] for r in rows)

    out = tmp_path / "poisoned.csv"
    doc = _json_of(capsys, "attack", str(banknote_csv), "-l", "class", "-a", "random_flip", "--rate", "0.05",
                   "-o", str(out), "--format", "json")
    truth = [int(line.split(",")[1]) for line in (tmp_path / "poisoned.truth.csv").read_text().splitlines()[1:]]
    assert doc["n_poisoned"] == sum(truth) > 0 and doc["rows"] == len(truth)
    assert doc["out"] == str(out) and out.exists()

    keys = _json_of(capsys, "keygen", "--out-dir", str(tmp_path / "k"), "--format", "json")
    assert Path(keys["public_key"]).read_text().strip() and len(keys["keyid"]) == 64

    suite = _json_of(capsys, "expectations", "infer", str(banknote_csv), "--label", "class",
                     "--out", str(tmp_path / "s.json"), "--format", "json")
    written = json.loads((tmp_path / "s.json").read_text())
    assert suite["expectations"] == len(written["expectations"]) and suite["suite"] == "s"
    assert suite["critical"] + suite["warning"] == suite["expectations"]


@pytest.fixture
def banknote_csv(tmp_path, banknote_path):
    import pandas as pd

    src = banknote_path  # conftest: the shared dataset, failing loudly when ../shared is absent
    p = tmp_path / "banknote.csv"
    pd.read_csv(src).sample(300, random_state=0).to_csv(p, index=False)  # both classes: the file is sorted
    return p


def test_old_names_still_work_and_are_hidden(tmp_path, capsys, banknote_csv):
    rc = main(["scan", str(banknote_csv), "--label", "class", "-d", "duplicates", "--out", str(tmp_path / "old"),
               "--quiet", "--exit-zero"])
    assert rc == 0 and (tmp_path / "old" / "report.json").exists()
    help_text = cli.get_command(click.Context(cli), "scan").get_help(click.Context(cli))
    assert "--out-dir" in help_text and "--out " not in help_text and "-o," not in help_text


def test_old_and_new_name_together_is_a_usage_error(tmp_path, capsys, banknote_csv):
    rc = main(["scan", str(banknote_csv), "--label", "class", "--out", str(tmp_path / "a"),
               "--out-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--out-dir" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_gate_only_replaces_report(tmp_path, capsys, banknote_csv):
    main(["scan", str(banknote_csv), "--label", "class", "-d", "duplicates", "--out-dir", str(tmp_path / "scan"),
          "--quiet", "--exit-zero"])
    for flag, folder in (("--only", "new"), ("--report", "old")):
        rc = main(["gate", str(tmp_path / "scan" / "report.json"), "--out-dir", str(tmp_path / folder),
                   flag, "junit"])
        assert rc in (0, 1)
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == ["junit.xml"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOOLKIT), env.get("PYTHONPATH", "")) if p)
    return env


def test_python_dash_m_poisonguard():
    import poisonguard

    proc = subprocess.run([sys.executable, "-m", "poisonguard", "--version"], capture_output=True, text=True,
                          env=_env(), timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"poisonguard, version {poisonguard.__version__}"


def test_shell_completion_as_the_readme_says():
    """click's completion: the README's `eval "$(_POISONGUARD_COMPLETE=bash_source poisonguard)"`."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "_POISONGUARD_COMPLETE=bash_source poisonguard" in readme
    code = "import sys; sys.argv[0] = 'poisonguard'; from poisonguard.cli import run; sys.exit(run())"
    script = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**_env(), "_POISONGUARD_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "_poisonguard_completion" in script.stdout
    words = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           env={**_env(), "_POISONGUARD_COMPLETE": "bash_complete",
                                "COMP_WORDS": "poisonguard scan --out", "COMP_CWORD": "2"})
    assert words.stdout.split() == ["plain,--out-dir"]  # the old name is hidden from completion too
