"""TabularDataset: formats, row ids, kinds, digests, encoding, and every bad input's message."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from poisonguard.data import Encoder, TabularDataset, load_dataset
from poisonguard.errors import DataError, SchemaError


def test_adult_kinds_missing_and_rows(adult_path):
    ds = load_dataset(adult_path, label="income")
    assert ds.n_rows == 32561
    assert ds.kinds["age"] == "numeric" and ds.kinds["workclass"] == "categorical"
    assert ds.kinds["income"] == "label"
    assert ds.frame["workclass"].isna().sum() > 1000  # "?" read as missing
    assert ds.rows[0] == 0 and ds.rows[-1] == ds.n_rows - 1
    assert len(ds.sha256) == 64
    assert list(ds.classes_) == ["<=50K", ">50K"]


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.csv.bz2", "d.csv.xz", "d.csv.zst", "d.parquet", "d.jsonl",
                                  "d.tsv"])
def test_formats_round_trip_same_digests(adult_small, write, name):
    ref = TabularDataset.from_frame(adult_small, label="income")
    ds = load_dataset(write(adult_small, name), label="income")
    assert ds.n_rows == len(adult_small)
    assert (ds.row_digests() == ref.row_digests()).all()
    np.testing.assert_allclose(ds.encode(), ref.encode(), atol=1e-6)


def _awkward_frame(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    f = rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, size=n)
    f[::7] = np.round(f[::7])  # integral floats are written 31.0, as pandas does
    f[::11] = np.nan
    text = np.array(["plain", "a,b", 'say "hi"', "two\nlines", "tab\tinside", "é ü ß", "", "cr\rhere"], dtype=object)
    s = text[rng.integers(0, len(text), size=n)]
    s[::13] = None
    return pd.DataFrame({
        "i": rng.integers(-10**12, 10**12, size=n), "ni": pd.array(np.where(np.arange(n) % 5 == 0, None, np.arange(n)),
                                                                  dtype="Int64"),
        "f": f, "f32": rng.normal(size=n).astype(np.float32), "s": s,
        "b": rng.random(n) < 0.5, "nb": pd.array(np.where(np.arange(n) % 3 == 0, None, np.arange(n) % 2 == 0),
                                                  dtype="boolean"),
        "y": np.where(rng.random(n) < 0.5, "p", "q")})


@pytest.mark.parametrize("sep", [",", "\t"])
def test_csv_writer_matches_pandas_and_reads_back(tmp_path, monkeypatch, sep):
    import io

    from poisonguard import data
    from poisonguard.data import _write

    frame = _awkward_frame()
    monkeypatch.setattr(_write, "CSV_CHUNK_ROWS", 1000)  # several chunks
    # pandas leaves a lone "\r" unquoted (its writer only quotes the line terminator "\n"), so its
    # text splits such a row in two when read back; ours quotes it. Compare on the rest.
    plain = frame[~frame["s"].fillna("").str.contains("\r")].reset_index(drop=True)
    ours = b"".join(data.csv_chunks(plain, sep)).decode()
    theirs = plain.to_csv(sep=sep, index=False, lineterminator="\n")
    back_ours = pd.read_csv(io.StringIO(ours), sep=sep, keep_default_na=False, na_values=[""])
    back_theirs = pd.read_csv(io.StringIO(theirs), sep=sep, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(back_ours, back_theirs)
    # the text itself differs only where a float is spelt another way (1e-05 / 0.00001)
    lines_o, lines_t = ours.split("\n"), theirs.split("\n")
    assert len(lines_o) == len(lines_t)
    same = [a == b for a, b in zip(lines_o, lines_t)]
    assert lines_o[0] == lines_t[0] and sum(same) > 0
    p = tmp_path / ("d.tsv" if sep == "\t" else "d.csv")
    data.write_frame(frame, p, "tsv" if sep == "\t" else "csv")  # every row, "\r" included
    ds = load_dataset(p, label="y")
    assert ds.n_rows == len(frame)
    assert (ds.row_digests() == TabularDataset.from_frame(frame, label="y").row_digests()).all()


def test_csv_writer_falls_back_to_pandas_for_other_types():
    from poisonguard.data import csv_chunks

    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-02", "2024-03-04"]), "cat": pd.Categorical(["a", "b"]),
                          "mixed": [1, "x"]})
    assert b"".join(csv_chunks(frame)).decode() == frame.to_csv(index=False, lineterminator="\n")
    assert b"".join(csv_chunks(frame.iloc[:0])).decode() == "when,cat,mixed\n"


def test_digest_independent_of_column_order_and_int_float():
    a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    b = pd.DataFrame({"y": ["a", "b"], "x": [1.0, 2.0]})
    da = TabularDataset.from_frame(a).row_digests()
    db = TabularDataset.from_frame(b).row_digests()
    assert (da == db).all() and da[0] != da[1]


def test_encode_is_finite_and_shared(adult_small):
    ds = TabularDataset.from_frame(adult_small, label="income")
    X = ds.encode()
    assert X.dtype == np.float32 and np.isfinite(X).all()
    assert X is ds.encode()  # computed once per dataset
    assert "income" not in " ".join(ds.encoder.columns_)
    assert "workclass=<missing>" in ds.encoder.columns_  # "?" cells get their own category
    missing_rows = ds.frame["workclass"].isna().to_numpy()
    j = ds.encoder.columns_.index("workclass=<missing>")
    assert (X[missing_rows, j] > 0).all() and (X[~missing_rows, j] == 0).all()


def test_encoder_caps_rare_categories():
    frame = pd.DataFrame({"c": [f"v{i % 50}" for i in range(500)], "x": np.arange(500.0)})
    enc = Encoder(max_categories=10).fit(TabularDataset.from_frame(frame))
    assert sum(c.startswith("c=") for c in enc.columns_) == 10


def test_id_and_text_columns_are_not_encoded():
    n = 50
    frame = pd.DataFrame({"customer_id": np.arange(n), "note": [f"free text number {i} about things" for i in range(n)],
                          "x": np.random.default_rng(0).normal(size=n), "y": ["a", "b"] * 25})
    ds = TabularDataset.from_frame(frame, label="y")
    assert ds.kinds["customer_id"] == "id" and ds.kinds["note"] == "text"
    assert ds.feature_columns == ["x"]


def test_input_file_never_modified(adult_small, write):
    p = write(adult_small, "in.csv")
    before = p.read_bytes()
    ds = load_dataset(p, label="income")
    ds.encode()
    ds.row_digests()
    assert p.read_bytes() == before


# -- bad input: one message that says what was wrong and what to do ------------------------------
def _bad(tmp_path, name: str, content: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(content)
    return str(p)


@pytest.mark.parametrize(
    ("name", "content", "label", "needle"),
    [
        ("empty.csv", b"", "y", "empty"),
        ("header_only.csv", b"x,y\n", "y", "no data rows"),
        ("binary.csv", b"x,y\n\x00\x01\x02\x03", "y", "binary"),
        ("ragged.csv", b"x,y\n1,a\n2\n3,b\n", "y", "ragged"),
        ("nolabel.csv", b"x,y\n1,a\n2,b\n", "income", "no label column 'income'"),
        ("allmissing.csv", b"x,y\n1,?\n2,\n3,NA\n", "y", "empty in every row"),
        ("notparquet.parquet", b"x,y\n1,a\n", "y", "not a Parquet file"),
        ("data.xlsx", b"PK\x03\x04", "y", "unknown file type"),
    ],
)
def test_bad_input_raises_data_error(tmp_path, name, content, label, needle):
    path = _bad(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        load_dataset(path, label=label, require_classes=2)
    msg = str(info.value)
    assert needle in msg
    assert "\n" not in msg


def test_single_class_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="single class"):
        load_dataset(_bad(tmp_path, "one.csv", b"x,y\n1,a\n2,a\n"), label="y", require_classes=2)
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.csv", label="y")


def test_unknown_label_lists_columns(tmp_path):
    with pytest.raises(SchemaError, match="the columns are: x, y"):
        load_dataset(_bad(tmp_path, "d.csv", b"x,y\n1,a\n2,b\n"), label="income")


def test_gzip_detected_by_extension(tmp_path):
    p = tmp_path / "d.csv.gz"
    p.write_bytes(gzip.compress(b"x,y\n1,a\n2,b\n3,a\n"))
    assert load_dataset(p, label="y").n_rows == 3


def test_encoder_extreme_floats_are_clipped_not_overflowed():
    from poisonguard.data import CLIP

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1e308, -1e308, np.inf], "z": [1e308, 1e308, 1e308, 0.0, 0.0, 1e308]})
    with np.errstate(all="raise"):
        X = Encoder().fit(TabularDataset.from_frame(frame)).transform(TabularDataset.from_frame(frame))
    assert X.dtype == np.float32 and np.isfinite(X).all() and np.abs(X).max() <= CLIP
    assert X[3, 0] == CLIP and X[4, 0] == -CLIP and X[:3, 0].max() < 10  # order kept, bulk unchanged
