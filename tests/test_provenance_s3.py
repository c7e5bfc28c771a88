"""Provenance of S3 objects against a real S3 endpoint: moto's standalone server on 127.0.0.1.

boto3 talks HTTP to ``moto.server.ThreadedMotoServer``; nothing is mocked in-process. Known
limits of moto worked around here: it stores a wrong ``ChecksumSHA256`` without complaint (we
use that to plant one) and has no ``GetObjectRetention`` (lock state is read from HeadObject).
Tamper cases overwrite objects with new versions rather than relying on S3 to refuse bad bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import urllib.request
import uuid
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from poisonguard.provenance import create_manifest, diff_manifests, generate_keypair, verify_manifest  # noqa: E402

pytestmark = pytest.mark.slow  # moto's standalone S3 server; `make test-fast` skips it

FAKE_KEY_ID = "AKIAPGFAKE7Q2X9ZTEST"
FAKE_SECRET = "pgFakeSecret/9f8e7d6c+5b4a3210zyxwvutsrq"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto S3 server on 127.0.0.1 and a free port (port=0: the OS picks one)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines on stderr
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3env(monkeypatch, moto_endpoint, tmp_path):
    """Fake credentials in the environment, isolated from any real AWS configuration."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_endpoint


@pytest.fixture
def s3(s3env):
    """The test's own boto3 client (to set up and tamper with buckets)."""
    return boto3.client("s3", endpoint_url=s3env, region_name="us-east-1")


def _put(s3, bucket: str, key: str, body: bytes) -> str:
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256")["VersionId"]


@pytest.fixture
def bucket(s3):
    """A fresh versioned bucket with two training files under ``train/``."""
    name = f"pg-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    _put(s3, name, "train/a.csv", b"x,y\n1,a\n2,b\n")
    _put(s3, name, "train/b.csv", b"x,y\n3,a\n4,b\n" * 10)
    return name


@pytest.fixture
def keys(tmp_path):
    return generate_keypair(tmp_path / "keys")


def assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("poisonguard: error:") and "Traceback" not in err, err


def payload(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))


@pytest.fixture
def signed(bucket, keys, s3env, tmp_path, cli):
    """A signed manifest of ``s3://bucket/train/``."""
    m = tmp_path / "m.json"
    rc, out, err = cli("manifest", "create", f"s3://{bucket}/train", "--out", m, "--key", keys.private_key,
                       "--endpoint-url", s3env)
    assert rc == 0, out + err
    return m


def verify(cli, m, keys, endpoint) -> tuple[int, str, str]:
    return cli("manifest", "verify", m, "--key", keys.public_key, "--endpoint-url", endpoint)


# -- clean runs ------------------------------------------------------------------------------------
def test_create_records_versions_checksums_and_verify_passes(signed, bucket, keys, s3, s3env, cli):
    st = payload(signed)
    assert [s["name"] for s in st["subject"]] == [f"s3://{bucket}/train/a.csv", f"s3://{bucket}/train/b.csv"]
    src = st["predicate"]["sources"][0]
    head = s3.head_object(Bucket=bucket, Key="train/a.csv", ChecksumMode="ENABLED")
    meta = src["s3"]
    assert meta["version_id"] == head["VersionId"] and src["uri"].endswith(f"?versionId={head['VersionId']}")
    assert meta["checksum_sha256"] == head["ChecksumSHA256"] == base64.b64encode(
        hashlib.sha256(b"x,y\n1,a\n2,b\n").digest()).decode()
    assert meta["etag"] == head["ETag"] and meta["last_modified"].startswith(str(head["LastModified"].year))
    assert meta["endpoint"] == s3env and meta["region"] == "us-east-1" and meta["owner"]
    assert set(meta["object_lock"]) == {"mode", "retain_until", "legal_hold"}
    assert st["subject"][0]["digest"]["sha256"] == hashlib.sha256(b"x,y\n1,a\n2,b\n").hexdigest()
    assert st["predicate"]["collections"][0]["type"] == "s3-prefix"
    rc, out, _ = verify(cli, signed, keys, s3env)
    assert rc == 0, out


