"""`/news alert …`: a member's keyword alerts, the same on every platform.

A personal alert DMs its matches (at most one message a minute); a channel alert, which
only managers can make, posts them in its channel. What an alert can see is decided when
a story arrives (`bot.roles.alerting`): the feeds of the workspace's public channels, and
of the channel it was made in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis.asyncio import Redis

from bot.commands.caller import Caller
from bot.settings import Settings
from bot.store.alerts import CLOSED, DM, AlertStore
from bot.store.keys import Keys
from handlers.alerts import AlertError, parse_alert_query
from handlers.channels import ChannelRef
from handlers.commands import Command
from handlers.query import QueryError
from handlers.reply import Reply, refusal

NOT_IN_A_DM = (
    "make alerts in a channel of your workspace or server: an alert follows the feeds of "
    "its public channels, and of the channel where you make it"
)


def _ago(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def _until(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%a %d %b %H:%M UTC")


class AlertCommands:
    """Runs the `alert` subcommands for one caller."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._store = AlertStore(client, keys, ttl=settings.retention_seconds)

    async def run(self, caller: Caller, command: Command) -> Reply:
        platform, user = caller.channel.platform, caller.user
        if command.action == "add":
            return await self._add(caller, command)
        if command.action == "list":
            return await self._list(platform, user)
        if command.action == "remove":
            if await self._store.remove(platform, user, command.target):
                return Reply(f"Removed alert {command.target}.")
            return refusal(f"you have no alert {command.target}; /news alert list shows yours")
        if command.action == "pause":
            until = self._clock() + command.seconds
            await self._store.pause(platform, user, until)
            return Reply(
                f"Your alerts are paused until {_until(until)}. Stories that match meanwhile "
                "are not saved up; /news alert resume starts them again sooner."
            )
        if await self._store.resume(platform, user):
            return Reply("Your alerts are on again.")
        return Reply("Your alerts were not paused; they are on.")

    async def _add(self, caller: Caller, command: Command) -> Reply:
        origin = caller.channel
        if origin.workspace == DM:
            return refusal(NOT_IN_A_DM)
        try:
            parse_alert_query(command.query, max_length=self._settings.alert_query_max)
        except (AlertError, QueryError) as exc:
            return refusal(str(exc))
        channel = (
            ChannelRef(origin.platform, origin.workspace, command.channel)
            if command.channel
            else None
        )
        if channel is not None and caller.target_workspace not in (None, origin.workspace):
            return refusal(
                f"channel {channel.channel} is not a channel of this workspace that newsbot "
                "can see; a channel alert posts only in a channel of the workspace it is made in"
            )
        try:
            alert = await self._store.add(
                origin=origin,
                user=caller.user,
                query=command.query,
                channel=channel,
                limit=self._settings.alerts_per_user,
                now=self._clock(),
            )
        except AlertError as exc:
            return refusal(str(exc))
        if channel is not None:
            return Reply(
                f"Alert {alert.id} added: stories matching {command.query!r} will be posted in "
                f"channel {channel.channel} as they arrive."
            )
        note = ""
        if await self._store.pause_state(origin.platform, caller.user, self._clock()):
            note = " Your alerts are paused now: /news alert resume turns them on."
        return Reply(
            f"Alert {alert.id} added: stories matching {command.query!r} will come to you by "
            "direct message as they arrive (at most one message a minute), from the feeds of "
            f"this workspace's public channels and of this channel.{note}"
        )

    async def _list(self, platform: str, user: str) -> Reply:
        alerts = await self._store.of_owner(platform, user)
        if not alerts:
            return Reply("You have no alerts. Add one with /news alert add <query>.")
        now = self._clock()
        fired = await self._store.last_fired([a.id for a in alerts])
        lines = [f"Your alerts ({len(alerts)}):"]
        for alert in alerts:
            where = (
                f"in channel {ChannelRef.parse(alert.channel).channel}"
                if alert.channel
                else "by DM"
            )
            last = (
                f"last fired {_ago(now - fired[alert.id])}"
                if alert.id in fired
                else "not fired yet"
            )
            lines.append(f"{alert.id}: {alert.query!r} {where}, {last}")
        state = await self._store.pause_state(platform, user, now)
        if state == CLOSED:
            lines.append(
                "Paused: newsbot could not DM you (your DMs are closed to it). Open them, "
                "then /news alert resume."
            )
        elif state:
            lines.append(f"Paused until {_until(float(state))} (/news alert resume).")
        return Reply("\n".join(lines))
