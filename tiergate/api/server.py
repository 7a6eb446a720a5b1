"""Running the HTTP API under uvicorn with the server's limits: a deadline for a request's headers, an idle
timeout, and a limit on connections served at once (``tiergate serve``).

uvicorn times out idle keep-alive connections but not a client that sends its headers a byte at a time (a
"slowloris" holds a connection open for ever). The protocols here close a connection whose request headers are
not complete ``header_timeout_seconds`` after the connection opened or its previous answer was sent, with a 408
in the one error shape. Body timeouts, the time budget of a request and the client's departure are handled in
the application itself (:class:`tiergate.api.app.Guard`), whatever server runs it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tiergate.api.errors import error_body
from tiergate.api.settings import Settings


def _timeout_response(seconds: float) -> bytes:
    body = orjson.dumps(
        error_body(
            408, f"the request headers did not arrive within {seconds:g} s", hint="send the whole request at once"
        )
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeaderDeadline:
    """Mixed into a uvicorn HTTP protocol: arms a timer while a request's headers are awaited."""

    header_timeout: float = 10.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_timeout_response(self.header_timeout))
            self.transport.close()


def protocol_class(settings: Settings) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools where installed, else h11) with the header deadline of ``settings``."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency except on Windows
        return _h11_protocol(settings)

    class TiergateHttpTools(HeaderDeadline, HttpToolsProtocol):
        header_timeout = settings.header_timeout_seconds

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return TiergateHttpTools


def _h11_protocol(settings: Settings) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TiergateH11(HeaderDeadline, H11Protocol):
        header_timeout = settings.header_timeout_seconds

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a request's headers were read
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return TiergateH11


def server_config(app: Any, settings: Settings, *, host: str, port: int, log_level: str) -> Any:
    """The uvicorn configuration of ``tiergate serve``."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        loop="auto",
        http=protocol_class(settings),
        access_log=False,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=int(settings.request_timeout_seconds) + 5,
        h11_max_incomplete_event_size=64 * 1024,
    )
