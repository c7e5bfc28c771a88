"""S3 sources through boto3: pin object versions, recompute SHA-256, check bucket versioning.

boto3 is imported lazily. Clients use the standard credential chain, an endpoint URL from
the caller or ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` (S3-compatible stores), standard
retries (5 attempts unless ``AWS_MAX_ATTEMPTS`` says otherwise) and no response-checksum
validation by botocore: we recompute SHA-256 ourselves and compare it with the stored
``ChecksumSHA256`` rather than trusting either.

Errors are mapped to :class:`~poisonguard.errors.ProvenanceError` /
:class:`~poisonguard.errors.CredentialsError` with one-line messages built from the error
*code* only; service messages are not passed through and every message is scrubbed of the
credential values in the environment, so no access key or secret reaches a log, a report or
an exception.

Permissions used (see ``docs/iam-policy.json``): ``s3:ListBucket``, ``s3:ListBucketVersions``,
``s3:GetBucketVersioning``, ``s3:GetObject``, ``s3:GetObjectVersion``, and optionally
``s3:GetBucketAcl`` (bucket owner, to detect a move to another account).
"""

from __future__ import annotations

import base64
import logging
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import CredentialsError, ProvenanceError, UsageError
from ._hashing import FileDigest, hash_chunks, read_body
from ._result import Finding, SourceStatus

__all__ = ["S3Reader", "parse_s3_uri", "redact"]

logger = logging.getLogger(__name__)

_CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_CRED_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
               "TokenRefreshRequired", "InvalidClientTokenId", "UnrecognizedClientException",
               "AuthorizationHeaderMalformed", "InvalidSecurity"}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound", "NoSuchVersion", "NoSuchBucket"}
IAM_HINT = "grant the permissions in docs/iam-policy.json"


class NoSuchBucketError(ProvenanceError):
    """The bucket does not exist (an error when creating, a finding when verifying)."""


def redact(text: str) -> str:
    """Remove every credential value found in the environment from ``text``."""
    for var in _CREDENTIAL_ENV:
        value = os.environ.get(var)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def safe_endpoint(url: str | None) -> str | None:
    """An endpoint URL without user info, query or fragment (what is recorded and shown)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key-or-prefix`` into ``(bucket, key)``.

    Raises
    ------
    UsageError
        Not an ``s3://`` URI or no bucket.
    """
    if not uri.startswith("s3://"):
        raise UsageError(f"{uri}: not an s3:// URI; write s3://bucket/prefix")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise UsageError(f"{uri}: no bucket; write s3://bucket/prefix")
    return bucket, key


