"""Provenance of training data: signed manifests, S3 object versions and source-change detection.

Every file that feeds training is pinned by its SHA-256 in a manifest, every S3 object by its
version; the manifest is an in-toto Statement v1 (``predicateType``
``https://poisonguard.dev/provenance/v1``, schema in :data:`PREDICATE_SCHEMA`) in a DSSE
envelope signed with Ed25519. :func:`verify_manifest` re-hashes every source and fails on any
difference; :func:`diff_manifests` reports how the sources changed between two runs.

Examples
--------
>>> import pathlib, tempfile
>>> from poisonguard.provenance import create_manifest, generate_keypair, verify_manifest
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> _ = (tmp / "train.csv").write_text("x,y\\n1,a\\n2,b\\n")
>>> keys = generate_keypair(tmp / "keys")
>>> r = create_manifest(["train.csv"], tmp / "m.json", key=keys.private_key, base_dir=tmp)
>>> verify_manifest(tmp / "m.json", keys=[keys.public_key], base_dir=tmp).return_code
0
"""

from __future__ import annotations

from ._api import create_manifest, sign_manifest, verify_manifest
from ._diff import CHANGE_KINDS, DEFAULT_DIFF_POLICY, DiffPolicy, diff_manifests
from ._hashing import FileDigest, hash_file, tabular_summary
from ._keys import KeyPair, generate_keypair, key_id, load_private_key, load_public_key, write_public_key
from ._manifest import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Envelope,
    Signature,
    check_subject_name,
    pae,
    read_envelope,
    sign_envelope,
)
from ._result import Finding, ManifestRef, ProvenanceResult, SourceStatus
from ._schema import PREDICATE_SCHEMA

__all__ = [
    "CHANGE_KINDS",
    "DEFAULT_DIFF_POLICY",
    "DiffPolicy",
    "Envelope",
    "FileDigest",
    "Finding",
    "KeyPair",
    "ManifestRef",
    "PAYLOAD_TYPE",
    "PREDICATE_SCHEMA",
    "PREDICATE_TYPE",
    "ProvenanceResult",
    "STATEMENT_TYPE",
    "Signature",
    "SourceStatus",
    "check_subject_name",
    "create_manifest",
    "diff_manifests",
    "generate_keypair",
    "hash_file",
    "key_id",
    "load_private_key",
    "load_public_key",
    "pae",
    "read_envelope",
    "sign_envelope",
    "sign_manifest",
    "tabular_summary",
    "verify_manifest",
    "write_public_key",
]
