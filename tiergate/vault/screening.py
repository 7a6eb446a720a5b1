"""Screening a recipient through ``tiergate.screen``'s public functions: a match that no analyst cleared blocks.

A :data:`Screen` takes the recipient's name and country and returns a :class:`ScreeningResult`. With no list
loaded there is nothing to screen against, and the vault refuses to answer rather than wave a recipient through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tiergate.errors import TiergateError
from tiergate.vault.model import ScreeningResult

if TYPE_CHECKING:
    from tiergate.screen import Hit, Query

Screen = Callable[[str, str | None], ScreeningResult]


class ScreeningUnavailable(TiergateError):
    """The recipient cannot be screened (no list store, or no list loaded); nothing was changed."""


def result(party: str, hits: Sequence[Hit], data_version: str, entries: int) -> ScreeningResult:
    blocking = tuple(
        {
            "entry": h.entry.key,
            "list": h.entry.list_code,
            "name": h.entry.name,
            "matched_name": h.matched_name,
            "score": round(h.score, 4),
            "status": h.status,
            "source": h.entry.source,
        }
        for h in hits
        if h.match and h.status != "cleared"
    )
    return ScreeningResult(party, blocking, data_version, entries)


def from_lists(url: str | None) -> Screen:
    """A screen over the list store at ``url`` (``tiergate lists load --db URL``; None: the installed one,
    ``tiergate.screen.store.installed_store``), analyst decisions applied."""
    from tiergate.screen import Query, Screener, party_id
    from tiergate.screen.store import NoListStore, installed_store, lists_url

    state: dict[str, Any] = {}

    def screen(name: str, country: str | None) -> ScreeningResult:
        if "screener" not in state:
            try:
                store = installed_store(url)
                screener = Screener.from_store(store)
                version = store.data_version()
            except NoListStore as error:
                raise ScreeningUnavailable(
                    "cannot screen the recipient: the list store holds no list",
                    where=lists_url(url)[0],
                    hint=error.hint,
                ) from None
            except TiergateError as error:
                raise ScreeningUnavailable(
                    f"cannot screen the recipient: {error.message}",
                    where=error.where or lists_url(url)[0],
                    hint="load the restricted-party lists with `tiergate lists load --db URL` and pass --lists URL",
                ) from None
            if len(screener.index) == 0:
                raise ScreeningUnavailable(
                    "cannot screen the recipient: the list store holds no list",
                    where=lists_url(url)[0],
                    hint="load the restricted-party lists with `tiergate lists load --db URL`",
                )
            state["screener"], state["version"] = screener, version
        screener = state["screener"]
        party = party_id(name, country)
        hits = screener.screen(Query(name, None, country), party=party)
        return result(party, hits, state["version"], len(screener.index))

    return screen


def from_server(lists: Any) -> Screen:
    """A screen over a server's lists (``tiergate.api.screening.ServerLists``), or one that refuses when the
    server screens nothing."""
    from tiergate.screen import Query, party_id

    def screen(name: str, country: str | None) -> ScreeningResult:
        if lists is None:
            raise ScreeningUnavailable(
                "cannot screen the recipient: this server holds no restricted-party list",
                hint="load lists with POST /v1/screen/lists (screening must be on)",
            )
        party = party_id(name, country)
        query: Query = Query(name, None, country)
        hits = lists.screen(query, party=party, where="recipient")
        return result(party, hits, lists.data_version(), len(lists.index()))

    return screen
