"""Provenance on local files: keys, DSSE/in-toto format, hashing, the tamper suite, diff, DVC.

S3 cases live in ``test_provenance_s3.py`` (moto's standalone server).
"""

from __future__ import annotations

import base64
import datetime as _dt
import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from poisonguard.errors import UsageError
from poisonguard.provenance import (
    PAYLOAD_TYPE,
    PREDICATE_SCHEMA,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    DiffPolicy,
    Envelope,
    Finding,
    ProvenanceResult,
    create_manifest,
    diff_manifests,
    generate_keypair,
    hash_file,
    key_id,
    load_private_key,
    load_public_key,
    pae,
    sign_envelope,
    tabular_summary,
    verify_manifest,
)
from poisonguard.provenance import _manifest as manifest_mod

from conftest import DEMO


def demo_data() -> Path:
    """The demo data committed in the repository; missing, it fails the test (a broken checkout)."""
    if not DEMO.is_file():
        pytest.fail(f"demo data {DEMO} is missing: it is committed in the repository")
    return DEMO


def assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("poisonguard: error:"), err
    assert "Traceback" not in err


def payload(path: Path) -> dict:
    doc = json.loads(path.read_text())
    return json.loads(base64.b64decode(doc["payload"]))


@pytest.fixture
def keys(tmp_path: Path):
    return generate_keypair(tmp_path / "keys")