def _code(exc: Exception) -> str:
    resp = getattr(exc, "response", None) or {}
    return str(resp.get("Error", {}).get("Code", "") or resp.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _retries() -> dict[str, Any]:
    """Standard retries, 5 attempts, unless ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` say otherwise."""
    raw = os.environ.get("AWS_MAX_ATTEMPTS", "5")
    try:
        attempts = int(raw)
    except ValueError:
        raise UsageError(f"AWS_MAX_ATTEMPTS must be a whole number >= 1, got {raw!r}") from None
    if attempts < 1:
        raise UsageError(f"AWS_MAX_ATTEMPTS must be a whole number >= 1, got {raw!r}")
    return {"max_attempts": attempts, "mode": os.environ.get("AWS_RETRY_MODE", "standard")}


class S3Reader:
    """A boto3 S3 client with error mapping and per-bucket caches.

    Parameters
    ----------
    endpoint_url : str, default=None
        An S3-compatible endpoint; default: boto3's own configuration (``AWS_ENDPOINT_URL``...).
    client : botocore client, default=None
        Use this client instead of creating one.
    """

    def __init__(self, endpoint_url: str | None = None, *, client: Any = None) -> None:
        self._endpoint_url = endpoint_url
        self._client = client
        self._versioning: dict[str, str | None] = {}
        self._owner: dict[str, str | None] = {}

    # -- client ---------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The boto3 S3 client (created on first use)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries=_retries(), connect_timeout=10, read_timeout=60,
                            response_checksum_validation="when_required", user_agent_extra="poisonguard")
            try:
                self._client = boto3.session.Session().client("s3", endpoint_url=self._endpoint_url, config=config)
            except ValueError as exc:
                raise UsageError(redact(f"invalid S3 endpoint URL {safe_endpoint(self._endpoint_url)!r} ({exc}); "
                                        "give a URL like http://127.0.0.1:9000")) from None
        return self._client

    @property
    def endpoint(self) -> str | None:
        """The endpoint actually used, without user info."""
        return safe_endpoint(self.client.meta.endpoint_url)

    @property
    def region(self) -> str | None:
        """The client's region."""
        return self.client.meta.region_name

    def error(self, exc: Exception, action: str, target: str) -> ProvenanceError:
        """Map a botocore exception to a one-line :class:`ProvenanceError` without credentials."""
        from botocore import exceptions as bex

        where = f"{action} on {target}"
        if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError, bex.CredentialRetrievalError)):
            return CredentialsError(redact(
                f"no usable AWS credentials for {where}: configure the standard chain (AWS_PROFILE, "
                "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, SSO or an instance role)"))
        if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError)):
            return ProvenanceError(redact(
                f"cannot reach the S3 endpoint {self.endpoint} for {where} ({type(exc).__name__}); check "
                "--endpoint-url / AWS_ENDPOINT_URL and the network"))
        code = _code(exc)
        if code in _CRED_CODES:
            return CredentialsError(redact(f"the AWS credentials were rejected ({code}) for {where}; check or "
                                           "refresh them (the values are never shown)"))
        if code in _DENIED_CODES:
            return ProvenanceError(redact(f"access denied ({code}) for {where}; {IAM_HINT}"))
        if code == "NoSuchBucket":
            return NoSuchBucketError(redact(f"no such bucket for {where} at {self.endpoint}; check the bucket "
                                            "name, the endpoint and the region"))
        if code in ("NoSuchKey", "404", "NotFound"):
            return ProvenanceError(redact(f"no such object for {where}"))
        if code == "NoSuchVersion":
            return ProvenanceError(redact(f"no such object version for {where}"))
        return ProvenanceError(redact(f"S3 error {code or type(exc).__name__} for {where}"))

    def _call(self, action: str, target: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        logger.debug("S3 %s %s", action, target)
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self.error(exc, action, target) from None

    # -- bucket level ---------------------------------------------------------------------------
    def versioning(self, bucket: str) -> str | None:
        """The bucket's versioning status (``"Enabled"``, ``"Suspended"`` or None if never enabled)."""
        if bucket not in self._versioning:
            resp = self._call("s3:GetBucketVersioning", f"s3://{bucket}", self.client.get_bucket_versioning,
                              Bucket=bucket)
            self._versioning[bucket] = resp.get("Status")
        return self._versioning[bucket]

    def owner(self, bucket: str) -> str | None:
        """The bucket owner's canonical id, or None when ``s3:GetBucketAcl`` is not allowed."""
        if bucket not in self._owner:
            from botocore.exceptions import ClientError

            from botocore.exceptions import BotoCoreError

            try:
                resp = self.client.get_bucket_acl(Bucket=bucket)
            except BotoCoreError as exc:
                raise self.error(exc, "s3:GetBucketAcl", f"s3://{bucket}") from None
            except ClientError as exc:
                if _code(exc) not in _DENIED_CODES and _code(exc) not in ("NotImplemented", "501"):
                    raise self.error(exc, "s3:GetBucketAcl", f"s3://{bucket}") from None
                logger.debug("bucket owner of s3://%s not readable (%s)", bucket, _code(exc))
                resp = {}
            self._owner[bucket] = (resp.get("Owner") or {}).get("ID")
        return self._owner[bucket]

    # -- object level ---------------------------------------------------------------------------
    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        """``HeadObject`` with checksums, or None when the object (version) does not exist.

        A current object whose latest version is a delete marker gives ``{"DeleteMarker": True}``.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return dict(self.client.head_object(**kwargs))
        except ClientError as exc:
            code = _code(exc)
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if code in _NOT_FOUND_CODES or (version_id and code == "400"):
                if not version_id and headers.get("x-amz-delete-marker") == "true":
                    return {"DeleteMarker": True}
                return None
            raise self.error(exc, "s3:GetObject (head)", f"s3://{bucket}/{key}") from None
        except BotoCoreError as exc:
            raise self.error(exc, "s3:GetObject (head)", f"s3://{bucket}/{key}") from None

    def digest(self, bucket: str, key: str, version_id: str | None, *,
               missing_ok: bool = False) -> tuple[FileDigest, str | None] | None:
        """Stream the object (version) and return its SHA-256 and the version id S3 served.

        With ``missing_ok``, a missing object or version gives None instead of an error.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        target = f"s3://{bucket}/{key}"
        try:
            resp = self.client.get_object(**kwargs)
            with resp["Body"] as body:
                digest = hash_chunks(read_body(body))
        except ClientError as exc:
            if missing_ok and _code(exc) in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
                return None
            raise self.error(exc, "s3:GetObject", target) from None
        except BotoCoreError as exc:
            raise self.error(exc, "s3:GetObject", target) from None
        return digest, resp.get("VersionId")

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Keys of the current objects under ``prefix`` (folder markers ending in ``/`` skipped)."""
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
        except (ClientError, BotoCoreError) as exc:
            raise self.error(exc, "s3:ListBucket", f"s3://{bucket}/{prefix}") from None
        return sorted(keys)


def _b64_of_hex(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value is not None else None)


def _checksum_finding(name: str, stored: str | None, ctype: str | None, sha256_hex: str,
                      version: str | None) -> Finding | None:
    if not stored or (ctype and ctype.upper() == "COMPOSITE") or "-" in stored:
        return None  # no full-object SHA-256 stored (or a multipart composite): nothing to compare
    if stored != _b64_of_hex(sha256_hex):
        return Finding(name, "checksum_mismatch",
                       f"{name}: the ChecksumSHA256 stored by S3 for version {version} ({stored}) does not match "
                       f"the SHA-256 recomputed from its bytes ({_b64_of_hex(sha256_hex)})")
    return None


def plan_s3(uri: str, reader: S3Reader) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """Resolve ``s3://bucket/key`` (one object) or ``s3://bucket/prefix`` into objects and a collection.

    A key that exists is one object; otherwise it is a prefix (``/`` appended when missing).

    Raises
    ------
    UsageError
        Nothing under the prefix.
    ProvenanceError, CredentialsError
        S3 errors (no bucket, access denied, no credentials).
    """
    bucket, key = parse_s3_uri(uri)
    reader.versioning(bucket)  # NoSuchBucket / AccessDenied / no credentials surface here, first
    if key and not key.endswith("/"):
        head = reader.head(bucket, key)
        if head is not None and not head.get("DeleteMarker"):
            return [(bucket, key)], None
        key += "/"
    keys = reader.list_keys(bucket, key)
    if not keys:
        raise UsageError(f"{uri}: no object under s3://{bucket}/{key}; check the prefix")
    coll = {"name": f"s3://{bucket}/{key}", "type": "s3-prefix",
            "s3": {"bucket": bucket, "prefix": key, "endpoint": reader.endpoint}}
    return [(bucket, k) for k in keys], coll


def bucket_findings(bucket: str, reader: S3Reader, names: list[str]) -> list[Finding]:
    """An error when the bucket's versioning is not enabled (versions cannot be pinned).

    ``names`` are the sources in the bucket, named in the message.
    """
    status = reader.versioning(bucket)
    if status == "Enabled":
        return []
    state = "suspended" if status == "Suspended" else "not enabled"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return [Finding(f"s3://{bucket}", "versioning",
                    f"s3://{bucket}: bucket versioning is {state}, so object versions cannot be pinned and an "
                    f"overwrite leaves no trace (sources: {shown}); enable versioning on the bucket")]


def record_s3(bucket: str, key: str, collection: str | None,
              reader: S3Reader) -> tuple[dict[str, Any], list[Finding]]:
    """Pin the current version of an object: its metadata and the SHA-256 recomputed from its bytes."""
    name = f"s3://{bucket}/{key}"
    findings: list[Finding] = []
    head = reader.head(bucket, key)
    if head is None or head.get("DeleteMarker"):
        raise ProvenanceError(f"{name}: no such object (deleted while the manifest was made?); run again")
    version = head.get("VersionId")
    if version == "null":
        version = None
    got = reader.digest(bucket, key, version, missing_ok=True)
    if got is None:
        raise ProvenanceError(f"{name}: the object disappeared while the manifest was made; run again")
    digest, served = got
    if version is not None and served not in (None, version):
        raise ProvenanceError(f"{name}: S3 served version {served} when asked for {version}; run again")
    stored, ctype = head.get("ChecksumSHA256"), head.get("ChecksumType")
    bad = _checksum_finding(name, stored, ctype, digest.sha256, version)
    if bad is not None:
        findings.append(bad)
    if not stored:
        findings.append(Finding(name, "no_checksum", f"{name}: S3 stores no SHA-256 checksum for this object; "
                                "upload with ChecksumAlgorithm=SHA256 so S3 verifies it too", severity="warning"))
    lock = {"mode": head.get("ObjectLockMode"), "retain_until": _iso(head.get("ObjectLockRetainUntilDate")),
            "legal_hold": head.get("ObjectLockLegalHoldStatus")}
    uri = f"{name}?versionId={version}" if version else name
    record = {
        "name": name, "type": "s3", "uri": uri, "sha256": digest.sha256, "size": digest.size,
        "collection": collection, "tabular": None, "dvc": None,
        "s3": {"bucket": bucket, "key": key, "version_id": version, "checksum_sha256": stored,
               "checksum_type": ctype, "etag": head.get("ETag"), "last_modified": _iso(head.get("LastModified")),
               "object_lock": lock, "endpoint": reader.endpoint, "region": reader.region,
               "owner": reader.owner(bucket)},
    }
    return record, findings


def verify_s3(records: list[dict[str, Any]], collections: list[dict[str, Any]],
              reader: S3Reader) -> tuple[list[SourceStatus], list[Finding]]:
    """Check pinned S3 objects: versioning on, pinned version present and current, bytes and checksum.

    Parameters
    ----------
    records : list of dict
        S3 source records (with ``sha256``).
    collections : list of dict
        ``s3-prefix`` collections, checked for objects added under the prefix.
    reader : S3Reader
        The client to read with.
    """
    statuses: list[SourceStatus] = []
    findings: list[Finding] = []
    missing_buckets: set[str] = set()
    checked_buckets: set[str] = set()
    in_bucket: dict[str, list[str]] = {}
    for rec in records:
        in_bucket.setdefault(str((rec.get("s3") or {}).get("bucket")), []).append(rec["name"])

    def bucket_ok(bucket: str, recorded_owner: str | None) -> bool:
        if bucket in missing_buckets:
            return False
        if bucket not in checked_buckets:
            checked_buckets.add(bucket)
            try:
                findings.extend(bucket_findings(bucket, reader, in_bucket.get(bucket, [])))
            except NoSuchBucketError:
                missing_buckets.add(bucket)
                findings.append(Finding(f"s3://{bucket}", "missing", f"s3://{bucket}: the bucket no longer exists "
                                        f"at {reader.endpoint}"))
                return False
            owner = reader.owner(bucket)
            if recorded_owner and owner and owner != recorded_owner:
                findings.append(Finding(f"s3://{bucket}", "moved", f"s3://{bucket}: the bucket is now owned by "
                                        f"another account ({owner[:12]}…, recorded {recorded_owner[:12]}…)"))
        return True

    for rec in records:
        name = rec["name"]
        meta = rec.get("s3") or {}
        bucket, key = str(meta.get("bucket")), str(meta.get("key"))
        if f"s3://{bucket}/{key}" != name:
            findings.append(Finding(name, "inconsistent", f"{name}: the record names s3://{bucket}/{key}; the "
                                    "manifest is inconsistent"))
            statuses.append(SourceStatus(name, rec["sha256"], rec.get("size"), "failed"))
            continue
        n_before = sum(f.severity == "error" for f in findings)
        if not bucket_ok(bucket, meta.get("owner")):
            statuses.append(SourceStatus(name, rec["sha256"], rec.get("size"), "failed"))
            continue
        if meta.get("endpoint") and reader.endpoint and meta["endpoint"] != reader.endpoint:
            findings.append(Finding(name, "endpoint", f"{name}: recorded at {meta['endpoint']}, read from "
                                    f"{reader.endpoint}", severity="warning"))
        pinned = meta.get("version_id")
        latest = reader.head(bucket, key)
        if latest is None or latest.get("DeleteMarker"):
            findings.append(Finding(name, "missing", f"{name}: the object was deleted (no current version)"))
        elif pinned and latest.get("VersionId") != pinned:
            findings.append(Finding(name, "version_replaced",
                                    f"{name}: replaced by a new version {latest.get('VersionId')} (last modified "
                                    f"{_iso(latest.get('LastModified'))}); the manifest pins {pinned}"))
        if not pinned:
            findings.append(Finding(name, "version_gone", f"{name}: the manifest pins no version (versioning was off "
                                    "when it was made); the current bytes are checked instead"))
        digest = None
        # the bytes of the pinned version (GetObject says NoSuchVersion plainly; HEAD has no error body)
        got = (reader.digest(bucket, key, pinned, missing_ok=True)
               if pinned or (latest is not None and not latest.get("DeleteMarker")) else None)
        if got is None and pinned:
            findings.append(Finding(name, "version_gone", f"{name}: the pinned version {pinned} no longer exists"))
        if got is not None:
            digest, served = got
            if pinned and served not in (None, pinned):
                findings.append(Finding(name, "version_replaced", f"{name}: S3 served version {served} when asked "
                                        f"for the pinned {pinned}"))
            if digest.sha256 != rec["sha256"]:
                findings.append(Finding(name, "digest_mismatch",
                                        f"{name}: SHA-256 mismatch (manifest {rec['sha256'][:12]}…, now "
                                        f"{digest.sha256[:12]}…; size {rec.get('size')} -> {digest.size} bytes)"))
            meta_now = reader.head(bucket, key, pinned) if pinned else latest
            if meta_now is None:
                findings.append(Finding(name, "checksum_unread", f"{name}: the stored checksum of version {pinned} "
                                        "could not be read (HeadObject failed); only the bytes were checked",
                                        severity="warning"))
            else:
                bad = _checksum_finding(name, meta_now.get("ChecksumSHA256"), meta_now.get("ChecksumType"),
                                        digest.sha256, pinned)
                if bad is not None:
                    findings.append(bad)
        failed = sum(f.severity == "error" for f in findings) > n_before
        statuses.append(SourceStatus(name, digest.sha256 if digest else rec["sha256"],
                                     digest.size if digest else rec.get("size"), "failed" if failed else "ok"))
    listed = {r["name"] for r in records}
    for coll in collections:
        meta = coll.get("s3") or {}
        cbucket, prefix = meta.get("bucket"), str(meta.get("prefix", ""))
        if not cbucket or cbucket in missing_buckets:
            continue
        for key in reader.list_keys(str(cbucket), prefix):
            n = f"s3://{cbucket}/{key}"
            if n not in listed:
                findings.append(Finding(n, "unlisted", f"{n}: an object under the listed prefix {coll['name']!r} "
                                        "that is not in the manifest (added after it was made)"))
    return statuses, findings
