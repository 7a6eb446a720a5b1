"""What a Tiergate server runs with: the ledger database, extra rule packs, limits and the session secret."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DB = "sqlite:///tiergate-ledger.db"


def _today_from_environment() -> dt.date:
    override = os.environ.get("TIERGATE_TODAY")
    return dt.date.fromisoformat(override) if override else dt.date.today()


@dataclass(frozen=True)
class Settings:
    """Settings of the HTTP API and the dashboard (the embedded defaults serve a SQLite ledger file)."""

    db: str = DEFAULT_DB
    packs: tuple[Path, ...] = ()
    """Extra pack folders, as ``--packs`` on the command line."""
    max_body_bytes: int = 1 << 20
    """Largest request body accepted on every route but the batch ones (413 above it)."""
    max_batch_bytes: int = 16 << 20
    """Largest request body accepted by the batch routes (``/v1/decide/batch``, the dashboard's upload)."""
    max_batch_records: int = 10_000
    session_secret: str = field(
        default_factory=lambda: os.environ.get("TIERGATE_SESSION_SECRET") or secrets.token_hex(32)
    )
    """Signs the dashboard's session cookie; a fresh random one per process unless given."""
    session_max_age: int = 8 * 3600
    secure_cookies: bool = False
    """Send the session cookie only over HTTPS (set it when a TLS proxy fronts the server)."""
    key_cache_seconds: float = 1.0
    """How long an authenticated key is trusted without reading the database again (while one request re-reads
    it, the others use the last check for at most as long again). A revocation or expiry through this server
    takes effect at once; a revocation made by another process within twice this many seconds."""
    today: Callable[[], dt.date] = _today_from_environment
    """A callable giving today's date (decisions without a date are made as of it)."""
    init_db: bool = True
    """Create or upgrade the ledger's and the keys' tables at start-up."""

    def today_date(self) -> dt.date:
        return self.today()