def test_endpoint_from_environment_and_from_manifest(bucket, keys, s3env, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3env)
    m = tmp_path / "m.json"
    assert cli("manifest", "create", f"s3://{bucket}/train/a.csv", "--out", m,
               "--key", keys.private_key)[0] == 0
    assert cli("manifest", "verify", m, "--key", keys.public_key)[0] == 0
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # falls back to the endpoint recorded in the signed manifest
    assert cli("manifest", "verify", m, "--key", keys.public_key)[0] == 0


def test_whole_bucket(bucket, keys, s3, s3env, tmp_path, cli):
    m = tmp_path / "m.json"
    assert cli("manifest", "create", f"s3://{bucket}", "--out", m, "--key", keys.private_key,
               "--endpoint-url", s3env)[0] == 0
    assert payload(m)["predicate"]["collections"][0]["name"] == f"s3://{bucket}/"
    assert verify(cli, m, keys, s3env)[0] == 0
    _put(s3, bucket, "anywhere.csv", b"x\n")
    rc, out, _ = verify(cli, m, keys, s3env)
    assert rc == 1 and f"[unlisted] s3://{bucket}/anywhere.csv" in out


def test_object_lock_state_from_head_object(s3, s3env, keys, tmp_path):
    name = f"pg-lock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)  # turns versioning on
    s3.put_object(Bucket=name, Key="d.csv", Body=b"a\n1\n", ChecksumAlgorithm="SHA256",
                  ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate="2099-01-01T00:00:00Z")
    m = tmp_path / "m.json"
    r = create_manifest([f"s3://{name}/d.csv"], m, key=keys.private_key, endpoint_url=s3env)
    assert r.return_code == 0, str(r)
    lock = payload(m)["predicate"]["sources"][0]["s3"]["object_lock"]
    assert lock["mode"] == "GOVERNANCE" and lock["retain_until"].startswith("2099-01-01")


# -- the tamper suite (S3 part) --------------------------------------------------------------------
def test_tamper_object_replaced_by_new_version(signed, bucket, keys, s3, s3env, cli):
    new_version = _put(s3, bucket, "train/a.csv", b"x,y\n1,b\n2,b\n")  # a label flipped
    rc, out, err = verify(cli, signed, keys, s3env)
    assert rc == 1, out + err
    assert f"[version_replaced] s3://{bucket}/train/a.csv: replaced by a new version {new_version}" in out


def test_tamper_versioning_suspended(signed, bucket, keys, s3, s3env, cli):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    rc, out, _ = verify(cli, signed, keys, s3env)
    assert rc == 1
    assert f"[versioning] s3://{bucket}: bucket versioning is suspended" in out
    assert f"s3://{bucket}/train/a.csv" in out


def test_tamper_pinned_version_deleted(signed, bucket, keys, s3, s3env, cli):
    pinned = payload(signed)["predicate"]["sources"][1]["s3"]["version_id"]
    _put(s3, bucket, "train/b.csv", b"poison\n")
    s3.delete_object(Bucket=bucket, Key="train/b.csv", VersionId=pinned)
    rc, out, _ = verify(cli, signed, keys, s3env)
    assert rc == 1
    assert f"[version_gone] s3://{bucket}/train/b.csv: the pinned version {pinned} no longer exists" in out


def test_tamper_object_deleted(signed, bucket, keys, s3, s3env, cli):
    s3.delete_object(Bucket=bucket, Key="train/a.csv")  # a delete marker on top
    rc, out, _ = verify(cli, signed, keys, s3env)
    assert rc == 1 and f"[missing] s3://{bucket}/train/a.csv: the object was deleted" in out


