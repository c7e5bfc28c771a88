"""Batch verdicts: `poisonguard scan` on each dataset as it is, and with each attack.

Run by hand:

    .venv/bin/python benchmarks/bench_verdict.py [--detectors label_flip] [--seeds 0] [--reference]
    .venv/bin/python benchmarks/bench_verdict.py --datasets shared --attacks families --reference --jobs 2

Expected: exit 0 ("clean") on every dataset as it is, exit 1 ("suspected") with an attack
applied. Prints a Markdown table of verdicts and the batch statistics behind them. By default the
scan runs the detectors ``poisonguard scan`` runs; ``--detectors label_flip`` looks at one alone.

``--attacks``: ``issue2`` (default) — issue 2's milder label attacks (10 % random flips, 20 % of
one class flipped, 10 % boundary flips); ``families`` — the six attack families of
../shared/ANCHOR-RESULTS.md at its rates (``bench_defence.ATTACKS``); or attack names.

``--reference``: the same attacks on a batch vetted against a trusted version — a stratified 60 %
of the dataset is the trusted base, the other 40 % the batch ("as is" or attacked), scanned with
``scan(batch, reference=trusted)``. Each attacked cell then also shows the AP of an oracle —
gradient boosting fitted on the trusted base, scoring each batch row by how unlikely it finds the
row's label (``bench_reference.oracle_f1``) — and issue 14's bar applies: exit 1 is *required*
where that AP is >= 0.5; a miss where it is lower is shown as ``0 miss`` and not counted wrong.
Without a reference, exit 1 is required under random flips and expected under the others.

``--datasets``: names, ``shared`` (the twelve in ../shared/datasets/), or ``all`` (those and
scikit-learn's four); default: the five anchor datasets and adult-test.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ANCHOR_SHARED, SHARED_DATASETS, dataset_names, load_frame, markdown_table, timed  # noqa: E402

ISSUE2 = {"random_flip": ("random_flip", {"rate": 0.1}), "class_flip": ("class_flip", {"rate": 0.2}),
          "boundary_flip": ("boundary_flip", {"rate": 0.1})}
DEFAULT_DATASETS = (*ANCHOR_SHARED, "adult-test")
ORACLE_AP_BAR = 0.5


def attack_table(which: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    from bench_defence import ATTACKS as FAMILIES

    if which == ["issue2"]:
        return dict(ISSUE2)
    fam = {k: v for k, v in FAMILIES.items() if v is not None}
    if which == ["families"]:
        return fam
    table = {**fam, **ISSUE2}
    bad = [a for a in which if a not in table]
    if bad:
        raise SystemExit(f"unknown attack(s) {bad}; choose issue2, families, or from {sorted(table)}")
    return {a: table[a] for a in which}


def run_case(name: str, seed: int, case: str, attack: tuple[str, dict[str, Any]] | None, reference: bool,
             detectors: list[str] | None) -> dict[str, Any]:
    """One scan: dataset ``name`` (its 40 % batch against the 60 % with ``reference``), attacked or not."""
    from poisonguard import scan
    from poisonguard.attacks import poison
    from poisonguard.data import TabularDataset

    frame, label = load_frame(name)
    trusted = None
    if reference:
        from bench_reference import split_60_40

        trusted, frame = split_60_40(frame, label, seed)
    ds = TabularDataset.from_frame(frame, label=label)
    mask = None
    if attack is not None:
        kind, params = attack
        try:
            res = poison(ds, kind, seed=seed, **params)
        except Exception as exc:  # an attack a dataset cannot take (backdoor: two numeric features)
            return {"dataset": name, "seed": seed, "case": case, "skipped": str(exc).splitlines()[0][:80]}
        frame, mask = res.frame, res.mask
    result, secs = timed(lambda: scan(frame, label=label, detectors=detectors, seed=seed, reference=trusted))
    out: dict[str, Any] = {"dataset": name, "seed": seed, "case": case, "exit": result.return_code, "secs": secs,
                           "reasons": "; ".join(result.reasons)[:200]}
    if reference and mask is not None and mask.any():
        from bench_reference import oracle_f1

        out["oracle_ap"] = oracle_f1(trusted, frame, label, mask, seed)[1]
    return out


def verdict(r: dict[str, Any], reference: bool) -> tuple[str, bool | None]:
    """Cell text and whether it counts (True right, False wrong, None not required)."""
    if "skipped" in r:
        return "skip", None
    code = r["exit"]
    if r["case"] == "as is":
        return f"{code} {'ok' if code == 0 else 'WRONG'}", code == 0
    if reference:
        required = r.get("oracle_ap", 0.0) >= ORACLE_AP_BAR
        tag = f" (oracle AP {r['oracle_ap']:.2f})" if "oracle_ap" in r else ""
    else:
        required = r["case"] == "random_flip"
        tag = ""
    if code == 1:
        return f"1 ok{tag}", True if required else None
    return (f"{code} WRONG{tag}", False) if required else (f"{code} miss{tag}", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", nargs="+", default=None, help="default: the scan's default detectors")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS), help="names, 'shared' or 'all'")
    ap.add_argument("--attacks", nargs="+", default=["issue2"], help="issue2 (default), families, or attack names")
    ap.add_argument("--reference", action="store_true", help="scan a 40 %% batch against the other 60 %% (trusted)")
    ap.add_argument("--jobs", type=int, default=1, help="cases run in this many processes")
    args = ap.parse_args()
    names = [m for n in args.datasets for m in (SHARED_DATASETS if n == "shared" else dataset_names([n]))]
    attacks = attack_table(args.attacks)
    jobs = [(name, seed, case, attacks.get(case), args.reference, args.detectors)
            for name in dict.fromkeys(names) for seed in args.seeds for case in ("as is", *attacks)]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_case, *zip(*jobs)))
    else:
        results = [run_case(*j) for j in jobs]
    table: dict[str, dict[str, Any]] = {}
    counted = right = 0
    for r in results:
        text, ok = verdict(r, args.reference)
        key = r["case"] if len(args.seeds) == 1 else f"{r['case']} s{r['seed']}"
        table.setdefault(r["dataset"], {"dataset": r["dataset"]})[key] = text
        if ok is not None:
            counted += 1
            right += bool(ok)
        print(f"{r['dataset']:24s} {key:16s} {text:28s} {r.get('secs', 0.0):5.1f}s | "
              f"{r.get('reasons', r.get('skipped', ''))[:150]}", file=sys.stderr, flush=True)
    rows = list(table.values())
    cols = ["dataset", *dict.fromkeys(k for row in rows for k in row if k != "dataset")]
    print(markdown_table(rows, cols))
    print(f"\n{right} of {counted} required verdicts right "
          f"({'exit 1 required where the oracle AP >= 0.5' if args.reference else 'exit 1 required under random flips'};"
          f" 'miss' = exit 0 where not required)")


if __name__ == "__main__":
    main()
