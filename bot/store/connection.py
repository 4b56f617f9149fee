"""Connecting to Redis: the configured URL, or the embedded server under the data dir."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from bot.errors import StoreError
from bot.settings import Settings
from bot.stopping import sleep_unless_stopped
from bot.store.batch import load_scripts
from bot.store.embedded_redis import EmbeddedRedis, spawner
from bot.store.keys import DEFAULT_PREFIX, Keys
from bot.store.schema import ensure_schema
from handlers.redact import redact_url

log = logging.getLogger(__name__)

# Every command but blocking stream reads gets a socket timeout; blocking reads get none,
# since redis-py would otherwise cut a long XREADGROUP BLOCK short.
COMMAND_TIMEOUT = 10.0
# Connections a process opens to a single Redis at most, and how long a command waits for
# one when all are busy.
POOL_CONNECTIONS = 256
POOL_WAIT = 10.0
PROBE_CONNECTIONS = 2


@dataclass
class RedisHandle:
    """The connections one newsbot process uses, plus its key schema."""

    client: aioredis.Redis
    blocking: aioredis.Redis
    keys: Keys
    description: str
    embedded: EmbeddedRedis | None = None
    # How many masters serve the data when it is a Redis Cluster; 0 for a single Redis.
    cluster_masters: int = 0
    # For /healthz and /metrics only: a pool of its own, of `PROBE_CONNECTIONS`, so no
    # flood of HTTP requests can take the roles' connections.
    probe: aioredis.Redis | None = None

    @property
    def prober(self) -> aioredis.Redis:
        return self.probe or self.client

    @property
    def shown(self) -> str:
        """Where the data is, for people: "Redis Cluster, 3 masters, redis://…" on one."""
        if self.cluster_masters:
            return f"Redis Cluster, {self.cluster_masters} masters, {self.description}"
        return self.description

    async def server_version(self) -> str:
        info = await self.client.info("server")
        if "redis_version" not in info and info:  # a cluster's reply per node
            info = next(iter(info.values()))
        return str(info.get("redis_version", "?"))

    async def ping(self) -> bool:
        try:
            return bool(await self.prober.ping())
        except (RedisError, OSError):
            return False


def _client_name() -> str:
    return f"newsbot-{socket.gethostname()}-{os.getpid()}"


def _connect(url: str, *, cluster: bool, socket_timeout: float | None) -> aioredis.Redis:
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "client_name": _client_name(),
        "decode_responses": True,
        "protocol": 2,
        "socket_connect_timeout": 5.0,
        "health_check_interval": 30,
    }
    if cluster:
        return as_redis(RedisCluster.from_url(url, **options))
    # A burst (a hundred clicks at once, 64 polls in flight) waits for a free connection
    # instead of failing: redis-py's default pool refuses the 101st at once.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT, **options
    )
    return aioredis.Redis.from_pool(pool)


def as_redis(cluster: RedisCluster) -> aioredis.Redis:
    """RedisCluster speaks the commands newsbot uses, routing each by its key's slot, so
    the store is written (and type-checked) against one client type. Where the two
    differ (scripts in pipelines, stream reads), `bot.store.batch` and `bot.store.streams`
    help."""
    return cast(aioredis.Redis, cluster)


def _probe_client(url: str, *, cluster: bool) -> aioredis.Redis:
    """A small pool that waits for a free connection (up to two seconds) instead of
    opening more: what HTTP handlers read Redis with."""
    if cluster:
        return as_redis(
            RedisCluster.from_url(
                url,
                max_connections=PROBE_CONNECTIONS,
                socket_timeout=COMMAND_TIMEOUT,
                socket_connect_timeout=5.0,
                client_name=_client_name(),
                decode_responses=True,
                protocol=2,
            )
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=PROBE_CONNECTIONS,
        timeout=2,
        socket_timeout=COMMAND_TIMEOUT,
        socket_connect_timeout=5.0,
        client_name=_client_name(),
        decode_responses=True,
        protocol=2,
    )
    return aioredis.Redis.from_pool(pool)


async def _inspect(url: str, description: str) -> bool:
    """Check the server is reachable and new enough; say whether it is a cluster node."""
    client = aioredis.Redis.from_url(
        url, socket_timeout=COMMAND_TIMEOUT, socket_connect_timeout=5.0, decode_responses=True
    )
    try:
        info = await client.info("server")
        clustered = (await client.info("cluster")).get("cluster_enabled") == 1
    except (RedisError, OSError) as exc:
        raise StoreError(f"cannot reach Redis at {description}: {exc}") from exc
    finally:
        await client.aclose()
    version = tuple(int(part) for part in str(info.get("redis_version", "0.0")).split(".")[:2])
    if version < (6, 2):
        raise StoreError(
            f"Redis at {description} is {info.get('redis_version')}; newsbot needs 6.2+"
        )
    return clustered


async def _masters(client: aioredis.Redis) -> int:
    cluster = cast(RedisCluster, client)
    try:
        await cluster.initialize()
    except (RedisError, OSError) as exc:
        raise StoreError(f"cannot reach every node of the Redis Cluster: {exc}") from exc
    return len(cluster.get_primaries())


@asynccontextmanager
async def open_redis(
    settings: Settings, *, ephemeral: bool = False, prefix: str = DEFAULT_PREFIX
) -> AsyncIterator[RedisHandle]:
    """Yield a connected `RedisHandle`; close it (and stop the embedded server) on exit.

    `ephemeral` is for one-shot commands such as `newsbot digest`: with the embedded default
    it runs a private, non-persistent server in a temporary directory; with a configured
    Redis it works under a random throwaway prefix and deletes those keys afterwards. Either
    way it never touches a running bot's state.
    """
    embedded: EmbeddedRedis | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if settings.redis_url is not None:
        url = settings.redis_url.reveal()
        description = redact_url(url)
        if ephemeral:
            prefix = f"{prefix}tmp:{uuid.uuid4().hex[:12]}:"
    else:
        if ephemeral:
            tmp = tempfile.TemporaryDirectory(prefix="newsbot-")
            embedded = EmbeddedRedis(Path(tmp.name), persistent=False)
        else:
            embedded = EmbeddedRedis(settings.data_dir, persistent=True)
        try:
            await _start(embedded)
        except BaseException:
            await _stop_embedded(embedded, tmp)
            raise
        url, description = embedded.url, f"embedded Redis at {embedded.socket_path}"
    try:
        clustered = await _inspect(url, description)
    except BaseException:
        await _stop_embedded(embedded, tmp)
        raise
    client = _connect(url, cluster=clustered, socket_timeout=COMMAND_TIMEOUT)
    blocking = _connect(url, cluster=clustered, socket_timeout=None)
    probe = _probe_client(url, cluster=clustered)
    handle = RedisHandle(
        client=client,
        blocking=blocking,
        keys=Keys(prefix),
        description=description,
        embedded=embedded,
        probe=probe,
    )
    try:
        if clustered:
            handle.cluster_masters = await _masters(client)
            await load_scripts(client)
        if not ephemeral:
            await ensure_schema(client, handle.keys)
        yield handle
    finally:
        if settings.redis_url is not None and ephemeral:
            await _delete_prefix(client, prefix)
        await client.aclose()
        await blocking.aclose()
        await probe.aclose()
        await _stop_embedded(embedded, tmp)


@asynccontextmanager
async def open_url(url: str) -> AsyncIterator[tuple[aioredis.Redis, int]]:
    """A client for another Redis (a single one or a cluster), and its number of cluster
    masters (0 for a single Redis): the target of `newsbot copy-data`."""
    description = redact_url(url)
    clustered = await _inspect(url, description)
    client = _connect(url, cluster=clustered, socket_timeout=COMMAND_TIMEOUT)
    try:
        yield client, (await _masters(client) if clustered else 0)
    finally:
        await client.aclose()


async def _stop_embedded(
    embedded: EmbeddedRedis | None, tmp: tempfile.TemporaryDirectory[str] | None
) -> None:
    if embedded is not None:
        await asyncio.to_thread(embedded.stop)
    if tmp is not None:
        tmp.cleanup()


async def _start(embedded: EmbeddedRedis) -> None:
    """Start the server in a thread; when cancelled meanwhile (Ctrl-C, SIGTERM), let the
    start finish first, so the caller can stop what it started instead of orphaning it."""
    starting = asyncio.get_running_loop().run_in_executor(spawner, embedded.start)
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await starting
        raise


async def watch_embedded(
    embedded: EmbeddedRedis, stop: asyncio.Event, *, every: float = 1.0
) -> None:
    """Restart the embedded Redis from its data within seconds of its death (kill -9, a
    crash, or the process that started it gone); the clients reconnect by themselves."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            await loop.run_in_executor(spawner, embedded.ensure_running)
        except (StoreError, RedisError, OSError) as exc:
            log.error("cannot restart the embedded Redis; trying again", extra={"error": str(exc)})
        await sleep_unless_stopped(stop, every)


async def _delete_prefix(client: aioredis.Redis, prefix: str) -> None:
    try:
        batch: list[str] = []
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    except (RedisError, OSError) as exc:
        log.warning(
            "could not clean up throwaway keys", extra={"prefix": prefix, "error": str(exc)}
        )
