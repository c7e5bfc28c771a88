"""Golden files for the gate's Markdown, JUnit and SARIF reports and its text output.

Each case is a set of stage results under ``tests/golden/inputs/`` (written once by real scan,
validation, provenance and drift runs; ``@ROOT@`` stands for the folder they are copied to) and
the arguments of ``poisonguard gate``; its expected outputs live in ``tests/golden/<case>/``. The
reports are produced the way users produce them, through the CLI, so the test holds whatever the
renderers' internals become. Before comparing, the folder the case ran in becomes ``<ROOT>`` and
poisonguard's version ``<VERSION>``, so the files do not change with either.

A new case is a new entry in ``CASES`` (and, if it needs one, a new input file). After a deliberate
change of a report, rewrite the files and review the diff::

    pytest tests/test_report_golden.py --update-golden      # or POISONGUARD_UPDATE_GOLDEN=1
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import poisonguard

GOLDEN = Path(__file__).resolve().parent / "golden"
INPUTS = GOLDEN / "inputs"

#: case -> (stage results given to `poisonguard gate`, in order; a name without an input file is a
#: report that does not exist: a required stage that did not run)
CASES: dict[str, tuple[str, ...]] = {
    "all_stages": ("provenance.json", "validation.json", "scan.json", "drift.json"),
    # the same scan in schema 4.0 (scan.json is a 2.0 report, read through ScanResult._upgrade): the
    # reports say the same, only the file name differs
    "all_stages_scan_4": ("provenance.json", "validation.json", "scan_4.json", "drift.json"),
    "provenance_and_drift_pass": ("provenance.json", "drift.json"),
    "scan_missing": ("provenance.json", "validation.json", "scan.json.missing"),
}
#: output file -> `poisonguard gate --report` value
REPORTS = {"summary.md": "markdown", "junit.xml": "junit", "results.sarif": "sarif"}


def normalise(text: str, root: Path) -> str:
    """The case's folder as ``<ROOT>`` (plain, as a file URI, Markdown-escaped) and the package
    version as ``<VERSION>``."""
    for form in (root.as_uri(), str(root), str(root).replace("_", "\\_")):
        text = text.replace(form, "<ROOT>")
    return re.sub(rf"(?<![\w.]){re.escape(poisonguard.__version__)}(?![\w.])", "<VERSION>", text)


def _stage(root: Path, names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:
        src = INPUTS / name
        if src.is_file():
            (root / name).write_text(src.read_text(encoding="utf-8").replace("@ROOT@", str(root)), encoding="utf-8")
        out.append(name)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_gate_reports_match_golden_files(case, cli, tmp_path, monkeypatch, update_golden):
    root = tmp_path / "case"
    root.mkdir()
    monkeypatch.chdir(root)
    reports = _stage(root, CASES[case])
    args = ["gate", *reports, "--out-dir", "out", "--root", root]
    for value in REPORTS.values():
        args += ["--only", value]
    rc, out, err = cli(*args)
    assert "Traceback" not in err, err
    produced = {name: normalise((root / "out" / name).read_text(encoding="utf-8"), root) for name in REPORTS}
    produced["stdout.txt"] = normalise(f"exit code {rc}\n{out}", root)
    expected_dir = GOLDEN / case
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        expected_dir.mkdir(parents=True)
        for name, text in produced.items():
            (expected_dir / name).write_text(text, encoding="utf-8")
    missing = [name for name in produced if not (expected_dir / name).is_file()]
    assert not missing, f"no golden file {missing} for case {case!r}: run pytest {__file__} --update-golden"
    for name, text in produced.items():
        expected = (expected_dir / name).read_text(encoding="utf-8")
        assert text == expected, (f"{case}/{name} differs from its golden file; if the change is meant, "
                                  "rerun with --update-golden and review the diff")


def test_golden_dirs_are_cases_and_inputs_are_used():
    """No stale golden folder, no unused input file."""
    dirs = {p.name for p in GOLDEN.iterdir() if p.is_dir() and p.name != "inputs"}
    assert dirs == set(CASES), sorted(dirs ^ set(CASES))
    used = {name for names in CASES.values() for name in names}
    assert {p.name for p in INPUTS.iterdir()} <= used


def test_normalise_hides_root_and_version(tmp_path):
    root = tmp_path / "a_b"
    text = f"{root}/x {root.as_uri()}/y {str(root).replace('_', chr(92) + '_')}/z version {poisonguard.__version__}"
    assert normalise(text, root) == "<ROOT>/x <ROOT>/y <ROOT>/z version <VERSION>"
