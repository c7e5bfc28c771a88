"""Stage ``prepare`` of the reference pipeline: the demo's data supply, with an attack injected.

From the embedded demo data (``data/adult.csv.gz``) it draws, with one seeded permutation,
three disjoint sets (sizes in ``params.yaml``, section ``prepare``):

``trusted.csv``
    the trusted base: data already accepted, which the validation suite is inferred from and
    the champion model is trained on;
``canary.csv``
    the canary set: trusted, labelled, never trained on; every model is evaluated on it;
``incoming.csv``
    the incoming batch that the pipeline must vet, poisoned as ``prepare.attack`` says.

It also writes ``truth.csv`` (``row,poisoned``: which incoming rows the attack touched, for the
demo's "what was caught"), and plays the data supplier: it signs a manifest of the three files
(``manifest.json``, Ed25519) and leaves its public key in ``keys/supplier.pub``. **Demo only**:
in real use the supplier signs with its own secret key and you commit only its public key. Here
the key is derived from ``prepare.seed`` and the manifest's time is fixed, so that the same
parameters give the same bytes on every run and machine (``data/prepared`` keeps its hash in
``dvc.lock``). A key anyone can derive proves nothing outside the demo; it is never written to disk.

Attacks (``prepare.attack``):

``none``
    the batch as drawn;
``flips``
    label flips in the batch (``poisonguard.attacks``: ``prepare.flips.attack``, default
    ``random_flip``, at ``prepare.flips.rate``) -- the scan's label-flip detector should catch it;
``backdoor``
    a backdoor trigger stamped on rows of the majority class, relabelled to the minority class
    (``poisonguard.attacks.backdoor`` at ``prepare.backdoor.rate``) -- the backdoor detector
    should catch it;
``new_source``
    rows from a source nobody vetted are appended to the batch *after* the supplier signed it
    (``prepare.new_source.rate`` of the batch's rows, drawn from the unused pool of the demo data
    and labelled by a crude rule) -- provenance should catch it (the signed digest no longer
    matches).

Outputs: ``--out`` (default ``data/prepared``), ``--summary`` (default ``reports/prepare.json``:
attack, its details, rows, rows poisoned, the supplier's key id) and ``--metrics`` (default
``metrics/prepare.json``, the DVC metrics file: rows of each set and rows poisoned, flat).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from poisonguard._io import atomic_open, atomic_write_json
from poisonguard.attacks import poison
from poisonguard.data import TabularDataset, load_dataset, write_frame
from poisonguard.provenance import create_manifest, write_public_key

ATTACKS = ("none", "flips", "backdoor", "new_source")
#: The time recorded in the demo supplier's manifest (fixed: see the module docstring).
DEMO_DELIVERY_TIME = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def demo_supplier_key(seed: int) -> Ed25519PrivateKey:
    """The demo supplier's signing key, derived from the seed. Demo only: anyone can derive it."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"poisonguard demo supplier {seed}".encode()).digest())



