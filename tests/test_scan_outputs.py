"""Issue 18, point 6: a scan's output files are replaced as one set (see poisonguard._outdir).

A ~200k-row scan is killed (SIGKILL, by its pid) at ten moments, most of them while it writes;
after each kill the folder holds either the previous complete set or the new one (report.json's
input and row counts match every file), or no report.json and a finished staging folder that the
next run moves in; never a mix. Two overlapping scans into one folder leave one run's complete
set. The folder's other files (the input itself among them) are never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poisonguard._outdir import STAGING_PREFIX, reading, recover

pytestmark = pytest.mark.slow

ROWS = {"a.csv": 200_000, "b.csv": 190_000}  # two inputs of different sizes: a mix shows in the counts
# a fast scan: the sensitive-data scanner has no text column to read, so the run is mostly loading
# and writing; rows with a missing label are quarantined, so every file of the set has rows
ARGS = ["scan", "--label", "label", "--detectors", "sensitive_data"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    out = {}
    for name, n in ROWS.items():
        rng = np.random.default_rng(n)
        frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "label": rng.choice(["u", "v"], n)})
        frame.loc[rng.choice(n, n // 100, replace=False), "label"] = None
        p = d / name
        frame.to_csv(p, index=False)
        out[name] = (p, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


class _Run:
    """A scan in a forked child (poisonguard already imported: no start-up cost), killable by pid."""

    def __init__(self, src: Path, out: Path) -> None:
        self.pid = os.fork()
        if self.pid == 0:  # the child: run the CLI and leave at once, whatever happens
            code = 3
            try:
                from poisonguard.cli import main

                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 1)
                    os.dup2(null.fileno(), 2)
                code = main([ARGS[0], str(src), *ARGS[1:], "--out", str(out)])
            finally:
                os._exit(code)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode


def _start(src: Path, out: Path) -> _Run:
    return _Run(src, out)


def _lines(p: Path) -> int:
    with open(p, "rb") as fh:
        return sum(1 for _ in fh) - 1


def _check(out: Path, inputs: dict) -> str | None:
    """The name of the input whose complete set ``out`` holds, or None (no report.json: then a
    finished staging folder must be there to move in). Raises on a mixed or partial set."""
    report = out / "report.json"
    if not report.exists():
        staged = [p for p in out.glob(STAGING_PREFIX + "*") if (p / ".complete").exists()]
        assert staged or not (out / "scores.csv").exists(), "scan files without report.json and nothing to finish"
        return None
    rep = json.loads(report.read_text())
    name = Path(rep["inputs"]["data"]["path"]).name
    n = ROWS[name]
    assert rep["inputs"]["data"]["sha256"] == inputs[name][1] and rep["n_rows"] == n
    files = {k: Path(v) for k, v in rep["outputs"].items()}
    assert {p.parent for p in files.values()} == {out}
    assert _lines(files["scores"]) == n
    assert _lines(files["quarantine"]) == rep["n_quarantined"] == n // 100
    assert _lines(files["clean"]) == n - rep["n_quarantined"]
    return name


def _user_files(out: Path, inputs: dict) -> dict[str, bytes]:
    (out / "notes.txt").write_text("the user's own file\n")
    (out / ".clean.csv.keep").write_text("hidden, but not one of ours\n")
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_killed_scans_leave_a_complete_set(tmp_path, inputs):
    out = tmp_path / "out"
    out.mkdir()
    src = {name: out / name for name in inputs}  # the inputs live in the output folder
    for name, (p, _) in inputs.items():
        src[name].write_bytes(p.read_bytes())
    user = _user_files(out, inputs)
    proc = _start(src["a.csv"], out)  # the previous complete output, and how long writing takes
    staged_at = None
    while proc.poll() is None:
        if staged_at is None and any(out.glob(STAGING_PREFIX + "*")):
            staged_at = time.monotonic()
        time.sleep(0.005)
    assert proc.returncode == 0
    assert staged_at is not None and _check(out, inputs) == "a.csv"
    write_time = time.monotonic() - staged_at
    seen = set()
    # one kill before writing starts, nine spread over the writing (and just past it)
    for i, offset in enumerate([None] + [write_time * k / 8 for k in range(9)]):
        name = "b.csv" if i % 2 == 0 else "a.csv"
        proc = _start(src[name], out)
        if offset is None:
            time.sleep(0.5)
        else:
            while proc.poll() is None and not any(out.glob(STAGING_PREFIX + "*")):
                time.sleep(0.002)
            time.sleep(offset)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() in (-signal.SIGKILL, 0)
        seen.add(_check(out, inputs))
        recover(out)  # what the next run does first, under its lock
        assert _check(out, inputs) in ("a.csv", "b.csv")
    assert "b.csv" in seen or "a.csv" in seen
    proc = _start(src["b.csv"], out)
    assert proc.wait() == 0
    assert _check(out, inputs) == "b.csv"
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("report.json", "scores.csv", "clean.csv", "quarantine.csv"):  # the usual mode, not 0600
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~mask, name
    left = sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.name not in user)
    assert left == [".poisonguard.lock"]  # no staging folder, no temporary left behind
    assert all((out / k).read_bytes() == v for k, v in user.items() if k not in ("report.json", "scores.csv",
                                                                              "clean.csv", "quarantine.csv"))


def test_overlapping_scans_leave_one_complete_set(tmp_path, inputs):
    out = tmp_path / "out"
    out.mkdir()
    user = _user_files(out, inputs)
    procs = [_start(inputs[name][0], out) for name in ("a.csv", "b.csv")]
    states = set()
    while any(p.poll() is None for p in procs):
        with reading(out):  # several files read as one set
            states.add(_check(out, inputs))
        time.sleep(0.02)
    assert [p.returncode for p in procs] == [0, 0]
    assert _check(out, inputs) in ("a.csv", "b.csv")
    assert not list(out.glob(STAGING_PREFIX + "*")) and not list(out.glob(".*.tmp"))
    assert all((out / k).read_bytes() == v for k, v in user.items())