@pytest.fixture
def project(tmp_path: Path, keys):
    """A base folder with a data folder of two CSVs, and a signed manifest of it."""
    base = tmp_path / "proj"
    (base / "data").mkdir(parents=True)
    (base / "data" / "train.csv").write_text("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(200)))
    (base / "data" / "extra.csv").write_text("x,y\n1,a\n2,b\n")
    m = tmp_path / "m.json"
    r = create_manifest(["data"], m, key=keys.private_key, base_dir=base)
    assert r.return_code == 0, str(r)
    return base, m


# -- keys and format ------------------------------------------------------------------------------
def test_keygen_cli_modes_and_no_overwrite(tmp_path, cli):
    rc, out, _ = cli("keygen", "--out-dir", tmp_path / "k")
    assert rc == 0
    priv, pub = tmp_path / "k" / "poisonguard.key", tmp_path / "k" / "poisonguard.pub"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    assert key_id(load_public_key(pub)) in out
    rc, _, err = cli("keygen", "--out-dir", tmp_path / "k")
    assert rc == 2
    assert_one_line_error(err)
    assert "--force" in err


def test_keygen_with_passphrase(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("POISONGUARD_KEY_PASSPHRASE", "correct horse")
    assert cli("keygen", "--out-dir", tmp_path / "k")[0] == 0
    assert b"ENCRYPTED" in (tmp_path / "k" / "poisonguard.key").read_bytes()
    (tmp_path / "f.csv").write_text("a\n1\n")
    rc, _, _ = cli("manifest", "create", "f.csv", "--out", tmp_path / "m.json", "--key",
                   tmp_path / "k" / "poisonguard.key", "--base-dir", tmp_path)
    assert rc == 0
    monkeypatch.setenv("POISONGUARD_KEY_PASSPHRASE", "Zq9-not-it")
    rc, _, err = cli("manifest", "sign", tmp_path / "m.json", "--key", tmp_path / "k" / "poisonguard.key")
    assert rc == 2
    assert_one_line_error(err)
    assert "Zq9-not-it" not in err


def test_pae_matches_dsse_spec():
    # the example from the DSSE protocol specification
    assert pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_manifest_is_standard_dsse_and_in_toto(project, keys):
    base, m = project
    doc = json.loads(m.read_text())
    assert doc["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    assert len(doc["signatures"]) == 1
    sig = doc["signatures"][0]
    pub = load_public_key(keys.public_key)
    assert sig["keyid"] == key_id(pub) == hashlib.sha256(
        pub.public_bytes_raw()).hexdigest()
    # anyone can check it with cryptography alone, following the DSSE spec
    body = base64.b64decode(doc["payload"])
    pub.verify(base64.b64decode(sig["sig"]), b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(),
                                                                    len(body), body))
    st = json.loads(body)
    assert st["_type"] == STATEMENT_TYPE and st["predicateType"] == PREDICATE_TYPE
    names = [s["name"] for s in st["subject"]]
    assert names == ["data/extra.csv", "data/train.csv"]
    assert st["subject"][1]["digest"]["sha256"] == hashlib.sha256((base / "data/train.csv").read_bytes()).hexdigest()
    train = [s for s in st["predicate"]["sources"] if s["name"] == "data/train.csv"][0]
    assert train["tabular"]["rows"] == 200 and train["size"] == (base / "data/train.csv").stat().st_size
    assert st["predicate"]["collections"] == [{"name": "data", "type": "folder"}]


def test_predicate_validates_against_schema(project):
    jsonschema = pytest.importorskip("jsonschema")
    _, m = project
    jsonschema.validate(payload(m)["predicate"], PREDICATE_SCHEMA)


# -- hashing --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 4 << 20, (4 << 20) + 7])
def test_hash_file_matches_hashlib(tmp_path, size):
    data = os.urandom(size)
    p = tmp_path / "f"
    p.write_bytes(data)
    d = hash_file(p, md5=True, chunk_size=1 << 20)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.md5 == hashlib.md5(data).hexdigest()
    assert d.size == size


def test_tabular_summary_agrees_with_load_dataset():
    from poisonguard.data import load_dataset

    src = demo_data()
    summary = tabular_summary(src)
    ds = load_dataset(src)
    assert summary["rows"] == ds.n_rows == 32561
    assert [c[0] for c in summary["columns"]] == list(ds.frame.columns)
    assert len(summary["schema_sha256"]) == 64


def test_tabular_summary_streams_parquet_and_jsonl(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"a": range(50), "b": ["x"] * 50})
    frame.to_parquet(tmp_path / "f.parquet")
    frame.to_json(tmp_path / "f.jsonl.gz", orient="records", lines=True, compression="gzip")
    assert tabular_summary(tmp_path / "f.parquet")["rows"] == 50
    assert tabular_summary(tmp_path / "f.jsonl.gz")["rows"] == 50
    assert tabular_summary(tmp_path / "f.bin") is None


# -- create / verify, clean ------------------------------------------------------------------------
def test_verify_clean_cli_and_report(project, keys, cli, tmp_path):
    base, m = project
    report = tmp_path / "r.json"
    rc, out, err = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base,
                       "--report", report)
    assert rc == 0, out + err
    assert "OK" in out
    data = json.loads(report.read_text())
    assert data["kind"] == "provenance" and data["return_code"] == 0 and data["operation"] == "verify"
    assert data["manifests"][0]["sha256"] == hashlib.sha256(m.read_bytes()).hexdigest()
    back = ProvenanceResult.from_dict(data)
    assert back.return_code == 0 and len(back.sources) == 2 and back.sources[0].status == "ok"


