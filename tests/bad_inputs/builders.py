"""Small builders of the files the bad-input cases run on (so the repository carries no big files).

Each builder returns the bytes of one file, or is a setup function ``setup(tmp)`` that makes
files (keys, manifests, links) with poisonguard's own library in the case's folder.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd


def frame(n: int = 40, *, seed: int = 0, classes: tuple[str, ...] = ("no", "yes")) -> pd.DataFrame:
    """``n`` rows: two numeric features, one categorical, a label ``y``."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n).round(4), "b": rng.normal(size=n).round(4),
                         "c": rng.choice(["red", "green", "blue"], n), "y": rng.choice(list(classes), n)})


def csv(df: pd.DataFrame | None = None, *, sep: str = ",", lineterminator: str = "\n") -> bytes:
    df = frame() if df is None else df
    return df.to_csv(index=False, sep=sep, lineterminator=lineterminator).encode("utf-8")


def good() -> bytes:
    return csv()


def jsonl(df: pd.DataFrame | None = None) -> bytes:
    df = frame() if df is None else df
    return df.to_json(orient="records", lines=True).encode("utf-8")


def parquet(df: pd.DataFrame | None = None) -> bytes:
    buf = io.BytesIO()
    (frame() if df is None else df).to_parquet(buf, index=False)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def bz2(data: bytes) -> bytes:
    import bz2 as _bz2

    return _bz2.compress(data)


def xz(data: bytes) -> bytes:
    import lzma

    return lzma.compress(data)


def nested_parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"s": pa.array([{"x": i} for i in range(20)]), "a": list(range(20)),
                             "y": ["no", "yes"] * 10}), buf)
    return buf.getvalue()


def with_column(name: str, values) -> bytes:
    df = frame()
    df[name] = values
    return csv(df)


def late_latin1() -> bytes:
    """Valid UTF-8 for the first ~100 KiB, then one Latin-1 byte in the label column."""
    return csv(frame(2500)) + b"0.1,0.2,red,caf\xe9\n"


