"""Discord interaction latency: 50 `/news latest` interactions at once, and 50 clicks on
stories' buttons (Coverage, 👍, 👎, Mute), while the same process ingests the 200 real
feeds (issues #12 and #25; target: p99 initial response < 1 s for each).

`newsbot run`'s own composition (run_bot) holds the gateway of a fake Discord on
127.0.0.1 through the real discord.py client, and answers with the real command tree:
claim the interaction in Redis, defer, run the command core, follow up. Latency is from
the fake dispatching INTERACTION_CREATE to it receiving the initial response (the
callback Discord wants within 3 s). The baseline, in the same run, process and event
loop, is a bare discord.py client on the same fake whose `/news latest` only defers:
what any discord.py bot pays here, ingest included. Each round sends 50 interactions to
each, interleaved, so both meet the same load.

    python bench/discord_interactions.py          # the 200 real feeds, until ingested
    python bench/discord_interactions.py --smoke  # five feeds, a few rounds (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import discord
from _corpus import FEEDS, load_feeds, serve_feeds
from _figures import percentile
from discord import app_commands

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Discord the tests use

from bot.app import RunningBot, run_bot  # noqa: E402
from bot.net.guard import allow_any  # noqa: E402
from bot.platforms.discord_adapter.connection import new_client  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from bot.store.watchlist import Watchlist  # noqa: E402
from handlers.story_actions import action_value  # noqa: E402
from tests.fakes.discord_api import GUILD, MEMBER, FakeDiscord  # noqa: E402

CONCURRENT = 50
ACTIONS = ("coverage", "up", "down", "mute")
DEADLINE = 3.0  # Discord's: an interaction not answered by then fails


async def bare_client(
    settings: Settings, fake: FakeDiscord
) -> tuple[discord.Client, asyncio.Task[None], str]:
    """A discord.py client whose `/news latest` only defers; its gateway session."""
    client = new_client(settings)
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    news = app_commands.Group(name="news", description="bare")

    @news.command(name="latest", description="bare")
    async def latest(interaction: discord.Interaction, count: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    tree.add_command(news)
    known = {g.session for g in fake.gateways}
    await client.login(fake.token)
    connecting = asyncio.create_task(client.connect(reconnect=True))
    for _ in range(400):
        fresh = [g.session for g in fake.gateways if g.session not in known]
        if fresh:
            return client, connecting, fresh[0]
        await asyncio.sleep(0.05)
    raise RuntimeError("the bare client never connected")


async def burst(
    fake: FakeDiscord, ours: str, bare: str, stories: list[str]
) -> tuple[list[float], list[float], list[float]]:
    """50 interactions to newsbot and 50 to the bare client, interleaved, at once, and a
    click on a story's button after each of newsbot's; the time each took to its initial
    response (newsbot's commands, the bare client's, newsbot's clicks)."""
    sent: dict[str, list[str]] = {ours: [], bare: [], "clicks": []}
    for n in range(CONCURRENT):
        for session in (ours, bare):
            _, token = await fake.interact("news latest", {"count": 3}, session=session)
            sent[session].append(token)
        if stories:
            value = action_value(ACTIONS[n % len(ACTIONS)], stories[n % len(stories)])
            _, token = await fake.press(value, user=MEMBER + n % 5, session=ours)
            sent["clicks"].append(token)
    everything = sent[ours] + sent[bare] + sent["clicks"]
    deadline = time.monotonic() + 30
    for _ in range(3000):
        if all(t in fake.answered_at for t in everything):
            break
        await asyncio.sleep(0.01)

    def took(tokens: list[str]) -> list[float]:
        return [fake.answered_at.get(t, deadline) - fake.sent_at[t] for t in tokens]

    return took(sent[ours]), took(sent[bare]), took(sent["clicks"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="five feeds, two rounds (CI)")
    args = parser.parse_args()
    feeds = dict(load_feeds(FEEDS, 5 if args.smoke else None))
    fake = FakeDiscord()
    await fake.start()
    runner, farm_port = await serve_feeds(feeds)
    ours: list[float] = []
    bare: list[float] = []
    clicks: list[float] = []
    progress = {"entries": 0.0, "rounds": 0, "polled": 0.0, "waiting": 0}

    with tempfile.TemporaryDirectory(prefix="newsbot-bench-discord-") as tmp:
        settings = load_settings(
            {
                "NEWSBOT_DATA_DIR": tmp,
                "NEWSBOT_HTTP_PORT": "0",
                "NEWSBOT_POLL_INTERVAL": "3600",
                "NEWSBOT_LOG_LEVEL": "warning",
                "DISCORD_TOKEN": fake.token,
                "NEWSBOT_DISCORD_API_URL": fake.api_url,
                "NEWSBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
                "NEWSBOT_DISCORD_GUILD_IDS": str(GUILD),
            },
            cwd=Path(tmp),
        )
        stop = asyncio.Event()

        async def exercise(bot: RunningBot) -> None:
            try:
                await fake.wait_connected()
                for _ in range(400):
                    if fake.command_ids():
                        break
                    await asyncio.sleep(0.05)
                newsbot_session = fake.gateways[-1].session
                client, connecting, bare_session = await bare_client(settings, fake)
                watchlist = Watchlist(bot.handle.client, bot.handle.keys)
                for name in feeds:
                    await watchlist.add(f"http://127.0.0.1:{farm_port}/{name}", now=time.time())
                while True:
                    stored = await bot.handle.client.zrevrange(
                        bot.handle.keys.stories, 0, CONCURRENT - 1
                    )
                    mine, theirs, pressed = await burst(
                        fake, newsbot_session, bare_session, [str(s) for s in stored]
                    )
                    ours.extend(mine)
                    bare.extend(theirs)
                    clicks.extend(pressed)
                    progress["rounds"] += 1
                    metric = bot.metrics.registry.get_sample_value
                    progress["entries"] = metric("newsbot_entries_processed_total") or 0.0
                    lag = await bot.handle.client.xlen(bot.handle.keys.entries)
                    polled = metric("newsbot_feeds_polled_total") or 0
                    progress["polled"], progress["waiting"] = polled, lag
                    if (
                        args.smoke
                        and progress["rounds"] >= 2
                        and (clicks or progress["rounds"] > 30)
                    ):
                        break
                    done = polled >= len(feeds) * 0.95 and lag == 0
                    if (progress["rounds"] >= 3 and done) or progress["rounds"] >= 200:
                        break
                    await asyncio.sleep(0.2)
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
                await client.close()
            finally:
                stop.set()

        started = time.perf_counter()
        await run_bot(settings, stop=stop, on_started=exercise, policy=allow_any)
        elapsed = time.perf_counter() - started
    await runner.cleanup()
    await fake.stop()
    late = sum(1 for value in ours if value >= DEADLINE)
    print(
        f"Discord: {len(ours)} interactions, {CONCURRENT} at a time (and as many to the bare "
        f"client, interleaved), over {progress['rounds']} "
        f"rounds while ingesting {len(feeds)} feeds ({progress['polled']:.0f} polled, "
        f"{progress['entries']:.0f} entries processed, {progress['waiting']} still waiting; "
        f"{elapsed:.1f} s)"
    )
    print(
        f"initial response, newsbot:     p50 {percentile(ours, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(ours, 0.99) * 1000:.0f} ms, {late} past Discord's 3 s"
    )
    print(
        f"initial response, bare client: p50 {percentile(bare, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(bare, 0.99) * 1000:.0f} ms (baseline: defer only, same loop)"
    )
    if clicks:
        late = sum(1 for value in clicks if value >= DEADLINE)
        print(
            f"initial response, story button clicks: p50 {percentile(clicks, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(clicks, 0.99) * 1000:.0f} ms, {late} past Discord's 3 s "
            f"({len(clicks)} clicks)"
        )
    worst = max(percentile(ours, 0.99), percentile(clicks, 0.99) if clicks else 0.0)
    print(f"target: p99 < 1000 ms -> {'met' if worst < 1.0 else 'MISSED'}")
    if fake.problems:
        print("problems:", *fake.problems[:5], sep="\n  ")
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