def test_verify_default_base_is_cwd_and_globs(tmp_path, keys, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    for n in ("a.csv", "b.csv", "notes.txt"):
        (tmp_path / "d" / n).write_text("c\n1\n")
    assert cli("manifest", "create", "d/*.csv", "--out", "m.json", "--key", keys.private_key)[0] == 0
    assert [s["name"] for s in payload(tmp_path / "m.json")["subject"]] == ["d/a.csv", "d/b.csv"]
    assert cli("manifest", "verify", "m.json", "--key", keys.public_key)[0] == 0
    (tmp_path / "d" / "c.csv").write_text("c\n9\n")   # matches the glob: unlisted
    (tmp_path / "d" / "other.txt").write_text("x")    # does not match: ignored
    rc, out, _ = cli("manifest", "verify", "m.json", "--key", keys.public_key)
    assert rc == 1 and "d/c.csv" in out and "other.txt" not in out


def test_manifest_inside_listed_folder_is_not_a_source(tmp_path, keys, cli):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("c\n1\n")
    m = tmp_path / "data" / "manifest.json"
    assert cli("manifest", "create", "data", "--out", m, "--key", keys.private_key,
               "--base-dir", tmp_path)[0] == 0
    assert [s["name"] for s in payload(m)["subject"]] == ["data/a.csv"]
    assert cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", tmp_path)[0] == 0


def test_unsigned_then_sign(tmp_path, keys, cli):
    (tmp_path / "a.csv").write_text("c\n1\n")
    m = tmp_path / "m.json"
    rc, out, _ = cli("manifest", "create", "a.csv", "--out", m, "--base-dir", tmp_path)
    assert rc == 0 and "unsigned" in out
    rc, out, _ = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", tmp_path)
    assert rc == 1 and "no signature" in out
    assert cli("manifest", "verify", m, "--allow-unsigned", "--base-dir", tmp_path)[0] == 0
    assert cli("manifest", "verify", m, "--allow-unsigned", "--key", keys.public_key,
               "--base-dir", tmp_path)[0] == 0
    assert cli("manifest", "sign", m, "--key", keys.private_key)[0] == 0
    assert cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", tmp_path)[0] == 0


# -- the tamper suite (local part) -----------------------------------------------------------------
def test_tamper_one_byte_flipped_in_100mb_file(tmp_path, keys, cli):
    base = tmp_path / "proj"
    base.mkdir()
    big = base / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for _ in range(100):
            fh.write(block)
    m = tmp_path / "m.json"
    assert cli("manifest", "create", "big.bin", "--out", m, "--key", keys.private_key,
               "--base-dir", base)[0] == 0
    assert cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)[0] == 0
    with open(big, "r+b") as fh:
        fh.seek(73_456_789)
        b = fh.read(1)
        fh.seek(73_456_789)
        fh.write(bytes([b[0] ^ 0x01]))
    rc, out, err = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)
    assert rc == 1
    assert "[digest_mismatch] big.bin: SHA-256 mismatch" in out
    assert "Traceback" not in out + err


def test_tamper_truncated_file(project, keys, cli):
    base, m = project
    f = base / "data" / "train.csv"
    size = f.stat().st_size
    with open(f, "r+b") as fh:
        fh.truncate(size // 2)
    rc, out, _ = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)
    assert rc == 1
    assert "data/train.csv: SHA-256 mismatch" in out and "(truncated)" in out


def test_tamper_file_added_to_listed_folder(project, keys, cli):
    base, m = project
    (base / "data" / "sub").mkdir()
    (base / "data" / "sub" / "poison.csv").write_text("x,y\n1,b\n")
    rc, out, _ = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)
    assert rc == 1
    assert "[unlisted] data/sub/poison.csv" in out


def test_tamper_missing_source(project, keys, cli):
    base, m = project
    (base / "data" / "extra.csv").unlink()
    rc, out, _ = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)
    assert rc == 1 and "[missing] data/extra.csv" in out


def test_tamper_subject_edited_after_signing(project, keys, cli):
    base, m = project
    doc = json.loads(m.read_text())
    st = json.loads(base64.b64decode(doc["payload"]))
    # the attacker poisons train.csv and writes its new digest into the manifest
    (base / "data" / "train.csv").write_text("x,y\n1,b\n")
    st["subject"][1]["digest"]["sha256"] = hashlib.sha256((base / "data" / "train.csv").read_bytes()).hexdigest()
    doc["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
    m.write_text(json.dumps(doc))
    rc, out, _ = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)
    assert rc == 1
    assert "[bad_signature]" in out and str(m) in out and "modified after signing" in out
    # nothing from the untrusted payload was used: no source was checked
    assert "0 source(s)" in out


def test_tamper_signature_from_another_key(project, keys, tmp_path, cli):
    base, m = project
    other = generate_keypair(tmp_path / "other")
    # re-sign with the attacker's key only
    env, _ = manifest_mod.read_envelope(m)
    env = Envelope(env.payload_type, env.payload)
    sign_envelope(env, load_private_key(other.private_key)).write(m)
    rc, out, _ = cli("manifest", "verify", m, "--key", keys.public_key, "--base-dir", base)
    assert rc == 1
    assert "[unknown_key]" in out and other.keyid[:16] in out and str(m) in out