def latin1_after_cut_character() -> bytes:
    """A 2-byte UTF-8 character straddling the 1 MiB read boundary, then a Latin-1 byte at offset 1048588."""
    head = b"a,y\n" + b"1,x\n" * ((1 << 20) // 4 - 1) + b"1,"
    return head[:(1 << 20) - 1] + "é".encode() + b"\n1,ok\n2,caf\xe9\n"


def wide(columns: int = 5000, rows: int = 12) -> bytes:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.integers(0, 9, size=(rows, columns)), columns=[f"f{i}" for i in range(columns)])
    df["y"] = ["no", "yes"] * (rows // 2)
    return csv(df)


def huge_field() -> bytes:
    df = frame(20)
    df["note"] = "short"
    df.loc[3, "note"] = "x" * 2_000_000
    return csv(df)


def continuous_label() -> bytes:
    df = frame(200)
    df["y"] = np.random.default_rng(1).normal(size=200)
    return csv(df)


def many_classes(rows: int = 12000, classes: int = 10000) -> bytes:
    rng = np.random.default_rng(0)
    return csv(pd.DataFrame({"a": rng.normal(size=rows).round(3), "y": rng.integers(0, classes, rows)}))


def int_id_label() -> bytes:
    df = frame(60)
    df["y"] = range(60)
    return csv(df)


def singleton_class() -> bytes:
    df = frame(40)
    df.loc[7, "y"] = "maybe"
    return csv(df)


def duplicated_rows() -> bytes:
    """A table whose last rows repeat the first with the other label (flagged by ``duplicates``)."""
    df = frame(30)
    dup = df.head(4).copy()
    dup["y"] = dup["y"].map({"no": "yes", "yes": "no"})
    out = pd.concat([df, dup], ignore_index=True)
    out.loc[[0, 1], "y"] = None  # a missing label is always quarantined: the quarantine has rows to check
    return csv(out)


def clashing_names() -> bytes:
    df = frame(30)
    df["row"] = range(30)
    df["suspicion"] = 0.5
    df["reasons"] = "none"
    dup = df.head(4).copy()
    dup["y"] = dup["y"].map({"no": "yes", "yes": "no"})
    out = pd.concat([df, dup], ignore_index=True)
    out.loc[[0, 1], "y"] = None  # a missing label is always quarantined: the quarantine has rows to check
    return csv(out)


FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@HYPERLINK(\"http://x\")")


def formulas() -> bytes:
    df = frame(30)
    df["c"] = [FORMULAS[i % len(FORMULAS)] for i in range(30)]
    dup = df.head(4).copy()
    dup["y"] = dup["y"].map({"no": "yes", "yes": "no"})
    out = pd.concat([df, dup], ignore_index=True)
    out.loc[[0, 1], "y"] = None  # a missing label is always quarantined: the quarantine has rows to check
    return csv(out)


# -- setups (files made by the library) -------------------------------------------------------------
def keys(tmp: Path) -> None:
    from poisonguard.provenance import generate_keypair

    generate_keypair(tmp / "k")


def signed_manifest(tmp: Path) -> None:
    """data/a.csv, data/b.csv, keys in k/, and m.json signed by k/poisonguard.key."""
    from poisonguard.provenance import create_manifest

    keys(tmp)
    create_manifest(["data"], tmp / "m.json", key=tmp / "k" / "poisonguard.key", base_dir=tmp)


def unsigned_manifest(tmp: Path) -> None:
    from poisonguard.provenance import create_manifest

    create_manifest(["data"], tmp / "m.json", base_dir=tmp)


def old_manifest_in_data(tmp: Path) -> None:
    """data/m.json: an earlier manifest of data/ inside it (made in 2020, so the new one differs)."""
    import datetime as dt

    from poisonguard.provenance import create_manifest

    create_manifest(["data"], tmp / "data" / "m.json", base_dir=tmp,
                    created=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))


def tampered_manifest(tmp: Path) -> None:
    """A signed manifest whose payload was changed after signing (the signature no longer fits)."""
    import base64
    import json

    signed_manifest(tmp)
    env = json.loads((tmp / "m.json").read_text())
    payload = base64.b64decode(env["payload"]).replace(b"data/b.csv", b"data/c.csv")
    env["payload"] = base64.b64encode(payload).decode()
    (tmp / "m.json").write_text(json.dumps(env))


def signed_then_linked_folder(tmp: Path) -> None:
    signed_manifest(tmp)
    (tmp / "outside").mkdir()
    (tmp / "outside" / "poison.csv").write_bytes(good())
    os.symlink(tmp / "outside", tmp / "data" / "more")


def signed_then_file_to_link(tmp: Path) -> None:
    signed_manifest(tmp)
    (tmp / "outside.csv").write_bytes((tmp / "data" / "a.csv").read_bytes())
    (tmp / "data" / "a.csv").unlink()
    os.symlink(tmp / "outside.csv", tmp / "data" / "a.csv")


def two_manifests(tmp: Path) -> None:
    from poisonguard.provenance import create_manifest

    signed_manifest(tmp)
    (tmp / "data" / "c.csv").write_bytes(good())
    create_manifest(["data"], tmp / "m2.json", key=tmp / "k" / "poisonguard.key", base_dir=tmp)


def suite(tmp: Path) -> None:
    from poisonguard.validation import infer_suite, write_suite

    write_suite(infer_suite(tmp / "d.csv", label="y", name="s"), tmp / "s.json")


def link_loop(tmp: Path) -> None:
    os.symlink(tmp / "loop_b", tmp / "loop_a")
    os.symlink(tmp / "loop_a", tmp / "loop_b")


def scan_report(tmp: Path) -> None:
    from poisonguard import scan

    scan(tmp / "d.csv", label="y", detectors=["duplicates"], out=tmp / "run")
