"""``poisonguard validate --engine spark`` against Great Expectations' own Spark validation, same run.

Run by hand (issue 19):

    .venv/bin/python benchmarks/bench_spark_validate.py --rows 10000000

Data: the project's adult data (``data/adult.csv.gz``, read with the demo suite's missing-value
markers) repeated to ``--rows`` rows and written as Parquet partitions of 1 M rows. Suite: the demo
suite ``expectations/adult.json`` (71 expectations, two of them poisonguard's custom ones).

Both runs share one local Spark session (started first, not timed) and read the same files:

* **GE's own**: ``spark.read.parquet``, an ephemeral GE context, ``add_spark`` /
  ``add_dataframe_asset`` / whole-dataframe batch, ``batch.validate(suite)`` with GE's default
  result format. The suite as written (GE on Spark then judges its pandas type names against Spark
  type names; that changes outcomes, not the work).
* **poisonguard**: :func:`poisonguard.spark._validate.validate` (what ``validate --engine spark``
  runs): the same reading plus the row ids, the type translation and row-level results
  (``SUMMARY`` with the rows' ids).

Each is run once to warm up (not counted), then ``--repeat`` times alternately; the medians are
reported with their ratio. Great Expectations persists the data frame it validates; the cache is
cleared after every run, so that each run reads the files (without that, GE's own runs after the
first were served from the previous run's cache and took half the time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "expectations" / "adult.json"
CHUNK = 1_000_000


def write_data(folder: Path, rows: int) -> None:
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from poisonguard.data import load_dataset
    from poisonguard.validation._run import suite_na_values

    markers = suite_na_values(json.loads(SUITE.read_text()))["na_values"]
    base = pa.Table.from_pandas(load_dataset(ROOT / "data" / "adult.csv.gz", missing_markers=markers).frame,
                                preserve_index=False)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        pq.write_table(base.take(rng.integers(0, base.num_rows, n)), folder / f"part-{i:05d}.parquet")
    (folder / "_written").write_text("ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--master", default=None)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "pg-bench-spark")
    args = ap.parse_args()
    data = args.work / f"adult-{args.rows}"
    if not (data / "_written").exists():
        t0 = time.perf_counter()
        write_data(data, args.rows)
        print(f"data: {args.rows} rows written in {time.perf_counter() - t0:.0f} s to {data}")

    from poisonguard.spark import session
    from poisonguard.spark._session import master_of
    from poisonguard.spark._validate import validate
    from poisonguard.validation import load_suite
    from poisonguard.validation._gx import ephemeral_context

    spark = session(args.master)

    def ge_own() -> tuple[float, int]:
        t0 = time.perf_counter()
        df = spark.read.parquet(str(data))
        batch = (ephemeral_context().data_sources.add_spark("ge").add_dataframe_asset("data")
                 .add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df}))
        res = batch.validate(load_suite(SUITE))
        t = time.perf_counter() - t0
        spark.catalog.clearCache()  # GE persists what it validates: the next run must read the files
        return t, sum(not r.success for r in res.results)

    def ours() -> tuple[float, int]:
        t0 = time.perf_counter()
        res = validate(data, SUITE)
        t = time.perf_counter() - t0
        spark.catalog.clearCache()
        return t, len(res.failed)

    for fn in (ge_own, ours):  # warm-up of both (the JVM's code paths, GE's imports), not counted
        fn()
    times: dict[str, list[float]] = {"ge": [], "poisonguard": []}
    for i in range(args.repeat):
        for name, fn in (("ge", ge_own), ("poisonguard", ours)):
            t, failed = fn()
            times[name].append(t)
            print(f"  run {i + 1} {name:<12} {t:7.1f} s  ({failed} expectations failed)", flush=True)
    ge, pg = statistics.median(times["ge"]), statistics.median(times["poisonguard"])
    print(f"validate {args.rows:,} rows, {SUITE.name}: GE's own {ge:.1f} s, poisonguard --engine spark {pg:.1f} s "
          f"({pg / ge:.2f} x)")
    print(f"| {args.rows:,} | {master_of(spark)} | {ge:.1f} | {pg:.1f} | {pg / ge:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
