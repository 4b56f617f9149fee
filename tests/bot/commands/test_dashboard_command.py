"""`/news dashboard`: a manager's one-time link to the page, scoped to them."""

from __future__ import annotations

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.store.connection import RedisHandle
from bot.store.ui_auth import OPERATOR, Scope, UiAuth
from handlers.channels import ChannelRef


async def test_a_manager_gets_a_link_scoped_to_them_and_a_member_is_refused(
    core: CommandCore,
    handle: RedisHandle,
) -> None:
    here = ChannelRef("slack", "T1", "C1")
    reply = await core.handle(Caller(here, user="UADMIN", admin=True), "dashboard")
    assert reply.ok and reply.suppress_previews and "works once" in reply.text
    link = reply.text.rsplit(" ", 1)[1]
    assert "/ui/login?t=" in link
    auth = UiAuth(handle.client, handle.keys)
    assert await auth.redeem(link.split("t=", 1)[1]) == Scope("slack", "T1", "UADMIN")
    refused = await core.handle(Caller(here, user="UMEMBER"), "dashboard")
    assert not refused.ok and "only channel managers" in refused.text
    console = ChannelRef("console", "local", "main")
    operator = await core.handle(Caller(console, user="you", admin=True), "/news dashboard")
    assert await auth.redeem(operator.text.rsplit("t=", 1)[1]) == OPERATOR
