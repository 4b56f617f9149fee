"""Fetching feeds and pages over HTTP, within the guard and limits of docs/architecture.md.

Conditional GET (ETag / Last-Modified), gzip and deflate, connect and total timeouts, a
body-size cap enforced while streaming (so a gzip bomb is stopped too), at most five
redirects each checked by the guard, a per-host connection limit, and the server's
Retry-After (429/503) and Cache-Control max-age passed back to the poller.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import logging
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.errors import FetchError, FetchRefused
from bot.net.guard import (
    AddressPolicy,
    GuardedResolver,
    RefusedAddress,
    check_url_host,
    guarded_socket_factory,
    literal_address,
)

USER_AGENT = "newsbot/0.1 (self-hosted news-digest bot; +https://pypi.org/project/newsbot/)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.5, */*;q=0.3"
)
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)")

log = logging.getLogger(__name__)


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, status: int, url: str, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        hint = f" (retry after {retry_after:.0f} s)" if retry_after else ""
        super().__init__(f"HTTP {status} from {url}{hint}")


@dataclass(frozen=True)
class FetchResult:
    """A completed fetch: the body (empty on 304) and the caching hints that came with it."""

    url: str
    status: int
    body: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def parse_max_age(cache_control: str | None) -> float | None:
    """The max-age of a Cache-Control header, in seconds; None when absent or no-cache."""
    if not cache_control or "no-store" in cache_control or "no-cache" in cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match[1]) if match else None


@dataclass(frozen=True)
class FetchLimits:
    """The knobs of fetching; defaults follow docs/architecture.md (Fetching)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    per_host: int = 2
    total_connections: int = 32


class Fetcher:
    """An HTTP client for feeds and article pages; use as an async context manager."""

    def __init__(self, *, policy: AddressPolicy, limits: FetchLimits = FetchLimits()) -> None:
        self._policy = policy
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self._policy),
            socket_factory=guarded_socket_factory(self._policy),
            limit=self._limits.total_connections,
            limit_per_host=self._limits.per_host,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self._limits.total_timeout,
                sock_connect=self._limits.connect_timeout,
            ),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = ACCEPT,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET `url`, following at most five guarded redirects; raise `FetchError` on failure
        (and for a body over `max_bytes`, the limits' own by default)."""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                self._check_url(current)
                async with self._session.get(
                    current, headers=headers, allow_redirects=False
                ) as response:
                    self._check_peer(response, current)
                    if response.status in _REDIRECTS:
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"HTTP {response.status} without a Location header")
                        current = urljoin(current, location)
                        continue
                    return await self._finish(response, current, max_bytes)
            raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")
        except FetchError:
            raise
        except TimeoutError as exc:
            raise FetchError(f"timed out after {self._limits.total_timeout:.0f} s") from exc
        except aiohttp.ClientConnectorError as exc:
            refused = _refusal_in(exc)
            if refused is not None:
                raise refused from exc
            log.info("cannot connect", extra={"url": current, "error": repr(exc.os_error or exc)})
            raise FetchError(connect_error(exc, urlsplit(current).hostname or "")) from exc
        except aiohttp.ClientError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from exc
        except asyncio.CancelledError:
            raise
        except ValueError as exc:  # yarl/aiohttp on malformed URLs
            raise FetchError(f"bad URL: {exc}") from exc

    def _check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise FetchRefused(f"refused: malformed URL ({exc})") from exc
        if parts.scheme.lower() not in {"http", "https"}:
            raise FetchRefused(
                f"refused: only http and https URLs are fetched, not {parts.scheme!r}"
            )
        check_url_host(url, self._policy)

    def _check_peer(self, response: aiohttp.ClientResponse, url: str) -> None:
        """Check the peer again when it can still be read. aiohttp releases the connection
        of a small response before the caller sees it; that socket's address was checked by
        `guarded_socket_factory` before it connected, as every socket's is."""
        connection = response.connection
        if connection is None or connection.transport is None:
            return
        peer = connection.transport.get_extra_info("peername")
        if not peer:
            return
        address = literal_address(str(peer[0]))
        if address is not None and not self._policy(address):
            raise FetchRefused(f"refused: {urlsplit(url).hostname} connected to {address}")

    async def check(self, url: str) -> None:
        """Raise `FetchRefused` unless the policy would let this fetcher reach `url` (its
        scheme, its host as written, and every address its name resolves to now)."""
        self._check_url(url)
        host = urlsplit(url).hostname or ""
        if literal_address(host) is None:
            resolver = GuardedResolver(self._policy)
            try:
                await resolver.resolve(host, 0, socket.AF_UNSPEC)
            except OSError as exc:
                raise FetchRefused(f"refused: {host} does not resolve ({exc})") from exc
            finally:
                await resolver.close()

    async def _finish(
        self, response: aiohttp.ClientResponse, url: str, max_bytes: int | None = None
    ) -> FetchResult:
        headers = response.headers
        max_age = parse_max_age(headers.get("Cache-Control"))
        if response.status == 304:
            return FetchResult(
                url=url,
                status=304,
                body=b"",
                max_age=max_age,
                etag=headers.get("ETag"),
                last_modified=headers.get("Last-Modified"),
            )
        if response.status >= 400 or response.status < 200:
            retry = (
                parse_retry_after(headers.get("Retry-After"))
                if response.status in {429, 503}
                else None
            )
            raise HTTPStatusError(response.status, url, retry)
        limit = max_bytes or self._limits.max_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            raise FetchError(f"response too large: {declared} bytes (limit {limit})")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"response too large: over {limit} bytes")
            chunks.append(chunk)
        return FetchResult(
            url=url,
            status=response.status,
            body=b"".join(chunks),
            content_type=headers.get("Content-Type", ""),
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            max_age=max_age,
        )


# A connection's failure in words, by errno (the errno itself goes to the log only).
_CONNECT_ERRNO = {
    errno.ECONNREFUSED: "{host} refused the connection (nothing listens there)",
    errno.ECONNRESET: "{host} reset the connection",
    errno.ETIMEDOUT: "{host} did not answer in time",
    errno.EHOSTUNREACH: "no route to {host} (the network cannot reach it)",
    errno.ENETUNREACH: "no route to {host} (the network cannot reach it)",
    errno.ECONNABORTED: "{host} closed the connection",
}


def connect_error(exc: aiohttp.ClientConnectorError, host: str) -> str:
    """What went wrong connecting to `host`, in words a person can act on."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"the TLS certificate of {host} is not valid ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"the TLS handshake with {host} failed"
    cause = exc.os_error
    if isinstance(cause, socket.gaierror):
        return f"cannot find the host {host} (DNS lookup failed)"
    if isinstance(cause, TimeoutError):
        return f"{host} did not answer in time"
    words = _CONNECT_ERRNO.get(cause.errno or 0) if isinstance(cause, OSError) else None
    return words.format(host=host) if words else f"cannot connect to {host}"


def _refusal_in(exc: BaseException) -> FetchRefused | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, FetchRefused):
            return seen
        if isinstance(seen, RefusedAddress):
            return FetchRefused(str(seen))
        seen = seen.__cause__ or seen.__context__
    return None