def test_tamper_object_added_under_prefix(signed, bucket, keys, s3, s3env, cli):
    _put(s3, bucket, "train/zz-poison.csv", b"x,y\n9,a\n")
    _put(s3, bucket, "other/ignored.csv", b"x\n")
    rc, out, _ = verify(cli, signed, keys, s3env)
    assert rc == 1 and f"[unlisted] s3://{bucket}/train/zz-poison.csv" in out and "ignored.csv" not in out


def test_stored_checksum_that_does_not_match_the_bytes(bucket, keys, s3, s3env, tmp_path, cli):
    # moto stores a wrong ChecksumSHA256 without complaint: plant one on a new version
    wrong = base64.b64encode(b"\x00" * 32).decode()
    s3.put_object(Bucket=bucket, Key="train/a.csv", Body=b"x,y\n1,a\n2,a\n", ChecksumAlgorithm="SHA256",
                  ChecksumSHA256=wrong)
    assert s3.head_object(Bucket=bucket, Key="train/a.csv", ChecksumMode="ENABLED")["ChecksumSHA256"] == wrong
    m = tmp_path / "m.json"
    rc, out, _ = cli("manifest", "create", f"s3://{bucket}/train", "--out", m, "--key", keys.private_key,
                     "--endpoint-url", s3env)
    assert rc == 1 and f"[checksum_mismatch] s3://{bucket}/train/a.csv" in out
    rc, out, _ = verify(cli, m, keys, s3env)
    assert rc == 1 and f"[checksum_mismatch] s3://{bucket}/train/a.csv" in out


def test_bucket_without_versioning(s3, s3env, keys, tmp_path, cli):
    name = f"pg-nover-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="d.csv", Body=b"a\n1\n")
    m = tmp_path / "m.json"
    rc, out, _ = cli("manifest", "create", f"s3://{name}/d.csv", "--out", m, "--key", keys.private_key,
                     "--endpoint-url", s3env)
    assert rc == 1 and f"[versioning] s3://{name}: bucket versioning is not enabled" in out
    assert "s3://" + name + "/d.csv" in out
    rc, out, _ = verify(cli, m, keys, s3env)
    assert rc == 1 and "[versioning]" in out


# -- errors ----------------------------------------------------------------------------------------
def test_no_such_bucket_is_one_line_exit_2(s3env, keys, tmp_path, cli):
    rc, _, err = cli("manifest", "create", "s3://pg-does-not-exist-000/x", "--out", tmp_path / "m.json",
                     "--endpoint-url", s3env)
    assert rc == 2
    assert_one_line_error(err)
    assert "no such bucket" in err


def test_missing_bucket_at_verify_is_a_finding(signed, bucket, keys, s3, s3env, cli):
    for v in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    for d in s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=d["Key"], VersionId=d["VersionId"])
    s3.delete_bucket(Bucket=bucket)
    rc, out, _ = verify(cli, signed, keys, s3env)
    assert rc == 1 and f"[missing] s3://{bucket}: the bucket no longer exists" in out


def test_no_credentials_is_one_line_exit_2(s3env, monkeypatch, tmp_path, cli):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    rc, _, err = cli("manifest", "create", "s3://pg-any-bucket/x", "--out", tmp_path / "m.json",
                     "--endpoint-url", s3env)
    assert rc == 2
    assert_one_line_error(err)
    assert "no usable AWS credentials" in err


