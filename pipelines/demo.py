"""``make demo``: run the reference DVC pipeline and say what happened.

1. ``dvc repro`` runs ``dvc.yaml`` (prepare, provenance, validate, scan, train, drift, gate) with
   the parameters of ``params.yaml``; stages whose inputs did not change are skipped;
2. the gate's verdict (``reports/gate.json``) is printed, with the stages and what failed;
3. what was caught: the rows the attack poisoned against the rows the scan quarantined (the
   ``quality`` stage's ``metrics/quality.json``);
4. where the reports are, and how to see the MLflow runs.

Exits 0 when the pipeline ran, whatever the verdict; with DVC's exit code when it did not.
``--attack NAME`` (``make demo ATTACK=backdoor``; also ``flips``, ``new_source``, ``none``) runs
the pipeline as a DVC experiment with that attack instead (``dvc exp run -S prepare.attack=NAME``,
compare them with ``dvc exp show`` and ``dvc metrics diff``: every stage writes its figures to
``metrics/``). The stages call ``python`` and ``poisonguard`` from the
project's ``.venv``: to run DVC yourself, ``source .venv/bin/activate`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _caught() -> str | None:
    q = _read_json(ROOT / "metrics/quality.json")  # the `quality` stage: the attack's truth against the scan
    if "poisoned" not in q:
        return None
    n_poison, n_flag, hit = int(q["poisoned"]), int(q.get("quarantined", 0)), int(q.get("caught", 0))
    rows = int(_read_json(ROOT / "metrics/prepare.json").get("rows_incoming", 0))
    if n_poison == 0:
        if n_flag == 0:
            return f"no rows were poisoned, and the scan quarantined none of the {rows} rows"
        return (f"no rows were poisoned; the scan quarantined {n_flag} of {rows} rows "
                f"({n_flag / max(rows, 1):.1%}: natural label noise and outliers, kept aside, not deleted)")
    ap = f", average precision of the suspicion {q['average_precision']:.2f}" if "average_precision" in q else ""
    return (f"{hit} of the {n_poison} poisoned rows quarantined (recall {hit / n_poison:.0%}); "
            f"{n_flag} rows quarantined in all (precision {hit / max(n_flag, 1):.0%}){ap}")


ATTACKS = ("none", "flips", "backdoor", "new_source")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the reference DVC pipeline and print its verdict.")
    ap.add_argument("--attack", choices=ATTACKS, default=None,
                    help="run as a DVC experiment with this attack (dvc exp run -S prepare.attack=NAME)")
    args = ap.parse_args(argv)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"}
    if not (ROOT / ".dvc").is_dir():
        print("demo: no .dvc/ folder: run `make demo` in a clone of the repository (DVC needs git)", file=sys.stderr)
        return 2
    cmd = ["repro"] if args.attack is None else ["exp", "run", "-S", f"prepare.attack={args.attack}"]
    print(f"$ dvc {' '.join(cmd)}", flush=True)
    rc = subprocess.run([str(BIN / "dvc"), *cmd], cwd=ROOT, env=env).returncode
    if rc != 0:
        print(f"demo: the pipeline failed (dvc {cmd[0]} exit code {rc}); see the stage output above", file=sys.stderr)
        return rc

    gate = _read_json(ROOT / "reports/gate.json")
    prep = _read_json(ROOT / "reports/prepare.json")
    train = _read_json(ROOT / "reports/train.json")
    line = "=" * 78
    print(f"\n{line}")
    verdict = str(gate.get("verdict", "?")).upper()
    counts = gate.get("counts") or {}
    print(f"verdict: {verdict}  ({counts.get('checks', 0)} checks: {counts.get('failed', 0)} failed, "
          f"{counts.get('warnings', 0)} warnings)")
    for s in gate.get("stages") or []:
        print(f"  {s.get('stage', '?'):<11} {str(s.get('status', '?')).upper():<8} {s.get('summary', '')}"[:160])
    reasons = gate.get("reasons") or []
    for r in reasons[:6]:
        print(f"  FAILED {r}"[:200])
    if len(reasons) > 6:
        print(f"  ... and {len(reasons) - 6} more failed checks (reports/summary.md)")
    attack = prep.get("attack", "?")
    print(f"attack:  {attack} ({prep.get('n_poisoned', '?')} of {(prep.get('rows') or {}).get('incoming', '?')} "
          f"incoming rows poisoned; params.yaml prepare.attack)")
    caught = _caught()
    if caught:
        print(f"caught:  {caught}")
    print(f"reports: {ROOT / 'reports/report.html'}  (open it in a browser; works offline)")
    print("         reports/summary.md, reports/junit.xml, reports/results.sarif, reports/gate.json")
    run = train.get("run_id")
    print(f"MLflow:  make mlflow-ui  ->  http://127.0.0.1:5000{f'  (candidate run {run})' if run else ''}")
    print("try:     make demo ATTACK=backdoor   (or flips, new_source; compare: .venv/bin/dvc exp show, "
          "dvc metrics diff)")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
