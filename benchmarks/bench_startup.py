"""Start-up: the fixed cost of the CLI (issue 15), median of N fresh interpreters per case.

Run by hand:  .venv/bin/python benchmarks/bench_startup.py [--runs 10]

Cases: ``poisonguard --help``, ``--version``, a scan of a 10-row file with every default detector
(banknote's first five rows of each class, so label-flip detection has two classes; ``--out`` a
fresh temporary folder), and the issue's own command, banknote's first ten rows (one class: the
scan refuses it, exit 2). For reading the numbers, the floor set by the dependencies: a bare
interpreter and ``import sklearn.base`` (scikit-learn imports SciPy's ``stats``, pandas and
pyarrow on its own; every detector is a scikit-learn estimator). Each run is the real CLI
(``python -m poisonguard``) in a subprocess; wall time is measured around it. Only the standard
library is imported here. Prints a Markdown table and the load average before and after.

Two columns: with a bytecode cache (as an installed package has: pip compiles ``.pyc`` files;
here they go to a temporary ``PYTHONPYCACHEPREFIX``, warmed by one discarded run) and without
(``PYTHONDONTWRITEBYTECODE=1`` and no cache: every run compiles poisonguard's sources, as in
a source checkout whose environment forbids writing ``__pycache__``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POISONGUARD_SHARED", ROOT.parent / "shared")) / "datasets"


def _ten_rows(folder: Path) -> tuple[Path, Path]:
    """banknote's first 5 rows of each class, and its first 10 rows (all of class 0)."""
    with gzip.open(SHARED / "banknote.csv.gz", "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    label = header.index("class")
    both = [r for r in body if r[label] == "0"][:5] + [r for r in body if r[label] == "1"][:5]
    out = []
    for name, chosen in (("ten_two_classes.csv", both), ("ten_head.csv", body[:10])):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *chosen])
        (folder / name).write_text(buf.getvalue())
        out.append(folder / name)
    return out[0], out[1]


def _time(cmd: list[str], env: dict[str, str], expect: int, runs: int, fresh_out: Path | None = None) -> list[float]:
    times = []
    for i in range(-1, runs):  # run -1 warms the caches and is not counted
        args = list(cmd)
        if fresh_out is not None:
            args += ["--out", str(fresh_out / f"run{i}")]
        t0 = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, env=env)
        if i >= 0:
            times.append(time.perf_counter() - t0)
        if proc.returncode != expect:
            raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}, expected {expect}\n{proc.stderr[-2000:]}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    base = dict(os.environ)
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "toolkit"), base.get("PYTHONPATH", "")) if p)
    base.pop("PYTHONPYCACHEPREFIX", None)
    nocache = {**base, "PYTHONDONTWRITEBYTECODE": "1"}
    py = sys.executable
    pg = [py, "-m", "poisonguard"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cached = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        two, head = _ten_rows(folder)
        cases = [
            ("python -c pass (interpreter)", [py, "-c", "pass"], 0, None),
            ("python -c 'import sklearn.base' (dependency floor of a scan)", [py, "-c", "import sklearn.base"], 0,
             None),
            ("poisonguard --help", [*pg, "--help"], 0, None),
            ("poisonguard --version", [*pg, "--version"], 0, None),
            ("poisonguard scan, 10 rows, 2 classes, all default detectors",
             [*pg, "scan", str(two), "--label", "class", "--quiet"], 0, folder / "two"),
            ("poisonguard scan, banknote's first 10 rows (one class: exit 2)",
             [*pg, "scan", str(head), "--label", "class", "--quiet"], 2, folder / "head"),
        ]
        rows = []
        for name, cmd, expect, out in cases:
            t = _time(cmd, cached, expect, args.runs, out and out / "cached")
            u = _time(cmd, nocache, expect, args.runs, out and out / "nocache")
            rows.append((name, statistics.median(t), min(t), max(t), statistics.median(u)))
    load_after = os.getloadavg()
    print(f"| case ({args.runs} runs each) | median s | min s | max s | median s, no bytecode cache |\n"
          "|---|---|---|---|---|")
    for name, med, lo, hi, med_u in rows:
        print(f"| {name} | {med:.3f} | {lo:.3f} | {hi:.3f} | {med_u:.3f} |")
    print(f"\nload average before: {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)}; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
