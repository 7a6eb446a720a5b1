"""What a Tiergate server runs with: the ledger database, extra rule packs, the list store, the monitoring data,
limits and the session secret."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiergate.batch import InputLimits
from tiergate.screen import store

DEFAULT_DB = "sqlite:///tiergate-ledger.db"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_LISTS = (SAMPLES / "trade_gov_csl_sample_2025.csv",)
"""A test and demo sample (13 real records of the trade.gov Consolidated Screening List): never a default list
store (a fresh one is filled from the bundled lists, ``tiergate.screen.store.BUNDLED_LISTS``)."""
LISTS_FILE = store.LISTS_FILE


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
    max_response_bytes: int = 64 << 20
    """Largest answer of a batch route (decisions, screenings, classifications); a 413 above it (ask without the
    explanation, or split the batch)."""
    request_timeout_seconds: float = 60.0
    """The time budget of one request: a batch still running after it stops between two records (503, code
    ``timeout``). Work also stops as soon as the client closes the connection."""
    body_timeout_seconds: float = 60.0
    """A request body must arrive within this many seconds of the request's start (408 otherwise)."""
    header_timeout_seconds: float = 10.0
    """A request's headers must arrive within this many seconds (``tiergate serve``; 408 and the connection
    closed otherwise)."""
    keep_alive_seconds: int = 5
    """An idle connection is closed after this many seconds (``tiergate serve``)."""
    max_connections: int = 200
    """Most connections and requests served at once (``tiergate serve``); a 503 beyond them."""
    max_batch_records: int = 10_000
    """Most transactions or parties in one batch (a body, or an uploaded file of the dashboard)."""
    max_upload_rows: int = 500_000
    """Most rows in one uploaded file of usage records or customers (monitoring), checked before it is decoded
    (Parquet: from the file's footer)."""
    max_upload_decoded_bytes: int = 512 << 20
    """Most bytes an uploaded file may decode to (a Parquet file of millions of identical rows is a few kB)."""
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
    lists: str | None = None
    """The restricted-party list store (``--lists``): a URL, or None for ``$TIERGATE_LISTS``, else a SQLite file
    ``tiergate-lists.db`` beside a SQLite ledger, else in the working folder (``tiergate.screen.store.lists_url``,
    the rule of every face)."""
    screening: bool = True
    """Screen (``/v1/screen``) and screen each consignee in ``/v1/decide`` and ``/v1/ship`` (as ``--lists``)
    while the list store holds lists."""
    sample_lists: tuple[Path, ...] = store.BUNDLED_LISTS
    """List files loaded into the list store when it holds no list at all (a fresh machine): the bundled dated
    snapshot of the US and UN lists (``tiergate/screen/data/PROVENANCE.md``)."""
    max_list_age_days: int | None = None
    """Every screening answer warns of a list whose data is older than this many days (as ``--max-list-age``);
    None: ``$TIERGATE_MAX_LIST_AGE``, else 7."""
    monitor_usage: Path | None = None
    """Usage records the monitoring routes scan (``tiergate monitor scan --usage``); None for a generated sample
    (``tiergate monitor generate``, seed 0, with the planted cases)."""
    monitor_customers: Path | None = None
    """Customers for ``monitor_usage`` (``--customers``); None with the generated sample."""
    monitor_sample_records: int = 5_000
    """Clean usage records of the generated sample (beside its planted cases)."""
    vault_shards: Path | None = None
    """The folder under which ``POST /v1/vault/requests/{id}/release`` finds the shard folders it hashes (a path in
    the body is taken relative to it, and may not leave it); None: releases are made with ``tiergate vault release``."""
    signing_key: Path | None = None
    """The operator's Ed25519 key for ``POST /v1/vault/log/checkpoint`` and the key ``/v1/vault/log/verify`` checks
    checkpoints against; None: checkpoints are signed with ``tiergate vault log checkpoint``."""

    def upload_limits(self, rows: int | None = None) -> InputLimits:
        """The limits of an uploaded file (``rows``: a smaller row limit, e.g. a batch's)."""
        return InputLimits(rows=rows or self.max_upload_rows, decoded_bytes=self.max_upload_decoded_bytes)

    def today_date(self) -> dt.date:
        return self.today()

    def lists_url(self) -> str:
        """The list store's URL (``tiergate.screen.store.lists_url``: the rule the command line follows too)."""
        return store.lists_url(self.lists, self.db)[0]

    def list_warnings(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The stale-list warnings of the lists ``rows`` (the store's status) as of today, in the words of HTTP."""
        from tiergate.api.errors import for_http

        found = store.stale_lists(rows, self.today_date(), store.max_list_age(self.max_list_age_days))
        return [{**w, "message": for_http(w["message"])} for w in found]
