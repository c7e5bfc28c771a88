"""``poisonguard manifest create`` of a folder of thousands of partition files: one after another,
threads (the default), and Spark tasks (``--engine spark``); the manifests must be identical.

Run by hand (issue 19):

    .venv/bin/python benchmarks/bench_manifest_parts.py --files 2000 --size-kb 512

Writes ``--files`` Parquet-like binary files (random bytes; ``--no-tabular`` is used so the time is
the hashing, not pyarrow's footer reading) in a temporary folder, warms the page cache once, then
times each engine through the Python API with ``created`` fixed. Prints peak RSS of this process
(the threads' buffers: 4 MiB each) and a Markdown line per engine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--size-kb", type=int, default=512)
    ap.add_argument("--master", default="local[*]")
    args = ap.parse_args()
    from poisonguard.provenance import create_manifest

    work = Path(tempfile.mkdtemp(prefix="pg-bench-manifest-"))
    here = Path.cwd()
    os.chdir(work)  # the source "parts" is named relative to the current folder
    try:
        parts = work / "parts"
        parts.mkdir()
        block = os.urandom(args.size_kb << 10)
        for i in range(args.files):
            (parts / f"part-{i:05d}.bin").write_bytes(block[i % 97:] + block[: i % 97])
        total = args.files * args.size_kb / 1024
        for f in parts.iterdir():  # page cache warm: the same for every engine
            f.read_bytes()
        when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        manifests = {}
        rows = []
        for label, kw in (("one file after another", {"workers": 1}), ("threads (default)", {}),
                          (f"spark {args.master}", {"engine": "spark", "master": args.master})):
            if kw.get("engine") == "spark":
                from poisonguard.spark import session

                session(args.master)  # started before the clock, as a running cluster would be
            out = work / f"m-{len(manifests)}.json"
            t0 = time.perf_counter()
            create_manifest(["parts"], out, base_dir=work, tabular=False, created=when, **kw)
            t = time.perf_counter() - t0
            manifests[label] = out.read_bytes()
            rows.append(f"| {args.files:,} x {args.size_kb} KiB | {label} | {t:.2f} | {total / t:.0f} |")
            print(rows[-1], flush=True)
        same = len(set(manifests.values())) == 1
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"identical manifests: {same}; peak RSS of this process {peak:.2f} GiB (data {total / 1024:.2f} GiB)")
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
