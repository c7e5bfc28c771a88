"""Manifests: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

The file on disk is a DSSE envelope (JSON)::

    {"payloadType": "application/vnd.in-toto+json",
     "payload": "<base64 of the Statement's UTF-8 JSON>",
     "signatures": [{"keyid": "<hex SHA-256 of the raw public key>", "sig": "<base64 Ed25519>"}]}

Each signature is over ``PAE(payloadType, payload)`` with
``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body`` (lengths as ASCII
decimals of the byte lengths). The Statement is::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "data/train.csv", "digest": {"sha256": "..."}}, ...],
     "predicateType": "https://poisonguard.dev/provenance/v1",
     "predicate": {...}}

and the predicate is described by :data:`PREDICATE_SCHEMA` (JSON Schema). Signatures are
checked on the raw payload bytes before the payload is parsed: nothing in an unverified
payload is trusted.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._io import atomic_write_text
from ..errors import ProvenanceError
from ._keys import key_id
from ._result import Finding, Severity

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Envelope",
    "Signature",
    "check_subject_name",
    "pae",
    "parse_statement",
    "read_envelope",
    "sign_envelope",
    "verify_signatures",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://poisonguard.dev/provenance/v1"

MANIFEST = "(manifest)"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DRIVE = re.compile(r"^[A-Za-z]:")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding of ``payload_type`` and ``payload``.

    Examples
    --------
    >>> pae("t", b"ab")
    b'DSSEv1 1 t 2 ab'
    """
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclasses.dataclass(frozen=True)
class Signature:
    """One DSSE signature: ``keyid`` (a hint, never trusted alone) and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclasses.dataclass(frozen=True)
class Envelope:
    """A DSSE envelope as read from or written to a file.

    Attributes
    ----------
    payload_type : str
        Must be ``application/vnd.in-toto+json``.
    payload : bytes
        The serialized Statement, exactly the bytes that were signed.
    signatures : tuple of Signature
        Possibly empty (an unsigned manifest).
    """

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        """The standard DSSE JSON form."""
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "signatures": [{"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                           for s in self.signatures],
        }

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the envelope atomically as indented JSON."""
        return atomic_write_text(path, json.dumps(self.to_json_dict(), indent=2) + "\n")

    @classmethod
    def from_statement(cls, statement: dict[str, Any]) -> Envelope:
        """An unsigned envelope around ``statement`` (canonical JSON: sorted keys, no spaces)."""
        body = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return cls(PAYLOAD_TYPE, body.encode("utf-8"))


def sign_envelope(envelope: Envelope, key: Ed25519PrivateKey) -> Envelope:
    """Return ``envelope`` with a signature by ``key`` (replacing an older one by the same key)."""
    kid = key_id(key.public_key())
    sig = key.sign(pae(envelope.payload_type, envelope.payload))
    others = tuple(s for s in envelope.signatures if s.keyid != kid)
    return dataclasses.replace(envelope, signatures=(*others, Signature(kid, sig)))