def test_unreachable_endpoint_is_one_line_exit_2(s3env, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    rc, _, err = cli("manifest", "create", "s3://pg-any-bucket/x", "--out", tmp_path / "m.json",
                     "--endpoint-url", f"http://127.0.0.1:{port}")
    assert rc == 2
    assert_one_line_error(err)
    assert "cannot reach the S3 endpoint" in err


@pytest.fixture
def iam_user(s3env, monkeypatch):
    """Create an IAM user on the moto server, then turn on moto's IAM enforcement; off again after."""
    iam = boto3.client("iam", endpoint_url=s3env, region_name="us-east-1")
    made: list[str] = []

    def make(policy: dict) -> None:
        name = f"pg-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        made.append(name)
        _set_auth(s3env, b"0")

    yield make
    _set_auth(s3env, b"inf")


def _set_auth(endpoint: str, count: bytes) -> None:
    """moto's switch: IAM is enforced after ``count`` more requests (``inf``: never)."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count, method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200


def _policy_for(bucket: str) -> dict:
    text = (REPO / "docs" / "iam-policy.json").read_text()
    return json.loads(text.replace("YOUR-TRAINING-DATA-BUCKET", bucket))


def test_documented_iam_policy_is_enough(bucket, keys, s3env, iam_user, tmp_path, cli):
    iam_user(_policy_for(bucket))
    m = tmp_path / "m.json"
    rc, out, err = cli("manifest", "create", f"s3://{bucket}/train", "--out", m, "--key", keys.private_key,
                       "--endpoint-url", s3env)
    assert rc == 0, out + err
    rc, out, err = verify(cli, m, keys, s3env)
    assert rc == 0, out + err


def test_access_denied_is_one_line_exit_2(bucket, keys, s3env, iam_user, tmp_path, cli):
    policy = _policy_for(bucket)
    policy["Statement"] = [s for s in policy["Statement"] if not any("GetObject" in a for a in s["Action"])]
    iam_user(policy)
    rc, _, err = cli("manifest", "create", f"s3://{bucket}/train", "--out", tmp_path / "m.json",
                     "--endpoint-url", s3env)
    assert rc == 2
    assert_one_line_error(err)
    assert "access denied" in err and "docs/iam-policy.json" in err


# -- credentials never leak ------------------------------------------------------------------------
def test_credentials_never_in_outputs_logs_or_messages(bucket, keys, s3, s3env, tmp_path, cli, caplog,
                                                       monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the unreachable endpoint below fails at once
    caplog.set_level(logging.DEBUG, logger="poisonguard")
    secrets = (FAKE_KEY_ID, FAKE_SECRET)
    outputs = tmp_path / "out"
    m1, m2 = outputs / "m1.json", outputs / "m2.json"
    texts: list[str] = []
    for args in (
        ["manifest", "create", f"s3://{bucket}/train", "--out", m1, "--key", keys.private_key, "--endpoint-url", s3env,
         "--report", outputs / "create.json", "--format", "json"],
        ["manifest", "verify", m1, "--key", keys.public_key, "--endpoint-url", s3env, "--report", outputs / "v.json"],
        ["manifest", "create", f"s3://{bucket}/train", "--out", m2, "--endpoint-url", s3env],
        ["manifest", "diff", m1, m2, "--report", outputs / "diff.json", "--format", "json"],
        ["manifest", "create", "s3://pg-no-such-bucket-xyz/k", "--out", outputs / "x.json", "--endpoint-url", s3env],
        ["manifest", "create", f"s3://{bucket}/train", "--out", outputs / "y.json",
         "--endpoint-url", f"http://{FAKE_KEY_ID}:{FAKE_SECRET}@127.0.0.1:1"],
    ):
        rc, out, err = cli(*args)
        texts += [out, err]
    _put(s3, bucket, "train/a.csv", b"tampered\n")
    r = verify_manifest(m1, keys=[keys.public_key], endpoint_url=s3env)
    texts += [str(r), r.to_json(), r._repr_html_()]
    from poisonguard.errors import PoisonguardError

    with pytest.raises(PoisonguardError) as exc:
        create_manifest([f"s3://{bucket}/nothing-here/"], outputs / "z.json", endpoint_url=s3env)
    texts.append(str(exc.value))
    texts.append(caplog.text)
    files = [p for p in outputs.rglob("*") if p.is_file()]
    assert len(files) >= 5
    texts += [p.read_text() for p in files]
    for secret in secrets:
        for text in texts:
            assert secret not in text
    assert any("s3:GetBucketVersioning" in rec.getMessage() for rec in caplog.records)  # we did log, safely


# -- diff of S3 sources ----------------------------------------------------------------------------
def test_diff_moved_to_another_bucket_and_endpoint(bucket, keys, s3, s3env, tmp_path):
    old = tmp_path / "old.json"
    create_manifest([f"s3://{bucket}/train"], old, key=keys.private_key, endpoint_url=s3env)
    # same objects through another endpoint name of the same server: moved endpoint
    other_ep = s3env.replace("127.0.0.1", "localhost")
    via_other = tmp_path / "other-endpoint.json"
    create_manifest([f"s3://{bucket}/train"], via_other, key=keys.private_key, endpoint_url=other_ep)
    r = diff_manifests(old, via_other, keys=[keys.public_key])
    assert r.return_code == 1
    assert any(f.kind == "moved" and "another endpoint" in f.message and f.source == f"s3://{bucket}/train/a.csv"
               for f in r.findings)
    # the training data copied to another bucket: moved bucket
    other = f"{bucket}-copy"
    s3.create_bucket(Bucket=other)
    s3.put_bucket_versioning(Bucket=other, VersioningConfiguration={"Status": "Enabled"})
    for key in ("train/a.csv", "train/b.csv"):
        _put(s3, other, key, s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    moved = tmp_path / "moved.json"
    create_manifest([f"s3://{other}/train"], moved, key=keys.private_key, endpoint_url=s3env)
    r = diff_manifests(old, moved, keys=[keys.public_key])
    msgs = [f.message for f in r.findings if f.kind == "moved"]
    assert len(msgs) == 2 and all(f"bucket {bucket} -> {other}" in m for m in msgs)
    assert not any(f.kind in ("added", "removed") for f in r.findings)


def test_hashing_in_parallel_gives_the_same_manifest_threads_and_spark(s3, s3env, keys, tmp_path):
    """Hundreds of partition files and an S3 prefix of objects, hashed one after another, by threads,
    and by Spark tasks (a real local[2] Spark, in a subprocess whose executors make their own boto3
    clients from the environment): the same manifest, byte for byte; the same finding on a bad object."""
    import os
    import subprocess
    import sys

    pytest.importorskip("pyspark")
    parts = tmp_path / "data" / "parts"
    parts.mkdir(parents=True)
    for i in range(300):
        (parts / f"part-{i:05d}.csv").write_text(f"x,y\n{i},a\n{i + 1},b\n" * (1 + i % 7))
    name = f"pg-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for i in range(40):
        _put(s3, name, f"train/part-{i:03d}.csv", f"x,y\n{i},a\n".encode() * (i + 1))
    s3.put_object(Bucket=name, Key="train/part-999.csv", Body=b"x,y\n9,b\n")  # no stored checksum: a warning
    env = {**os.environ, "CI": "true", "SOURCE_DATE_EPOCH": "1767225600"}
    outs = {}
    for engine, extra in (("one", ["--workers", "1"]), ("threads", []),
                          ("spark", ["--engine", "spark", "--spark-master", "local[2]"])):
        out = tmp_path / f"{engine}.manifest.json"
        proc = subprocess.run([sys.executable, "-m", "poisonguard", "manifest", "create", "data/parts",
                               f"s3://{name}/train/", "--endpoint-url", s3env, "--key", str(keys.private_key),
                               "--base-dir", str(tmp_path), "--out", str(out), "--format", "json", *extra],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        doc = json.loads(proc.stdout)
        assert any(f["kind"] == "no_checksum" for f in doc["findings"]), doc["findings"]
        assert FAKE_SECRET not in proc.stdout + proc.stderr
        assert doc["parameters"]["engine"] == ("spark" if engine == "spark" else "pandas")
        outs[engine] = out.read_bytes()
    assert outs["one"] == outs["threads"] == outs["spark"]
    subjects = payload(tmp_path / "spark.manifest.json")["subject"]
    assert len(subjects) == 341 and subjects[0]["name"].startswith("data/parts/part-00000")
