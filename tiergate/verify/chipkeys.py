"""Keys bound to chips, and signed challenges: without them a relay near a landmark answers for a chip anywhere.

A chip's host holds an Ed25519 key whose public half is registered against the chip's serial. A landmark
sends a fresh nonce (``tiergate verify challenge``); the host signs ``tiergate-location-challenge/1``, the
serial and the nonce (``tiergate verify respond``); the landmark times the exchange and records the nonce
and signature beside the round trip. A round trip counts as signed only when the signature verifies with
the serial's registered key and the nonce was issued for that serial and used once.

Kept in the ledger's database (``--db`` / ``TIERGATE_DB``), tables ``verify_chip_keys`` and
``verify_challenges``.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection

from tiergate.errors import InputError, TiergateError
from tiergate.ledger import store as ledger_store
from tiergate.signing import SigningKeyError, key_id, load_public_key, public_key_pem

PROTOCOL = "tiergate-location-challenge/1"
CHALLENGE_TTL = dt.timedelta(minutes=10)

metadata = sa.MetaData()
chip_keys = sa.Table(
    "verify_chip_keys",
    metadata,
    sa.Column("serial", sa.String(200), primary_key=True),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("registered_by", sa.String(200), nullable=False),
)
challenges = sa.Table(
    "verify_challenges",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("serial", sa.String(200), nullable=False, index=True),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


_READY: weakref.WeakSet[sa.Engine] = weakref.WeakSet()
"""Engines whose tables are known to exist."""


class ChipKeyError(TiergateError):
    """An unknown serial, a bad key, or a challenge that cannot be answered."""


def challenge_bytes(serial: str, nonce: str) -> bytes:
    return f"{PROTOCOL}\n{serial}\n{nonce}\n".encode()


def respond(challenge: dict[str, object], key: Ed25519PrivateKey) -> dict[str, object]:
    """The host's answer to a challenge: the nonce signed with the chip's key (no database needed)."""
    serial, nonce = challenge.get("serial"), challenge.get("nonce")
    if not isinstance(serial, str) or not isinstance(nonce, str):
        raise InputError("a challenge needs 'serial' and 'nonce' strings", where="challenge")
    signature = key.sign(challenge_bytes(serial, nonce))
    return {"serial": serial, "nonce": nonce, "signature": base64.b64encode(signature).decode(), "key_id": key_id(key)}


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    ok: bool
    why: str


def _check_serial(serial: str) -> str:
    text = serial.strip()
    if not text or len(text) > 200 or not text.isprintable():
        raise InputError(f"{serial!r} is not a serial number", where="serial", hint="printable, 1-200 characters")
    return text


class ChipKeys:
    """The chip-key tables, on a database URL or on an engine already open (the server's ledger's)."""

    def __init__(self, url_or_engine: str | sa.Engine) -> None:
        self._owned = isinstance(url_or_engine, str)
        self.engine = ledger_store.create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        if self.engine not in _READY:
            with self._write() as conn:
                metadata.create_all(conn)
            _READY.add(self.engine)

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(**{ledger_store.WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    def register(self, serial: str, public_key: str, *, by: str, now: dt.datetime) -> dict[str, object]:
        """Bind a public key to a chip's serial; a serial keeps its first key unless it is revoked."""
        serial = _check_serial(serial)
        try:
            key = load_public_key(public_key)
        except SigningKeyError as error:
            raise ChipKeyError(error.message, where="public key") from None
        with self._write() as conn:
            found = conn.execute(sa.select(chip_keys).where(chip_keys.c.serial == serial)).mappings().first()
            if found is not None:
                if found["key_id"] == key_id(key):
                    return self._row(found)
                raise ChipKeyError(
                    f"serial {serial!r} already has key {found['key_id']}", hint="revoke it first to bind another"
                )
            row = {
                "serial": serial,
                "public_key": public_key_pem(key),
                "key_id": key_id(key),
                "registered_at": now,
                "registered_by": by,
            }
            conn.execute(chip_keys.insert().values(**row))
            return self._row(row)

    def revoke(self, serial: str) -> None:
        with self._write() as conn:
            if not conn.execute(chip_keys.delete().where(chip_keys.c.serial == serial)).rowcount:
                raise ChipKeyError(f"no key is registered for serial {serial!r}")

    def registered(self) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(chip_keys).order_by(chip_keys.c.serial)).mappings().all()
        return [self._row(r) for r in rows]

    @staticmethod
    def _row(row: object) -> dict[str, object]:
        data = dict(row)  # type: ignore[call-overload]
        when = data["registered_at"]
        return {
            "serial": data["serial"],
            "key_id": data["key_id"],
            "registered_at": when.isoformat() if hasattr(when, "isoformat") else str(when),
            "registered_by": data["registered_by"],
            "public_key": data["public_key"],
        }

    def challenge(self, serial: str, *, now: dt.datetime) -> dict[str, object]:
        serial = _check_serial(serial)
        with self._write() as conn:
            if conn.execute(sa.select(chip_keys.c.serial).where(chip_keys.c.serial == serial)).first() is None:
                raise ChipKeyError(
                    f"no key is registered for serial {serial!r}", hint="register the chip's public key first"
                )
            nonce = secrets.token_hex(32)
            expires = now + CHALLENGE_TTL
            conn.execute(challenges.insert().values(nonce=nonce, serial=serial, issued_at=now, expires_at=expires))
        return {
            "protocol": PROTOCOL,
            "serial": serial,
            "nonce": nonce,
            "issued_at": now.isoformat(),
            "expires_at": expires.isoformat(),
        }

    def check(self, serial: str, nonce: str, signature: str) -> SignatureCheck:
        """Whether a reply was signed with the serial's key, over a nonce issued for that serial."""
        with self.engine.connect() as conn:
            key_row = conn.execute(sa.select(chip_keys).where(chip_keys.c.serial == serial)).mappings().first()
            issued = conn.execute(sa.select(challenges).where(challenges.c.nonce == nonce)).mappings().first()
        if key_row is None:
            return SignatureCheck(False, f"no key is registered for serial {serial!r}")
        if issued is None:
            return SignatureCheck(False, "the nonce was never issued by this store (a replayed or invented challenge)")
        if issued["serial"] != serial:
            return SignatureCheck(False, f"the nonce was issued for serial {issued['serial']!r}, not {serial!r}")
        try:
            raw = base64.b64decode(signature, validate=True)
            load_public_key(key_row["public_key"]).verify(raw, challenge_bytes(serial, nonce))
        except (InvalidSignature, ValueError):
            return SignatureCheck(
                False,
                f"the signature does not verify with key {key_row['key_id']} bound to serial {serial!r}: "
                "the reply came from another key (a relay or proxy)",
            )
        return SignatureCheck(True, f"signed with key {key_row['key_id']} bound to serial {serial!r}")
