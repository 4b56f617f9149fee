"""The one typed outbox message: every kind round-trips through its Redis fields, and a
message written by hand (or by a Lua script) with a field missing or garbled still reads."""

from __future__ import annotations

import pytest

from handlers.outbox_message import OutboxMessage

MESSAGES = [
    OutboxMessage.story("slack:T1:C1", "s1"),
    OutboxMessage.digest(
        "slack:T1:C1|digest|100", "slack:T1:C1", ["s2", "s1"], heading="H", more=3
    ),
    OutboxMessage.line("discord:1:2|feed-down|f1|5", "discord:1:2", "notice", "Feed f1 fails"),
    OutboxMessage.line("console:a:b|digest|7", "console:a:b", "quiet", "All quiet."),
    OutboxMessage("alert:a1:s1", "slack:T1:C1", "alert", items='[{"a":"a1","s":"s1","w":[]}]'),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.kind)
def test_every_kind_round_trips_through_its_fields(message: OutboxMessage) -> None:
    fields = message.fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert OutboxMessage.from_fields(fields) == message


def test_origin_is_what_made_the_delivery() -> None:
    assert MESSAGES[0].origin == "story" and MESSAGES[1].origin == "digest"
    assert MESSAGES[2].origin == "feed-down"
    assert OutboxMessage("alert:a1:s1", "c", "alert").origin == "alert"


def test_a_garbled_message_reads_as_empty_not_as_a_crash() -> None:
    read = OutboxMessage.from_fields({"kind": "digest", "stories": "[not json", "more": "x"})
    assert (read.stories, read.more, read.delivery) == ((), 0, "")
