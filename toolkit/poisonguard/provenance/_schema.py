"""JSON Schema (draft 2020-12) of the ``https://poisonguard.dev/provenance/v1`` predicate.

Other tools can validate a manifest's predicate with it::

    python -c "import json, poisonguard.provenance as p; print(json.dumps(p.PREDICATE_SCHEMA, indent=2))"
"""

from __future__ import annotations

from typing import Any

__all__ = ["PREDICATE_SCHEMA"]

_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}

PREDICATE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://poisonguard.dev/provenance/v1/predicate.schema.json",
    "title": "poisonguard provenance predicate v1",
    "description": "Per-source provenance of training data. The subject of the in-toto Statement holds one "
                   "entry per source (name and SHA-256); this predicate describes each source by the same name.",
    "type": "object",
    "required": ["schemaVersion", "created", "tool", "sources", "collections"],
    "properties": {
        "schemaVersion": {"const": "1"},
        "created": {"type": "string", "description": "UTC time the manifest was made (ISO 8601)."},
        "tool": {"type": "object", "required": ["name", "version"],
                 "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
        "sources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "type", "uri", "size"],
                "properties": {
                    "name": {"type": "string", "description": "Equal to a subject name: a relative POSIX path "
                             "(no '..', not absolute) or s3://bucket/key."},
                    "type": {"enum": ["file", "s3"]},
                    "uri": {"type": "string", "description": "The relative path, or "
                            "s3://bucket/key?versionId=... for S3 objects."},
                    "size": {"type": "integer", "minimum": 0, "description": "Bytes."},
                    "collection": {**_NULLABLE_STR, "description": "The folder, glob or S3 prefix it was "
                                   "listed through."},
                    "tabular": {
                        "type": ["object", "null"],
                        "required": ["format", "rows", "columns", "schema_sha256"],
                        "properties": {
                            "format": {"enum": ["csv", "tsv", "parquet", "jsonl"]},
                            "compression": _NULLABLE_STR,
                            "rows": {"type": "integer", "minimum": 0},
                            "columns": {"type": "array", "items": {"type": "array", "prefixItems": [
                                {"type": "string"}, {"type": "string"}], "minItems": 2, "maxItems": 2},
                                "description": "[name, arrow type] in file order."},
                            "schema_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                                              "description": "SHA-256 of the compact JSON of columns."},
                        },
                    },
                    "dvc": {
                        "type": ["object", "null"],
                        "description": "DVC's record of a DVC-tracked file (MD5, not tamper-evident).",
                        "properties": {
                            "md5": _NULLABLE_STR, "dir_md5": _NULLABLE_STR, "hash": _NULLABLE_STR,
                            "file": {"type": "string", "description": ".dvc file or dvc.lock it came from."},
                            "matches": {"type": ["boolean", "null"],
                                        "description": "Whether DVC's MD5 matched the bytes hashed."},
                        },
                    },
                    "s3": {
                        "type": ["object", "null"],
                        "required": ["bucket", "key", "version_id"],
                        "properties": {
                            "bucket": {"type": "string"}, "key": {"type": "string"},
                            "version_id": _NULLABLE_STR, "checksum_sha256": _NULLABLE_STR,
                            "checksum_type": _NULLABLE_STR, "etag": _NULLABLE_STR,
                            "last_modified": _NULLABLE_STR,
                            "object_lock": {"type": "object", "properties": {
                                "mode": _NULLABLE_STR, "retain_until": _NULLABLE_STR, "legal_hold": _NULLABLE_STR}},
                            "endpoint": _NULLABLE_STR, "region": _NULLABLE_STR,
                            "owner": {**_NULLABLE_STR, "description": "Bucket owner's canonical id."},
                        },
                    },
                },
            },
        },
        "collections": {
            "type": "array",
            "description": "Folders, globs and S3 prefixes listed; verification reports files found there "
                           "that are not sources.",
            "items": {
                "type": "object",
                "required": ["name", "type"],
                "properties": {
                    "name": {"type": "string"},
                    "type": {"enum": ["folder", "glob", "s3-prefix"]},
                    "s3": {"type": "object", "properties": {"bucket": {"type": "string"},
                                                           "prefix": {"type": "string"},
                                                           "endpoint": _NULLABLE_STR}},
                },
            },
        },
    },
}

del _NULLABLE_INT
