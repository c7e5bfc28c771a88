"""``scan`` on Spark: the same detectors and the same decision for data that do not fit one machine.

How each part runs (``poisonguard scan --engine spark``; the design is ARCHITECTURE.md's "Scale"):

1. **Read** Parquet or CSV (a file, a folder of partitions, ``s3a://``) into a Spark data frame;
   every row gets its ``row`` id: its position in the files' name order, then line order (for
   one file, its line order; :func:`with_row_ids`, one aggregate and a broadcast join).
2. **Sample.** A uniform sample of ``sample_rows`` rows (in expectation) is drawn by a hash of
   the row id and the seed (the same rows on every pass, any partitioning), stratified so that
   every class keeps at least :data:`MIN_CLASS_ROWS` rows (all rows of a smaller class; such a
   class is then over-represented in the fit, a bias towards keeping its labels). Exact copies
   are found over *all* rows by a ``groupBy`` on a 64-bit hash of the feature cells; every row
   with a copy anywhere joins the rows brought to the driver (the *fit set*), so that detectors
   that judge copies (``duplicates``) see every copy.
3. **Fit on the driver** with the pandas code of :func:`poisonguard.scan` (:func:`~poisonguard.scan.fit_on_rows`):
   the encoder and every detector on the sample (the copy detectors on the fit set). Rows of the
   fit set get the detectors' own evidence (out-of-fold for label detectors) and their reasons.
4. **Apply in partitions** (``mapInArrow``, one thread a task): the fitted encoder and detectors go
   to the executors; each batch of rows is encoded and each detector that can score new rows gives
   them evidence on the scale of its training rows
   (:meth:`~poisonguard.detectors.BaseDetector.pvalues_new`); the batch comes back whole, its cells
   untouched, with the evidence appended. Rows outside the fit set have no copy, so the copy
   detectors' evidence there is "not tested". Detectors that can do neither score only the fit set,
   and the report says so (``spark.scored_beyond_fit_set``). The input's partitions are kept
   unless there are fewer than two a core (a 1 M-row Parquet file is one row group, one task):
   then the rows are spread over more (one shuffle). Every row, with its cells and its evidence,
   is written once to a staging folder, and the steps below read that instead of the input.
5. **Decide once over all rows**: per-row evidence is combined as on pandas (Bonferroni over the
   detectors that test the row, among those that pass the screen of
   :func:`poisonguard.evidence.screen`, which is decided on the fit set); Benjamini–Hochberg over *all* ``n`` rows is exact without
   sorting them: the threshold at level ``q`` is among the p-values ``<= q``, so only those are
   brought to the driver (8 bytes a row: :func:`poisonguard.evidence.bh_threshold` with ``m = n``).
6. **Write** ``scores``, ``clean`` and ``quarantine`` as Parquet datasets (folders with
   ``_SUCCESS``) and ``report.json`` (the :class:`~poisonguard.scan.ScanResult` schema), staged
   in the output folder and moved in as one set (:func:`poisonguard._outdir.output_set`).

The batch verdict is the detectors' batch policies on the fit set: their statistics are
shares and counts of a uniform sample of ``sample_rows`` rows.

Differences from the pandas path, by design: rows outside the fit set are not put on the review
list by a detector's own threshold (only by the review level's BH threshold); label detectors'
neighbourhoods and models come from the sample (its neighbourhoods searched in blocks of the
size the pandas path uses for all ``n`` rows: ``LabelFlipDetector(knn_rows=n)``); the refitted
models' probabilities break the ties of the other rows' label evidence only where its p-value is
at most ``decision.review_level`` (``LabelFlipDetector(rank_new_below=...)``), the only rows the
decision can reach.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import evidence as _evidence
from ..errors import DataError, SchemaError, UsageError
from ._session import is_connect, master_of, parallelism, session

__all__ = ["DEFAULT_SAMPLE_ROWS", "read", "scan", "with_row_ids"]

#: Rows fitted on the driver at most (the uniform sample; rows with copies come on top).
DEFAULT_SAMPLE_ROWS = 200_000
#: Rows that have an exact copy somewhere in the data brought to the driver at most (beyond it the
#: scan refuses: so many copies are a finding of their own, deduplicate first).
MAX_COPY_ROWS = 2_000_000
#: Rows of each class the sample keeps at least (all rows of a smaller class): a class the sample
#: misses could not be scored anywhere else.
MIN_CLASS_ROWS = 1_000
#: Rows per task of the step that applies the fitted detectors, at most (see ``scan``).
APPLY_PARTITION_ROWS = 250_000
ROW = "row"


def _fmt_of(path: str) -> str:
    low = path.lower().rstrip("/")
    for ext, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"), (".csv.gz", "csv")):
        if low.endswith(ext):
            return fmt
    if "://" not in path and Path(path).is_dir():
        names = [p.name.lower() for p in Path(path).rglob("*") if p.is_file() and not p.name.startswith(("_", "."))]
        if names and all(n.endswith((".parquet", ".pq")) for n in names):
            return "parquet"
        if names and all(n.endswith((".csv", ".csv.gz")) for n in names):
            return "csv"
        raise UsageError(f"{path}: a folder of {'mixed or unknown' if names else 'no'} data files; give a folder of "
                         ".parquet (or of .csv) partitions")
    if "://" in path:
        return "parquet"  # an S3 prefix of partitions
    raise UsageError(f"{path}: --engine spark reads Parquet or CSV (.parquet, .csv, .csv.gz, or a folder of them)")


def read(spark: Any, path: str | os.PathLike[str]) -> tuple[Any, str]:
    """Read ``path`` (Parquet or CSV: a file, a folder of partitions, ``s3a://...``) with Spark.

    Returns the data frame and its format. Partitions whose schemas disagree, a missing path or
    an unreadable file end in a one-line :class:`~poisonguard.errors.DataError`.
    """
    text = str(path)
    if "://" not in text and not Path(text).exists():
        raise DataError(f"{text}: no such file or folder; give the path of the data")
    fmt = _fmt_of(text)
    try:
        if fmt == "parquet":
            df = spark.read.option("mergeSchema", "true").parquet(text)
        else:
            df = spark.read.option("header", "true").option("inferSchema", "true").csv(text)
        df.schema  # noqa: B018 - resolves the schema now: a bad file fails here, in one line
    except Exception as exc:  # noqa: BLE001 - Spark's AnalysisException / Py4J errors, in one line
        raise DataError(f"{text}: Spark could not read it as {fmt}: {_first_line(exc)} Check the files "
                        "(partitions must share one schema)") from None
    return df, fmt


def _first_line(exc: BaseException) -> str:
    """One line for a Spark error: the root cause a Py4J error names (``Caused by: ...``), without the
    Java class, or the first line of a PySpark error."""
    import re

    lines = str(exc).strip().splitlines()
    causes = [m.group(2).strip() for m in (re.match(r"^\s*Caused by: ([\w.$]+): (.*)$", ln) for ln in lines) if m]
    causes = [c for c in causes if c and not c.startswith("Exception thrown in awaitResult")]
    line = causes[0] if causes else next((ln.strip() for ln in lines if ln.strip()), type(exc).__name__)
    line = re.sub(r"\s*SQLSTATE:.*$", "", line)[:400].rstrip()
    return line if line.endswith(".") else line + "."


def with_row_ids(df: Any, name: str = "__pg_row") -> Any:
    """``df`` with a column ``name``: each row's position, 0..n-1, in the order of the input files'
    names and, within a file, of its rows (for one file: its line order).

    Spark packs files into partitions by size, not by name, so the read order is not the files'
    order. ``monotonically_increasing_id`` numbers the rows of each partition consecutively, and a
    partition holds whole files or consecutive slices of one file. One aggregate gives each
    (file, partition) segment its first id and its rows. Sorted by file name and first id, the
    segments give each row's position. Data that do not come from files count as one file; so do
    data read from a cache (``persist``; Great Expectations persists what it validates): give the
    frame as read, before it is cached.
    """
    return _row_ids(df, name)[0]


def _row_ids(df: Any, name: str = "__pg_row") -> tuple[Any, int]:
    """:func:`with_row_ids` and the number of rows, which its aggregate counts on the way."""
    from pyspark.sql import functions as F

    spark = df.sparkSession
    df = df.withColumn("__pg_mid", F.monotonically_increasing_id()).withColumn("__pg_file", F.input_file_name())
    df = df.withColumn("__pg_part", F.shiftright("__pg_mid", 33))
    segs = (df.groupBy("__pg_file", "__pg_part").agg(F.min("__pg_mid").alias("m0"), F.count(F.lit(1)).alias("k"))
            .collect())
    segs = sorted(((r["__pg_file"] or "", int(r["m0"]), int(r["__pg_part"]), int(r["k"])) for r in segs))
    offsets = np.concatenate([[0], np.cumsum([k for *_, k in segs])[:-1]]).astype(np.int64) if segs else []
    table = spark.createDataFrame([(f, part, m0, int(o)) for (f, m0, part, _), o in zip(segs, offsets)],
                                  schema="__pg_file string, __pg_part long, __pg_m0 long, __pg_off long")
    df = df.withColumn("__pg_file", F.coalesce(F.col("__pg_file"), F.lit("")))
    df = df.join(F.broadcast(table), ["__pg_file", "__pg_part"])
    row = F.col("__pg_off") + F.col("__pg_mid") - F.col("__pg_m0")
    n = int(sum(k for *_, k in segs))
    return df.withColumn(name, row.cast("long")).drop("__pg_mid", "__pg_file", "__pg_part", "__pg_m0", "__pg_off"), n


@dataclasses.dataclass
class _Applier:
    """What the executors need to score rows outside the fit set (shipped with the function)."""

    columns: list[str]
    label: str | None
    id_column: str | None
    kinds: dict[str, str]
    encoder: Any
    classes: list[Any] | None
    detectors: list[tuple[int, Any]]  # (column, fitted detector) of the detectors that score new rows
    sparse: list[bool]  # per column
    gating: list[bool]  # per column: combined into the decision
    n_evidence: int  # columns: one per detector fitted

    def __call__(self, batches: Any) -> Any:
        """``mapInArrow``: each batch of rows comes back whole, with its scores appended (the
        ``__pg_`` columns of :func:`_score_frame`); the data's cells pass through untouched."""
        import pyarrow as pa

        from .._kernel import has_faiss
        from .._threads import serial
        from ..data import TabularDataset

        has_faiss()  # loaded before the limit, so that the limit covers its OpenMP runtime too
        with serial():  # a task is one core (spark.task.cpus): no thread pools of its own
            for batch in batches:
                rows = batch.column("__pg_row").to_numpy().astype(np.int64)
                n = rows.size
                P = np.ones((n, self.n_evidence))
                y = None
                if n:
                    chunk = batch.select(self.columns).to_pandas()
                    ds = TabularDataset.from_frame(chunk, label=self.label, id_column=self.id_column,
                                                   kinds=self.kinds)
                    X = ds.encode(self.encoder)
                    y = ds.label_codes(self.classes) if self.label is not None else None
                    for j, det in self.detectors:
                        P[:, j] = det.scan_pvalues_new(ds, X, y)
                p, best = _combine(P, self.sparse, self.gating)
                missing = (y < 0) if y is not None else np.zeros(n, dtype=bool)
                scores = pa.RecordBatch.from_pandas(_score_frame(rows, p, best, missing, P, prefix="__pg_")
                                                    .drop(columns="__pg_row"), preserve_index=False)
                yield pa.RecordBatch.from_arrays([*batch.columns, *scores.columns],
                                                 names=[*batch.schema.names, *scores.schema.names])


def scan(data: str | os.PathLike[str] | Any, *, label: str | None = None, detectors: Sequence[str] | None = None,
         params: Mapping[str, Mapping[str, Any]] | None = None, id_column: str | None = None, seed: int | None = 0,
         out: str | os.PathLike[str] | None = None, decision: Mapping[str, float] | None = None,
         sample_rows: int = DEFAULT_SAMPLE_ROWS, master: str | None = None, progress: Any = None) -> Any:
    """Scan a dataset with Spark (see the module docstring); the arguments are :func:`poisonguard.scan`'s.

    Parameters
    ----------
    data : path or pyspark.sql.DataFrame
        Parquet or CSV: a file, a folder of partitions, an ``s3a://`` prefix; or a Spark data frame.
    sample_rows : int, default=DEFAULT_SAMPLE_ROWS
        Rows the detectors are fitted on, in expectation (a hash sample stratified so that every class
        keeps at least :data:`MIN_CLASS_ROWS`; all rows when there are fewer).
    master : str, default=None
        Spark master (see :func:`poisonguard.spark.session`).
    out : path, default=None
        Local folder for ``report.json``, ``timings.json`` and the Parquet datasets ``scores/``,
        ``clean/``, ``quarantine/``. Without it nothing is written and ``scores`` is None.

    Returns
    -------
    ScanResult
        As :func:`poisonguard.scan`'s; ``scores`` is None (the per-row scores are the ``scores``
        dataset), ``decision["spark"]`` says how the rows were scored.
    """
    from pyspark.sql import functions as F

    from ..data import TabularDataset
    from ..data import Encoder
    from ..scan import (MAX_REPORTED_ROWS, DetectorSummary, Failure, FlaggedRow, ScanResult, check_config,
                        decision_lead, fit_on_rows, fit_order, held_back)

    if isinstance(sample_rows, bool) or not isinstance(sample_rows, (int, np.integer)) or sample_rows < 100:
        raise UsageError(f"--sample-rows must be a whole number of at least 100; got {sample_rows!r}")
    names, dets, _, levels = check_config(detectors, params, seed=seed, decision=decision)
    classes_ = [type(d) for d in dets]
    needs_y = any(c.requires_y for c in classes_)
    if needs_y and label is None:
        raise UsageError(f"detector(s) {[c.name for c in classes_ if c.requires_y]} need labels: pass --label COLUMN")
    if out is not None and "://" in str(out):
        raise UsageError(f"--out-dir {out}: the outputs are committed by renaming; give a local (or mounted) folder")
    if isinstance(data, (str, os.PathLike)) and "://" not in str(data) and not Path(data).exists():
        raise DataError(f"{data}: no such file or folder; give the path of the data")  # before Spark starts
    t_start = time.perf_counter()
    spark = session(master)
    if isinstance(data, (str, os.PathLike)):
        df, fmt = read(spark, data)
        path = str(data)
    else:
        df, fmt, path = data, "parquet", None
    columns = [str(c) for c in df.columns]
    for role, col in (("label", label), ("id", id_column)):
        if col is not None and col not in columns:
            raise SchemaError(f"{path or 'the data'}: no {role} column {col!r}; the columns are: "
                              f"{', '.join(columns[:30])}. Pass --{role} with one of them")
    clash = [c for c in columns if c.startswith("__pg_")]
    if clash:
        raise SchemaError(f"{path or 'the data'}: column name(s) {clash} are reserved by poisonguard; rename them")
    features = [c for c in columns if c not in (label, id_column)]

    def note(stage: str) -> None:
        if progress is not None:
            progress(stage, 0, 0)

    note("row ids")
    df, n = _row_ids(df)  # the ids' aggregate counts the rows
    if n == 0:
        raise DataError(f"{path or 'the data'}: no data rows; give data with at least one row")
    frac = min(1.0, sample_rows / n)
    for det in dets:  # what the user left unset: neighbourhoods searched in blocks as dense as a fit on all
        # n rows would search; the refitted models break ties only where the decision can reach
        for key, value in (("knn_rows", n), ("rank_new_below", levels["review_level"])):
            if det.get_params().get(key, False) is None:
                det.set_params(**{key: value})
    seed_i = int(seed or 0)
    bucket = F.pmod(F.xxhash64(F.col("__pg_row"), F.lit(seed_i)), F.lit(1 << 30))

    def cut(f: float) -> Any:  # rows whose bucket is below it are picked: a share f of them
        return F.lit(int(f * (1 << 30)) + (1 if f >= 1.0 else 0))

    pick = bucket < cut(frac)
    if label is not None and frac < 1.0:
        # stratified: every class keeps at least MIN_CLASS_ROWS rows in the sample (all of a smaller one)
        counts = {r[0]: int(r[1]) for r in df.groupBy(F.col(label).cast("string")).count().collect()}
        raised = {k: min(1.0, MIN_CLASS_ROWS / c) for k, c in counts.items() if k is not None and c * frac < MIN_CLASS_ROWS}
        if raised:
            cuts = F.create_map(*[x for k, f in raised.items() for x in (F.lit(k), cut(f))])
            pick = bucket < F.coalesce(cuts[F.col(label).cast("string")], cut(frac))
    df = df.withColumn("__pg_pick", pick)
    note("copies")
    # one aggregate over all rows finds the groups of copies, how many rows each has and how many of
    # them the sample holds; their hashes come to the driver (8 bytes a group, MAX_COPY_ROWS / 2 groups
    # at most) and go back as a broadcast table, so the passes below join a local table instead of
    # repeating the group-by's shuffle
    dedupe = "deduplicate the data first (poisonguard scan --detectors duplicates on a part of it shows the groups)"
    copy_hashes = np.zeros(0, dtype=np.int64)
    n_copy = 0
    if features:
        df = df.withColumn("__pg_hash", F.xxhash64(*[F.col(c) for c in features]))
        groups = (df.groupBy("__pg_hash").agg(F.count(F.lit(1)).alias("k"),
                                               F.sum(F.col("__pg_pick").cast("long")).alias("picked"))
                  .filter(F.col("k") > 1).limit(MAX_COPY_ROWS // 2 + 1).toPandas())
        if 2 * len(groups) > MAX_COPY_ROWS:
            raise DataError(f"{path or 'the data'}: more than {MAX_COPY_ROWS // 2} groups of exact copies; {dedupe}")
        copy_hashes = groups["__pg_hash"].to_numpy(dtype=np.int64)
        n_copy = int((groups["k"] - groups["picked"]).sum())
    if n_copy > MAX_COPY_ROWS:
        raise DataError(f"{path or 'the data'}: {n_copy} rows outside the sample have an exact copy (more than "
                        f"{MAX_COPY_ROWS}); {dedupe}")
    if copy_hashes.size:
        hashes = pd.DataFrame({"__pg_hash": copy_hashes, "__pg_copy": np.ones(copy_hashes.size, dtype=bool)})
        df = df.join(F.broadcast(spark.createDataFrame(hashes, schema="__pg_hash long, __pg_copy boolean")),
                     "__pg_hash", "left")
        df = df.withColumn("__pg_copy", F.coalesce(F.col("__pg_copy"), F.lit(False)))
    else:
        df = df.withColumn("__pg_copy", F.lit(False))
    note("fit set")
    fit_pdf = (df.filter(F.col("__pg_pick") | F.col("__pg_copy")).select(*columns, "__pg_row", "__pg_pick")
               .toPandas().sort_values("__pg_row", kind="stable").reset_index(drop=True))
    fit_rows = fit_pdf["__pg_row"].to_numpy(dtype=np.int64)
    pick = fit_pdf["__pg_pick"].to_numpy(dtype=bool)
    ds_fit = TabularDataset.from_frame(fit_pdf[columns], label=label, id_column=id_column,
                                       require_classes=2 if needs_y else 0)
    sample_pos = np.flatnonzero(pick)
    encoder = Encoder().fit(ds_fit.take(sample_pos))
    ds_fit = ds_fit.encoded_by(encoder)
    ds_sample = ds_fit.take(sample_pos)
    X_fit = ds_fit.encode(encoder)
    classes = list(ds_sample.classes_) if label is not None else None
    y_fit = ds_fit.label_codes(classes) if label is not None else None
    n_fit = ds_fit.n_rows

    # -- fit on the driver ------------------------------------------------------------------
    evidence_names: list[str] = []  # every detector fitted: one scores column each
    gating: list[bool] = []
    P_fit: list[np.ndarray] = []
    sparse: list[bool] = []
    own_fit = np.zeros(n_fit, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n_fit)]
    summaries: list[DetectorSummary] = []
    failures: list[Failure] = []
    batch_reasons: list[str] = []
    appliers: list[tuple[int, Any]] = []
    sample_only: list[str] = []
    # as on pandas (poisonguard.scan.fit_order / held_back), the hold-back decided over the fit set
    order, later = fit_order(dets)
    for i, j_det in enumerate(order):
        name, det = names[j_det], dets[j_det]
        if progress is not None:
            progress(name, i, len(dets))
        t0 = time.perf_counter()
        copies_rows = det.spark_rows == "copies"
        view = ds_fit if copies_rows else ds_sample
        at = np.arange(n_fit) if copies_rows else sample_pos  # positions of the view's rows in the fit set
        try:
            Xv = X_fit[at]
            yv = y_fit[at] if y_fit is not None else None
            lab = np.flatnonzero(yv >= 0) if yv is not None else np.arange(at.size)
            gated = [pc for pc, g in zip(P_fit, gating) if g]
            held = (held_back(gated, [sp for sp, g in zip(sparse, gating) if g], sum(later[i:]), levels)[at]
                    if det.learns_from_rows and det.gates and gated else None)
            fit = fit_on_rows(det, view, Xv, yv, lab, view if lab.size == at.size else view.take(lab), held=held)
            pv = np.ones(n_fit)
            pv[at] = fit.pvalues
            new_ok = _scores_new(det)
            if not copies_rows:
                rest = np.setdiff1d(np.arange(n_fit), at)  # rows with a copy outside the sample
                if rest.size and new_ok:
                    pv[rest] = det.scan_pvalues_new(ds_fit.take(rest), X_fit[rest],
                                                    y_fit[rest] if y_fit is not None else None)
                elif not new_ok:
                    sample_only.append(name)
        except (KeyboardInterrupt, UsageError):
            raise
        except Exception as exc:  # noqa: BLE001 - one detector failing must not lose the scan
            failures.append(Failure(detector=name, error=type(exc).__name__,
                                    message=str(exc).splitlines()[0][:500] if str(exc) else ""))
            continue
        for local, why_row in zip(fit.reason_rows.tolist(), fit.reasons):
            reasons[int(at[fit.rows[local]])].append(why_row)
        if det.gates:
            own_fit[at[fit.rows[fit.reason_rows[fit.own]]]] = True
        j = len(evidence_names)
        evidence_names.append(name)
        gating.append(bool(det.gates))
        P_fit.append(pv)
        sparse.append(bool(getattr(det, "sparse_evidence", False)))
        if new_ok and not copies_rows:
            appliers.append((j, det))
        if fit.suspected:
            batch_reasons.append(f"{name}: {fit.why}")
        section = {**fit.section, "spark": {"fitted_on_rows": int(at.size),
                                            "scored": "every row" if (copies_rows or new_ok) else
                                            f"the {n_fit} rows of the fit set only"}}
        summaries.append(DetectorSummary(name=name, family=det.family, gates=det.gates,
                                         n_flagged=int(fit.own.sum()), seconds=round(time.perf_counter() - t0, 3),
                                         suspected=fit.suspected, reason=fit.why, section=section))
    # back to the order the detectors were asked for
    rank = {nm: k for k, nm in enumerate(names)}
    perm = sorted(range(len(evidence_names)), key=lambda k: rank[evidence_names[k]])
    new_pos = {old: k for k, old in enumerate(perm)}
    evidence_names = [evidence_names[k] for k in perm]
    gating, sparse = [gating[k] for k in perm], [sparse[k] for k in perm]
    P_fit = [P_fit[k] for k in perm]
    appliers = sorted(((new_pos[k], det) for k, det in appliers), key=lambda t: t[0])
    summaries.sort(key=lambda sm: rank[sm.name])
    D = len(evidence_names)
    Pf = np.column_stack(P_fit) if D else np.ones((n_fit, 0))
    # the screen (poisonguard.evidence.screen) decided on the fit set, a uniform sample of the rows: the
    # detectors whose evidence there passes its global test are combined over all rows
    g_idx = np.flatnonzero(np.asarray(gating, dtype=bool))
    entered_g, global_p = (_evidence.screen(Pf[:, g_idx], _evidence.tested_mask(Pf[:, g_idx], [sparse[j] for j in g_idx]),
                                            levels["level"]) if g_idx.size else (np.zeros(0, dtype=bool), np.ones(0)))
    entered = np.zeros(D, dtype=bool)
    entered[g_idx] = entered_g
    no_evidence = not entered.any()  # then nothing is quarantined on evidence; every gating detector ranks
    combined_cols = list(gating) if no_evidence else entered.tolist()
    p_fit, best_fit = _combine(Pf, sparse, combined_cols)
    missing_fit = (y_fit < 0) if y_fit is not None else np.zeros(n_fit, dtype=bool)
    for r in np.flatnonzero(missing_fit).tolist():  # quarantined whatever the evidence, as on pandas
        reasons[r].append("label missing")

    # -- apply in partitions ----------------------------------------------------------------
    note("apply")
    probe = sample_pos[: min(2, sample_pos.size)]
    for _, det in appliers:  # what a detector fits on first use (the refitted models) is fitted here, once
        det.prepare_new_rows()
        det.scan_pvalues_new(ds_fit.take(probe), X_fit[probe], y_fit[probe] if y_fit is not None else None)
    applier = _Applier(columns=columns, label=label, id_column=id_column, kinds=dict(ds_sample.kinds),
                       encoder=encoder, classes=classes, detectors=appliers, sparse=sparse, gating=combined_cols,
                       n_evidence=D)
    from pyspark.sql.types import StructType

    rest_df = df.filter(~F.col("__pg_pick") & ~F.col("__pg_copy")).select(*columns, "__pg_row")
    wide = StructType(rest_df.schema.fields + StructType.fromDDL(_score_schema(D, "__pg_")).fields)
    # the models' work, not the files' layout, sets the parallelism: a 1 M-row Parquet file is one
    # row group, one task; with fewer than two tasks a core the rows are spread over more (a shuffle)
    cores = parallelism(spark)
    if _partitions(rest_df) < 2 * cores:
        rest_df = rest_df.repartition(max(2 * cores, -(-(n - n_fit) // APPLY_PARTITION_ROWS)))
    applied = rest_df.mapInArrow(applier, wide)
    fit_scores = spark.createDataFrame(_score_frame(fit_rows, p_fit, best_fit, missing_fit, Pf, prefix="__pg_"),
                                       schema="__pg_row long, " + _score_schema(D, "__pg_"))
    fit_wide = (df.filter(F.col("__pg_pick") | F.col("__pg_copy")).select(*columns, "__pg_row")
                .join(F.broadcast(fit_scores), "__pg_row").select(*wide.names))
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=".poisonguard-spark.", dir=str(out) if out is not None and
                                 Path(out).is_dir() else None))
    try:
        # every row once, with its cells and its evidence: what follows reads these, not the input
        applied.write.mode("overwrite").parquet(str(work / "applied"))
        fit_wide.write.mode("overwrite").parquet(str(work / "fit"))
        pv_df = spark.read.parquet(str(work / "applied"), str(work / "fit"))

        # -- one decision over all rows -----------------------------------------------------
        note("decide")
        cands = (pv_df.filter(F.col("__pg_p") <= F.lit(levels["review_level"])).select("__pg_p").toPandas()["__pg_p"]
                 .to_numpy())
        t = 0.0 if no_evidence else _evidence.bh_threshold(cands, levels["level"], m=n)
        t_rev = _evidence.bh_threshold(cands, levels["review_level"], m=n)
        own_rows = fit_rows[own_fit]
        own_df = spark.createDataFrame(pd.DataFrame({"__pg_row": own_rows, "own": np.ones(own_rows.size, dtype=bool)}),
                                       schema="__pg_row long, own boolean")
        decided = (pv_df.join(F.broadcast(own_df), "__pg_row", "left")
                   .withColumn("own", F.coalesce(F.col("own"), F.lit(False))))
        quarantine = (F.col("__pg_p") <= F.lit(t)) & F.lit(t > 0) | F.col("__pg_missing")
        review = ((F.col("__pg_p") <= F.lit(t_rev)) & F.lit(t_rev > 0)) | F.col("own")
        decided = decided.withColumn("__pg_decision", F.when(quarantine, "quarantine").when(review, "review")
                                     .otherwise("keep"))
        scores = decided.select(F.col("__pg_row").alias(ROW), *[F.col(f"__pg_{c}").alias(c) for c in
                                                                ("p", "suspicion", "decision", "best", "missing")],
                                *[F.col(f"__pg_s{j}").alias(f"s{j}") for j in range(D)])
        counts = scores.groupBy("decision", "missing").count().collect()
        n_q = sum(int(r["count"]) for r in counts if r["decision"] == "quarantine")
        n_r = sum(int(r["count"]) for r in counts if r["decision"] == "review")
        n_forced = sum(int(r["count"]) for r in counts if r["missing"])
        top_q = scores.filter(F.col("decision") == "quarantine").orderBy("p", ROW).limit(MAX_REPORTED_ROWS).toPandas()
        top_r = scores.filter(F.col("decision") == "review").orderBy("p", ROW).limit(MAX_REPORTED_ROWS).toPandas()
        fit_pos = {int(r): k for k, r in enumerate(fit_rows.tolist())}

        def listed(frame: pd.DataFrame, kind: str) -> tuple[FlaggedRow, ...]:
            rows_ = frame[ROW].to_numpy(dtype=np.int64)
            extra = _row_values(pv_df, rows_, [c for c in (label, id_column) if c is not None]) if rows_.size else {}
            outl = []
            for r, p, s, b in zip(rows_.tolist(), frame["p"].tolist(), frame["suspicion"].tolist(),
                                  frame["best"].tolist()):
                k = fit_pos.get(r)
                why = list(reasons[k]) if k is not None else []
                if kind == "quarantine" and p > t:
                    why = why or ["label missing"]
                else:
                    if k is None or p <= t_rev or kind == "quarantine":
                        why = [decision_lead(kind, p, evidence_names[b] if D else "no detector", t), *why]
                vals = extra.get(r, {})
                outl.append(FlaggedRow(row=r, suspicion=round(float(s), 6),
                                       reasons=tuple(why), id=_plainv(vals.get(id_column)) if id_column else None,
                                       label=_plainv(vals.get(label)) if label else None))
            return tuple(outl)

        quarantined = listed(top_q, "quarantine")
        review_rows = listed(top_r, "review")
        dec_summary = {
            "method": ("Benjamini-Hochberg over rows on the Bonferroni-combined p-values of the detectors that pass "
                       "their global (Simes) test"),
            "level": levels["level"], "review_level": levels["review_level"],
            "n_detectors_combined": int(entered.sum()),
            "p_threshold": t, "review_p_threshold": t_rev, "quarantine": n_q, "review": n_r, "keep": n - n_q - n_r,
            "expected_false_quarantine_at_most": round(levels["level"] * n_q, 2), "level_chosen_on_trusted": False,
            "forced": n_forced,
            "combined": sorted(n for n, g in zip(evidence_names, gating) if g),
            "own_flags_reviewed": sorted(n for n, g in zip(evidence_names, gating) if g),
            "entered": [nm for nm, e in zip(evidence_names, entered.tolist()) if e],
            "global_p": {evidence_names[j]: float(f"{gp:.3g}") for j, gp in zip(g_idx.tolist(), global_p.tolist())},
            "spark": {"engine": "spark", "master": master_of(spark), "rows": n, "sample_rows": int(sample_pos.size),
                      "fit_set_rows": n_fit, "rows_with_copies_outside_sample": n_copy,
                      "scored_in_partitions": [evidence_names[j] for j, _ in appliers],
                      "scored_beyond_fit_set": sorted(set(evidence_names) - set(sample_only)),
                      "fit_set_only": sample_only,
                      "seconds": round(time.perf_counter() - t_start, 3)},
        }
        result = ScanResult(
            inputs={"data": {"path": path, "sha256": None, "format": fmt, "rows": n, "columns": len(columns),
                             "label": label, "id_column": id_column, "feature_kinds": dict(ds_sample.kinds)}},
            parameters={"detectors": names, "params": {k: dict(v) for k, v in dict(params or {}).items()
                                                       if k not in ("decision", "reference_shift")},
                        "seed": seed, "decision": dict(levels), "engine": "spark", "sample_rows": int(sample_rows)},
            n_rows=n, n_quarantined=n_q, n_review=n_r, decision=dec_summary, suspected=bool(batch_reasons),
            reasons=tuple(batch_reasons), detectors=tuple(summaries), quarantined=quarantined, review=review_rows,
            failures=tuple(failures), scores=None, reference=None)
        if out is not None:
            note("write")
            fitted = [det for name, det in zip(names, dets) if name in evidence_names]
            result = _write(result, spark, decided, scores, columns, evidence_names, Path(out), fit_rows, reasons, fitted, t)
        return result
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _score_frame(rows: np.ndarray, p: np.ndarray, best: np.ndarray, missing: np.ndarray, P: np.ndarray,
                 prefix: str = "") -> pd.DataFrame:
    """One row per scored row: its combined p-value and suspicion, strongest column, missing label,
    and each detector's suspicion (``s<j>``; :func:`poisonguard.evidence.suspicion_from_p`); the
    names after ``__pg_row`` carry ``prefix``."""
    out = {"p": p, "suspicion": np.round(_evidence.suspicion_from_p(p), 6), "best": best.astype(np.int32),
           "missing": missing.astype(bool)}
    for j in range(P.shape[1]):
        out[f"s{j}"] = np.round(_evidence.suspicion_from_p(P[:, j]), 6)
    return pd.DataFrame({"__pg_row": rows, **{prefix + k: v for k, v in out.items()}})


def _score_schema(D: int, prefix: str = "") -> str:
    """The Spark schema (DDL) of :func:`_score_frame`'s columns after ``__pg_row``."""
    return (f"{prefix}p double, {prefix}suspicion double, {prefix}best int, {prefix}missing boolean"
            + "".join(f", {prefix}s{j} double" for j in range(D)))


def _combine(P: np.ndarray, sparse: list[bool], gating: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Combined p-value of each row over the gating columns of ``P`` (as :func:`poisonguard.evidence.decide`)
    and the column of the strongest of them."""
    n = P.shape[0]
    g = np.flatnonzero(np.asarray(gating, dtype=bool))
    if g.size == 0:
        return np.ones(n), np.zeros(n, dtype=np.int32)
    Pg = P[:, g]
    tested = _evidence.tested_mask(Pg, [sparse[j] for j in g.tolist()])
    return _evidence.combine_pvalues(Pg, tested), g[Pg.argmin(axis=1)].astype(np.int32)


def _partitions(df: Any) -> int:
    """Partitions of ``df`` (on Spark Connect, which has no RDDs: its input files, one partition each at least)."""
    if not is_connect(df.sparkSession):
        return int(df.rdd.getNumPartitions())
    return len(df.inputFiles())


def _plainv(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _row_values(df: Any, rows: np.ndarray, cols: list[str]) -> dict[int, dict[str, Any]]:
    from pyspark.sql import functions as F

    if not cols:
        return {}
    got = df.filter(F.col("__pg_row").isin([int(r) for r in rows.tolist()])).select("__pg_row", *cols).collect()
    return {int(r["__pg_row"]): {c: r[c] for c in cols} for r in got}


def _scores_new(det: Any) -> bool:
    """Whether ``det`` gives rows it was not fitted on evidence (:meth:`~poisonguard.detectors.BaseDetector.pvalues_new`)."""
    from ..detectors import BaseDetector
    from ..reference import can_score_new

    own = (type(det).pvalues_new is not BaseDetector.pvalues_new
           or type(det).scan_pvalues_new is not BaseDetector.scan_pvalues_new)
    default = type(det)._pvalues is BaseDetector._pvalues and can_score_new(det)
    return own or default


def _write(result: Any, spark: Any, decided: Any, scores: Any, columns: list[str], evidence_names: list[str], out: Path,
           fit_rows: np.ndarray, reasons: list[list[str]], fitted: Sequence[Any], threshold: float) -> Any:
    """Write the output set: report.json, timings.json, and the Parquet datasets scores/, clean/, quarantine/.

    As on pandas, what the detectors mask (the sensitive-data scanner's findings) is masked in the
    data written (in partitions, :meth:`~poisonguard.detectors.BaseDetector.redactor`), in the
    reasons and in every string of report.json."""
    from pyspark.sql import functions as F

    from .._io import atomic_write_json
    from .._outdir import output_set
    from .._result import jsonable
    from ..scan import decision_lead, scrub_strings

    names = {"report": "report.json", "scores": "scores", "clean": "clean", "quarantine": "quarantine",
             "timings": "timings.json"}
    result = dataclasses.replace(result, outputs={k: str(out / v) for k, v in names.items()})

    scored = scores.select(ROW, "suspicion", (F.col("decision") == "quarantine").alias("flagged"), "decision",
                           F.col("p").alias("p_value"), *[F.col(f"s{j}").alias(name) for j, name in enumerate(evidence_names)])

    def scrub(texts: list[str]) -> list[str]:
        for det in fitted:
            texts = det.redact_text(texts)
        return texts

    redactors = [r for r in (det.redactor() for det in fitted) if r is not None]

    def masked(frame: Any) -> Any:  # the data's columns, masked in partitions
        if not redactors:
            return frame

        def apply(batches: Any) -> Any:
            for chunk in batches:
                for r in redactors:
                    chunk = r(chunk)
                yield chunk

        return frame.mapInPandas(apply, frame.schema)

    fit_reasons = pd.DataFrame({"__pg_row": fit_rows, "__pg_reasons": scrub(["; ".join(r) for r in reasons])})
    fit_reasons = fit_reasons[fit_reasons["__pg_reasons"] != ""]
    reason_df = spark.createDataFrame(fit_reasons, schema="__pg_row long, __pg_reasons string")
    joined = decided.select(*columns, "__pg_row", "__pg_p", "__pg_suspicion", "__pg_decision", "__pg_best",
                            "__pg_missing")
    out_row = "row" if "row" not in columns else "pg_row"
    with output_set(out, commit=names["report"]) as stage:
        scored.orderBy(ROW).write.parquet(str(stage / names["scores"]))
        masked(joined.filter(F.col("__pg_decision") != "quarantine").orderBy("__pg_row").select(*columns)) \
            .write.parquet(str(stage / names["clean"]))
        names_ = list(evidence_names) or ["no detector"]

        def with_reasons(batches: Any) -> Any:  # the report's first reason, then the fit set's own
            for chunk in batches:
                given = chunk.pop("__pg_reasons")
                out = []
                for p, b, m, g in zip(chunk.pop("__pg_p").tolist(), chunk.pop("__pg_best").tolist(),
                                      chunk.pop("__pg_missing").tolist(), given.tolist()):
                    own = g if isinstance(g, str) else ""  # the fit set's reasons (a missing label among them)
                    lead = decision_lead("quarantine", p, names_[b], threshold)
                    out.append((own or "label missing") if m else (f"{lead}; {own}" if own else lead))
                chunk["reasons"] = out
                yield chunk

        q0 = (joined.filter(F.col("__pg_decision") == "quarantine").join(reason_df, "__pg_row", "left")
              .orderBy("__pg_row")
              .select(*columns, F.col("__pg_row").alias(out_row), F.col("__pg_suspicion").alias("suspicion"),
                      "__pg_p", "__pg_best", "__pg_missing", "__pg_reasons"))
        q = q0.mapInPandas(with_reasons, q0.drop("__pg_p", "__pg_best", "__pg_missing", "__pg_reasons").schema
                           .add("reasons", "string"))
        masked(q).write.parquet(str(stage / names["quarantine"]))
        atomic_write_json(stage / names["report"], jsonable(scrub_strings(result.to_dict(), scrub)))
        atomic_write_json(stage / names["timings"], result.timings())
    return result
