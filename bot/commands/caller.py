"""Who sent a `/news` command, from where: what every platform adapter hands the core."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.channels import ChannelRef


@dataclass(frozen=True)
class Caller:
    """Who sent a command, from where, and whether the platform says they manage it."""

    channel: ChannelRef
    user: str
    admin: bool = False
    # Whether everyone in the workspace can see the channel, as the platform said (None:
    # not known). Recorded on the channel: alerts follow the feeds of public channels.
    public: bool | None = None
    # Whether they manage the channel the command names (a channel alert's), where the
    # platform decides that per channel (Discord: the resolved channel's permissions).
    # None where managers are workspace-wide (Slack, the console): `admin` counts.
    target_admin: bool | None = None
    # The workspace (guild) of the channel the command names, as the platform said ("": it
    # is none of this bot's); None where the platform does not say (the console).
    target_workspace: str | None = None
