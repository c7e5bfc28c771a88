"""Sensitive data (``sensitive_data``): precision and recall on a generated corpus, checksums,
masks, no raw value in any output file, and its own (non-gating by default) exit policy."""

from __future__ import annotations

import json
import string

import numpy as np
import pandas as pd
import pytest

from poisonguard.data import TabularDataset
from poisonguard.detectors import SensitiveDataScanner
from poisonguard.detectors.pii import mask_value
from poisonguard.scan import scan

FLOOR = 0.95  # issue 3: precision and recall >= 0.95 on a generated corpus


def _luhn_complete(body: str) -> str:
    for d in string.digits:
        cand = body + d
        total = sum((int(c) * (2 if i % 2 else 1)) - (9 if int(c) * (2 if i % 2 else 1) > 9 else 0)
                    for i, c in enumerate(reversed(cand)))
        if total % 10 == 0:
            return cand
    raise AssertionError


def _iban(country: str, bban: str) -> str:
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - num % 97:02d}{bban}"


def _corpus(n: int = 1500, seed: int = 7) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
    rng = np.random.default_rng(seed)
    low, dig = string.ascii_lowercase, string.digits
    b64 = string.ascii_letters + dig + "/+"

    def rnd(chars: str, k: int) -> str:
        return "".join(rng.choice(list(chars), size=k))

    makers = {
        "email": lambda: f"{rnd(low, 6)}@{rnd(low, 5)}.com",
        "phone": lambda: str(rng.choice([f"+1 ({rng.integers(200, 999)}) {rnd(dig, 3)}-{rnd(dig, 4)}",
                                         f"+33 1 {rnd(dig, 2)} {rnd(dig, 2)} {rnd(dig, 2)} {rnd(dig, 2)}"])),
        "card": lambda: _luhn_complete("4" + rnd(dig, 14)),
        "iban": lambda: _iban("DE", rnd(dig, 18)),
        "ssn": lambda: f"{rng.integers(1, 600):03d}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}",
        "ip": lambda: ".".join(str(x) for x in rng.integers(1, 255, size=4)),
        "aws_key_id": lambda: "AKIA" + rnd(string.ascii_uppercase + "234567", 16),
        "aws_secret": lambda: "Aa1" + rnd(b64, 37),
        "private_key": lambda: "-----BEGIN OPENSSH PRIVATE KEY-----\n" + rnd(b64, 64) + "\n-----END OPENSSH PRIVATE KEY-----",
        "credential": lambda: "xoxb-" + rnd(dig, 12) + "-" + rnd(string.ascii_letters, 24),
    }
    decoys = [lambda: f"paid {rnd(dig, 3)}.{rnd(dig, 2)} EUR on 2024-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}",
              lambda: f"order no {rnd(dig, 16)}", lambda: f"hash {rnd('0123456789abcdef', 40)}",
              lambda: f"build {rng.integers(1, 9)}.{rng.integers(0, 30)}.{rng.integers(0, 99)}",
              lambda: f"call back at 1{rng.integers(0, 9)}:{rnd(dig, 2)}", lambda: f"{rnd(low, 5)} {rnd(low, 7)}"]
    kinds = list(makers)
    notes, truth = [], []
    for r in range(n):
        text = decoys[rng.integers(0, len(decoys))]()
        if rng.random() < 0.3:
            kind = kinds[rng.integers(0, len(kinds))]
            value = makers[kind]()
            text = f"{rnd(low, 4)} {value} {text}"
            truth.append((r, "notes", kind, value))
        notes.append(text)
    frame = pd.DataFrame({"notes": notes, "x": rng.normal(size=n), "label": rng.choice(["p", "q"], n)})
    return frame, truth


def test_precision_and_recall_on_a_generated_corpus():
    frame, truth = _corpus()
    ds = TabularDataset.from_frame(frame, label="label")
    det = SensitiveDataScanner().scan_fit(ds, ds.encode(), None)
    want = {(r, c, k) for r, c, k, _ in truth}
    got = {(f.row, f.column, f.kind) for f in det.findings_}
    assert len(want & got) / len(got) >= FLOOR
    assert len(want & got) / len(want) >= FLOOR
    assert {k for *_, k in want} == {k for *_, k in got}  # every kind is found


@pytest.mark.parametrize(("kind", "raw", "masked"), [
    ("email", "jane.doe@example.com", "j***@e***.com"),
    ("card", "4111 1111 1111 1111", "****-****-****-1111"),
    ("aws_key_id", "AKIAIOSFODNN7EXAMPLE", "AKIA************MPLE"),
    ("ssn", "123-45-6789", "***-**-6789"),
    ("iban", "DE89 3704 0044 0532 0130 00", "DE****************3000"),
])
def test_masks(kind, raw, masked):
    assert mask_value(kind, raw) == masked
    det = SensitiveDataScanner().fit(pd.DataFrame({"t": [f"value: {raw}."]}))
    assert [(f.kind, f.masked) for f in det.findings_] == [(kind, masked)]