def test_signature_checked_before_payload_is_parsed(tmp_path, keys, cli):
    other = generate_keypair(tmp_path / "other")
    env = sign_envelope(Envelope(PAYLOAD_TYPE, b"{not json"), load_private_key(other.private_key))
    env.write(tmp_path / "m.json")
    rc, out, err = cli("manifest", "verify", tmp_path / "m.json", "--key", keys.public_key)
    assert rc == 1 and "[unknown_key]" in out and not err


@pytest.mark.parametrize("name", ["../outside.csv", "data/../../outside.csv", "/etc/passwd", "C:/Windows/win.ini",
                                  "data\\..\\..\\x", "./data/train.csv", "~/x"])
def test_tamper_path_traversal_and_absolute_names(tmp_path, keys, cli, name):
    base = tmp_path / "proj"
    base.mkdir()
    outside = tmp_path / "outside.csv"
    outside.write_text("secret\n")
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    statement = {
        "_type": STATEMENT_TYPE, "predicateType": PREDICATE_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}}],
        "predicate": {"schemaVersion": "1", "created": "2025-01-01T00:00:00Z",
                      "tool": {"name": "x", "version": "0"}, "collections": [],
                      "sources": [{"name": name, "type": "file", "uri": name, "size": 7}]},
    }
    # even a manifest signed by the trusted key (a compromised signer) must not reach outside the base
    env = sign_envelope(Envelope.from_statement(statement), load_private_key(keys.private_key))
    env.write(tmp_path / "m.json")
    rc, out, err = cli("manifest", "verify", tmp_path / "m.json", "--key", keys.public_key,
                       "--base-dir", base)
    assert rc == 1, out + err
    assert "[unsafe_name]" in out and repr(name) in out


def test_unsafe_collection_name(tmp_path, keys, cli):
    statement = {
        "_type": STATEMENT_TYPE, "predicateType": PREDICATE_TYPE, "subject": [],
        "predicate": {"schemaVersion": "1", "created": "x", "tool": {}, "sources": [],
                      "collections": [{"name": "../../etc", "type": "folder"}]},
    }
    sign_envelope(Envelope.from_statement(statement), load_private_key(keys.private_key)).write(
        tmp_path / "m.json")
    rc, out, _ = cli("manifest", "verify", tmp_path / "m.json", "--key", keys.public_key)
    assert rc == 1 and "'../../etc'" in out


def test_source_date_epoch_makes_manifests_reproducible(project, keys, tmp_path, monkeypatch, cli):
    base, _ = project
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        rc, _, err = cli("manifest", "create", "data", "--out", out, "--key", keys.private_key,
                         "--base-dir", base)
        assert rc == 0, err
    assert outs[0].read_bytes() == outs[1].read_bytes()  # Ed25519 signatures are deterministic too
    assert payload(outs[0])["predicate"]["created"] == "2026-01-01T00:00:00Z"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    stamp = _dt.datetime(2025, 6, 1, 12, 30, tzinfo=_dt.timezone(_dt.timedelta(hours=2)))
    create_manifest(["data"], outs[1], key=keys.private_key, base_dir=base, created=stamp)
    assert payload(outs[1])["predicate"]["created"] == "2025-06-01T10:30:00Z"
    with pytest.raises(UsageError, match="timezone-aware"):
        create_manifest(["data"], outs[1], key=keys.private_key, base_dir=base, created=_dt.datetime(2025, 6, 1))


# -- errors: exit 2, one line ----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["no_manifest", "not_json", "no_key_option", "private_as_public", "bad_source",
                                  "outside_base", "bad_source_date_epoch"])
