"""The data I/O layer (issue 16, shape 2): one format table for reading, writing, hashing and the
reports; every supported suffix round-trips; compressed outputs really are compressed;
``as_dataset`` and ``TabularDataset.take``; no module outside ``poisonguard.data`` reaches into a
dataset's private caches."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poisonguard.data import TabularDataset, detect_format, load_dataset, write_frame
from poisonguard.errors import DataError, SchemaError, UsageError

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit" / "poisonguard"

# every file name ending the loader accepts, written out here so the table cannot lose one unseen
SUFFIXES = [f"{fmt}{comp}" for fmt in (".csv", ".txt", ".tsv", ".jsonl", ".ndjson")
            for comp in ("", ".gz", ".bz2", ".xz", ".zst")] + [".parquet", ".pq"]
MAGIC = {".gz": b"\x1f\x8b", ".bz2": b"BZh", ".xz": b"\xfd7zXZ\x00", ".zst": b"\x28\xb5\x2f\xfd",
         ".parquet": b"PAR1", ".pq": b"PAR1"}


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    text = np.array(["plain", "a,b", 'say "hi"', "é ü ß", "tab\tin"], dtype=object)[rng.integers(0, 5, n)]
    x = rng.normal(size=n)
    x[::9] = np.nan
    return pd.DataFrame({"id": np.arange(n), "x": x, "k": rng.integers(0, 4, n), "s": text,
                         "y": np.where(rng.random(n) < 0.5, "p", "q")})


def _write(frame: pd.DataFrame, path: Path) -> Path:
    fmt, comp = detect_format(path)
    write_frame(frame, path, fmt, comp)
    return path


def _compression_of(suffix: str) -> str | None:
    return next((c for c in (".gz", ".bz2", ".xz", ".zst") if suffix.endswith(c)), None)


def test_the_table_lists_exactly_the_suffixes_tested():
    from poisonguard.data import supported_suffixes

    assert sorted(supported_suffixes()) == sorted(SUFFIXES)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_suffix_round_trips_read_write_read(tmp_path, suffix):
    first = tmp_path / f"first{suffix}"
    _write(_frame(), first)
    ds = load_dataset(first, label="y", id_column="id")
    fmt = {"txt": "csv", "ndjson": "jsonl", "pq": "parquet"}.get(suffix.split(".")[1], suffix.split(".")[1])
    comp = _compression_of(suffix)
    assert (ds.format, ds.compression) == (fmt, comp[1:] if comp else None)
    again = tmp_path / f"again{suffix}"
    write_frame(ds.frame, again, ds.format, ds.compression)
    back = load_dataset(again, label="y", id_column="id")
    pd.testing.assert_frame_equal(back.frame, ds.frame)
    assert (back.row_digests() == ds.row_digests()).all()
    original = TabularDataset.from_frame(_frame(), label="y")
    if fmt == "jsonl":  # pandas' JSON writer spells floats with at most 15 decimals
        np.testing.assert_allclose(back.frame["x"], original.frame["x"], rtol=1e-14, atol=1e-15)
        cols = ["id", "k", "s", "y"]
        assert (back.row_digests(cols) == original.row_digests(cols)).all()
    else:
        assert (back.row_digests() == original.row_digests()).all()


@pytest.mark.parametrize("suffix", [s for s in SUFFIXES if s in MAGIC or _compression_of(s)])
def test_compressed_outputs_really_are_compressed(tmp_path, suffix):
    p = _write(_frame(), tmp_path / f"out{suffix}")
    magic = MAGIC[_compression_of(suffix) or suffix]
    assert p.read_bytes()[:len(magic)] == magic


def test_plain_outputs_are_plain_text(tmp_path):
    for suffix in (".csv", ".tsv", ".jsonl"):
        head = _write(_frame(), tmp_path / f"out{suffix}").read_bytes()[:4]
        assert head in (b"id,x", b"id\tx", b'{"id')


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".ndjson.xz", ".jsonl.bz2"])
def test_compressed_json_lines_inputs_load(tmp_path, suffix):
    import bz2
    import gzip
    import lzma

    import pyarrow as pa

    text = _frame().to_json(orient="records", lines=True).encode()
    p = tmp_path / f"in{suffix}"
    if suffix.endswith(".zst"):
        with pa.CompressedOutputStream(str(p), "zstd") as out:
            out.write(text)
    else:
        p.write_bytes({".gz": gzip.compress, ".xz": lzma.compress, ".bz2": bz2.compress}[_compression_of(suffix)](text))
    ds = load_dataset(p, label="y")
    assert ds.n_rows == 60 and ds.compression == _compression_of(suffix)[1:]


def test_write_frame_takes_the_format_from_the_name(tmp_path):
    p = write_frame(_frame(), tmp_path / "d.ndjson.xz")
    assert p.read_bytes()[:6] == MAGIC[".xz"] and load_dataset(p).format == "jsonl"


def test_writing_refuses_unknown_compression_and_compressed_parquet(tmp_path):
    with pytest.raises(DataError, match="cannot write 'lz4' compression"):
        write_frame(_frame(), tmp_path / "o.csv", "csv", "lz4")
    with pytest.raises(DataError, match="compress themselves"):
        write_frame(_frame(), tmp_path / "o.parquet", "parquet", "gz")
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("suffix", [".csv.zst", ".jsonl.gz", ".tsv.xz", ".ndjson.zst"])
def test_reports_and_hashing_read_every_compression(tmp_path, suffix):
    from poisonguard.provenance import tabular_summary
    from poisonguard.reports._common import read_columns, row_lines

    p = _write(_frame(), tmp_path / f"d{suffix}")
    assert row_lines(p, [0, 59]) == {0: 2, 59: 61} if "csv" in suffix or "tsv" in suffix else {0: 1, 59: 60}
    cols = read_columns(p, ["s"])
    assert cols is not None and list(cols.columns) == ["s"] and len(cols) == 60
    summary = tabular_summary(p)
    assert summary is not None and summary["rows"] == 60 and summary["compression"] == _compression_of(suffix)[1:]


def test_scan_writes_compressed_json_lines_outputs(tmp_path, cli):
    data = _write(_frame(), tmp_path / "in.jsonl.zst")
    rc, _, err = cli("scan", data, "--detectors", "duplicates", "--out", tmp_path / "out")
    assert rc == 0, err
    for stem in ("clean", "quarantine"):
        out = tmp_path / "out" / f"{stem}.jsonl.zst"
        assert out.read_bytes()[:4] == MAGIC[".zst"]
    assert load_dataset(tmp_path / "out" / "clean.jsonl.zst").n_rows == 60


# -- as_dataset ------------------------------------------------------------------------------------
def test_as_dataset_takes_a_path_a_frame_or_a_dataset(tmp_path):
    from poisonguard.data import as_dataset

    frame = _frame()
    p = _write(frame, tmp_path / "d.csv.gz")
    from_path = as_dataset(p, label="y")
    from_frame = as_dataset(frame, label="y")
    assert from_path.path == p and from_path.compression == "gz" and from_frame.path is None
    assert (from_path.row_digests() == from_frame.row_digests()).all()
    assert as_dataset(from_path) is from_path  # nothing asked: the dataset itself
    assert as_dataset(from_path, label="y") is from_path
    with pytest.raises(UsageError, match="the canary must be a file path, a pandas DataFrame or a TabularDataset; got list"):
        as_dataset([1, 2], what="the canary")


def test_as_dataset_honours_label_and_id_of_a_dataset(tmp_path):
    from poisonguard.data import as_dataset

    p = _write(_frame(), tmp_path / "d.parquet")
    plain = load_dataset(p, kinds={"k": "categorical"})
    ds = as_dataset(plain, label="y", id_column="id")
    assert (ds.label, ds.id_column, ds.kinds["y"], ds.kinds["id"]) == ("y", "id", "label", "id")
    assert ds.kinds["k"] == "categorical"  # the caller's kinds kept
    assert (ds.path, ds.format, ds.sha256) == (plain.path, "parquet", plain.sha256)
    relabelled = as_dataset(ds, label="k")
    assert relabelled.label == "k" and relabelled.kinds["y"] != "label" and relabelled.id_column == "id"
    with pytest.raises(SchemaError, match="no label column 'nope'"):
        as_dataset(plain, label="nope")
    one_class = TabularDataset.from_frame(pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "a"]}), label="y")
    with pytest.raises(DataError, match="single class"):
        as_dataset(one_class, require_classes=2)


# -- TabularDataset.take ----------------------------------------------------------------------------
def test_take_keeps_the_encoding_encoder_and_digests():
    ds = TabularDataset.from_frame(_frame(), label="y", id_column="id")
    X, digests = ds.encode(), ds.row_digests()
    rows = np.array([5, 1, 40])
    sub = ds.take(rows)
    assert sub.n_rows == 3 and sub.frame["id"].tolist() == [5, 1, 40] and sub.frame.index.tolist() == [0, 1, 2]
    assert sub.encoder is ds.encoder and np.array_equal(sub.encode(), X[rows])
    assert np.array_equal(sub.row_digests(), digests[rows])
    assert (sub.label, sub.id_column, sub.kinds, sub.path) == (ds.label, ds.id_column, ds.kinds, ds.path)
    mask = np.zeros(ds.n_rows, dtype=bool)
    mask[[2, 3]] = True
    assert ds.take(mask).frame["id"].tolist() == [2, 3]
    assert ds.n_rows == 60 and ds.encode() is X  # the original is untouched
    with pytest.raises(DataError, match="out of range"):
        ds.take([60])


def test_take_before_encoding_encodes_the_subset_alone():
    from poisonguard.data import Encoder

    ds = TabularDataset.from_frame(_frame(), label="y")
    sub = ds.take(np.arange(10))
    assert np.array_equal(sub.encode(), Encoder().fit(sub).transform(sub))
    assert not np.array_equal(ds.encode()[:10], sub.encode())  # the whole is scaled on all its rows


def test_replace_does_not_carry_stale_caches():
    import dataclasses

    ds = TabularDataset.from_frame(_frame(), label="y")
    ds.encode()
    other = dataclasses.replace(ds, kinds={**ds.kinds, "x": "other"})
    assert "x" not in other.encoder.columns_ and other.encode().shape[1] < ds.encode().shape[1]


def test_encoded_by_uses_the_given_encoder():
    from poisonguard.data import Encoder

    trusted = TabularDataset.from_frame(_frame().iloc[:30], label="y")
    enc = Encoder().fit(trusted)
    new = TabularDataset.from_frame(_frame(), label="y").encoded_by(enc)
    assert new.encoder is enc and np.array_equal(new.encode(), enc.transform(new))
    with pytest.raises(SchemaError, match="lacks columns"):
        TabularDataset.from_frame(pd.DataFrame({"y": ["a", "b"]})).encoded_by(enc)


def test_no_module_outside_the_data_layer_reaches_into_dataset_caches():
    private = {"_encoded", "_encoder", "_digests", "_check_label", "_check_learnable", "_with_roles"}
    reaches = []
    for path in TOOLKIT.rglob("*.py"):
        if "data" in path.relative_to(TOOLKIT).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                reaches.append(f"{path.relative_to(TOOLKIT)}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.keyword) and node.arg in private:
                reaches.append(f"{path.relative_to(TOOLKIT)}:{node.lineno} {node.arg}=")
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("data"):
                reaches += [f"{path.relative_to(TOOLKIT)}:{node.lineno} import {a.name}" for a in node.names
                            if a.name.startswith("_")]
    assert reaches == []


def test_suffix_knowledge_lives_in_the_format_table_only():
    """No module but the table spells the compression suffixes (the four places of issue 16)."""
    spelled = []
    for path in TOOLKIT.rglob("*.py"):
        if path.name == "_formats.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in (".gz", ".bz2", ".zst", ".xz", "zstd", "gz", "zst"):
                spelled.append(f"{path.relative_to(TOOLKIT)}:{node.lineno} {node.value!r}")
    assert spelled == []
