"""Holding the Discord gateway: one process at a time, under a lease in Redis.

Discord sends every interaction to every session of a shard, so two processes holding
the gateway would both answer. The process holding ``discord:gateway`` (renewed six times
a lease, from login and command sync on: a rate-limited sync can outlast the lease)
connects and answers `/news`; the others only post through REST, and one of them takes
over within `LEASE` seconds when the holder dies. A holder that cannot renew
(Redis gone, or the lease taken) closes its gateway before the lease could lapse.

The holder syncs the command tree when it changed since the last sync (a hash in
``discord:commands``): to the guilds in `NEWSBOT_DISCORD_GUILD_IDS` (instant, for
testing) or else globally (rate-limited by Discord, and slow to show). Reconnects and
resumes are discord.py's; they are logged at info with the shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.commands.core import CommandCore
from bot.platforms.discord_adapter.commands import Answerer, news_group
from bot.platforms.discord_adapter.components import ComponentAnswerer
from bot.platforms.discord_adapter.connection import new_client, token
from bot.settings import Settings
from bot.stopping import Stopped, sleep_unless_stopped, unless_stopped
from bot.store.keys import Keys

log = logging.getLogger(__name__)

LEASE = 30.0
RETRY_AFTER_FAILURE = 60.0
# How long a stopping gateway waits for the answers it is sending.
ANSWER_GRACE = 10.0
# KEYS[1] the lease; ARGV[1] this holder; ARGV[2] the lease in ms. 1 when still ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


class GatewayLease:
    """``discord:gateway``: who may hold the Discord gateway now."""

    def __init__(self, client: Redis, keys: Keys, holder: str, *, lease: float = LEASE) -> None:
        self._client = client
        self._key = keys.discord_gateway
        self._holder = holder
        self._lease_ms = int(lease * 1000)

    async def acquire(self) -> bool:
        return bool(await self._client.set(self._key, self._holder, nx=True, px=self._lease_ms))

    async def renew(self) -> bool:
        kept = await self._client.eval(_RENEW, 1, self._key, self._holder, self._lease_ms)
        return bool(kept)

    async def release(self) -> None:
        await self._client.eval(_RELEASE, 1, self._key, self._holder)

    async def holder(self) -> str | None:
        value = await self._client.get(self._key)
        return None if value is None else str(value)


def command_tree(client: discord.Client, answerer: Answerer) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    tree.add_command(news_group(answerer))

    @tree.error
    async def failed(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("a /news interaction failed", exc_info=error, extra={"id": interaction.id})

    return tree


async def sync_commands(
    tree: app_commands.CommandTree[Any],
    client: Redis,
    keys: Keys,
    *,
    guild_ids: tuple[int, ...],
    application_id: int,
) -> bool:
    """Sync the tree when it changed since the last sync; True when it synced."""
    payload = [command.to_dict(tree) for command in tree.get_commands()]
    scope = list(guild_ids) or "global"
    digest = hashlib.sha256(
        json.dumps([payload, scope, application_id], sort_keys=True).encode()
    ).hexdigest()
    if await client.get(keys.discord_commands) == digest:
        log.info("Discord commands unchanged; not syncing", extra={"scope": str(scope)})
        return False
    try:
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(guild_id)
                tree.copy_global_to(guild=guild)
                await tree.sync(guild=guild)
        else:
            await tree.sync()
    except (discord.HTTPException, discord.RateLimited) as exc:
        # The gateway still connects: commands synced before keep working.
        log.error(
            "cannot sync /news (is the bot in every NEWSBOT_DISCORD_GUILD_IDS server?)",
            extra={"scope": str(scope), "error": str(exc)},
        )
        return False
    await client.set(keys.discord_commands, digest)
    log.info("synced Discord commands", extra={"scope": str(scope)})
    return True


def _log_connection_events(client: discord.Client) -> None:
    async def on_shard_connect(shard_id: int) -> None:
        log.info("Discord gateway connected", extra={"shard": shard_id})

    async def on_shard_resumed(shard_id: int) -> None:
        log.info("Discord gateway resumed", extra={"shard": shard_id})

    async def on_shard_disconnect(shard_id: int) -> None:
        log.info("Discord gateway disconnected; reconnecting", extra={"shard": shard_id})

    async def on_connect() -> None:
        log.info("Discord gateway connected", extra={"shard": 0})

    async def on_resumed() -> None:
        log.info("Discord gateway resumed", extra={"shard": 0})

    async def on_disconnect() -> None:
        log.info("Discord gateway disconnected; reconnecting", extra={"shard": 0})

    async def on_ready() -> None:
        log.info("Discord gateway ready", extra={"guilds": len(client.guilds)})

    sharded = isinstance(client, discord.AutoShardedClient)
    events = (
        [on_shard_connect, on_shard_resumed, on_shard_disconnect]
        if sharded
        else [on_connect, on_resumed, on_disconnect]
    )
    for event in [*events, on_ready]:
        client.event(event)


def _watch_access(client: discord.Client, core: CommandCore) -> None:
    """The events that can let newsbot into a channel again and need no privileged intent:
    a guild (re)joined or available (GUILD_CREATE), a channel's overwrites changed
    (CHANNEL_UPDATE), a role's permissions changed (GUILD_ROLE_UPDATE). Each asks for a
    probe of the guild's held channels now; a probe that is still refused waits again."""

    async def restored(guild: discord.Guild) -> None:
        try:
            await core.access_restored_in("discord", str(guild.id))
        except RedisError as exc:
            log.warning("cannot ask for a probe of held channels", extra={"error": str(exc)})

    async def on_guild_join(guild: discord.Guild) -> None:
        await restored(guild)

    async def on_guild_available(guild: discord.Guild) -> None:
        await restored(guild)

    async def on_guild_channel_update(
        _before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
    ) -> None:
        await restored(after.guild)

    async def on_guild_role_update(_before: discord.Role, after: discord.Role) -> None:
        await restored(after.guild)

    for event in (on_guild_join, on_guild_available, on_guild_channel_update, on_guild_role_update):
        client.event(event)