def _b64(value: Any, path: Path, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProvenanceError(f"{path}: the envelope's {what} is not a base64 string; the manifest is damaged. "
                              "Recreate it with `poisonguard manifest create`")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProvenanceError(f"{path}: the envelope's {what} is not valid base64; the manifest is damaged. "
                              "Recreate it with `poisonguard manifest create`") from None


def read_envelope(path: str | os.PathLike[str]) -> tuple[Envelope, str]:
    """Read a DSSE envelope file; return it and the SHA-256 of the file's bytes.

    Only the envelope's structure is checked here; signatures are checked by
    :func:`verify_signatures` and the payload is parsed by :func:`parse_statement`.

    Raises
    ------
    ProvenanceError
        Missing or unreadable file, not JSON, not a DSSE envelope, unknown payload type.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ProvenanceError(f"{p}: no such manifest; create one with `poisonguard manifest create`") from None
    except OSError as exc:
        raise ProvenanceError(f"{p}: cannot read the manifest ({exc.strerror})") from None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProvenanceError(f"{p}: not a JSON file ({exc.__class__.__name__}); give a manifest written by "
                              "`poisonguard manifest create`") from None
    if not isinstance(doc, dict) or "payload" not in doc or "payloadType" not in doc:
        raise ProvenanceError(f"{p}: not a DSSE envelope (no payloadType / payload); give a manifest written by "
                              "`poisonguard manifest create`")
    if doc["payloadType"] != PAYLOAD_TYPE:
        raise ProvenanceError(f"{p}: payloadType is {str(doc['payloadType'])[:80]!r}, expected {PAYLOAD_TYPE!r}")
    sigs_doc = doc.get("signatures", [])
    if not isinstance(sigs_doc, list):
        raise ProvenanceError(f"{p}: the envelope's signatures are not a list; the manifest is damaged")
    sigs = []
    for s in sigs_doc:
        if not isinstance(s, dict):
            raise ProvenanceError(f"{p}: a signature entry is not an object; the manifest is damaged")
        sigs.append(Signature(str(s.get("keyid", "")), _b64(s.get("sig"), p, "signature")))
    env = Envelope(PAYLOAD_TYPE, _b64(doc["payload"], p, "payload"), tuple(sigs))
    return env, hashlib.sha256(raw).hexdigest()


def verify_signatures(envelope: Envelope, trusted: Sequence[Ed25519PublicKey]) -> tuple[tuple[str, ...],
                                                                                       list[Finding]]:
    """Check the envelope's signatures against the trusted public keys.

    A signature counts when it verifies over ``PAE(payloadType, payload)`` with a trusted key
    (its ``keyid`` is only a hint). The manifest is authentic when at least one does.

    Returns
    -------
    valid_keyids : tuple of str
        Trusted keys with a valid signature.
    findings : list of Finding
        ``unsigned`` (no signature), ``bad_signature`` (a trusted key's signature does not
        match: the manifest was edited after signing), ``unknown_key`` (signed only by keys
        that are not trusted; a warning when another signature is valid).
    """
    by_id = {key_id(k): k for k in trusted}
    message = pae(envelope.payload_type, envelope.payload)
    valid: list[str] = []
    bad: list[str] = []
    unknown: list[str] = []
    if not envelope.signatures:
        return (), [Finding(MANIFEST, "unsigned", "the manifest has no signature; sign it with "
                            "`poisonguard manifest sign` or pass --allow-unsigned")]
    for sig in envelope.signatures:
        candidates = [(sig.keyid, by_id[sig.keyid])] if sig.keyid in by_id else list(by_id.items())
        ok = None
        for kid, key in candidates:
            try:
                key.verify(sig.sig, message)
            except InvalidSignature:
                continue
            ok = kid
            break
        if ok is not None:
            if ok not in valid:
                valid.append(ok)
        elif sig.keyid in by_id:
            bad.append(sig.keyid)
        else:
            unknown.append(sig.keyid)
    findings = [Finding(MANIFEST, "bad_signature",
                        f"the signature by trusted key {kid[:16]} does not match the manifest: it was modified "
                        "after signing; do not use these sources, recreate and re-sign the manifest")
                for kid in bad]
    sev: Severity = "warning" if valid else "error"
    findings += [Finding(MANIFEST, "unknown_key",
                         f"signed by key {_show_keyid(kid)}, which is not among the trusted keys (--key)",
                         severity=sev)
                 for kid in unknown]
    return tuple(valid), findings


def _show_keyid(kid: str) -> str:
    return kid[:16] if _HEX64.match(kid) else repr(kid[:20])


def check_subject_name(name: Any, *, s3_prefix: bool = False) -> str | None:
    """Why ``name`` is not a safe subject name, or None when it is.

    Local names must be relative POSIX paths inside the base folder: no leading ``/``,
    no drive letter, no backslash, no empty, ``.`` or ``..`` segment. S3 names must be
    ``s3://bucket/key`` with a valid bucket name and a non-empty key (``s3_prefix=True``:
    ``s3://bucket/prefix``, the prefix may be empty).
    """
    if not isinstance(name, str) or not name:
        return "the name is empty or not a string"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "the name holds control characters"
    if name.startswith("s3://"):
        bucket, _, key = name[5:].partition("/")
        if not _BUCKET.match(bucket):
            return f"{bucket!r} is not a valid S3 bucket name"
        if not key and not s3_prefix:
            return "the S3 name has no object key"
        return None
    if "://" in name:
        return "only relative paths and s3:// URIs are allowed"
    if name.startswith(("/", "~")) or _DRIVE.match(name):
        return "absolute paths are not allowed; names are relative to the base folder"
    if "\\" in name:
        return "backslashes are not allowed; names use '/'"
    parts = name.split("/")
    if any(part == ".." for part in parts):
        return "'..' segments (path traversal) are not allowed"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' segments are not allowed"
    return None


def parse_statement(envelope: Envelope, where: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and structurally check the Statement in an envelope (call after the signature check).

    Raises
    ------
    ProvenanceError
        Not JSON, not an in-toto Statement v1, not our predicate type, malformed subjects.
    """
    try:
        st = json.loads(envelope.payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProvenanceError(f"{where}: the payload is not JSON; the manifest is damaged") from None
    if not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE:
        raise ProvenanceError(f"{where}: the payload is not an in-toto Statement v1 (_type must be "
                              f"{STATEMENT_TYPE!r})")
    if st.get("predicateType") != PREDICATE_TYPE:
        raise ProvenanceError(f"{where}: predicateType is {str(st.get('predicateType'))[:80]!r}; poisonguard "
                              f"reads {PREDICATE_TYPE!r} manifests")
    subjects = st.get("subject")
    pred = st.get("predicate")
    if not isinstance(subjects, list) or not isinstance(pred, dict):
        raise ProvenanceError(f"{where}: the Statement needs a subject list and a predicate object")
    for s in subjects:
        digest = s.get("digest") if isinstance(s, dict) else None
        if not isinstance(digest, dict) or not _HEX64.match(str(digest.get("sha256", ""))):
            raise ProvenanceError(f"{where}: a subject lacks a hex sha256 digest; the manifest is malformed")
    if not isinstance(pred.get("sources", []), list) or not isinstance(pred.get("collections", []), list):
        raise ProvenanceError(f"{where}: predicate.sources and predicate.collections must be lists")
    return st


def build_statement(sources: Iterable[dict[str, Any]], collections: Iterable[dict[str, Any]],
                    *, created: str, tool_version: str) -> dict[str, Any]:
    """Assemble the Statement from source records (each with ``name`` and ``sha256``)."""
    srcs = sorted(sources, key=lambda s: s["name"])
    subject = [{"name": s["name"], "digest": {"sha256": s["sha256"]}} for s in srcs]
    predicate = {
        "schemaVersion": "1",
        "created": created,
        "tool": {"name": "poisonguard", "version": tool_version},
        "sources": [{k: v for k, v in s.items() if k != "sha256"} for s in srcs],
        "collections": sorted(collections, key=lambda c: c["name"]),
    }
    return {"_type": STATEMENT_TYPE, "subject": subject, "predicateType": PREDICATE_TYPE, "predicate": predicate}


def joined_sources(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map subject name to its predicate record with ``sha256`` from the subject merged in."""
    records = {str(r.get("name")): r for r in statement["predicate"].get("sources", []) if isinstance(r, dict)}
    out: dict[str, dict[str, Any]] = {}
    for s in statement["subject"]:
        name = s.get("name")
        rec = dict(records.get(str(name), {}))
        rec["name"] = name
        rec["sha256"] = s["digest"]["sha256"]
        out[str(name)] = rec
    return out
