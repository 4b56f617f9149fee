"""Limits aiohttp's server does not have: a deadline for request headers, and a cap on
open connections.

aiohttp waits for a request's headers as long as the client keeps sending (a slowloris
client sends a byte every few seconds and holds the connection for ever), and accepts
every connection it is offered. `GuardedProtocol` sits in front of aiohttp's own protocol
on each connection:

- a new connection's first request, and each later one from its first byte, must have
  its headers complete (the blank line that ends them) within `header_timeout`, or the
  connection is closed (an idle kept-alive connection is aiohttp's to close);
- past `max_connections` open connections, a new one is closed at once.

Everything else is aiohttp's: the guard hands every byte on untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 10.0
MAX_CONNECTIONS = 512
_END = b"\r\n\r\n"
HEADER_KEEP = 64 * 1024  # header bytes kept to find Content-Length (aiohttp allows ~8 KB)


@dataclass
class ConnectionLimits:
    header_timeout: float = HEADER_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    open: int = 0
    refused: int = 0
    timed_out: int = 0
    _warned: float = field(default=0.0, repr=False)


class GuardedProtocol(asyncio.Protocol):
    """Wraps one connection's aiohttp protocol; see the module's text.

    It follows the requests on the connection just enough to time their headers: idle,
    then headers (the deadline runs), then a body of Content-Length bytes, then idle
    again. A chunked body is not followed: the connection is then left to aiohttp's own
    keep-alive timeout."""

    def __init__(self, inner: asyncio.Protocol, limits: ConnectionLimits) -> None:
        self._inner = inner
        self._limits = limits
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._headers = b""
        self._state = "idle"  # idle, headers, body, untracked
        self._body_left = 0
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if self._limits.open >= self._limits.max_connections:
            self._limits.refused += 1
            transport.abort()  # type: ignore[attr-defined]
            return
        self._limits.open += 1
        self._counted = True
        self._start_request()  # a connection that sends nothing is held no longer
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._follow(data)
        self._inner.data_received(data)

    def _follow(self, data: bytes) -> None:
        while data and self._state != "untracked":
            if self._state == "idle":
                if data.lstrip(b"\r\n") == b"":
                    return
                self._start_request()
            if self._state == "headers":
                seen = self._headers + data
                end = seen.find(_END)
                if end < 0:
                    self._headers = seen[-HEADER_KEEP:]
                    return
                head, data = seen[:end], seen[end + len(_END) :]
                self._headers_done(head)
                continue
            if self._state == "body":
                taken = min(self._body_left, len(data))
                self._body_left -= taken
                data = data[taken:]
                if self._body_left == 0:
                    self._state = "idle"

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._counted:
            self._limits.open -= 1
            self._counted = False
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _start_request(self) -> None:
        self._state = "headers"
        self._headers = b""
        self._cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._limits.header_timeout, self._too_slow)

    def _headers_done(self, head: bytes) -> None:
        self._cancel()
        self._headers = b""
        lines = head.lower().split(b"\r\n")
        if any(line.startswith(b"transfer-encoding:") for line in lines):
            self._state = "untracked"
            return
        length = 0
        for line in lines:
            if line.startswith(b"content-length:"):
                try:
                    length = int(line.split(b":", 1)[1].strip())
                except ValueError:
                    self._state = "untracked"  # aiohttp answers 400 to it
                    return
        self._body_left = length
        self._state = "body" if length else "idle"

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._limits.timed_out += 1
        log.warning("closed a connection whose request headers were too slow to arrive")
        if self._transport is not None:
            self._transport.abort()


def guarded(
    factory: Callable[[], asyncio.Protocol], limits: ConnectionLimits
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for `loop.create_server` that guards `factory`'s protocols."""

    def make() -> asyncio.Protocol:
        return GuardedProtocol(factory(), limits)

    return make
