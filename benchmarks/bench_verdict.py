"""Batch verdicts: `poisonguard scan` on each shared dataset as it is, and with each attack.

Run by hand:  .venv/bin/python benchmarks/bench_verdict.py [--detectors label_flip] [--seeds 0] [--reference]

Expected: exit 0 ("clean") on every dataset as it is, exit 1 ("suspected") with every attack
applied. Prints a Markdown table of verdicts and the batch statistics behind them. By default the
scan runs the detectors ``poisonguard scan`` runs; ``--detectors label_flip`` looks at one alone.

``--reference``: the same attacks on a batch vetted against a trusted version — a stratified 60 %
of the dataset is the trusted base, the other 40 % the batch ("as is" or attacked), scanned with
``scan(batch, reference=trusted)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ANCHOR_SHARED, SHARED, SHARED_DATASETS, markdown_table, timed  # noqa: E402

from poisonguard import scan  # noqa: E402
from poisonguard.attacks import poison  # noqa: E402
from poisonguard.data import TabularDataset, load_dataset  # noqa: E402

ATTACKS = {"random_flip": {"rate": 0.1}, "class_flip": {"rate": 0.2}, "boundary_flip": {"rate": 0.1}}
DATASETS = {k: SHARED_DATASETS[k] for k in (*ANCHOR_SHARED, "adult-test")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", nargs="+", default=None, help="default: the scan's default detectors")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--reference", action="store_true", help="scan a 40 %% batch against the other 60 %% (trusted)")
    args = ap.parse_args()
    rows = []
    for name in args.datasets:
        file, label = DATASETS[name]
        full = load_dataset(SHARED / file, label=label)
        row = {"dataset": name, "rows": full.n_rows}
        for seed in args.seeds:
            ds, trusted = full, None
            if args.reference:
                from sklearn.model_selection import train_test_split

                tr, new = train_test_split(full.frame, test_size=0.4, stratify=full.frame[label], random_state=seed)
                ds = TabularDataset.from_frame(new.reset_index(drop=True), label=label)
                trusted = tr.reset_index(drop=True)
            cases = [("as is", ds.frame, None)]
            for attack, p in ATTACKS.items():
                res = poison(ds, attack, seed=seed, **p)
                cases.append((attack, res.frame, res.mask))
            for case, frame, _mask in cases:
                result, secs = timed(lambda frame=frame: scan(frame, label=label, detectors=args.detectors, seed=seed,
                                                              reference=trusted))
                want = 0 if case == "as is" else 1
                ok = "ok" if result.return_code == want else "WRONG"
                key = case if len(args.seeds) == 1 else f"{case} s{seed}"
                row[key] = f"{result.return_code} {ok}"
                lf = next((d for d in result.detectors if d.name == "label_flip"), None)
                stats = (lf.section or {}).get("batch", {}) if lf else {}  # inductive (reference): no batch stats
                print(f"{name:12s} {key:16s} exit {result.return_code} ({ok}) {secs:5.1f}s "
                      f"floor {stats.get('top_decile_disagreement', float('nan')):.3f} "
                      f"conf {stats.get('top_decile_confidence', float('nan')):.3f} "
                      f"noise {stats.get('estimated_noise_rate', float('nan')):.3f} | {'; '.join(result.reasons)[:160]}",
                      file=sys.stderr, flush=True)
        rows.append(row)
    cols = ["dataset", "rows", *[k for k in rows[0] if k not in ("dataset", "rows")]]
    print(markdown_table(rows, cols))
    wrong = sum(str(v).endswith("WRONG") for r in rows for v in r.values())
    total = sum(1 for r in rows for k in r if k not in ("dataset", "rows"))
    print(f"\n{total - wrong} of {total} verdicts right")


if __name__ == "__main__":
    main()
