"""Ed25519 signing keys as PEM files: generate, load, and name them by key id.

The key id is the hex SHA-256 of the raw 32-byte public key, so anyone holding the public
key can recompute it. Private keys are PKCS#8 PEM, written with mode 0600, optionally
encrypted with a passphrase; public keys are SubjectPublicKeyInfo PEM.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._io import atomic_write_bytes, check_name
from ..errors import ProvenanceError

__all__ = ["KeyPair", "generate_keypair", "key_id", "load_private_key", "load_public_key", "write_public_key"]

#: Environment variable holding the passphrase of an encrypted private key (never logged).
PASSPHRASE_ENV = "POISONGUARD_KEY_PASSPHRASE"


@dataclasses.dataclass(frozen=True)
class KeyPair:
    """Where :func:`generate_keypair` wrote a key pair.

    Attributes
    ----------
    private_key : pathlib.Path
        The private key (PKCS#8 PEM, mode 0600). Keep it secret; sign with it.
    public_key : pathlib.Path
        The public key (PEM). Commit it; verify with it.
    keyid : str
        Hex SHA-256 of the raw public key.
    """

    private_key: Path
    public_key: Path
    keyid: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw 32-byte Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def generate_keypair(out_dir: str | os.PathLike[str], *, name: str = "poisonguard", force: bool = False,
                     passphrase: bytes | None = None) -> KeyPair:
    """Generate an Ed25519 key pair and write ``NAME.key`` (0600) and ``NAME.pub`` in ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder for the two files; created when missing.
    name : str, default="poisonguard"
        File stem.
    force : bool, default=False
        Overwrite existing files.
    passphrase : bytes, default=None
        Encrypt the private key with it.

    Returns
    -------
    KeyPair

    Raises
    ------
    ProvenanceError
        A key file exists already and ``force`` is false.
    UsageError
        ``name`` is not a plain file name (has a folder part, ``..``).
    """
    out = Path(out_dir)
    check_name("--name", name)  # the key files stay inside out_dir
    priv_path, pub_path = out / f"{name}.key", out / f"{name}.pub"
    for p in (priv_path, pub_path):
        if p.exists() and not force:
            raise ProvenanceError(f"{p} exists already; keygen does not overwrite keys. Choose another "
                                  "--out-dir or --name, or pass --force to replace it")
    key = Ed25519PrivateKey.generate()
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    priv_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    atomic_write_bytes(priv_path, priv_pem, perms=0o600)  # private from its first byte
    return KeyPair(priv_path, pub_path, write_public_key(key.public_key(), pub_path))


def write_public_key(public_key: Ed25519PublicKey, path: str | os.PathLike[str]) -> str:
    """Write ``public_key`` as PEM (SubjectPublicKeyInfo, mode 0644, atomically) to ``path``; return its key id.

    For a key pair made elsewhere: ``poisonguard manifest verify --key`` reads the file written here.
    """
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    atomic_write_bytes(path, pem)
    os.chmod(path, 0o644)
    return key_id(public_key)


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ProvenanceError(f"{path}: no such {what} file; create a key pair with `poisonguard keygen`") from None
    except OSError as exc:
        raise ProvenanceError(f"{path}: cannot read the {what} file ({exc.strerror})") from None


def load_private_key(path: str | os.PathLike[str], *, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PEM file.

    Parameters
    ----------
    path : path-like
        PKCS#8 PEM file written by :func:`generate_keypair`.
    passphrase : bytes, default=None
        For an encrypted key; default: the ``POISONGUARD_KEY_PASSPHRASE`` environment variable.

    Raises
    ------
    ProvenanceError
        Unreadable, not PEM, encrypted without a (correct) passphrase, or not Ed25519.
    """
    data = _read(path, "private key")
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode("utf-8")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        raise ProvenanceError(f"{path}: the private key is encrypted; set {PASSPHRASE_ENV} to its passphrase"
                              if passphrase is None else
                              f"{path}: the private key is not encrypted; unset {PASSPHRASE_ENV}") from None
    except ValueError:
        raise ProvenanceError(f"{path}: not a PEM private key, or the passphrase is wrong; give the .key file "
                              "written by `poisonguard keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ProvenanceError(f"{path}: a {type(key).__name__.lstrip('_')}, not an Ed25519 private key; "
                              "create one with `poisonguard keygen`")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a PEM file (a private key file is refused).

    Raises
    ------
    ProvenanceError
        Unreadable, not a PEM public key, or not Ed25519.
    """
    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        raise ProvenanceError(f"{path}: is a private key; verification takes the public key (the .pub file)")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ProvenanceError(f"{path}: not a PEM public key; give the .pub file written by "
                              "`poisonguard keygen`") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ProvenanceError(f"{path}: not an Ed25519 public key; create one with `poisonguard keygen`")
    return key
