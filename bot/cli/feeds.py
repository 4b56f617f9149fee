"""`newsbot feeds …`: the watch list, and with --channel, the channels subscribed to it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.app import address_policy
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.errors import NewsbotError, SourceError
from bot.net.discovery import page_feeds
from bot.net.fetch import Fetcher
from bot.net.local_files import read_local
from bot.net.opml import OutlineFeed, read_opml, write_opml
from bot.render.feed_status import status_line
from bot.roles.routing import Router, router_for
from bot.settings import Settings
from bot.store.connection import open_redis
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import FeedRecord, Watchlist
from handlers.channels import ChannelError, ChannelRef, check_filter, check_mode
from handlers.discovery import discovery_advice

MAX_OPML_BYTES = 10 * 1024 * 1024


class _Commands:
    def __init__(
        self,
        watchlist: Watchlist,
        subscriptions: SubscriptionStore,
        router: Router,
        holds: HoldStore,
        *,
        now: float,
        first_fetch_max: int,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.watchlist = watchlist
        self.subscriptions = subscriptions
        self.router = router
        self.holds = holds
        self.now = now
        self.first_fetch_max = first_fetch_max

    async def add(self, args: argparse.Namespace) -> int:
        if args.interval is not None and not args.interval > 0:
            print("newsbot: --interval must be a positive number of seconds", file=sys.stderr)
            return EXIT_USAGE
        if args.channel is None and (args.mode or args.filter):
            print("newsbot: --mode and --filter need --channel", file=sys.stderr)
            return EXIT_USAGE
        try:
            feed_filter = check_filter(args.filter) if args.filter is not None else None
        except ChannelError as exc:
            print(f"newsbot: {exc}", file=sys.stderr)
            return EXIT_USAGE
        url = args.url
        links = await page_feeds(self.fetcher, url) if self.fetcher else None
        if links is not None and len(links) != 1:
            print(f"newsbot: {url}: {discovery_advice(url, links)}", file=sys.stderr)
            return EXIT_FAILED
        if links:
            url = links[0].url
            print(f"{args.url} is a web page; its feed is {url}")
        record, created = await self.watchlist.add(url, now=self.now, interval=args.interval)
        print(f"{'added' if created else 'already watched as'} {record.id}: {record.shown_url}")
        if args.channel is not None:
            await self._subscribe(args.channel, record, mode=args.mode, feed_filter=feed_filter)
        return EXIT_OK

    async def _subscribe(
        self,
        channel: ChannelRef,
        record: FeedRecord,
        *,
        mode: str | None = None,
        feed_filter: str | None = None,
    ) -> None:
        sub, new = await self.subscriptions.subscribe(
            channel,
            record.id,
            now=self.now,
            mode=check_mode(mode) if mode else None,
            filter=feed_filter,
            added_by="cli",
        )
        verb = "subscribed" if new else "updated the subscription of"
        shown = f", filter {sub.filter!r}" if sub.filter else ""
        print(f"{verb} {channel} to {record.id} ({sub.mode}{shown})")
        if new:
            queued = await self.router.seed(sub, newest=self.first_fetch_max)
            if queued:
                print(f"  {queued} of its newest stories will reach the channel")

    async def remove(self, args: argparse.Namespace) -> int:
        removed = await self.watchlist.remove(args.feed)
        if removed is None:
            print(
                f"newsbot: no watched feed {args.feed!r} (see: newsbot feeds list)", file=sys.stderr
            )
            return EXIT_FAILED
        dropped = await self.subscriptions.forget_feed(removed.id)
        note = f" and {dropped} channel subscription(s)" if dropped else ""
        print(f"removed {removed.id}: {removed.shown_url}{note}")
        return EXIT_OK

    async def listing(self, args: argparse.Namespace) -> int:
        feeds = await self.watchlist.all()
        subs = {}
        if args.channel is not None:
            subs = {s.feed_id: s for s in await self.subscriptions.of_channel(args.channel)}
            feeds = [f for f in feeds if f.id in subs]
        if args.format == "json":
            rows = [
                vars(f)
                | {"url": f.shown_url}
                | ({"mode": subs[f.id].mode, "filter": subs[f.id].filter} if f.id in subs else {})
                for f in feeds
            ]
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return EXIT_OK
        if not feeds:
            where = f" for {args.channel}" if args.channel else ""
            print(
                f"no feeds{where} yet; add one with: newsbot feeds add URL"
                + (f" --channel {args.channel}" if args.channel else "")
            )
        for feed in feeds:
            title = f" ({feed.shown_title})" if feed.title else ""
            sub = subs.get(feed.id)
            how = (
                f" [{sub.mode}{', filter ' + repr(sub.filter) if sub.filter else ''}]"
                if sub
                else ""
            )
            print(f"{feed.id:>4}  {feed.shown_url}{title}{how}")
            print(f"      {status_line(feed, self.now)}")
        if args.channel is not None:
            hold = (await self.holds.holds([str(args.channel)])).get(str(args.channel))
            if hold is not None:
                print(
                    f"delivery to {args.channel} FAILED: {hold.reason} "
                    f"({hold.waiting} deliveries held until it works)"
                )
        return EXIT_OK

    async def import_opml(self, path: Path, channel: ChannelRef | None) -> int:
        try:
            data = await read_local(str(path), limit=MAX_OPML_BYTES)
        except SourceError as exc:
            print(f"newsbot: {path}: {exc}", file=sys.stderr)
            return EXIT_FAILED
        outlines = read_opml(data)
        added = existing = 0
        problems: list[str] = []
        for outline in outlines:
            try:
                record, created = await self.watchlist.add(
                    outline.url, now=self.now, title=outline.title
                )
            except NewsbotError as exc:
                problems.append(str(exc))
                continue
            added += created
            existing += not created
            if channel is not None:
                await self.subscriptions.subscribe(channel, record.id, now=self.now, added_by="cli")
        where = f", all subscribed by {channel}" if channel else ""
        print(
            f"imported {path}: {added} added, {existing} already watched, "
            f"{len(problems)} invalid{where}"
        )
        for problem in problems:
            print(f"  skipped: {problem}", file=sys.stderr)
        return EXIT_OK if outlines and not problems else EXIT_FAILED

    async def export(self, output: Path | None) -> int:
        feeds = await self.watchlist.all()
        document = write_opml(
            (OutlineFeed(f.url, f.title) for f in feeds),
            title="newsbot feeds",
            now=datetime.now(UTC),
        )
        if output:
            await asyncio.to_thread(output.write_text, document, encoding="utf-8")
            print(f"wrote {len(feeds)} feed(s) to {output}", file=sys.stderr)
        else:
            sys.stdout.write(document)
        return EXIT_OK


async def run_feeds_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `newsbot feeds` action against the configured (or embedded) Redis."""
    async with open_redis(settings) as handle, Fetcher(policy=address_policy(settings)) as fetcher:
        commands = _Commands(
            Watchlist(handle.client, handle.keys),
            SubscriptionStore(handle.client, handle.keys),
            router_for(settings, handle.client, handle.keys),
            HoldStore(handle.client, handle.keys, ttl=settings.retention_seconds),
            now=time.time(),
            first_fetch_max=settings.first_fetch_max,
            fetcher=fetcher,
        )
        action = args.feeds_command
        if action == "add":
            return await commands.add(args)
        if action == "remove":
            return await commands.remove(args)
        if action == "list":
            return await commands.listing(args)
        if action == "import":
            return await commands.import_opml(args.file, args.channel)
        return await commands.export(args.output)
