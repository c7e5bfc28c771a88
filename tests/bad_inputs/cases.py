"""The shared bad-input corpus: one row per case, run by ``tests/test_bad_inputs.py``.

A case names the files to create in an empty folder (bytes from a builder of
:mod:`builders`, ``LINK(target)`` for a symbolic link, ``DIR`` for a folder), an optional setup
(files the library makes: keys, manifests), the command line (run in that folder), the exit
code it must end with, and a regular expression that the single line on standard error must
match (exit 2) or that standard output must match (exit 0 and 1). A new case is a new row.

Where a case shows behaviour that is right as it is, it asserts that documented behaviour:
a UTF-8 BOM or CRLF line ends are read fine (exit 0); a symbolic link given as the data file
is read through (exit 0); formula-like cells (``=cmd|...``) are data and are written back
verbatim, quoted as CSV needs (a CSV output is training data, not a spreadsheet: changing
cells would change what is trained on); a class with a single row is scanned (exit 0).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import builders as b

DIR = object()


@dataclasses.dataclass(frozen=True)
class LINK:
    target: str


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    exit: int
    match: str | None = None
    files: dict[str, Any] = dataclasses.field(default_factory=lambda: {"d.csv": b.good})
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    check: Callable[[Path, str], None] | None = None
    #: files the command is meant to change (``manifest sign`` without --out signs in place)
    modifies: tuple[str, ...] = ()
    #: exit code when running as root, for cases about file permissions root is not bound by
    root_exit: int | None = None


def C(name: str, *argv: str, exit: int, match: str | None = None, **kw: Any) -> Case:
    return Case(name, tuple(argv), exit, match, **kw)


CHEAP = ("-d", "duplicates")
SCAN = ("scan", "d.csv", "-l", "y", *CHEAP)
MANIFEST_DATA = {"data/a.csv": b.good, "data/b.csv": lambda: b.csv(b.frame(seed=1))}


def _quarantine_has(*cols: str) -> Callable[[Path, str], None]:
    def check(tmp: Path, out: str) -> None:
        import pandas as pd

        q = pd.read_csv(tmp / "out" / "quarantine.csv")
        assert set(cols) <= set(q.columns), list(q.columns)
        assert len(q) > 0
    return check


def _formulas_verbatim(tmp: Path, out: str) -> None:
    import pandas as pd

    for name in ("clean.csv", "quarantine.csv"):
        f = pd.read_csv(tmp / "out" / name)
        assert set(f["c"]) <= set(b.FORMULAS), name
        if "reasons" in f:  # text poisonguard writes itself never starts like a formula
            assert not f["reasons"].astype(str).str.match(r"^[=+\-@]").any()


def _exists(*paths: str) -> Callable[[Path, str], None]:
    def check(tmp: Path, out: str) -> None:
        for p in paths:
            assert (tmp / p).exists(), p
    return check


def _not_exists(*paths: str) -> Callable[[Path, str], None]:
    def check(tmp: Path, out: str) -> None:
        for p in paths:
            assert not (tmp / p).exists(), p
    return check


CASES: list[Case] = [
    # -- scan: what the file holds ------------------------------------------------------------------
    C("scan-empty-file", *SCAN, exit=2, match=r"d\.csv: the file is empty", files={"d.csv": b""}),
    C("scan-whitespace-only", *SCAN, exit=2, match=r"empty", files={"d.csv": b"  \n\n \n"}),
    C("scan-header-only", *SCAN, exit=2, match=r"no data rows|empty", files={"d.csv": b"a,b,y\n"}),
    C("scan-header-only-no-newline", *SCAN, exit=2, match=r"no data rows|empty", files={"d.csv": b"a,b,y"}),
    C("scan-one-row-cheap", *SCAN, exit=0, match=r"1 rows", files={"d.csv": b"a,b,y\n1,2,x\n"}),
    C("scan-one-row-label-flip", "scan", "d.csv", "-l", "y", "-d", "label_flip", exit=2,
      match=r"single class|labelled rows", files={"d.csv": b"a,b,y\n1,2,x\n"}),
    C("scan-two-rows-default", "scan", "d.csv", "-l", "y", exit=2, match=r"only 2 labelled rows.*at least 10",
      files={"d.csv": b"a,b,y\n1,2,x\n3,1,z\n"}),
    C("scan-nine-rows", "scan", "d.csv", "-l", "y", "-d", "label_flip", exit=2, match=r"only 9 labelled rows",
      files={"d.csv": lambda: b.csv(b.frame(9, classes=("p", "q")))}),
    C("scan-ragged-long-row", *SCAN, exit=2, match=r"ragged rows", files={"d.csv": b"a,b,y\n1,2,x\n1,2,3,x\n"}),
    C("scan-ragged-short-row", *SCAN, exit=2, match=r"ragged rows", files={"d.csv": b"a,b,y\n1,2,x\n1,x\n"}),
    C("scan-semicolon-delimiter", *SCAN, exit=2, match=r"no label column 'y'.*a;b;c;y",
      files={"d.csv": lambda: b.csv(sep=";")}),
    C("scan-tab-in-csv", *SCAN, exit=2, match=r"no label column 'y'", files={"d.csv": lambda: b.csv(sep="\t")}),
    C("scan-tsv-ok", "scan", "d.tsv", "-l", "y", *CHEAP, exit=0, match=r"clean",
      files={"d.tsv": lambda: b.csv(sep="\t")}),
    C("scan-bom-read-fine", *SCAN, exit=0, match=r"40 rows", files={"d.csv": lambda: b"\xef\xbb\xbf" + b.good()}),
    C("scan-crlf-read-fine", *SCAN, exit=0, match=r"40 rows",
      files={"d.csv": lambda: b.csv(lineterminator="\r\n")}),
    C("scan-crlf-and-bom", *SCAN, exit=0, match=r"40 rows",
      files={"d.csv": lambda: b"\xef\xbb\xbf" + b.csv(lineterminator="\r\n")}),
    C("scan-huge-field", "scan", "d.csv", "-l", "y", *CHEAP, "--out", "out", exit=0, match=r"20 rows",
      files={"d.csv": b.huge_field}),
    C("scan-5000-columns", "scan", "d.csv", "-l", "y", *CHEAP, exit=0, match=r"12 rows", files={"d.csv": b.wide}),
    C("scan-inf-values", "scan", "d.csv", "-l", "y", "-d", "outliers", exit=0, match=r"rows",
      files={"d.csv": lambda: b.with_column("a", [float("inf"), float("-inf")] + [1.0] * 38)}),
    C("scan-nan-column", "scan", "d.csv", "-l", "y", "-d", "outliers", exit=0, match=r"40 rows",
      files={"d.csv": lambda: b.with_column("z", [None] * 40)}),
    C("scan-constant-column", "scan", "d.csv", "-l", "y", "-d", "outliers", exit=0, match=r"40 rows",
      files={"d.csv": lambda: b.with_column("z", [7] * 40)}),
    C("scan-unicode-names", "scan", "d.csv", "-l", "étiquette", *CHEAP, "--out", "out", exit=0, match=r"40 rows",
      files={"d.csv": lambda: b.csv(b.frame().rename(columns={"a": "größe", "b": "数量", "y": "étiquette"}))}),
    C("scan-whitespace-names", "scan", "d.csv", "-l", " y ", *CHEAP, exit=0, match=r"40 rows",
      files={"d.csv": lambda: b.csv(b.frame().rename(columns={"a": " a", "b": "b ", "y": " y "}))}),
    C("scan-label-name-needs-exact-spaces", "scan", "d.csv", "-l", "y", *CHEAP, exit=2, match=r"no label column 'y'",
      files={"d.csv": lambda: b.csv(b.frame().rename(columns={"y": " y "}))}),
    C("scan-empty-column-name", *SCAN, exit=0, match=r"40 rows",
      files={"d.csv": lambda: b.csv(b.frame().rename(columns={"a": ""}))}),
    C("scan-names-clash-with-outputs", "scan", "d.csv", "-l", "y", *CHEAP, "--out", "out", exit=0, match=r"flagged",
      files={"d.csv": b.clashing_names},
      check=_quarantine_has("row", "suspicion", "reasons", "pg_row", "pg_suspicion", "pg_reasons")),
    C("scan-formula-cells-verbatim", "scan", "d.csv", "-l", "y", *CHEAP, "--out", "out", exit=0, match=r"flagged",
      files={"d.csv": b.formulas}, check=_formulas_verbatim),
    C("scan-duplicate-column-names", *SCAN, exit=2, match=r"duplicate column names \['a'\]",
      files={"d.csv": b"a,a,y\n1,2,x\n3,4,z\n"}),
    C("scan-parquet-ok", "scan", "d.parquet", "-l", "y", *CHEAP, exit=0, match=r"40 rows",
      files={"d.parquet": b.parquet}),
    C("scan-non-utf8-head", *SCAN, exit=2, match=r"not UTF-8.*offset \d+.*re-encode",
      files={"d.csv": b"a,b,y\n1,2,caf\xe9\n" + b"1,2,x\n" * 10}),
    C("scan-non-utf8-after-64k", *SCAN, exit=2, match=r"not UTF-8 text \(bad byte at offset \d+, line 2502, in "
      r"column 'y'\); re-encode", files={"d.csv": b.late_latin1}, check=_not_exists("out")),
    C("scan-non-utf8-after-64k-out", *SCAN, "--out", "out", exit=2, match=r"not UTF-8.*line 2502",
      files={"d.csv": b.late_latin1}, check=_not_exists("out/clean.csv")),
    C("scan-non-utf8-gz", "scan", "d.csv.gz", "-l", "y", *CHEAP, exit=2, match=r"not UTF-8.*line 2502",
      files={"d.csv.gz": lambda: b.gz(b.late_latin1())}),
    C("scan-utf16", *SCAN, exit=2, match=r"NUL|not UTF-8", files={"d.csv": lambda: b.good().decode().encode("utf-16")}),
    C("scan-nul-bytes", *SCAN, exit=2, match=r"binary bytes \(NUL\)", files={"d.csv": b"a,b,y\n1,\x00,x\n"}),
    C("scan-unknown-extension", "scan", "d.xlsx", "-l", "y", exit=2, match=r"unknown file type",
      files={"d.xlsx": b.good}),
    C("scan-missing-file", "scan", "nope.csv", "-l", "y", exit=2, match=r"nope\.csv: no such file", files={}),
    C("scan-folder-as-data", "scan", "dd", "-l", "y", exit=2, match=r"is a folder", files={"dd": DIR}),
    C("scan-dangling-link", *SCAN, exit=2, match=r"no such file", files={"d.csv": LINK("gone.csv")}),
    C("scan-link-read-through", "scan", "l.csv", "-l", "y", *CHEAP, exit=0, match=r"40 rows",
      files={"d.csv": b.good, "l.csv": LINK("d.csv")}),
    C("scan-unreadable-input", *SCAN, exit=2, match=r"cannot be read \(Permission denied\)",
      setup=lambda tmp: os.chmod(tmp / "d.csv", 0), root_exit=0),
    C("scan-gz-truncated", "scan", "d.csv.gz", "-l", "y", *CHEAP, exit=2, match=r"d\.csv\.gz: cannot be read",
      files={"d.csv.gz": lambda: b.gz(b.csv(b.frame(3000)))[:5000]}),
    C("scan-gz-not-gzip", "scan", "d.csv.gz", "-l", "y", *CHEAP, exit=2, match=r"cannot be read as a gz file",
      files={"d.csv.gz": b.good}),
    C("scan-gz-ok", "scan", "d.csv.gz", "-l", "y", *CHEAP, "--out", "out", exit=0, match=r"clean",
      files={"d.csv.gz": lambda: b.gz(b.good())}, check=_exists("out/clean.csv.gz")),
    C("scan-parquet-truncated", "scan", "d.parquet", "-l", "y", *CHEAP, exit=2, match=r"Parquet file cannot be read",
      files={"d.parquet": lambda: b.parquet()[:300]}),
    C("scan-parquet-not-parquet", "scan", "d.parquet", "-l", "y", *CHEAP, exit=2, match=r"not a Parquet file",
      files={"d.parquet": b.good}),
    C("scan-parquet-gz", "scan", "d.parquet.gz", "-l", "y", exit=2, match=r"compressed Parquet",
      files={"d.parquet.gz": lambda: b.gz(b.parquet())}),
    C("scan-jsonl-ok", "scan", "d.jsonl", "-l", "y", *CHEAP, exit=0, match=r"40 rows", files={"d.jsonl": b.jsonl}),
    C("scan-jsonl-malformed", "scan", "d.jsonl", "-l", "y", *CHEAP, exit=2, match=r"cannot be parsed as JSON Lines",
      files={"d.jsonl": b'{"a": 1, "y": "x"}\n{"a": 2, "y": \n'}),
    C("scan-jsonl-not-objects", "scan", "d.jsonl", "-l", "y", *CHEAP, exit=2, match=r"JSON Lines|no label column",
      files={"d.jsonl": b"[1,2]\n[3,4]\n"}),
    C("scan-jsonl-csv-content", "scan", "d.jsonl", "-l", "y", *CHEAP, exit=2, match=r"JSON Lines",
      files={"d.jsonl": b.good}),
    C("scan-jsonl-latin1", "scan", "d.jsonl", "-l", "y", *CHEAP, exit=2, match=r"not UTF-8",
      files={"d.jsonl": b'{"a": 1, "y": "x"}\n' * 5000 + b'{"a": 2, "y": "caf\xe9"}\n'}),
    C("scan-jsonl-gz-truncated", "scan", "d.jsonl.gz", "-l", "y", *CHEAP, exit=2, match=r"d\.jsonl\.gz",
      files={"d.jsonl.gz": lambda: b.gz(b.jsonl(b.frame(3000)))[:4000]}),
    # -- scan: the label ------------------------------------------------------------------------------
    C("scan-continuous-label", "scan", "d.csv", "-l", "y", exit=2, match=r"looks continuous.*bin it",
      files={"d.csv": b.continuous_label}),
    C("scan-continuous-label-outliers-only", "scan", "d.csv", "-l", "y", "-d", "outliers", exit=0, match=r"rows",
      files={"d.csv": b.continuous_label}),
    C("scan-integer-id-as-label", "scan", "d.csv", "-l", "y", exit=2, match=r"too many classes for the rows",
      files={"d.csv": b.int_id_label}),
    C("scan-10000-classes", "scan", "d.csv", "-l", "y", exit=2, match=r"too many classes.*at most 1000 classes",
      files={"d.csv": b.many_classes}),
    C("scan-single-class", "scan", "d.csv", "-l", "y", exit=2, match=r"single class",
      files={"d.csv": lambda: b.csv(b.frame(classes=("only",)))}),
    C("scan-class-with-one-row", "scan", "d.csv", "-l", "y", "-d", "label_flip", exit=0, match=r"40 rows",
      files={"d.csv": b.singleton_class}),
    C("scan-label-all-missing", "scan", "d.csv", "-l", "y", exit=2, match=r"empty in every row",
      files={"d.csv": lambda: b.with_column("y", [None] * 40)}),
    C("scan-label-missing-column", "scan", "d.csv", "-l", "nosuch", exit=2, match=r"no label column 'nosuch'"),
    C("scan-no-feature-columns", "scan", "d.csv", "-l", "y", "-d", "label_flip", exit=2, match=r"no feature columns",
      files={"d.csv": lambda: b.csv(b.frame(40)[["y"]].assign(id=range(40)))}),
    C("scan-needs-label", "scan", "d.csv", exit=2, match=r"need labels: pass --label"),
    C("scan-id-column-missing", *SCAN, "--id-column", "nosuch", exit=2, match=r"no id column 'nosuch'"),
    # -- scan: options ---------------------------------------------------------------------------------
    C("scan-skip-every-default", "scan", "d.csv", "-l", "y", "--skip",
      "label_flip,outliers,duplicates,backdoor,sensitive_data", exit=2, match=r"--skip leaves no detector to run"),
    C("scan-skip-unknown", *SCAN, "--skip", "nosuch", exit=2, match=r"unknown detector 'nosuch'"),
    C("scan-detectors-unknown", "scan", "d.csv", "-l", "y", "-d", "nosuch", exit=2, match=r"unknown detector 'nosuch'"),
    C("scan-detectors-empty-string", "scan", "d.csv", "-l", "y", "-d", ",", "--skip", "label_flip,outliers,"
      "duplicates,backdoor,sensitive_data", exit=2, match=r"no detector to run"),
    C("scan-set-unknown-detector", *SCAN, "--set", "nosuch.param=1", exit=2,
      match=r"--set .nosuch.param=1.: unknown detector .nosuch.; available detectors"),
    C("scan-set-detector-not-run", *SCAN, "--set", "label_flip.n_neighbors=5", exit=2,
      match=r"--set 'label_flip.n_neighbors=5': label_flip is not run"),
    C("scan-set-unknown-param", "scan", "d.csv", "-l", "y", "-d", "outliers", "--set", "outliers.nosuch=1", exit=2,
      match=r"unknown parameter\(s\) \['nosuch'\]"),
    C("scan-set-malformed-yaml", *SCAN, "--set", "duplicates.x=[1", exit=2, match=r"not valid YAML"),
    C("scan-set-no-equals", *SCAN, "--set", "duplicates.x", exit=2, match=r"expected DETECTOR\.PARAM=VALUE"),
    C("scan-set-no-dot", *SCAN, "--set", "x=1", exit=2, match=r"expected DETECTOR\.PARAM=VALUE"),
    C("scan-set-empty-param", *SCAN, "--set", "duplicates.=1", exit=2, match=r"expected DETECTOR\.PARAM=VALUE"),
    C("scan-set-bad-value", "scan", "d.csv", "-l", "y", "-d", "outliers", "--set", "outliers.contamination=7",
      exit=2, match=r"contamination"),
    C("scan-set-wrong-type", "scan", "d.csv", "-l", "y", "-d", "outliers", "--set", "outliers.contamination=abc",
      exit=2, match=r"contamination"),
    C("scan-reference-shift-without-reference", *SCAN, "--set", "reference_shift.x=1", exit=2,
      match=r"needs --reference"),
    C("scan-source-column-without-reference", *SCAN, "--source-column", "c", exit=2, match=r"needs a trusted reference"),
    C("scan-reference-missing", *SCAN, "--reference", "nope.csv", exit=2, match=r"nope\.csv: no such file"),
    C("scan-reference-other-columns", "scan", "d.csv", "-l", "y", "-d", "outliers", "--reference", "r.csv", exit=2,
      match=r"r\.csv|columns", files={"d.csv": b.good, "r.csv": b"x,y\n1,a\n2,b\n3,a\n"}),
    C("scan-seed-not-int", *SCAN, "--seed", "abc", exit=2, match=r"'--seed'.*not a valid integer"),
    C("scan-unknown-option", *SCAN, "--bogus", exit=2, match=r"No such option '--bogus'"),
    C("scan-no-arguments", "scan", exit=2, match=r"Missing argument 'DATA'"),
    C("scan-bad-format-option", *SCAN, "--format", "xml", exit=2, match=r"'--format'"),
    C("scan-source-date-epoch-unused", *SCAN, exit=0, match=r"clean", env={"SOURCE_DATE_EPOCH": "abc"}),
    C("unknown-subcommand", "scna", exit=2, match=r"No such command 'scna'"),
    # -- scan: params.yaml -------------------------------------------------------------------------------
    C("params-missing", *SCAN, "--params", "p.yaml", exit=2, match=r"p\.yaml: no such parameters file"),
    C("params-not-yaml", *SCAN, "--params", "p.yaml", exit=2, match=r"not valid YAML",
      files={"d.csv": b.good, "p.yaml": b"scan: [1, 2\n"}),
    C("params-top-list", *SCAN, "--params", "p.yaml", exit=2, match=r"expected a mapping",
      files={"d.csv": b.good, "p.yaml": b"- 1\n- 2\n"}),
    C("params-scan-not-mapping", *SCAN, "--params", "p.yaml", exit=2, match=r"section 'scan' must be a mapping",
      files={"d.csv": b.good, "p.yaml": b"scan: 5\n"}),
    C("params-detector-not-mapping", *SCAN, "--params", "p.yaml", exit=2, match=r"scan\.duplicates must be a mapping",
      files={"d.csv": b.good, "p.yaml": b"scan:\n  duplicates: 5\n"}),
    C("params-seed-not-int", *SCAN, "--params", "p.yaml", exit=2, match=r"scan\.seed must be a whole number",
      files={"d.csv": b.good, "p.yaml": b"scan:\n  seed: abc\n"}),
    C("params-detectors-not-list", "scan", "d.csv", "-l", "y", "--params", "p.yaml", exit=2,
      match=r"scan\.detectors must be a detector name or a list",
      files={"d.csv": b.good, "p.yaml": b"scan:\n  detectors: 5\n"}),
    C("params-detectors-unknown", "scan", "d.csv", "-l", "y", "--params", "p.yaml", exit=2,
      match=r"unknown detector 'nosuch'", files={"d.csv": b.good, "p.yaml": b"scan:\n  detectors: [nosuch]\n"}),
    C("params-skip-every-default", "scan", "d.csv", "-l", "y", "--params", "p.yaml", exit=2,
      match=r"no detector to run", files={"d.csv": b.good, "p.yaml": b"scan:\n  skip: [label_flip, outliers, "
                                          b"duplicates, backdoor, sensitive_data]\n"}),
    C("params-param-wrong-type", "scan", "d.csv", "-l", "y", "-d", "outliers", "--params", "p.yaml", exit=2,
      match=r"contamination", files={"d.csv": b.good, "p.yaml": b"scan:\n  outliers:\n    contamination: lots\n"}),
    C("params-not-utf8", *SCAN, "--params", "p.yaml", exit=2, match=r"p\.yaml",
      files={"d.csv": b.good, "p.yaml": b"scan:\n  seed: \xff\xfe\n"}),
    # -- scan: outputs -------------------------------------------------------------------------------------
    C("scan-out-overwrites-input-scores", "scan", "scores.csv", "-l", "y", *CHEAP, "--out", ".", exit=2,
      match=r"--out (\./)?scores\.csv: would overwrite the input scores\.csv", files={"scores.csv": b.good}),
    C("scan-out-overwrites-input-clean", "scan", "clean.csv", "-l", "y", *CHEAP, "--out", ".", exit=2,
      match=r"would overwrite the input clean\.csv", files={"clean.csv": b.good}),
    C("scan-out-overwrites-input-quarantine", "scan", "q/quarantine.jsonl", "-l", "y", *CHEAP, "--out", "q", exit=2,
      match=r"would overwrite the input", files={"q/quarantine.jsonl": b.jsonl}),
    C("scan-out-overwrites-report-json-params", *SCAN, "--params", "o/report.json", "--out", "o", exit=2,
      match=r"would overwrite the input o/report\.json \(--params\)",
      files={"d.csv": b.good, "o/report.json": b"scan: {}\n"}),
    C("scan-out-overwrites-reference", *SCAN, "--reference", "o/clean.csv", "--out", "o", exit=2,
      match=r"would overwrite the input o/clean\.csv \(--reference\)",
      files={"d.csv": b.good, "o/clean.csv": b.good}),
    C("scan-out-through-link-to-input", *SCAN, "--out", "o", exit=2, match=r"would overwrite the input",
      files={"d.csv": b.good, "o": DIR, "o/scores.csv": LINK("../d.csv")}),
    C("scan-out-is-file", *SCAN, "--out", "d.csv", exit=2, match=r"--out d\.csv: is the input|is a file"),
    C("scan-out-is-other-file", *SCAN, "--out", "x.txt", exit=2, match=r"--out x\.txt: is a file, not a folder",
      files={"d.csv": b.good, "x.txt": b"x"}),
    C("scan-out-below-file", *SCAN, "--out", "x.txt/sub", exit=2, match=r"x\.txt is a file",
      files={"d.csv": b.good, "x.txt": b"x"}),
    C("scan-out-symlink-loop", *SCAN, "--out", "loop_a", exit=2, match=r"--out loop_a", setup=b.link_loop),
    C("scan-out-unwritable", *SCAN, "--out", "ro/out", exit=2, match=r"not writable",
      files={"d.csv": b.good, "ro": DIR}, setup=lambda tmp: os.chmod(tmp / "ro", 0o555), root_exit=0),
    C("scan-out-under-proc", *SCAN, "--out", "/proc/version/out", exit=2, match=r"/proc/version is a file"),
    # /proc takes no new files, even from root (os.access says it would): the guard probes for real
    C("scan-out-in-proc", *SCAN, "--out", "/proc/pg-out", exit=2, match=r"--out /proc/pg-out: the folder /proc is "
      r"not writable"),
    C("keygen-out-dir-in-proc", "keygen", "--out-dir", "/proc/pg-keys", exit=2, match=r"/proc is not writable",
      files={}),
    C("infer-out-in-proc", "expectations", "infer", "d.csv", "--out", "/proc/pg.json", exit=2,
      match=r"/proc is not writable"),
    C("validate-out-in-proc", "validate", "d.csv", "--suite", "s.json", "--out", "/proc/pg-v", exit=2,
      match=r"/proc is not writable", setup=b.suite),
    C("attack-out-in-proc", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "/proc/pg.csv", exit=2,
      match=r"/proc is not writable"),
    C("create-report-in-proc", "manifest", "create", "data", "--out", "m.json", "--report", "/proc/pg.json", exit=2,
      match=r"/proc is not writable", files=MANIFEST_DATA, check=_not_exists("m.json")),
    C("gate-out-in-proc", "gate", "run/report.json", "--out", "/proc/pg-gate", exit=2, match=r"/proc is not writable",
      setup=b.scan_report),
    C("scan-out-ok-nested", *SCAN, "--out", "a/b/c", exit=0, match=r"clean", check=_exists("a/b/c/report.json")),
    # -- attack ----------------------------------------------------------------------------------------------
    C("attack-out-is-input", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "d.csv", exit=2,
      match=r"--out d\.csv: would overwrite the input d\.csv"),
    C("attack-out-is-input-via-dotdot", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "x/../d.csv",
      exit=2, match=r"would overwrite the input d\.csv", files={"d.csv": b.good, "x": DIR}),
    C("attack-truth-is-input", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "p.csv", "--truth",
      "d.csv", exit=2, match=r"--truth d\.csv: would overwrite the input d\.csv"),
    C("attack-default-truth-is-input", "attack", "p.truth.csv", "-l", "y", "-a", "random_flip", "--out",
      "p.poisoned.csv", exit=2, match=r"--truth p\.truth\.csv: would overwrite the input",
      files={"p.truth.csv": b.good}),
    C("attack-truth-json-is-input", "attack", "t.json.csv", "-l", "y", "-a", "random_flip", "--out", "p.csv",
      "--truth", "t.csv", exit=0, match=r"poisoned copy", files={"t.json.csv": b.good}),
    C("attack-truth-is-out", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "x.truth.csv", exit=2,
      match=r"--truth x\.truth\.csv: is also --out"),
    C("attack-jsonl-ok", "attack", "d.jsonl", "-l", "y", "-a", "random_flip", "--out", "p.jsonl", "--truth",
      "t/truth.csv", exit=0, match=r"truth mask: t/truth\.csv", files={"d.jsonl": b.jsonl},
      check=_exists("p.jsonl", "t/truth.json")),
    C("attack-out-is-folder", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "o", exit=2,
      match=r"--out o: is a folder", files={"d.csv": b.good, "o": DIR}),
    C("attack-out-unknown-type", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "p.xlsx", exit=2,
      match=r"unknown file type", check=_not_exists("p.xlsx")),
    C("attack-unknown-attack", "attack", "d.csv", "-l", "y", "-a", "nosuch", "--out", "p.csv", exit=2,
      match=r"nosuch"),
    C("attack-rate-too-high", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--rate", "2", "--out", "p.csv",
      exit=2, match=r"rate"),
    C("attack-rate-negative", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--rate", "-0.5", "--out", "p.csv",
      exit=2, match=r"rate"),
    C("attack-set-malformed", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--set", "rate=[", "--out", "p.csv",
      exit=2, match=r"not valid YAML"),
    C("attack-set-no-equals", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--set", "rate", "--out", "p.csv",
      exit=2, match=r"expected PARAM=VALUE"),
    C("attack-set-unknown-param", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--set", "nosuch=1", "--out",
      "p.csv", exit=2, match=r"nosuch"),
    C("attack-label-missing-option", "attack", "d.csv", "-a", "random_flip", "--out", "p.csv", exit=2,
      match=r"Missing option '--label'"),
    C("attack-label-unknown", "attack", "d.csv", "-l", "nosuch", "-a", "random_flip", "--out", "p.csv", exit=2,
      match=r"no label column 'nosuch'"),
    C("attack-empty-input", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "p.csv", exit=2,
      match=r"empty", files={"d.csv": b""}),
    C("attack-ragged-input", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "p.csv", exit=2,
      match=r"ragged", files={"d.csv": b"a,y\n1,x\n1,2,x\n"}),
    C("attack-ok", "attack", "d.csv", "-l", "y", "-a", "random_flip", "--out", "o/p.csv", exit=0,
      match=r"poisoned copy", check=_exists("o/p.csv", "o/p.truth.csv", "o/p.truth.json")),
    # -- validate / expectations -----------------------------------------------------------------------------
    C("infer-out-is-input", "expectations", "infer", "d.csv", "--label", "y", "--out", "d.csv", exit=2,
      match=r"--out d\.csv: would overwrite the input d\.csv"),
    C("infer-out-is-input-hardlink", "expectations", "infer", "d.csv", "--label", "y", "--out", "h.json", exit=2,
      match=r"would overwrite the input", setup=lambda tmp: os.link(tmp / "d.csv", tmp / "h.json")),
    C("infer-out-is-folder", "expectations", "infer", "d.csv", "--out", "o", exit=2, match=r"'--out'.*directory",
      files={"d.csv": b.good, "o": DIR}),
    C("infer-empty", "expectations", "infer", "d.csv", "--out", "s.json", exit=2, match=r"empty",
      files={"d.csv": b""}),
    C("infer-label-unknown", "expectations", "infer", "d.csv", "--label", "nosuch", "--out", "s.json", exit=2,
      match=r"nosuch"),
    C("infer-ok", "expectations", "infer", "d.csv", "--label", "y", "--out", "e/s.json", exit=0, match=r"wrote",
      check=_exists("e/s.json")),
    C("validate-suite-missing", "validate", "d.csv", "--suite", "nope.json", exit=2, match=r"nope\.json"),
    C("validate-suite-not-json", "validate", "d.csv", "--suite", "s.json", exit=2, match=r"s\.json",
      files={"d.csv": b.good, "s.json": b"{not json"}),
    C("validate-suite-is-csv", "validate", "d.csv", "--suite", "d.csv", exit=2, match=r"d\.csv"),
    C("validate-out-is-file", "validate", "d.csv", "--suite", "s.json", "--out", "d.csv", exit=2,
      match=r"'--out'.*is a file", setup=b.suite),
    C("validate-out-overwrites-suite", "validate", "d.csv", "--suite", "o/validation.json", "--out", "o", exit=2,
      match=r"would overwrite the input o/validation\.json \(--suite\)",
      setup=lambda tmp: (b.suite(tmp), (tmp / "o").mkdir(), os.replace(tmp / "s.json", tmp / "o/validation.json"))),
    C("validate-data-missing", "validate", "nope.csv", "--suite", "s.json", exit=2, match=r"nope\.csv", setup=b.suite),
    C("validate-max-rows-negative", "validate", "d.csv", "--suite", "s.json", "--max-rows", "-1", exit=2,
      match=r"'--max-rows'", setup=b.suite),
    C("validate-ok", "validate", "d.csv", "--suite", "s.json", "--out", "v", exit=0, match=r"", setup=b.suite,
      check=_exists("v/validation.json")),
    C("validate-ragged-data", "validate", "r.csv", "--suite", "s.json", exit=2, match=r"ragged",
      files={"d.csv": b.good, "r.csv": b"a,y\n1,x\n1,2,x\n"}, setup=b.suite),
    # -- keygen ------------------------------------------------------------------------------------------------
    C("keygen-name-escapes", "keygen", "--out-dir", "k", "--name", "../../../evil", exit=2,
      match=r"--name '\.\./\.\./\.\./evil': must be a plain file name", files={}, check=_not_exists("../../evil.key")),
    C("keygen-name-with-folder", "keygen", "--out-dir", "k", "--name", "a/b", exit=2, match=r"plain file name",
      files={}),
    C("keygen-name-dotdot", "keygen", "--out-dir", "k", "--name", "..", exit=2, match=r"plain file name", files={}),
    C("keygen-name-empty", "keygen", "--out-dir", "k", "--name", "", exit=2, match=r"plain file name", files={}),
    C("keygen-name-absolute", "keygen", "--out-dir", "k", "--name", "/tmp/evil", exit=2, match=r"plain file name",
      files={}),
    C("keygen-name-backslash", "keygen", "--out-dir", "k", "--name", "..\\evil", exit=2, match=r"plain file name",
      files={}),
    C("keygen-ok", "keygen", "--out-dir", "k", exit=0, match=r"keyid", files={},
      check=_exists("k/poisonguard.key", "k/poisonguard.pub")),
    C("keygen-exists", "keygen", "--out-dir", "k", exit=2, match=r"exists already", files={}, setup=b.keys),
    C("keygen-out-dir-is-file", "keygen", "--out-dir", "x", exit=2, match=r"'--out-dir'.*is a file",
      files={"x": b"x"}),
    C("keygen-out-dir-below-file", "keygen", "--out-dir", "x/k", exit=2, match=r"x is a file", files={"x": b"x"}),
    C("keygen-name-is-existing-folder", "keygen", "--out-dir", "k", "--name", "n", exit=2, match=r"is a folder",
      files={"k/n.key": DIR}),
    # -- manifest create -------------------------------------------------------------------------------------
    C("create-out-is-source", "manifest", "create", "data/a.csv", "--out", "data/a.csv", exit=2,
      match=r"--out data/a\.csv: would overwrite the input", files=MANIFEST_DATA),
    C("create-report-is-source", "manifest", "create", "data/a.csv", "--out", "m.json", "--report", "data/a.csv",
      exit=2, match=r"--report data/a\.csv: would overwrite the input", files=MANIFEST_DATA),
    C("create-report-in-hashed-folder", "manifest", "create", "data", "--out", "m.json", "--report", "data/r.json",
      exit=2, match=r"--report data/r\.json: is inside the folder .*data \(SOURCES\) whose files are hashed",
      files=MANIFEST_DATA),
    C("create-out-in-hashed-folder-allowed", "manifest", "create", "data", "--out", "data/m.json", exit=0,
      match=r"2 source", files=MANIFEST_DATA),
    C("create-out-replaces-file-in-hashed-folder", "manifest", "create", "data", "--out", "data/a.csv", exit=2,
      match=r"--out data/a\.csv: would overwrite the input", files=MANIFEST_DATA),
    C("create-out-replaces-previous-manifest", "manifest", "create", "data", "--out", "data/m.json", exit=0,
      match=r"2 source", files=MANIFEST_DATA, modifies=("data/m.json",),
      setup=b.old_manifest_in_data),
    C("create-out-replaces-glob-match", "manifest", "create", "data/*.csv", "--out", "data/b.csv", exit=2,
      match=r"--out data/b\.csv: would overwrite the input", files=MANIFEST_DATA),
    C("create-report-is-out", "manifest", "create", "data", "--out", "m.json", "--report", "m.json", exit=2,
      match=r"--report m\.json: is also --out", files=MANIFEST_DATA),
    C("create-out-is-key", "manifest", "create", "data", "--out", "k/poisonguard.key", "--key", "k/poisonguard.key",
      exit=2, match=r"would overwrite the input k/poisonguard\.key \(--key\)", files=MANIFEST_DATA, setup=b.keys),
    C("create-out-is-folder", "manifest", "create", "data", "--out", "data", exit=2, match=r"'--out'.*directory",
      files=MANIFEST_DATA),
    C("create-out-through-link", "manifest", "create", "data/a.csv", "--out", "alias.csv", exit=2,
      match=r"would overwrite the input", files={**MANIFEST_DATA, "alias.csv": LINK("data/a.csv")}),
    C("create-symlink-in-folder", "manifest", "create", "data", "--out", "m.json", exit=2,
      match=r"data/link\.csv is a symbolic link", files={**MANIFEST_DATA, "secret.csv": b.good,
                                                          "data/link.csv": LINK("../secret.csv")}),
    C("create-symlinked-subfolder", "manifest", "create", "data", "--out", "m.json", exit=2,
      match=r"data/sub is a symbolic link", files={**MANIFEST_DATA, "elsewhere/x.csv": b.good,
                                                    "data/sub": LINK("../elsewhere")}),
    C("create-symlink-source", "manifest", "create", "l.csv", "--out", "m.json", exit=2,
      match=r"l\.csv is a symbolic link", files={**MANIFEST_DATA, "l.csv": LINK("data/a.csv")}),
    C("create-symlink-in-glob", "manifest", "create", "data/*.csv", "--out", "m.json", exit=2,
      match=r"symbolic link", files={**MANIFEST_DATA, "secret.csv": b.good, "data/z.csv": LINK("../secret.csv")}),
    C("create-source-missing", "manifest", "create", "nope", "--out", "m.json", exit=2, match=r"nope: no such file",
      files=MANIFEST_DATA),
    C("create-source-outside-base", "manifest", "create", "/etc/hostname", "--out", "m.json", exit=2,
      match=r"outside the base folder", files=MANIFEST_DATA),
    C("create-glob-matches-nothing", "manifest", "create", "data/*.parquet", "--out", "m.json", exit=2,
      match=r"matches no file", files=MANIFEST_DATA),
    C("create-bad-source-date-epoch", "manifest", "create", "data", "--out", "m.json", exit=2,
      match=r"SOURCE_DATE_EPOCH must be a whole number.*got 'abc'", files=MANIFEST_DATA,
      env={"SOURCE_DATE_EPOCH": "abc"}, check=_not_exists("m.json")),
    C("create-good-source-date-epoch", "manifest", "create", "data", "--out", "m.json", exit=0, match=r"2 source",
      files=MANIFEST_DATA, env={"SOURCE_DATE_EPOCH": "1767225600"}),
    C("create-key-not-a-key", "manifest", "create", "data", "--out", "m.json", "--key", "data/a.csv", exit=2,
      match=r"data/a\.csv", files=MANIFEST_DATA),
    C("create-key-missing", "manifest", "create", "data", "--out", "m.json", "--key", "nope.key", exit=2,
      match=r"nope\.key", files=MANIFEST_DATA),
    C("create-no-sources", "manifest", "create", "--out", "m.json", exit=2, match=r"Missing argument", files={}),
    C("create-base-dir-missing", "manifest", "create", "data", "--out", "m.json", "--base-dir", "nope", exit=2,
      match=r"nope", files=MANIFEST_DATA),
    # -- manifest verify / sign / diff -------------------------------------------------------------------------
    C("verify-report-is-manifest", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", "--report", "m.json",
      exit=2, match=r"--report m\.json: would overwrite the input m\.json \(MANIFEST\)", files=MANIFEST_DATA,
      setup=b.signed_manifest),
    C("verify-report-is-key", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", "--report",
      "k/poisonguard.pub", exit=2, match=r"would overwrite the input k/poisonguard\.pub \(--key\)",
      files=MANIFEST_DATA, setup=b.signed_manifest),
    C("verify-report-in-listed-folder", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", "--report",
      "data/r.json", exit=2, match=r"--report data/r\.json: is inside the folder \S*data \(listed in MANIFEST\)",
      files=MANIFEST_DATA, setup=b.signed_manifest),
    C("verify-report-ok", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub",
      "--report", "r.json", exit=0, match=r"OK|ok|clean", files=MANIFEST_DATA, setup=b.signed_manifest),
    C("verify-tampered-allow-unsigned-no-key", "manifest", "verify", "m.json", "--allow-unsigned", exit=2,
      match=r"the manifest is signed, so --allow-unsigned does not apply; pass --key", files=MANIFEST_DATA,
      setup=b.tampered_manifest),
    C("verify-signed-allow-unsigned-no-key", "manifest", "verify", "m.json", "--allow-unsigned", exit=2,
      match=r"--allow-unsigned does not apply", files=MANIFEST_DATA, setup=b.signed_manifest),
    C("verify-tampered-with-key", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", exit=1,
      match=r"FAILED", files=MANIFEST_DATA, setup=b.tampered_manifest),
    C("verify-tampered-allow-unsigned-with-key", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub",
      "--allow-unsigned", exit=1, match=r"FAILED", files=MANIFEST_DATA, setup=b.tampered_manifest),
    C("verify-unsigned-allowed", "manifest", "verify", "m.json", "--allow-unsigned", exit=0, match=r"unsigned",
      files=MANIFEST_DATA, setup=b.unsigned_manifest),
    C("verify-no-key-no-allow", "manifest", "verify", "m.json", exit=2, match=r"no public key given",
      files=MANIFEST_DATA, setup=b.signed_manifest),
    C("verify-symlinked-folder-added", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", exit=1,
      match=r"\[symlink\] data/more", files=MANIFEST_DATA, setup=b.signed_then_linked_folder),
    C("verify-file-became-link", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", exit=1,
      match=r"\[symlink\] data/a\.csv", files=MANIFEST_DATA, setup=b.signed_then_file_to_link),
    C("verify-file-changed", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", exit=1,
      match=r"SHA-256 mismatch", files=MANIFEST_DATA,
      setup=lambda tmp: (b.signed_manifest(tmp), (tmp / "data/a.csv").write_bytes(b"a,y\n1,x\n"))),
    C("verify-manifest-not-json", "manifest", "verify", "m.json", "--allow-unsigned", exit=2, match=r"m\.json",
      files={"m.json": b"{nope"}),
    C("verify-manifest-missing", "manifest", "verify", "m.json", "--allow-unsigned", exit=2, match=r"m\.json",
      files={}),
    C("verify-manifest-truncated", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", exit=2,
      match=r"m\.json", files=MANIFEST_DATA,
      setup=lambda tmp: (b.signed_manifest(tmp), (tmp / "m.json").write_bytes((tmp / "m.json").read_bytes()[:100]))),
    C("verify-manifest-is-csv", "manifest", "verify", "data/a.csv", "--allow-unsigned", exit=2, match=r"data/a\.csv",
      files=MANIFEST_DATA),
    C("verify-key-is-private", "manifest", "verify", "m.json", "--key", "k/poisonguard.key", exit=2,
      match=r"poisonguard\.key", files=MANIFEST_DATA, setup=b.signed_manifest),
    C("verify-source-date-epoch-unused", "manifest", "verify", "m.json", "--key", "k/poisonguard.pub", exit=0,
      match=r"", files=MANIFEST_DATA, setup=b.signed_manifest, env={"SOURCE_DATE_EPOCH": "abc"}),
    C("sign-report-is-manifest", "manifest", "sign", "m.json", "--key", "k/poisonguard.key", "--report", "m.json",
      exit=2, match=r"--report m\.json: is also MANIFEST \(signed in place\)", files=MANIFEST_DATA,
      setup=lambda tmp: (b.keys(tmp), b.unsigned_manifest(tmp))),
    C("sign-out-is-key", "manifest", "sign", "m.json", "--key", "k/poisonguard.key", "--out", "k/poisonguard.key",
      exit=2, match=r"--out k/poisonguard\.key: would overwrite the input", files=MANIFEST_DATA,
      setup=lambda tmp: (b.keys(tmp), b.unsigned_manifest(tmp))),
    C("sign-report-is-key", "manifest", "sign", "m.json", "--key", "k/poisonguard.key", "--report",
      "k/poisonguard.key", exit=2, match=r"would overwrite the input k/poisonguard\.key", files=MANIFEST_DATA,
      setup=lambda tmp: (b.keys(tmp), b.unsigned_manifest(tmp))),
    C("sign-report-is-out", "manifest", "sign", "m.json", "--key", "k/poisonguard.key", "--out", "s.json",
      "--report", "s.json", exit=2, match=r"--report s\.json: is also --out", files=MANIFEST_DATA,
      setup=lambda tmp: (b.keys(tmp), b.unsigned_manifest(tmp))),
    C("sign-ok-in-place", "manifest", "sign", "m.json", "--key", "k/poisonguard.key", exit=0, match=r"sign",
      files=MANIFEST_DATA, modifies=("m.json",), setup=lambda tmp: (b.keys(tmp), b.unsigned_manifest(tmp))),
    C("sign-key-is-public", "manifest", "sign", "m.json", "--key", "k/poisonguard.pub", exit=2,
      match=r"poisonguard\.pub", files=MANIFEST_DATA, setup=lambda tmp: (b.keys(tmp), b.unsigned_manifest(tmp))),
    C("diff-report-is-old", "manifest", "diff", "m.json", "m2.json", "--key", "k/poisonguard.pub", "--report",
      "m.json", exit=2, match=r"would overwrite the input m\.json \(OLD\)", files=MANIFEST_DATA, setup=b.two_manifests),
    C("diff-report-is-new", "manifest", "diff", "m.json", "m2.json", "--key", "k/poisonguard.pub", "--report",
      "m2.json", exit=2, match=r"would overwrite the input m2\.json \(NEW\)", files=MANIFEST_DATA,
      setup=b.two_manifests),
    C("diff-report-is-params", "manifest", "diff", "m.json", "m2.json", "--key", "k/poisonguard.pub", "--params",
      "p.yaml", "--report", "p.yaml", exit=2, match=r"would overwrite the input p\.yaml \(--params\)",
      files={**MANIFEST_DATA, "p.yaml": b"provenance: {}\n"}, setup=b.two_manifests),
    C("diff-params-malformed", "manifest", "diff", "m.json", "m2.json", "--key", "k/poisonguard.pub", "--params",
      "p.yaml", exit=2, match=r"p\.yaml", files={**MANIFEST_DATA, "p.yaml": b"provenance: [\n"},
      setup=b.two_manifests),
    C("diff-old-not-json", "manifest", "diff", "x.json", "m2.json", "--key", "k/poisonguard.pub", exit=2,
      match=r"x\.json", files={**MANIFEST_DATA, "x.json": b"nope"}, setup=b.two_manifests),
    C("diff-ok", "manifest", "diff", "m.json", "m2.json", "--key", "k/poisonguard.pub", "--report", "r/d.json",
      exit=0, match=r"added", files=MANIFEST_DATA, setup=b.two_manifests, check=_exists("r/d.json")),
    # -- gate ------------------------------------------------------------------------------------------------
    C("gate-report-not-json", "gate", "r.json", exit=2, match=r"r\.json", files={"r.json": b"{nope"}),
    C("gate-report-not-a-result", "gate", "r.json", exit=2, match=r"r\.json", files={"r.json": b'{"a": 1}'}),
    C("gate-out-is-file", "gate", "r.json", "--out", "x", exit=2, match=r"'--out'.*is a file",
      files={"r.json": b"{}", "x": b"x"}),
    C("gate-out-overwrites-report", "gate", "g/gate.json", "--out", "g", exit=2,
      match=r"--out g/gate\.json: would overwrite the input g/gate\.json \(REPORTS\)",
      files={"g/gate.json": b"{}"}),
    C("gate-out-overwrites-params", "gate", "run/report.json", "--params", "o/summary.md", "--out", "o", exit=2,
      match=r"would overwrite the input o/summary\.md \(--params\)",
      files={"d.csv": b.good, "o/summary.md": b"gate: {}\n"}, setup=b.scan_report),
    C("gate-params-malformed", "gate", "run/report.json", "--params", "p.yaml", exit=2, match=r"p\.yaml",
      files={"d.csv": b.good, "p.yaml": b"gate: [\n"}, setup=b.scan_report),
    C("gate-missing-stage-fails", "gate", "run/report.json", exit=1, match=r"", setup=b.scan_report),
    # -- drift (the guard comes before MLflow is touched) --------------------------------------------------------
    C("drift-out-is-canary", "drift", "--run", "r1", "--canary", "d.csv", "--label", "y", "--out", "d.csv", exit=2,
      match=r"--out d\.csv: would overwrite the input d\.csv \(--canary\)"),
    C("drift-out-is-folder", "drift", "--run", "r1", "--canary", "d.csv", "--label", "y", "--out", "o", exit=2,
      match=r"'--out'.*directory", files={"d.csv": b.good, "o": DIR}),
    C("train-log-result-not-json", "train-log", "d.csv", "--label", "y", "--result", "r.json", exit=2,
      match=r"r\.json: cannot read the result JSON", files={"d.csv": b.good, "r.json": b"{nope"}),
]