def test_errors_are_one_line_exit_2(project, keys, tmp_path, cli, monkeypatch, case):
    base, m = project
    if case == "bad_source_date_epoch":
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    args = {
        "no_manifest": ["manifest", "verify", tmp_path / "nope.json", "--key", keys.public_key],
        "not_json": ["manifest", "verify", keys.public_key, "--key", keys.public_key],
        "no_key_option": ["manifest", "verify", m, "--base-dir", base],
        "private_as_public": ["manifest", "verify", m, "--key", keys.private_key],
        "bad_source": ["manifest", "create", "nothing-here", "--out", tmp_path / "x.json", "--base-dir", base],
        "outside_base": ["manifest", "create", tmp_path / "m.json", "--out", tmp_path / "x.json",
                         "--base-dir", base],
        "bad_source_date_epoch": ["manifest", "create", "data", "--out", tmp_path / "x.json", "--base-dir", base],
    }[case]
    rc, out, err = cli(*args)
    assert rc == 2, out + err
    assert_one_line_error(err)


# -- diff ------------------------------------------------------------------------------------------
def _demo_versions(tmp_path: Path, keys) -> tuple[Path, Path, Path]:
    """Manifests of the demo data before and after: one source changed, one new source added."""
    base = tmp_path / "demo"
    (base / "data").mkdir(parents=True)
    shutil.copyfile(demo_data(), base / "data" / "adult.csv.gz")
    (base / "data" / "adult.csv.gz").chmod(0o644)
    with gzip.open(demo_data(), "rt") as fh:
        lines = fh.read().splitlines()
    (base / "data" / "holdout.csv").write_text("\n".join(lines[:2001]) + "\n")
    before = tmp_path / "before.json"
    assert create_manifest(["data"], before, key=keys.private_key, base_dir=base).return_code == 0
    # run 2: label flips in holdout.csv, and a new source that arrived from elsewhere
    flipped = [lines[0]] + [ln.replace(">50K", "<=50K") if i % 10 == 0 else ln for i, ln in enumerate(lines[1:2001])]
    (base / "data" / "holdout.csv").write_text("\n".join(flipped) + "\n")
    (base / "data" / "scraped.csv").write_text("\n".join([lines[0]] + lines[5000:5500]) + "\n")
    after = tmp_path / "after.json"
    assert create_manifest(["data"], after, key=keys.private_key, base_dir=base).return_code == 0
    return base, before, after


def test_diff_demo_names_added_and_changed(tmp_path, keys, cli):
    _, before, after = _demo_versions(tmp_path, keys)
    report = tmp_path / "diff.json"
    rc, out, err = cli("manifest", "diff", before, after, "--key", keys.public_key, "--report", report)
    assert rc == 1, out + err
    assert "[changed] data/holdout.csv: content changed" in out
    assert "[added] data/scraped.csv: added" in out
    data = json.loads(report.read_text())
    kinds = {(f["source"], f["kind"], f["severity"]) for f in data["findings"]}
    assert ("data/holdout.csv", "changed", "error") in kinds
    assert ("data/scraped.csv", "added", "warning") in kinds
    assert "data/adult.csv.gz" not in {f["source"] for f in data["findings"]}
    statuses = {s["name"]: s["status"] for s in data["sources"]}
    assert statuses == {"data/adult.csv.gz": "same", "data/holdout.csv": "changed", "data/scraped.csv": "added"}


def test_diff_policy_from_params_and_flags(tmp_path, keys, cli):
    _, before, after = _demo_versions(tmp_path, keys)
    params = tmp_path / "params.yaml"
    params.write_text("provenance:\n  diff:\n    fail_on: [removed]\n    volume_threshold: 5.0\n")
    rc, out, _ = cli("manifest", "diff", before, after, "--params", params)
    assert rc == 0 and "WARN  [changed] data/holdout.csv" in out
    assert "not checked" in out or "not signed" in out  # no --key: signatures not checked, said so
    rc, out, _ = cli("manifest", "diff", before, after, "--params", params, "--fail-on", "added")
    assert rc == 1 and "ERROR [added] data/scraped.csv" in out
    params.write_text("provenance:\n  diff:\n    fail_on: [changed, poisoned]\n")
    rc, _, err = cli("manifest", "diff", before, after, "--params", params)
    assert rc == 2
    assert_one_line_error(err)
    assert "poisoned" in err and "volume_jump" in err