def test_checksums_reject_lookalikes():
    frame = pd.DataFrame({"t": ["card 4111 1111 1111 1112", "iban DE89 3704 0044 0532 0130 01",
                                "ssn 000-12-3456", "ip 300.1.2.3", "sha 356a192b7913b04c54574d18c28d46e6395428ab",
                                "date 2023-04-05 12:30:45", "order no 4111111111111111"]})
    assert SensitiveDataScanner().fit(frame).findings_ == []


def _raw_values_in(path, raw: list[str]) -> list[str]:
    text = path.read_text(errors="replace")
    def body(v: str) -> list[str]:  # the secret lines of a multi-line value (not its BEGIN/END lines)
        return [line for line in v.split("\n")[1:] if len(line) >= 16 and not line.startswith("-----")]

    return [v for v in raw if v in text or any(line in text for line in body(v))]


def _scan_with_outputs(tmp_path, frame):
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "out"
    res = scan(src, label="label", detectors=["outliers", "duplicates", "sensitive_data"], seed=0, out=out)
    return res, out


def test_no_raw_value_in_report_scores_or_reasons(tmp_path):
    frame, truth = _corpus(600, seed=11)
    frame.loc[0, "x"] = 1e6  # one row quarantined by the outliers detector, with PII reasons attached
    res, out = _scan_with_outputs(tmp_path, frame)
    raw = [v for *_, v in truth]
    files = {p.name for p in out.iterdir()}
    assert {"report.json", "scores.csv"} <= files
    for name in ("report.json", "scores.csv"):
        assert _raw_values_in(out / name, raw) == [], name
    report = json.loads((out / "report.json").read_text())
    section = next(d for d in report["detectors"] if d["name"] == "sensitive_data")["section"]
    assert section["privacy_risk"] and section["n_findings"] == len(truth)
    assert all(set(f) == {"row", "column", "kind", "masked"} for f in section["findings"])


def test_no_raw_value_in_clean_or_quarantine_files(tmp_path):
    frame, truth = _corpus(600, seed=12)
    frame.loc[0, "x"] = 1e6
    res, out = _scan_with_outputs(tmp_path, frame)
    raw = [v for *_, v in truth]
    leaks = {p.name: _raw_values_in(p, raw) for p in out.iterdir() if p.name.startswith(("clean", "quarantine"))}
    assert len(leaks) == 2  # clean and quarantine were both written
    assert all(v == [] for v in leaks.values()), leaks


def test_redact_masks_every_finding_in_place():
    frame, truth = _corpus(400, seed=13)
    det = SensitiveDataScanner().fit(frame)
    red = det.redact(frame)
    text = red.to_csv(index=False)
    assert not any(v in text for *_, v in truth)
    untouched = ~frame.index.isin([r for r, *_ in truth])
    assert red.loc[untouched, "notes"].tolist() == frame.loc[untouched, "notes"].tolist()
    sub = frame.iloc[[r for r, *_ in truth][:5]]
    assert not any(v in det.redact(sub).to_csv(index=False) for *_, v in truth)


def test_does_not_gate_by_default_but_can(tmp_path):
    frame, _ = _corpus(300, seed=14)
    res = scan(frame, label="label", detectors=["sensitive_data"], seed=0)
    summary = res.detectors[0]
    assert not summary.gates and summary.n_flagged > 0
    assert not res.suspected and res.n_quarantined == 0  # privacy risk reported, nothing quarantined
    gated = scan(frame, label="label", detectors=["sensitive_data"], params={"sensitive_data": {"gate": True}}, seed=0)
    assert gated.verdict == "suspected" and gated.n_flagged == summary.n_flagged
    assert "sensitive data in" in gated.reasons[0]


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown kinds \\['passport'\\]"):
        SensitiveDataScanner(kinds=["passport"]).fit(pd.DataFrame({"t": ["x"]}))


def test_a_1mb_cell_is_scanned_in_linear_time():
    """A 200 kB cell once took 29 s (a URL-scheme pattern backtracked from every letter) and overlap
    checks and redaction were quadratic in the findings; 1 MB cells of each shape now take about a
    second each. The assertion is on the result; the test's own run time is its check on speed."""
    big = 1_000_000
    cells = ["a" * big,                                      # the old quadratic case
             "1 " * (big // 2),                              # card-shaped digit runs, no card
             ("mail a@b.co, ip 10.0.0.1; " * (big // 26)),   # many findings in one cell
             "x" * (big - 40) + " jane@example.com 123-45-6789"]
    frame = pd.DataFrame({"note": cells, "v": range(len(cells))})
    det = SensitiveDataScanner().scan_fit(TabularDataset.from_frame(frame), np.zeros((len(cells), 1)), None)
    by_row = pd.Series([f.row for f in det.findings_]).value_counts()
    assert 0 not in by_row and 1 not in by_row
    assert by_row[2] == 2 * (big // 26) and by_row[3] == 2
    red = det.redact(frame)
    assert "10.0.0.1" not in red.at[2, "note"] and "jane@" not in red.at[3, "note"]
    assert red.at[3, "note"].endswith(" j***@e***.com ***-**-6789") and len(red.at[0, "note"]) == big
