"""Cluster benchmark: the same ingest and delivery load on a single Redis and on a
3-master Redis Cluster, in one run.

Both servers are the bundled redis-server on 127.0.0.1 TCP ports. The load is the
product's own path: real feed documents parsed, queued on the entries stream and run
through the whole pipeline by a `PipelineWorker` (normalize, dedup, fold, summarize,
store, index, route), with 20 channels following the feeds in instant mode; then an
`OutboxConsumer` drains every delivery to the console deliverer (into memory).

Prints entries/s, deliveries/s and Redis commands per stored story on each side (the
single node is the baseline), the cluster's cost per story against the single node's
(target: at most 1.5x), and keys and commands per master (target: keys on all three).

    python bench/cluster.py             # the 200 real feeds in ../shared/data/feeds-real
    python bench/cluster.py --smoke     # five feeds (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from _corpus import FEEDS, ROOT, fetched_at, ingest_feeds, load_feeds

sys.path.insert(0, str(ROOT))  # the private Redis and cluster live with the tests

from bot.metrics import Metrics
from bot.platforms.console_adapter import ConsoleDeliverer
from bot.roles.outbox import OutboxConsumer
from bot.roles.pipeline import build_pipeline
from bot.roles.worker import PipelineWorker, ensure_group
from bot.settings import load_settings
from bot.store.connection import RedisHandle, open_redis
from bot.store.pacing import ChannelPacer
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.fakes.redis_cluster import PrivateCluster, command_calls, free_ports
from tests.fakes.redis_server import PrivateRedis

RETENTION = 30 * 86400
CHANNELS = 20


@dataclass
class Side:
    """One backend's figures."""

    name: str
    entries: int = 0
    ingest_seconds: float = 0.0
    deliveries: int = 0
    delivery_seconds: float = 0.0
    stories: int = 0
    commands: int = 0
    per_master: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def per_story(self) -> float:
        return self.commands / max(self.stories, 1)


async def subscribe(handle: RedisHandle, feeds: int) -> None:
    """Each feed followed by two of the channels, instant."""
    store = SubscriptionStore(handle.client, handle.keys)
    for number in range(feeds):
        for channel in {number % CHANNELS, (number + 7) % CHANNELS}:
            ref = ChannelRef("console", "bench", f"c{channel}")
            await store.subscribe(ref, f"f{number}", now=0, mode="instant", added_by="bench")


async def ingest(handle: RedisHandle, feeds: list[tuple[str, bytes]], now: datetime) -> int:
    client, keys = handle.client, handle.keys
    await ensure_group(client, keys)
    worker = PipelineWorker(
        client=client,
        blocking=handle.blocking,
        keys=keys,
        pipeline=build_pipeline(client, keys, ttl=RETENTION, clock=now.timestamp),
        metrics=Metrics(),
        consumer="bench",
    )
    return await ingest_feeds(client, keys, worker, feeds, now)


async def deliver(handle: RedisHandle) -> int:
    consumer = OutboxConsumer(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        deliverer=ConsoleDeliverer(handle.client, handle.keys, out=io.StringIO()),
        consumer="bench",
        ttl=RETENTION,
        pacer=ChannelPacer(handle.client, handle.keys, interval=0),
    )
    await consumer.ensure_group()
    delivered = 0
    while True:
        done = await consumer.drain()
        if not done:
            return delivered
        delivered += done


async def run_side(
    name: str,
    url: str,
    cluster: PrivateCluster | None,
    feeds: list[tuple[str, bytes]],
    now: datetime,
    data_dir: Path,
) -> Side:
    side = Side(name)
    settings = load_settings({"NEWSBOT_REDIS_URL": url, "NEWSBOT_DATA_DIR": str(data_dir)})
    async with open_redis(settings) as handle:
        await subscribe(handle, len(feeds))
        before = await command_calls(handle.client)
        started = time.perf_counter()
        side.entries = await ingest(handle, feeds, now)
        side.ingest_seconds = time.perf_counter() - started
        started = time.perf_counter()
        side.deliveries = await deliver(handle)
        side.delivery_seconds = time.perf_counter() - started
        after = await command_calls(handle.client)
        # Minus the INFO calls that read the counts themselves.
        side.commands = sum((after - before).values()) - (after["info"] - before["info"])
        side.stories = int(await handle.client.zcard(handle.keys.stories))
    if cluster is not None:
        for port in cluster.primaries():
            node = cluster.node(port)
            calls = sum(int(row["calls"]) for row in node.info("commandstats").values())
            side.per_master[f"127.0.0.1:{port}"] = (int(node.dbsize()), calls)
    return side


def report(single: Side, cluster: Side) -> None:
    for side in (single, cluster):
        label = f"{side.name:<31}"
        print(
            f"{label} entries/s {side.entries / side.ingest_seconds:8.0f} "
            f"({side.entries} entries, {side.ingest_seconds:.1f} s)   deliveries/s "
            f"{side.deliveries / max(side.delivery_seconds, 1e-9):7.0f} ({side.deliveries})   "
            f"commands per stored story {side.per_story:6.1f} ({side.stories} stories)"
        )
    ratio = cluster.per_story / max(single.per_story, 1e-9)
    time_ratio = (cluster.ingest_seconds + cluster.delivery_seconds) / max(
        single.ingest_seconds + single.delivery_seconds, 1e-9
    )
    print(
        f"cluster / single node: {ratio:.2f}x commands per story, {time_ratio:.2f}x time "
        "(target <= 1.50x)"
    )
    for master, (keys, calls) in cluster.per_master.items():
        print(f"  master {master}: {keys} keys, {calls} commands")
    empty = [m for m, (keys, _calls) in cluster.per_master.items() if not keys]
    print(f"keys on {len(cluster.per_master) - len(empty)} of {len(cluster.per_master)} masters")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N feed files")
    parser.add_argument("--feeds", type=Path, default=FEEDS)
    parser.add_argument("--smoke", action="store_true", help="five feeds (for CI)")
    args = parser.parse_args()
    feeds = load_feeds(args.feeds, 5 if args.smoke else args.limit)
    now = fetched_at(feeds)
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        single = PrivateRedis(Path(tmp) / "single", port=free_ports(1)[0])
        single.directory.mkdir()
        cluster = PrivateCluster(Path(tmp) / "cluster")
        single.start()
        try:
            cluster.start()
            one = await run_side(
                "single Redis (baseline)", single.url, None, feeds, now, Path(tmp) / "a"
            )
            three = await run_side(
                "Redis Cluster, 3 masters", cluster.url, cluster, feeds, now, Path(tmp) / "b"
            )
        finally:
            cluster.stop()
            single.stop()
    print(f"feeds: {len(feeds)}, channels: {CHANNELS} (each feed followed by two, instant)")
    report(one, three)


if __name__ == "__main__":
    asyncio.run(main())