def test_diff_moved_volume_and_schema(tmp_path, keys):
    base = tmp_path / "b"
    (base / "data").mkdir(parents=True)
    (base / "data" / "a.csv").write_text("x,y\n" + "1,a\n" * 100)
    (base / "data" / "b.csv").write_text("x,y\n" + "1,a\n" * 100)
    old = tmp_path / "old.json"
    create_manifest(["data"], old, key=keys.private_key, base_dir=base)
    (base / "data" / "a.csv").rename(base / "data" / "renamed.csv")
    (base / "data" / "b.csv").write_text("x,y,z\n" + "1,a,0\n" * 1000)
    new = tmp_path / "new.json"
    create_manifest(["data"], new, key=keys.private_key, base_dir=base)
    r = diff_manifests(old, new, keys=[keys.public_key])
    kinds = {(f.source, f.kind) for f in r.findings}
    assert ("data/renamed.csv", "moved") in kinds
    assert ("data/b.csv", "changed") in kinds
    assert ("data/b.csv", "volume_jump") in kinds
    assert ("data/b.csv", "schema") in kinds
    assert not any(f.kind in ("added", "removed") for f in r.findings)
    assert r.return_code == 1
    relaxed = diff_manifests(old, new, policy={"fail_on": ["removed"], "volume_threshold": 100})
    assert relaxed.return_code == 0
    assert not any(f.kind == "volume_jump" and f.source == "data/b.csv" for f in relaxed.findings)


def test_diff_refuses_a_tampered_manifest(tmp_path, keys, cli):
    _, before, after = _demo_versions(tmp_path, keys)
    other = generate_keypair(tmp_path / "other")
    env, _ = manifest_mod.read_envelope(after)
    sign_envelope(Envelope(env.payload_type, env.payload), load_private_key(other.private_key)).write(after)
    rc, out, _ = cli("manifest", "diff", before, after, "--key", keys.public_key)
    assert rc == 1 and "new manifest after.json" in out and "[unknown_key]" in out
    assert "[added]" not in out


@pytest.mark.parametrize("bad", [{"fail_on": "changed"}, {"volume_threshold": 0}, {"volume_threshold": "x"},
                                 {"threshold": 1}])
def test_diff_policy_validation(bad):
    from poisonguard.errors import ConfigError

    with pytest.raises(ConfigError, match="provenance diff"):
        DiffPolicy.from_mapping(bad)


# -- DVC -------------------------------------------------------------------------------------------
def test_dvc_file_written_by_hand(tmp_path, keys):
    (tmp_path / ".dvc").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    content = b"a,b\n1,2\n"
    (data / "t.csv").write_bytes(content)
    md5 = hashlib.md5(content).hexdigest()
    (data / "t.csv.dvc").write_text(f"outs:\n- md5: {md5}\n  size: {len(content)}\n  hash: md5\n  path: t.csv\n")
    m = tmp_path / "m.json"
    r = create_manifest(["data/t.csv.dvc"], m, key=keys.private_key, base_dir=tmp_path)
    assert r.return_code == 0, str(r)
    src = payload(m)["predicate"]["sources"][0]
    assert src["name"] == "data/t.csv"
    assert src["dvc"] == {"md5": md5, "hash": "md5", "file": "data/t.csv.dvc", "matches": True}
    # content changed without `dvc add`: DVC's record is stale (a warning at create time)
    (data / "t.csv").write_bytes(b"a,b\n1,3\n")
    r = create_manifest(["data/t.csv"], tmp_path / "m2.json", key=keys.private_key, base_dir=tmp_path)
    assert any(f.kind == "dvc_stale" and f.severity == "warning" for f in r.findings)
    assert verify_manifest(m, keys=[keys.public_key], base_dir=tmp_path).return_code == 1


