"""Source-change detection between two manifests (two pipeline runs).

``diff_manifests(old, new)`` reports, per source:

``added``
    a source in the new manifest only (a new feed of training data);
``removed``
    a source in the old manifest only;
``changed``
    same name, different SHA-256;
``moved``
    the same content under another name (renamed file, another bucket), the same S3 key in
    another bucket, or the same S3 object read from another endpoint, region or account;
``volume_jump``
    rows or bytes changed by more than ``volume_threshold`` (relative to the old value), per
    source and for all sources together;
``schema``
    the column names or types of a tabular source changed.

A policy decides which kinds fail the run (``return_code`` 1); the others are warnings.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._api import PathLike, PublicKeyArg, check_envelope
from ._manifest import joined_sources, parse_statement, read_envelope
from ._result import Finding, ManifestRef, ProvenanceResult, SourceStatus

__all__ = ["CHANGE_KINDS", "DEFAULT_DIFF_POLICY", "DiffPolicy", "diff_manifests", "diff_statements"]

#: Every kind of change ``diff`` reports.
CHANGE_KINDS: tuple[str, ...] = ("added", "removed", "changed", "moved", "volume_jump", "schema")

#: Defaults: everything but ``added`` fails the run; a new source is a warning, because adding
#: data is routine while losing, altering or relocating a trusted source is what poisoning
#: looks like. A volume change above 50% of the old rows or bytes fails.
DEFAULT_DIFF_POLICY: dict[str, Any] = {
    "fail_on": ["removed", "changed", "moved", "volume_jump", "schema"],
    "volume_threshold": 0.5,
}


@dataclasses.dataclass(frozen=True)
class DiffPolicy:
    """Which changes fail the run.

    Parameters
    ----------
    fail_on : tuple of str, default=("removed", "changed", "moved", "volume_jump", "schema")
        Change kinds reported as errors; the others are warnings. Any of :data:`CHANGE_KINDS`.
    volume_threshold : float, default=0.5
        A relative change of rows or bytes above this is a ``volume_jump`` (0.5 = ±50%).

    Examples
    --------
    >>> DiffPolicy.from_mapping({"fail_on": ["removed"], "volume_threshold": 1.0}).fail_on
    ('removed',)
    """

    fail_on: tuple[str, ...] = tuple(DEFAULT_DIFF_POLICY["fail_on"])
    volume_threshold: float = DEFAULT_DIFF_POLICY["volume_threshold"]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> DiffPolicy:
        """Build a policy from parameters (``params.yaml`` section ``provenance.diff``), checking them.

        Raises
        ------
        ConfigError
            Unknown keys, unknown change kinds, or a threshold that is not a number > 0.
        """
        mapping = dict(mapping or {})
        unknown = set(mapping) - {"fail_on", "volume_threshold"}
        if unknown:
            raise ConfigError(f"unknown provenance diff parameter(s) {sorted(unknown)}; the parameters are "
                              "fail_on and volume_threshold")
        fail_on = mapping.get("fail_on", DEFAULT_DIFF_POLICY["fail_on"])
        if isinstance(fail_on, str) or not isinstance(fail_on, Sequence):
            raise ConfigError(f"The 'fail_on' parameter of the provenance diff must be a list of change kinds. "
                              f"Got {fail_on!r} instead.")
        bad = [k for k in fail_on if k not in CHANGE_KINDS]
        if bad:
            raise ConfigError(f"The 'fail_on' parameter of the provenance diff has unknown kinds {bad}; "
                              f"use any of {list(CHANGE_KINDS)}.")
        thr = mapping.get("volume_threshold", DEFAULT_DIFF_POLICY["volume_threshold"])
        if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr) or thr <= 0:
            raise ConfigError(f"The 'volume_threshold' parameter of the provenance diff must be a number > 0. "
                              f"Got {thr!r} instead.")
        return cls(tuple(dict.fromkeys(fail_on)), float(thr))


def _rows(rec: Mapping[str, Any]) -> int | None:
    tab = rec.get("tabular")
    return tab.get("rows") if isinstance(tab, dict) and isinstance(tab.get("rows"), int) else None


def _location(rec: Mapping[str, Any]) -> dict[str, Any]:
    s3 = rec.get("s3") or {}
    return {"endpoint": s3.get("endpoint"), "region": s3.get("region"), "account": s3.get("owner"),
            "bucket": s3.get("bucket")}


def _jump(old: int | None, new: int | None, threshold: float) -> float | None:
    if old is None or new is None or old == new:
        return None
    rel = abs(new - old) / old if old > 0 else math.inf
    return rel if rel > threshold else None


def _schema_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    to, tn = old.get("tabular"), new.get("tabular")
    if not isinstance(to, dict) or not isinstance(tn, dict) or to.get("schema_sha256") == tn.get("schema_sha256"):
        return None
    co = {c[0]: c[1] for c in to.get("columns", []) if isinstance(c, list) and len(c) == 2}
    cn = {c[0]: c[1] for c in tn.get("columns", []) if isinstance(c, list) and len(c) == 2}
    parts = []
    if set(cn) - set(co):
        parts.append(f"columns added {sorted(set(cn) - set(co))[:5]}")
    if set(co) - set(cn):
        parts.append(f"columns removed {sorted(set(co) - set(cn))[:5]}")
    retyped = sorted(c for c in set(co) & set(cn) if co[c] != cn[c])
    if retyped:
        parts.append("types changed " + ", ".join(f"{c}: {co[c]} -> {cn[c]}" for c in retyped[:5]))
    return "; ".join(parts) or "column order changed"


def diff_statements(old: Mapping[str, Any], new: Mapping[str, Any],
                    policy: DiffPolicy | None = None) -> tuple[list[SourceStatus], list[Finding]]:
    """Compare two parsed Statements; return per-source statuses and findings (see module doc)."""
    policy = policy or DiffPolicy()
    a, b = joined_sources(dict(old)), joined_sources(dict(new))
    findings: list[Finding] = []
    statuses: list[SourceStatus] = []

    def add(kind: str, source: str, message: str) -> None:
        findings.append(Finding(source, kind, message, "error" if kind in policy.fail_on else "warning"))

    def compare(name: str, ro: Mapping[str, Any], rn: Mapping[str, Any]) -> str:
        status = "same"
        if ro["sha256"] != rn["sha256"]:
            status = "changed"
            rows = f", rows {_rows(ro)} -> {_rows(rn)}" if _rows(ro) is not None or _rows(rn) is not None else ""
            add("changed", name, f"{name}: content changed (SHA-256 {ro['sha256'][:12]}… -> {rn['sha256'][:12]}…, "
                f"size {ro.get('size')} -> {rn.get('size')} bytes{rows})")
        if ro.get("type") == "s3" and rn.get("type") == "s3":
            lo, ln = _location(ro), _location(rn)
            for what in ("endpoint", "region", "account"):
                if lo[what] and ln[what] and lo[what] != ln[what]:
                    status = "moved"
                    add("moved", name, f"{name}: read from another {what} ({lo[what]} -> {ln[what]})")
        for what, vo, vn in (("rows", _rows(ro), _rows(rn)), ("bytes", ro.get("size"), rn.get("size"))):
            rel = _jump(vo, vn, policy.volume_threshold)
            if rel is not None:
                add("volume_jump", name, f"{name}: {what} {vo} -> {vn} ({rel:+.0%} beyond the ±"
                    f"{policy.volume_threshold:.0%} threshold)".replace("+inf%", "new volume"))
        schema = _schema_change(ro, rn)
        if schema:
            add("schema", name, f"{name}: schema changed: {schema}")
        return status

    for name in sorted(set(a) & set(b)):
        st = compare(name, a[name], b[name])
        statuses.append(SourceStatus(name, b[name]["sha256"], b[name].get("size"), st))
    removed = {n: a[n] for n in sorted(set(a) - set(b))}
    added = {n: b[n] for n in sorted(set(b) - set(a))}
    # pair the same content under another name, then the same S3 key in another bucket
    pairs: list[tuple[str, str, str]] = []
    by_digest: dict[str, list[str]] = {}
    for n, r in added.items():
        by_digest.setdefault(r["sha256"], []).append(n)
    for n, r in list(removed.items()):
        cands = by_digest.get(r["sha256"], [])
        if len(cands) == 1 and cands[0] in added:
            pairs.append((n, cands[0], "content"))
            del removed[n], added[cands[0]]
    by_key: dict[str, list[str]] = {}
    for n, r in added.items():
        if r.get("type") == "s3":
            by_key.setdefault(str((r.get("s3") or {}).get("key")), []).append(n)
    for n, r in list(removed.items()):
        if r.get("type") != "s3":
            continue
        cands = by_key.get(str((r.get("s3") or {}).get("key")), [])
        if len(cands) == 1 and cands[0] in added:
            pairs.append((n, cands[0], "key"))
            del removed[n], added[cands[0]]
    for old_name, new_name, _how in pairs:
        ro, rn = a[old_name], b[new_name]
        lo, ln = _location(ro), _location(rn)
        where = (f"bucket {lo['bucket']} -> {ln['bucket']}" if lo["bucket"] != ln["bucket"]
                 else f"{old_name} -> {new_name}")
        add("moved", new_name, f"{new_name}: moved ({where}), previously {old_name}")
        compare(new_name, ro, rn)
        statuses.append(SourceStatus(new_name, rn["sha256"], rn.get("size"), "moved"))
    for n, r in removed.items():
        add("removed", n, f"{n}: removed (in the old manifest, not in the new one)")
        statuses.append(SourceStatus(n, r["sha256"], r.get("size"), "removed"))
    for n, r in added.items():
        rows = f", {_rows(r)} rows" if _rows(r) is not None else ""
        add("added", n, f"{n}: added ({r.get('size')} bytes{rows})")
        statuses.append(SourceStatus(n, r["sha256"], r.get("size"), "added"))
    for what, key in (("rows", _rows), ("bytes", lambda r: r.get("size"))):
        vals_o = [key(r) for r in a.values()]
        vals_n = [key(r) for r in b.values()]
        if any(v is None for v in vals_o + vals_n):
            continue
        to, tn = sum(vals_o), sum(vals_n)  # type: ignore[arg-type]
        rel = _jump(to, tn, policy.volume_threshold)
        if rel is not None:
            add("volume_jump", "(all sources)", f"(all sources): total {what} {to} -> {tn} ({rel:+.0%} beyond the "
                f"±{policy.volume_threshold:.0%} threshold)")
    return sorted(statuses, key=lambda s: s.name), findings


def diff_manifests(old: PathLike, new: PathLike, *, policy: DiffPolicy | Mapping[str, Any] | None = None,
                   keys: Sequence[PublicKeyArg] = ()) -> ProvenanceResult:
    """Report the sources added, removed, changed, moved or jumping in volume between two manifests.

    Parameters
    ----------
    old, new : path-like
        The manifests of the earlier and the later run.
    policy : DiffPolicy or mapping, default=None
        Which change kinds fail the run (see :class:`DiffPolicy`; default :data:`DEFAULT_DIFF_POLICY`).
    keys : sequence of path-like or Ed25519PublicKey, default=()
        When given, both manifests must carry a valid signature by one of them, checked before
        their payloads are read. Without keys, signatures are not checked (a warning says so).

    Returns
    -------
    ProvenanceResult
        ``operation="diff"``; one finding per change, naming the source.
    """
    pol = policy if isinstance(policy, DiffPolicy) else DiffPolicy.from_mapping(policy)
    refs: list[ManifestRef] = []
    statements: list[dict[str, Any]] = []
    findings: list[Finding] = []
    valid_ids: list[str] = []
    trusted_all = True
    for role, path in (("old", old), ("new", new)):
        env, digest = read_envelope(path)
        refs.append(ManifestRef(role, str(path), digest))
        trusted, kids, found = check_envelope(env, keys, allow_unsigned=not keys)
        findings.extend(dataclasses.replace(f, source=f"{role} manifest {Path(path).name}",
                                            message=f"{role} manifest {Path(path).name}: {f.message}")
                        for f in found)
        valid_ids.extend(k for k in kids if k not in valid_ids)
        trusted_all = trusted_all and trusted
        if trusted:
            statements.append(parse_statement(env, path))
    params = {"fail_on": list(pol.fail_on), "volume_threshold": pol.volume_threshold,
              "keys": [str(k) for k in keys if isinstance(k, (str, Path))]}
    if not trusted_all:
        return ProvenanceResult(operation="diff", manifests=tuple(refs), keyids=tuple(valid_ids),
                                findings=tuple(findings), parameters=params)
    statuses, changes = diff_statements(statements[0], statements[1], pol)
    return ProvenanceResult(operation="diff", manifests=tuple(refs), keyids=tuple(valid_ids),
                            sources=tuple(statuses), findings=tuple(findings + changes), parameters=params)
