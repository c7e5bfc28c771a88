"""Benchmark: ``poisonguard.validation.validate_frame`` vs Great Expectations run directly.

Run by hand::

    .venv/bin/python benchmarks/bench_validation.py [--rows 1000000] [--repeats 5]

Both sides validate the same in-memory frame (1,000,000 rows x 10 columns by default) against
the same suite, inferred by ``infer_suite`` from a trusted frame drawn from the same generator,
with the same result format (SUMMARY, at most 1000 rows per expectation, no index query):

- **GE direct**: an ephemeral GE context, a pandas data source, a whole-frame batch definition,
  ``batch.validate(suite)``; the suite is a ``gx.ExpectationSuite`` built beforehand.
- **poisonguard**: ``validate_frame(frame, suite)``, which also copies and checks the suite,
  checks that it fits the frame, restores suite order and converts GE's result into a
  ``ValidationResult`` (and lists offending rows of failed type expectations).

Loading the CSV is not timed (it is the same ``load_dataset`` for every stage). Two batches:
clean (every expectation holds) and dirty (ranges broken in 10 % of rows, nulls injected), to
show that reporting rows stays bounded. Prints a Markdown table: the median of ``--repeats``
runs (the two sides alternate which runs first) and the ratio of the fastest runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table  # noqa: E402

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 1000,
                 "return_unexpected_index_query": False, "exclude_unexpected_values": False}


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """10 columns: 7 float features, 1 integer, 1 categorical (text), 1 label (text, 3 classes)."""
    rng = np.random.default_rng(seed)
    label = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    shift = (label == "b") * 1.0 + (label == "c") * 2.0
    data: dict[str, Any] = {f"x{i}": rng.normal(loc=shift * (i % 3), scale=1.0 + i / 10, size=n) for i in range(7)}
    data["count"] = rng.poisson(5, size=n).astype("int64")
    data["colour"] = pd.array(rng.choice(np.array(["red", "green", "blue", "grey"]), size=n), dtype="str")
    data["label"] = pd.array(label, dtype="str")
    return pd.DataFrame(data)


def dirty(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out)
    for col in ("x0", "x1", "x2"):
        rows = rng.choice(n, size=n // 10, replace=False)
        out.loc[rows, col] = 1e6
    out.loc[rng.choice(n, size=n // 20, replace=False), "x3"] = np.nan
    return out


def ge_direct(frame: pd.DataFrame, suite: Any) -> Any:
    """What a Great Expectations user writes: ephemeral context, pandas source, whole-frame batch."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                               progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False))
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch = (context.data_sources.add_pandas("bench").add_dataframe_asset("frame")
             .add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame}))
    return batch.validate(suite, result_format=RESULT_FORMAT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    from poisonguard.data import TabularDataset
    from poisonguard.validation import infer_suite, suite_from_dict, validate_frame

    trusted = TabularDataset.from_frame(make_frame(args.rows, seed=1), label="label")
    suite = infer_suite(trusted, name="bench")
    del trusted
    suite_json = suite.to_json_dict()
    n_exp = len(suite.expectations)
    batches = {"clean": make_frame(args.rows, seed=2)}
    batches["dirty"] = dirty(batches["clean"], seed=3)

    rows = []
    for name, frame in batches.items():
        # warm up both paths once (GE import, metric registry, numpy caches)
        ge_direct(frame, suite_from_dict(suite_json))
        result = validate_frame(frame, suite)

        def run_ours(frame: pd.DataFrame = frame) -> Any:
            return validate_frame(frame, suite)

        # GE direct gets a fresh suite object, built outside its timing (GE writes the batch id
        # into the suite it runs; a GE user builds the suite once); its timing covers context,
        # data source, batch and batch.validate. Ours covers everything validate_frame does.
        ge_times: list[float] = []
        our_times: list[float] = []
        for i in range(args.repeats):
            fresh = suite_from_dict(suite_json)
            # alternate which side runs first, so that neither always gets the warmer caches
            for side in (("ge", "ours") if i % 2 == 0 else ("ours", "ge")):
                t0 = time.perf_counter()
                if side == "ge":
                    ge_direct(frame, fresh)
                else:
                    run_ours()
                (ge_times if side == "ge" else our_times).append(time.perf_counter() - t0)
        t_ge, t_ours = statistics.median(ge_times), statistics.median(our_times)
        rows.append({"batch": name, "rows": f"{len(frame):,}", "columns": frame.shape[1], "expectations": n_exp,
                     "failed": len(result.failed), "GE direct (s)": f"{t_ge:.3f}",
                     "poisonguard (s)": f"{t_ours:.3f}", "ratio (median)": f"{t_ours / t_ge:.2f}",
                     "ratio (best)": f"{min(our_times) / min(ge_times):.2f}"})

    print(markdown_table(rows, list(rows[0])))
    print(f"\ntimes: median of {args.repeats} runs; ratio (best): fastest run of each side. "
          f"Python {sys.version.split()[0]}, pandas {pd.__version__}, "
          f"great_expectations {__import__('great_expectations').__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