def test_dvc_lock_outs(tmp_path, keys):
    (tmp_path / ".dvc").mkdir()
    content = b"x\n1\n"
    (tmp_path / "out.csv").write_bytes(content)
    md5 = hashlib.md5(content).hexdigest()
    (tmp_path / "dvc.lock").write_text(f"schema: '2.0'\nstages:\n  prep:\n    cmd: x\n    outs:\n    - path: out.csv\n"
                                       f"      hash: md5\n      md5: {md5}\n      size: 4\n")
    create_manifest(["out.csv"], tmp_path / "m.json", key=keys.private_key, base_dir=tmp_path)
    assert payload(tmp_path / "m.json")["predicate"]["sources"][0]["dvc"]["file"] == "dvc.lock"


@pytest.mark.slow  # a real `dvc init` and `dvc add`
@pytest.mark.skipif(shutil.which("dvc", path=str(Path(sys.executable).parent)) is None, reason="dvc not installed")
def test_real_dvc_add(tmp_path, keys):
    dvc = str(Path(sys.executable).parent / "dvc")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True, env=env)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("c\n1\n")
    (tmp_path / "data" / "b.csv").write_text("c\n2\n")
    subprocess.run([dvc, "add", "-q", "data"], cwd=tmp_path, check=True, env=env)
    r = create_manifest(["data.dvc"], tmp_path / "m.json", key=keys.private_key, base_dir=tmp_path)
    assert r.return_code == 0, str(r)
    srcs = {s["name"]: s for s in payload(tmp_path / "m.json")["predicate"]["sources"]}
    assert set(srcs) == {"data/a.csv", "data/b.csv"}
    a = srcs["data/a.csv"]["dvc"]
    assert a["file"] == "data.dvc" and a["dir_md5"].endswith(".dir")
    assert a["md5"] == hashlib.md5(b"c\n1\n").hexdigest()


# -- result object ---------------------------------------------------------------------------------
def test_result_str_html_and_return_code():
    r = ProvenanceResult(operation="verify", findings=(
        Finding("<b>x.csv</b>", "digest_mismatch", "<b>x.csv</b>: SHA-256 mismatch"),
        Finding("y.csv", "added", "y.csv: added", severity="warning")))
    assert r.return_code == 1 and len(r.errors) == 1
    text = str(r)
    assert text.splitlines()[0].startswith("provenance verify: FAILED (exit 1)")
    assert "<b>" not in r._repr_html_() and "&lt;b&gt;x.csv&lt;/b&gt;" in r._repr_html_()
    assert ProvenanceResult(operation="verify", findings=(r.findings[1],)).return_code == 0
    assert ProvenanceResult.from_dict(r.to_dict()) == r


def test_exported_members():
    import poisonguard.provenance as prov

    assert prov.__all__ == sorted(prov.__all__)
    assert all(hasattr(prov, n) for n in prov.__all__)


def test_cli_help_lists_commands(cli):
    rc, out, _ = cli("--help")
    assert rc == 0 and "keygen" in out and "manifest" in out
    rc, out, _ = cli("manifest", "--help")
    assert rc == 0 and all(c in out for c in ("create", "sign", "verify", "diff"))


def test_task_errors_come_back_as_themselves_and_never_import_a_name():
    """A Spark task's error is raised again on the driver: poisonguard's and builtin errors as
    themselves, any other class name (never imported) as a RuntimeError with the same message."""
    import pytest

    from poisonguard.errors import ProvenanceError
    from poisonguard.provenance._parallel import _guarded, _unwrap

    def boom(_: object) -> None:
        raise ProvenanceError("s3://b/k: no such object")

    assert _unwrap([_guarded(lambda x: x + 1)(1)]) == [2]
    with pytest.raises(ProvenanceError, match="no such object"):
        _unwrap([_guarded(boom)(0)])
    with pytest.raises(KeyError):
        _unwrap([("error", "builtins", "KeyError", "k")])
    with pytest.raises(RuntimeError, match="^y$"):
        _unwrap([("error", "os", "system", "y")])
