"""The result of a provenance operation: :class:`ProvenanceResult` and its :class:`Finding` items."""

from __future__ import annotations

import dataclasses
import html
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .._result import StageResult

if TYPE_CHECKING:  # pragma: no cover
    from ..verdict import CheckBuilder

__all__ = ["Finding", "ManifestRef", "ProvenanceResult", "SourceStatus"]

Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing provenance checking found about one source.

    Attributes
    ----------
    source : str
        The source the finding is about: a manifest subject name (``data/train.csv``,
        ``s3://bucket/key``), a listed folder, glob or prefix, or ``"(manifest)"`` for the
        envelope itself and ``"(all sources)"`` for totals.
    kind : str
        A stable machine-readable code, for instance ``"digest_mismatch"``, ``"missing"``,
        ``"unlisted"``, ``"bad_signature"``, ``"unknown_key"``, ``"unsigned"``, ``"unsafe_name"``,
        ``"symlink"``, ``"versioning"``, ``"version_gone"``, ``"version_replaced"``, ``"checksum_mismatch"``,
        and for diffs ``"added"``, ``"removed"``, ``"changed"``, ``"moved"``, ``"volume_jump"``,
        ``"schema"``.
    message : str
        One line for people, naming the source.
    severity : {"error", "warning"}
        Errors fail the run (``return_code`` 1); warnings are reported only.
    """

    source: str
    kind: str
    message: str
    severity: Severity = "error"


@dataclasses.dataclass(frozen=True)
class SourceStatus:
    """What an operation saw of one source.

    Attributes
    ----------
    name : str
        The subject name in the manifest.
    sha256 : str or None
        The digest recorded in (create) or recomputed against (verify) the manifest.
    size : int or None
        Size in bytes.
    status : str
        ``"recorded"`` (create), ``"ok"`` / ``"failed"`` / ``"skipped"`` (verify),
        ``"same"`` / ``"added"`` / ``"removed"`` / ``"changed"`` / ``"moved"`` (diff).
    """

    name: str
    sha256: str | None = None
    size: int | None = None
    status: str = "ok"


@dataclasses.dataclass(frozen=True)
class ManifestRef:
    """A manifest an operation read or wrote, with the SHA-256 of its bytes.

    Attributes
    ----------
    role : str
        ``"manifest"``, ``"old"`` or ``"new"``.
    path : str
        Where it was read or written.
    sha256 : str or None
        Digest of the envelope file.
    """

    role: str
    path: str
    sha256: str | None = None


@dataclasses.dataclass(frozen=True)
class ProvenanceResult(StageResult):
    """Outcome of ``manifest create``, ``sign``, ``verify`` or ``diff``.

    Attributes
    ----------
    operation : {"create", "sign", "verify", "diff"}
        What ran.
    manifests : tuple of ManifestRef
        The manifest(s) read or written, with their digests (the result's inputs).
    keyids : tuple of str
        Key ids (SHA-256 of the raw Ed25519 public key) whose signature was valid (verify,
        diff) or that signed (create, sign).
    sources : tuple of SourceStatus
        One entry per source.
    findings : tuple of Finding
        What was found; any finding of severity ``"error"`` makes :attr:`return_code` 1.
    parameters : dict
        The options the operation ran with (no credentials, ever).
    failures : tuple of str
        Parts of the check that could not run (reported, not silently skipped).

    Examples
    --------
    >>> from poisonguard.provenance import Finding, ProvenanceResult
    >>> r = ProvenanceResult(operation="verify", findings=(
    ...     Finding("data/a.csv", "digest_mismatch", "data/a.csv: SHA-256 mismatch"),))
    >>> r.return_code
    1
    """

    KIND: ClassVar[str] = "provenance"
    SCHEMA_VERSION: ClassVar[str] = "1.0"

    operation: str = "verify"
    manifests: tuple[ManifestRef, ...] = ()
    keyids: tuple[str, ...] = ()
    sources: tuple[SourceStatus, ...] = ()
    findings: tuple[Finding, ...] = ()
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    failures: tuple[str, ...] = ()

    @property
    def return_code(self) -> int:
        """1 when any finding is an error or a part of the check failed, else 0."""
        if self.failures or any(f.severity == "error" for f in self.findings):
            return 1
        return 0

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that fail the run."""
        return tuple(f for f in self.findings if f.severity == "error")

    def flat_metrics(self) -> dict[str, int | float]:
        """``failed`` (an error finding, or part of the check could not run), ``sources``, ``errors``,
        ``warnings`` and ``signatures`` (valid signing keys)."""
        n_err = len(self.errors)
        return {**super().flat_metrics(), "sources": len(self.sources), "errors": n_err,
                "warnings": len(self.findings) - n_err, "signatures": len(self.keyids)}

    def gate_checks(self, checks: CheckBuilder) -> None:
        """One check per source (and per finding about the manifest itself): failed on an error
        finding, warning on a warning; ``check-incomplete`` for each part that could not run."""
        by_source: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_source.setdefault(f.source, []).append(f)
        names = list(dict.fromkeys([s.name for s in self.sources] + list(by_source)))
        for name in names:
            fs = by_source.get(name, [])
            errors = [f for f in fs if f.severity == "error"]
            warnings = [f for f in fs if f.severity != "error"]
            loc = name if not name.startswith("(") else None
            if errors or warnings:
                text = "; ".join(f"[{f.kind}] {f.message}" for f in errors + warnings)
                checks.add(name, "failed" if errors else "warning", text, loc)
            else:
                src = next((s for s in self.sources if s.name == name), SourceStatus(name))
                digest = f"sha256 {src.sha256[:16]}…" if src.sha256 else "no digest"
                checks.add(name, "passed", f"{self.operation}: {src.status} ({digest})", loc)
        for msg in self.failures:
            checks.add("check-incomplete", "failed", f"part of the provenance check could not run: {msg}")

    def summary(self) -> str:
        """``manifest <operation>: N source(s), E error(s), W warning(s); signed by ...``."""
        n_err = len(self.errors)
        signed = f"; signed by {', '.join(k[:16] for k in self.keyids)}" if self.keyids else ""
        return (f"manifest {self.operation}: {len(self.sources)} source(s), {n_err} error(s), "
                f"{len(self.findings) - n_err} warning(s){signed}")

    def _headline(self) -> str:
        state = "OK" if self.return_code == 0 else "FAILED"
        n_err = len(self.errors)
        n_warn = len(self.findings) - n_err
        where = ", ".join(f"{m.role} {m.path}" for m in self.manifests) or "no manifest"
        signed = f"; valid signature by {', '.join(k[:16] for k in self.keyids)}" if self.keyids else ""
        return (f"provenance {self.operation}: {state} (exit {self.return_code}) - {len(self.sources)} source(s), "
                f"{n_err} error(s), {n_warn} warning(s); {where}{signed}")

    def __str__(self) -> str:
        lines = [self._headline()]
        for f in sorted(self.findings, key=lambda f: (f.severity != "error", f.source, f.kind)):
            tag = "ERROR" if f.severity == "error" else "WARN "
            lines.append(f"  {tag} [{f.kind}] {f.message}")
        lines.extend(f"  FAILED {msg}" for msg in self.failures)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(f.severity)}</td><td><code>{esc(f.source)}</code></td><td>{esc(f.kind)}</td>"
            f"<td>{esc(f.message)}</td></tr>"
            for f in self.findings)
        table = (f"<table><thead><tr><th>severity</th><th>source</th><th>kind</th><th>message</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>") if self.findings else "<p>No findings.</p>"
        fails = "".join(f"<li>{esc(m)}</li>" for m in self.failures)
        return (f"<div class='poisonguard-provenance'><p><strong>{esc(self._headline())}</strong></p>{table}"
                + (f"<ul>{fails}</ul>" if fails else "") + "</div>")
