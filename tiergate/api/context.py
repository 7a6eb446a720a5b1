"""What every route shares: the settings, the rulebook (loaded once), the ledger and the key check."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tiergate.api.errors import ApiError
from tiergate.api.keys import ApiKey, acting_as, find_key, init_keys, list_keys
from tiergate.api.monitoring import MonitorData
from tiergate.api.screening import ServerLists
from tiergate.api.settings import Settings
from tiergate.ledger import Ledger
from tiergate.rules import Rulebook, load_rulebook

log = logging.getLogger("tiergate.api")
T = TypeVar("T")
BUSY_SECONDS = 10.0


class ApiContext:
    """The server's state: one rulebook, one ledger (its connection pool), a short cache of checked keys."""

    def __init__(self, settings: Settings, book: Rulebook | None = None) -> None:
        self.settings = settings
        self.book = book or load_rulebook(settings.packs)
        self.ledger = Ledger(settings.db, actor="tiergate-api")
        if settings.init_db:
            self.ledger.init()
            init_keys(self.ledger)
        else:
            self.ledger.check()
        self.lists: ServerLists | None = None
        if settings.screening:
            from tiergate.screen.store import max_list_age

            max_list_age(settings.max_list_age_days)  # a bad $TIERGATE_MAX_LIST_AGE stops the start, not a page
            self.lists = ServerLists(settings.lists_url(), settings.key_cache_seconds)
            self.lists.prepare(settings.sample_lists)
        self.monitoring = MonitorData(settings)
        self._checked: dict[str, tuple[ApiKey, float]] = {}
        self._sessions: dict[str, tuple[str | None, float]] = {}
        self._denials: tuple[float, list[Any]] | None = None
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.ledger.close()
        if self.lists is not None:
            self.lists.close()
        self.monitoring.close()

    DENIALS_SECONDS = 2.0
    """How long the store's denial notices are kept in memory between reads (notices added through this server
    are seen at once)."""

    def denials(self) -> list[Any]:
        """The denial notices held in the ledger database (read at most every ``DENIALS_SECONDS``)."""
        from tiergate.denials.store import DenialStore

        now = time.monotonic()
        if self._denials is None or now - self._denials[0] > self.DENIALS_SECONDS:
            self._denials = (now, DenialStore(self.settings.db, engine=self.ledger.engine).all())
        return self._denials[1]

    def forget_denials(self) -> None:
        self._denials = None

    def screening(self) -> ServerLists | None:
        """The list store when consignees are screened (screening on, and the store holds lists), else None."""
        if self.lists is None or not self.lists.has_lists():
            return None
        return self.lists

    def unscreened_reason(self) -> str:
        """Why this server does not screen the parties now (its decisions then say ``parties not screened``)."""
        if self.lists is None:
            return "screening is off in this server's settings"
        return (
            f"no list store: {self.lists.url} holds no restricted-party lists; install one with "
            f"`tiergate lists load LIST_FILES... --db {self.lists.url}` or POST /v1/screen/lists"
        )

    def list_store(self) -> ServerLists:
        """The list store, or a 404 when this server screens nothing."""
        if self.lists is None:
            raise ApiError(404, "this server does not screen (screening is off in its settings)")
        return self.lists

    def today(self) -> dt.date:
        return self.settings.today_date()

    def now(self) -> dt.datetime:
        return self.ledger.clock()

    # ------------------------------------------------------------------ keys

    def authenticate(self, token: str | None) -> ApiKey:
        """The active key of ``token``, or a 401 that does not say which part was wrong beyond the state."""
        if not token:
            raise ApiError(
                401, "an API key is required", where="header.authorization", hint="send 'Authorization: Bearer <key>'"
            )
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        moment = time.monotonic()
        with self._lock:
            cached = self._checked.get(digest)
        if cached is not None and moment - cached[1] < self.settings.key_cache_seconds:
            key: ApiKey | None = cached[0]
        else:
            key = None
            with self._lock:
                self._refreshing.add(digest)
            try:
                key = find_key(self.ledger, token)
            finally:
                with self._lock:
                    self._refreshing.discard(digest)
                    if key is None:
                        self._checked.pop(digest, None)
            if key is not None:
                with self._lock:
                    if len(self._checked) > 10_000:
                        self._checked.clear()
                    self._checked[digest] = (key, moment)
        if key is None:
            raise ApiError(401, "unknown API key", where="header.authorization", hint="ask an admin for a key")
        state = key.state(self.now())
        if state != "active":
            raise ApiError(
                401, f"API key {key.id} is {state}", where="header.authorization", hint="ask an admin for a new key"
            )
        return key

    def cached_key(self, token: str | None) -> ApiKey | None:
        """The active key of ``token`` when it was checked moments ago, else None (check it in full)."""
        if not token:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            cached = self._checked.get(digest)
            refreshing = digest in self._refreshing
        if cached is None:
            return None
        age = time.monotonic() - cached[1]
        ttl = self.settings.key_cache_seconds
        # While one request re-reads a key whose check has lapsed, the others go on with the last check
        # (for at most one more period), instead of all reading the database at once.
        if age >= ttl and not (refreshing and age < 2 * ttl):
            return None
        return cached[0] if cached[0].state(self.now()) == "active" else None

    def key_by_id(self, key_id: str) -> ApiKey | None:
        """A key by id (for the dashboard's session, which holds the id, never the secret)."""
        moment = time.monotonic()
        marker = "id:" + key_id
        with self._lock:
            cached = self._checked.get(marker)
        if cached is not None and moment - cached[1] < self.settings.key_cache_seconds:
            return cached[0]
        from tiergate.api.keys import get_key

        key = get_key(self.ledger, key_id)
        if key is not None:
            with self._lock:
                self._checked[marker] = (key, moment)
        return key

    # ------------------------------------------------------------------ dashboard sessions

    def open_session(self, key: ApiKey) -> str:
        """A new server-side session for ``key``; its id goes into the signed cookie."""
        from tiergate.api.keys import open_session

        return open_session(self.ledger, key.id)

    def session_key(self, session_id: str | None) -> ApiKey | None:
        """The key of an open session (checked against the database at most once per ``key_cache_seconds``;
        a session ended through this server is refused at once)."""
        if not session_id:
            return None
        from tiergate.api.keys import session_key_id

        marker = "session:" + hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()
        moment = time.monotonic()
        with self._lock:
            cached = self._sessions.get(marker)
        if cached is not None and moment - cached[1] < self.settings.key_cache_seconds:
            key_id = cached[0]
        else:
            key_id = session_key_id(self.ledger, session_id)
            with self._lock:
                if len(self._sessions) > 10_000:
                    self._sessions.clear()
                self._sessions[marker] = (key_id, moment)
        return None if key_id is None else self.key_by_id(key_id)

    def end_session(self, session_id: str | None) -> None:
        """End a session for good (signing out): a copy of its cookie no longer signs in."""
        if not session_id:
            return
        from tiergate.api.keys import end_session

        end_session(self.ledger, session_id)
        marker = "session:" + hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            self._sessions[marker] = (None, time.monotonic())

    def forget_keys(self) -> None:
        """Drop every cached key check (after a revocation through this server)."""
        with self._lock:
            self._checked.clear()

    def has_keys(self) -> bool:
        return any(k.state(self.now()) == "active" for k in list_keys(self.ledger))

    def read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work`` (which reads the ledger, or ships: idempotent), again after a short pause while SQLite
        reports the database locked by a writer, for up to a few seconds; then a 503."""
        from sqlalchemy.exc import OperationalError

        deadline = time.monotonic() + BUSY_SECONDS
        pause = 0.001
        while True:
            try:
                return work(*args, **kwargs)
            except OperationalError as error:
                if "locked" not in str(error.orig).lower() and "busy" not in str(error.orig).lower():
                    raise
                if time.monotonic() > deadline:
                    raise ApiError(503, "the ledger database is busy", hint="try again") from None
                time.sleep(random.uniform(0, pause))  # noqa: S311 - jitter, not security
                pause = min(pause * 2, 0.05)

    def ledger_for(self, key: ApiKey) -> Ledger:
        """The ledger whose audit entries name the key's owner."""
        return acting_as(self.ledger, key.actor)
