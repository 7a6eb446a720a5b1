"""The server's restricted-party lists: the list store (``tiergate.screen.store``), its index (rebuilt when a
load changes the lists) and the standing analyst decisions, shared by ``/v1/screen``, ``/v1/decide``,
``/v1/ship`` and the Screening page. Screening is the screening package's (``ScreeningIndex.screen`` and
``apply_decisions``, as ``tiergate screen batch``); this module only keeps the state of a long-running server."""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tiergate.api.errors import ApiError
from tiergate.errors import InputError, TiergateError
from tiergate.screen.index import ScreeningIndex
from tiergate.screen.model import DEFAULT_THRESHOLD, Hit, ListStoreError, Query
from tiergate.screen.normalize import UnscreenableName, check_name, names_no_one
from tiergate.screen.service import Screener, apply_decisions, party_id, rescreen
from tiergate.screen.store import Decision, ListStore, NoStandingDecision, fill, open_store

log = logging.getLogger("tiergate.api")
VERDICTS = ("cleared", "confirmed", "reopened")
"""What an officer can say about a hit: a false positive, a true match, or neither any more (re-opened)."""


CONSIGNEE_HITS = 200
"""How many hits of a consignee a decision or a shipment weighs (a search shows fewer)."""


def screenable(name: str, where: str) -> str:
    """The cleaned name, or a 422 naming ``where`` (empty, punctuation only, over the length screened)."""
    try:
        return check_name(name)
    except UnscreenableName as error:
        raise InputError(str(error), where=where, hint="send the party's name as written") from None


