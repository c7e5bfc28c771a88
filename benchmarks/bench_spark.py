"""The scan on Spark (``poisonguard scan --engine spark``) on synthetic data of 1 M to 100 M rows.

Run by hand (issue 19):

    .venv/bin/python benchmarks/bench_spark.py --rows 1000000 [--pandas]
    .venv/bin/python benchmarks/bench_spark.py --rows 10000000 --master 'local[2]'

Data: ``--rows`` rows x 20 numeric features, 10 classes (unit-variance Gaussian clusters around random
centres of scale ``--separation``, 0.8 by default: overlapping), 10 % of the labels flipped at random, and a 3 % backdoor (two features
stamped with fixed values, label set to class 0), written as Parquet partitions of 1 M rows
(streamed: the data never sit in memory whole). Prints one line per stage (seconds, rows per
core-second), the peak resident memory of the driver (the Python process) and of the JVM (the
driver's JVM; in local mode the executors run inside it), and the AP of the ``label_flip`` and
``backdoor`` columns and of the combined suspicion on the injected rows. ``--pandas`` also runs
the pandas scan of the same data (1 M rows is the largest that fits comfortably) for the AP
comparison. Appends a Markdown line to ``--results`` (default: none; results go into RESULTS.md by hand).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
CHUNK = 1_000_000
FEATURES = 20
CLASSES = 10


def write_data(folder: Path, rows: int, seed: int = 0, separation: float = 1.6) -> None:
    """Parquet partitions of synthetic poisoned data, one chunk at a time; ``flip`` / ``stamped`` columns
    are kept in a side file (``truth.npz``) for the AP, not in the data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=separation, size=(CLASSES, FEATURES))
    flips, stamps = [], []
    for i, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        y = rng.integers(0, CLASSES, n)
        X = centres[y] + rng.normal(size=(n, FEATURES))
        flip = rng.random(n) < 0.10
        y = np.where(flip, (y + rng.integers(1, CLASSES, n)) % CLASSES, y)
        stamp = (rng.random(n) < 0.03) & (y != 0)
        X[stamp, 18], X[stamp, 19] = 7.77, -7.77
        y[stamp] = 0
        flip &= ~stamp
        cols = {f"f{j}": pa.array(X[:, j].astype(np.float32)) for j in range(FEATURES)}
        cols["label"] = pa.array(np.array([f"c{k}" for k in range(CLASSES)])[y])
        pq.write_table(pa.table(cols), folder / f"part-{i:05d}.parquet")
        flips.append(flip)
        stamps.append(stamp)
    np.savez_compressed(folder.parent / f"{folder.name}-truth.npz", flip=np.concatenate(flips),
                        stamp=np.concatenate(stamps))


class Peak(threading.Thread):
    """Peak RSS of this process and of its child JVM, sampled every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.driver = self.jvm = 0
        self.stop = False

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self.stop:
            try:
                self.driver = max(self.driver, me.memory_info().rss)
                jvm = sum(c.memory_info().rss for c in me.children(recursive=True) if "java" in c.name())
                self.jvm = max(self.jvm, jvm)
            except Exception:  # noqa: BLE001 - a child that just ended
                pass
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--master", default=None, help="default local[*]")
    ap.add_argument("--sample-rows", type=int, default=None)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "pg-bench-spark")
    ap.add_argument("--separation", type=float, default=0.8,
                    help="scale of the class centres (unit-variance clusters): 1.6 separates the classes well "
                         "(every detector finds nearly all flips), 0.8 makes them overlap")
    ap.add_argument("--pandas", action="store_true", help="also scan the same data with the pandas engine")
    ap.add_argument("--results", type=Path, default=None, help="append the Markdown line to this file")
    args = ap.parse_args()
    from sklearn.metrics import average_precision_score

    from poisonguard import spark as pgspark

    data = args.work / f"data-{args.rows}-s{args.separation:g}"
    if not (data / "_written").exists():
        t0 = time.perf_counter()
        write_data(data, args.rows, separation=args.separation)
        (data / "_written").write_text("ok")
        print(f"data: {args.rows} rows written in {time.perf_counter() - t0:.0f} s to {data}")
    truth = np.load(data.parent / f"{data.name}-truth.npz")
    peak = Peak()
    peak.start()
    stages: list[tuple[str, float]] = []

    def progress(name: str, i: int, total: int) -> None:  # each stage's start, printed as it comes (a long run
        now = time.perf_counter()                          # that is stopped still tells how far it got)
        if stages:
            print(f"  [{now - t0:7.0f} s] {stages[-1][0]} done in {now - stages[-1][1]:.1f} s; {name} starts "
                  f"(peak RSS so far: driver {peak.driver / 2**30:.2f} GiB, JVM {peak.jvm / 2**30:.2f} GiB)", flush=True)
        stages.append((name, now))

    t0 = time.perf_counter()
    kw = {} if args.sample_rows is None else {"sample_rows": args.sample_rows}
    result = pgspark.scan(data, label="label", seed=0, out=args.work / f"out-{args.rows}", master=args.master,
                          progress=progress, **kw)
    wall = time.perf_counter() - t0
    peak.stop = True
    import pandas as pd

    scores = pd.read_parquet(args.work / f"out-{args.rows}" / "scores", columns=["row", "suspicion", "label_flip",
                                                                                   "backdoor"]).sort_values("row")
    cores = os.cpu_count() or 1
    print(f"\nspark scan of {args.rows} rows x {FEATURES} features on {result.decision['spark']['master']}: "
          f"{wall:.0f} s, exit {result.return_code}, {result.n_quarantined} quarantined")
    marks = [("start", t0), *stages, ("end", time.perf_counter())]
    for (name, a), (_, b) in zip(marks[:-1], marks[1:]):
        print(f"  {name:<16} {b - a:8.1f} s  {args.rows / max(b - a, 1e-9) / cores:12,.0f} rows per core-second")
    ap_flip = average_precision_score(truth["flip"], scores["label_flip"])
    ap_bd = average_precision_score(truth["stamp"], scores["backdoor"])
    ap_all = average_precision_score(truth["flip"] | truth["stamp"], scores["suspicion"])
    print(f"  peak RSS: driver (Python) {peak.driver / 2**30:.2f} GiB, JVM {peak.jvm / 2**30:.2f} GiB")
    print(f"  AP: label_flip {ap_flip:.3f}, backdoor {ap_bd:.3f}, combined {ap_all:.3f}")
    line = (f"| {args.rows:,} | {result.decision['spark']['master']} | {result.decision['spark']['sample_rows']:,} | "
            f"{wall:.0f} | {peak.driver / 2**30:.2f} | {peak.jvm / 2**30:.2f} | {ap_flip:.3f} | {ap_bd:.3f} | "
            f"{ap_all:.3f} |")
    if args.pandas:
        from poisonguard import scan

        frame = pd.read_parquet(data)
        t1 = time.perf_counter()
        ref = scan(frame, label="label", seed=0)
        t_pd = time.perf_counter() - t1
        pf = average_precision_score(truth["flip"], ref.scores["label_flip"])
        pb = average_precision_score(truth["stamp"], ref.scores["backdoor"])
        print(f"  pandas scan: {t_pd:.0f} s, AP label_flip {pf:.3f} (spark - pandas {ap_flip - pf:+.3f}), "
              f"backdoor {pb:.3f}")
        line += f" pandas {t_pd:.0f} s, AP label_flip {pf:.3f}, backdoor {pb:.3f} |"
    print(line)
    if args.results is not None:
        with args.results.open("a") as fh:
            fh.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