async def _finish_answers() -> None:
    """Let interactions being answered finish their follow-ups before the client closes
    (discord.py runs a command in a task named "CommandTree-invoker", an event such as a
    component click in one named "discord.py: on_interaction")."""
    answering = {"CommandTree-invoker", "discord.py: on_interaction"}
    running = [
        task for task in asyncio.all_tasks() if task.get_name() in answering and not task.done()
    ]
    if running:
        await asyncio.wait(running, timeout=ANSWER_GRACE)


def _stop_waiting_for_guilds(client: discord.Client) -> None:
    """Cancel discord.py's wait for GUILD_CREATEs after READY (``_ready_task``, private in
    discord.py 2.7): left running past `close`, it fires "ready" into a closed client."""
    state = client._connection
    for task in [getattr(state, "_ready_task", None), *getattr(state, "_ready_tasks", {}).values()]:
        if isinstance(task, asyncio.Task):
            task.cancel()


class Gateway:
    """Runs the Discord gateway in whichever process holds the lease."""

    def __init__(
        self,
        *,
        settings: Settings,
        client: Redis,
        keys: Keys,
        core: CommandCore,
        holder: str,
        lease: float = LEASE,
    ) -> None:
        self._settings = settings
        self._client = client
        self._keys = keys
        self._core = core
        self._holder = holder
        self._lease_seconds = lease
        self._renew_every = lease / 6
        self._lease = GatewayLease(client, keys, holder, lease=lease)
        self.connected = asyncio.Event()  # set while this process holds the gateway

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the lease, hold the gateway while it lasts; until `stop`."""
        while not stop.is_set():
            try:
                held = await self._lease.acquire()
            except RedisError as exc:
                log.warning(
                    "cannot reach Redis for the Discord gateway lease", extra={"error": str(exc)}
                )
                held = False
            if held:
                try:
                    await self._hold(stop)
                except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
                    log.error(
                        "the Discord gateway failed; trying again in a minute",
                        extra={"error": repr(exc)},
                    )
                    await sleep_unless_stopped(stop, RETRY_AFTER_FAILURE)
                finally:
                    self.connected.clear()
                    with contextlib.suppress(RedisError):
                        await self._lease.release()
            await sleep_unless_stopped(stop, self._renew_every)

    async def _hold(self, stop: asyncio.Event) -> None:
        log.info("holding the Discord gateway", extra={"holder": self._holder})
        client = new_client(self._settings)
        answerer = Answerer(
            core=self._core, client=self._client, keys=self._keys, holder=self._holder
        )
        tree = command_tree(client, answerer)
        components = ComponentAnswerer(core=self._core, answerer=answerer)

        async def on_interaction(interaction: discord.Interaction) -> None:
            await components.handle(interaction)

        client.event(on_interaction)
        _log_connection_events(client)
        _watch_access(client, self._core)
        connecting: asyncio.Task[None] | None = None
        try:
            try:
                await self._renewing(stop, self._start(client, tree))
            except Stopped:
                return
            connecting = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
            self.connected.set()
            await self._keep_lease(stop, connecting)
        finally:
            await _finish_answers()
            if connecting is not None:  # first: once closed, its events have no loop
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
            _stop_waiting_for_guilds(client)
            await client.close()
            log.info("released the Discord gateway", extra={"holder": self._holder})

    async def _renewing(self, stop: asyncio.Event, work: Awaitable[None]) -> None:
        """Await `work` (login and command sync, which can take long when Discord
        rate-limits a sync) while renewing the lease; `Stopped` when `stop` is set or the
        lease is lost meanwhile."""
        job = asyncio.ensure_future(unless_stopped(stop, work))

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._renew_every)
                with contextlib.suppress(RedisError):
                    if not await self._lease.renew():
                        log.warning("the Discord gateway lease was taken; letting go")
                        return

        renewer = asyncio.create_task(renew())
        try:
            await asyncio.wait({job, renewer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        if not job.done():
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
            raise Stopped
        job.result()

    async def _start(self, client: discord.Client, tree: app_commands.CommandTree[Any]) -> None:
        """Log in, sync the commands if they changed, find the gateway (sharded)."""
        await client.login(token(self._settings))
        if client.application_id is not None:
            await sync_commands(
                tree,
                self._client,
                self._keys,
                guild_ids=self._settings.discord_guild_ids,
                application_id=client.application_id,
            )
        if isinstance(client, discord.AutoShardedClient):
            await self._bot_gateway(client)

    async def _bot_gateway(self, client: discord.Client) -> None:
        """Sharded: the gateway URL Discord gives for this bot (``GET /gateway/bot``)."""
        _, url, _ = await client.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def _keep_lease(self, stop: asyncio.Event, connecting: asyncio.Task[None]) -> None:
        valid_until = time.monotonic() + self._lease_seconds
        while not stop.is_set() and not connecting.done():
            await sleep_unless_stopped(stop, self._renew_every)
            try:
                if not await self._lease.renew():
                    log.warning("the Discord gateway lease was taken; letting go")
                    return
                valid_until = time.monotonic() + self._lease_seconds
            except RedisError as exc:
                if time.monotonic() > valid_until - 2 * self._renew_every:
                    log.warning(
                        "cannot renew the Discord gateway lease; letting go before it lapses",
                        extra={"error": str(exc)},
                    )
                    return
        if connecting.done() and not connecting.cancelled():
            connecting.result()  # raises what ended it (a refused token, say)
