"""Fetching against a real local HTTP server: caching, limits, redirects and the SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

import pytest

from bot.errors import FetchError, FetchRefused
from bot.net.fetch import (
    USER_AGENT,
    Fetcher,
    FetchLimits,
    HTTPStatusError,
    parse_max_age,
    parse_retry_after,
)
from bot.net.guard import (
    IPAddress,
    RefusedAddress,
    allow_any,
    check_url_host,
    guarded_socket_factory,
    public_only,
)
from tests.fakes.feed_server import FeedServer

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def only_test_server(address: IPAddress) -> bool:
    """Public addresses plus 127.0.0.1 exactly, where the test server listens."""
    return address == LOOPBACK or public_only(address)


async def test_conditional_get_gets_304(feed_server: FeedServer) -> None:
    url = feed_server.add(
        "/feed", "<rss/>", etag='"v1"', last_modified="Fri, 27 Nov 2026 08:00:00 GMT"
    )
    async with Fetcher(policy=allow_any) as fetcher:
        first = await fetcher.fetch(url)
        again = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert first.status == 200 and first.etag == '"v1"'
    assert again.not_modified and again.body == b""
    headers = feed_server.requests[-1][1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["User-Agent"] == USER_AGENT


async def test_gzip_is_decoded(feed_server: FeedServer) -> None:
    url = feed_server.add("/gz", "<rss>" + "x" * 5000 + "</rss>", gzip=True)
    async with Fetcher(policy=allow_any) as fetcher:
        result = await fetcher.fetch(url)
    assert result.body.startswith(b"<rss>") and len(result.body) == 5011


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_over_the_cap_is_refused(feed_server: FeedServer, chunked: bool) -> None:
    url = feed_server.add("/big", b"x" * 300_000, chunked=chunked)
    async with Fetcher(policy=allow_any, limits=FetchLimits(max_bytes=100_000)) as fetcher:
        with pytest.raises(FetchError, match="too large"):
            await fetcher.fetch(url)


async def test_gzip_bomb_is_stopped_by_the_cap(feed_server: FeedServer) -> None:
    url = feed_server.add("/bomb", b"\0" * 5_000_000, gzip=True, chunked=True)
    async with Fetcher(policy=allow_any, limits=FetchLimits(max_bytes=1_000_000)) as fetcher:
        with pytest.raises(FetchError, match="too large"):
            await fetcher.fetch(url)


async def test_slow_server_times_out(feed_server: FeedServer) -> None:
    url = feed_server.add("/slow", "<rss/>", delay=5)
    async with Fetcher(policy=allow_any, limits=FetchLimits(total_timeout=0.3)) as fetcher:
        with pytest.raises(FetchError, match="timed out"):
            await fetcher.fetch(url)


async def test_connections_per_host_are_limited(feed_server: FeedServer) -> None:
    url = feed_server.add("/slowish", "<rss/>", delay=0.2)
    async with Fetcher(policy=allow_any, limits=FetchLimits(per_host=2)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url) for _ in range(6)))
    assert [r.status for r in results] == [200] * 6
    assert feed_server.most_in_flight == 2


async def test_redirects_are_followed_up_to_five(feed_server: FeedServer) -> None:
    for hop in range(5):
        feed_server.add(f"/r{hop}", status=302, headers={"Location": f"/r{hop + 1}"})
    feed_server.add("/r5", "<rss/>")
    feed_server.add("/loop", status=301, headers={"Location": "/loop"})
    async with Fetcher(policy=allow_any) as fetcher:
        result = await fetcher.fetch(feed_server.url("/r0"))
        assert result.url.endswith("/r5") and result.body == b"<rss/>"
        with pytest.raises(FetchError, match="too many redirects"):
            await fetcher.fetch(feed_server.url("/loop"))


async def test_retry_after_and_max_age_are_reported(feed_server: FeedServer) -> None:
    busy = feed_server.add("/busy", status=429, headers={"Retry-After": "120"})
    cached = feed_server.add("/cached", "<rss/>", headers={"Cache-Control": "public, max-age=900"})
    async with Fetcher(policy=allow_any) as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            await fetcher.fetch(busy)
        assert caught.value.status == 429 and caught.value.retry_after == 120
        assert (await fetcher.fetch(cached)).max_age == 900


def test_header_parsers() -> None:
    assert parse_retry_after("Fri, 27 Nov 2026 10:01:00 GMT", now=1795773600.0) == 60
    assert parse_retry_after("soon") is None
    assert parse_max_age("no-cache, max-age=60") is None
    assert parse_max_age("s-maxage=10") is None
    assert parse_max_age('max-age="30"') == 30


async def test_loopback_is_refused_by_default(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed", "<rss/>")
    async with Fetcher(policy=public_only) as fetcher:
        with pytest.raises(FetchRefused, match="not a public address"):
            await fetcher.fetch(url)
    assert feed_server.hits["/feed"] == 0


async def test_hostname_resolving_to_loopback_is_refused(feed_server: FeedServer) -> None:
    url = feed_server.add("/feed", "<rss/>")
    async with Fetcher(policy=public_only) as fetcher:
        with pytest.raises(FetchRefused, match="resolves to a non-public address"):
            await fetcher.fetch(url.replace("127.0.0.1", "localhost"))
    assert feed_server.hits["/feed"] == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/inside",
        "http://[::ffff:127.0.0.1]:{port}/inside",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
    ],
)
async def test_redirect_inward_is_refused(feed_server: FeedServer, target: str) -> None:
    feed_server.add("/inside", "secret")
    start = feed_server.add(
        "/out", status=302, headers={"Location": target.format(port=feed_server.port)}
    )
    async with Fetcher(policy=only_test_server) as fetcher:
        with pytest.raises(FetchRefused, match="refused"):
            await fetcher.fetch(start)
    assert feed_server.hits["/out"] == 1
    assert feed_server.hits["/inside"] == 0


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "file:///etc/passwd", "javascript:alert(1)", "http:///nohost"]
)
async def test_non_http_urls_are_refused(url: str) -> None:
    async with Fetcher(policy=public_only) as fetcher:
        with pytest.raises(FetchRefused):
            await fetcher.fetch(url)


async def test_connection_failures_are_said_in_words_with_no_errno(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """What a person reads: the host and what happened. The errno goes to the log."""
    caplog.set_level(logging.INFO, logger="bot.net.fetch")
    plain = feed_server.url("/feed").replace("http://", "https://")  # TLS to a plain server
    await_refused = feed_server.url("/gone")
    cases = [
        ("http://no-such-host.invalid/feed", "cannot find the host no-such-host.invalid"),
        (plain, "the TLS handshake with 127.0.0.1 failed"),
    ]
    async with Fetcher(policy=allow_any) as fetcher:
        for url, said in cases:
            with pytest.raises(FetchError) as failed:
                await fetcher.fetch(url)
            assert str(failed.value).startswith(said), str(failed.value)
            assert "Errno" not in str(failed.value)
        await feed_server.stop()
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(await_refused)
    assert str(refused.value) == "127.0.0.1 refused the connection (nothing listens there)"
    details = [str(getattr(r, "error", "")) for r in caplog.records]
    assert any("Errno 111" in d or "Connect call failed" in d for d in details), details
    assert any("gaierror" in d for d in details), "the detail is in the log"


async def test_a_private_address_says_how_a_self_hoster_allows_it(
    feed_server: FeedServer,
) -> None:
    async with Fetcher(policy=public_only) as fetcher:
        with pytest.raises(FetchRefused) as refused:
            await fetcher.fetch(feed_server.url("/feed"))
    assert "NEWSBOT_ALLOW_PRIVATE_NETWORKS=true" in str(refused.value)


LOOPBACK_SPELLINGS = [
    "１２７.０.０.１",  # fullwidth digits and dots
    "①②⑦.⓪.⓪.①",  # circled digits
    "127。0。0。1",  # ideographic full stops
    "127．0．0．1",  # fullwidth full stops
    "𝟏𝟐𝟕.𝟎.𝟎.𝟏",  # mathematical bold digits
    "１２７.0.0.1",  # mixed scripts
    "127.0.0.1.",  # a trailing dot
    "１２７.０.０.１.",  # fullwidth with a trailing dot
    "%31%32%37.0.0.1",  # percent-encoded
    "ｌｏｃａｌｈｏｓｔ",  # fullwidth letters
    "localhost.",
    "[::ffff:127.0.0.1]",
    "0x7f.0.0.1",
    "2130706433",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_no_spelling_of_loopback_gets_through(feed_server: FeedServer, host: str) -> None:
    feed_server.add("/feed", "<rss/>")
    async with Fetcher(policy=public_only) as fetcher:
        for path in ("/feed", "/feed?x=1"):
            with pytest.raises(FetchError):
                await fetcher.fetch(f"http://{host}:{feed_server.port}{path}")
    assert feed_server.hits["/feed"] == 0


@pytest.mark.parametrize("host", ["１２７.０.０.１", "ｌｏｃａｌｈｏｓｔ", "①②⑦.⓪.⓪.①"])
def test_a_host_written_to_look_like_another_is_refused_even_where_private_is_allowed(
    host: str,
) -> None:
    with pytest.raises(FetchRefused, match="written in other characters"):
        check_url_host(f"http://{host}/feed", allow_any)


def test_ordinary_international_names_pass() -> None:
    assert check_url_host("https://bücher.de/feed", public_only) == "xn--bcher-kva.de"


def test_every_socket_is_checked_on_the_address_it_connects_to() -> None:
    make = guarded_socket_factory(public_only)
    with pytest.raises(RefusedAddress, match="not a public address"):
        make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    with pytest.raises(RefusedAddress):
        make((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.0.0.1", 80, 0, 0)))
    sock = make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)))
    sock.close()