class ServerLists:
    """The list store of a server, with its index and decisions cached for ``refresh_seconds`` (a change made
    through this server is seen at once; one made by another process, within that many seconds)."""

    def __init__(self, url: str, refresh_seconds: float = 1.0) -> None:
        self.url = url
        self._files: Path | None = None
        self.store: ListStore = open_store(url)
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._index: tuple[str, ScreeningIndex] | None = None
        self._version_checked = -1e9
        self._rebuilding = False
        self._decisions: tuple[float, dict[tuple[str, str], Decision]] | None = None

    def close(self) -> None:
        self.store.close()

    def prepare(self, samples: Sequence[Path]) -> None:
        """Create the store's tables; load ``samples`` (the bundled lists) when it holds no list at all (a fresh
        machine)."""
        fill(self.store, samples)
        self.index()  # built now, not on a request

    # ---------------------------------------------------------------- reading

    def status(self) -> list[dict[str, Any]]:
        return self.store.status()

    def data_version(self) -> str:
        """The version (datasets, versions, file hashes) of the lists the index holds."""
        self.index()
        with self._lock:
            return self._index[0] if self._index is not None else ""

    def index(self) -> ScreeningIndex:
        """The index of the stored entries. When another process changed the lists, the index is rebuilt in the
        background while the current one goes on answering (a large list takes seconds to index: no request
        waits for it, and none blocks the server's event loop); a load through this server rebuilds at once."""
        moment = time.monotonic()
        with self._lock:
            current = self._index
            if current is not None and moment - self._version_checked < self.refresh_seconds:
                return current[1]
            self._version_checked = moment
        version = self.store.data_version()
        if current is None:
            return self.rebuild(version)
        if current[0] != version:
            with self._lock:
                start = not self._rebuilding
                self._rebuilding = True
            if start:
                threading.Thread(target=self._rebuild_quietly, name="tiergate-lists-index", daemon=True).start()
        return current[1]

    def rebuild(self, version: str | None = None) -> ScreeningIndex:
        version = version if version is not None else self.store.data_version()
        built = ScreeningIndex.for_store(self.store, version=version)  # from the kept index when the lists are the same
        with self._lock:
            self._index = (version, built)
            self._version_checked = time.monotonic()
        return built

    def _rebuild_quietly(self) -> None:
        try:
            self.rebuild()
        except Exception:  # the next check tries again; the current index goes on answering
            log.exception("rebuilding the screening index failed")
        finally:
            with self._lock:
                self._rebuilding = False

    def has_lists(self) -> bool:
        return len(self.index()) > 0

    def decisions(self) -> dict[tuple[str, str], Decision]:
        moment = time.monotonic()
        with self._lock:
            if self._decisions is not None and moment - self._decisions[0] < self.refresh_seconds:
                return self._decisions[1]
        found = self.store.decisions()
        with self._lock:
            self._decisions = (moment, found)
        return found

    def forget(self) -> None:
        """Drop the cached decisions (after a change through this server)."""
        with self._lock:
            self._decisions = None

    def screen(
        self,
        query: Query,
        *,
        party: str | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        limit: int = 10,
        where: str = "name",
    ) -> list[Hit]:
        """Ranked hits for ``query`` with the standing decisions for ``party`` (default: the party key of the
        query, as the CLI makes it) applied. An unscreenable name is a 422 naming ``where``."""
        query = Query(screenable(query.name, where), query.schema, query.country, query.identifiers)
        hits = self.index().screen(query, threshold=threshold, limit=limit)
        return apply_decisions(hits, party or party_id(query.name, query.country), self.decisions(), query)

    def consignee_hits(self, query: Query, *, party: str | None, where: str) -> list[Hit]:
        """The hits of a transaction's consignee. A name of ASCII punctuation and spaces alone matches no list
        entry (no hits); any other name that cannot be screened (letters written as symbols such as enclosed
        alphanumerics, over the length screened) is a 422, never waved through as "no match". The hits are not
        cut to the ten a search shows: a hit an analyst cleared must not hide an open one ranked below it."""
        if names_no_one(query.name):
            return []
        return self.screen(query, party=party, where=where, limit=CONSIGNEE_HITS)

    def record(
        self, results: Sequence[tuple[str, dict[str, Any], list[dict[str, Any]]]], *, actor: str | None = None
    ) -> None:
        """Record screenings (for re-screening after a list update), as ``tiergate screen batch --record``;
        ``actor`` (the key's owner) is who the store's trail names."""
        self.store.record_screenings(results, actor=actor)

    # ---------------------------------------------------------------- writing

    def files_folder(self) -> Path:
        """Where uploaded list files are kept: ``tiergate-lists-files/`` beside a SQLite list store, else in the
        temporary folder."""
        if self._files is None:
            prefix = "sqlite:///"
            if self.url.startswith(prefix) and self.url[len(prefix) :] not in ("", ":memory:"):
                self._files = Path(self.url[len(prefix) :]).parent / "tiergate-lists-files"
            else:
                self._files = Path(tempfile.gettempdir()) / "tiergate-lists-files"
        return self._files

    def entry(self, key: str) -> Any:
        found = self.store.list_entries([key])
        if not found:
            raise ApiError(
                404, f"no list entry {key[:200]!r}", where="body: entry", hint="use the 'entry' of a hit, DATASET:ID"
            )
        return found[0]

    def decide(
        self,
        party: str,
        entry_key: str,
        verdict: str,
        reason: str,
        author: str,
        *,
        name: str | None = None,
        country: str | None = None,
        identifiers: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Clear or confirm a hit for (party, entry), or re-open it (withdraw the standing decision), as ``author``
        (the key's owner: the decision's author and the actor the store's trail names). The decision is bound to
        the party's name, country and identifiers (``name``... when given, else the party's recorded screening) and
        made for the same party's entries on every list (one party, one hit)."""
        from tiergate.screen.service import decision_binding, party_entries

        if verdict == "reopened":
            return self.reopen(party, entry_key, reason, author)
        entry = self.entry(entry_key)
        try:
            bound = decision_binding(self.store, party, name, country, identifiers)
        except ListStoreError as error:
            raise ApiError(409, error.message, where="body.party", hint=error.hint) from None
        decision = self.store.decide(
            party,
            entry,
            verdict,
            reason,
            author,
            actor=author,
            bound_to=bound,
            siblings=party_entries(self.store, entry),
        )
        self.forget()
        return decision.to_dict()

    def reopen(self, party: str, entry_key: str, reason: str, author: str) -> dict[str, Any]:
        """Withdraw the standing decision on (party, entry) (``ListStore.reopen``): the hit is open again (it counts
        in decisions and blocks shipments until an officer decides again); the withdrawn decision stays in the
        store's history and the re-opening is in its trail. A 409 when the pair has no standing decision."""
        from tiergate.screen.service import party_entries

        try:
            decision = self.store.reopen(party, entry_key, reason, author, actor=author)
        except NoStandingDecision as error:
            raise ApiError(409, error.message, where="body", hint=error.hint) from None
        found = self.store.list_entries([entry_key])
        for sibling in party_entries(self.store, found[0]) if found else []:  # re-opened for every list, as decided
            try:
                self.store.reopen(party, sibling, reason, author, actor=author)
            except NoStandingDecision:
                continue
        self.forget()
        return decision.to_dict()

    def load(
        self, files: Sequence[tuple[str, bytes]], *, force: bool = False, actor: str | None = None
    ) -> dict[str, Any]:
        """Load uploaded list files (name, content) all or nothing, then screen again the recorded parties the
        update touches, as ``tiergate lists load``; ``actor`` (the key's owner) is who the store's trail names."""
        from tiergate.screen.ingest import read_lists

        # The files are kept (by content hash) so that every entry's source file:line stays readable.
        kept = self.files_folder()
        paths = []
        for index, (name, content) in enumerate(files):
            safe = re.sub(r"[^\w.\-]", "_", Path(name).name)[:200].lstrip(".") or f"list-{index}"
            folder = kept / hashlib.sha256(content).hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / safe
            if not path.exists():
                path.write_bytes(content)
            paths.append(path)
        try:
            sets = read_lists(paths)
        except TiergateError as error:
            raise _renamed(error, str(kept), 422) from None
        try:
            reports = self.store.load(sets, force=force, actor=actor)
        except ListStoreError as error:  # e.g. a list that lost more than 10 % of its entries
            raise _renamed(error, str(kept), 409) from None
        self.rebuild()
        self.forget()
        result: dict[str, Any] = {"loaded": [r.to_dict() for r in reports]}
        if any(r.added or r.changed or r.removed for r in reports) and self.store.screened_parties():
            outcome = rescreen(Screener(self.index(), self.store), self.store, reports, actor=actor)
            result["rescreen"] = outcome.to_dict()
            self.forget()
        return result


def _renamed(error: TiergateError, folder: str, status: int) -> ApiError:
    """A list file error naming the upload (its kept copy, relative to the folder of kept files)."""

    def clean(text: str | None) -> str | None:
        return None if text is None else text.replace(folder + "/", "")

    place = clean(error.where)
    message = clean(error.message) or "bad list file"
    # where is a field path (the form field of the files); the file and line go in the message
    return ApiError(status, f"{place}: {message}" if place else message, where="body.files", hint=clean(error.hint))
