"""``poisonguard keygen`` and ``poisonguard manifest create|sign|verify|diff``: thin shells over
:mod:`poisonguard.provenance`. Each manifest command prints its :class:`ProvenanceResult`
(``--format text|json``), writes it as JSON with ``--report FILE`` and exits with its
``return_code`` (0 clean, 1 provenance broken); errors exit 2 through :func:`poisonguard.cli.main`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from . import echo_result
from ._common import echo_doc, existing_params, exit_zero_option, finish, metrics_option

__all__ = ["keygen", "manifest"]

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                       help="How to print the result.")
_REPORT = click.option("--report", type=click.Path(dir_okay=False), default=None,
                       help="Also write the result as JSON to this file (atomically).")
_ENDPOINT = click.option("--endpoint-url", default=None, metavar="URL",
                         help="S3-compatible endpoint (default: AWS_ENDPOINT_URL / boto3 configuration).")
_BASE = click.option("--base-dir", type=click.Path(file_okay=False), default=None,
                     help="Folder that local source names are relative to (default: the current folder).")


def _finish(result: Any, fmt: str, report: str | None, *, exit_zero: bool = False,
            metrics_file: Path | None = None) -> int:
    if report:
        result.write_json(report)
    echo_result(result, fmt)
    return finish(result, exit_zero=exit_zero, metrics_file=metrics_file)


def _local_sources(sources: tuple[str, ...], base_dir: str | None, out: str) -> list[Path]:
    """The local SOURCES that exist, as paths, glob patterns expanded (S3 URIs are left out).

    An existing ``out`` inside a source folder is listed too unless it is a manifest (the
    previous one, replaced by design): overwriting any other file there would destroy data.
    """
    import glob

    from ..errors import ProvenanceError
    from ..provenance._manifest import read_envelope

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    paths = []
    for src in sources:
        if src.startswith("s3://"):
            continue
        p = Path(src) if Path(src).is_absolute() else base / src
        if p.exists():
            paths.append(p)
        elif set("*?[") & set(src):
            paths += [Path(h) for h in glob.glob(str(p), recursive=True)]
    dest = Path(out).absolute()
    if dest.is_file() and any(dest.is_relative_to(d.absolute()) for d in paths if d.is_dir()):
        try:
            read_envelope(dest)
        except ProvenanceError:  # not a manifest: a data file to protect
            paths.append(dest)
    return paths


def _listed_folders(manifest_path: str, base_dir: str | None) -> list[tuple[str, Path]]:
    """The local folders a manifest lists (a report written there would be an unlisted file next time)."""
    from ..provenance._manifest import parse_statement, read_envelope

    env, _ = read_envelope(manifest_path)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    folders = [str(c["name"]) for c in parse_statement(env, manifest_path).get("predicate", {}).get("collections", [])
               if isinstance(c, dict) and c.get("type") == "folder" and isinstance(c.get("name"), str)]
    return [("listed in MANIFEST", base / name) for name in folders if ".." not in Path(name).parts]


def _guard(*, inputs: list[tuple[str, Any]], report: str | None, out: str | None = None, out_label: str = "--out",
           hashed_dirs: list[tuple[str, Any]] | None = None, metrics_file: Path | None = None) -> None:
    """Refuse a --out / --report / --metrics that is an input or another output; the reports may not lie
    in a hashed folder either (the manifest may: it is never listed as a source)."""
    from .._io import guard_outputs

    written = [("--report", report), ("--metrics", metrics_file)]
    guard_outputs(inputs=inputs, outputs=[(out_label, out), *written])
    if hashed_dirs:
        guard_outputs(hashed_dirs=hashed_dirs, outputs=written)


@click.command("keygen")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for NAME.key (private, mode 0600) and NAME.pub (public).")
@click.option("--name", default="poisonguard", show_default=True, help="File stem of the two key files.")
@click.option("--force", is_flag=True, help="Replace existing key files.")
@_FORMAT
def keygen(out_dir: str, name: str, force: bool, fmt: str) -> int:
    """Generate an Ed25519 key pair for signing manifests.

    Set POISONGUARD_KEY_PASSPHRASE to encrypt the private key with that passphrase.
    """
    from .._io import check_name, guard_outputs
    from ..provenance import generate_keypair
    from ..provenance._keys import PASSPHRASE_ENV

    check_name("--name", name)
    guard_outputs(out_dirs=[("--out-dir", out_dir)],
                  outputs=[("--out-dir", Path(out_dir) / f"{name}.key"), ("--out-dir", Path(out_dir) / f"{name}.pub")])
    passphrase = os.environ.get(PASSPHRASE_ENV)
    pair = generate_keypair(out_dir, name=name, force=force,
                            passphrase=passphrase.encode("utf-8") if passphrase else None)
    echo_doc({"private_key": str(pair.private_key), "public_key": str(pair.public_key), "keyid": pair.keyid,
              "encrypted": bool(passphrase)}, fmt,
             f"private key: {pair.private_key} (mode 0600; keep it secret, sign with it)\n"
             f"public key:  {pair.public_key} (commit it; verify with it)\n"
             f"keyid:       {pair.keyid}")
    return 0


@click.group("manifest")
def manifest() -> None:
    """Signed manifests of the training data's sources (in-toto Statement in a DSSE envelope).

    Exit codes: 0 clean, 1 provenance broken (tampered, missing or changed sources, bad
    signature), 2 bad usage or unreadable input.
    """


@manifest.command("create")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Manifest file to write.")
@click.option("--key", type=click.Path(dir_okay=False), default=None,
              help="Private key to sign with (else the manifest is unsigned).")
@_BASE
@_ENDPOINT
@click.option("--no-tabular", is_flag=True, help="Do not record row counts and schema fingerprints.")
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default="pandas", show_default=True,
              help="Who hashes: threads in this process (pandas), or Spark tasks, a few files each (spark: local[*] "
                   "unless --spark-master; local paths must be readable by the executors under the same name). "
                   "The manifest is the same either way.")
@click.option("--spark-master", metavar="URL", help="Spark master for --engine spark: spark://HOST:7077, yarn, local[4].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="--engine pandas: files hashed at once  [default: CPU count + 4, at most 16]")
@_REPORT
@_FORMAT
def create_cmd(sources: tuple[str, ...], out: str, key: str | None, base_dir: str | None, endpoint_url: str | None,
               no_tabular: bool, engine: str, spark_master: str | None, workers: int | None, report: str | None,
               fmt: str) -> int:
    """Hash SOURCES into a manifest: files, folders, globs, DVC files or DVC-tracked paths, s3://bucket/prefix.

    The manifest records the time it was made; set SOURCE_DATE_EPOCH (seconds since 1970, UTC) to
    fix it, so that the same sources and key give the same manifest byte for byte.
    """
    from ..errors import UsageError
    from ..provenance import create_manifest

    if spark_master is not None and engine != "spark":
        raise UsageError("--spark-master needs --engine spark")
    if workers is not None and engine != "pandas":
        raise UsageError("--workers is for --engine pandas (Spark runs as many tasks as it has cores)")
    local = _local_sources(sources, base_dir, out)
    _guard(inputs=[("SOURCES", p) for p in local if not p.is_dir()] + [("--key", key)],
           hashed_dirs=[("SOURCES", p) for p in local if p.is_dir()], out=out, report=report)
    result = create_manifest(list(sources), out, key=key, base_dir=base_dir, endpoint_url=endpoint_url,
                             tabular=not no_tabular, engine=engine, master=spark_master, workers=workers)
    return _finish(result, fmt, report)


@manifest.command("sign")
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(dir_okay=False))
@click.option("--key", required=True, type=click.Path(dir_okay=False), help="Private key (.key).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of in place.")
@_REPORT
@_FORMAT
def sign_cmd(manifest_path: str, key: str, out: str | None, report: str | None, fmt: str) -> int:
    """Add a signature to MANIFEST."""
    from ..provenance import sign_manifest

    _guard(inputs=[("--key", key)] + ([("MANIFEST", manifest_path)] if out is not None else []), report=report,
           out=out or manifest_path, out_label="--out" if out is not None else "MANIFEST (signed in place)")
    return _finish(sign_manifest(manifest_path, key, out=out), fmt, report)


@manifest.command("verify")
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(dir_okay=False))
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Trusted public key (.pub); repeat for several.")
@click.option("--allow-unsigned", is_flag=True, help="Accept a manifest without signature.")
@_BASE
@_ENDPOINT
@_REPORT
@metrics_option
@exit_zero_option
@_FORMAT
def verify_cmd(manifest_path: str, keys: tuple[str, ...], allow_unsigned: bool, base_dir: str | None,
               endpoint_url: str | None, report: str | None, metrics_file: Path | None, exit_zero: bool,
               fmt: str) -> int:
    """Check MANIFEST's signature and re-hash every source it lists.

    Exit 1 when provenance is broken (a digest, a signature, a missing or unlisted source), 0 otherwise
    (0 either way with --exit-zero), 2 for a missing or malformed manifest or key.
    """
    from ..provenance import verify_manifest

    _guard(inputs=[("MANIFEST", manifest_path)] + [("--key", k) for k in keys], report=report,
           hashed_dirs=_listed_folders(manifest_path, base_dir) if (report or metrics_file) else None,
           metrics_file=metrics_file)
    result = verify_manifest(manifest_path, keys=list(keys), allow_unsigned=allow_unsigned, base_dir=base_dir,
                             endpoint_url=endpoint_url)
    return _finish(result, fmt, report, exit_zero=exit_zero, metrics_file=metrics_file)


def _policy_from_params(path: str | None) -> dict[str, Any]:
    """``provenance.diff`` of a params.yaml (no such file or section: the defaults), through the one loader."""
    from ..config import load_params

    return load_params(existing_params(Path(path) if path is not None else None), "provenance.diff")


@manifest.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Require both manifests to be signed by this public key; repeat for several.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False), default=None,
              help="params.yaml whose provenance.diff section holds the policy (fail_on, volume_threshold; no such "
                   "file or section: the defaults).")
@click.option("--fail-on", multiple=True, metavar="KIND",
              help="Change kind that fails the run (overrides the policy; repeat): added, removed, changed, "
                   "moved, volume_jump, schema.")
@click.option("--volume-threshold", type=float, default=None,
              help="Relative change of rows or bytes that counts as a volume jump (default 0.5).")
@_REPORT
@metrics_option
@exit_zero_option
@_FORMAT
def diff_cmd(old: str, new: str, keys: tuple[str, ...], params_file: str | None, fail_on: tuple[str, ...],
             volume_threshold: float | None, report: str | None, metrics_file: Path | None, exit_zero: bool,
             fmt: str) -> int:
    """Report sources added, removed, changed, moved or jumping in volume from OLD to NEW."""
    from ..provenance import diff_manifests

    _guard(inputs=[("OLD", old), ("NEW", new), ("--params", params_file)] + [("--key", k) for k in keys],
           report=report, metrics_file=metrics_file)
    policy = _policy_from_params(params_file)
    if fail_on:
        policy["fail_on"] = list(fail_on)
    if volume_threshold is not None:
        policy["volume_threshold"] = volume_threshold
    return _finish(diff_manifests(old, new, policy=policy, keys=list(keys)), fmt, report, exit_zero=exit_zero,
                   metrics_file=metrics_file)