def _section(params_path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(params_path.read_text(encoding="utf-8")) or {}
    sec = doc.get("prepare") or {}
    if not isinstance(sec, dict):
        sys.exit(f"prepare: {params_path}: section 'prepare' must be a mapping")
    return sec


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    write_frame(frame, path, "csv")


def _new_source_rows(pool: pd.DataFrame, n: int, label: str, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows of the unused pool, labelled the way an unvetted scraper might: by working hours."""
    rows = pool.iloc[rng.choice(len(pool), size=min(n, len(pool)), replace=False)].copy()
    classes = sorted(pool[label].dropna().unique().tolist())
    low, high = classes[0], classes[-1]
    rows[label] = np.where(pd.to_numeric(rows["hours_per_week"], errors="coerce") >= 45, high, low)
    return rows.reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("data/prepared"))
    ap.add_argument("--summary", type=Path, default=Path("reports/prepare.json"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics/prepare.json"))
    args = ap.parse_args(argv)

    p = _section(args.params)
    attack = str(p.get("attack", "none"))
    if attack not in ATTACKS:
        sys.exit(f"prepare: prepare.attack must be one of {', '.join(ATTACKS)}; got {attack!r}")
    label = str(p.get("label", "income"))
    seed = int(p.get("seed", 0))
    sizes = {k: int(v) for k, v in (p.get("rows") or {}).items()}
    n_trusted, n_incoming, n_canary = sizes.get("trusted", 12000), sizes.get("incoming", 6000), sizes.get("canary", 3000)

    ds = load_dataset(p.get("data", "data/adult.csv.gz"), label=label)
    frame = ds.frame
    if n_trusted + n_incoming + n_canary > len(frame):
        sys.exit(f"prepare: {n_trusted} + {n_incoming} + {n_canary} rows asked, the data have {len(frame)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    cut1, cut2 = n_trusted, n_trusted + n_canary
    trusted = frame.iloc[order[:cut1]].reset_index(drop=True)
    canary = frame.iloc[order[cut1:cut2]].reset_index(drop=True)
    incoming = frame.iloc[order[cut2:cut2 + n_incoming]].reset_index(drop=True)
    pool = frame.iloc[order[cut2 + n_incoming:]].reset_index(drop=True)

    truth = np.zeros(len(incoming), dtype=bool)
    details: dict[str, Any] = {}
    if attack in ("flips", "backdoor"):
        opts = dict(p.get(attack) or {})
        name = str(opts.pop("attack", "random_flip" if attack == "flips" else "backdoor"))
        opts.setdefault("seed", seed)
        res = poison(TabularDataset.from_frame(incoming, label=label, kinds=ds.kinds), name, **opts)
        incoming, truth, details = res.frame, np.asarray(res.mask, dtype=bool), {"attack": name, **res.params}

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"{k}.csv" for k in ("trusted", "canary", "incoming")}
    _write_csv(trusted, paths["trusted"])
    _write_csv(canary, paths["canary"])
    _write_csv(incoming, paths["incoming"])

    # the supplier signs what it delivers (a demo-only key derived from the seed, see the module docstring)
    supplier = demo_supplier_key(seed)
    keyid = write_public_key(supplier.public_key(), out / "keys" / "supplier.pub")
    signed = create_manifest([str(v) for v in paths.values()], out / "manifest.json", key=supplier,
                             base_dir=Path.cwd(), created=DEMO_DELIVERY_TIME)
    if signed.return_code != 0:
        print(signed, file=sys.stderr)
        return 2

    if attack == "new_source":  # tampering after signing: rows from an unvetted source appended
        rate = float((p.get("new_source") or {}).get("rate", 0.1))
        extra = _new_source_rows(pool, max(1, round(rate * len(incoming))), label, rng)
        incoming = pd.concat([incoming, extra], ignore_index=True)
        truth = np.concatenate([truth, np.ones(len(extra), dtype=bool)])
        _write_csv(incoming, paths["incoming"])
        details = {"attack": "new_source", "rate": rate, "rows_appended": len(extra),
                   "labelled_by": "hours_per_week >= 45"}

    with atomic_open(out / "truth.csv", "w", newline="") as fh:
        pd.DataFrame({"row": np.arange(len(truth)), "poisoned": truth.astype(int)}).to_csv(
            fh, index=False, lineterminator="\n")
    summary = {"attack": attack, "details": details, "seed": seed, "rows": {
        "trusted": len(trusted), "canary": len(canary), "incoming": len(incoming)},
        "n_poisoned": int(truth.sum()), "poisoned_share": round(float(truth.mean()) if len(truth) else 0.0, 6),
        "supplier_keyid": keyid}
    atomic_write_json(args.summary, summary)
    atomic_write_json(args.metrics, {"poisoned": summary["n_poisoned"], "poisoned_share": summary["poisoned_share"],
                                     **{f"rows_{k}": v for k, v in summary["rows"].items()}})
    print(f"prepare: trusted {len(trusted)}, canary {len(canary)}, incoming {len(incoming)} rows; "
          f"attack {attack}: {int(truth.sum())} rows poisoned; signed manifest {out / 'manifest.json'}")
    if details:
        print(f"prepare: {json.dumps(details, default=str)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
