"""Create, sign and verify manifests: the library functions behind ``poisonguard manifest``."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._env import source_date
from .._version import __version__
from ..errors import UsageError
from ._keys import key_id, load_private_key, load_public_key
from ._manifest import (
    MANIFEST,
    Envelope,
    build_statement,
    check_subject_name,
    joined_sources,
    parse_statement,
    read_envelope,
    sign_envelope,
    verify_signatures,
)
from ._parallel import record_all
from ._result import Finding, ManifestRef, ProvenanceResult, SourceStatus
from ._s3 import S3Reader, bucket_findings, plan_s3, safe_endpoint, verify_s3
from ._sources import LocalPlan, normpath, plan_local, verify_local

__all__ = ["create_manifest", "sign_manifest", "verify_manifest"]

PathLike = Union[str, "os.PathLike[str]"]
PrivateKeyArg = Union[PathLike, Ed25519PrivateKey]
PublicKeyArg = Union[PathLike, Ed25519PublicKey]


def _private(key: PrivateKeyArg) -> Ed25519PrivateKey:
    return key if isinstance(key, Ed25519PrivateKey) else load_private_key(key)


def _public(keys: Sequence[PublicKeyArg]) -> list[Ed25519PublicKey]:
    return [k if isinstance(k, Ed25519PublicKey) else load_public_key(k) for k in keys]


def _created(when: _dt.datetime | None) -> str:
    """ISO 8601 UTC time for a statement: ``when``, else ``$SOURCE_DATE_EPOCH``, else now."""
    if when is None:
        when = source_date() or _dt.datetime.now(_dt.timezone.utc)
    elif when.tzinfo is None:
        raise UsageError("created must be a timezone-aware datetime (for example with tzinfo=datetime.timezone.utc)")
    return when.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def create_manifest(sources: Sequence[str], out: PathLike, *, key: PrivateKeyArg | None = None,
                    base_dir: PathLike | None = None, endpoint_url: str | None = None, tabular: bool = True,
                    s3_client: Any = None, created: _dt.datetime | None = None, engine: str = "pandas",
                    master: str | None = None, workers: int | None = None) -> ProvenanceResult:
    """Hash every source and write a manifest (a DSSE envelope around an in-toto Statement).

    Parameters
    ----------
    sources : sequence of str
        Files, folders, glob patterns (``data/**/*.csv``), DVC files (``data.dvc``) or DVC-tracked
        paths, and ``s3://bucket/key`` or ``s3://bucket/prefix`` URIs.
    out : path-like
        Where to write the manifest (atomically). It is never listed as a source itself.
    key : path-like or Ed25519PrivateKey, default=None
        Sign with this private key; without it the manifest is unsigned (sign it later with
        :func:`sign_manifest`).
    base_dir : path-like, default=None
        Local subject names are relative to this folder (default: the current folder);
        every local source must be inside it.
    endpoint_url : str, default=None
        S3-compatible endpoint; default: boto3's configuration (``AWS_ENDPOINT_URL``).
    tabular : bool, default=True
        Record row count and schema fingerprint of CSV / TSV / Parquet / JSON Lines files.
    s3_client : botocore client, default=None
        Use this S3 client instead of creating one.
    created : datetime, default=None
        The creation time recorded in the statement (stored in UTC, to the second). None: the
        time given by ``SOURCE_DATE_EPOCH`` when that is set (the reproducible-builds
        convention: the same inputs then give the same manifest, byte for byte), else now.
    engine : {"pandas", "spark"}, default="pandas"
        Who hashes the files (:mod:`poisonguard.provenance._parallel`): ``workers`` threads in this
        process, or one Spark task per few files (``master``: see :func:`poisonguard.spark.session`).
        The manifest is the same either way.
    master : str, default=None
        With ``engine="spark"``: the Spark master.
    workers : int, default=None
        With ``engine="pandas"``: threads that hash at once (default
        :data:`~poisonguard.provenance._parallel.DEFAULT_WORKERS`; 1: one file after another).

    Returns
    -------
    ProvenanceResult
        ``operation="create"``; ``return_code`` 1 when something makes the pins unreliable
        (an S3 bucket without versioning, a stored ``ChecksumSHA256`` that does not match).
        The manifest is written in every case, so the findings can be inspected.

    Raises
    ------
    UsageError
        A source does not exist or lies outside ``base_dir``; no source given.
    ProvenanceError, CredentialsError
        S3 errors (no bucket, access denied, no credentials), unreadable key.
    """
    if not sources:
        raise UsageError("no source given; name files, folders, globs, DVC files or s3:// URIs")
    base = normpath(Path(base_dir) if base_dir is not None else Path.cwd())
    if not base.is_dir():
        raise UsageError(f"--base-dir {base} is not a folder")
    out_path = normpath(Path(out))
    signer = _private(key) if key is not None else None  # fail on a bad key before hashing anything
    stamp = _created(created)
    plan = LocalPlan()
    reader: S3Reader | None = None
    s3_objects: dict[str, tuple[str, str, str | None]] = {}
    collections: dict[str, dict[str, Any]] = {}
    for src in sources:
        if src.startswith("s3://"):
            reader = reader or S3Reader(endpoint_url, client=s3_client)
            objs, coll = plan_s3(src, reader)
            if coll is not None:
                collections.setdefault(coll["name"], coll)
            for bucket, k in objs:
                s3_objects.setdefault(f"s3://{bucket}/{k}", (bucket, k, coll["name"] if coll else None))
        else:
            plan_local(src, base, plan, exclude={out_path})
    collections.update(plan.collections)
    records: list[dict[str, Any]] = []
    findings: list[Finding] = []
    local_items = []
    for name, (path, coll_name) in sorted(plan.files.items()):
        reason = check_subject_name(name)
        if reason:
            raise UsageError(f"{name}: cannot be named in a manifest: {reason}")
        local_items.append((path, name, coll_name))
    s3_items = []
    if s3_objects and reader is not None:
        by_bucket: dict[str, list[str]] = {}
        for name, (bucket, _, _) in s3_objects.items():
            by_bucket.setdefault(bucket, []).append(name)
        for bucket, names in sorted(by_bucket.items()):
            findings.extend(bucket_findings(bucket, reader, sorted(names)))
        for name, (bucket, k, coll_name) in sorted(s3_objects.items()):
            reason = check_subject_name(name)
            if reason:
                raise UsageError(f"{name}: cannot be named in a manifest: {reason}")
            s3_items.append((bucket, k, coll_name))
    local_findings: list[Finding] = []
    for i, (rec, found) in enumerate(record_all(local_items, s3_items, base=base, tabular=tabular,
                                                endpoint_url=endpoint_url, reader=reader, engine=engine,
                                                master=master, workers=workers)):
        records.append(rec)
        (local_findings if i < len(local_items) else findings).extend(found)
    findings = local_findings + findings  # as hashed one by one: the files' findings, the buckets', the objects'
    statement = build_statement(records, collections.values(), created=stamp, tool_version=__version__)
    envelope = Envelope.from_statement(statement)
    keyids: tuple[str, ...] = ()
    if signer is not None:
        envelope = sign_envelope(envelope, signer)
        keyids = (key_id(signer.public_key()),)
    else:
        findings.append(Finding(MANIFEST, "unsigned", "the manifest is not signed; sign it with "
                                "`poisonguard manifest sign` before relying on it", severity="warning"))
    envelope.write(out_path)
    return ProvenanceResult(
        operation="create",
        manifests=(ManifestRef("manifest", str(out), _file_sha256(out_path)),),
        keyids=keyids,
        sources=tuple(SourceStatus(r["name"], r["sha256"], r["size"], "recorded") for r in records),
        findings=tuple(findings),
        parameters={"sources": list(sources), "tabular": tabular, "engine": engine,
                    "endpoint_url": safe_endpoint(endpoint_url), "signed": signer is not None},
    )


def sign_manifest(manifest: PathLike, key: PrivateKeyArg, *, out: PathLike | None = None) -> ProvenanceResult:
    """Add (or replace) a signature by ``key`` to a manifest.

    Parameters
    ----------
    manifest : path-like
        The manifest to sign; it must hold a poisonguard Statement.
    key : path-like or Ed25519PrivateKey
        The private key.
    out : path-like, default=None
        Write the signed manifest here (default: in place, atomically).

    Returns
    -------
    ProvenanceResult
        ``operation="sign"``, ``return_code`` 0.
    """
    signer = _private(key)
    env, _ = read_envelope(manifest)
    st = parse_statement(env, manifest)
    signed = sign_envelope(env, signer)
    dest = Path(out) if out is not None else Path(manifest)
    signed.write(dest)
    records = joined_sources(st)
    return ProvenanceResult(
        operation="sign",
        manifests=(ManifestRef("manifest", str(dest), _file_sha256(dest)),),
        keyids=(key_id(signer.public_key()),),
        sources=tuple(SourceStatus(n, r["sha256"], r.get("size"), "recorded") for n, r in records.items()),
        parameters={"out": str(dest)},
    )


def check_envelope(envelope: Envelope, keys: Sequence[PublicKeyArg], *,
                   allow_unsigned: bool) -> tuple[bool, tuple[str, ...], list[Finding]]:
    """Decide whether a manifest's payload may be trusted: ``(trusted, valid_keyids, findings)``.

    With keys, at least one signature must verify with one of them. ``allow_unsigned`` accepts
    a manifest with no signature at all (and, without keys, one whose signatures are not
    checked, with a warning: what ``diff`` does; :func:`verify_manifest` refuses that); it
    never accepts a signature that fails.
    """
    trusted_keys = _public(keys)
    if not trusted_keys and not allow_unsigned:
        raise UsageError("no public key given; pass --key PUB (the .pub file from `poisonguard keygen`) or "
                         "--allow-unsigned to check the sources without a signature")
    if not trusted_keys:
        if envelope.signatures:
            return True, (), [Finding(MANIFEST, "not_checked", "the manifest is signed but no --key was given, so "
                                      "the signature was not checked", severity="warning")]
        return True, (), [Finding(MANIFEST, "unsigned", "the manifest is not signed (allowed by --allow-unsigned)",
                                  severity="warning")]
    valid, findings = verify_signatures(envelope, trusted_keys)
    if not valid and allow_unsigned and not envelope.signatures:
        return True, (), [Finding(MANIFEST, "unsigned", "the manifest is not signed (allowed by --allow-unsigned)",
                                  severity="warning")]
    return bool(valid), valid, findings


def _split_records(st: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Finding]]:
    """Safe records (local, S3 mixed) and collections, and findings for unsafe or inconsistent entries."""
    findings: list[Finding] = []
    names = [s.get("name") for s in st["subject"]]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            findings.append(Finding(str(n), "inconsistent", f"{n}: listed twice in the manifest's subjects"))
        seen.add(str(n))
    pred_names = {str(r.get("name")) for r in st["predicate"].get("sources", []) if isinstance(r, dict)}
    for n in sorted(pred_names - seen):
        findings.append(Finding(n, "inconsistent", f"{n}: described in the predicate but not a subject"))
    records: list[dict[str, Any]] = []
    for name, rec in joined_sources(st).items():
        reason = check_subject_name(name)
        if reason:
            findings.append(Finding(name, "unsafe_name", f"{name!r}: unsafe subject name, not read: {reason}"))
            continue
        expected = "s3" if name.startswith("s3://") else "file"
        if rec.get("type") != expected:
            findings.append(Finding(name, "inconsistent", f"{name}: recorded as type {rec.get('type')!r}, expected "
                                    f"{expected!r}; the manifest is inconsistent"))
            continue
        records.append(rec)
    collections: list[dict[str, Any]] = []
    for coll in st["predicate"].get("collections", []):
        cname = coll.get("name") if isinstance(coll, dict) else None
        ctype = coll.get("type") if isinstance(coll, dict) else None
        reason = (None if cname == "." and ctype == "folder"
                  else check_subject_name(cname, s3_prefix=ctype == "s3-prefix"))
        if reason is None and (ctype == "s3-prefix") != str(cname).startswith("s3://"):
            reason = "an s3-prefix collection must be named s3://bucket/prefix, and only it"
        if reason or ctype not in ("folder", "glob", "s3-prefix"):
            findings.append(Finding(str(cname), "unsafe_name", f"{cname!r}: unsafe or unknown collection, not read: "
                                    f"{reason or f'type {ctype!r}'}"))
            continue
        collections.append(coll)
    return records, collections, findings


def verify_manifest(manifest: PathLike, *, keys: Sequence[PublicKeyArg] = (), allow_unsigned: bool = False,
                    base_dir: PathLike | None = None, endpoint_url: str | None = None,
                    s3_client: Any = None) -> ProvenanceResult:
    """Check a manifest's signature, then re-hash every source and compare.

    The signature is checked on the raw payload before anything in it is read. Then every
    local source is re-hashed (streamed), listed folders and globs are re-listed for files
    added since, and every S3 object is checked: bucket versioning enabled, the pinned version
    still present and still the current one, its bytes' SHA-256 and its stored
    ``ChecksumSHA256`` both equal to the recorded digest.

    Parameters
    ----------
    manifest : path-like
        The manifest.
    keys : sequence of path-like or Ed25519PublicKey, default=()
        Trusted public keys; one valid signature by one of them is required.
    allow_unsigned : bool, default=False
        Accept a manifest without signature. A signed manifest always needs ``keys``: its
        signature is checked, never skipped.
    base_dir : path-like, default=None
        Folder the local names are relative to (default: the current folder).
    endpoint_url : str, default=None
        S3 endpoint; default: ``AWS_ENDPOINT_URL`` / boto3's configuration, else the endpoint
        recorded in the manifest.
    s3_client : botocore client, default=None
        Use this S3 client instead of creating one.

    Returns
    -------
    ProvenanceResult
        ``operation="verify"``; ``return_code`` 1 with one finding per problem, each naming
        its source: digest mismatch, missing or unlisted source, bad or unknown signature,
        unsafe (absolute, ``..``) names, S3 versioning off, pinned version gone or replaced,
        stored checksum mismatch.

    Raises
    ------
    UsageError
        No key and no ``allow_unsigned``; a signed manifest and no key.
    ProvenanceError, CredentialsError
        Unreadable manifest or key, S3 access denied, no credentials.
    """
    env, digest = read_envelope(manifest)
    mref = (ManifestRef("manifest", str(manifest), digest),)
    params: dict[str, Any] = {"allow_unsigned": allow_unsigned, "keys": [str(k) for k in keys
                                                                         if not isinstance(k, Ed25519PublicKey)],
                              "endpoint_url": safe_endpoint(endpoint_url)}
    if not keys and allow_unsigned and env.signatures:  # a signature that cannot be checked is never waved through
        raise UsageError(f"{manifest}: the manifest is signed, so --allow-unsigned does not apply; pass --key PUB "
                         "(the signer's .pub file) to check its signature")
    trusted, keyids, sig_findings = check_envelope(env, keys, allow_unsigned=allow_unsigned)
    findings = [dataclasses.replace(f, source=str(manifest), message=f"{manifest}: {f.message}")
                for f in sig_findings]
    if not trusted:
        return ProvenanceResult(operation="verify", manifests=mref, findings=tuple(findings), parameters=params)
    st = parse_statement(env, manifest)
    records, collections, more = _split_records(st)
    findings.extend(more)
    base = normpath(Path(base_dir) if base_dir is not None else Path.cwd())
    params["base_dir"] = str(base_dir) if base_dir is not None else "."
    local = [r for r in records if r["type"] == "file"]
    remote = [r for r in records if r["type"] == "s3"]
    statuses, found = verify_local(local, [c for c in collections if c["type"] != "s3-prefix"], base,
                                   exclude={normpath(Path(manifest))})
    findings.extend(found)
    s3_colls = [c for c in collections if c["type"] == "s3-prefix"]
    if remote or s3_colls:
        endpoint = endpoint_url
        if endpoint is None and not (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")):
            recorded = {str(ep) for r in remote if (ep := (r.get("s3") or {}).get("endpoint"))}
            if len(recorded) == 1:
                rec_ep = recorded.pop()
                endpoint = rec_ep if "amazonaws.com" not in rec_ep else None
        reader = S3Reader(endpoint, client=s3_client)
        s3_statuses, found = verify_s3(remote, s3_colls, reader)
        statuses += s3_statuses
        findings.extend(found)
    return ProvenanceResult(operation="verify", manifests=mref, keyids=keyids, sources=tuple(statuses),
                            findings=tuple(findings), parameters=params)
