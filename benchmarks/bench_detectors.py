"""Outlier, backdoor-trigger, duplicate and sensitive-data detectors (issue 3), run by hand.

    .venv/bin/python benchmarks/bench_detectors.py                 # quality + clean-data rates
    .venv/bin/python benchmarks/bench_detectors.py --scale         # + 1,000,000 x 20 default scan
    .venv/bin/python benchmarks/bench_detectors.py --only pii      # one part (outliers, backdoor,
                                                                   # duplicates, pii, clean, scale)

Protocol as in ../shared/ANCHOR-RESULTS.md (``_common.py``): a stratified 70 % of each dataset,
the attack from ``poisonguard.attacks`` applied to it, scores judged against the truth mask.

* **outliers** (2 % of rows, half their numeric features shifted 6-10 sd, random label):
  poisonguard's ``outliers`` detector vs PyOD's IForest, ECOD and LOF (default parameters) on the
  *same* shared encoding, in the same run. PyOD is a benchmark dependency only.
* **backdoor** (3 % of rows of other classes, 2 numeric features set to the 99.5th percentile
  + 3 sd, label = least frequent class): AP, F1, and whether a suspected rule names exactly the
  trigger's features and target.
* **dup_conflict** (5 % of rows copied with another label, copies appended): recall of the copies.
* **pii**: a generated corpus with planted values of every kind among decoys; precision and
  recall per kind; then a full scan with ``--out-dir`` and a search of every output file for every
  raw planted value.
* **clean**: the default scan's detectors of this issue on every shared dataset file, untouched:
  rows flagged by outliers or backdoor (the ≤ 2 % budget), duplicates flagged, batch verdicts.
* **scale** (``--scale``): the full default scan (every default detector) of 1,000,000 rows x 20
  features (16 numeric, 4 categorical, binary label), per-detector seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ANCHOR_SHARED,
    SHARED,
    SHARED_DATASETS,
    ap_f1,
    attacked_splits,
    iter_datasets,
    markdown_table,
    single_thread_note,
    timed,
)

from poisonguard.data import TabularDataset, load_dataset  # noqa: E402
from poisonguard.detectors import (  # noqa: E402
    BackdoorTriggerDetector,
    DuplicateDetector,
    OutlierEnsemble,
    SensitiveDataScanner,
)


# ----------------------------------------------------------------------------------- outliers
def run_pyod(name: str, X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.lof import LOF

    model = {"pyod-iforest": lambda: IForest(random_state=seed), "pyod-ecod": ECOD, "pyod-lof": LOF}[name]()
    model.fit(X)
    return model.decision_scores_, model.labels_ == 1


def bench_outliers(datasets: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    rows = []
    for name, seed, res in attacked_splits(datasets, seeds, "outliers"):
        ds = res.dataset
        (X, secs_enc) = timed(ds.encode)

        def ours(ds: TabularDataset = ds, X: np.ndarray = X) -> OutlierEnsemble:
            return OutlierEnsemble(random_state=seed).scan_fit(ds, X, None)

        det, secs = timed(ours)
        a, f = ap_f1(res.mask, det.raw_scores_, det.labels_ == -1)
        rows.append({"dataset": name, "seed": seed, "method": "poisonguard", "ap": a, "f1": f,
                     "seconds": secs + secs_enc})
        for m in ("pyod-iforest", "pyod-ecod", "pyod-lof"):
            (scores, flags), s = timed(lambda m=m: run_pyod(m, X, seed))
            a, f = ap_f1(res.mask, scores, flags)
            rows.append({"dataset": name, "seed": seed, "method": m, "ap": a, "f1": f, "seconds": s + secs_enc})
        log(f"outliers {name} s{seed}: " + ", ".join(f"{r['method']} {r['ap']:.3f}" for r in rows[-4:]))
    return rows


# ----------------------------------------------------------------------------------- backdoor
def bench_backdoor(datasets: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    rows = []
    for name, seed, res in attacked_splits(datasets, seeds, "backdoor"):
        ds = res.dataset

        def ours(ds: TabularDataset = ds) -> BackdoorTriggerDetector:
            return BackdoorTriggerDetector(random_state=seed).scan_fit(ds, ds.encode(), ds.label_codes())

        det, secs = timed(ours)
        a, f = ap_f1(res.mask, det.raw_scores_, det.labels_ == -1)
        truth = (sorted(res.params["features"]), str(res.params["target"]))
        named = any((sorted(r.columns), str(r.target)) == truth for r in det.triggers_)
        top = det.triggers_[0].text() if det.triggers_ else "-"
        rows.append({"dataset": name, "seed": seed, "ap": a, "f1": f, "named": named, "seconds": secs,
                     "rule": top, "truth": f"{' & '.join(truth[0])} -> {truth[1]}"})
        log(f"backdoor {name} s{seed}: AP {a:.3f} F1 {f:.3f} named {named}: {top}")
    return rows


# ----------------------------------------------------------------------------------- duplicates
def bench_duplicates(datasets: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    rows = []
    for name, seed, res in attacked_splits(datasets, seeds, "dup_conflict"):
        ds = res.dataset
        det, secs = timed(lambda ds=ds: DuplicateDetector(random_state=seed).scan_fit(ds, ds.encode(), None))
        flags = det.labels_ == -1
        a, f = ap_f1(res.mask, det.raw_scores_, flags)
        rows.append({"dataset": name, "seed": seed, "recall": float(flags[res.mask].mean()),
                     "precision": float(res.mask[flags].mean()) if flags.any() else 0.0, "ap": a, "f1": f,
                     "suspected": det.batch_finding(ds)[0], "seconds": secs})
        log(f"dup_conflict {name} s{seed}: recall {rows[-1]['recall']:.3f} precision {rows[-1]['precision']:.3f}")
    return rows


# ----------------------------------------------------------------------------------- sensitive data
def _luhn_complete(prefix: str, length: int, rng: np.random.Generator) -> str:
    body = prefix + "".join(rng.choice(list(string.digits), size=length - len(prefix) - 1))
    for d in string.digits:
        cand = body + d
        total = 0
        for i, ch in enumerate(reversed(cand)):
            x = int(ch) * (2 if i % 2 else 1)
            total += x - 9 if x > 9 else x
        if total % 10 == 0:
            return cand
    raise AssertionError


def _iban(country: str, length: int, rng: np.random.Generator) -> str:
    bban = "".join(rng.choice(list(string.digits), size=length - 4))
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - num % 97:02d}{bban}"


def make_corpus(n_rows: int = 4000, rate: float = 0.25, seed: int = 0) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
    """A table with a free-text column, a contact column, a numeric feature and a label; ``rate`` of
    the rows carry a planted sensitive value (truth: row, column, kind, raw value), every row
    carries decoys (dates, times, order numbers, hashes, UUIDs, prices, versions, ISBNs)."""
    rng = np.random.default_rng(seed)
    letters = string.ascii_lowercase
    b64 = string.ascii_letters + string.digits + "/+"

    def word(k: int = 6) -> str:
        return "".join(rng.choice(list(letters), size=k))

    def planted(kind: str) -> str:
        d = lambda k: "".join(rng.choice(list(string.digits), size=k))  # noqa: E731
        if kind == "email":
            return f"{word(5)}.{word(4)}@{word(7)}.{rng.choice(['com', 'org', 'de', 'io'])}"
        if kind == "phone":
            return str(rng.choice([f"+1 ({rng.integers(200, 999)}) {d(3)}-{d(4)}", f"{rng.integers(200, 999)}-{d(3)}-{d(4)}",
                                   f"+44 20 {d(4)} {d(4)}", f"+49 30 {d(8)}", f"0{d(2)} {d(4)} {d(4)}"]))
        if kind == "card":
            num = _luhn_complete(str(rng.choice(["4", "51", "55", "37", "6011"])), 16, rng)
            return " ".join(num[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else num
        if kind == "iban":
            c, n = [("DE", 22), ("FR", 27), ("GB", 22), ("NL", 18), ("ES", 24)][rng.integers(0, 5)]
            if c in ("GB", "NL"):
                bank = "".join(rng.choice(list(string.ascii_uppercase), size=4))
                bban = bank + "".join(rng.choice(list(string.digits), size=n - 8))
                num = int("".join(str(int(ch, 36)) for ch in bban + c + "00"))
                return f"{c}{98 - num % 97:02d}{bban}"
            return _iban(c, n, rng)
        if kind == "ssn":
            return f"{rng.integers(1, 665):03d}-{rng.integers(1, 99):02d}-{rng.integers(1, 9999):04d}"
        if kind == "ip":
            if rng.random() < 0.8:
                return ".".join(str(x) for x in rng.integers(1, 255, size=4))
            return ":".join(f"{x:x}" for x in rng.integers(1, 65535, size=8))
        if kind == "aws_key_id":
            return "AKIA" + "".join(rng.choice(list(string.ascii_uppercase + "234567"), size=16))
        if kind == "aws_secret":
            while True:
                s = "".join(rng.choice(list(b64), size=40))
                if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
                    return s
        if kind == "private_key":
            body = "\n".join("".join(rng.choice(list(b64), size=64)) for _ in range(4))
            return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
        if kind == "credential":
            return "ghp_" + "".join(rng.choice(list(string.ascii_letters + string.digits), size=36))
        raise KeyError(kind)

    def decoy() -> str:
        d = lambda k: "".join(rng.choice(list(string.digits), size=k))  # noqa: E731
        return str(rng.choice([
            f"on 20{d(2)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)} at 1{rng.integers(0, 9)}:{d(2)}:{d(2)}",
            f"order ORD-{d(8)} total ${rng.integers(1, 999)}.{d(2)}", f"invoice {d(16)}",
            f"sha1 {''.join(rng.choice(list('0123456789abcdef'), size=40))}",
            f"id {''.join(rng.choice(list('0123456789abcdef'), size=8))}-{d(4)}-{d(4)}-{d(4)}-{d(12)}",
            f"version {rng.integers(1, 9)}.{rng.integers(0, 20)}.{rng.integers(0, 20)}", f"ISBN 978-{d(1)}-{d(3)}-{d(5)}-{d(1)}",
            f"zip {d(5)}, {rng.integers(1, 99)} % off", f"{word()} {word(4)} {word(8)}", f"ref {d(9)}",
        ]))

    kinds = ["email", "phone", "card", "iban", "ssn", "ip", "aws_key_id", "aws_secret", "private_key", "credential"]
    notes, contacts, truth = [], [], []
    for r in range(n_rows):
        note = f"{word()} {decoy()} {word(5)}"
        contact = str(rng.choice(["n/a", "unknown", word(7)]))
        if rng.random() < rate:
            kind = kinds[rng.integers(0, len(kinds))]
            value = planted(kind)
            if kind in ("email", "phone") and rng.random() < 0.5:
                contact = value
                truth.append((r, "contact", kind, value))
            else:
                prefix = {"credential": "token ", "aws_secret": "secret "}.get(kind, "")
                note = f"{word()} {prefix}{value} {decoy()}"
                truth.append((r, "notes", kind, value))
        notes.append(note)
        contacts.append(contact)
    frame = pd.DataFrame({"notes": notes, "contact": contacts, "amount": rng.normal(100, 20, n_rows).round(2),
                          "label": rng.choice(["a", "b"], n_rows)})
    return frame, truth


def leaked(value: str, text: str) -> bool:
    """Whether a raw value (or, for a multi-line value, any of its lines) appears in ``text``."""
    body = [line for line in value.split("\n")[1:] if len(line) >= 16 and not line.startswith("-----")]
    return value in text or any(line in text for line in body)


def bench_pii(n_rows: int = 4000, seed: int = 0) -> dict[str, Any]:
    from poisonguard.detectors import BaseDetector
    from poisonguard.scan import scan

    frame, truth = make_corpus(n_rows, seed=seed)
    ds = TabularDataset.from_frame(frame, label="label")
    det, secs = timed(lambda: SensitiveDataScanner().scan_fit(ds, ds.encode(), None))
    want = {(r, c, k) for r, c, k, _ in truth}
    got = {(f.row, f.column, f.kind) for f in det.findings_}
    per_kind = []
    for k in sorted({k for _, _, k in want}):
        w = {x for x in want if x[2] == k}
        g = {x for x in got if x[2] == k}
        per_kind.append({"kind": k, "planted": len(w), "found": len(g), "precision": len(w & g) / max(1, len(g)),
                         "recall": len(w & g) / max(1, len(w))})
    overall = {"precision": len(want & got) / max(1, len(got)), "recall": len(want & got) / max(1, len(want)),
               "planted": len(want), "found": len(got), "seconds": secs}
    # every output file of a full scan, searched for every raw planted value
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "corpus.csv"
        frame.to_csv(src, index=False)
        out = Path(tmp) / "out"
        scan(src, label="label", detectors=["outliers", "backdoor", "duplicates", "sensitive_data"], out=out, seed=0)
        leaks = {}
        raw = [v for *_, v in truth]
        for p in sorted(out.iterdir()):
            text = p.read_text(errors="replace") if p.suffix != ".gz" else ""
            leaks[p.name] = sum(1 for v in raw if leaked(v, text))
        # what the clean/quarantine files hold once redacted (SensitiveDataScanner.redact)
        redacted = det.redact(ds.frame).to_csv(index=False)
        leaks["(input redacted by SensitiveDataScanner.redact)"] = sum(1 for v in raw if leaked(v, redacted))
        overall["scan_redacts_outputs"] = hasattr(BaseDetector, "redact")
    overall["leaks"] = leaks
    log(f"pii: precision {overall['precision']:.3f} recall {overall['recall']:.3f} leaks {leaks}")
    return {"per_kind": per_kind, "overall": overall}


# ----------------------------------------------------------------------------------- clean data
CLEAN_FILES = {k: SHARED_DATASETS[k] for k in (*ANCHOR_SHARED, "adult-test")}


def bench_clean() -> list[dict[str, Any]]:
    from poisonguard.scan import scan

    rows = []
    for name, (file, label) in CLEAN_FILES.items():
        path = SHARED / file
        if not path.exists():
            continue
        res, secs = timed(lambda path=path, label=label: scan(
            path, label=label, detectors=["outliers", "backdoor", "duplicates", "sensitive_data"], seed=0))
        sc = res.scores
        assert sc is not None
        out_f = sc["outliers"].to_numpy() > 0.5
        bd_f = sc["backdoor"].to_numpy() > 0.5
        dup_f = sc["duplicates"].to_numpy() > 0.5
        n = len(sc)
        rows.append({"dataset": name, "rows": n, "outliers %": 100 * out_f.mean(), "backdoor %": 100 * bd_f.mean(),
                     "outliers+backdoor %": 100 * (out_f | bd_f).mean(), "duplicates flagged": int(dup_f.sum()),
                     "sensitive findings": next(d.section.get("n_findings", 0) for d in res.detectors
                                                if d.name == "sensitive_data"),
                     "verdict": res.verdict, "reasons": "; ".join(res.reasons) or "-", "seconds": secs})
        log(f"clean {name}: {rows[-1]}")
    return rows


# ----------------------------------------------------------------------------------- scale
def make_scale_frame(n: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 16))
    X[:, 12] = np.exp(X[:, 12])                      # a skewed column
    X[:, 13] = np.round(np.abs(X[:, 13]) * 10)       # a discrete one
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(16)])
    for j, k in enumerate((3, 8, 20, 50)):
        frame[f"c{j}"] = pd.Series(rng.choice([f"v{i}" for i in range(k)], size=n)).astype("str")
    logit = X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + (frame["c0"] == "v0").to_numpy()
    frame["label"] = np.where(logit + rng.logistic(size=n) * 0.5 > 0, "yes", "no")
    return frame


def bench_scale(n: int, detectors: list[str] | None) -> dict[str, Any]:
    from poisonguard.scan import scan

    frame = make_scale_frame(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.parquet"
        frame.to_parquet(path, index=False)
        del frame
        t0 = time.perf_counter()
        res = scan(path, label="label", detectors=detectors, seed=0)
        total = time.perf_counter() - t0
    out = {"rows": n, "total_seconds": total, "per_detector": {d.name: d.seconds for d in res.detectors},
           "flagged": {d.name: d.n_flagged for d in res.detectors}, "failures": [f.__dict__ for f in res.failures],
           "verdict": res.verdict}
    log(f"scale: {out}")
    return out


# ----------------------------------------------------------------------------------- main
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def summarize(results: dict[str, Any]) -> str:
    load = os.getloadavg()[1]  # over the last 5 minutes: well above 2 means other work shared the 2 cores
    parts = [f"_{time.strftime('%Y-%m-%d')}, {single_thread_note()}; load average {load:.1f} at the end "
             "(5-minute mean)._"]
    if "outliers" in results:
        df = pd.DataFrame(results["outliers"])
        cell = df.groupby(["dataset", "method"])[["ap", "f1", "seconds"]].mean().reset_index()
        table = []
        for method in ["poisonguard", "pyod-iforest", "pyod-ecod", "pyod-lof"]:
            r: dict[str, Any] = {"method": method}
            for _, x in cell[cell["method"] == method].iterrows():
                r[x["dataset"]] = f"{x['ap']:.3f} / {x['f1']:.2f} / {x['seconds']:.2g}s"
            table.append(r)
        ds_names = list(dict.fromkeys(df["dataset"]))
        best = cell[cell["method"] != "poisonguard"].groupby("dataset")["ap"].max()
        ours = cell[cell["method"] == "poisonguard"].set_index("dataset")["ap"]
        table.append({"method": "ours ≥ best PyOD?", **{d: "yes" if ours[d] >= best[d] - 1e-9 else
                                                       f"NO ({ours[d] - best[d]:+.3f})" for d in ds_names}})
        parts.append("### Outliers: 2 % of rows, half their numeric features shifted 6-10 sd (AP / F1 / time, "
                     f"mean over seeds {sorted(df['seed'].unique().tolist())})\n\n" + markdown_table(table, ["method", *ds_names]))
    if "backdoor" in results:
        df = pd.DataFrame(results["backdoor"])
        cell = df.groupby("dataset", sort=False).agg(ap=("ap", "mean"), ap_min=("ap", "min"), f1=("f1", "mean"),
                                         named=("named", "mean"), seconds=("seconds", "mean")).reset_index()
        table = [{"dataset": r.dataset, "AP (mean)": f"{r.ap:.3f}", "AP (min)": f"{r.ap_min:.3f}", "F1": f"{r.f1:.2f}",
                  "trigger named": f"{r.named:.0%}", "seconds": f"{r.seconds:.2g}"} for r in cell.itertuples()]
        ex = df.iloc[0]
        parts.append("### Backdoor trigger: 3 % of rows of other classes, 2 features set to a rare value, label = "
                     "least frequent class\n\n" + markdown_table(table, list(table[0]))
                     + f"\n\nExample ({ex['dataset']}, seed {ex['seed']}; truth {ex['truth']}): `{ex['rule']}`")
    if "duplicates" in results:
        df = pd.DataFrame(results["duplicates"])
        cell = df.groupby("dataset", sort=False).agg(recall_min=("recall", "min"), precision=("precision", "mean"),
                                                     ap=("ap", "mean"), suspected=("suspected", "mean"),
                                                     seconds=("seconds", "mean")).reset_index()
        table = [{"dataset": r.dataset, "recall (min)": f"{r.recall_min:.3f}", "precision (mean)": f"{r.precision:.3f}",
                  "AP (mean)": f"{r.ap:.3f}", "batch suspected": f"{r.suspected:.0%}", "seconds": f"{r.seconds:.2g}"}
                 for r in cell.itertuples()]
        parts.append("### Conflicting duplicates: 5 % of rows copied with another label\n\n"
                     + markdown_table(table, list(table[0]))
                     + "\n\nBoth rows of each conflicting pair are flagged (recall 1.0; precision about 0.5 by "
                       "construction), and the copy is ranked first when its new label disagrees with the row's "
                       "neighbourhood (AP).")
    if "pii" in results:
        p = results["pii"]
        o = p["overall"]
        parts.append("### Sensitive data: generated corpus (4,000 rows, planted values among decoys)\n\n"
                     + markdown_table([{k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()}
                                       for r in p["per_kind"]], ["kind", "planted", "found", "precision", "recall"])
                     + f"\n\nOverall precision **{o['precision']:.3f}**, recall **{o['recall']:.3f}** "
                       f"({o['found']} found, {o['planted']} planted, {o['seconds']:.2f}s). Raw planted values found in "
                       f"the output files of a full scan: {json.dumps(o['leaks'])} (scan redacts clean/quarantine: "
                       f"{o['scan_redacts_outputs']}).")
    if "clean" in results:
        rows = [{k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()} for r in results["clean"]]
        parts.append("### Clean data: this issue's default detectors on the untouched shared datasets\n\n"
                     + markdown_table(rows, list(rows[0])))
    if "scale" in results:
        s = results["scale"]
        per = ", ".join(f"{k} {v:.0f}s" for k, v in s["per_detector"].items())
        parts.append(f"### Scale: default scan of {s['rows']:,} rows x 20 features\n\n"
                     f"Total {s['total_seconds']:.0f}s (load, encode, detectors, combine): {per}. "
                     f"Failures: {s['failures'] or 'none'}.")
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=None)
    ap.add_argument("--only", nargs="+", default=None,
                    choices=["outliers", "backdoor", "duplicates", "pii", "clean", "scale"])
    ap.add_argument("--scale", action="store_true", help="also time the 1,000,000-row default scan")
    ap.add_argument("--scale-rows", type=int, default=1_000_000)
    ap.add_argument("--scale-detectors", nargs="+", default=None, help="default: every default detector")
    ap.add_argument("--json", type=Path, default=None, help="also write raw results here")
    ap.add_argument("--render", type=Path, nargs="+", default=None, help="only render saved --json results")
    args = ap.parse_args()
    if args.render:
        merged: dict[str, Any] = {}
        for p in args.render:
            merged.update(json.loads(p.read_text()))
        print(summarize(merged))
        return
    parts = args.only or ["outliers", "backdoor", "duplicates", "pii", "clean"] + (["scale"] if args.scale else [])
    datasets = list(iter_datasets(args.datasets))
    results: dict[str, Any] = {}
    if "outliers" in parts:
        results["outliers"] = bench_outliers(datasets, args.seeds)
    if "backdoor" in parts:
        results["backdoor"] = bench_backdoor(datasets, args.seeds)
    if "duplicates" in parts:
        results["duplicates"] = bench_duplicates(datasets, args.seeds)
    if "pii" in parts:
        results["pii"] = bench_pii()
    if "clean" in parts:
        results["clean"] = bench_clean()
    if "scale" in parts:
        results["scale"] = bench_scale(args.scale_rows, args.scale_detectors)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print(summarize(results))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
