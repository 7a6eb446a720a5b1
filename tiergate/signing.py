"""Signed checkpoints of an append-only log: an Ed25519 key kept outside the database, and the checkpoint format.

A checkpoint states that a log (``log``, e.g. ``ledger-audit`` or ``vault``) had ``size`` entries with a
given ``root`` (hex) at ``issued_at``, signed with the operator's Ed25519 key. The operator stores it
somewhere the database's writers cannot reach; later, the log must still *extend* it (same first ``size``
entries), so a rollback of the whole database, a truncated tail or a rewritten history is caught even by
someone who could recompute every hash in the database: they cannot sign.

The key is a PKCS#8 PEM file whose path comes from the command line, else the environment variable
(``TIERGATE_SIGNING_KEY`` by default), else ``$XDG_CONFIG_HOME/tiergate/signing-ed25519.pem``
(``~/.config/...``). It is created with mode 0600 when asked to, never silently replaced.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tiergate.errors import TiergateError

__all__ = [
    "KEY_ENV",
    "Checkpoint",
    "CheckpointError",
    "SigningKeyError",
    "key_id",
    "key_path",
    "load_public_key",
    "load_signing_key",
    "public_key_pem",
    "sign_checkpoint",
    "verify_checkpoint",
]

KEY_ENV = "TIERGATE_SIGNING_KEY"
FORMAT = "tiergate-checkpoint/1"


class SigningKeyError(TiergateError):
    """The signing key file is missing, unreadable or not an Ed25519 key."""


class CheckpointError(TiergateError):
    """A checkpoint is malformed, its signature does not verify, or it was signed by another key."""

    exit_code = 1


def key_path(explicit: Path | None = None, env: str = KEY_ENV) -> Path:
    """Where the signing key lives: ``explicit``, else ``$env``, else the per-user configuration folder."""
    if explicit is not None:
        return explicit
    named = os.environ.get(env)
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tiergate" / "signing-ed25519.pem"


def load_signing_key(path: Path, *, create: bool = False) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``; with ``create``, a new one is written there (mode 0600) if the
    file does not exist. An existing file is never replaced."""
    if not path.exists():
        if not create:
            raise SigningKeyError(
                "no signing key here",
                where=str(path),
                hint=f"create one with --create-key, or point {KEY_ENV} at the operator's key",
            )
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made by another process meanwhile: use that one
            return load_signing_key(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key
    try:
        found = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise SigningKeyError(f"not a readable PEM private key ({error})", where=str(path)) from None
    if not isinstance(found, Ed25519PrivateKey):
        raise SigningKeyError("the key is not an Ed25519 key", where=str(path))
    return found


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(source: Path | str) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM text, or from a file holding a public or a private key."""
    where = "public key"
    if isinstance(source, Path):
        where = str(source)
        try:
            data = source.read_bytes()
        except OSError as error:
            raise SigningKeyError(f"cannot read the key ({error.strerror})", where=where) from None
    else:
        data = source.encode()
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise SigningKeyError("the key is not an Ed25519 key", where=where)
            return private.public_key()
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"not a PEM key ({error})", where=where) from None
    if not isinstance(public, Ed25519PublicKey):
        raise SigningKeyError("the key is not an Ed25519 key", where=where)
    return public


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short, stable name of a key: the first 16 hex digits of the SHA-256 of its raw public bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    log: str
    size: int
    root: str
    """The log's root (or head) hash at ``size`` entries, hex."""
    issued_at: str
    """ISO 8601, UTC."""
    key_id: str
    public_key: str
    """The signer's public key, PEM (for reading; trust comes from the key the verifier supplies)."""
    signature: str
    """Ed25519 over :meth:`signed_bytes`, base64."""

    def signed_bytes(self) -> bytes:
        return _statement(self.log, self.size, self.root, self.issued_at, self.key_id)

    def to_dict(self) -> dict[str, object]:
        return {"format": FORMAT, **asdict(self)}

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, where: str = "checkpoint") -> Checkpoint:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise CheckpointError(f"not JSON ({error})", where=where) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CheckpointError(f"not a checkpoint (expected format {FORMAT!r})", where=where)
        fields = ("log", "size", "root", "issued_at", "key_id", "public_key", "signature")
        missing = [name for name in fields if name not in data]
        if missing:
            raise CheckpointError(f"missing field(s) {', '.join(missing)}", where=where)
        size = data["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise CheckpointError("size: not a whole number ≥ 0", where=where)
        for name in fields:
            if name != "size" and not isinstance(data[name], str):
                raise CheckpointError(f"{name}: not a string", where=where)
        try:
            bytes.fromhex(data["root"])
        except ValueError:
            raise CheckpointError("root: not a hex hash", where=where) from None
        return cls(**{name: data[name] for name in fields})


def _statement(log: str, size: int, root: str, issued_at: str, kid: str) -> bytes:
    # A fixed, line-based text (as in C2SP signed notes): nothing to canonicalise, nothing ambiguous.
    return f"{FORMAT}\n{log}\n{size}\n{root}\n{issued_at}\n{kid}\n".encode()


def sign_checkpoint(key: Ed25519PrivateKey, *, log: str, size: int, root: bytes, issued_at: dt.datetime) -> Checkpoint:
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must carry a time zone")
    when = issued_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    kid = key_id(key)
    signature = key.sign(_statement(log, size, root.hex(), when, kid))
    return Checkpoint(
        log=log,
        size=size,
        root=root.hex(),
        issued_at=when,
        key_id=kid,
        public_key=public_key_pem(key),
        signature=base64.b64encode(signature).decode(),
    )


def verify_checkpoint(checkpoint: Checkpoint, trusted_public_key: Ed25519PublicKey | None = None) -> None:
    """Raise :class:`CheckpointError` unless the checkpoint's signature verifies.

    With ``trusted_public_key`` (the operator's key, from outside the database) the checkpoint must have been
    signed by that key; without it, only by the key the checkpoint names, which proves integrity, not origin."""
    public = trusted_public_key or load_public_key(checkpoint.public_key)
    if key_id(public) != checkpoint.key_id:
        raise CheckpointError(
            f"signed by key {checkpoint.key_id}, not by the trusted key {key_id(public)}",
            where=f"checkpoint of {checkpoint.log}",
        )
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        public.verify(signature, checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        raise CheckpointError(
            "the signature does not verify: the checkpoint was altered or not signed by this key",
            where=f"checkpoint of {checkpoint.log}",
        ) from None
