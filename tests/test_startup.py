"""Start-up: ``import poisonguard``, ``poisonguard --help`` and ``--version`` import nothing heavy.

Each check runs a fresh interpreter and looks at ``sys.modules`` afterwards; wall-clock times
depend on the machine and are not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from poisonguard.cli import COMMANDS

HEAVY = ("numpy", "pandas", "sklearn", "scipy", "pyarrow", "matplotlib", "mlflow", "great_expectations",
         "dvc", "boto3", "botocore")

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit"

#: banknote's first five rows of each class (a scan's fixed cost: benchmarks/bench_startup.py)
TEN_ROWS = """variance,skewness,curtosis,entropy,class
3.6216,8.6661,-2.8073,-0.44699,0
4.5459,8.1674,-2.4586,-1.4621,0
3.866,-2.6383,1.9242,0.10645,0
3.4566,9.5228,-4.0112,-3.5944,0
0.32924,-4.4552,4.5718,-0.9888,0
-1.3971,3.3191,-1.3927,-1.9948,1
0.39012,-0.14279,-0.031994,0.35084,1
-1.6677,-7.1535,7.8929,0.96765,1
-3.8483,-12.8047,15.6824,-1.281,1
-3.5681,-8.213,10.083,0.96765,1
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TOOLKIT), env.get("PYTHONPATH", "")) if p)
    return env


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it sets ``out`` (a JSON-able dict), printed on the last line."""
    prelude = "import contextlib, io, json, sys\n"
    epilogue = ("\nout['heavy'] = sorted(m for m in sys.modules if m.split('.')[0] in %r)\n"
                "print(json.dumps(out))\n") % (HEAVY,)
    proc = subprocess.run([sys.executable, "-c", prelude + code + epilogue], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_main(*args: str) -> dict:
    return _run("from poisonguard.cli import main\n"
                "buf = io.StringIO()\n"
                "with contextlib.redirect_stdout(buf):\n"
                f"    rc = main({list(args)!r})\n"
                "out = {'rc': rc, 'stdout': buf.getvalue()}")


def test_import_poisonguard_is_light():
    out = _run("import poisonguard\nfrom poisonguard import PoisonguardError, UsageError\nout = {}")
    assert out["heavy"] == []


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("--version",), ()], ids=["help", "h", "version", "none"])
def test_cli_start_imports_nothing_heavy(args):
    out = _run_main(*args)
    assert out["heavy"] == []
    assert out["rc"] == (2 if not args else 0)  # no subcommand: the usage, exit 2 (bad usage)


def test_help_lists_every_subcommand_from_the_table():
    out = _run_main("--help")
    for name, (_, short_help) in COMMANDS.items():
        assert name in out["stdout"]
        assert short_help.split()[0] in out["stdout"]


def test_version_is_the_package_version():
    import poisonguard

    out = _run_main("--version")
    assert out["stdout"].strip() == f"poisonguard, version {poisonguard.__version__}"


def test_unknown_command_is_a_usage_error_with_a_suggestion(capsys):
    from poisonguard.cli import main

    assert main(["scna"]) == 2
    err = capsys.readouterr().err
    assert "No such command 'scna'" in err and "Did you mean 'scan'?" in err


def test_completion_of_subcommand_names_imports_nothing_heavy():
    out = _run("import click\nfrom poisonguard.cli import cli\n"
               "items = cli.shell_complete(click.Context(cli), 'd')\n"
               "out = {'names': [i.value for i in items]}")
    assert out["names"] == ["detectors", "drift"]
    assert out["heavy"] == []


def test_every_table_entry_is_a_click_command_of_that_name():
    import click

    from poisonguard.cli import cli

    ctx = click.Context(cli)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert isinstance(cmd, click.Command), name
        assert cmd.name == name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_subcommand_help_loads_its_module_but_no_heavy_service_library(name):
    out = _run_main(name, "--help")
    assert out["rc"] == 0
    assert f"Usage: poisonguard {name}" in out["stdout"]
    assert not {"mlflow", "great_expectations", "dvc", "boto3"} & {m.split(".")[0] for m in out["heavy"]}


def test_python_dash_m_poisonguard():
    for args, rc in ((["--help"], 0), (["--version"], 0), (["no-such-command"], 2)):
        proc = subprocess.run([sys.executable, "-m", "poisonguard", *args], capture_output=True, text=True,
                              timeout=120, env=_env())
        assert proc.returncode == rc, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "poisonguard", "--help"], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert proc.stdout.startswith("Usage: poisonguard ")


def test_public_names_resolve_lazily_and_stay_the_functions():
    out = _run("import poisonguard\n"
               "before = [m for m in ('poisonguard.scan', 'poisonguard.gate') if m in sys.modules]\n"
               "from poisonguard.gate import Verdict\n"  # binds the submodule poisonguard.gate on the package
               "from poisonguard.scan import ScanResult\n"
               "out = {'before': before, 'scan': type(poisonguard.scan).__name__,\n"
               "       'gate': type(poisonguard.gate).__name__, 'same': poisonguard.Verdict is Verdict,\n"
               "       'dir': sorted(set(poisonguard.__all__) - set(dir(poisonguard)))}")
    assert out["before"] == []
    assert out["scan"] == out["gate"] == "function"
    assert out["same"] is True
    assert out["dir"] == []


def test_unknown_attribute_is_an_attribute_error():
    import poisonguard

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        poisonguard.nope  # noqa: B018


def _ten_row_scan(tmp_path: Path, *args: str) -> dict:
    data = tmp_path / "ten.csv"
    data.write_text(TEN_ROWS)
    out = _run_main("scan", str(data), "--label", "class", "--out", str(tmp_path / "out"), "--quiet", *args)
    assert out["rc"] == 0
    return out


def test_ten_row_scan_imports_no_plotting_or_service_library(tmp_path):
    out = _ten_row_scan(tmp_path)
    assert not {"matplotlib", "mlflow", "great_expectations", "dvc", "boto3", "botocore"} & {
        m.split(".")[0] for m in out["heavy"]}


@pytest.mark.parametrize("detector", ["label_flip", "duplicates", "sensitive_data"])
def test_ten_row_scan_without_a_forest_imports_no_sklearn_ensemble(tmp_path, detector):
    # on fewer than 40 rows boosting can make no split (the label model is the class frequencies);
    # only the outlier detector's isolation forest needs sklearn.ensemble
    out = _ten_row_scan(tmp_path, "--detectors", detector)
    assert not [m for m in out["heavy"] if m.startswith("sklearn.ensemble")]
