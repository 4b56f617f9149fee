"""The running bot end to end: feed server -> poller -> stream -> pipeline -> Redis."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import discord

from bot.app import RunningBot, chat_deliverers, run_bot
from bot.commands.caller import Caller
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.articles import rss
from tests.bot.cli.test_cli import cli_env
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer

FEED = rss(
    "Live",
    [
        {
            "title": f"Story {n}",
            "link": f"https://live.example.com/{n}",
            "guid": str(n),
            "published": datetime(2026, 11, 27, n, tzinfo=UTC),
            "description": f"Story {n} happened. Details follow.",
        }
        for n in range(1, 4)
    ],
)


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not met in time"
        await asyncio.sleep(0.05)


def healthy(port: int) -> Callable[[], Awaitable[bool]]:
    """Whether `newsbot run` on this port answers /healthz with 200 now."""

    async def check() -> bool:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/healthz") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False

    return check


async def test_bot_polls_processes_and_reports(settings: Settings, feed_server: FeedServer) -> None:
    url = feed_server.add("/live.xml", FEED, etag='"1"')
    broken = feed_server.add("/broken.xml", "<html>not a feed</html>", content_type="text/html")
    stop = asyncio.Event()
    seen: dict[str, object] = {}

    async def exercise(bot: RunningBot) -> None:
        watchlist = Watchlist(bot.handle.client, bot.handle.keys)
        await watchlist.add(url, now=0)
        await watchlist.add(broken, now=0)

        async def stored() -> bool:
            return await bot.handle.client.zcard(bot.handle.keys.stories) == 3

        await wait_for(stored)
        await wait_for(lambda: _async_true(feed_server.hits["/live.xml"] >= 2))
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{bot.http_port}"
            async with http.get(f"{base}/healthz") as response:
                seen["health"] = (response.status, await response.json())
            async with http.get(f"{base}/metrics") as response:
                seen["metrics"] = await response.text()
        seen["broken"] = await watchlist.get(broken)
        stop.set()

    await asyncio.wait_for(run_bot(settings, stop=stop, on_started=exercise), timeout=60)
    status, health = seen["health"]  # type: ignore[misc]
    outbox = health.pop("outbox")
    assert health.pop("pipeline") == {"entries": 0, "polling_held_back": False}
    assert status == 200 and health == {
        "ok": True,
        "redis": True,
        "roles": {
            "poller": True,
            "pipeline": True,
            "scheduler": True,
            "chat:console outbox": True,
            "chat:outbox lag": True,
        },
    }
    assert outbox["console"] == {
        "queued": 0,
        "oldest_seconds": 0,
        "deliverers": 1,
        "dead_letters": 0,
        "held_channels": 0,
    }
    assert outbox["slack"]["deliverers"] == 0
    metrics = str(seen["metrics"])
    assert "newsbot_feeds_polled_total 1.0" in metrics
    assert "newsbot_feeds_not_modified_total" in metrics and "newsbot_stream_lag" in metrics
    assert "newsbot_entries_processed_total 3.0" in metrics
    broken_feed = seen["broken"]
    assert broken_feed is not None and broken_feed.failures >= 1  # type: ignore[attr-defined]
    assert "not a" in broken_feed.last_error  # type: ignore[attr-defined]


async def _async_true(value: bool) -> bool:
    return value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_newsbot_run_stops_cleanly_on_sigterm(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()
    env = cli_env(tmp_path, NEWSBOT_HTTP_PORT=str(port), NEWSBOT_POLL_INTERVAL="0.5")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_for(healthy(port), timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert "newsbot stopping" in err.decode() and "Traceback" not in err.decode()
    assert not (tmp_path / "data" / "redis" / "redis.sock").exists(), "embedded Redis shut down"
    assert list((tmp_path / "data" / "redis").glob("appendonly*")), "AOF persistence on"


async def test_end_to_end_an_instant_story_prints_on_the_console(
    settings: Settings, feed_server: FeedServer
) -> None:
    url = feed_server.add("/live.xml", FEED)
    stop = asyncio.Event()
    out = io.StringIO()

    async def exercise(bot: RunningBot) -> None:
        watchlist = Watchlist(bot.handle.client, bot.handle.keys)
        record, _ = await watchlist.add(url, now=0)
        await SubscriptionStore(bot.handle.client, bot.handle.keys).subscribe(
            ChannelRef.parse("console:local:main"), record.id, now=0, mode="instant"
        )

        async def printed() -> bool:
            return out.getvalue().count("new story") == 3

        await wait_for(printed)
        stop.set()

    await asyncio.wait_for(
        run_bot(settings, stop=stop, on_started=exercise, console_out=out), timeout=60
    )
    text = out.getvalue()
    assert "[console:local:main] new story\n\nStory 3" in text
    assert text.index("Story 1") < text.index("Story 2") < text.index("Story 3"), "oldest first"
    assert "https://live.example.com/1" in text and "Story 1 happened." in text


async def test_each_platform_with_credentials_gets_a_deliverer_and_the_console_only_without(
    tmp_path: Path, redis_url: str, handle: RedisHandle
) -> None:
    plain = make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_url)
    slack = make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_url, SLACK_BOT_TOKEN="xoxb-1")
    assert [d.platform for d in chat_deliverers(plain, handle)] == ["console"]
    assert [d.platform for d in chat_deliverers(slack, handle)] == ["slack"]
    console = chat_deliverers(slack, handle, console_only=True)
    assert [d.platform for d in console] == ["console"], "newsbot console never starts Slack"
    both = make_settings(
        tmp_path, NEWSBOT_REDIS_URL=redis_url, SLACK_BOT_TOKEN="xoxb-1", DISCORD_TOKEN="d"
    )
    rest = discord.Client(intents=discord.Intents.none())
    assert [d.platform for d in chat_deliverers(both, handle, discord_rest=rest)] == [
        "slack",
        "discord",
    ]
    console = chat_deliverers(both, handle, console_only=True, discord_rest=rest)
    assert [d.platform for d in console] == ["console"], "nor Discord"


async def test_a_port_in_use_stops_every_role_it_started(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = make_settings(
            settings.data_dir.parent,
            NEWSBOT_REDIS_URL=settings.redis_url.reveal() if settings.redis_url else "",
            NEWSBOT_HTTP_PORT=str(port),
        )
        stop = asyncio.Event()
        try:
            await asyncio.wait_for(run_bot(busy, stop=stop), timeout=30)
        except OSError:
            pass
        else:
            raise AssertionError("the port was in use")
    assert stop.is_set()
    left = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    roles = {"poller", "pipeline", "scheduler", "loop-lag"}
    assert not [n for n in left if n in roles or n.startswith("chat:")]


async def test_a_failing_chat_component_restarts_alone_and_sends_continue(
    settings: Settings, handle: RedisHandle
) -> None:
    """The outbox watcher meets a Redis error (a key of the wrong type) and keeps failing:
    it is restarted on its own, shows in /healthz, and never cancels the deliverer."""
    await handle.client.set(handle.keys.channels, "not a set")  # WRONGTYPE for SMEMBERS
    out = io.StringIO()
    stop = asyncio.Event()
    seen: dict[str, object] = {}

    async def exercise(bot: RunningBot) -> None:
        await wait_for(lambda: _async_true(bot.states["chat:outbox lag"].restarts >= 1))
        for n in range(3):
            await handle.client.xadd(
                handle.keys.outbox("console"),
                {
                    "delivery": f"n{n}",
                    "channel": "console:local:main",
                    "kind": "notice",
                    "text": f"notice {n}",
                },
            )
        await wait_for(lambda: _async_true(out.getvalue().count("notice") == 3))
        seen["health"] = await bot.health()
        seen["outbox restarts"] = bot.states["chat:console outbox"].restarts
        stop.set()

    await asyncio.wait_for(
        run_bot(
            settings,
            roles=("chat",),
            stop=stop,
            on_started=exercise,
            console_out=out,
            serve_http=False,
        ),
        timeout=60,
    )
    health = seen["health"]
    assert isinstance(health, dict)
    assert health["roles"]["chat:console outbox"] is True
    assert "ResponseError" in health["restarts"]["chat:outbox lag"]["last_error"]
    assert seen["outbox restarts"] == 0, "the deliverer was never cancelled"


async def test_a_poll_started_by_news_subscribe_counts_in_metrics(
    settings: Settings, feed_server: FeedServer
) -> None:
    """The command core polls a new feed with the running bot's poller, so /metrics sees it
    (it had a poller and metrics of its own)."""
    url = feed_server.add(
        "/new.xml", rss("New", [{"title": "A", "link": "https://n.example/a", "guid": "a"}])
    )
    stop = asyncio.Event()
    seen: dict[str, str] = {}

    async def exercise(bot: RunningBot) -> None:
        caller = Caller(ChannelRef("console", "local", "main"), user="console", admin=True)
        reply = await bot.command_core(settings).handle(caller, f"subscribe {url}")
        assert reply.ok, reply.text
        seen["metrics"] = (await bot.metrics_text()).decode()
        stop.set()

    await asyncio.wait_for(
        run_bot(settings, roles=("chat",), stop=stop, on_started=exercise, serve_http=False),
        timeout=60,
    )
    assert "newsbot_feeds_polled_total 1.0" in seen["metrics"]
