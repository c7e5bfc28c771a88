"""Every case of the shared bad-input corpus (``tests/bad_inputs/cases.py``), run in-process.

Each case asserts the exit contract: the expected exit code; for exit 2 exactly one non-empty
line on standard error that matches the case's pattern (what was wrong and what to do); no
traceback anywhere; every input file's SHA-256 unchanged; no temporary ``.*.tmp`` file left.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from bad_inputs.cases import CASES, DIR, LINK, Case

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _make(tmp: Path, case: Case) -> None:
    for name, spec in case.files.items():
        p = tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if spec is DIR:
            p.mkdir(exist_ok=True)
        elif isinstance(spec, LINK):
            os.symlink(spec.target, p)
        else:
            p.write_bytes(spec() if callable(spec) else spec)
    if case.setup is not None:
        case.setup(tmp)


def _digests(tmp: Path) -> dict[str, str]:
    """SHA-256 of every file below ``tmp`` (a link by its target's name, not followed)."""
    out = {}
    for p in sorted(tmp.rglob("*")):
        rel = p.relative_to(tmp).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            try:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            except OSError:
                out[rel] = "unreadable"
    return out


def test_corpus_is_large_and_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, cli):
    from poisonguard import _env

    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setattr(_env, "_shelved", None)
    _make(work, case)
    for k, v in case.env.items():  # after the set-up, which may create manifests
        monkeypatch.setenv(k, v)
    before = _digests(work)
    try:
        rc, out, err = cli(*case.argv)
    finally:
        for p in work.rglob("*"):  # give back what a case made unreadable, so tmp_path can be removed
            if not p.is_symlink():
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
    as_root = ROOT and case.root_exit is not None  # root reads and writes past file modes
    expected = case.root_exit if as_root else case.exit
    assert "Traceback" not in out + err
    assert rc == expected, f"exit {rc}, expected {expected}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    if expected == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, f"expected one line on stderr, got {lines}"
        assert case.match is None or re.search(case.match, lines[0]), lines[0]
    elif case.match and not as_root:
        assert re.search(case.match, out), out[-2000:]
    after = _digests(work)
    changed = [p for p, h in before.items() if after.get(p) != h and p not in case.modifies]
    assert not changed, f"inputs changed or removed: {changed}"
    stray = [p.relative_to(work).as_posix() for p in work.rglob(".*.tmp")]
    assert not stray, f"temporary files left: {stray}"
    if case.check is not None:
        case.check(work, out)


def test_malformed_source_date_epoch_is_refused_only_where_used(tmp_path):
    """In a fresh interpreter (numpy reads SOURCE_DATE_EPOCH when SciPy first imports it): every
    command starts; only ``manifest create``, which records the time, refuses the value."""
    import subprocess
    import sys

    (tmp_path / "a.csv").write_text("x,y\n1,a\n")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "abc"}
    code = "import sys; from poisonguard.cli import main; sys.exit(main(sys.argv[1:]))"
    runs = {args: subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True,
                                 text=True, timeout=300)
            for args in (("detectors",), ("manifest", "create", "a.csv", "--out", "m.json"))}
    detectors, create = runs.values()
    assert detectors.returncode == 0 and "Traceback" not in detectors.stderr, detectors.stderr
    assert create.returncode == 2 and "Traceback" not in create.stderr
    assert re.fullmatch(r"poisonguard: error: SOURCE_DATE_EPOCH must be a whole number.*\n", create.stderr)
    assert not (tmp_path / "m.json").exists()
