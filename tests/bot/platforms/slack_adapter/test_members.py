"""Member records of private Slack channels, from `conversations.members` page by page."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack_adapter.web_api import SlackApis, SlackMembers
from bot.roles.membership import refresh_members
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.bot.roles.member_helpers import members, personal_alert
from tests.fakes.slack_api import FakeSlack

PRIVATE = ChannelRef("slack", "T1", "GSECRET")


async def test_slack_members_are_recorded_and_a_member_who_left_is_forgotten(
    slack: FakeSlack, handle: RedisHandle
) -> None:
    await SubscriptionStore(handle.client, handle.keys).set_visibility(PRIVATE, public=False)
    for user in ("U1", "U2", "U3"):
        await personal_alert(handle, PRIVATE, user)
    slack.members["GSECRET"] = ["U9", "U8", "U1", "U7", "U3"]  # three pages of two
    lister = SlackMembers(
        SlackApis.of_client(AsyncWebClient(token="xoxb-test", base_url=slack.api_url))
    )
    await refresh_members(handle.client, handle.keys, lister)
    assert await members(handle, PRIVATE) == {"U1", "U3"}, "alert owners only, every page"
    slack.members["GSECRET"] = ["U3"]
    await refresh_members(handle.client, handle.keys, lister)
    assert await members(handle, PRIVATE) == {"U3"}, "U1 left the channel"
    slack.channel_errors["GSECRET"] = "not_in_channel"
    await refresh_members(handle.client, handle.keys, lister)
    assert await members(handle, PRIVATE) == {"U3"}, "unanswered: the records age out instead"
